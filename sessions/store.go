package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps sessions, their timelines and the latest meter values in PostgreSQL. A Store
// made by NewStore runs each statement on the pool; one made by WithTx runs in the caller's
// transaction.
type Store struct{ q sqlx.ExtContext }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

// MergeMeterValues keeps the latest sample per station, EVSE, measurand and phase.
func (s *Store) MergeMeterValues(ctx context.Context, vs []MeterValue) error {
	if len(vs) == 0 {
		return nil
	}
	_, err := s.q.ExecContext(ctx, `WITH `+latestCTE(1)+` SELECT 1`, latestArgs(vs)...)
	if err != nil {
		return fmt.Errorf("merge meter values: %w", database.Translate(err))
	}
	return nil
}

// latestCTE is the statement (a CTE named latest) that merges samples into meter_values,
// with its 7 parameters from $first on: the newest sample wins, within a batch and across.
func latestCTE(first int) string {
	p := func(i int) string { return "$" + strconv.Itoa(first+i) }
	return `latest AS (
	INSERT INTO meter_values (charge_station_id, evse_sequence_number, measurand, phase, value, unit, sampled_at)
	SELECT DISTINCT ON (u.st, u.evse, u.ms, u.ph) u.st, u.evse, u.ms, u.ph, u.val, u.unit, u.at
	FROM unnest(` + p(0) + `::text[], ` + p(1) + `::int[], ` + p(2) + `::text[], ` + p(3) + `::text[], ` + p(4) + `::text[], ` + p(5) + `::text[], ` + p(6) + `::timestamptz[])
		AS u(st, evse, ms, ph, val, unit, at)
	JOIN charge_stations c ON c.id = u.st
	ORDER BY u.st, u.evse, u.ms, u.ph, u.at DESC
	ON CONFLICT (charge_station_id, evse_sequence_number, measurand, phase) DO UPDATE SET
		value = EXCLUDED.value, unit = EXCLUDED.unit, sampled_at = EXCLUDED.sampled_at
	WHERE meter_values.sampled_at <= EXCLUDED.sampled_at)`
}

func latestArgs(vs []MeterValue) []any {
	n := len(vs)
	st, ms, ph, val, unit := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	evse, at := make([]int64, n), make([]time.Time, n)
	for i, v := range vs {
		st[i], ms[i], ph[i], val[i], unit[i], evse[i], at[i] = v.StationID, v.Measurand, v.Phase, v.Value, v.Unit, int64(v.EVSESequenceNumber), v.SampledAt.UTC()
	}
	return []any{pq.Array(st), pq.Array(evse), pq.Array(ms), pq.Array(ph), pq.Array(val), pq.Array(unit), pq.Array(at)}
}

// startKey identifies a 1.6 start: a repeated StartTransaction has the same key.
type startKey struct {
	station string
	evse    int
	tag     string
	meter   float64
	at      int64 // unix microseconds: what PostgreSQL keeps of a timestamp
}

// StartTransactions records 1.6 transaction starts in one statement and returns the id of
// each (ids[i] for starts[i]): a new one, or for a repeated start the id of the first.
// A start whose station does not exist gets id 0.
func (s *Store) StartTransactions(ctx context.Context, starts []Start) ([]int, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	keyOf := func(b Start) startKey {
		return startKey{b.StationID, b.EVSESequenceNumber, b.IDTag, b.MeterStartWh, b.Timestamp.UTC().Truncate(time.Microsecond).UnixMicro()}
	}
	// Identical starts within one batch would make ON CONFLICT touch a row twice: send each once.
	seen := map[startKey]bool{}
	var st, tag []string
	var evse, conn []int64
	var meter []float64
	var at, updated []time.Time
	for _, b := range starts {
		k := keyOf(b)
		if seen[k] {
			continue
		}
		seen[k] = true
		st, tag, evse, conn = append(st, b.StationID), append(tag, b.IDTag), append(evse, int64(b.EVSESequenceNumber)), append(conn, int64(b.ConnectorID))
		meter, at, updated = append(meter, b.MeterStartWh), append(at, time.UnixMicro(k.at).UTC()), append(updated, b.At.UTC())
	}
	const q = `
	INSERT INTO transactions AS t (charge_station_id, transaction_id, network_id, location_id, evse_sequence_number,
		connector_id, id_tag, id_token_type, meter_start_wh, started_at, csms_made_id, status, updated)
	SELECT u.st, nextval('ocpp16_transaction_ids')::text, c.network_id, c.location_id, u.evse,
		NULLIF(u.conn, 0), u.tag, 'RFID', u.meter, u.at, true, 'ACTIVE', u.updated
	FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::float8[], $6::timestamptz[], $7::timestamptz[])
		AS u(st, evse, conn, tag, meter, at, updated)
	JOIN charge_stations c ON c.id = u.st
	ON CONFLICT (charge_station_id, evse_sequence_number, id_tag, meter_start_wh, started_at) WHERE csms_made_id
	DO UPDATE SET updated = t.updated
	RETURNING t.charge_station_id, t.evse_sequence_number, t.id_tag, t.meter_start_wh, t.started_at, t.transaction_id::bigint`
	rows, err := s.q.QueryxContext(ctx, q, pq.Array(st), pq.Array(evse), pq.Array(conn), pq.Array(tag), pq.Array(meter), pq.Array(at), pq.Array(updated))
	if err != nil {
		return nil, fmt.Errorf("start %d transactions: %w", len(starts), database.Translate(err))
	}
	defer rows.Close()
	got := map[startKey]int{}
	for rows.Next() {
		var k startKey
		var t time.Time
		var id int
		if err := rows.Scan(&k.station, &k.evse, &k.tag, &k.meter, &t, &id); err != nil {
			return nil, fmt.Errorf("start transactions: %w", database.Translate(err))
		}
		k.at = t.UnixMicro()
		got[k] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("start transactions: %w", database.Translate(err))
	}
	ids := make([]int, len(starts))
	for i, b := range starts {
		ids[i] = got[keyOf(b)]
	}
	return ids, nil
}

// patch is what a batch of reports says of one session, merged by the rules the statement
// applies to the stored row (see the package doc), so that each session is written once.
type patch struct {
	station, tx           string
	create, invalid       bool
	evse, conn            int
	tag, tagType, stopTag string
	startedAt, stoppedAt  *time.Time
	meterStart, meterStop *float64
	stopReason            string
	maxPower              *float64
	energy                *float64
	energyAt              time.Time
	updated               time.Time
}

func (p *patch) merge(r Report) {
	p.create = p.create || r.Create
	p.invalid = p.invalid || r.InvalidIfNew
	if r.EVSESequenceNumber > 0 {
		p.evse = r.EVSESequenceNumber
	}
	if r.ConnectorID > 0 {
		p.conn = r.ConnectorID
	}
	if r.TokenUID != "" {
		p.tag, p.tagType = r.TokenUID, r.TokenType
	} else if r.TokenType != "" && p.tagType == "" {
		p.tagType = r.TokenType
	}
	if r.StopTokenUID != "" {
		p.stopTag = r.StopTokenUID
	}
	if r.StartedAt != nil && (p.startedAt == nil || r.StartedAt.Before(*p.startedAt)) {
		p.startedAt, p.meterStart = r.StartedAt, r.MeterStartWh
	}
	if r.StoppedAt != nil && (p.stoppedAt == nil || !r.StoppedAt.Before(*p.stoppedAt)) {
		p.stoppedAt, p.meterStop, p.stopReason = r.StoppedAt, r.MeterStopWh, r.StopReason
	}
	if r.At.After(p.updated) {
		p.updated = r.At
	}
}

// point is the timeline of one session at one timestamp, merged from a batch's samples.
type point struct {
	station, tx                 string
	at                          time.Time
	energy, power, current, soc *float64
	phasePower                  *float64 // the sum of per-phase power, used when no total came
	phaseCurrent                *float64 // the largest per-phase current, used when no total came
}

func (p *point) add(s Sample) {
	v, ok := s.normalized()
	if !ok {
		return
	}
	total := s.Phase == ""
	perPhase := s.Phase == "L1" || s.Phase == "L2" || s.Phase == "L3"
	switch s.Measurand {
	case measurandEnergy:
		if total {
			p.energy = &v
		}
	case measurandPower:
		if total {
			p.power = &v
		} else if perPhase {
			sum := v
			if p.phasePower != nil {
				sum += *p.phasePower
			}
			p.phasePower = &sum
		}
	case measurandCurrent:
		if total {
			p.current = &v
		} else if perPhase && (p.phaseCurrent == nil || v > *p.phaseCurrent) {
			p.phaseCurrent = &v
		}
	case measurandSoC:
		p.soc = &v
	}
}

func (p *point) finish() bool {
	if p.power == nil {
		p.power = p.phasePower
	}
	if p.current == nil {
		p.current = p.phaseCurrent
	}
	return p.energy != nil || p.power != nil || p.current != nil || p.soc != nil
}

type sessionKey struct{ station, tx string }

type stateRow struct {
	station, tx string
	at          time.Time
	charging    bool
}

// ApplyReports writes a batch of reports in one statement: each session once (created when a
// report may create it, else only updated), its timeline and charging states, and every
// sample into the latest values per EVSE.
func (s *Store) ApplyReports(ctx context.Context, rs []Report) error {
	if len(rs) == 0 {
		return nil
	}
	patches := map[sessionKey]*patch{}
	var order []sessionKey
	points := map[sessionKey]map[int64]*point{}
	states := map[sessionKey]map[int64]stateRow{}
	var latest []MeterValue
	for _, r := range rs {
		for _, smp := range r.Samples {
			latest = append(latest, MeterValue{StationID: r.StationID, EVSESequenceNumber: r.EVSESequenceNumber,
				Measurand: smp.Measurand, Phase: smp.Phase, Value: smp.Value, Unit: smp.Unit, SampledAt: smp.Timestamp})
		}
		if r.TransactionID == "" {
			continue
		}
		k := sessionKey{r.StationID, r.TransactionID}
		p := patches[k]
		if p == nil {
			p = &patch{station: r.StationID, tx: r.TransactionID}
			patches[k], points[k], states[k] = p, map[int64]*point{}, map[int64]stateRow{}
			order = append(order, k)
		}
		p.merge(r)
		for _, smp := range r.Samples {
			at := smp.Timestamp.UTC().Truncate(time.Microsecond)
			pt := points[k][at.UnixMicro()]
			if pt == nil {
				pt = &point{station: r.StationID, tx: r.TransactionID, at: at}
				points[k][at.UnixMicro()] = pt
			}
			pt.add(smp)
		}
		if charging, known := Charging(r.ChargingState); known && r.ChargingState != "" {
			at := r.Timestamp.UTC().Truncate(time.Microsecond)
			states[k][at.UnixMicro()] = stateRow{r.StationID, r.TransactionID, at, charging}
		}
	}

	var ps pArrays
	for _, k := range order {
		p := patches[k]
		var pts []*point
		for _, pt := range points[k] {
			if pt.finish() {
				pts = append(pts, pt)
				if pt.power != nil && (p.maxPower == nil || *pt.power > *p.maxPower) {
					v := *pt.power
					p.maxPower = &v
				}
				if pt.energy != nil && !pt.at.Before(p.energyAt) {
					v := *pt.energy
					p.energy, p.energyAt = &v, pt.at
				}
			}
		}
		sort.Slice(pts, func(i, j int) bool { return pts[i].at.Before(pts[j].at) })
		ps.addPatch(p)
		for _, pt := range pts {
			ps.addPoint(pt)
		}
		for _, st := range states[k] {
			ps.addState(st)
		}
	}
	args := append(append(ps.args(), latestArgs(latest)...), pq.Array(ps.stopTag))
	q := `
	WITH u AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::bool[], $5::int[], $6::int[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[],
			$36::text[])
		AS u(st, tx, may_create, invalid, evse, conn, tag, tag_type, started_at, meter_start, stopped_at, meter_stop,
			stop_reason, max_power, energy, energy_at, updated, stop_tag)
	),
	ses AS (
		INSERT INTO transactions AS t (charge_station_id, transaction_id, network_id, location_id, evse_sequence_number,
			connector_id, id_tag, id_token_type, stop_id_tag, started_at, meter_start_wh, stopped_at, meter_stop_wh, stop_reason,
			max_power_w, last_energy_wh, last_energy_at, status, updated)
		SELECT u.st, u.tx, c.network_id, c.location_id, u.evse, NULLIF(u.conn, 0), NULLIF(u.tag, ''), NULLIF(u.tag_type, ''),
			NULLIF(u.stop_tag, ''),
			NULLIF(u.started_at, '')::timestamptz, NULLIF(u.meter_start, '')::float8,
			NULLIF(u.stopped_at, '')::timestamptz, NULLIF(u.meter_stop, '')::float8, NULLIF(u.stop_reason, ''),
			NULLIF(u.max_power, '')::float8, NULLIF(u.energy, '')::float8, NULLIF(u.energy_at, '')::timestamptz,
			CASE WHEN u.invalid THEN 'INVALID' WHEN u.stopped_at <> '' THEN 'COMPLETED' ELSE 'ACTIVE' END, u.updated
		FROM u JOIN charge_stations c ON c.id = u.st
		WHERE u.may_create OR EXISTS (SELECT 1 FROM transactions x WHERE x.charge_station_id = u.st AND x.transaction_id = u.tx)
		ON CONFLICT (charge_station_id, transaction_id) DO UPDATE SET
			evse_sequence_number = COALESCE(NULLIF(EXCLUDED.evse_sequence_number, 0), t.evse_sequence_number),
			connector_id = COALESCE(EXCLUDED.connector_id, t.connector_id),
			id_tag = COALESCE(EXCLUDED.id_tag, t.id_tag),
			id_token_type = CASE WHEN EXCLUDED.id_tag IS NOT NULL THEN EXCLUDED.id_token_type
				ELSE COALESCE(t.id_token_type, EXCLUDED.id_token_type) END,
			stop_id_tag = COALESCE(EXCLUDED.stop_id_tag, t.stop_id_tag),
			started_at = LEAST(t.started_at, EXCLUDED.started_at),
			meter_start_wh = CASE WHEN t.started_at IS NULL OR EXCLUDED.started_at < t.started_at
				THEN COALESCE(EXCLUDED.meter_start_wh, t.meter_start_wh) ELSE COALESCE(t.meter_start_wh, EXCLUDED.meter_start_wh) END,
			stopped_at = GREATEST(t.stopped_at, EXCLUDED.stopped_at),
			meter_stop_wh = CASE WHEN t.stopped_at IS NULL OR EXCLUDED.stopped_at >= t.stopped_at
				THEN COALESCE(EXCLUDED.meter_stop_wh, t.meter_stop_wh) ELSE t.meter_stop_wh END,
			stop_reason = CASE WHEN t.stopped_at IS NULL OR EXCLUDED.stopped_at >= t.stopped_at
				THEN COALESCE(EXCLUDED.stop_reason, t.stop_reason) ELSE t.stop_reason END,
			max_power_w = GREATEST(t.max_power_w, EXCLUDED.max_power_w),
			last_energy_wh = CASE WHEN t.last_energy_at IS NULL OR EXCLUDED.last_energy_at >= t.last_energy_at
				THEN COALESCE(EXCLUDED.last_energy_wh, t.last_energy_wh) ELSE t.last_energy_wh END,
			last_energy_at = GREATEST(t.last_energy_at, EXCLUDED.last_energy_at),
			status = CASE WHEN t.status = 'INVALID' THEN 'INVALID'
				WHEN COALESCE(EXCLUDED.stopped_at, t.stopped_at) IS NOT NULL THEN 'COMPLETED' ELSE 'ACTIVE' END,
			updated = GREATEST(t.updated, EXCLUDED.updated)
		RETURNING t.id, t.charge_station_id, t.transaction_id, t.status, (t.xmax = 0) AS inserted
	),
	-- An INVALID session keeps the id the station sent: move the 1.6 id sequence past it, so
	-- that the station is never handed that id for a transaction of its own. Only for ids
	-- up to a million ahead: a station sending a huge id must not push every later id
	-- towards the end of the 32-bit range stations store them in.
	bump AS (
		SELECT setval('ocpp16_transaction_ids', max(b.id))
		FROM (SELECT CASE WHEN transaction_id ~ '^[0-9]{1,12}$' THEN transaction_id::bigint END AS id FROM ses
			WHERE inserted AND status = 'INVALID') AS b,
			(SELECT last_value FROM ocpp16_transaction_ids) AS q
		WHERE b.id > q.last_value AND b.id <= q.last_value + 1000000
		HAVING count(*) > 0
	),
	timeline AS (
		INSERT INTO session_meter_values AS v (session_id, sampled_at, energy_wh, power_w, current_a, soc_percent)
		SELECT s.id, p.at, NULLIF(p.energy, '')::float8, NULLIF(p.power, '')::float8, NULLIF(p.current, '')::float8, NULLIF(p.soc, '')::float8
		FROM unnest($18::text[], $19::text[], $20::timestamptz[], $21::text[], $22::text[], $23::text[], $24::text[])
			AS p(st, tx, at, energy, power, current, soc)
		JOIN ses s ON s.charge_station_id = p.st AND s.transaction_id = p.tx
		ON CONFLICT (session_id, sampled_at) DO UPDATE SET
			energy_wh = COALESCE(EXCLUDED.energy_wh, v.energy_wh), power_w = COALESCE(EXCLUDED.power_w, v.power_w),
			current_a = COALESCE(EXCLUDED.current_a, v.current_a), soc_percent = COALESCE(EXCLUDED.soc_percent, v.soc_percent)
	),
	states AS (
		INSERT INTO session_states (session_id, at, charging)
		SELECT s.id, x.at, x.charging
		FROM unnest($25::text[], $26::text[], $27::timestamptz[], $28::bool[]) AS x(st, tx, at, charging)
		JOIN ses s ON s.charge_station_id = x.st AND s.transaction_id = x.tx
		ON CONFLICT (session_id, at) DO UPDATE SET charging = EXCLUDED.charging
	),
	` + latestCTE(29) + `
	SELECT (SELECT count(*) FROM bump)`
	if _, err := s.q.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("record %d transaction reports: %w", len(rs), database.Translate(err))
	}
	return nil
}

// pArrays are the columns of ApplyReports' statement. Nullable values travel as text, ""
// for NULL, so that one array type carries them.
type pArrays struct {
	st, tx, tag, tagType, startedAt, meterStart, stoppedAt, meterStop, stopReason, maxPower, energy, energyAt, stopTag []string
	create, invalid                                                                                                    []bool
	evse, conn                                                                                                         []int64
	updated                                                                                                            []time.Time

	pSt, pTx, pEnergy, pPower, pCurrent, pSoC []string
	pAt                                       []time.Time

	sSt, sTx []string
	sAt      []time.Time
	sOn      []bool
}

func ts(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func num(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

func (a *pArrays) addPatch(p *patch) {
	var energyAt *time.Time
	if p.energy != nil {
		energyAt = &p.energyAt
	}
	a.st, a.tx, a.create, a.invalid = append(a.st, p.station), append(a.tx, p.tx), append(a.create, p.create), append(a.invalid, p.invalid)
	a.evse, a.conn, a.tag, a.tagType = append(a.evse, int64(p.evse)), append(a.conn, int64(p.conn)), append(a.tag, p.tag), append(a.tagType, p.tagType)
	a.startedAt, a.meterStart = append(a.startedAt, ts(p.startedAt)), append(a.meterStart, num(p.meterStart))
	a.stoppedAt, a.meterStop, a.stopReason = append(a.stoppedAt, ts(p.stoppedAt)), append(a.meterStop, num(p.meterStop)), append(a.stopReason, p.stopReason)
	a.maxPower, a.energy, a.energyAt = append(a.maxPower, num(p.maxPower)), append(a.energy, num(p.energy)), append(a.energyAt, ts(energyAt))
	a.updated, a.stopTag = append(a.updated, p.updated.UTC()), append(a.stopTag, p.stopTag)
}

func (a *pArrays) addPoint(p *point) {
	a.pSt, a.pTx, a.pAt = append(a.pSt, p.station), append(a.pTx, p.tx), append(a.pAt, p.at)
	a.pEnergy, a.pPower, a.pCurrent, a.pSoC = append(a.pEnergy, num(p.energy)), append(a.pPower, num(p.power)), append(a.pCurrent, num(p.current)), append(a.pSoC, num(p.soc))
}

func (a *pArrays) addState(s stateRow) {
	a.sSt, a.sTx, a.sAt, a.sOn = append(a.sSt, s.station), append(a.sTx, s.tx), append(a.sAt, s.at), append(a.sOn, s.charging)
}

func (a *pArrays) args() []any {
	return []any{pq.Array(a.st), pq.Array(a.tx), pq.Array(a.create), pq.Array(a.invalid), pq.Array(a.evse), pq.Array(a.conn),
		pq.Array(a.tag), pq.Array(a.tagType), pq.Array(a.startedAt), pq.Array(a.meterStart), pq.Array(a.stoppedAt),
		pq.Array(a.meterStop), pq.Array(a.stopReason), pq.Array(a.maxPower), pq.Array(a.energy), pq.Array(a.energyAt),
		pq.Array(a.updated),
		pq.Array(a.pSt), pq.Array(a.pTx), pq.Array(a.pAt), pq.Array(a.pEnergy), pq.Array(a.pPower), pq.Array(a.pCurrent), pq.Array(a.pSoC),
		pq.Array(a.sSt), pq.Array(a.sTx), pq.Array(a.sAt), pq.Array(a.sOn)}
	// $29…$35: the latest values (latestCTE); $36 comes after them.
}

// RecordEVSEStates gives the session running on each EVSE (if any) the charging state its
// connector status means; statuses that say nothing of it are skipped.
func (s *Store) RecordEVSEStates(ctx context.Context, es []EVSEState) error {
	var st []string
	var evse []int64
	var at []time.Time
	var on []bool
	for _, e := range es {
		charging, known := Charging(e.Status)
		if !known || e.EVSESequenceNumber <= 0 {
			continue
		}
		st, evse, at, on = append(st, e.StationID), append(evse, int64(e.EVSESequenceNumber)), append(at, e.At.UTC().Truncate(time.Microsecond)), append(on, charging)
	}
	if len(st) == 0 {
		return nil
	}
	const q = `
	INSERT INTO session_states (session_id, at, charging)
	SELECT DISTINCT ON (t.id, x.at) t.id, x.at, x.charging
	FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bool[]) WITH ORDINALITY AS x(st, evse, at, charging, n)
	JOIN transactions t ON t.charge_station_id = x.st AND t.evse_sequence_number = x.evse AND t.status = 'ACTIVE'
	ORDER BY t.id, x.at, x.n DESC
	ON CONFLICT (session_id, at) DO UPDATE SET charging = EXCLUDED.charging`
	if _, err := s.q.ExecContext(ctx, q, pq.Array(st), pq.Array(evse), pq.Array(at), pq.Array(on)); err != nil {
		return fmt.Errorf("record charging states: %w", database.Translate(err))
	}
	return nil
}

// ---- reads

const columns = `t.id, t.charge_station_id, t.transaction_id, t.evse_sequence_number, t.connector_id, t.location_id,
	t.network_id, t.id_tag, t.id_token_type, t.stop_id_tag, t.started_at, t.stopped_at, t.meter_start_wh, t.meter_stop_wh,
	t.last_energy_wh, t.max_power_w, t.stop_reason, t.status, t.updated`

type sessionRow struct {
	ID            string          `db:"id"`
	StationID     string          `db:"charge_station_id"`
	TransactionID string          `db:"transaction_id"`
	EVSE          int             `db:"evse_sequence_number"`
	ConnectorID   sql.NullInt64   `db:"connector_id"`
	LocationID    string          `db:"location_id"`
	NetworkID     uuid.UUID       `db:"network_id"`
	IDTag         sql.NullString  `db:"id_tag"`
	TokenType     sql.NullString  `db:"id_token_type"`
	StopIDTag     sql.NullString  `db:"stop_id_tag"`
	StartedAt     sql.NullTime    `db:"started_at"`
	StoppedAt     sql.NullTime    `db:"stopped_at"`
	MeterStart    sql.NullFloat64 `db:"meter_start_wh"`
	MeterStop     sql.NullFloat64 `db:"meter_stop_wh"`
	LastEnergy    sql.NullFloat64 `db:"last_energy_wh"`
	MaxPower      sql.NullFloat64 `db:"max_power_w"`
	StopReason    sql.NullString  `db:"stop_reason"`
	Status        string          `db:"status"`
	Updated       time.Time       `db:"updated"`
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullFloat(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}

func (r sessionRow) toSession() Session {
	s := Session{ID: r.ID, StationID: r.StationID, TransactionID: r.TransactionID, EVSESequenceNumber: r.EVSE,
		LocationID: r.LocationID, TokenUID: r.IDTag.String, TokenType: r.TokenType.String,
		Start: nullTime(r.StartedAt), End: nullTime(r.StoppedAt), MeterStartWh: nullFloat(r.MeterStart),
		MeterStopWh: nullFloat(r.MeterStop), LastEnergyWh: nullFloat(r.LastEnergy), MaxPowerW: nullFloat(r.MaxPower),
		StopReason: r.StopReason.String, Status: Status(r.Status), LastUpdated: r.Updated.UTC()}
	if !r.IDTag.Valid {
		s.TokenUID = r.StopIDTag.String
	}
	if s.TokenUID == "" {
		s.TokenType = ""
	}
	if r.ConnectorID.Valid {
		c := int(r.ConnectorID.Int64)
		s.ConnectorID = &c
	}
	return s
}

// where builds the filter of a list or an export.
func where(visible []uuid.UUID, f Filter, p paging.Page) *database.Where {
	var w database.Where
	w.AddNetworks("t.network_id", visible)
	if f.StationID != nil {
		w.Add("t.charge_station_id = %s", *f.StationID)
	}
	if f.LocationID != nil {
		w.Add("t.location_id = %s", *f.LocationID)
	}
	if f.Status != nil {
		w.Add("t.status = %s", string(*f.Status))
	}
	if f.TokenUID != nil {
		w.Add("lower(t.id_tag) = lower(%s)", *f.TokenUID)
	}
	w.Window("t.started_at", f.StartedFrom, f.StartedTo)
	w.Window("t.updated", p.DateFrom, p.DateTo)
	return &w
}

var order = database.Order{Updated: "t.updated", ID: "t.id"}

// List returns a page of the sessions the networks see, in (last_updated, id) order.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]Session, paging.Meta, error) {
	w := where(visible, f, p)
	var rows []sessionRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "transactions t", w, order, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list sessions: %w", err)
	}
	out, err := s.withStates(ctx, rows)
	if err != nil {
		return nil, paging.Meta{}, err
	}
	var m paging.Meta
	if f != (Filter{}) {
		m.Total, err = database.Count(ctx, s.q, "transactions t", w)
	} else {
		// The kept count, less what lies outside a date window when that is little
		// (database.CountWindow): a back office pulling sessions from far back does not
		// count them all on every page.
		var networks database.Where
		networks.AddNetworks("t.network_id", visible)
		m.Total, err = database.CountWindow(ctx, s.q, "transactions t", &networks, "t.updated", p.DateFrom, p.DateTo,
			func() (int, error) { return database.CountOf(ctx, s.q, "sessions", visible) })
	}
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count sessions: %w", err)
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID}
	}
	return out, m, nil
}

// withStates converts rows and reads their charging states in one query.
func (s *Store) withStates(ctx context.Context, rows []sessionRow) ([]Session, error) {
	out := make([]Session, len(rows))
	ids := make([]string, len(rows))
	at := make(map[string]int, len(rows))
	for i, r := range rows {
		out[i] = r.toSession()
		ids[i] = r.ID
		at[r.ID] = i
	}
	if len(rows) == 0 {
		return out, nil
	}
	var states []struct {
		SessionID string    `db:"session_id"`
		At        time.Time `db:"at"`
		Charging  bool      `db:"charging"`
	}
	err := sqlx.SelectContext(ctx, s.q, &states, `SELECT session_id, at, charging FROM session_states
		WHERE session_id = ANY($1::uuid[]) ORDER BY session_id, at`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read charging states: %w", database.Translate(err))
	}
	for _, st := range states {
		i := at[st.SessionID]
		out[i].States = append(out[i].States, State{At: st.At.UTC(), Charging: st.Charging})
	}
	return out, nil
}

// Get returns session id with its meter-value timeline, if the networks see it.
// Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id string) (Session, []MeterPoint, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Session{}, nil, ErrNotFound
	}
	var row sessionRow
	err := sqlx.GetContext(ctx, s.q, &row, `SELECT `+columns+` FROM transactions t WHERE t.id = $1 AND t.network_id = ANY($2)`,
		id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, nil, ErrNotFound
	}
	if err != nil {
		return Session{}, nil, fmt.Errorf("get session %s: %w", id, database.Translate(err))
	}
	out, err := s.withStates(ctx, []sessionRow{row})
	if err != nil {
		return Session{}, nil, err
	}
	var pts []struct {
		At      time.Time       `db:"sampled_at"`
		Energy  sql.NullFloat64 `db:"energy_wh"`
		Power   sql.NullFloat64 `db:"power_w"`
		Current sql.NullFloat64 `db:"current_a"`
		SoC     sql.NullFloat64 `db:"soc_percent"`
	}
	err = sqlx.SelectContext(ctx, s.q, &pts, `SELECT sampled_at, energy_wh, power_w, current_a, soc_percent
		FROM session_meter_values WHERE session_id = $1 ORDER BY sampled_at`, id)
	if err != nil {
		return Session{}, nil, fmt.Errorf("meter values of session %s: %w", id, database.Translate(err))
	}
	timeline := make([]MeterPoint, len(pts))
	for i, p := range pts {
		timeline[i] = MeterPoint{SampledAt: p.At.UTC(), EnergyWh: nullFloat(p.Energy), PowerW: nullFloat(p.Power),
			CurrentA: nullFloat(p.Current), SoCPercent: nullFloat(p.SoC)}
	}
	return out[0], timeline, nil
}

// StationVisible reports whether station id exists in the networks. Errors: ErrStationNotFound.
func (s *Store) StationVisible(ctx context.Context, visible []uuid.UUID, id string) error {
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

// ExportBatch is how many sessions Export fetches at a time.
const ExportBatch = 1000

// Export calls fn with every session matching the filter, in (last_updated, id) order, a
// batch of at most ExportBatch at a time. It reads through a server-side cursor: one query,
// planned once and walked along the sync index, whose rows PostgreSQL hands over a batch per
// FETCH, so that memory stays the same whatever the number of sessions; the charging states
// of a batch come with one more query (a join per row would cost more than the rows
// themselves). It must run in a transaction (WithTx; REPEATABLE READ gives the export one
// snapshot).
func (s *Store) Export(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page, fn func([]Session) error) error {
	w := where(visible, f, p)
	// JIT would spend a third of a second compiling a plan whose rows cost microseconds.
	if _, err := s.q.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("export sessions: %w", database.Translate(err))
	}
	declare := `DECLARE sessions_export NO SCROLL CURSOR FOR SELECT ` + columns + `
	FROM transactions t
	WHERE ` + w.SQL() + `
	ORDER BY t.updated, t.id`
	if _, err := s.q.ExecContext(ctx, declare, w.Args()...); err != nil {
		return fmt.Errorf("export sessions: %w", database.Translate(err))
	}
	fetch := `FETCH FORWARD ` + strconv.Itoa(ExportBatch) + ` FROM sessions_export`
	rows := make([]sessionRow, 0, ExportBatch)
	for {
		rows = rows[:0]
		if err := sqlx.SelectContext(ctx, s.q, &rows, fetch); err != nil {
			return fmt.Errorf("export sessions: %w", database.Translate(err))
		}
		if len(rows) == 0 {
			return nil
		}
		batch, err := s.withStates(ctx, rows)
		if err != nil {
			return err
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(rows) < ExportBatch {
			return nil
		}
	}
}
