package chargestations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// registry is n stations of one network, read by id as Store.PageByID reads them; during,
// when set, runs while a page is read (after its statement started, before it returns).
func registry(n int, during func(page []ChargeStation)) pageReader {
	network := uuid.New()
	all := make([]ChargeStation, n)
	for i := range all {
		all[i] = ChargeStation{ID: fmt.Sprintf("CS-%05d", i), NetworkID: network, ETag: uuid.New(), RowVersion: 1}
	}
	return func(_ context.Context, after string, limit int) ([]ChargeStation, error) {
		i, _ := slices.BinarySearchFunc(all, after, func(cs ChargeStation, id string) int {
			if cs.ID <= id {
				return -1
			}
			return 1
		})
		page := slices.Clone(all[i:min(i+limit, len(all))])
		if during != nil {
			during(page)
		}
		return page, nil
	}
}

// TestWarmUpKeepsNoAnswerOfAStationChangedWhileItsPageWasRead: a change heard while a
// warm-up's page is read (the page may hold the station as it was before) leaves that
// station out of the cache; the other stations are kept. A change is heard per shard of the
// cache (an epoch per shard), so a station of the same page that shares the changed
// station's shard may be left out too: that costs one read later, never a stale answer.
func TestWarmUpKeepsNoAnswerOfAStationChangedWhileItsPageWasRead(t *testing.T) {
	c := enabledCache(1 << 20)
	changed := "CS-00003"
	read, err := warm(t.Context(), c, registry(10, func(page []ChargeStation) {
		if slices.ContainsFunc(page, func(cs ChargeStation) bool { return cs.ID == changed }) {
			c.Forget(changed) // its notification arrives while the page is on its way
		}
	}), 4)
	if err != nil || read != 10 {
		t.Fatalf("warm-up read %d stations (%v), want all 10", read, err)
	}
	samePage := func(id string) bool { return id >= "CS-00000" && id <= "CS-00003" } // pages of 4
	for i := range 10 {
		id := fmt.Sprintf("CS-%05d", i)
		_, ok := c.Lookup(id)
		switch {
		case id == changed && ok:
			t.Errorf("%s: in the cache after the warm-up although it changed while its page was read", id)
		case id != changed && !ok && !(samePage(id) && c.shardIndex(id) == c.shardIndex(changed)):
			t.Errorf("%s: not in the cache after the warm-up, want it kept", id)
		}
	}
	if _, warmUps := c.WarmStats(); warmUps != 1 {
		t.Errorf("%d warm-ups counted, want 1", warmUps)
	}
}

// TestWarmUpFillsThreeQuartersOfTheCache: a registry larger than the cache is read until the
// cache is three quarters full, not to the end (the rest of the cache is for the stations
// asked for; reading on would only replace answers).
func TestWarmUpFillsThreeQuartersOfTheCache(t *testing.T) {
	one, err := render(ChargeStation{ID: "CS-00000", ETag: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	bound := 64 * 40 * one.size() // room for about 2,560 answers in all
	c := enabledCache(bound)
	read, err := warm(t.Context(), c, registry(10_000, nil), 100)
	if err != nil {
		t.Fatal(err)
	}
	if read >= 10_000 {
		t.Fatalf("warm-up read all %d stations into a cache with room for about 2,560", read)
	}
	if held := c.bytes(); held < bound*3/4 || held > bound {
		t.Errorf("warm-up left %d bytes in a cache of %d, want three quarters of it or a little more", held, bound)
	}
}

// TestWarmUpOnlyWhileTheCacheServes: a cache that does not listen for changes could not
// trust what it kept; a warm-up of it reads nothing and says so. The cache tells each time it
// starts serving (empty), once per start.
func TestWarmUpOnlyWhileTheCacheServes(t *testing.T) {
	c := NewAnswerCache(1 << 20)
	read, err := warm(t.Context(), c, registry(3, func([]ChargeStation) { t.Error("a page was read before the cache served") }), 10)
	if !errors.Is(err, ErrCacheNotServing) || read != 0 {
		t.Fatalf("warm-up of a cache that does not serve: read %d, %v; want 0, ErrCacheNotServing", read, err)
	}
	select {
	case <-c.Servings():
		t.Fatal("a cache that never served announced a start")
	default:
	}
	c.serve()
	c.serve() // as twice in a row before anyone received: one start to warm after
	<-c.Servings()
	select {
	case <-c.Servings():
		t.Fatal("two starts announced where one was waiting")
	default:
	}
	if read, err := warm(t.Context(), c, registry(3, nil), 10); err != nil || read != 3 {
		t.Fatalf("warm-up once the cache serves: read %d, %v", read, err)
	}
	if _, ok := c.Lookup("CS-00001"); !ok {
		t.Error("the warm-up kept nothing once the cache served")
	}
}
