package networks_test

import (
	"errors"
	"slices"
	"strings"
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

// TestKeysAtRest: nothing of a key is stored in clear (not even its first characters): every
// column of its row, as text, is searched for any 8 characters of the key. Short keys are
// refused.
func TestKeysAtRest(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := networks.NewStore(db)
	ctx := t.Context()
	root, err := store.EnsureRoot(ctx, "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	made, err := store.CreateKey(ctx, root.ID, "made", false)
	if err != nil {
		t.Fatal(err)
	}
	const chosen = "an-operator-chosen-admin-key-0123456789"
	if err := store.EnsureKey(ctx, root.ID, chosen, "chosen", true); err != nil {
		t.Fatal(err)
	}
	var rows []string
	if err := db.Select(&rows, `SELECT k::text FROM api_keys k`); err != nil || len(rows) != 2 {
		t.Fatalf("api_keys rows: %v %v", rows, err)
	}
	for _, key := range []string{made, chosen} {
		for i := 0; i+8 <= len(key); i++ {
			for _, row := range rows {
				if strings.Contains(row, key[i:i+8]) {
					t.Fatalf("api_keys row %s holds %q of a key", row, key[i:i+8])
				}
			}
		}
		if _, err := store.Authenticate(ctx, key); err != nil {
			t.Errorf("Authenticate(%s…): %v", key[:4], err)
		}
	}
	if _, err := store.Authenticate(ctx, chosen[:31]); !errors.Is(err, networks.ErrBadKey) {
		t.Errorf("a 31-character prefix of a key: %v, want ErrBadKey", err)
	}
	if err := store.EnsureKey(ctx, root.ID, chosen[:31], "short", true); err == nil {
		t.Error("a 31-character key was stored")
	}
}
