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

// Store keeps locations in PostgreSQL.
type Store struct {
	db       *sqlx.DB
	now      func() time.Time
	stations StationIndex
}

// StationIndex lists the identities of the charge stations at a location, reading through q
// (the deleting transaction). The charge-station package provides it; see SetStationIndex.
type StationIndex func(ctx context.Context, q sqlx.QueryerContext, locationID string) ([]string, error)

// SetStationIndex installs the lookup that keeps a location with stations from being deleted.
func (s *Store) SetStationIndex(f StationIndex) { s.stations = f }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db, now: time.Now} }

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
	Total              int64                                  `db:"total"`
}

const columns = `id, network_id, name, address, city, postal_code, state, country, latitude, longitude,
	time_zone, parking_type, facilities, opening_times, directions, operator, suboperator, owner,
	charging_when_closed, publish, etag, created, last_updated`

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

func toRow(l Location) locationRow {
	facilities := make(pq.StringArray, len(l.Facilities))
	for i, f := range l.Facilities {
		facilities[i] = string(f)
	}
	r := locationRow{
		ID: l.ID, NetworkID: l.NetworkID, Name: l.Name, Address: l.Address, City: l.City,
		PostalCode: nullString(l.PostalCode), State: nullString(l.State), Country: l.Country,
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
		PostalCode: stringPtr(r.PostalCode), State: stringPtr(r.State), Country: r.Country,
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

// Create inserts l with a new etag and timestamps. Errors: ErrIDTaken.
func (s *Store) Create(ctx context.Context, l Location) (Location, error) {
	now := database.Timestamp(s.now())
	l.ETag, l.Created, l.LastUpdated = uuid.New(), now, now
	const q = `
	INSERT INTO locations (` + columns + `)
	VALUES (:id, :network_id, :name, :address, :city, :postal_code, :state, :country, :latitude, :longitude,
		:time_zone, :parking_type, :facilities, :opening_times, :directions, :operator, :suboperator, :owner,
		:charging_when_closed, :publish, :etag, :created, :last_updated)`
	_, err := s.db.NamedExecContext(ctx, q, toRow(l))
	if database.IsUniqueViolation(err, "locations_pkey") {
		return Location{}, ErrIDTaken
	}
	if err != nil {
		return Location{}, fmt.Errorf("insert location %s: %w", l.ID, database.Translate(err))
	}
	return l, nil
}

// Get returns location id if its network is visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id string) (Location, error) {
	return get(ctx, s.db, visible, id, "")
}

func get(ctx context.Context, q sqlx.QueryerContext, visible []uuid.UUID, id, lock string) (Location, error) {
	var row locationRow
	err := sqlx.GetContext(ctx, q, &row, `
	SELECT `+columns+`
	FROM locations
	WHERE id = $1 AND network_id = ANY($2)`+lock, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Location{}, ErrNotFound
	}
	if err != nil {
		return Location{}, fmt.Errorf("get location %s: %w", id, database.Translate(err))
	}
	return row.toLocation(), nil
}

// List returns a page of visible locations in (last_updated, id) order, and the total.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Location, int, error) {
	var w database.Where
	w.Add("network_id = ANY(%s)", pq.Array(visible))
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []locationRow
	total, err := database.SelectPage(ctx, s.db, &rows, func(r locationRow) int64 { return r.Total },
		columns, "locations", &w, "last_updated, id", p.Limit, p.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list locations: %w", err)
	}
	out := make([]Location, len(rows))
	for i, r := range rows {
		out[i] = r.toLocation()
	}
	return out, total, nil
}

// Update changes location id under a row lock: change receives the current state and returns
// the new one (or an error, e.g. a stale etag, which aborts the update). Concurrent updates of
// one location therefore run one after the other, each on the result of the previous, so none
// is lost. The etag and last_updated are renewed. Errors: ErrNotFound, and change's errors.
func (s *Store) Update(ctx context.Context, visible []uuid.UUID, id string, change func(cur Location) (Location, error)) (Location, error) {
	var out Location
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		cur, err := get(ctx, tx, visible, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		next.ID, next.Created = cur.ID, cur.Created
		next.ETag, next.LastUpdated = uuid.New(), database.Timestamp(s.now())
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
		if _, err := tx.NamedExecContext(ctx, q, toRow(next)); err != nil {
			return fmt.Errorf("update location %s: %w", id, database.Translate(err))
		}
		out = next
		return nil
	})
	return out, err
}

// Delete removes location id. The charge stations still at the location are read inside the
// same transaction, with the location locked; when there are any the location is kept and
// ErrHasStations names them. Errors: ErrNotFound, ErrHasStations.
func (s *Store) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	return database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if _, err := get(ctx, tx, visible, id, " FOR UPDATE"); err != nil {
			return err
		}
		if s.stations != nil {
			ids, err := s.stations(ctx, tx, id)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				return ErrHasStations{StationIDs: ids}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM locations WHERE id = $1`, id); err != nil {
			if database.IsForeignKeyViolation(err) {
				return ErrHasStations{}
			}
			return fmt.Errorf("delete location %s: %w", id, database.Translate(err))
		}
		return nil
	})
}

// GetWith is Get reading through q, e.g. another package's transaction, so that a caller
// holding a transaction does not need a second connection from the pool.
func (s *Store) GetWith(ctx context.Context, q sqlx.QueryerContext, visible []uuid.UUID, id string) (Location, error) {
	return get(ctx, q, visible, id, "")
}
