package proxy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps operators, their queues and the transaction map in PostgreSQL. A Store made by
// NewStore runs each statement on the pool; one made by WithTx runs in the caller's
// transaction.
type Store struct{ q sqlx.ExtContext }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: db} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type operatorRow struct {
	ID               uuid.UUID      `db:"id"`
	StationID        string         `db:"charge_station_id"`
	Name             string         `db:"name"`
	URL              string         `db:"url"`
	Role             string         `db:"role"`
	Identity         sql.NullString `db:"identity"`
	PasswordSealed   []byte         `db:"password_sealed"`
	Enabled          bool           `db:"enabled"`
	ConnectionStatus string         `db:"connection_status"`
	LastError        sql.NullString `db:"last_error"`
	LastConnectedAt  *time.Time     `db:"last_connected_at"`
	Created          time.Time      `db:"created"`
	LastUpdated      time.Time      `db:"last_updated"`
}

const operatorColumns = `id, charge_station_id, name, url, role, identity, password_sealed, enabled, connection_status,
	last_error, last_connected_at, created, last_updated`

func (r operatorRow) operator() Operator {
	o := Operator{ID: r.ID, StationID: r.StationID, Name: r.Name, URL: r.URL, Role: Role(r.Role), Identity: r.Identity.String,
		HasPassword: len(r.PasswordSealed) > 0, Enabled: r.Enabled, ConnectionStatus: r.ConnectionStatus,
		LastError: r.LastError.String, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC()}
	if !r.Enabled {
		o.ConnectionStatus = StatusDisabled
	}
	if r.LastConnectedAt != nil {
		t := r.LastConnectedAt.UTC()
		o.LastConnectedAt = &t
	}
	return o
}

// StationVisible checks that station id exists in one of the visible networks; with lock,
// its row is locked until the transaction ends (so that two writers of one station's
// operators take turns). Errors: ErrStationNotFound.
func (s *Store) StationVisible(ctx context.Context, visible []uuid.UUID, id string, lock bool) error {
	q := `SELECT 1 FROM charge_stations WHERE id = $1 AND network_id = ANY($2)`
	if lock {
		q += ` FOR UPDATE`
	}
	var one int
	err := sqlx.GetContext(ctx, s.q, &one, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return ErrStationNotFound
	}
	if err != nil {
		return fmt.Errorf("find charge station %s: %w", id, database.Translate(err))
	}
	return nil
}

// List returns the station's operators, oldest first (the station must have been checked).
func (s *Store) List(ctx context.Context, station string) ([]Operator, error) {
	rows, err := s.rows(ctx, station)
	if err != nil {
		return nil, err
	}
	out := make([]Operator, len(rows))
	for i, r := range rows {
		out[i] = r.operator()
	}
	return out, nil
}

func (s *Store) rows(ctx context.Context, station string) ([]operatorRow, error) {
	q := `SELECT ` + operatorColumns + ` FROM station_operators WHERE charge_station_id = $1 ORDER BY created, id`
	var rows []operatorRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, station); err != nil {
		return nil, fmt.Errorf("list operators of %s: %w", station, database.Translate(err))
	}
	return rows, nil
}

// get returns one operator row of the station. Errors: ErrNotFound.
func (s *Store) get(ctx context.Context, station string, id uuid.UUID, lock bool) (operatorRow, error) {
	q := `SELECT ` + operatorColumns + ` FROM station_operators WHERE charge_station_id = $1 AND id = $2`
	if lock {
		q += ` FOR UPDATE`
	}
	var r operatorRow
	err := sqlx.GetContext(ctx, s.q, &r, q, station, id)
	if errors.Is(err, sql.ErrNoRows) {
		return operatorRow{}, ErrNotFound
	}
	if err != nil {
		return operatorRow{}, fmt.Errorf("get operator %s: %w", id, database.Translate(err))
	}
	return r, nil
}

// Get returns one operator of the station. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, station string, id uuid.UUID) (Operator, error) {
	r, err := s.get(ctx, station, id, false)
	return r.operator(), err
}

// Sealed returns the operator's sealed password (nil when none) with its row locked.
func (s *Store) Sealed(ctx context.Context, station string, id uuid.UUID) (Operator, []byte, error) {
	r, err := s.get(ctx, station, id, true)
	return r.operator(), r.PasswordSealed, err
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Create inserts an operator. Errors: ErrSecondBilling.
func (s *Store) Create(ctx context.Context, o Operator, sealed []byte) error {
	const q = `
	INSERT INTO station_operators (id, charge_station_id, name, url, role, identity, password_sealed, enabled,
		connection_status, created, last_updated)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Disconnected', $9, $9)`
	_, err := s.q.ExecContext(ctx, q, o.ID, o.StationID, o.Name, o.URL, string(o.Role), nullable(o.Identity), sealed, o.Enabled, o.Created)
	return translateWrite(err, o.ID)
}

// Update replaces the writable fields of an operator. Errors: ErrNotFound, ErrSecondBilling.
func (s *Store) Update(ctx context.Context, o Operator, sealed []byte) error {
	const q = `
	UPDATE station_operators SET name = $3, url = $4, role = $5, identity = $6, password_sealed = $7, enabled = $8,
		last_updated = $9, last_error = CASE WHEN $8 THEN last_error END
	WHERE charge_station_id = $1 AND id = $2`
	res, err := s.q.ExecContext(ctx, q, o.StationID, o.ID, o.Name, o.URL, string(o.Role), nullable(o.Identity), sealed, o.Enabled, o.LastUpdated)
	if err := translateWrite(err, o.ID); err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func translateWrite(err error, id uuid.UUID) error {
	if err == nil {
		return nil
	}
	if database.IsUniqueViolation(err, "station_operators_one_billing") {
		return ErrSecondBilling
	}
	return fmt.Errorf("write operator %s: %w", id, database.Translate(err))
}

// Delete removes an operator (its queue goes with it). Errors: ErrNotFound.
func (s *Store) Delete(ctx context.Context, station string, id uuid.UUID) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM station_operators WHERE charge_station_id = $1 AND id = $2`, station, id)
	if err != nil {
		return fmt.Errorf("delete operator %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetStatus records an operator's link status, as the node holding the link sees it.
// connectedAt is set when the link just connected; lastError is kept when "" and keepError.
func (s *Store) SetStatus(ctx context.Context, id uuid.UUID, status, lastError string, connectedAt *time.Time) error {
	const q = `
	UPDATE station_operators SET connection_status = $2,
		last_error = COALESCE($3, last_error),
		last_connected_at = COALESCE($4, last_connected_at)
	WHERE id = $1`
	var errText any
	if lastError != "" {
		errText = lastError
	}
	var at any
	if connectedAt != nil {
		at = connectedAt.UTC()
	}
	if _, err := s.q.ExecContext(ctx, q, id, status, errText, at); err != nil {
		return fmt.Errorf("record status of operator %s: %w", id, database.Translate(err))
	}
	return nil
}

// Enqueue appends a transaction message to an operator's queue and returns its id.
func (s *Store) Enqueue(ctx context.Context, m QueuedMessage) (int64, error) {
	const q = `
	INSERT INTO operator_queue (operator_id, action, payload, station_transaction_id, created)
	VALUES ($1, $2, $3, $4, $5) RETURNING id`
	var id int64
	err := sqlx.GetContext(ctx, s.q, &id, q, m.OperatorID, m.Action, string(m.Payload), nullable(m.StationTransactionID), m.Created.UTC())
	if err != nil {
		return 0, fmt.Errorf("queue %s for operator %s: %w", m.Action, m.OperatorID, database.Translate(err))
	}
	return id, nil
}

// Queued returns the oldest messages waiting for an operator, in order.
func (s *Store) Queued(ctx context.Context, operator uuid.UUID, limit int) ([]QueuedMessage, error) {
	const q = `
	SELECT id, operator_id, action, payload::text AS payload, COALESCE(station_transaction_id, '') AS station_transaction_id, created
	FROM operator_queue WHERE operator_id = $1 ORDER BY id LIMIT $2`
	var rows []struct {
		ID        int64     `db:"id"`
		Operator  uuid.UUID `db:"operator_id"`
		Action    string    `db:"action"`
		Payload   string    `db:"payload"`
		StationTx string    `db:"station_transaction_id"`
		Created   time.Time `db:"created"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, operator, limit); err != nil {
		return nil, fmt.Errorf("read the queue of operator %s: %w", operator, database.Translate(err))
	}
	out := make([]QueuedMessage, len(rows))
	for i, r := range rows {
		out[i] = QueuedMessage{ID: r.ID, OperatorID: r.Operator, Action: r.Action, Payload: []byte(r.Payload),
			StationTransactionID: r.StationTx, Created: r.Created.UTC()}
	}
	return out, nil
}

// Dequeue removes a delivered message.
func (s *Store) Dequeue(ctx context.Context, id int64) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM operator_queue WHERE id = $1`, id); err != nil {
		return fmt.Errorf("dequeue %d: %w", id, database.Translate(err))
	}
	return nil
}

// MapTransaction records that party knows the station's transaction stationTx as partyTx.
func (s *Store) MapTransaction(ctx context.Context, station, stationTx, party, partyTx string) error {
	const q = `
	INSERT INTO operator_transactions (charge_station_id, station_transaction_id, party, party_transaction_id, created)
	VALUES ($1, $2, $3, $4, now())
	ON CONFLICT (charge_station_id, station_transaction_id, party) DO UPDATE SET party_transaction_id = EXCLUDED.party_transaction_id`
	if _, err := s.q.ExecContext(ctx, q, station, stationTx, party, partyTx); err != nil {
		return fmt.Errorf("map transaction %s of %s: %w", stationTx, station, database.Translate(err))
	}
	return nil
}

// PartyTransaction returns party's id of the station's transaction stationTx ("" when none is
// mapped).
func (s *Store) PartyTransaction(ctx context.Context, station, stationTx, party string) (string, error) {
	const q = `
	SELECT party_transaction_id FROM operator_transactions
	WHERE charge_station_id = $1 AND station_transaction_id = $2 AND party = $3`
	var id string
	err := sqlx.GetContext(ctx, s.q, &id, q, station, stationTx, party)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up transaction %s of %s: %w", stationTx, station, database.Translate(err))
	}
	return id, nil
}

// StationTransaction returns the station's id of party's transaction partyTx ("" when none
// is mapped).
func (s *Store) StationTransaction(ctx context.Context, station, party, partyTx string) (string, error) {
	const q = `
	SELECT station_transaction_id FROM operator_transactions
	WHERE charge_station_id = $1 AND party = $2 AND party_transaction_id = $3
	ORDER BY created DESC LIMIT 1`
	var id string
	err := sqlx.GetContext(ctx, s.q, &id, q, station, party, partyTx)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up transaction %s of %s: %w", partyTx, station, database.Translate(err))
	}
	return id, nil
}

// LinkRows returns every operator of a station with its sealed password, for the gateway.
func (s *Store) LinkRows(ctx context.Context, station string) ([]Operator, [][]byte, error) {
	rows, err := s.rows(ctx, station)
	if err != nil {
		return nil, nil, err
	}
	ops, sealed := make([]Operator, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		ops[i], sealed[i] = r.operator(), r.PasswordSealed
	}
	return ops, sealed, nil
}
