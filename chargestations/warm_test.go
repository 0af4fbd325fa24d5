package chargestations_test

import (
	"bytes"
	"testing"

	"github.com/evroam/evroam/chargestations"
)

// TestWarmUpServesEveryStationFromMemory: after a warm-up, which reads the registry from the
// database page by page, a GET of any station and a list page are answered from the cache,
// with the answers a read from the database gives.
func TestWarmUpServesEveryStationFromMemory(t *testing.T) {
	t.Parallel()
	// A cache that hears no notification: the creations' own would otherwise arrive during
	// the warm-up at random, and leave their stations out (as they should).
	e := newEnvWithCache(t, false)
	loc := e.mustLocation(e.Key)
	ids := e.mustStations(loc, "CS-WARM", 7)

	read, err := chargestations.WarmAnswersByPagesOf(t.Context(), e.Service, 3)
	if err != nil || read != len(ids) {
		t.Fatalf("the warm-up read %d stations (%v), want %d", read, err, len(ids))
	}
	hits, misses := e.Answers.Stats()
	warm := map[string][]byte{}
	for _, id := range ids {
		warm[id] = e.getStation(e.Key, id).Raw
	}
	items := listItems(t, e, "limit=10")
	if h, m := e.Answers.Stats(); h-hits != int64(2*len(ids)) || m != misses {
		t.Fatalf("after the warm-up, %d GETs and a list page of %d stations made %d hits and %d misses, want %d and 0",
			len(ids), len(ids), h-hits, m-misses, 2*len(ids))
	}
	if len(items) != len(ids) {
		t.Fatalf("the list page holds %d stations, want %d", len(items), len(ids))
	}

	e.Answers.Forget(ids...)
	for _, id := range ids {
		if fresh := e.getStation(e.Key, id).Raw; !bytes.Equal(fresh, warm[id]) {
			t.Errorf("station %s: the warmed answer differs from a read of the database:\n%s\n%s", id, warm[id], fresh)
		}
	}
}
