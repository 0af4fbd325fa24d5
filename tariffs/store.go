package tariffs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps tariffs in PostgreSQL. A Store made by NewStore runs each statement on the pool;
// one made by WithTx runs in the caller's transaction.
type Store struct {
	q sqlx.ExtContext
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type tariffRow struct {
	ID            string                                `db:"id"`
	NetworkID     uuid.UUID                             `db:"network_id"`
	Currency      string                                `db:"currency"`
	Type          sql.NullString                        `db:"type"`
	AltText       database.JSON[[]schema.DisplayText]   `db:"tariff_alt_text"`
	AltURL        sql.NullString                        `db:"tariff_alt_url"`
	MinPrice      database.JSON[*schema.Price]          `db:"min_price"`
	MaxPrice      database.JSON[*schema.Price]          `db:"max_price"`
	Elements      database.JSON[[]schema.TariffElement] `db:"elements"`
	StartDateTime sql.NullTime                          `db:"start_date_time"`
	EndDateTime   sql.NullTime                          `db:"end_date_time"`
	EnergyMix     database.JSON[*schema.EnergyMix]      `db:"energy_mix"`
	ETag          uuid.UUID                             `db:"etag"`
	Created       time.Time                             `db:"created"`
	LastUpdated   time.Time                             `db:"last_updated"`
}

const columns = `id, network_id, currency, type, tariff_alt_text, tariff_alt_url, min_price, max_price,
	elements, start_date_time, end_date_time, energy_mix, etag, created, last_updated`

func toRow(t Tariff) tariffRow {
	return tariffRow{
		ID: t.ID, NetworkID: t.NetworkID, Currency: t.Currency, Type: database.NullString(t.Type),
		AltText:  database.JSON[[]schema.DisplayText]{V: t.AltText},
		AltURL:   database.NullString(t.AltURL),
		MinPrice: database.JSON[*schema.Price]{V: t.MinPrice}, MaxPrice: database.JSON[*schema.Price]{V: t.MaxPrice},
		Elements:      database.JSON[[]schema.TariffElement]{V: t.Elements},
		StartDateTime: database.NullTime(t.StartDateTime), EndDateTime: database.NullTime(t.EndDateTime),
		EnergyMix: database.JSON[*schema.EnergyMix]{V: t.EnergyMix},
		ETag:      t.ETag, Created: t.Created, LastUpdated: t.LastUpdated,
	}
}

func (r tariffRow) toTariff() Tariff {
	t := Tariff{
		ID: r.ID, NetworkID: r.NetworkID, Currency: r.Currency, Type: database.StringPtr[schema.TariffType](r.Type),
		AltText: r.AltText.V, AltURL: database.StringPtr[string](r.AltURL),
		MinPrice: r.MinPrice.V, MaxPrice: r.MaxPrice.V, Elements: r.Elements.V,
		StartDateTime: database.TimePtr(r.StartDateTime), EndDateTime: database.TimePtr(r.EndDateTime),
		EnergyMix: r.EnergyMix.V, ETag: r.ETag, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC(),
	}
	return t
}

// Create inserts t as it is: etag and timestamps are the caller's. Errors: ErrIDTaken (the id
// belongs to a tariff, maybe one the caller cannot see).
func (s *Store) Create(ctx context.Context, t Tariff) error {
	const q = `
	INSERT INTO tariffs (` + columns + `)
	VALUES (:id, :network_id, :currency, :type, :tariff_alt_text, :tariff_alt_url, :min_price, :max_price,
		:elements, :start_date_time, :end_date_time, :energy_mix, :etag, :created, :last_updated)`
	_, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(t))
	if database.IsUniqueViolation(err, "tariffs_pkey") {
		return ErrIDTaken
	}
	if err != nil {
		return fmt.Errorf("insert tariff %s: %w", t.ID, database.Translate(err))
	}
	return nil
}

// Update writes every field of t (found by t.ID) as it is; the network never changes.
func (s *Store) Update(ctx context.Context, t Tariff) error {
	const q = `
	UPDATE tariffs SET
		currency = :currency, type = :type, tariff_alt_text = :tariff_alt_text,
		tariff_alt_url = :tariff_alt_url, min_price = :min_price, max_price = :max_price,
		elements = :elements, start_date_time = :start_date_time, end_date_time = :end_date_time,
		energy_mix = :energy_mix, etag = :etag, last_updated = :last_updated
	WHERE id = :id`
	if _, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(t)); err != nil {
		return fmt.Errorf("update tariff %s: %w", t.ID, database.Translate(err))
	}
	return nil
}

// Get returns tariff id if its network is visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id string) (Tariff, error) {
	return s.get(ctx, visible, id, "")
}

// GetForUpdate is Get with the tariff's row locked against other writers until the
// transaction ends (the store must be one made by WithTx). The lock leaves alone the station
// writes that check their references (Known): a change keeps the id. Errors: ErrNotFound.
func (s *Store) GetForUpdate(ctx context.Context, visible []uuid.UUID, id string) (Tariff, error) {
	return s.get(ctx, visible, id, ` FOR NO KEY UPDATE`)
}

// GetForDelete is Get with the tariff's row locked against every other writer, station writes
// that refer to it included, until the transaction ends (a store made by WithTx).
// Errors: ErrNotFound.
func (s *Store) GetForDelete(ctx context.Context, visible []uuid.UUID, id string) (Tariff, error) {
	return s.get(ctx, visible, id, ` FOR UPDATE`)
}

func (s *Store) get(ctx context.Context, visible []uuid.UUID, id string, lock string) (Tariff, error) {
	q := `
	SELECT ` + columns + `
	FROM tariffs
	WHERE id = $1 AND network_id = ANY($2)` + lock
	var row tariffRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Tariff{}, ErrNotFound
	}
	if err != nil {
		return Tariff{}, fmt.Errorf("get tariff %s: %w", id, database.Translate(err))
	}
	return row.toTariff(), nil
}

// List returns a page of visible tariffs in (last_updated, id) order, and the total (from the
// kept counts, less what lies outside a date window when that is little).
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Tariff, paging.Meta, error) {
	var w database.Where
	w.AddNetworks("network_id", visible)
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []tariffRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "tariffs", &w, database.Order{Updated: "last_updated", ID: "id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list tariffs: %w", err)
	}
	var m paging.Meta
	// The kept count, less what lies outside a date window when that is little
	// (database.CountWindow).
	var networks database.Where
	networks.AddNetworks("network_id", visible)
	m.Total, err = database.CountWindow(ctx, s.q, "tariffs", &networks, "last_updated", p.DateFrom, p.DateTo,
		func() (int, error) { return database.CountOf(ctx, s.q, "tariffs", visible) })
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count tariffs: %w", err)
	}
	out := make([]Tariff, len(rows))
	for i, r := range rows {
		out[i] = r.toTariff()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID}
	}
	return out, m, nil
}

// Delete removes tariff id (the caller checked that it is visible and unreferenced).
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM tariffs WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete tariff %s: %w", id, database.Translate(err))
	}
	return nil
}

// maxNamed is how many references a refused delete names.
const maxNamed = 20

// References returns the first maxNamed places of network that refer to tariff id (stations'
// default tariff, connectors' tariff_ids), and how many there are. Stations refer only to
// tariffs of their own network, so the search stays within it. Deleting a tariff is rare, so
// the connectors are searched without an index of their own.
func (s *Store) References(ctx context.Context, network uuid.UUID, id string) ([]Reference, int, error) {
	const q = `
	SELECT cs.id AS charge_station_id, '' AS evse_uid, '' AS connector_id
	FROM charge_stations cs
	WHERE cs.network_id = $1 AND cs.default_charge_station_tariff_id = $2
	UNION ALL
	SELECT e.charge_station_id, e.uid, c->>'id'
	FROM charge_stations cs
	JOIN evses e ON e.charge_station_id = cs.id
	CROSS JOIN LATERAL jsonb_array_elements(e.connectors) AS c
	WHERE cs.network_id = $1 AND c->'tariff_ids' ? $2
	ORDER BY 1, 2, 3`
	var rows []struct {
		ChargeStationID string `db:"charge_station_id"`
		EVSEUID         string `db:"evse_uid"`
		ConnectorID     string `db:"connector_id"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, network, id); err != nil {
		return nil, 0, fmt.Errorf("find references to tariff %s: %w", id, database.Translate(err))
	}
	out := make([]Reference, 0, min(len(rows), maxNamed))
	for _, r := range rows[:min(len(rows), maxNamed)] {
		out = append(out, Reference(r))
	}
	return out, len(rows), nil
}

// Known locks the tariffs among ids that belong to network against deletion until the
// transaction ends (the store must be one made by WithTx) and returns their ids. A station
// write checks its references with it: a tariff deleted meanwhile is either gone before
// (then it is not returned) or waits for the write and then finds the new reference.
func (s *Store) Known(ctx context.Context, network uuid.UUID, ids []string) (map[string]bool, error) {
	const q = `
	SELECT id FROM tariffs
	WHERE network_id = $1 AND id = ANY($2)
	ORDER BY id
	FOR KEY SHARE`
	var found []string
	if err := sqlx.SelectContext(ctx, s.q, &found, q, network, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("look up tariffs: %w", database.Translate(err))
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
