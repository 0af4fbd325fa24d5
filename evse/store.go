package evse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps EVSEs in PostgreSQL. A Store made by NewStore runs each statement on the pool;
// one made by WithTx runs in the caller's transaction.
type Store struct {
	q sqlx.ExtContext
	// followersDeferred: DeferStatusFollowers ran in the transaction this Store runs in.
	followersDeferred bool
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

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

// asStrings turns a list of a string type into []string, never nil: an absent list is stored
// as the columns' empty default.
func asStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
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

// stationOffline adds to an EVSE row read as JSON whether its station is Offline, the key
// DecodeRows reads as StationOffline.
const stationOffline = `jsonb_build_object('station_offline',
		coalesce((SELECT cs.connectivity_status = 'Offline' FROM charge_stations cs WHERE cs.id = e.charge_station_id), false))`

// ByStation returns the EVSEs of a station in sequence-number order. The caller has already
// checked that the station is visible.
func (s *Store) ByStation(ctx context.Context, stationID string) ([]EVSE, error) {
	var raw []byte
	err := sqlx.GetContext(ctx, s.q, &raw, `
	SELECT coalesce(jsonb_agg(to_jsonb(e) || `+stationOffline+` ORDER BY e.evse_sequence_number), '[]')
	FROM evses e
	WHERE e.charge_station_id = $1`, stationID)
	if err != nil {
		return nil, fmt.Errorf("list EVSEs of %s: %w", stationID, database.Translate(err))
	}
	return DecodeRows(raw)
}

// ByLocation returns the EVSEs of every charge station at a location, ordered by station and
// sequence number. The caller has already checked that the location is visible; a station's
// network is always its location's.
func (s *Store) ByLocation(ctx context.Context, locationID string) ([]EVSE, error) {
	var raw []byte
	err := sqlx.GetContext(ctx, s.q, &raw, `
	SELECT coalesce(jsonb_agg(to_jsonb(e) || jsonb_build_object('station_offline', cs.connectivity_status = 'Offline')
		ORDER BY e.charge_station_id, e.evse_sequence_number), '[]')
	FROM evses e
	JOIN charge_stations cs ON cs.id = e.charge_station_id
	WHERE cs.location_id = $1`, locationID)
	if err != nil {
		return nil, fmt.Errorf("list EVSEs of location %s: %w", locationID, database.Translate(err))
	}
	return DecodeRows(raw)
}

// StationETag returns the etag of station stationID when its network is visible: an EVSE is
// part of its station, whose etag guards it. Errors: ErrStationNotFound.
func (s *Store) StationETag(ctx context.Context, visible []uuid.UUID, stationID string) (uuid.UUID, error) {
	return s.stationETag(ctx, visible, stationID, false)
}

// StationETagForUpdate is StationETag with the station's row locked until the transaction
// ends, as every writer of a station's EVSEs locks it first (the store must be one made by
// WithTx). Errors: ErrStationNotFound.
func (s *Store) StationETagForUpdate(ctx context.Context, visible []uuid.UUID, stationID string) (uuid.UUID, error) {
	return s.stationETag(ctx, visible, stationID, true)
}

// StationNetwork returns the network of station stationID. Errors: ErrStationNotFound.
func (s *Store) StationNetwork(ctx context.Context, stationID string) (uuid.UUID, error) {
	var network uuid.UUID
	err := sqlx.GetContext(ctx, s.q, &network, `SELECT network_id FROM charge_stations WHERE id = $1`, stationID)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, ErrStationNotFound
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("get network of charge station %s: %w", stationID, database.Translate(err))
	}
	return network, nil
}

func (s *Store) stationETag(ctx context.Context, visible []uuid.UUID, stationID string, forUpdate bool) (uuid.UUID, error) {
	q := `
	SELECT etag
	FROM charge_stations
	WHERE id = $1 AND network_id = ANY($2)`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var etag uuid.UUID
	err := sqlx.GetContext(ctx, s.q, &etag, q, stationID, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, ErrStationNotFound
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("get charge station %s: %w", stationID, database.Translate(err))
	}
	return etag, nil
}

// Get returns EVSE uid of station stationID; the caller has checked that the station is
// visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, stationID, uid string) (EVSE, error) {
	return s.get(ctx, stationID, uid, false)
}

// GetForUpdate is Get with the EVSE's row locked until the transaction ends (the store must be
// one made by WithTx). Errors: ErrNotFound.
func (s *Store) GetForUpdate(ctx context.Context, stationID, uid string) (EVSE, error) {
	return s.get(ctx, stationID, uid, true)
}

func (s *Store) get(ctx context.Context, stationID, uid string, forUpdate bool) (EVSE, error) {
	q := `
	SELECT jsonb_build_array(to_jsonb(e) || ` + stationOffline + `)
	FROM evses e
	WHERE e.uid = $1 AND e.charge_station_id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var raw []byte
	err := sqlx.GetContext(ctx, s.q, &raw, q, uid, stationID)
	if errors.Is(err, sql.ErrNoRows) {
		return EVSE{}, ErrNotFound
	}
	if err != nil {
		return EVSE{}, fmt.Errorf("get EVSE %s: %w", uid, database.Translate(err))
	}
	es, err := DecodeRows(raw)
	if err != nil {
		return EVSE{}, err
	}
	return es[0], nil
}

// Write writes the client-writable fields and timestamps of es, one statement for all: an
// insert of a new EVSE, an update of one with its uid. The statuses are left alone on an
// existing row (they belong to the station's reports); a uid of another station is refused.
// Errors: ErrUIDTaken.
func (s *Store) Write(ctx context.Context, es []EVSE) error {
	if len(es) == 0 {
		return nil
	}
	doc, err := encodeRows(es)
	if err != nil {
		return err
	}
	// The EVSEs travel as one JSON array of evses rows (the form DecodeRows reads), which
	// jsonb_populate_recordset turns back into rows.
	const q = `
	INSERT INTO evses (uid, charge_station_id, evse_sequence_number, evse_id, status, capabilities,
		connectors, floor_level, coordinates, physical_reference, directions, parking_restrictions,
		status_schedule, last_updated)
	SELECT uid, charge_station_id, evse_sequence_number, evse_id, coalesce(status, 'UNKNOWN'), capabilities,
		connectors, floor_level, coordinates, physical_reference, directions, parking_restrictions,
		status_schedule, last_updated
	FROM jsonb_populate_recordset(NULL::evses, $1::jsonb)
	ON CONFLICT (uid) DO UPDATE SET
		evse_sequence_number = excluded.evse_sequence_number, evse_id = excluded.evse_id,
		capabilities = excluded.capabilities, connectors = excluded.connectors,
		floor_level = excluded.floor_level, coordinates = excluded.coordinates,
		physical_reference = excluded.physical_reference, directions = excluded.directions,
		parking_restrictions = excluded.parking_restrictions, status_schedule = excluded.status_schedule,
		last_updated = excluded.last_updated
	WHERE evses.charge_station_id = excluded.charge_station_id
	RETURNING uid`
	if err := s.checkEVSEIDs(ctx, es, doc); err != nil {
		return err
	}
	var written []string
	if err := sqlx.SelectContext(ctx, s.q, &written, q, doc); err != nil {
		if database.IsUniqueViolation(err, EVSEIDConstraint) {
			return ErrEVSEIDRace
		}
		return fmt.Errorf("write %d EVSEs: %w", len(es), database.Translate(err))
	}
	if len(written) < len(es) {
		for _, e := range es {
			if !slices.Contains(written, e.UID) {
				return ErrUIDTaken{UID: e.UID}
			}
		}
	}
	return nil
}

// checkEVSEIDs fails with EVSEIDTakenError when an EVSE of es would take the evse_id of an
// EVSE that es does not write (another station's, or one of this station's not rewritten).
// The index EVSEIDConstraint guards the same against concurrent writers; this check names the
// EVSEs while the write can still be answered with a 422.
func (s *Store) checkEVSEIDs(ctx context.Context, es []EVSE, doc []byte) error {
	uids := make([]string, 0, len(es))
	some := false
	for _, e := range es {
		uids = append(uids, e.UID)
		some = some || e.EVSEID != nil
	}
	if !some {
		return nil
	}
	const q = `
	SELECT DISTINCT n.uid
	FROM jsonb_populate_recordset(NULL::evses, $1::jsonb) n
	JOIN evses e ON upper(replace(e.evse_id, '*', '')) = upper(replace(n.evse_id, '*', ''))
		AND e.evse_id IS NOT NULL
	WHERE n.evse_id IS NOT NULL AND e.uid <> ALL($2)
	ORDER BY n.uid`
	var taken []string
	if err := sqlx.SelectContext(ctx, s.q, &taken, q, doc, pq.Array(uids)); err != nil {
		return fmt.Errorf("check the evse_ids of %d EVSEs: %w", len(es), database.Translate(err))
	}
	if len(taken) > 0 {
		return EVSEIDTakenError{UIDs: taken}
	}
	// The unique index is checked row by row: EVSEs of this write that swap their evse_ids
	// (or pass one on) would clash with each other's old values. The rows whose evse_id
	// changes lose it first; the write then gives every one its new value.
	const clear = `
	UPDATE evses e SET evse_id = NULL
	FROM jsonb_populate_recordset(NULL::evses, $1::jsonb) n
	WHERE e.uid = n.uid AND e.evse_id IS NOT NULL AND e.evse_id IS DISTINCT FROM n.evse_id`
	if _, err := s.q.ExecContext(ctx, clear, doc); err != nil {
		return fmt.Errorf("clear the changing evse_ids of %d EVSEs: %w", len(es), database.Translate(err))
	}
	return nil
}

// TouchStation gives station stationID a new etag after a change made through one of its
// EVSEs, and moves its last_updated to now (never backwards) when the EVSE changed.
func (s *Store) TouchStation(ctx context.Context, stationID string, etag uuid.UUID, changed bool, now time.Time) error {
	const q = `
	UPDATE charge_stations
	SET etag = $2, last_updated = CASE WHEN $3 THEN GREATEST(last_updated, $4) ELSE last_updated END
	WHERE id = $1`
	if _, err := s.q.ExecContext(ctx, q, stationID, etag, changed, now); err != nil {
		return fmt.Errorf("touch charge station %s: %w", stationID, database.Translate(err))
	}
	return nil
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
	stored := make([]EVSE, 0, len(next))
	var write []EVSE
	for _, e := range next {
		e.ChargeStationID = stationID
		keep = append(keep, e.UID)
		stamped, changed := Stamp(byUID[e.UID], e, now)
		if changed {
			write = append(write, stamped)
		}
		stored = append(stored, stamped)
	}
	dropped := false
	for _, e := range old {
		if !slices.Contains(keep, e.UID) {
			dropped = true
		}
	}
	// Delete first: a new EVSE may take the sequence number of one that goes (the
	// constraint is checked at commit anyway). old is every EVSE the station has (read under
	// its row lock), so when none of them goes there is nothing to delete.
	if dropped {
		if _, err := s.q.ExecContext(ctx, `DELETE FROM evses WHERE charge_station_id = $1 AND NOT (uid = ANY($2))`,
			stationID, pq.Array(keep)); err != nil {
			return nil, false, fmt.Errorf("delete EVSEs of %s: %w", stationID, database.Translate(err))
		}
	}
	changed := len(write) > 0 || dropped
	if err := s.Write(ctx, write); err != nil {
		return nil, false, err
	}
	slices.SortFunc(stored, func(a, b EVSE) int { return a.SequenceNumber - b.SequenceNumber })
	return stored, changed, nil
}

// StatusChange is a status a station reported for one of its EVSEs: the raw OCPP status and
// its OCPI status, received at At.
type StatusChange struct {
	Identity       string
	SequenceNumber int // the OCPP 1.6 connectorId / 2.0.1 evseId
	OCPPStatus     string
	Status         schema.Status
	At             time.Time
}

// SetStatuses records the statuses stations reported, many in one statement, in slice order:
// an EVSE's last entry wins. It is for the OCPP gateway: an EVSE that changes gets
// last_updated At, and its station's last_updated moves to it (never backwards; in a
// transaction that deferred the followers, to the follow-up's time), but not the station's
// etag, and the location is never touched. A report that repeats the current
// statuses changes nothing. Connector 0 (the whole station) has no EVSE: the caller decides
// what it means. It returns, per entry, whether the station has an EVSE of that number, and
// the stations whose EVSEs changed, in id order.
//
// Every other writer of a station's EVSEs locks the station's row first, and so does this
// one, in id order, when its followers run in its transaction: they rewrite the station rows.
// When they are deferred (DeferStatusFollowers) it locks no station row it can do without
// (migration 0036 has the figures): a write that changes one EVSE of a station holds one lock
// of that station's and cannot close a cycle with the other writers. One that changes
// several EVSEs of a station could (holding one while waiting for another that a writer
// holding the station takes in a different order), so it still locks those stations first.
//
// When the followers are deferred, the stations it changed are also recorded as owed a
// follow-up (migration 0038), in the same statement; owed is that record's id, for
// SettleFollowUps once they were followed (0 when nothing changed, or nothing is deferred).
func (s *Store) SetStatuses(ctx context.Context, cs []StatusChange) (found []bool, changed []string, owed int64, err error) {
	n := len(cs)
	ids, ocpp, ocpi, seqs, ats := make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([]time.Time, n)
	for i, c := range cs {
		ids[i], seqs[i], ocpp[i], ocpi[i], ats[i] = c.Identity, int64(c.SequenceNumber), c.OCPPStatus, string(c.Status), database.Timestamp(c.At)
	}
	lock := ids
	if s.followersDeferred {
		lock = stationsOfSeveralEVSEs(cs)
	}
	// The station rows to lock are locked in the statement itself (the Store may run each
	// statement in a transaction of its own), by the one-time filter of last: before the
	// first EVSE is read, let alone updated. Deferred followers are deferred by the same
	// filter, for the rest of the transaction: the EVSE triggers read the setting when they
	// fire, at the end of the statement.
	first := `(SELECT count(*) FROM locked) >= 0`
	if s.followersDeferred {
		first += ` AND (SELECT set_config('evroam.status_followers', 'deferred', true)) = 'deferred'`
	}
	q := `
	WITH u AS (
		SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[])
			WITH ORDINALITY AS u(id, seq, ocpp, ocpi, at, n)
	), locked AS (
		SELECT id FROM charge_stations WHERE id = ANY($6) ORDER BY id FOR NO KEY UPDATE
	), last AS (
		SELECT DISTINCT ON (u.id, u.seq) u.id, u.seq, u.ocpp, u.ocpi, u.at
		FROM u WHERE ` + first + ` ORDER BY u.id, u.seq, u.n DESC
	), target AS (
		SELECT e.uid, last.id, last.seq, last.ocpp, last.ocpi, last.at,
			(e.status IS DISTINCT FROM last.ocpi OR e.ocpp_status IS DISTINCT FROM last.ocpp) AS differs
		FROM evses e JOIN last ON e.charge_station_id = last.id AND e.evse_sequence_number = last.seq
	), changed AS (
		-- The EVSE trigger moves the station's last_updated up to the EVSEs' (migration 0013),
		-- unless the transaction deferred it (DeferStatusFollowers, migration 0035).
		UPDATE evses e SET ocpp_status = t.ocpp, status = t.ocpi, last_updated = t.at
		FROM target t WHERE e.uid = t.uid AND t.differs
	)`
	const result = `
	SELECT id, seq, differs, NULL::bigint AS owed FROM target ORDER BY id`
	// The deferred followers' debt, recorded by the statement that makes it.
	const owing = `, owed AS (
		INSERT INTO evse_status_follow_ups_owed (station_ids)
		SELECT array_agg(DISTINCT id) FROM target WHERE differs HAVING count(*) > 0
		RETURNING id
	)
	SELECT id, seq, differs, (SELECT id FROM owed) AS owed FROM target ORDER BY id`
	query := q + result
	if s.followersDeferred {
		query = q + owing
	}
	var rows []struct {
		ID      string        `db:"id"`
		Seq     int           `db:"seq"`
		Differs bool          `db:"differs"`
		Owed    sql.NullInt64 `db:"owed"`
	}
	err = sqlx.SelectContext(ctx, s.q, &rows, query, pq.Array(ids), pq.Array(seqs), pq.Array(ocpp), pq.Array(ocpi), pq.Array(ats),
		pq.Array(lock))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("set %d statuses: %w", n, database.Translate(err))
	}
	type key struct {
		id  string
		seq int
	}
	known := make(map[key]bool, len(rows))
	for _, r := range rows {
		known[key{r.ID, r.Seq}] = true
		if r.Differs && (len(changed) == 0 || changed[len(changed)-1] != r.ID) {
			changed = append(changed, r.ID)
		}
		if r.Owed.Valid {
			owed = r.Owed.Int64
		}
	}
	found = make([]bool, n)
	for i, c := range cs {
		found[i] = known[key{c.Identity, c.SequenceNumber}]
	}
	return found, changed, owed, nil
}

// stationsOfSeveralEVSEs returns the stations that cs reports more than one EVSE of, in id
// order.
func stationsOfSeveralEVSEs(cs []StatusChange) []string {
	const listed = -1                      // no EVSE has this number
	first := make(map[string]int, len(cs)) // a station's first EVSE in cs, or listed
	var several []string
	for _, c := range cs {
		seq, seen := first[c.Identity]
		switch {
		case !seen:
			first[c.Identity] = c.SequenceNumber
		case seq != listed && seq != c.SequenceNumber:
			first[c.Identity] = listed
			several = append(several, c.Identity)
		}
	}
	slices.Sort(several)
	return several
}

// evseJSON is an evses row as PostgreSQL's to_jsonb renders it (keys are column names).
type evseJSON struct {
	UID                 string                  `json:"uid"`
	ChargeStationID     string                  `json:"charge_station_id"`
	SequenceNumber      int                     `json:"evse_sequence_number"`
	EVSEID              *string                 `json:"evse_id"`
	Status              string                  `json:"status"`
	OCPPStatus          *string                 `json:"ocpp_status"`
	Capabilities        []string                `json:"capabilities"`
	Connectors          []connectorDoc          `json:"connectors"`
	FloorLevel          *string                 `json:"floor_level"`
	Coordinates         *schema.GeoLocation     `json:"coordinates"`
	PhysicalReference   *string                 `json:"physical_reference"`
	Directions          []schema.DisplayText    `json:"directions"`
	ParkingRestrictions []string                `json:"parking_restrictions"`
	StatusSchedule      []schema.StatusSchedule `json:"status_schedule"`
	LastUpdated         time.Time               `json:"last_updated"`
	ChargingState       *string                 `json:"charging_state"`
	// StationOffline is not a column: the reads that need it add it (stationOffline).
	StationOffline bool `json:"station_offline,omitempty"`
}

// encodeRows is DecodeRows the other way round: es as a JSON array of evses rows.
func encodeRows(es []EVSE) ([]byte, error) {
	rows := make([]evseJSON, len(es))
	for i, e := range es {
		conns := make([]connectorDoc, len(e.Connectors))
		for j, c := range e.Connectors {
			conns[j] = connectorDoc{ID: c.ID, Standard: c.Standard, Format: c.Format, Internal: c.Internal,
				PowerType: c.PowerType, MaxVoltage: c.MaxVoltage, MaxAmperage: c.MaxAmperage,
				MaxElectricPower: c.MaxElectricPower, TariffIDs: c.TariffIDs, LastUpdated: c.LastUpdated.UTC()}
		}
		rows[i] = evseJSON{UID: e.UID, ChargeStationID: e.ChargeStationID, SequenceNumber: e.SequenceNumber,
			EVSEID: e.EVSEID, Status: string(e.Status), OCPPStatus: e.OCPPStatus, Capabilities: asStrings(e.Capabilities),
			Connectors: conns, FloorLevel: e.FloorLevel, Coordinates: e.Coordinates, PhysicalReference: e.PhysicalReference,
			Directions: e.Directions, ParkingRestrictions: asStrings(e.ParkingRestrictions), StatusSchedule: e.StatusSchedule,
			LastUpdated: e.LastUpdated.UTC()}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("encode EVSEs: %w", err)
	}
	return b, nil
}

// DecodeRows decodes a JSON array of evses rows as PostgreSQL's to_jsonb renders them: the
// form of charge_stations.evses_doc (kept by triggers, migration 0006) and of every EVSE
// read here.
func DecodeRows(raw []byte) ([]EVSE, error) {
	var rows []evseJSON
	// go-json: a station's EVSEs are decoded on every read of it, and this decoder takes a
	// quarter of encoding/json's time for the same result.
	if err := gojson.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("decode EVSEs: %w", err)
	}
	out := make([]EVSE, len(rows))
	for i, r := range rows {
		conns := make([]Connector, len(r.Connectors))
		for j, c := range r.Connectors {
			conns[j] = Connector{ID: c.ID, Standard: c.Standard, Format: c.Format, Internal: c.Internal,
				PowerType: c.PowerType, MaxVoltage: c.MaxVoltage, MaxAmperage: c.MaxAmperage,
				MaxElectricPower: c.MaxElectricPower, TariffIDs: c.TariffIDs, LastUpdated: c.LastUpdated.UTC()}
		}
		out[i] = EVSE{
			UID: r.UID, ChargeStationID: r.ChargeStationID, SequenceNumber: r.SequenceNumber, EVSEID: r.EVSEID,
			Status: schema.Status(r.Status), OCPPStatus: r.OCPPStatus,
			Capabilities: fromStrings[schema.Capability](r.Capabilities), Connectors: conns,
			FloorLevel: r.FloorLevel, Coordinates: r.Coordinates, PhysicalReference: r.PhysicalReference,
			Directions: r.Directions, ParkingRestrictions: fromStrings[schema.ParkingRestriction](r.ParkingRestrictions),
			StatusSchedule: r.StatusSchedule, LastUpdated: r.LastUpdated.UTC(),
			ChargingState: r.ChargingState, StationOffline: r.StationOffline,
		}
	}
	return out, nil
}

// TransactionState is what a 2.0.1 TransactionEvent says of the transaction on an EVSE.
type TransactionState struct {
	Identity string
	// SequenceNumber is the event's evseId; 0 when the event leaves it out (only the first
	// event of a transaction must carry it): the EVSE is then the one running TransactionID.
	SequenceNumber int
	TransactionID  string
	ChargingState  string // "" when the event does not say: the last one stays
	Ended          bool
	At             time.Time
}

// SetTransactionState records the transaction running on an EVSE and its charging state
// (the friendly status of an Occupied EVSE depends on it); an ended transaction clears both,
// unless another one started on the EVSE meanwhile. The EVSE's last_updated moves when its
// charging state changes; nothing is written when nothing changes. Like every writer of a
// station's EVSEs it locks the station's row first.
func (s *Store) SetTransactionState(ctx context.Context, t TransactionState) error {
	const q = `
	WITH locked AS (
		SELECT id FROM charge_stations WHERE id = $1 FOR NO KEY UPDATE
	), target AS (
		SELECT e.uid,
			CASE WHEN $5 THEN NULL ELSE coalesce(NULLIF($4, ''), e.charging_state) END AS charging_state,
			CASE WHEN $5 THEN NULL ELSE $3 END AS transaction_id
		FROM evses e
		JOIN locked ON locked.id = e.charge_station_id
		WHERE (e.evse_sequence_number = $2 OR ($2 = 0 AND e.transaction_id = $3))
			AND (NOT $5 OR e.transaction_id IS NULL OR e.transaction_id = $3)
	)
	UPDATE evses e SET
		charging_state = t.charging_state, transaction_id = t.transaction_id,
		last_updated = CASE WHEN t.charging_state IS DISTINCT FROM e.charging_state
			THEN GREATEST(e.last_updated, $6) ELSE e.last_updated END
	FROM target t
	WHERE e.uid = t.uid AND (t.charging_state, t.transaction_id) IS DISTINCT FROM (e.charging_state, e.transaction_id)`
	_, err := s.q.ExecContext(ctx, q, t.Identity, t.SequenceNumber, t.TransactionID, t.ChargingState, t.Ended, database.Timestamp(t.At))
	if err != nil {
		return fmt.Errorf("set the transaction state of %s: %w", t.Identity, database.Translate(err))
	}
	return nil
}
