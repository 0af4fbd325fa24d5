package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the token rules and their transaction boundaries.
type Service struct {
	db    *sqlx.DB
	store *Store
	// changed is told, after the commit, which networks' tokens a write changed, so that
	// this node's Authorizer forgets them at once (other nodes hear the notification).
	changed func(networks ...uuid.UUID)
	now     func() time.Time
}

// NewService returns a Service. changed and now may be nil.
func NewService(db *sqlx.DB, store *Store, changed func(networks ...uuid.UUID), now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if changed == nil {
		changed = func(...uuid.UUID) {}
	}
	return &Service{db: db, store: store, changed: changed, now: now}
}

// Get returns a visible token by uid, in network when given. Errors: ErrNotFound, ErrAmbiguous.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, uid string, network *uuid.UUID) (Token, error) {
	return s.store.Get(ctx, visible, uid, network)
}

// List returns a page of visible tokens and the total.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]Token, paging.Meta, error) {
	return s.store.List(ctx, visible, f, p)
}

// Put creates or replaces the token uid, under its row lock. network names the token's
// network when given (else the one visible network that has the uid). change receives the
// current token (nil when there is none) and returns the one to store, its NetworkID set for
// a new token, or an error (a missing or stale etag, an invalid body) that aborts. created
// tells which happened. Errors: ErrAmbiguous, ErrUIDTaken, and change's errors.
func (s *Service) Put(ctx context.Context, visible []uuid.UUID, uid string, network *uuid.UUID, change func(cur *Token) (Token, error)) (t Token, created bool, err error) {
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		var cur *Token
		c, err := st.GetForUpdate(ctx, visible, uid, network)
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
		next.ETag, next.LastUpdated = uuid.New(), now
		if cur == nil {
			next.ID, next.Created = uuid.NewString(), now
			err = st.Create(ctx, next)
		} else {
			next.ID, next.NetworkID, next.Created = cur.ID, cur.NetworkID, cur.Created
			err = st.Update(ctx, next)
		}
		if err != nil {
			return err
		}
		t, created = next, cur == nil
		return nil
	})
	if err == nil {
		s.changed(t.NetworkID)
	}
	return t, created, err
}

// Delete removes a visible token. Errors: ErrNotFound, ErrAmbiguous.
func (s *Service) Delete(ctx context.Context, visible []uuid.UUID, uid string, network *uuid.UUID) error {
	var net uuid.UUID
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		cur, err := st.GetForUpdate(ctx, visible, uid, network)
		if err != nil {
			return err
		}
		net = cur.NetworkID
		return st.Delete(ctx, cur.ID)
	})
	if err == nil {
		s.changed(net)
	}
	return err
}

// Upsert creates or replaces many tokens in one statement (an import): each is matched by
// its network and uid; no etag is checked, the import is authoritative. The caller has
// checked every token and that no two share a network and MatchUID.
func (s *Service) Upsert(ctx context.Context, ts []Token) (BulkResult, error) {
	now := database.Timestamp(s.now())
	nets := map[uuid.UUID]bool{}
	for i := range ts {
		ts[i].ID, ts[i].ETag, ts[i].Created, ts[i].LastUpdated = uuid.NewString(), uuid.New(), now, now
		nets[ts[i].NetworkID] = true
	}
	res, err := s.store.Upsert(ctx, ts)
	if err == nil {
		for n := range nets {
			s.changed(n)
		}
	}
	return res, err
}
