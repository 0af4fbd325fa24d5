package locations

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

// Store keeps locations in PostgreSQL. A Store made by NewStore runs each statement on the
// pool; one made by WithTx runs in the caller's transaction.
type Store struct {
	q sqlx.ExtContext
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type locationRow struct {
	ID                 string                                 `db:"id"`
	NetworkID          uuid.UUID                              `db:"network_id"`
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
	ETag               uuid.UUID                              `db:"etag"`
	Created            time.Time                              `db:"created"`
	LastUpdated        time.Time                              `db:"last_updated"`
}

const columns = `id, network_id, name, address, city, postal_code, state, country, latitude, longitude,
	time_zone, parking_type, facilities, opening_times, directions, operator, suboperator, owner,
	charging_when_closed, publish, etag, created, last_updated`

func toRow(l Location) locationRow {
	facilities := make(pq.StringArray, len(l.Facilities))
	for i, f := range l.Facilities {
		facilities[i] = string(f)
	}
	r := locationRow{
		ID: l.ID, NetworkID: l.NetworkID, Name: l.Name, Address: l.Address, City: l.City,
		PostalCode: database.NullString(l.PostalCode), State: database.NullString(l.State), Country: l.Country,
		Latitude: l.Coordinates.Latitude, Longitude: l.Coordinates.Longitude, TimeZone: l.TimeZone,
		Facilities:   facilities,
		OpeningTimes: database.JSON[*schema.Hours]{V: l.OpeningTimes},
		Directions:   database.JSON[[]schema.DisplayText]{V: l.Directions},
		Operator:     database.JSON[*schema.BusinessDetails]{V: l.Operator},
		Suboperator:  database.JSON[*schema.BusinessDetails]{V: l.Suboperator},
		Owner:        database.JSON[*schema.BusinessDetails]{V: l.Owner},
		Publish:      l.Publish, ETag: l.ETag, Created: l.Created, LastUpdated: l.LastUpdated,
	}
	if l.ParkingType != nil {
		r.ParkingType = sql.NullString{String: string(*l.ParkingType), Valid: true}
	}
	if l.ChargingWhenClosed != nil {
		r.ChargingWhenClosed = sql.NullBool{Bool: *l.ChargingWhenClosed, Valid: true}
	}
	return r
}

func (r locationRow) toLocation() Location {
	l := Location{
		ID: r.ID, NetworkID: r.NetworkID, Name: r.Name, Address: r.Address, City: r.City,
		PostalCode: database.StringPtr[string](r.PostalCode), State: database.StringPtr[string](r.State), Country: r.Country,
		Coordinates:  schema.GeoLocation{Latitude: r.Latitude, Longitude: r.Longitude},
		TimeZone:     r.TimeZone,
		Facilities:   make([]schema.Facility, len(r.Facilities)),
		OpeningTimes: r.OpeningTimes.V, Directions: r.Directions.V,
		Operator: r.Operator.V, Suboperator: r.Suboperator.V, Owner: r.Owner.V,
		Publish: r.Publish, ETag: r.ETag, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC(),
	}
	for i, f := range r.Facilities {
		l.Facilities[i] = schema.Facility(f)
	}
	if r.ParkingType.Valid {
		pt := schema.ParkingType(r.ParkingType.String)
		l.ParkingType = &pt
	}
	if r.ChargingWhenClosed.Valid {
		b := r.ChargingWhenClosed.Bool
		l.ChargingWhenClosed = &b
	}
	return l
}

// Create inserts l as it is: etag and timestamps are the caller's. Errors: ErrIDTaken.
func (s *Store) Create(ctx context.Context, l Location) error {
	const q = `
	INSERT INTO locations (` + columns + `)
	VALUES (:id, :network_id, :name, :address, :city, :postal_code, :state, :country, :latitude, :longitude,
		:time_zone, :parking_type, :facilities, :opening_times, :directions, :operator, :suboperator, :owner,
		:charging_when_closed, :publish, :etag, :created, :last_updated)`
	_, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(l))
	if database.IsUniqueViolation(err, "locations_pkey") {
		return ErrIDTaken
	}
	if err != nil {
		return fmt.Errorf("insert location %s: %w", l.ID, database.Translate(err))
	}
	return nil
}

// Get returns location id if its network is visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id string) (Location, error) {
	return s.get(ctx, visible, id, false)
}

// GetForUpdate is Get with the location's row locked until the transaction ends (the store
// must be one made by WithTx). Errors: ErrNotFound.
func (s *Store) GetForUpdate(ctx context.Context, visible []uuid.UUID, id string) (Location, error) {
	return s.get(ctx, visible, id, true)
}

func (s *Store) get(ctx context.Context, visible []uuid.UUID, id string, forUpdate bool) (Location, error) {
	q := `
	SELECT ` + columns + `
	FROM locations
	WHERE id = $1 AND network_id = ANY($2)`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var row locationRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Location{}, ErrNotFound
	}
	if err != nil {
		return Location{}, fmt.Errorf("get location %s: %w", id, database.Translate(err))
	}
	return row.toLocation(), nil
}

// GetMany returns the locations of ids that exist, by id, whatever their network: the caller
// checks visibility (it serves writers that each see different networks).
func (s *Store) GetMany(ctx context.Context, ids []string) (map[string]Location, error) {
	var rows []locationRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT `+columns+` FROM locations WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("get %d locations: %w", len(ids), database.Translate(err))
	}
	out := make(map[string]Location, len(rows))
	for _, r := range rows {
		out[r.ID] = r.toLocation()
	}
	return out, nil
}

// List returns a page of visible locations in (last_updated, id) order, and the total (from
// the kept counts, less what lies outside a date window when that is little).
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Location, paging.Meta, error) {
	var w database.Where
	w.AddNetworks("network_id", visible)
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []locationRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "locations", &w, database.Order{Updated: "last_updated", ID: "id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list locations: %w", err)
	}
	var m paging.Meta
	// The kept count, and for a date window the smaller of the window and what lies outside
	// it (database.CountWindow): no count of the whole window on every page of a sync.
	var networks database.Where
	networks.AddNetworks("network_id", visible)
	m.Total, err = database.CountWindow(ctx, s.q, "locations", &networks, "last_updated", p.DateFrom, p.DateTo,
		func() (int, error) { return database.CountOf(ctx, s.q, "locations", visible) })
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count locations: %w", err)
	}
	out := make([]Location, len(rows))
	for i, r := range rows {
		out[i] = r.toLocation()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID}
	}
	return out, m, nil
}

// Update writes every field of l (found by l.ID) as it is: etag and timestamps are the
// caller's.
func (s *Store) Update(ctx context.Context, l Location) error {
	const q = `
	UPDATE locations SET
		network_id = :network_id, name = :name, address = :address, city = :city,
		postal_code = :postal_code, state = :state, country = :country, latitude = :latitude,
		longitude = :longitude, time_zone = :time_zone, parking_type = :parking_type,
		facilities = :facilities, opening_times = :opening_times, directions = :directions,
		operator = :operator, suboperator = :suboperator, owner = :owner,
		charging_when_closed = :charging_when_closed, publish = :publish, etag = :etag,
		last_updated = :last_updated
	WHERE id = :id`
	if _, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(l)); err != nil {
		return fmt.Errorf("update location %s: %w", l.ID, database.Translate(err))
	}
	return nil
}

// Delete removes location id. A location that charge stations still refer to is kept
// (the foreign key refuses): ErrHasStations, without the stations' names.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM locations WHERE id = $1`, id); err != nil {
		if database.IsForeignKeyViolation(err) {
			return ErrHasStations{}
		}
		return fmt.Errorf("delete location %s: %w", id, database.Translate(err))
	}
	return nil
}
