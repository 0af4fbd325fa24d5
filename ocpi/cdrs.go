package ocpi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// CDR is the OCPI 2.2.1 CDR object: the bill of a completed roaming session.
type CDR struct {
	CountryCode            string           `json:"country_code"`
	PartyID                string           `json:"party_id"`
	ID                     string           `json:"id"`
	StartDateTime          string           `json:"start_date_time"`
	EndDateTime            string           `json:"end_date_time"`
	SessionID              string           `json:"session_id,omitempty"`
	CDRToken               CDRToken         `json:"cdr_token"`
	AuthMethod             string           `json:"auth_method"`
	AuthorizationReference *string          `json:"authorization_reference,omitempty"`
	CDRLocation            CDRLocation      `json:"cdr_location"`
	Currency               string           `json:"currency"`
	Tariffs                []Tariff         `json:"tariffs,omitempty"`
	ChargingPeriods        []ChargingPeriod `json:"charging_periods"`
	TotalCost              schema.Price     `json:"total_cost"`
	TotalFixedCost         *schema.Price    `json:"total_fixed_cost,omitempty"`
	TotalEnergy            float64          `json:"total_energy"`
	TotalEnergyCost        *schema.Price    `json:"total_energy_cost,omitempty"`
	TotalTime              float64          `json:"total_time"`
	TotalTimeCost          *schema.Price    `json:"total_time_cost,omitempty"`
	TotalParkingTime       *float64         `json:"total_parking_time,omitempty"`
	TotalParkingCost       *schema.Price    `json:"total_parking_cost,omitempty"`
	Credit                 *bool            `json:"credit,omitempty"`
	CreditReferenceID      *string          `json:"credit_reference_id,omitempty"`
	LastUpdated            string           `json:"last_updated"`
}

// CDRLocation is where a CDR's session took place.
type CDRLocation struct {
	ID                 string             `json:"id"`
	Name               string             `json:"name,omitempty"`
	Address            string             `json:"address"`
	City               string             `json:"city"`
	PostalCode         *string            `json:"postal_code,omitempty"`
	State              *string            `json:"state,omitempty"`
	Country            string             `json:"country"`
	Coordinates        schema.GeoLocation `json:"coordinates"`
	EVSEUID            string             `json:"evse_uid"`
	EVSEID             string             `json:"evse_id"`
	ConnectorID        string             `json:"connector_id"`
	ConnectorStandard  string             `json:"connector_standard"`
	ConnectorFormat    string             `json:"connector_format"`
	ConnectorPowerType string             `json:"connector_power_type"`
}

// bill is what a tariff makes of a session's volumes.
type bill struct {
	energy, time, parking, fixed *schema.Price
	total                        schema.Price
}

// price prices a completed session with tariff t (see docs/roaming.md, pricing rules): for
// each dimension, the first element with a component of that dimension whose restrictions
// hold; volumes billed in whole steps (step_size: Wh for ENERGY, seconds for TIME and
// PARKING_TIME), rounded up; each cost rounded to the cent, excluding VAT and including its
// component's VAT; the totals are the sums of the rounded costs.
func price(t Tariff, start time.Time, tz string, energyWh, chargingS, idleS float64) bill {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	local := start.In(loc)
	kwh := energyWh / 1000
	durationS := chargingS + idleS
	component := func(dim string) (schema.PriceComponent, bool) {
		for _, e := range t.Elements {
			if !restrictionsHold(e.Restrictions, local, kwh, durationS) {
				continue
			}
			for _, c := range e.PriceComponents {
				if string(c.Type) == dim && c.Price != nil {
					return c, true
				}
			}
		}
		return schema.PriceComponent{}, false
	}
	cost := func(dim string, volume, unit float64) *schema.Price {
		c, ok := component(dim)
		if !ok {
			return nil
		}
		billed := volume
		if c.StepSize != nil && *c.StepSize > 0 && dim != "FLAT" {
			step := float64(*c.StepSize)
			billed = math.Ceil(volume/step-1e-9) * step
		}
		excl := cents(billed / unit * *c.Price)
		vat := 0.0
		if c.VAT != nil {
			vat = *c.VAT
		}
		incl := cents(excl * (1 + vat/100))
		return &schema.Price{ExclVAT: &excl, InclVAT: &incl}
	}
	var b bill
	b.energy = cost("ENERGY", energyWh, 1000)
	b.time = cost("TIME", chargingS, 3600)
	b.parking = cost("PARKING_TIME", idleS, 3600)
	b.fixed = cost("FLAT", 1, 1)
	excl, incl := 0.0, 0.0
	for _, p := range []*schema.Price{b.energy, b.time, b.parking, b.fixed} {
		if p != nil {
			excl += *p.ExclVAT
			incl += *p.InclVAT
		}
	}
	excl, incl = cents(excl), cents(incl)
	b.total = schema.Price{ExclVAT: &excl, InclVAT: &incl}
	return b
}

// cents rounds an amount to the cent, half away from zero. It rounds to millionths first, so
// that binary noise (1.5 × 1.21 = 1.8149999…) does not turn a half cent down.
func cents(x float64) float64 {
	return math.Round(math.Round(x*1e6)/1e4) / 100
}

// restrictionsHold checks an element's restrictions against the session: times of day, dates
// and days of the week at its local start, kWh and duration on its totals. Current, power and
// reservation restrictions are not evaluated (they hold).
func restrictionsHold(r *schema.TariffRestrictions, local time.Time, kwh, durationS float64) bool {
	if r == nil {
		return true
	}
	hm := local.Format("15:04")
	if r.StartTime != nil && r.EndTime != nil && *r.StartTime > *r.EndTime {
		if hm < *r.StartTime && hm >= *r.EndTime { // the window passes midnight
			return false
		}
	} else {
		if r.StartTime != nil && hm < *r.StartTime {
			return false
		}
		if r.EndTime != nil && hm >= *r.EndTime {
			return false
		}
	}
	day := local.Format("2006-01-02")
	if r.StartDate != nil && day < *r.StartDate {
		return false
	}
	if r.EndDate != nil && day >= *r.EndDate {
		return false
	}
	if len(r.DayOfWeek) > 0 && !slices.Contains(r.DayOfWeek, schema.DayOfWeek(strings.ToUpper(local.Weekday().String()))) {
		return false
	}
	if r.MinKWh != nil && kwh < *r.MinKWh || r.MaxKWh != nil && kwh >= *r.MaxKWh {
		return false
	}
	if r.MinDuration != nil && durationS < float64(*r.MinDuration) || r.MaxDuration != nil && durationS >= float64(*r.MaxDuration) {
		return false
	}
	return true
}

// buildCDR makes the CDR of completed session r, priced with its tariff as it is now (nil when
// it no longer exists: then the CDR carries volumes and a zero cost).
func buildCDR(r *roamingSession, t *Tariff, id string, now time.Time) CDR {
	ps := r.periods(now)
	var chargingS, idleS, wh float64
	for _, p := range ps {
		if p.charging {
			chargingS += p.to.Sub(p.from).Seconds()
		} else {
			idleS += p.to.Sub(p.from).Seconds()
		}
	}
	wh = r.kwh() * 1000
	conn := r.connector()
	c := CDR{
		CountryCode: r.CountryCode, PartyID: r.PartyID, ID: id,
		StartDateTime: formatDateTime(r.start()), EndDateTime: formatDateTime(r.end(now)), SessionID: r.ID,
		CDRToken: r.cdrToken(), AuthMethod: r.AuthMethod,
		CDRLocation: CDRLocation{ID: r.LocationID, Name: r.LocName, Address: r.LocAddress, City: r.LocCity,
			Country: r.LocCountry, Coordinates: schema.GeoLocation{Latitude: r.LocLatitude, Longitude: r.LocLongitude},
			EVSEUID: r.EVSEUID.String, EVSEID: r.EVSEID.String, ConnectorID: conn.ID, ConnectorStandard: conn.Standard,
			ConnectorFormat: conn.Format, ConnectorPowerType: conn.PowerType},
		Currency: "EUR", TotalEnergy: round(wh/1000, 3), TotalTime: round((chargingS+idleS)/3600, 6),
		LastUpdated: formatDateTime(now),
	}
	if r.AuthRef.Valid {
		ref := r.AuthRef.String
		c.AuthorizationReference = &ref
	}
	if r.LocPostal.Valid {
		c.CDRLocation.PostalCode = &r.LocPostal.String
	}
	if r.LocState.Valid {
		c.CDRLocation.State = &r.LocState.String
	}
	if c.CDRLocation.EVSEID == "" {
		c.CDRLocation.EVSEID = c.CDRLocation.EVSEUID
	}
	if idleS > 0 {
		h := round(idleS/3600, 6)
		c.TotalParkingTime = &h
	}
	tariffID := ""
	zero := 0.0
	c.TotalCost = schema.Price{ExclVAT: &zero, InclVAT: &zero}
	if t != nil {
		tariffID = t.ID
		c.Currency = t.Currency
		c.Tariffs = []Tariff{*t}
		b := price(*t, r.start(), r.TimeZone, wh, chargingS, idleS)
		c.TotalCost, c.TotalEnergyCost, c.TotalTimeCost, c.TotalParkingCost, c.TotalFixedCost = b.total, b.energy, b.time, b.parking, b.fixed
	}
	c.ChargingPeriods = chargingPeriods(ps, tariffID)
	return c
}

// makeCDRs makes the CDR of every completed roaming session that has none yet, each in one
// transaction with its push (to a partner with a CDRs receiver). It returns how many it made.
func (p *Pusher) makeCDRs(ctx context.Context) (int, error) {
	var ids []string
	const q = `
	SELECT os.session_id::text FROM ocpi_sessions os JOIN transactions t ON t.id = os.session_id
	WHERE NOT os.cdr_made AND t.status = 'COMPLETED' ORDER BY os.seq LIMIT 100`
	if err := p.db.SelectContext(ctx, &ids, q); err != nil {
		return 0, fmt.Errorf("find sessions without CDR: %w", database.Translate(err))
	}
	made := 0
	for _, id := range ids {
		rs, err := p.view.loadSessions(ctx, `os.session_id = $1::uuid`, id)
		if err != nil {
			return made, err
		}
		if len(rs) == 0 { // gone meanwhile: nothing to bill
			if _, err := p.db.ExecContext(ctx, `UPDATE ocpi_sessions SET cdr_made = true WHERE session_id = $1::uuid`, id); err != nil {
				return made, fmt.Errorf("mark CDR made: %w", database.Translate(err))
			}
			continue
		}
		r := rs[0]
		var tp *Tariff
		if t, found, err := p.view.tariff(ctx, r.tariffID()); err != nil {
			return made, err
		} else if found {
			tp = &t
		}
		now := p.now()
		cdr := buildCDR(&r, tp, uuid.NewString(), now)
		if err := p.storeCDR(ctx, r.PartnerID, &r.ID, cdr); err != nil {
			return made, err
		}
		made++
	}
	return made, nil
}

// storeCDR records cdr for partner (and marks its session's CDR made) and queues its POST.
func (p *Pusher) storeCDR(ctx context.Context, partner uuid.UUID, session *string, cdr CDR) error {
	return database.InTx(ctx, p.db, func(tx *sqlx.Tx) error {
		return storeCDR(ctx, tx, partner, session, cdr)
	})
}

// storeCDR records cdr in tx for partner, marks its session's CDR made (session nil: a credit
// CDR) and queues its POST to a partner with a CDRs receiver.
func storeCDR(ctx context.Context, tx *sqlx.Tx, partner uuid.UUID, session *string, cdr CDR) error {
	doc, err := json.Marshal(cdr)
	if err != nil {
		return err
	}
	at, _ := web.ParseTime(cdr.LastUpdated)
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO ocpi_cdrs (id, partner_id, session_id, credit, credit_reference_id, doc, last_updated)
		VALUES ($1, $2, $3::uuid, $4, $5, $6, $7)`,
		cdr.ID, partner, session, cdr.Credit != nil && *cdr.Credit, cdr.CreditReferenceID, doc, at); err != nil {
		if database.IsUniqueViolation(err, "ocpi_cdrs_id_key") {
			return fmt.Errorf("CDR %s exists already: %w", cdr.ID, apperr.Conflict)
		}
		return fmt.Errorf("store CDR: %w", database.Translate(err))
	}
	if session != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE ocpi_sessions SET cdr_made = true WHERE session_id = $1::uuid`, *session); err != nil {
			return fmt.Errorf("mark CDR made: %w", database.Translate(err))
		}
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO ocpi_deliveries (partner_id, kind, cdr_id, country_code, party_id)
		SELECT id, 'cdr', $2, $3, $4 FROM ocpi_partners WHERE id = $1 AND state = 'REGISTERED' AND cdrs_url IS NOT NULL`,
		partner, cdr.ID, cdr.CountryCode, cdr.PartyID)
	if err != nil {
		return fmt.Errorf("queue CDR push: %w", database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n > 0 {
		_, err = tx.ExecContext(ctx, `SELECT pg_notify('ocpi_deliveries', '')`)
	}
	return err
}

// creditOf is the Credit CDR of original: the same CDR under the id original.id + "-C",
// credit true, credit_reference_id the original's id, every cost negated.
func creditOf(original CDR, now time.Time) CDR {
	c := original
	c.ID = original.ID + "-C"
	yes, ref := true, original.ID
	c.Credit, c.CreditReferenceID = &yes, &ref
	neg := func(p *schema.Price) *schema.Price {
		if p == nil {
			return nil
		}
		out := schema.Price{}
		if p.ExclVAT != nil {
			v := -*p.ExclVAT
			out.ExclVAT = &v
		}
		if p.InclVAT != nil {
			v := -*p.InclVAT
			out.InclVAT = &v
		}
		return &out
	}
	c.TotalCost = *neg(&original.TotalCost)
	c.TotalFixedCost, c.TotalEnergyCost = neg(original.TotalFixedCost), neg(original.TotalEnergyCost)
	c.TotalTimeCost, c.TotalParkingCost = neg(original.TotalTimeCost), neg(original.TotalParkingCost)
	c.LastUpdated = formatDateTime(now)
	return c
}

// correctionResponse is the answer of a CDR correction.
type correctionResponse struct {
	CreditCDRID string `json:"credit_cdr_id"`
	NewCDRID    string `json:"new_cdr_id"`
}

// correctCDR corrects a partner's CDR (POST /api/v1/ocpi/partners/{id}/cdrs/{cdr_id}/correct):
// a CDR never changes once made, so the correction is a Credit CDR of it and a new CDR of its
// session, priced with the session's tariff as it is now; both are pushed in that order.
// 404 for an unknown CDR, 409 for a credit CDR, a CDR already credited, or one whose session
// is gone.
func (h *Handler) correctCDR(c *gin.Context) error {
	id, err := partnerID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	pt, err := h.store.Get(ctx, web.CurrentPrincipal(c).Networks, id)
	if err != nil {
		return err
	}
	var row struct {
		Doc       json.RawMessage `db:"doc"`
		Credit    bool            `db:"credit"`
		SessionID *string         `db:"session_id"`
	}
	err = h.view.db.GetContext(ctx, &row, `SELECT doc, credit, session_id::text FROM ocpi_cdrs WHERE id = $1 AND partner_id = $2`,
		c.Param("cdr_id"), pt.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("CDR %w", apperr.NotFound)
	}
	if err != nil {
		return fmt.Errorf("read CDR: %w", database.Translate(err))
	}
	if row.Credit {
		return fmt.Errorf("a credit CDR is not corrected: %w", apperr.Conflict)
	}
	if row.SessionID == nil {
		return fmt.Errorf("the CDR's session no longer exists: %w", apperr.Conflict)
	}
	var original CDR
	if err := json.Unmarshal(row.Doc, &original); err != nil {
		return fmt.Errorf("decode CDR: %w", err)
	}
	rs, err := h.view.loadSessions(ctx, `os.session_id = $1::uuid`, *row.SessionID)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return fmt.Errorf("the CDR's session no longer exists: %w", apperr.Conflict)
	}
	var tp *Tariff
	if t, found, err := h.view.tariff(ctx, rs[0].tariffID()); err != nil {
		return err
	} else if found {
		tp = &t
	}
	now := time.Now()
	credit := creditOf(original, now)
	fresh := buildCDR(&rs[0], tp, uuid.NewString(), now)
	err = database.InTx(ctx, h.view.db, func(tx *sqlx.Tx) error {
		if err := storeCDR(ctx, tx, pt.ID, nil, credit); err != nil {
			if errors.Is(err, apperr.Conflict) {
				return fmt.Errorf("the CDR is credited already: %w", apperr.Conflict)
			}
			return err
		}
		return storeCDR(ctx, tx, pt.ID, nil, fresh)
	})
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusCreated, correctionResponse{CreditCDRID: credit.ID, NewCDRID: fresh.ID})
	return nil
}

// CDRs returns a page of partner's CDRs in the order they were made, filtered on
// last_updated, and the total.
func (v *View) CDRs(ctx context.Context, partner uuid.UUID, p paging.Page, after int64) ([]json.RawMessage, int, int64, bool, error) {
	var w database.Where
	w.Add("partner_id = %s", partner)
	w.Window("last_updated", p.DateFrom, p.DateTo)
	total, err := database.Count(ctx, v.db, "ocpi_cdrs", &w)
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("count CDRs: %w", err)
	}
	if after > 0 {
		w.Add("seq > %s", after)
	}
	args := append(w.Args(), p.Limit+1)
	q := `SELECT seq, doc FROM ocpi_cdrs WHERE ` + w.SQL() + fmt.Sprintf(" ORDER BY seq LIMIT $%d", len(args))
	if after == 0 && p.Offset > 0 {
		args = append(args, p.Offset)
		q += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	var rows []struct {
		Seq int64           `db:"seq"`
		Doc json.RawMessage `db:"doc"`
	}
	if err := v.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, 0, 0, false, fmt.Errorf("list CDRs: %w", database.Translate(err))
	}
	more := len(rows) > p.Limit
	if more {
		rows = rows[:p.Limit]
	}
	out := make([]json.RawMessage, len(rows))
	var last int64
	for i, r := range rows {
		out[i], last = r.Doc, r.Seq
	}
	return out, total, last, more, nil
}

// listCDRs is the CDRs pull: the caller's CDRs only.
func (h *Handler) listCDRs(c *gin.Context) error {
	p, err := h.parsePage(c)
	if err != nil {
		return err
	}
	cdrs, total, last, more, err := h.view.CDRs(c.Request.Context(), currentCaller(c).Partner.ID, p.Page, p.After)
	if err != nil {
		return err
	}
	c.Header("X-Total-Count", strconv.Itoa(total))
	c.Header("X-Limit", strconv.Itoa(h.maxLimit))
	if more {
		next := p.Offset + len(cdrs)
		web.SetNextLink(c, h.baseURL(c.Request), map[string]string{
			"offset": strconv.Itoa(next), "limit": strconv.Itoa(p.Limit), "after": cursor(next, last)})
	}
	respond(c, http.StatusOK, cdrs)
	return nil
}
