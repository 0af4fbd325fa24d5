package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

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
	name(eA)
	name(eA)
	if hits := metricValue(t, srvA.URL, "evroam_station_answer_cache_hits_total"); hits < 1 {
		t.Fatalf("the second GET on node A was not answered from its cache (hits %v)", hits)
	}

	// This node's own writes: seen by the very next read, every time.
	for i := range 20 {
		want := fmt.Sprintf("renamed on A %d", i)
		rename(eA, want)
		if got := name(eA); got != want {
			t.Fatalf("GET right after PATCH on the same node: name %q, want %q", got, want)
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
