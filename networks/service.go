package networks

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
)

// Service holds the network rules and authenticates API keys. Authenticate remembers each
// key's principal for a short while (KeyTTL), so that a request costs no database round
// trip for its key: a busy portal or partner sends thousands of requests with one key.
// A change of networks made through this service forgets every remembered principal at
// once; another node's change is seen here within KeyTTL (the cost of not asking the
// database on every request). Unknown keys are never remembered.
type Service struct {
	store *Store
	ttl   time.Duration
	now   func() time.Time

	mu   sync.RWMutex
	keys map[[32]byte]rememberedKey
}

type rememberedKey struct {
	p       auth.Principal
	expires time.Time
}

// KeyTTL is how long an authenticated key's principal is remembered.
const KeyTTL = 5 * time.Second

// maxRememberedKeys bounds the memory of remembered keys; beyond it they are forgotten.
const maxRememberedKeys = 10_000

// NewService returns a Service. now may be nil (time.Now).
func NewService(store *Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, ttl: KeyTTL, now: now, keys: map[[32]byte]rememberedKey{}}
}

// Authenticate resolves key to its network and the networks below it.
// Errors: ErrBadKey.
func (s *Service) Authenticate(ctx context.Context, key string) (auth.Principal, error) {
	h := sha256.Sum256([]byte(key))
	now := s.now()
	s.mu.RLock()
	r, ok := s.keys[h]
	s.mu.RUnlock()
	if ok && now.Before(r.expires) {
		return r.p, nil
	}
	p, err := s.store.Authenticate(ctx, key)
	if err != nil {
		return auth.Principal{}, err
	}
	s.mu.Lock()
	if len(s.keys) >= maxRememberedKeys {
		clear(s.keys)
	}
	s.keys[h] = rememberedKey{p: p, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	return p, nil
}

// forget drops every remembered principal: the networks a key sees may have changed.
func (s *Service) forget() {
	s.mu.Lock()
	clear(s.keys)
	s.mu.Unlock()
}

// Get returns a visible network. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, id uuid.UUID) (Network, error) {
	return s.store.Get(ctx, visible, id)
}

// List returns a page of the visible networks.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Network, paging.Meta, error) {
	return s.store.List(ctx, visible, p)
}

// Create adds a network below a visible parent; keys of its ancestors see it at once on this
// node. Errors: as Store.Create.
func (s *Service) Create(ctx context.Context, n Network) (Network, error) {
	out, err := s.store.Create(ctx, n)
	if err == nil {
		s.forget()
	}
	return out, err
}

// Update changes a visible network's name and party. Errors: as Store.Update.
func (s *Service) Update(ctx context.Context, visible []uuid.UUID, n Network) (Network, error) {
	out, err := s.store.Update(ctx, visible, n)
	if err == nil {
		s.forget()
	}
	return out, err
}
