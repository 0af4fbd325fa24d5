package chargestations_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
)

// listItems is a list page's items as the API wrote them.
func listItems(t *testing.T, e *env, query string) map[string]json.RawMessage {
	t.Helper()
	r := e.Do(http.MethodGet, "/api/v1/chargestations?"+query, nil).Must(t, http.StatusOK)
	var items []json.RawMessage
	r.Decode(t, &items)
	out := map[string]json.RawMessage{}
	for _, it := range items {
		var s stationJSON
		if err := json.Unmarshal(it, &s); err != nil {
			t.Fatal(err)
		}
		out[s.ChargeStationID] = it
	}
	return out
}

// TestListServesTheRowVersionItFound: a list page serves a station's cached answer only when
// it was rendered from the row version the page found. A change made in the database behind
// this node (by another node, or the gateway), whose notification this node has not heard,
// shows on the next page all the same.
func TestListServesTheRowVersionItFound(t *testing.T) {
	t.Parallel()
	e := newEnvWithCache(t, false) // hears no change made behind the API
	loc := e.mustLocation(e.Key)
	ids := e.mustStations(loc, "CS-LISTCACHE", 3)

	first := listItems(t, e, "limit=10")
	hits, _ := e.Answers.Stats()
	again := listItems(t, e, "limit=10")
	if h, _ := e.Answers.Stats(); h-hits != 3 {
		t.Fatalf("the second page took %d of its 3 stations from the cache, want all", h-hits)
	}
	for _, id := range ids {
		if !bytes.Equal(first[id], again[id]) {
			t.Errorf("station %s: the cached answer differs from the one read:\n%s\n%s", id, first[id], again[id])
		}
	}

	if _, err := e.DB.Exec(`UPDATE charge_stations SET name = 'renamed behind this node' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	after := listItems(t, e, "limit=10")
	var renamed stationJSON
	if err := json.Unmarshal(after[ids[1]], &renamed); err != nil || renamed.Name == nil || *renamed.Name != "renamed behind this node" {
		t.Errorf("after a change behind the cache the page shows %s, want the new name", after[ids[1]])
	}
	for _, id := range []string{ids[0], ids[2]} {
		if !bytes.Equal(after[id], first[id]) {
			t.Errorf("station %s did not change but its answer did:\n%s\n%s", id, first[id], after[id])
		}
	}
}

// TestListPageReadAgainWhenAStationChangesMeanwhile: the stations a page lacks in the cache
// are read after the page itself. When one of them changed or went away in between, the page
// is not served that way (the handler reads it again in one statement), so a sync client never
// gets a station's new version at its old place.
func TestListPageReadAgainWhenAStationChangesMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnvWithCache(t, true)
	loc := e.mustLocation(e.Key)
	ids := e.mustStations(loc, "CS-LISTRACE", 3)
	ctx := t.Context()
	visible := []uuid.UUID{e.Root.ID}
	entries, _, err := e.Service.ListEntries(ctx, visible, chargestations.Filter{}, paging.Page{Limit: 10})
	if err != nil || len(entries) != 3 {
		t.Fatalf("ListEntries = %d entries, %v; want 3", len(entries), err)
	}
	fetchAfter := func(change string, args ...any) func([]string) ([]chargestations.ChargeStation, error) {
		return func(lacking []string) ([]chargestations.ChargeStation, error) {
			if change != "" {
				if _, err := e.DB.Exec(change, args...); err != nil {
					t.Fatal(err)
				}
			}
			return e.Service.GetMany(ctx, visible, lacking)
		}
	}

	bodies, ok, err := chargestations.PageFromCache(e.Answers, entries, fetchAfter(""))
	if err != nil || !ok {
		t.Fatalf("a page nothing raced was not served: ok %v, err %v", ok, err)
	}
	for i, b := range bodies {
		if !strings.Contains(string(b), `"charge_station_id":"`+entries[i].ID+`"`) {
			t.Errorf("item %d is %s, want station %s", i, b, entries[i].ID)
		}
	}
	_, ok, err = chargestations.PageFromCache(e.Answers, entries, func([]string) ([]chargestations.ChargeStation, error) {
		t.Error("a page whose stations are all cached read the database")
		return nil, nil
	})
	if err != nil || !ok {
		t.Fatalf("a page whose stations are all cached was not served: ok %v, err %v", ok, err)
	}

	e.Answers.Forget(ids[1])
	_, ok, err = chargestations.PageFromCache(e.Answers, entries, fetchAfter(
		`UPDATE charge_stations SET remarks = 'changed meanwhile' WHERE id = $1`, ids[1]))
	if err != nil || ok {
		t.Errorf("a station changed between the page and its read: ok %v, err %v; want the page read again", ok, err)
	}
	e.Answers.Forget(ids[2])
	_, ok, err = chargestations.PageFromCache(e.Answers, entries, fetchAfter(`DELETE FROM charge_stations WHERE id = $1`, ids[2]))
	if err != nil || ok {
		t.Errorf("a station deleted between the page and its read: ok %v, err %v; want the page read again", ok, err)
	}
	// And through the API the page is right: the changed station as it is, the deleted one gone.
	got := listItems(t, e, "limit=10")
	if len(got) != 2 || !strings.Contains(string(got[ids[1]]), "changed meanwhile") {
		t.Errorf("the page after the race holds %d stations (%s), want 2 with the change", len(got), got[ids[1]])
	}
}

// TestSyncExcludingEVSEChangesPagesByTheStationsOwnTime: with exclude_evses_modified=true the
// pages are in the order of the stations' own changes, and so is the cursor of their Link: a
// station whose EVSE changed since (its last_updated moved, its own time did not) ends a page,
// and the next page starts after its own time, not after its EVSE change. With and without the
// answer cache.
func TestSyncExcludingEVSEChangesPagesByTheStationsOwnTime(t *testing.T) {
	t.Parallel()
	for name, newEnv := range map[string]func(testing.TB) *env{
		"from the database":     newEnv,
		"from the answer cache": func(t testing.TB) *env { return newEnvWithCache(t, true) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			loc := e.mustLocation(e.Key)
			ids := []string{"CS-OWN-0", "CS-OWN-1", "CS-OWN-2", "CS-OWN-3"}
			for _, id := range ids { // one after the other: their own times are in this order
				e.Do(http.MethodPost, "/api/v1/chargestations", manual(id, loc, dcEVSE())).Must(t, http.StatusCreated)
			}
			e.Do(http.MethodPatch, "/api/v1/chargestations/"+ids[0]+"/evses/"+ids[0]+"-1", map[string]any{"floor_level": "-1"}).
				Must(t, http.StatusOK)
			var seen []string
			next := "exclude_evses_modified=true&limit=1"
			for page := 0; next != ""; page++ {
				got, resp := listIDs(t, e, next)
				seen = append(seen, got...)
				next = ""
				if resp.link != "" {
					u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(resp.link, "<"), `>; rel="next"`))
					if err != nil {
						t.Fatal(err)
					}
					next = u.RawQuery
				}
				if page > 10 {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(seen, ids) {
				t.Errorf("pages of one station each gave %v, want %v (in the order the stations were made)", seen, ids)
			}
		})
	}
}
