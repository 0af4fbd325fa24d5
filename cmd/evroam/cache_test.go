package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/internal/pgtest"
)

// TestStationAnswersAreNeverStale: GET of one station is served from each node's answer cache,
// yet a change is seen at once on the node that made it, within a notification on another
// node, and a node that lost its database connection (and so its change notifications) does
// not serve what it cached before.
func TestStationAnswersAreNeverStale(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	proxy, viaProxy := pgtest.NewProxy(t, dbURL)
	a, srvA := startNode(t, viaProxy, "node-a")
	b, srvB := startNode(t, dbURL, "node-b")
	eA := &e2e{t: t, app: a, api: srvA.URL}
	eB := &e2e{t: t, app: b, api: srvB.URL}
	eB.station("CS-CACHE", "", 0)

	name := func(e *e2e) string {
		var s struct{ Name *string }
		e.must("GET", "/api/v1/chargestations/CS-CACHE", nil, 200, &s)
		if s.Name == nil {
			return ""
		}
		return *s.Name
	}
	rename := func(e *e2e, to string) {
		e.must("PATCH", "/api/v1/chargestations/CS-CACHE", map[string]any{"name": to}, 200, nil)
	}

	// The cache serves once its change listener is connected (at start, shortly after).
	eventually(t, "node A's answer cache serving", func() error {
		if !a.answers.Serving() {
			return errors.New("not listening yet")
		}
		return nil
	})
	// A GET keeps its answer unless a change of the station was heard while it read (here the
	// notification of its creation may arrive late): a later one is answered from the cache.
	eventually(t, "a GET on node A answered from its cache", func() error {
		name(eA)
		if hits := metricValue(t, srvA.URL, "evroam_station_answer_cache_hits_total"); hits < 1 {
			return fmt.Errorf("hits %v", hits)
		}
		return nil
	})

	// This node's own writes: seen by the very next read, every time.
	for i := range 20 {
		want := fmt.Sprintf("renamed on A %d", i)
		rename(eA, want)
		if got := name(eA); got != want {
			t.Fatalf("GET right after PATCH on the same node: name %q, want %q", got, want)
		}
	}
	// A list page shows another node's write at once, its notification heard or not: it
	// serves a cached answer only of the row version it read.
	listName := func(e *e2e) string {
		var list []struct {
			ID   string `json:"charge_station_id"`
			Name *string
		}
		e.must("GET", "/api/v1/chargestations?limit=10", nil, 200, &list)
		if len(list) != 1 || list[0].ID != "CS-CACHE" {
			t.Fatalf("list = %+v, want CS-CACHE alone", list)
		}
		if list[0].Name == nil {
			return ""
		}
		return *list[0].Name
	}
	for i := range 10 {
		listName(eA) // cached
		want := fmt.Sprintf("renamed on B for the list %d", i)
		rename(eB, want)
		if got := listName(eA); got != want {
			t.Fatalf("list on node A right after PATCH on node B: name %q, want %q", got, want)
		}
	}

	// Another node's write: seen once its notification arrives.
	rename(eB, "renamed on B")
	eventually(t, "node A sees node B's write", func() error {
		if got := name(eA); got != "renamed on B" {
			return fmt.Errorf("name %q", got)
		}
		return nil
	})

	// Node A loses the database (and its notifications); node B changes the station meanwhile.
	name(eA) // cached again
	proxy.Cut()
	rename(eB, "renamed while A was away")
	proxy.Restore()
	eventually(t, "node A answers again", func() error {
		if code, _ := eA.do("GET", "/api/v1/chargestations/CS-CACHE", nil); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		return nil
	})
	if got := name(eA); got != "renamed while A was away" {
		t.Errorf("after the outage node A answers name %q, want the change made meanwhile", got)
	}
}

// TestWarmUpAfterStart: a node started with EVROAM_STATION_CACHE_WARM_AFTER reads the
// stations registered before it started into its answer cache, and answers their first GET
// from memory; after it lost the database (and so its cache), it warms the cache again.
func TestWarmUpAfterStart(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	proxy, viaProxy := pgtest.NewProxy(t, dbURL)
	a, srvA := startNode(t, dbURL, "node-a")
	eA := &e2e{t: t, app: a, api: srvA.URL}
	eA.station("CS-WARM-1", "", 0)
	eA.station("CS-WARM-2", "", 0)

	b, srvB := startNodeWith(t, viaProxy, "node-b", slog.New(slog.NewTextHandler(io.Discard, nil)),
		map[string]string{"EVROAM_STATION_CACHE_WARM_AFTER": "0s"})
	eB := &e2e{t: t, app: b, api: srvB.URL}
	eventually(t, "node B's warm-up", func() error {
		if n := metricValue(t, srvB.URL, "evroam_station_answer_cache_warm_ups_total"); n != 1 {
			return fmt.Errorf("%v warm-ups finished", n)
		}
		return nil
	})
	if n := metricValue(t, srvB.URL, "evroam_station_answer_cache_warmed_stations_total"); n != 2 {
		t.Errorf("node B warmed %v stations, want the 2 registered", n)
	}
	for _, id := range []string{"CS-WARM-1", "CS-WARM-2"} {
		var s struct {
			ID string `json:"charge_station_id"`
		}
		eB.must("GET", "/api/v1/chargestations/"+id, nil, 200, &s)
		if s.ID != id {
			t.Errorf("GET %s on node B answered station %q", id, s.ID)
		}
	}
	hits := metricValue(t, srvB.URL, "evroam_station_answer_cache_hits_total")
	misses := metricValue(t, srvB.URL, "evroam_station_answer_cache_misses_total")
	if hits != 2 || misses != 0 {
		t.Errorf("the first GETs of the two stations on node B: %v hits, %v misses, want both from its cache", hits, misses)
	}

	// The database goes away and comes back: the cache forgot everything, and is warmed again.
	proxy.Cut()
	proxy.Restore()
	eventually(t, "node B's second warm-up", func() error {
		if n := metricValue(t, srvB.URL, "evroam_station_answer_cache_warm_ups_total"); n != 2 {
			return fmt.Errorf("%v warm-ups finished", n)
		}
		return nil
	})
	eB.must("GET", "/api/v1/chargestations/CS-WARM-1", nil, 200, nil)
	if h, m := metricValue(t, srvB.URL, "evroam_station_answer_cache_hits_total"), metricValue(t, srvB.URL, "evroam_station_answer_cache_misses_total"); h != hits+1 || m != misses {
		t.Errorf("a GET after the second warm-up: %v more hits and %v more misses, want it from the cache", h-hits, m-misses)
	}
}

// metricValue reads one unlabelled series from /metrics.
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + series + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", series)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestCommandsFindStationsInTheAnswerCache: a charger command reads the station it is sent to
// (its network, for the caller's access, and its protocol, which decides what the command
// may ask) once, then from the node's answer cache; a change of the station on any node
// clears it there.
func TestCommandsFindStationsInTheAnswerCache(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	a, srvA := startNode(t, dbURL, "node-a")
	b, srvB := startNode(t, dbURL, "node-b")
	eA := &e2e{t: t, app: a, api: srvA.URL}
	eB := &e2e{t: t, app: b, api: srvB.URL}
	eB.station("CS-CMDCACHE", "", 0)
	eventually(t, "node A's answer cache serving", func() error {
		if !a.answers.Serving() {
			return errors.New("not listening yet")
		}
		return nil
	})
	setProtocol := func(proto string, notify bool) {
		t.Helper()
		conn, err := a.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if !notify { // no trigger runs: no change notification, as if the cache were never told
			if _, err := conn.ExecContext(t.Context(), `SET session_replication_role = replica`); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(context.WithoutCancel(t.Context()), `SET session_replication_role = DEFAULT`)
		}
		if _, err := conn.ExecContext(t.Context(), `UPDATE charge_stations SET protocol_version = $1 WHERE id = 'CS-CMDCACHE'`, proto); err != nil {
			t.Fatal(err)
		}
	}
	// Resetting one EVSE is refused (422) for an OCPP 1.6 station and tried (409: it is not
	// connected) for a 2.0.1 one.
	resetEVSE := func() int {
		code, _ := eA.do("POST", "/api/v1/chargers/CS-CMDCACHE/reset", map[string]any{"type": "Soft", "evseId": 1})
		return code
	}

	// heardAll waits until node A has heard every change notification committed so far: it
	// sends one more, naming a cached entry nothing else names, and waits for that entry to go
	// (notifications arrive in commit order). Without it, the notification of a change made
	// before could arrive after a command read the changed station, and clear what it cached.
	fences := 0
	heardAll := func() {
		t.Helper()
		fences++
		fence := fmt.Sprintf("fence-%d", fences)
		a.answers.Keep(fence, a.answers.Epoch(fence), chargestations.CachedAnswer{Body: []byte("{}")})
		if _, ok := a.answers.Lookup(fence); !ok {
			t.Fatal("node A's answer cache does not keep the fence entry")
		}
		if _, err := a.db.ExecContext(t.Context(), `SELECT pg_notify('charge_stations_changed', $1)`, fence); err != nil {
			t.Fatal(err)
		}
		eventually(t, "node A hears "+fence, func() error {
			if _, ok := a.answers.Lookup(fence); ok {
				return errors.New("not heard yet")
			}
			return nil
		})
	}

	setProtocol("Ocpp16", true)
	heardAll()
	eventually(t, "node A reads the 1.6 station", func() error {
		if code := resetEVSE(); code != 422 {
			return fmt.Errorf("reset of EVSE 1: %d, want 422", code)
		}
		return nil
	})
	// Unheard, the station's change stays unseen on node A: the command was answered from the
	// cache, not by reading the station again.
	setProtocol("Ocpp201", false)
	if code := resetEVSE(); code != 422 {
		t.Fatalf("reset of EVSE 1 after an unheard change: %d, want 422 from the cache", code)
	}
	// A change made as every writer makes it is heard, and the next command reads it.
	setProtocol("Ocpp201", true)
	eventually(t, "node A hears the change", func() error {
		if code := resetEVSE(); code != 409 {
			return fmt.Errorf("reset of EVSE 1 of a 2.0.1 station not connected: %d, want 409", code)
		}
		return nil
	})
	// A key of another network does not find the cached station.
	if code, body := eA.doKey(eA.otherKey(), "POST", "/api/v1/chargers/CS-CMDCACHE/reset", map[string]any{"type": "Soft"}); code != 404 {
		t.Errorf("reset with another network's key: %d %s, want 404", code, body)
	}
	// Deleted through node B: gone on node A too.
	eB.must("DELETE", "/api/v1/chargestations/CS-CMDCACHE", nil, 204, nil)
	eventually(t, "node A hears the delete", func() error {
		if code := resetEVSE(); code != 404 {
			return fmt.Errorf("reset of a deleted station: %d, want 404", code)
		}
		return nil
	})
}
