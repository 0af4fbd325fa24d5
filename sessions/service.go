package sessions

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service answers the read side of sessions: lists, one session, the export. (What stations
// report is written by stationreports, in batches, through Store.)
type Service struct {
	db    *sqlx.DB
	store *Store
	now   func() time.Time
}

// NewService returns a Service; now may be nil (time.Now), it is the "now" of running sessions.
func NewService(db *sqlx.DB, store *Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, store: store, now: now}
}

// Now is the moment up to which a running session's times are counted.
func (s *Service) Now() time.Time { return s.now() }

// List returns a page of the sessions the networks see.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]Session, paging.Meta, error) {
	return s.store.List(ctx, visible, f, p)
}

// ListOfStation is List narrowed to station id. Errors: ErrStationNotFound.
func (s *Service) ListOfStation(ctx context.Context, visible []uuid.UUID, id string, f Filter, p paging.Page) ([]Session, paging.Meta, error) {
	if err := s.store.StationVisible(ctx, visible, id); err != nil {
		return nil, paging.Meta{}, err
	}
	f.StationID = &id
	return s.store.List(ctx, visible, f, p)
}

// Get returns session id with its meter-value timeline. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, id string) (Session, []MeterPoint, error) {
	return s.store.Get(ctx, visible, id)
}

// Export calls fn with every matching session, in batches, from one snapshot of the
// database (a read-only REPEATABLE READ transaction), in (last_updated, id) order. fn's
// error stops it.
func (s *Service) Export(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page, fn func([]Session) error) error {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin export: %w", database.Translate(err))
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	return s.store.WithTx(tx).Export(ctx, visible, f, p, fn)
}
