package evse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps EVSEs in PostgreSQL. A Store made by NewStore runs its own transactions; one
// made by WithTx runs inside the caller's.
type Store struct {
	db  *sqlx.DB         // nil inside a caller's transaction
	q   sqlx.ExtContext  // what statements run on: db or the caller's tx
	now func() time.Time // clock for last_updated
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db, q: db, now: time.Now} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: tx, now: s.now} }

// inTx runs fn in a transaction: the Store's own, or the caller's when made by WithTx.
func (s *Store) inTx(ctx context.Context, fn func(q sqlx.ExtContext) error) error {
	if s.db == nil {
		return fn(s.q)
	}
	return database.InTx(ctx, s.db, func(tx *sqlx.Tx) error { return fn(tx) })
}

// connectorDoc is a connector as stored in the evses.connectors jsonb column.
type connectorDoc struct {
	ID               string                   `json:"id"`
	Standard         schema.ConnectorStandard `json:"standard"`
	Format           schema.ConnectorFormat   `json:"format"`
	Internal         schema.InternalConnector `json:"internal,omitempty"`
	PowerType        schema.PowerType         `json:"power_type"`
	MaxVoltage       int                      `json:"max_voltage"`
	MaxAmperage      int                      `json:"max_amperage"`
	MaxElectricPower *int                     `json:"max_electric_power,omitempty"`
	TariffIDs        []string                 `json:"tariff_ids,omitempty"`
	LastUpdated      time.Time                `json:"last_updated"`
}

type evseRow struct {
	UID                 string                                 `db:"uid"`
	ChargeStationID     string                                 `db:"charge_station_id"`
	SequenceNumber      int                                    `db:"evse_sequence_number"`
	EVSEID              sql.NullString                         `db:"evse_id"`
	Status              string                                 `db:"status"`
	OCPPStatus          sql.NullString                         `db:"ocpp_status"`
	Capabilities        pq.StringArray                         `db:"capabilities"`
	Connectors          database.JSON[[]connectorDoc]          `db:"connectors"`
	FloorLevel          sql.NullString                         `db:"floor_level"`
	Coordinates         database.JSON[*schema.GeoLocation]     `db:"coordinates"`
	PhysicalReference   sql.NullString                         `db:"physical_reference"`
	Directions          database.JSON[[]schema.DisplayText]    `db:"directions"`
	ParkingRestrictions pq.StringArray                         `db:"parking_restrictions"`
	StatusSchedule      database.JSON[[]schema.StatusSchedule] `db:"status_schedule"`
	LastUpdated         time.Time                              `db:"last_updated"`
}

var columnList = []string{"uid", "charge_station_id", "evse_sequence_number", "evse_id", "status",
	"ocpp_status", "capabilities", "connectors", "floor_level", "coordinates", "physical_reference",
	"directions", "parking_restrictions", "status_schedule", "last_updated"}

var (
	columns  = strings.Join(columnList, ", ")
	eColumns = "e." + strings.Join(columnList, ", e.")
)

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func stringPtr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

func stringArray[T ~string](in []T) pq.StringArray {
	out := make(pq.StringArray, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func fromStrings[T ~string](in []string) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

func toRow(e EVSE) evseRow {
	conns := make([]connectorDoc, len(e.Connectors))
	for i, c := range e.Connectors {
		conns[i] = connectorDoc{ID: c.ID, Standard: c.Standard, Format: c.Format, Internal: c.Internal,
			PowerType: c.PowerType, MaxVoltage: c.MaxVoltage, MaxAmperage: c.MaxAmperage,
			MaxElectricPower: c.MaxElectricPower, TariffIDs: c.TariffIDs, LastUpdated: c.LastUpdated.UTC()}
	}
	return evseRow{
		UID: e.UID, ChargeStationID: e.ChargeStationID, SequenceNumber: e.SequenceNumber,
		EVSEID: nullString(e.EVSEID), Status: string(e.Status), OCPPStatus: nullString(e.OCPPStatus),
		Capabilities: stringArray(e.Capabilities), Connectors: database.JSON[[]connectorDoc]{V: conns},
		FloorLevel:          nullString(e.FloorLevel),
		Coordinates:         database.JSON[*schema.GeoLocation]{V: e.Coordinates},
		PhysicalReference:   nullString(e.PhysicalReference),
		Directions:          database.JSON[[]schema.DisplayText]{V: e.Directions},
		ParkingRestrictions: stringArray(e.ParkingRestrictions),
		StatusSchedule:      database.JSON[[]schema.StatusSchedule]{V: e.StatusSchedule},
		LastUpdated:         e.LastUpdated,
	}
}

func (r evseRow) toEVSE() EVSE {
	conns := make([]Connector, len(r.Connectors.V))
	for i, c := range r.Connectors.V {
		conns[i] = Connector{ID: c.ID, Standard: c.Standard, Format: c.Format, Internal: c.Internal,
			PowerType: c.PowerType, MaxVoltage: c.MaxVoltage, MaxAmperage: c.MaxAmperage,
			MaxElectricPower: c.MaxElectricPower, TariffIDs: c.TariffIDs, LastUpdated: c.LastUpdated.UTC()}
	}
	return EVSE{
		UID: r.UID, ChargeStationID: r.ChargeStationID, SequenceNumber: r.SequenceNumber,
		EVSEID: stringPtr(r.EVSEID), Status: schema.Status(r.Status), OCPPStatus: stringPtr(r.OCPPStatus),
		Capabilities: fromStrings[schema.Capability](r.Capabilities), Connectors: conns,
		FloorLevel: stringPtr(r.FloorLevel), Coordinates: r.Coordinates.V,
		PhysicalReference: stringPtr(r.PhysicalReference), Directions: r.Directions.V,
		ParkingRestrictions: fromStrings[schema.ParkingRestriction](r.ParkingRestrictions),
		StatusSchedule:      r.StatusSchedule.V, LastUpdated: r.LastUpdated.UTC(),
	}
}

func toEVSEs(rows []evseRow) []EVSE {
	out := make([]EVSE, len(rows))
	for i, r := range rows {
		out[i] = r.toEVSE()
	}
	return out
}

// ByStation returns the EVSEs of a station in sequence-number order. The caller has already
// checked that the station is visible.
func (s *Store) ByStation(ctx context.Context, stationID string) ([]EVSE, error) {
	m, err := s.ByStations(ctx, []string{stationID})
	return m[stationID], err
}

// ByStations returns the EVSEs of several stations, keyed by station id, each list in
// sequence-number order.
func (s *Store) ByStations(ctx context.Context, stationIDs []string) (map[string][]EVSE, error) {
	var rows []evseRow
	err := sqlx.SelectContext(ctx, s.q, &rows, `
	SELECT `+columns+`
	FROM evses
	WHERE charge_station_id = ANY($1)
	ORDER BY charge_station_id, evse_sequence_number`, pq.Array(stationIDs))
	if err != nil {
		return nil, fmt.Errorf("list EVSEs: %w", database.Translate(err))
	}
	out := make(map[string][]EVSE, len(stationIDs))
	for _, r := range rows {
		out[r.ChargeStationID] = append(out[r.ChargeStationID], r.toEVSE())
	}
	return out, nil
}

// ByLocation returns the EVSEs of every charge station at a location, ordered by station and
// sequence number. The caller has already checked that the location is visible; a station's
// network is always its location's.
func (s *Store) ByLocation(ctx context.Context, locationID string) ([]EVSE, error) {
	var rows []evseRow
	err := sqlx.SelectContext(ctx, s.q, &rows, `
	SELECT `+eColumns+`
	FROM evses e
	JOIN charge_stations cs ON cs.id = e.charge_station_id
	WHERE cs.location_id = $1
	ORDER BY e.charge_station_id, e.evse_sequence_number`, locationID)
	if err != nil {
		return nil, fmt.Errorf("list EVSEs of location %s: %w", locationID, database.Translate(err))
	}
	return toEVSEs(rows), nil
}

// Get returns EVSE uid of station stationID when the station's network is visible.
// Errors: ErrStationNotFound, ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, stationID, uid string) (EVSE, uuid.UUID, error) {
	var etag uuid.UUID
	var e EVSE
	err := s.inTx(ctx, func(q sqlx.ExtContext) error {
		var err error
		if etag, err = stationETag(ctx, q, visible, stationID, ""); err != nil {
			return err
		}
		e, err = get(ctx, q, stationID, uid, "")
		return err
	})
	return e, etag, err
}

func stationETag(ctx context.Context, q sqlx.QueryerContext, visible []uuid.UUID, stationID, lock string) (uuid.UUID, error) {
	var etag uuid.UUID
	err := sqlx.GetContext(ctx, q, &etag, `
	SELECT etag
	FROM charge_stations
	WHERE id = $1 AND network_id = ANY($2)`+lock, stationID, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, ErrStationNotFound
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("get charge station %s: %w", stationID, database.Translate(err))
	}
	return etag, nil
}

func get(ctx context.Context, q sqlx.QueryerContext, stationID, uid, lock string) (EVSE, error) {
	var row evseRow
	err := sqlx.GetContext(ctx, q, &row, `
	SELECT `+columns+`
	FROM evses
	WHERE uid = $1 AND charge_station_id = $2`+lock, uid, stationID)
	if errors.Is(err, sql.ErrNoRows) {
		return EVSE{}, ErrNotFound
	}
	if err != nil {
		return EVSE{}, fmt.Errorf("get EVSE %s: %w", uid, database.Translate(err))
	}
	return row.toEVSE(), nil
}

// Update changes one EVSE through the API. It locks the station's row first (so it runs after
// or before a concurrent station PUT or PATCH, never in between), then calls change with the
// current EVSE and the station's etag; change returns the new writable fields or an error
// that aborts (e.g. a stale etag). uid, station, sequence number and statuses are kept. The
// station gets a new etag; the EVSE's and the station's last_updated move when the EVSE
// changed. Returns the stored EVSE and the station's new etag.
// Errors: ErrStationNotFound, ErrNotFound, and change's errors.
func (s *Store) Update(ctx context.Context, visible []uuid.UUID, stationID, uid string,
	change func(cur EVSE, stationETag uuid.UUID) (EVSE, error)) (EVSE, uuid.UUID, error) {
	var out EVSE
	newETag := uuid.New()
	err := s.inTx(ctx, func(q sqlx.ExtContext) error {
		etag, err := stationETag(ctx, q, visible, stationID, " FOR UPDATE")
		if err != nil {
			return err
		}
		cur, err := get(ctx, q, stationID, uid, " FOR UPDATE")
		if err != nil {
			return err
		}
		next, err := change(cur, etag)
		if err != nil {
			return err
		}
		next.UID, next.ChargeStationID, next.SequenceNumber = cur.UID, cur.ChargeStationID, cur.SequenceNumber
		now := database.Timestamp(s.now())
		next, changed := Stamp(&cur, next, now)
		if changed {
			if err := upsert(ctx, q, next); err != nil {
				return err
			}
		}
		const qs = `
		UPDATE charge_stations
		SET etag = $2, last_updated = CASE WHEN $3 THEN GREATEST(last_updated, $4) ELSE last_updated END
		WHERE id = $1`
		if _, err := q.ExecContext(ctx, qs, stationID, newETag, changed, now); err != nil {
			return fmt.Errorf("touch charge station %s: %w", stationID, database.Translate(err))
		}
		out, err = get(ctx, q, stationID, uid, "")
		return err
	})
	return out, newETag, err
}

// Stamp prepares next for writing over old (nil for a new EVSE): it keeps old's statuses,
// keeps the last_updated of old's connectors (matched by id) that did not change, and keeps
// old's last_updated when nothing changed at all. Everything else gets now. changed reports
// whether next differs from old.
func Stamp(old *EVSE, next EVSE, now time.Time) (EVSE, bool) {
	oldConns := map[string]Connector{}
	if old != nil {
		next.Status, next.OCPPStatus = old.Status, old.OCPPStatus
		for _, c := range old.Connectors {
			oldConns[c.ID] = c
		}
	} else {
		next.Status, next.OCPPStatus = schema.StatusUnknown, nil
	}
	conns := make([]Connector, len(next.Connectors))
	for i, c := range next.Connectors {
		c.LastUpdated = now
		if oc, ok := oldConns[c.ID]; ok && connectorKey(oc) == connectorKey(c) {
			c.LastUpdated = oc.LastUpdated
		}
		conns[i] = c
	}
	next.Connectors = conns
	if old != nil && contentKey(*old) == contentKey(next) {
		next.LastUpdated = old.LastUpdated
		return next, false
	}
	next.LastUpdated = now
	return next, true
}

// contentKey is the canonical form of the fields a client writes: two EVSEs with the same key
// are the same to a client.
func contentKey(e EVSE) string {
	conns := make([]string, len(e.Connectors))
	for i, c := range e.Connectors {
		conns[i] = connectorKey(c)
	}
	k := struct {
		UID, Station           string
		Seq                    int
		EVSEID, Floor, PhysRef *string
		Caps                   []schema.Capability
		Conns                  []string
		Coords                 *schema.GeoLocation
		Dirs                   []schema.DisplayText
		Parking                []schema.ParkingRestriction
		Schedule               []schema.StatusSchedule
	}{e.UID, e.ChargeStationID, e.SequenceNumber, e.EVSEID, e.FloorLevel, e.PhysicalReference,
		nonNil(e.Capabilities), conns, e.Coordinates, nonNil(e.Directions), nonNil(e.ParkingRestrictions),
		nonNil(e.StatusSchedule)}
	b, _ := json.Marshal(k)
	return string(b)
}

func connectorKey(c Connector) string {
	c.LastUpdated = time.Time{}
	c.TariffIDs = nonNil(c.TariffIDs)
	b, _ := json.Marshal(c)
	return string(b)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// upsert writes e's client-writable fields and timestamps. The statuses are left alone on an
// existing row (they belong to the station's reports); a uid of another station is refused.
func upsert(ctx context.Context, q sqlx.ExtContext, e EVSE) error {
	const qs = `
	INSERT INTO evses (uid, charge_station_id, evse_sequence_number, evse_id, status, capabilities,
		connectors, floor_level, coordinates, physical_reference, directions, parking_restrictions,
		status_schedule, last_updated)
	VALUES (:uid, :charge_station_id, :evse_sequence_number, :evse_id, :status, :capabilities,
		:connectors, :floor_level, :coordinates, :physical_reference, :directions, :parking_restrictions,
		:status_schedule, :last_updated)
	ON CONFLICT (uid) DO UPDATE SET
		evse_sequence_number = excluded.evse_sequence_number, evse_id = excluded.evse_id,
		capabilities = excluded.capabilities, connectors = excluded.connectors,
		floor_level = excluded.floor_level, coordinates = excluded.coordinates,
		physical_reference = excluded.physical_reference, directions = excluded.directions,
		parking_restrictions = excluded.parking_restrictions, status_schedule = excluded.status_schedule,
		last_updated = excluded.last_updated
	WHERE evses.charge_station_id = excluded.charge_station_id`
	res, err := sqlx.NamedExecContext(ctx, q, qs, toRow(e))
	if err != nil {
		return fmt.Errorf("write EVSE %s: %w", e.UID, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrUIDTaken{UID: e.UID}
	}
	return nil
}

// Replace makes next the EVSE set of station stationID, whose current set is old (read in the
// same transaction, under the station's lock). EVSEs whose uid survives keep their statuses,
// and keep their last_updated when unchanged (connectors likewise); EVSEs not in next are
// deleted. Run it in the caller's transaction (WithTx). It returns the stored set and whether
// anything changed. Errors: ErrUIDTaken.
func (s *Store) Replace(ctx context.Context, stationID string, old, next []EVSE, now time.Time) ([]EVSE, bool, error) {
	byUID := map[string]*EVSE{}
	for i := range old {
		byUID[old[i].UID] = &old[i]
	}
	keep := make([]string, 0, len(next))
	changed := false
	for _, e := range next {
		e.ChargeStationID = stationID
		keep = append(keep, e.UID)
		stamped, ch := Stamp(byUID[e.UID], e, now)
		if !ch {
			continue
		}
		changed = true
		if err := upsert(ctx, s.q, stamped); err != nil {
			return nil, false, err
		}
	}
	for _, e := range old {
		if !slices.Contains(keep, e.UID) {
			changed = true
		}
	}
	if _, err := s.q.ExecContext(ctx, `DELETE FROM evses WHERE charge_station_id = $1 AND NOT (uid = ANY($2))`,
		stationID, pq.Array(keep)); err != nil {
		return nil, false, fmt.Errorf("delete EVSEs of %s: %w", stationID, database.Translate(err))
	}
	out, err := s.ByStation(ctx, stationID)
	return out, changed, err
}

// SetStatus records a status reported by the station with OCPP identity for the EVSE with
// evseSequence (the OCPP 1.6 connectorId / 2.0.1 evseId): the raw OCPP status and its OCPI
// status. It is for the OCPP gateway: it moves the EVSE's and the station's last_updated to at
// (the time the gateway received the report; never backwards for the station) but not the
// station's etag, and never touches the location. A report that repeats the current statuses
// changes nothing. Connector 0 (the whole station) has no EVSE: the caller decides what it
// means. Errors: ErrNotFound (no such station or no EVSE with that number).
func (s *Store) SetStatus(ctx context.Context, identity string, evseSequence int, ocppStatus string, ocpiStatus schema.Status, at time.Time) error {
	// The station row is locked first, as every other writer of a station's EVSEs does, so
	// that this cannot deadlock with a concurrent PUT.
	const q = `
	WITH station AS (
		SELECT id FROM charge_stations WHERE id = $1 FOR NO KEY UPDATE
	), target AS (
		SELECT e.uid, (e.status IS DISTINCT FROM $4 OR e.ocpp_status IS DISTINCT FROM $3) AS differs
		FROM evses e JOIN station ON e.charge_station_id = station.id
		WHERE e.evse_sequence_number = $2
	), changed AS (
		UPDATE evses e SET ocpp_status = $3, status = $4, last_updated = $5
		FROM target WHERE e.uid = target.uid AND target.differs
		RETURNING e.charge_station_id
	), touched AS (
		UPDATE charge_stations cs SET last_updated = GREATEST(cs.last_updated, $5)
		FROM changed WHERE cs.id = changed.charge_station_id
		RETURNING cs.id
	)
	SELECT count(*) FROM target`
	var n int
	err := sqlx.GetContext(ctx, s.q, &n, q, identity, evseSequence, ocppStatus, string(ocpiStatus), database.Timestamp(at))
	if err != nil {
		return fmt.Errorf("set status of %s EVSE %d: %w", identity, evseSequence, database.Translate(err))
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
