package ocpi

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/schema"
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

// View is the Locations module's read model: the registry's locations with the EVSEs that
// have been published (ocpi_published_evses, kept by triggers). A location is in the view
// when at least one of its EVSEs has ever been published; EVSEs that stopped being published
// stay in it with status REMOVED. A location's last_updated is the latest of its own and its
// EVSEs' (and so its connectors'), the cascade OCPI asks of a sender.
type View struct {
	db *sqlx.DB
}

// NewView returns a View on db.
func NewView(db *sqlx.DB) *View { return &View{db: db} }

// viewFrom is the list of published locations with their OCPI last_updated.
const viewFrom = `(
	SELECT p.location_id AS id, greatest(l.last_updated, max(p.last_updated)) AS last_updated
	FROM ocpi_published_evses p
	JOIN locations l ON l.id = p.location_id
	GROUP BY p.location_id, l.last_updated
) AS v`

// List returns a page of the published locations in (last_updated, id) order, filtered on
// last_updated by the page's date_from (inclusive) and date_to (exclusive), and the total.
func (v *View) List(ctx context.Context, p paging.Page) ([]Location, int, error) {
	var w database.Where
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []struct {
		ID          string    `db:"id"`
		LastUpdated time.Time `db:"last_updated"`
	}
	p.After = nil // OCPI pages by offset
	if _, err := database.SelectPage(ctx, v.db, &rows, "id, last_updated", viewFrom, &w, database.Order{Updated: "last_updated", ID: "id"}, p); err != nil {
		return nil, 0, fmt.Errorf("list published locations: %w", err)
	}
	total, err := database.Count(ctx, v.db, viewFrom, &w)
	if err != nil {
		return nil, 0, fmt.Errorf("count published locations: %w", err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	locs, err := v.load(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Location, 0, len(ids))
	for _, id := range ids {
		if l, ok := locs[id]; ok {
			out = append(out, l)
		}
	}
	return out, total, nil
}

// Get returns published location id (ids compare case-insensitively, as OCPI's CiString).
// Errors: errUnknownLocation.
func (v *View) Get(ctx context.Context, id string) (Location, error) {
	locs, err := v.load(ctx, []string{id})
	if err != nil {
		return Location{}, err
	}
	if l, ok := locs[id]; ok {
		return l, nil
	}
	var exact string
	err = v.db.GetContext(ctx, &exact, `SELECT id FROM locations WHERE lower(id) = lower($1) LIMIT 1`, id)
	if err == sql.ErrNoRows || (err == nil && exact == id) {
		return Location{}, errUnknownLocation
	}
	if err != nil {
		return Location{}, fmt.Errorf("find location %q: %w", id, database.Translate(err))
	}
	locs, err = v.load(ctx, []string{exact})
	if err != nil {
		return Location{}, err
	}
	if l, ok := locs[exact]; ok {
		return l, nil
	}
	return Location{}, errUnknownLocation
}

type viewLocationRow struct {
	ID                 string                                 `db:"id"`
	CountryCode        string                                 `db:"country_code"`
	PartyID            string                                 `db:"party_id"`
	Name               string                                 `db:"name"`
	Address            string                                 `db:"address"`
	City               string                                 `db:"city"`
	PostalCode         sql.NullString                         `db:"postal_code"`
	State              sql.NullString                         `db:"state"`
	Country            string                                 `db:"country"`
	Latitude           string                                 `db:"latitude"`
	Longitude          string                                 `db:"longitude"`
	TimeZone           string                                 `db:"time_zone"`
	ParkingType        sql.NullString                         `db:"parking_type"`
	Facilities         pq.StringArray                         `db:"facilities"`
	OpeningTimes       database.JSON[*schema.Hours]           `db:"opening_times"`
	Directions         database.JSON[[]schema.DisplayText]    `db:"directions"`
	Operator           database.JSON[*schema.BusinessDetails] `db:"operator"`
	Suboperator        database.JSON[*schema.BusinessDetails] `db:"suboperator"`
	Owner              database.JSON[*schema.BusinessDetails] `db:"owner"`
	ChargingWhenClosed sql.NullBool                           `db:"charging_when_closed"`
	Publish            bool                                   `db:"publish"`
	LastUpdated        time.Time                              `db:"last_updated"`
}

type viewEVSERow struct {
	LocationID  string          `db:"location_id"`
	EVSE        json.RawMessage `db:"evse"`
	LastUpdated time.Time       `db:"last_updated"`
}

// load reads the published locations among ids, with their published EVSEs.
func (v *View) load(ctx context.Context, ids []string) (map[string]Location, error) {
	out := map[string]Location{}
	if len(ids) == 0 {
		return out, nil
	}
	var locs []viewLocationRow
	const q = `
	SELECT l.id, n.country_code, n.party_id, l.name, l.address, l.city, l.postal_code, l.state,
		l.country, l.latitude, l.longitude, l.time_zone, l.parking_type, l.facilities,
		l.opening_times, l.directions, l.operator, l.suboperator, l.owner,
		l.charging_when_closed, l.publish, l.last_updated
	FROM locations l
	JOIN networks n ON n.id = l.network_id
	WHERE l.id = ANY($1)`
	if err := v.db.SelectContext(ctx, &locs, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load published locations: %w", database.Translate(err))
	}
	var evses []viewEVSERow
	const qe = `
	SELECT location_id, evse, last_updated
	FROM ocpi_published_evses
	WHERE location_id = ANY($1)
	ORDER BY location_id, sort_key, evse_uid`
	if err := v.db.SelectContext(ctx, &evses, qe, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load published EVSEs: %w", database.Translate(err))
	}
	byLoc := map[string][]EVSE{}
	for _, r := range evses {
		e, err := decodeEVSE(r.EVSE, r.LastUpdated)
		if err != nil {
			return nil, fmt.Errorf("published EVSE of location %s: %w", r.LocationID, err)
		}
		byLoc[r.LocationID] = append(byLoc[r.LocationID], e)
	}
	for _, r := range locs {
		es := byLoc[r.ID]
		if len(es) == 0 {
			continue // never published: not in the view
		}
		l := Location{
			CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.ID, Publish: r.Publish, Name: r.Name,
			Address: r.Address, City: r.City, Country: r.Country,
			Coordinates: schema.GeoLocation{Latitude: r.Latitude, Longitude: r.Longitude},
			EVSEs:       es, Directions: r.Directions.V, Operator: r.Operator.V,
			Suboperator: r.Suboperator.V, Owner: r.Owner.V, TimeZone: r.TimeZone,
			OpeningTimes: r.OpeningTimes.V,
		}
		if r.PostalCode.Valid {
			l.PostalCode = &r.PostalCode.String
		}
		if r.State.Valid {
			l.State = &r.State.String
		}
		if r.ParkingType.Valid {
			pt := schema.ParkingType(r.ParkingType.String)
			l.ParkingType = &pt
		}
		for _, f := range r.Facilities {
			l.Facilities = append(l.Facilities, schema.Facility(f))
		}
		if r.ChargingWhenClosed.Valid {
			b := r.ChargingWhenClosed.Bool
			l.ChargingWhenClosed = &b
		}
		l.lastUpdated = r.LastUpdated.UTC()
		for _, e := range es {
			if e.lastUpdated.After(l.lastUpdated) {
				l.lastUpdated = e.lastUpdated
			}
		}
		l.LastUpdated = schema.FormatDateTime(l.lastUpdated)
		out[r.ID] = l
	}
	return out, nil
}

// decodeEVSE reads a published EVSE document. The EVSE's last_updated is the row's (the time
// it was last published); a connector never shows a later one than its EVSE. Connectors
// without tariffs of their own carry the station's default tariff.
func decodeEVSE(doc json.RawMessage, lastUpdated time.Time) (EVSE, error) {
	var d struct {
		EVSE
		DefaultTariffID string `json:"default_tariff_id"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return EVSE{}, err
	}
	e := d.EVSE
	e.lastUpdated = lastUpdated.UTC()
	e.LastUpdated = schema.FormatDateTime(e.lastUpdated)
	for i := range e.Connectors {
		c := &e.Connectors[i]
		t, err := schema.ParseDateTime(c.LastUpdated)
		if err != nil || t.After(e.lastUpdated) {
			t = e.lastUpdated
		}
		c.LastUpdated = schema.FormatDateTime(t)
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
