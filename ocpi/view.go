package ocpi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Location is the OCPI 2.2.1 Location object as partners see it.
type Location struct {
	CountryCode        string                  `json:"country_code"`
	PartyID            string                  `json:"party_id"`
	ID                 string                  `json:"id"`
	Publish            bool                    `json:"publish"`
	Name               string                  `json:"name,omitempty"`
	Address            string                  `json:"address"`
	City               string                  `json:"city"`
	PostalCode         *string                 `json:"postal_code,omitempty"`
	State              *string                 `json:"state,omitempty"`
	Country            string                  `json:"country"`
	Coordinates        schema.GeoLocation      `json:"coordinates"`
	ParkingType        *schema.ParkingType     `json:"parking_type,omitempty"`
	EVSEs              []EVSE                  `json:"evses"`
	Directions         []schema.DisplayText    `json:"directions,omitempty"`
	Operator           *schema.BusinessDetails `json:"operator,omitempty"`
	Suboperator        *schema.BusinessDetails `json:"suboperator,omitempty"`
	Owner              *schema.BusinessDetails `json:"owner,omitempty"`
	Facilities         []schema.Facility       `json:"facilities,omitempty"`
	TimeZone           string                  `json:"time_zone"`
	OpeningTimes       *schema.Hours           `json:"opening_times,omitempty"`
	ChargingWhenClosed *bool                   `json:"charging_when_closed,omitempty"`
	LastUpdated        string                  `json:"last_updated"`

	lastUpdated time.Time
}

// EVSE is the OCPI 2.2.1 EVSE object.
type EVSE struct {
	UID                 string                      `json:"uid"`
	EVSEID              *string                     `json:"evse_id,omitempty"`
	Status              schema.Status               `json:"status"`
	StatusSchedule      []schema.StatusSchedule     `json:"status_schedule,omitempty"`
	Capabilities        []schema.Capability         `json:"capabilities,omitempty"`
	Connectors          []Connector                 `json:"connectors"`
	FloorLevel          *string                     `json:"floor_level,omitempty"`
	Coordinates         *schema.GeoLocation         `json:"coordinates,omitempty"`
	PhysicalReference   *string                     `json:"physical_reference,omitempty"`
	Directions          []schema.DisplayText        `json:"directions,omitempty"`
	ParkingRestrictions []schema.ParkingRestriction `json:"parking_restrictions,omitempty"`
	LastUpdated         string                      `json:"last_updated"`

	lastUpdated time.Time
}

// Connector is the OCPI 2.2.1 Connector object.
type Connector struct {
	ID                 string                   `json:"id"`
	Standard           schema.ConnectorStandard `json:"standard"`
	Format             schema.ConnectorFormat   `json:"format"`
	PowerType          schema.PowerType         `json:"power_type"`
	MaxVoltage         int                      `json:"max_voltage"`
	MaxAmperage        int                      `json:"max_amperage"`
	MaxElectricPower   *int                     `json:"max_electric_power,omitempty"`
	TariffIDs          []string                 `json:"tariff_ids,omitempty"`
	TermsAndConditions *string                  `json:"terms_and_conditions,omitempty"`
	LastUpdated        string                   `json:"last_updated"`
}

// errUnknownLocation is the answer for a Location, EVSE or Connector we do not publish.
var errUnknownLocation = ocpiError(404, CodeUnknownLocation, "unknown location")

// dateTimeLayout is how last_updated is published: UTC with milliseconds, the precision of
// the stamps and of the date_from/date_to comparison, in OCPI's DateTime (string(25)).
const dateTimeLayout = "2006-01-02T15:04:05.000Z"

// formatDateTime writes t as dateTimeLayout.
func formatDateTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(dateTimeLayout)
}

// View is the Locations module's read model: the published copies (ocpi_locations and
// ocpi_evses, migration 0012), kept by triggers at the commit of every change of the
// registry. A copy is a location as shown under one party; it exists once one of the
// location's EVSEs has been published, and a retired copy (its location deleted, or moved to
// another party) stays with its EVSEs REMOVED. EVSEs that stopped being published stay with
// status REMOVED. A copy's last_updated is the latest of its own and its EVSEs', the cascade
// OCPI asks of a sender; every last_updated is a commit stamp, later than those of every
// change committed before.
//
// A partner sees the copies of its network and of the networks below it.
type View struct {
	db *sqlx.DB
}

// NewView returns a View on db.
func NewView(db *sqlx.DB) *View { return &View{db: db} }

// locationPage is a page of a pull.
type locationPage struct {
	Locations []Location
	Total     int   // every copy in scope that matches the date window
	LastSeq   int64 // the position of the page's last location; the next page starts after it
	More      bool  // more locations follow
}

// copyColumns are what a Location is built from.
const copyColumns = `c.seq, c.location_id, c.country_code, c.party_id, c.doc, c.last_updated`

// List returns a page of the copies that a partner of network sees, in pull order (seq: the
// order in which copies were made, which no change disturbs), filtered on last_updated by the
// page's date_from (inclusive) and date_to (exclusive), and the total. The page starts after
// position after when it is not 0 (the next-page cursor: its cost does not grow with the
// depth of the page), else at p.Offset.
func (v *View) List(ctx context.Context, network uuid.UUID, p paging.Page, after int64) (locationPage, error) {
	var w database.Where
	w.Add("s.ancestor_id = %s", network)
	w.Window("c.last_updated", p.DateFrom, p.DateTo)
	from := "ocpi_locations c JOIN ocpi_network_scope s ON s.network_id = c.network_id"
	var out locationPage
	var err error
	// The kept count of copies per network (migration 0012), not a count; for a date window,
	// less what lies outside it when that is little (database.CountWindow), so that a partner
	// syncing from far back does not count the whole window on every page.
	var scope database.Where
	scope.Add("s.ancestor_id = %s", network)
	out.Total, err = database.CountWindow(ctx, v.db, from, &scope, "c.last_updated", p.DateFrom, p.DateTo, func() (int, error) {
		const q = `
		SELECT coalesce(sum(lc.n), 0)
		FROM ocpi_network_scope s
		JOIN list_counts lc ON lc.kind = 'ocpi_locations' AND lc.network_id = s.network_id
		WHERE s.ancestor_id = $1`
		var n int
		return n, v.db.GetContext(ctx, &n, q, network)
	})
	if err != nil {
		return locationPage{}, fmt.Errorf("count published locations: %w", database.Translate(err))
	}
	if after > 0 {
		w.Add("c.seq > %s", after)
	}
	args := append(w.Args(), p.Limit+1) // one more: whether more follow
	q := `SELECT ` + copyColumns + ` FROM ` + from + ` WHERE ` + w.SQL() + ` ORDER BY c.seq` +
		fmt.Sprintf(" LIMIT $%d", len(args))
	if after == 0 && p.Offset > 0 {
		args = append(args, p.Offset)
		q += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	var rows []copyRow
	if err := v.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return locationPage{}, fmt.Errorf("list published locations: %w", database.Translate(err))
	}
	if len(rows) > p.Limit {
		rows, out.More = rows[:p.Limit], true
	}
	if out.Locations, err = v.build(ctx, rows); err != nil {
		return locationPage{}, err
	}
	if len(rows) > 0 {
		out.LastSeq = rows[len(rows)-1].Seq
	}
	return out, nil
}

// Get returns the copy of location id (ids compare case-insensitively, as OCPI's CiString)
// that a partner of network sees: the live one, else the most recently retired one.
// Errors: errUnknownLocation.
func (v *View) Get(ctx context.Context, network uuid.UUID, id string) (Location, error) {
	const q = `
	SELECT ` + copyColumns + `
	FROM ocpi_locations c
	JOIN ocpi_network_scope s ON s.network_id = c.network_id AND s.ancestor_id = $1
	WHERE c.location_id = $2
	ORDER BY c.retired, c.last_updated DESC, c.seq DESC
	LIMIT 1`
	var rows []copyRow
	if err := v.db.SelectContext(ctx, &rows, q, network, id); err != nil {
		return Location{}, fmt.Errorf("find published location %q: %w", id, database.Translate(err))
	}
	if len(rows) == 0 {
		// Not as written: the same id in other letter case.
		const qi = `
		SELECT ` + copyColumns + `
		FROM ocpi_locations c
		JOIN ocpi_network_scope s ON s.network_id = c.network_id AND s.ancestor_id = $1
		WHERE lower(c.location_id) = lower($2)
		ORDER BY c.retired, c.last_updated DESC, c.seq DESC
		LIMIT 1`
		if err := v.db.SelectContext(ctx, &rows, qi, network, id); err != nil {
			return Location{}, fmt.Errorf("find published location %q: %w", id, database.Translate(err))
		}
	}
	if len(rows) == 0 {
		return Location{}, errUnknownLocation
	}
	locs, err := v.build(ctx, rows)
	if err != nil {
		return Location{}, err
	}
	return locs[0], nil
}

// copy returns the copy at position seq (the Pusher's way in: a queued push names its copy,
// which is never deleted). Errors: errUnknownLocation.
func (v *View) copy(ctx context.Context, seq int64) (Location, error) {
	var rows []copyRow
	if err := v.db.SelectContext(ctx, &rows, `SELECT `+copyColumns+` FROM ocpi_locations c WHERE c.seq = $1`, seq); err != nil {
		return Location{}, fmt.Errorf("read published location %d: %w", seq, database.Translate(err))
	}
	if len(rows) == 0 {
		return Location{}, errUnknownLocation
	}
	locs, err := v.build(ctx, rows)
	if err != nil {
		return Location{}, err
	}
	return locs[0], nil
}

type copyRow struct {
	Seq         int64           `db:"seq"`
	LocationID  string          `db:"location_id"`
	CountryCode string          `db:"country_code"`
	PartyID     string          `db:"party_id"`
	Doc         json.RawMessage `db:"doc"`
	LastUpdated time.Time       `db:"last_updated"`
}

type viewEVSERow struct {
	LocationSeq int64           `db:"location_seq"`
	Status      string          `db:"status"`
	Doc         json.RawMessage `db:"doc"`
	LastUpdated time.Time       `db:"last_updated"`
}

// build makes the Locations of copies, with their EVSEs.
func (v *View) build(ctx context.Context, copies []copyRow) ([]Location, error) {
	if len(copies) == 0 {
		return nil, nil
	}
	seqs := make([]int64, len(copies))
	for i, c := range copies {
		seqs[i] = c.Seq
	}
	var evses []viewEVSERow
	const q = `
	SELECT e.location_seq, e.status, e.doc, e.last_updated
	FROM unnest($1::bigint[]) AS k(seq)
	JOIN ocpi_evses e ON e.location_seq = k.seq
	ORDER BY e.location_seq, e.sort_key, e.evse_uid`
	if err := v.db.SelectContext(ctx, &evses, q, pq.Array(seqs)); err != nil {
		return nil, fmt.Errorf("load published EVSEs: %w", database.Translate(err))
	}
	bySeq := make(map[int64][]EVSE, len(copies))
	for _, r := range evses {
		e, err := decodeEVSE(r.Status, r.Doc, r.LastUpdated)
		if err != nil {
			return nil, fmt.Errorf("published EVSE of location copy %d: %w", r.LocationSeq, err)
		}
		bySeq[r.LocationSeq] = append(bySeq[r.LocationSeq], e)
	}
	out := make([]Location, len(copies))
	for i, c := range copies {
		var l Location
		if err := json.Unmarshal(c.Doc, &l); err != nil {
			return nil, fmt.Errorf("published location %s: %w", c.LocationID, err)
		}
		l.CountryCode, l.PartyID = c.CountryCode, c.PartyID
		l.EVSEs = bySeq[c.Seq]
		if l.EVSEs == nil {
			l.EVSEs = []EVSE{}
		}
		l.lastUpdated = c.LastUpdated.UTC()
		for _, e := range l.EVSEs {
			if e.lastUpdated.After(l.lastUpdated) {
				l.lastUpdated = e.lastUpdated
			}
		}
		l.LastUpdated = formatDateTime(l.lastUpdated)
		out[i] = l
	}
	return out, nil
}

// decodeEVSE reads a published EVSE: its status and document. The EVSE's last_updated is the
// row's (the commit that last changed it); a connector never shows a later one than its EVSE.
// Connectors without tariffs of their own carry the station's default tariff.
func decodeEVSE(status string, doc json.RawMessage, lastUpdated time.Time) (EVSE, error) {
	var d struct {
		EVSE
		DefaultTariffID string `json:"default_tariff_id"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return EVSE{}, err
	}
	e := d.EVSE
	e.Status = schema.Status(status)
	e.lastUpdated = lastUpdated.UTC().Truncate(time.Millisecond)
	e.LastUpdated = formatDateTime(e.lastUpdated)
	for i := range e.Connectors {
		c := &e.Connectors[i]
		t, err := schema.ParseDateTime(c.LastUpdated)
		if err != nil || t.After(e.lastUpdated) {
			t = e.lastUpdated
		}
		c.LastUpdated = formatDateTime(t)
		if len(c.TariffIDs) == 0 && d.DefaultTariffID != "" {
			c.TariffIDs = []string{d.DefaultTariffID}
		}
	}
	if e.Connectors == nil {
		e.Connectors = []Connector{}
	}
	return e, nil
}

// FindEVSE returns the EVSE uid of l (case-insensitively).
func (l Location) FindEVSE(uid string) (EVSE, bool) {
	for _, e := range l.EVSEs {
		if strings.EqualFold(e.UID, uid) {
			return e, true
		}
	}
	return EVSE{}, false
}

// FindConnector returns connector id of e (case-insensitively).
func (e EVSE) FindConnector(id string) (Connector, bool) {
	for _, c := range e.Connectors {
		if strings.EqualFold(c.ID, id) {
			return c, true
		}
	}
	return Connector{}, false
}
