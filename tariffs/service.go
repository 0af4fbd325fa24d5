package tariffs

import (
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the tariff rules and their transaction boundaries.
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

// stamp is the time a change is written with: milliseconds, the precision that OCPI pulls
// compare date_from and date_to with. The commit replaces it with its own stamp, later than
// every one before (migration 0020).
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Get returns a visible tariff. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, id string) (Tariff, error) {
	return s.store.Get(ctx, visible, id)
}

// List returns a page of visible tariffs and the total.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Tariff, paging.Meta, error) {
	return s.store.List(ctx, visible, p)
}

// Put creates tariff id or replaces it, under its row lock. change receives the current tariff
// (nil when there is none) and returns the one to store, or an error (a missing or stale etag,
// invalid fields) that aborts. Concurrent Puts of one tariff run one after the other, each on
// the result of the previous. created tells which happened. A tariff keeps its network.
// Errors: ErrIDTaken (the id belongs to a tariff the caller cannot see), and change's errors.
func (s *Service) Put(ctx context.Context, visible []uuid.UUID, id string, change func(cur *Tariff) (Tariff, error)) (t Tariff, created bool, err error) {
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		var cur *Tariff
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
		now := s.stamp()
		next.ID, next.ETag, next.LastUpdated = id, uuid.New(), now
		if cur == nil {
			next.Created = now
			err = st.Create(ctx, next)
		} else {
			next.NetworkID, next.Created = cur.NetworkID, cur.Created
			err = st.Update(ctx, next)
		}
		if err != nil {
			return err
		}
		t, created = next, cur == nil
		return nil
	})
	if err == nil {
		// last_updated is stamped at commit (migration 0020): answer with the stored one,
		// unless another write came in between.
		if stored, gerr := s.store.Get(ctx, visible, id); gerr == nil && stored.ETag == t.ETag {
			t = stored
		}
	}
	return t, created, err
}

// Delete removes a visible tariff that nothing refers to. A tariff that stations or
// connectors still refer to is kept and ErrInUse names them: OCPI asks that a tariff be
// deleted only when no connector uses it any more, and a partner could not resolve the
// reference. The row lock makes a concurrent station write that refers to the tariff either
// wait for the delete (and then find the tariff gone: 422) or finish first (and be named
// here). Errors: ErrNotFound, ErrInUse.
func (s *Service) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	return database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		t, err := st.GetForDelete(ctx, visible, id)
		if err != nil {
			return err
		}
		refs, total, err := st.References(ctx, t.NetworkID, id)
		if err != nil {
			return err
		}
		if total > 0 {
			return ErrInUse{References: refs, Total: total}
		}
		return st.Delete(ctx, id)
	})
}

// Unknown returns the ids among ids that are not tariffs of network, and locks the known ones
// against deletion until tx ends: the reference check of a station or EVSE write, in its
// transaction.
func (s *Service) Unknown(ctx context.Context, tx *sqlx.Tx, network uuid.UUID, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	known, err := s.store.WithTx(tx).Known(ctx, network, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if !known[id] {
			out = append(out, id)
		}
	}
	return out, nil
}
