package templates

import (
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the template rules and their transaction boundaries.
type Service struct {
	db    *sqlx.DB
	store *Store
	now   func() time.Time
}

// NewService returns a Service. now may be nil (time.Now).
func NewService(db *sqlx.DB, store *Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, store: store, now: now}
}

// Get returns a visible template. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, id string) (Template, error) {
	return s.store.Get(ctx, visible, id)
}

// List returns a page of visible templates and the total.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Template, paging.Meta, error) {
	return s.store.List(ctx, visible, p)
}

// Put creates template id or replaces it, under its row lock. change receives the current
// template (nil when there is none) and returns the one to store, or an error (a missing or
// stale etag) that aborts. created tells which happened. Errors: ErrIDTaken (the id belongs
// to a template the caller cannot see), and change's errors.
func (s *Service) Put(ctx context.Context, visible []uuid.UUID, id string, change func(cur *Template) (Template, error)) (t Template, created bool, err error) {
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		var cur *Template
		c, err := st.GetForUpdate(ctx, visible, id)
		switch {
		case err == nil:
			cur = &c
		case !errors.Is(err, ErrNotFound):
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		now := database.Timestamp(s.now())
		next.ID, next.ETag, next.LastUpdated = id, uuid.New(), now
		if cur == nil {
			next.Created = now
			err = st.Create(ctx, next)
		} else {
			next.Created = cur.Created
			err = st.Update(ctx, next)
		}
		if err != nil {
			return err
		}
		t, created = next, cur == nil
		return nil
	})
	return t, created, err
}

// Delete removes a visible template. Stations made from it keep their copy.
// Errors: ErrNotFound.
func (s *Service) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	return s.store.Delete(ctx, visible, id)
}
