package stationlogs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ErrStationNotFound is returned for a station the caller cannot see.
var ErrStationNotFound = fmt.Errorf("charge station %w", apperr.NotFound)

// Store keeps the station logs in PostgreSQL. A Store made by NewStore runs each statement
// on the pool; one made by WithTx runs in the caller's transaction.
type Store struct{ q sqlx.ExtContext }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

func jsonText(raw json.RawMessage) sql.NullString {
	if len(raw) == 0 {
		return sql.NullString{}
	}
	return sql.NullString{String: string(raw), Valid: true}
}

// AppendMessages stores frames of any number of stations with COPY, the cheapest way
// PostgreSQL takes many rows, in slice order (ids grow in that order, which is the order the
// log is read back in). The payload is kept as the text that crossed the wire (json, not
// jsonb: no per-row parse). Frames of a station deleted meanwhile are forgotten with it
// (migration 0008). COPY runs in a transaction: use a Store made by WithTx.
func (s *Store) AppendMessages(ctx context.Context, ms []Message) error {
	if len(ms) == 0 {
		return nil
	}
	tx, ok := s.q.(interface {
		PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	})
	if !ok {
		return errors.New("stationlogs: AppendMessages needs a Store made by WithTx (COPY runs in a transaction)")
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("ocpp_messages", "charge_station_id", "direction", "message_type",
		"message_id", "action", "payload", "operator", "created"))
	if err != nil {
		return fmt.Errorf("append %d messages: %w", len(ms), database.Translate(err))
	}
	defer stmt.Close()
	for _, m := range ms {
		var action, payload any
		if m.Action != "" {
			action = storable(m.Action)
		}
		if len(m.Payload) > 0 {
			payload = storable(string(m.Payload))
		}
		var operator any
		if m.Operator != "" {
			operator = storable(m.Operator)
		}
		if _, err := stmt.ExecContext(ctx, storable(m.StationID), m.Direction, m.MessageType, storable(m.MessageID), action, payload, operator, m.Created.UTC()); err != nil {
			return fmt.Errorf("append %d messages: %w", len(ms), database.Translate(err))
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("append %d messages: %w", len(ms), database.Translate(err))
	}
	return nil
}

// visible checks that station id exists in one of the visible networks.
func (s *Store) visible(ctx context.Context, visible []uuid.UUID, id string) error {
	var ok bool
	err := sqlx.GetContext(ctx, s.q, &ok, `SELECT EXISTS (SELECT 1 FROM charge_stations WHERE id = $1 AND network_id = ANY($2))`, id, pq.Array(visible))
	if err != nil {
		return fmt.Errorf("find charge station %s: %w", id, database.Translate(err))
	}
	if !ok {
		return ErrStationNotFound
	}
	return nil
}

type messageRow struct {
	ID          int64          `db:"id"`
	StationID   string         `db:"charge_station_id"`
	Direction   string         `db:"direction"`
	MessageType string         `db:"message_type"`
	MessageID   string         `db:"message_id"`
	Action      sql.NullString `db:"action"`
	Payload     []byte         `db:"payload"`
	Operator    sql.NullString `db:"operator"`
	Created     time.Time      `db:"created"`
}

// Messages returns up to limit frames of station id, newest first, older than the frame with
// id before (0: from the newest). Errors: ErrStationNotFound.
func (s *Store) Messages(ctx context.Context, visible []uuid.UUID, id string, limit int, before int64) ([]Message, error) {
	if err := s.visible(ctx, visible, id); err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	const q = `
	SELECT id, charge_station_id, direction, message_type, message_id, action, payload, operator, created
	FROM ocpp_messages
	WHERE charge_station_id = $1 AND id < $2
	ORDER BY id DESC
	LIMIT $3`
	var rows []messageRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, id, before, limit); err != nil {
		return nil, fmt.Errorf("list messages of %s: %w", id, database.Translate(err))
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		out[i] = Message{ID: r.ID, StationID: r.StationID, Direction: r.Direction, MessageType: r.MessageType,
			MessageID: r.MessageID, Action: r.Action.String, Payload: r.Payload, Operator: r.Operator.String, Created: r.Created.UTC()}
	}
	return out, nil
}

// AppendStatuses stores status reports of any number of stations in one statement, in slice
// order (ids grow in that order). Run it in the transaction that also updates the EVSEs
// (WithTx), so the log and the EVSEs never disagree.
func (s *Store) AppendStatuses(ctx context.Context, es []StatusEntry) error {
	if len(es) == 0 {
		return nil
	}
	n := len(es)
	ids, ocpp, codes, infos, vendor, ocpi, friendly := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, conns := make([]int64, n), make([]int64, n)
	reported, created := make([]sql.NullTime, n), make([]time.Time, n)
	for i, e := range es {
		ids[i], seqs[i], conns[i], ocpp[i], codes[i], infos[i], vendor[i], ocpi[i], friendly[i] = e.StationID,
			int64(e.EVSESequenceNumber), int64(e.ConnectorID), e.OCPPStatus, e.ErrorCode, e.Info, e.VendorErrorCode,
			e.OCPIStatus, e.FriendlyStatus
		reported[i], created[i] = database.NullTime(e.ReportedAt), e.Created.UTC()
	}
	const q = `
	INSERT INTO station_status_log (charge_station_id, evse_sequence_number, connector_id, ocpp_status,
		error_code, info, vendor_error_code, ocpi_status, friendly_status, reported_at, created)
	SELECT u.id, u.seq, u.conn, u.ocpp, NULLIF(u.code, ''), NULLIF(u.info, ''), NULLIF(u.vendor, ''), u.ocpi,
		u.friendly, u.reported, u.created
	FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		$9::text[], $10::timestamptz[], $11::timestamptz[]) WITH ORDINALITY
		AS u(id, seq, conn, ocpp, code, info, vendor, ocpi, friendly, reported, created, n)
	JOIN charge_stations c ON c.id = u.id
	ORDER BY u.n`
	_, err := s.q.ExecContext(ctx, q, pq.Array(ids), pq.Array(seqs), pq.Array(conns), pq.Array(ocpp), pq.Array(codes),
		pq.Array(infos), pq.Array(vendor), pq.Array(ocpi), pq.Array(friendly), pq.Array(reported), pq.Array(created))
	if err != nil {
		return fmt.Errorf("append %d statuses: %w", n, database.Translate(err))
	}
	return nil
}

type statusRow struct {
	ID                 int64          `db:"id"`
	StationID          string         `db:"charge_station_id"`
	EVSESequenceNumber int            `db:"evse_sequence_number"`
	ConnectorID        int            `db:"connector_id"`
	OCPPStatus         string         `db:"ocpp_status"`
	ErrorCode          sql.NullString `db:"error_code"`
	Info               sql.NullString `db:"info"`
	VendorErrorCode    sql.NullString `db:"vendor_error_code"`
	OCPIStatus         string         `db:"ocpi_status"`
	FriendlyStatus     string         `db:"friendly_status"`
	ReportedAt         sql.NullTime   `db:"reported_at"`
	Created            time.Time      `db:"created"`
}

// StatusLog returns up to limit status reports of station id, newest first, older than the
// entry with id before (0: from the newest). Errors: ErrStationNotFound.
func (s *Store) StatusLog(ctx context.Context, visible []uuid.UUID, id string, limit int, before int64) ([]StatusEntry, error) {
	if err := s.visible(ctx, visible, id); err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	const q = `
	SELECT id, charge_station_id, evse_sequence_number, connector_id, ocpp_status, error_code, info,
		vendor_error_code, ocpi_status, friendly_status, reported_at, created
	FROM station_status_log
	WHERE charge_station_id = $1 AND id < $2
	ORDER BY id DESC
	LIMIT $3`
	var rows []statusRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, id, before, limit); err != nil {
		return nil, fmt.Errorf("status log of %s: %w", id, database.Translate(err))
	}
	out := make([]StatusEntry, len(rows))
	for i, r := range rows {
		out[i] = StatusEntry{ID: r.ID, StationID: r.StationID, EVSESequenceNumber: r.EVSESequenceNumber,
			ConnectorID: r.ConnectorID, OCPPStatus: r.OCPPStatus, ErrorCode: r.ErrorCode.String, Info: r.Info.String,
			VendorErrorCode: r.VendorErrorCode.String, OCPIStatus: r.OCPIStatus, FriendlyStatus: r.FriendlyStatus,
			Created: r.Created.UTC()}
		if r.ReportedAt.Valid {
			t := r.ReportedAt.Time.UTC()
			out[i].ReportedAt = &t
		}
	}
	return out, nil
}

// StationConfiguration is configuration values one station reported (or accepted), to merge
// into what is on record for it.
type StationConfiguration struct {
	StationID string
	Values    []ConfigurationValue
}

// configEntry is one key of a station's configuration document (station_configurations.keys,
// migration 0031). Empty strings are left out.
type configEntry struct {
	Value      *string   `json:"value"`
	ReadOnly   bool      `json:"readonly"`
	Unknown    bool      `json:"unknown"`
	Component  string    `json:"component,omitempty"`
	Variable   string    `json:"variable,omitempty"`
	Mutability string    `json:"mutability,omitempty"`
	Updated    time.Time `json:"updated"`
}

// MergeConfigurations merges the configuration values of many stations in one statement: the
// gateway records the configuration it reads from every station that boots for the first
// time, all at once in a boot storm. A station's configuration is one row whose document
// holds its keys, so a station costs one row, not one per key. A key given more than once
// for a station takes its last value (a station may list a key twice in one answer, a batch
// may hold two answers of one station). Values of a station that does not exist are dropped.
func (s *Store) MergeConfigurations(ctx context.Context, cs []StationConfiguration) error {
	docs := make(map[string]map[string]configEntry)
	var stations []string
	for _, c := range cs {
		doc, ok := docs[c.StationID]
		if !ok {
			doc = make(map[string]configEntry, len(c.Values))
			docs[c.StationID] = doc
			stations = append(stations, c.StationID)
		}
		for _, v := range c.Values {
			// storable: jsonb holds neither a NUL character nor invalid UTF-8, and one
			// station's must not fail the batch of many.
			e := configEntry{ReadOnly: v.ReadOnly, Unknown: v.Unknown, Component: storable(v.Component),
				Variable: storable(v.Variable), Mutability: storable(v.Mutability), Updated: v.Updated.UTC()}
			if v.Value != nil {
				value := storable(*v.Value)
				e.Value = &value
			}
			doc[storable(v.Key)] = e
		}
	}
	ids, raw := make([]string, 0, len(stations)), make([]string, 0, len(stations))
	for _, id := range stations {
		if len(docs[id]) == 0 {
			continue
		}
		b, err := json.Marshal(docs[id])
		if err != nil {
			return fmt.Errorf("encode configuration of %s: %w", id, err)
		}
		ids, raw = append(ids, id), append(raw, string(b))
	}
	if len(ids) == 0 {
		return nil
	}
	// Rows are written in station order, so that two batches writing the same stations take
	// their row locks in one order.
	const q = `
	INSERT INTO station_configurations (charge_station_id, keys)
	SELECT u.station, u.keys
	FROM unnest($1::text[], $2::jsonb[]) AS u(station, keys)
	JOIN charge_stations cs ON cs.id = u.station
	ORDER BY u.station
	ON CONFLICT (charge_station_id) DO UPDATE SET keys = station_configurations.keys || EXCLUDED.keys`
	if _, err := s.q.ExecContext(ctx, q, pq.Array(ids), pq.Array(raw)); err != nil {
		return fmt.Errorf("merge configuration of %d stations: %w", len(ids), database.Translate(err))
	}
	return nil
}

// Configuration returns the stored configuration of station id, by key. Errors: ErrStationNotFound.
func (s *Store) Configuration(ctx context.Context, visible []uuid.UUID, id string) ([]ConfigurationValue, error) {
	if err := s.visible(ctx, visible, id); err != nil {
		return nil, err
	}
	var raw []byte
	err := sqlx.GetContext(ctx, s.q, &raw, `SELECT keys FROM station_configurations WHERE charge_station_id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return []ConfigurationValue{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configuration of %s: %w", id, database.Translate(err))
	}
	var doc map[string]configEntry
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode configuration of %s: %w", id, err)
	}
	out := make([]ConfigurationValue, 0, len(doc))
	for key, e := range doc {
		out = append(out, ConfigurationValue{Key: key, Value: e.Value, ReadOnly: e.ReadOnly, Unknown: e.Unknown,
			Component: e.Component, Variable: e.Variable, Mutability: e.Mutability, Updated: e.Updated.UTC()})
	}
	slices.SortFunc(out, func(a, b ConfigurationValue) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// AppendDataTransfer stores one DataTransfer exchange.
func (s *Store) AppendDataTransfer(ctx context.Context, d DataTransfer) error {
	const q = `
	INSERT INTO data_transfers (charge_station_id, direction, vendor_id, message_id, data, response_status, response_data, error, created)
	SELECT $1, $2, $3, NULLIF($4, ''), $5::jsonb, NULLIF($6, ''), $7::jsonb, NULLIF($8, ''), $9
	WHERE EXISTS (SELECT 1 FROM charge_stations WHERE id = $1)`
	_, err := s.q.ExecContext(ctx, q, d.StationID, d.Direction, d.VendorID, d.MessageID, jsonText(d.Data),
		d.Status, jsonText(d.ResponseData), d.Error, d.Created.UTC())
	if err != nil {
		return fmt.Errorf("append data transfer of %s: %w", d.StationID, database.Translate(err))
	}
	return nil
}

type transferRow struct {
	ID           int64          `db:"id"`
	StationID    string         `db:"charge_station_id"`
	Direction    string         `db:"direction"`
	VendorID     string         `db:"vendor_id"`
	MessageID    sql.NullString `db:"message_id"`
	Data         []byte         `db:"data"`
	Status       sql.NullString `db:"response_status"`
	ResponseData []byte         `db:"response_data"`
	Error        sql.NullString `db:"error"`
	Created      time.Time      `db:"created"`
}

// DataTransfers returns the newest limit data transfers of station id, both directions.
func (s *Store) DataTransfers(ctx context.Context, visible []uuid.UUID, id string, limit int) ([]DataTransfer, error) {
	if err := s.visible(ctx, visible, id); err != nil {
		return nil, err
	}
	const q = `
	SELECT id, charge_station_id, direction, vendor_id, message_id, data, response_status, response_data, error, created
	FROM data_transfers
	WHERE charge_station_id = $1
	ORDER BY id DESC
	LIMIT $2`
	var rows []transferRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, id, limit); err != nil {
		return nil, fmt.Errorf("data transfers of %s: %w", id, database.Translate(err))
	}
	out := make([]DataTransfer, len(rows))
	for i, r := range rows {
		out[i] = DataTransfer{ID: r.ID, StationID: r.StationID, Direction: r.Direction, VendorID: r.VendorID,
			MessageID: r.MessageID.String, Data: r.Data, Status: r.Status.String, ResponseData: r.ResponseData,
			Error: r.Error.String, Created: r.Created.UTC()}
	}
	return out, nil
}

// storable makes s storable as PostgreSQL text (UTF-8 without NUL). The gateway refuses
// frames with other text before they are logged; this is the log's own guarantee that one
// bad frame can never fail a whole batch of frames of many stations.
func storable(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// AppendCertificate records a certificate signed for a station (a station deleted meanwhile
// records nothing).
func (s *Store) AppendCertificate(ctx context.Context, c Certificate) error {
	const q = `
	INSERT INTO station_certificates (charge_station_id, certificate_type, serial_number, subject, issuer,
		not_before, not_after, status, created)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
	WHERE EXISTS (SELECT 1 FROM charge_stations WHERE id = $1)`
	_, err := s.q.ExecContext(ctx, q, c.StationID, c.CertificateType, c.SerialNumber, storable(c.Subject), storable(c.Issuer),
		c.NotBefore.UTC(), c.NotAfter.UTC(), c.Status, c.Created.UTC())
	if err != nil {
		return fmt.Errorf("record a certificate of %s: %w", c.StationID, database.Translate(err))
	}
	return nil
}

// Certificates returns the certificates signed for station id, newest first, at most limit,
// older than the entry before (0: from the newest).
func (s *Store) Certificates(ctx context.Context, visible []uuid.UUID, id string, limit int, before int64) ([]Certificate, error) {
	if err := s.visible(ctx, visible, id); err != nil {
		return nil, err
	}
	var rows []struct {
		ID              int64     `db:"id"`
		CertificateType string    `db:"certificate_type"`
		SerialNumber    string    `db:"serial_number"`
		Subject         string    `db:"subject"`
		Issuer          string    `db:"issuer"`
		NotBefore       time.Time `db:"not_before"`
		NotAfter        time.Time `db:"not_after"`
		Status          string    `db:"status"`
		Created         time.Time `db:"created"`
	}
	const q = `
	SELECT id, certificate_type, serial_number, subject, issuer, not_before, not_after, status, created
	FROM station_certificates
	WHERE charge_station_id = $1 AND ($2 = 0 OR id < $2)
	ORDER BY id DESC
	LIMIT $3`
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, id, before, limit); err != nil {
		return nil, fmt.Errorf("certificates of %s: %w", id, database.Translate(err))
	}
	out := make([]Certificate, len(rows))
	for i, r := range rows {
		out[i] = Certificate{ID: r.ID, StationID: id, CertificateType: r.CertificateType, SerialNumber: r.SerialNumber,
			Subject: r.Subject, Issuer: r.Issuer, NotBefore: r.NotBefore.UTC(), NotAfter: r.NotAfter.UTC(),
			Status: r.Status, Created: r.Created.UTC()}
	}
	return out, nil
}

// AppendFirmwareStatuses stores firmware status reports of any number of stations in one
// statement, in slice order; reports of stations that no longer exist are skipped. Run it in
// the transaction that also sets the stations' firmware_update_status (WithTx).
func (s *Store) AppendFirmwareStatuses(ctx context.Context, fs []FirmwareStatus) error {
	if len(fs) == 0 {
		return nil
	}
	n := len(fs)
	ids, statuses, reqs, created := make([]string, n), make([]string, n), make([]sql.NullInt64, n), make([]time.Time, n)
	for i, f := range fs {
		ids[i], statuses[i], created[i] = f.StationID, f.Status, f.Created.UTC()
		if f.RequestID != nil {
			reqs[i] = sql.NullInt64{Int64: int64(*f.RequestID), Valid: true}
		}
	}
	const q = `
	INSERT INTO firmware_status_log (charge_station_id, status, request_id, created)
	SELECT u.id, u.status, u.req, u.created
	FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) WITH ORDINALITY AS u(id, status, req, created, n)
	JOIN charge_stations c ON c.id = u.id
	ORDER BY u.n`
	if _, err := s.q.ExecContext(ctx, q, pq.Array(ids), pq.Array(statuses), pq.Array(reqs), pq.Array(created)); err != nil {
		return fmt.Errorf("append %d firmware statuses: %w", n, database.Translate(err))
	}
	return nil
}

// FirmwareHistory returns up to limit firmware status reports of station id, newest first,
// older than the entry with id before (0: from the newest). Errors: ErrStationNotFound.
func (s *Store) FirmwareHistory(ctx context.Context, visible []uuid.UUID, id string, limit int, before int64) ([]FirmwareStatus, error) {
	if err := s.visible(ctx, visible, id); err != nil {
		return nil, err
	}
	var rows []struct {
		ID        int64         `db:"id"`
		Status    string        `db:"status"`
		RequestID sql.NullInt64 `db:"request_id"`
		Created   time.Time     `db:"created"`
	}
	const q = `
	SELECT id, status, request_id, created
	FROM firmware_status_log
	WHERE charge_station_id = $1 AND ($2 = 0 OR id < $2)
	ORDER BY id DESC
	LIMIT $3`
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, id, before, limit); err != nil {
		return nil, fmt.Errorf("firmware history of %s: %w", id, database.Translate(err))
	}
	out := make([]FirmwareStatus, len(rows))
	for i, r := range rows {
		out[i] = FirmwareStatus{ID: r.ID, StationID: id, Status: r.Status, Created: r.Created.UTC()}
		if r.RequestID.Valid {
			n := int(r.RequestID.Int64)
			out[i].RequestID = &n
		}
	}
	return out, nil
}
