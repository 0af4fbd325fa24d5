package networks_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/networks"
	"github.com/google/uuid"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestAuthenticateRemembersKeysBriefly: a key's principal is remembered for KeyTTL, so a
// key deleted from the database keeps working that long and no longer; a network created
// through the service is seen by its parent's key at once.
func TestAuthenticateRemembersKeysBriefly(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := networks.NewStore(db)
	clock := &fakeClock{t: time.Now()}
	svc := networks.NewService(store, clock.now)
	ctx := t.Context()
	root, err := store.EnsureRoot(ctx, "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	key, err := store.CreateKey(ctx, root.ID, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, key)
	if err != nil || !slices.Equal(p.Networks, []uuid.UUID{root.ID}) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	child, err := svc.Create(ctx, networks.Network{Name: "child", CountryCode: "NL", PartyID: "CHD", ParentID: &root.ID})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := svc.Authenticate(ctx, key); !p.Sees(child.ID) {
		t.Errorf("the parent's key does not see a network created through the service: %v", p.Networks)
	}

	if _, err := db.Exec(`DELETE FROM api_keys`); err != nil {
		t.Fatal(err)
	}
	clock.add(networks.KeyTTL / 2)
	if _, err := svc.Authenticate(ctx, key); err != nil {
		t.Errorf("within KeyTTL a remembered key is answered from memory: %v", err)
	}
	clock.add(networks.KeyTTL)
	if _, err := svc.Authenticate(ctx, key); !errors.Is(err, networks.ErrBadKey) {
		t.Errorf("after KeyTTL a deleted key: err = %v, want ErrBadKey", err)
	}
}
