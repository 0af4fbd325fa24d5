package locations

import (
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// StationIndex tells which charge stations stand at a location, so that a location still in
// use is not deleted. chargestations.Store implements it (package chargestations builds on
// this one, so the dependency is handed in, not imported).
type StationIndex interface {
	IDsAtLocation(ctx context.Context, locationID string) ([]string, error)
}

// Service holds the location rules and their transaction boundaries.
type Service struct {
	db       *sqlx.DB
	store    *Store
	stations StationIndex
	now      func() time.Time
}

// NewService returns a Service. now may be nil (time.Now).
func NewService(db *sqlx.DB, store *Store, stations StationIndex, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, store: store, stations: stations, now: now}
}

// Create stores a new location with a new etag and timestamps. Errors: ErrIDTaken.
func (s *Service) Create(ctx context.Context, l Location) (Location, error) {
	now := database.Timestamp(s.now())
	l.ETag, l.Created, l.LastUpdated = uuid.New(), now, now
	if err := s.store.Create(ctx, l); err != nil {
		return Location{}, err
	}
	return l, nil
}

// Get returns a visible location. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, id string) (Location, error) {
	return s.store.Get(ctx, visible, id)
}

// List returns a page of visible locations and the total.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Location, paging.Meta, error) {
	return s.store.List(ctx, visible, p)
}

// Update changes location id under its row lock: change receives the current state and
// returns the new one (or an error, e.g. a stale etag, which aborts the update). Concurrent
// updates of one location therefore run one after the other, each on the result of the
// previous, so none is lost. The etag and last_updated are renewed.
// Errors: ErrNotFound, and change's errors.
func (s *Service) Update(ctx context.Context, visible []uuid.UUID, id string, change func(cur Location) (Location, error)) (Location, error) {
	var out Location
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		cur, err := st.GetForUpdate(ctx, visible, id)
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		next.ID, next.Created = cur.ID, cur.Created
		next.ETag, next.LastUpdated = uuid.New(), database.Timestamp(s.now())
		if err := st.Update(ctx, next); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// Delete removes a visible location. A location that still has charge stations is kept and
// ErrHasStations names them; the foreign key keeps a station that arrives meanwhile from
// being orphaned. Errors: ErrNotFound, ErrHasStations.
func (s *Service) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	if _, err := s.store.Get(ctx, visible, id); err != nil {
		return err // visibility first: the stations of an invisible location are never named
	}
	ids, err := s.stations.IDsAtLocation(ctx, id)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return ErrHasStations{StationIDs: ids}
	}
	err = s.store.Delete(ctx, id)
	var has ErrHasStations
	if errors.As(err, &has) {
		// A station arrived after the check: name what is there now.
		if has.StationIDs, _ = s.stations.IDsAtLocation(ctx, id); has.StationIDs == nil {
			has.StationIDs = []string{}
		}
		return has
	}
	return err
}
