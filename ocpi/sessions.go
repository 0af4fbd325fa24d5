package ocpi

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Session is the OCPI 2.2.1 Session object: a charging session started with a roaming
// partner's token, under the party of the CPO network whose station it ran at.
type Session struct {
	CountryCode            string           `json:"country_code"`
	PartyID                string           `json:"party_id"`
	ID                     string           `json:"id"`
	StartDateTime          string           `json:"start_date_time"`
	EndDateTime            *string          `json:"end_date_time,omitempty"`
	KWh                    float64          `json:"kwh"`
	CDRToken               CDRToken         `json:"cdr_token"`
	AuthMethod             string           `json:"auth_method"`
	AuthorizationReference *string          `json:"authorization_reference,omitempty"`
	LocationID             string           `json:"location_id"`
	EVSEUID                string           `json:"evse_uid"`
	ConnectorID            string           `json:"connector_id"`
	Currency               string           `json:"currency"`
	ChargingPeriods        []ChargingPeriod `json:"charging_periods,omitempty"`
	Status                 string           `json:"status"`
	LastUpdated            string           `json:"last_updated"`
}

// sessionPatch is the PATCH sent while a session charges: what changes as it runs.
type sessionPatch struct {
	KWh             float64          `json:"kwh"`
	ChargingPeriods []ChargingPeriod `json:"charging_periods,omitempty"`
	LastUpdated     string           `json:"last_updated"`
}

// CDRToken is the token a session or CDR was charged with.
type CDRToken struct {
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	UID         string `json:"uid"`
	Type        string `json:"type"`
	ContractID  string `json:"contract_id"`
}

// ChargingPeriod is a stretch of a session with one charging state (and one tariff).
type ChargingPeriod struct {
	StartDateTime string         `json:"start_date_time"`
	Dimensions    []CDRDimension `json:"dimensions"`
	TariffID      *string        `json:"tariff_id,omitempty"`
}

// CDRDimension is one measured volume of a charging period.
type CDRDimension struct {
	Type   string  `json:"type"`
	Volume float64 `json:"volume"`
}

// roamingSession is a roaming session with everything its Session and its CDR are made of.
type roamingSession struct {
	Seq           int64                             `db:"seq"`
	ID            string                            `db:"id"`
	PartnerID     uuid.UUID                         `db:"partner_id"`
	CountryCode   string                            `db:"cpo_country_code"`
	PartyID       string                            `db:"cpo_party_id"`
	StationID     string                            `db:"charge_station_id"`
	EVSESeq       int                               `db:"evse_sequence_number"`
	ConnectorID   sql.NullInt64                     `db:"connector_id"`
	LocationID    string                            `db:"location_id"`
	StartedAt     sql.NullTime                      `db:"started_at"`
	StoppedAt     sql.NullTime                      `db:"stopped_at"`
	MeterStart    sql.NullFloat64                   `db:"meter_start_wh"`
	MeterStop     sql.NullFloat64                   `db:"meter_stop_wh"`
	LastEnergy    sql.NullFloat64                   `db:"last_energy_wh"`
	Status        string                            `db:"status"`
	Updated       time.Time                         `db:"updated"`
	Created       time.Time                         `db:"created"`
	AuthMethod    string                            `db:"auth_method"`
	AuthRef       sql.NullString                    `db:"authorization_reference"`
	PutSent       bool                              `db:"put_sent"`
	TokCC         string                            `db:"tok_country_code"`
	TokParty      string                            `db:"tok_party_id"`
	TokUID        string                            `db:"tok_uid"`
	TokType       string                            `db:"tok_type"`
	TokContract   string                            `db:"tok_contract_id"`
	EVSEUID       sql.NullString                    `db:"evse_uid"`
	EVSEID        sql.NullString                    `db:"evse_id"`
	Connectors    database.JSON[[]sessionConnector] `db:"connectors"`
	StationTariff string                            `db:"station_tariff_id"`
	TimeZone      string                            `db:"time_zone"`
	LocName       string                            `db:"loc_name"`
	LocAddress    string                            `db:"loc_address"`
	LocCity       string                            `db:"loc_city"`
	LocPostal     sql.NullString                    `db:"loc_postal_code"`
	LocState      sql.NullString                    `db:"loc_state"`
	LocCountry    string                            `db:"loc_country"`
	LocLatitude   string                            `db:"loc_latitude"`
	LocLongitude  string                            `db:"loc_longitude"`

	points []energyPoint // the energy register timeline
	states []chargingState
}

// sessionConnector is what a session needs of its EVSE's connectors.
type sessionConnector struct {
	ID        string   `json:"id"`
	Standard  string   `json:"standard"`
	Format    string   `json:"format"`
	PowerType string   `json:"power_type"`
	TariffIDs []string `json:"tariff_ids"`
}

type energyPoint struct {
	At time.Time       `db:"sampled_at"`
	Wh sql.NullFloat64 `db:"energy_wh"`
}

type chargingState struct {
	SessionID string    `db:"session_id"`
	At        time.Time `db:"at"`
	Charging  bool      `db:"charging"`
}

const sessionSelect = `
	SELECT os.seq, t.id::text AS id, os.partner_id, n.country_code AS cpo_country_code, n.party_id AS cpo_party_id,
		t.charge_station_id, t.evse_sequence_number, t.connector_id, t.location_id, t.started_at, t.stopped_at,
		t.meter_start_wh, t.meter_stop_wh, t.last_energy_wh, t.status, t.updated, os.created,
		os.auth_method, os.authorization_reference, os.put_sent,
		os.token_country_code AS tok_country_code, os.token_party_id AS tok_party_id, os.token_uid AS tok_uid,
		os.token_type AS tok_type, os.token_contract_id AS tok_contract_id,
		e.uid AS evse_uid, e.evse_id, coalesce(e.connectors, '[]') AS connectors,
		cs.default_charge_station_tariff_id AS station_tariff_id,
		l.time_zone, l.name AS loc_name, l.address AS loc_address, l.city AS loc_city, l.postal_code AS loc_postal_code,
		l.state AS loc_state, l.country AS loc_country, l.latitude AS loc_latitude, l.longitude AS loc_longitude
	FROM ocpi_sessions os
	JOIN transactions t ON t.id = os.session_id
	JOIN networks n ON n.id = t.network_id
	JOIN charge_stations cs ON cs.id = t.charge_station_id
	JOIN locations l ON l.id = t.location_id
	LEFT JOIN evses e ON e.charge_station_id = t.charge_station_id AND e.evse_sequence_number = t.evse_sequence_number`

// loadSessions reads the roaming sessions the condition selects (args $1…), with their
// timelines.
func (v *View) loadSessions(ctx context.Context, cond string, args ...any) ([]roamingSession, error) {
	var rows []roamingSession
	if err := v.db.SelectContext(ctx, &rows, sessionSelect+` WHERE `+cond, args...); err != nil {
		return nil, fmt.Errorf("read roaming sessions: %w", database.Translate(err))
	}
	if len(rows) == 0 {
		return rows, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var pts []struct {
		SessionID string `db:"session_id"`
		energyPoint
	}
	if err := v.db.SelectContext(ctx, &pts, `
		SELECT session_id::text, sampled_at, energy_wh FROM session_meter_values
		WHERE session_id = ANY($1::uuid[]) AND energy_wh IS NOT NULL ORDER BY session_id, sampled_at`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("read session meter values: %w", database.Translate(err))
	}
	var sts []chargingState
	if err := v.db.SelectContext(ctx, &sts, `
		SELECT session_id::text, at, charging FROM session_states
		WHERE session_id = ANY($1::uuid[]) ORDER BY session_id, at`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("read session states: %w", database.Translate(err))
	}
	byID := map[string]*roamingSession{}
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	for _, p := range pts {
		if r := byID[p.SessionID]; r != nil {
			r.points = append(r.points, p.energyPoint)
		}
	}
	for _, s := range sts {
		if r := byID[s.SessionID]; r != nil {
			r.states = append(r.states, s)
		}
	}
	return rows, nil
}

// start is when the session started (the station's time), else when evroam learnt of it.
func (r *roamingSession) start() time.Time {
	if r.StartedAt.Valid {
		return r.StartedAt.Time.UTC()
	}
	return r.Created.UTC()
}

// end is when the session ended, or now while it runs.
func (r *roamingSession) end(now time.Time) time.Time {
	if r.StoppedAt.Valid {
		return r.StoppedAt.Time.UTC()
	}
	return now.UTC()
}

// energyAt is the energy register at t: the newest sample at or before it, the meter start
// before the first sample, and the meter stop at (or after) the end.
func (r *roamingSession) energyAt(t time.Time, final bool) (float64, bool) {
	if final && r.MeterStop.Valid && r.StoppedAt.Valid && !t.Before(r.StoppedAt.Time) {
		return r.MeterStop.Float64, true
	}
	v, ok := r.MeterStart.Float64, r.MeterStart.Valid
	for _, p := range r.points {
		if p.At.After(t) {
			break
		}
		v, ok = p.Wh.Float64, true
	}
	return v, ok
}

// kwh is the energy charged so far.
func (r *roamingSession) kwh() float64 {
	end := r.MeterStop
	if !end.Valid {
		end = r.LastEnergy
	}
	if !r.MeterStart.Valid || !end.Valid {
		return 0
	}
	return round(math.Max(0, end.Float64-r.MeterStart.Float64)/1000, 3)
}

// connector is the connector the session used: the one the station named, else the EVSE's
// first.
func (r *roamingSession) connector() sessionConnector {
	cs := r.Connectors.V
	if r.ConnectorID.Valid {
		want := strconv.FormatInt(r.ConnectorID.Int64, 10)
		for _, c := range cs {
			if c.ID == want {
				return c
			}
		}
	}
	if len(cs) > 0 {
		return cs[0]
	}
	return sessionConnector{ID: "1"}
}

// tariffID is the tariff of the session's connector: its first tariff_id, else the station's
// default tariff.
func (r *roamingSession) tariffID() string {
	if c := r.connector(); len(c.TariffIDs) > 0 {
		return c.TariffIDs[0]
	}
	return r.StationTariff
}

// period is one stretch of one charging state.
type period struct {
	from, to time.Time
	charging bool
	wh       float64
}

// periods splits the session at its charging-state changes (before the first known state a
// session counts as charging, as package sessions does).
func (r *roamingSession) periods(now time.Time) []period {
	start, end := r.start(), r.end(now)
	if end.Before(start) {
		end = start
	}
	flowing := true
	var cuts []period
	cur := start
	for _, st := range r.states {
		at := st.At.UTC()
		if !at.After(cur) {
			flowing = st.Charging
			continue
		}
		if !at.Before(end) {
			break
		}
		cuts = append(cuts, period{from: cur, to: at, charging: flowing})
		cur, flowing = at, st.Charging
	}
	cuts = append(cuts, period{from: cur, to: end, charging: flowing})
	final := r.StoppedAt.Valid
	for i := range cuts {
		a, okA := r.energyAt(cuts[i].from, false)
		b, okB := r.energyAt(cuts[i].to, final && i == len(cuts)-1)
		if okA && okB && b > a {
			cuts[i].wh = b - a
		}
	}
	return cuts
}

// chargingPeriods renders periods with their dimensions: ENERGY (kWh) and TIME (hours
// charging) or PARKING_TIME (hours idle).
func chargingPeriods(ps []period, tariffID string) []ChargingPeriod {
	out := make([]ChargingPeriod, 0, len(ps))
	for _, p := range ps {
		hours := round(p.to.Sub(p.from).Hours(), 6)
		dims := []CDRDimension{{Type: "ENERGY", Volume: round(p.wh/1000, 3)}}
		if p.charging {
			dims = append(dims, CDRDimension{Type: "TIME", Volume: hours})
		} else {
			dims = append(dims, CDRDimension{Type: "PARKING_TIME", Volume: hours})
		}
		cp := ChargingPeriod{StartDateTime: formatDateTime(p.from), Dimensions: dims}
		if tariffID != "" {
			id := tariffID
			cp.TariffID = &id
		}
		out = append(out, cp)
	}
	return out
}

// sessionStatus maps a session's status onto OCPI's SessionStatus.
func sessionStatus(s string) string {
	switch s {
	case "COMPLETED", "INVALID":
		return s
	}
	return "ACTIVE"
}

// toSession renders r; currency is its tariff's.
func (r *roamingSession) toSession(now time.Time, currency string) Session {
	s := Session{
		CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.ID, StartDateTime: formatDateTime(r.start()),
		KWh: r.kwh(), CDRToken: r.cdrToken(), AuthMethod: r.AuthMethod, LocationID: r.LocationID,
		EVSEUID: r.EVSEUID.String, ConnectorID: r.connector().ID, Currency: currency,
		ChargingPeriods: chargingPeriods(r.periods(now), r.tariffID()),
		Status:          sessionStatus(r.Status), LastUpdated: formatDateTime(r.Updated),
	}
	if r.StoppedAt.Valid {
		e := formatDateTime(r.StoppedAt.Time)
		s.EndDateTime = &e
	}
	if r.AuthRef.Valid {
		ref := r.AuthRef.String
		s.AuthorizationReference = &ref
	}
	if s.EVSEUID == "" {
		s.EVSEUID = fmt.Sprintf("%s-%d", r.StationID, r.EVSESeq)
	}
	return s
}

func (r *roamingSession) cdrToken() CDRToken {
	return CDRToken{CountryCode: r.TokCC, PartyID: r.TokParty, UID: r.TokUID, Type: r.TokType, ContractID: r.TokContract}
}

// currencies remembers the currency of each tariff for one page of sessions.
type currencies struct {
	v    *View
	seen map[string]string
}

func (c *currencies) of(ctx context.Context, id string) string {
	if cur, ok := c.seen[id]; ok {
		return cur
	}
	if c.seen == nil {
		c.seen = map[string]string{}
	}
	c.seen[id] = c.v.currencyOf(ctx, id)
	return c.seen[id]
}

// currencyOf returns the currency of tariff id ("EUR" when it cannot be read).
func (v *View) currencyOf(ctx context.Context, id string) string {
	if id == "" {
		return "EUR"
	}
	var cur string
	if err := v.db.GetContext(ctx, &cur, `SELECT currency FROM tariffs WHERE id = $1`, id); err != nil {
		return "EUR"
	}
	return cur
}

// session returns roaming session id as OCPI shows it now; found is false when it is not one.
func (v *View) session(ctx context.Context, id string) (roamingSession, Session, bool, error) {
	rs, err := v.loadSessions(ctx, `os.session_id = $1::uuid`, id)
	if err != nil || len(rs) == 0 {
		return roamingSession{}, Session{}, false, err
	}
	r := rs[0]
	return r, r.toSession(time.Now(), v.currencyOf(ctx, r.tariffID())), true, nil
}

// Sessions returns a page of partner's roaming sessions in pull order (the order they became
// roaming sessions), filtered on last_updated, and the total.
func (v *View) Sessions(ctx context.Context, partner uuid.UUID, p paging.Page, after int64) ([]Session, int, int64, bool, error) {
	var w database.Where
	w.Add("os.partner_id = %s", partner)
	w.Window("t.updated", p.DateFrom, p.DateTo)
	total, err := database.Count(ctx, v.db, "ocpi_sessions os JOIN transactions t ON t.id = os.session_id", &w)
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("count roaming sessions: %w", err)
	}
	if after > 0 {
		w.Add("os.seq > %s", after)
	}
	args := append(w.Args(), p.Limit+1)
	cond := w.SQL() + fmt.Sprintf(" ORDER BY os.seq LIMIT $%d", len(args))
	if after == 0 && p.Offset > 0 {
		args = append(args, p.Offset)
		cond += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	rows, err := v.loadSessions(ctx, cond, args...)
	if err != nil {
		return nil, 0, 0, false, err
	}
	more := len(rows) > p.Limit
	if more {
		rows = rows[:p.Limit]
	}
	out := make([]Session, len(rows))
	now := time.Now()
	var last int64
	cur := currencies{v: v}
	for i := range rows {
		out[i] = rows[i].toSession(now, cur.of(ctx, rows[i].tariffID()))
		last = rows[i].Seq
	}
	return out, total, last, more, nil
}

// listSessions is the Sessions pull: the caller's roaming sessions only, paged and filtered
// as the Locations pull.
func (h *Handler) listSessions(c *gin.Context) error {
	p, err := h.parsePage(c)
	if err != nil {
		return err
	}
	ss, total, last, more, err := h.view.Sessions(c.Request.Context(), currentCaller(c).Partner.ID, p.Page, p.After)
	if err != nil {
		return err
	}
	c.Header("X-Total-Count", strconv.Itoa(total))
	c.Header("X-Limit", strconv.Itoa(h.maxLimit))
	if more {
		next := p.Offset + len(ss)
		web.SetNextLink(c, h.baseURL(c.Request), map[string]string{
			"offset": strconv.Itoa(next), "limit": strconv.Itoa(p.Limit), "after": cursor(next, last)})
	}
	respond(c, http.StatusOK, ss)
	return nil
}

// round rounds x to n decimals.
func round(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}
