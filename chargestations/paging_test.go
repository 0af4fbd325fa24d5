package chargestations_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSyncFollowingLinkMissesNothing: a client pages through the whole list by its Link
// headers while stations it has not reached yet and stations it has passed change. Every
// station is seen at least once (a changed station moves to the end of the order and is met
// again there); the pages are keyset pages (after=…), not offsets.
// It runs with and without the answer cache, which serves pages from rendered answers.
func TestSyncFollowingLinkMissesNothing(t *testing.T) {
	t.Parallel()
	t.Run("from the database", func(t *testing.T) { t.Parallel(); syncMissesNothing(t, newEnv(t)) })
	t.Run("from the answer cache", func(t *testing.T) { t.Parallel(); syncMissesNothing(t, newEnvWithCache(t, true)) })
}

func syncMissesNothing(t *testing.T, e *env) {
	loc := e.mustLocation(e.Key)
	ids := e.mustStations(loc, "CS-PAGE", 60)

	seen := map[string]int{}
	next := "/api/v1/chargestations?limit=10"
	for page := 0; next != ""; page++ {
		got, resp := listIDs(t, e, strings.TrimPrefix(next, "/api/v1/chargestations?"))
		for _, id := range got {
			seen[id]++
		}
		if resp.total != "60" {
			t.Fatalf("page %d: X-Total-Count %s, want 60", page, resp.total)
		}
		if page == 1 {
			// Change one station behind the cursor and one ahead of it, as the gateway or an
			// operator would while a partner syncs.
			e.Do(http.MethodPatch, "/api/v1/chargestations/"+got[0], map[string]any{"name": "changed behind"}).Must(t, http.StatusOK)
			e.Do(http.MethodPatch, "/api/v1/chargestations/"+ids[55], map[string]any{"name": "changed ahead"}).Must(t, http.StatusOK)
		}
		if resp.link == "" {
			break
		}
		u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(resp.link, "<"), `>; rel="next"`))
		if err != nil || u.Query().Get("after") == "" || u.Query().Has("offset") || u.Query().Get("limit") != "10" {
			t.Fatalf("Link %q: want an absolute URL with after=…, limit=10 and no offset", resp.link)
		}
		next = "/api/v1/chargestations?" + u.RawQuery
		if page > 20 {
			t.Fatal("paging does not end")
		}
	}
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("station %s was never seen during the sync", id)
		}
	}
	changedBehind := ""
	for id, n := range seen {
		if n > 1 {
			changedBehind = id
		}
	}
	if changedBehind == "" {
		t.Error("the station changed behind the cursor was not met again at the end")
	}
}

// TestListTotalFollowsCreatesDeletesAndMoves: X-Total-Count of an unfiltered list comes from
// kept counts, which must follow every way a station enters or leaves a network.
func TestListTotalFollowsCreatesDeletesAndMoves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, aKey := e.Network(uuidNil, "AAA")
	b, bKey := e.Network(uuidNil, "BBB")
	locA := e.mustLocation(aKey)
	for _, id := range []string{"CS-T1", "CS-T2", "CS-T3"} {
		e.DoKey(aKey, http.MethodPost, "/api/v1/chargestations", manual(id, locA, dcEVSE())).Must(t, http.StatusCreated)
	}
	total := func(key string) int {
		t.Helper()
		r := e.DoKey(key, http.MethodGet, "/api/v1/chargestations?limit=1", nil).Must(t, http.StatusOK)
		n, err := strconv.Atoi(r.Header.Get("X-Total-Count"))
		if err != nil {
			t.Fatalf("X-Total-Count %q", r.Header.Get("X-Total-Count"))
		}
		return n
	}
	if got := []int{total(aKey), total(bKey), total(e.Key)}; !slices.Equal(got, []int{3, 0, 3}) {
		t.Errorf("after 3 creates in A: totals A, B, root = %v, want [3 0 3]", got)
	}
	e.DoKey(aKey, http.MethodDelete, "/api/v1/chargestations/CS-T3", nil).Must(t, http.StatusNoContent)
	e.Do(http.MethodPatch, "/api/v1/locations/"+locA, map[string]any{"network_id": b.ID}).Must(t, http.StatusOK)
	if got := []int{total(aKey), total(bKey), total(e.Key)}; !slices.Equal(got, []int{0, 2, 2}) {
		t.Errorf("after a delete and a move to B: totals A, B, root = %v, want [0 2 2]", got)
	}
	// A filtered list counts its matches.
	r := e.DoKey(bKey, http.MethodGet, "/api/v1/chargestations?location_id="+locA+"&limit=1", nil).Must(t, http.StatusOK)
	if r.Header.Get("X-Total-Count") != "2" {
		t.Errorf("filtered X-Total-Count = %s, want 2", r.Header.Get("X-Total-Count"))
	}
}
