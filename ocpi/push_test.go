package ocpi

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// startPusher runs a pusher on e's database until the returned stop is called (or the test
// ends); stop waits for it to return.
func (e *env) startPusher() (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := NewPusher(e.db, NewView(e.db), PushConfig{
		DatabaseURL: e.dbURL, Outbound: testOutbound, PollInterval: 500 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("pusher: %v", err)
			}
		case <-time.After(10 * time.Second):
			e.t.Errorf("pusher did not stop")
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// waitPushes waits until the partner has received n pushes and returns them.
func waitPushes(t testing.TB, f *fakePartner, n int) []pushRecord {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := f.recorded()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("partner got %d pushes, want %d: %+v", len(got), n, summary(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func summary(ps []pushRecord) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Method + " " + p.Path
	}
	return out
}

// checkPush validates a push: PUT bodies against the receiver's PUT Location schema, PATCH
// bodies against EVSEPatch; it returns the pushed status (PATCH) or the EVSE statuses (PUT).
func checkPush(t testing.TB, p pushRecord, method, path string) []string {
	t.Helper()
	if p.Method != method || p.Path != path {
		t.Fatalf("push %s %s, want %s %s", p.Method, p.Path, method, path)
	}
	switch method {
	case "PUT":
		mustMatchOAS(t, oasLocation, p.Body)
		var l Location
		json.Unmarshal(p.Body, &l)
		var st []string
		for _, e := range l.EVSEs {
			st = append(st, string(e.Status))
		}
		return st
	default:
		mustMatchOAS(t, oasEVSEPatch, p.Body)
		var patch map[string]any
		json.Unmarshal(p.Body, &patch)
		if len(patch) != 2 || patch["last_updated"] == nil {
			t.Errorf("PATCH body %s, want status and last_updated only", p.Body)
		}
		s, _ := patch["status"].(string)
		return []string{s}
	}
}

func TestPush(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, true)
	e.registerPartner(f, "eMSP with receiver")
	other := newFakePartner(t, false) // no receiver: never pushed to
	e.registerPartner(other, "eMSP without receiver")
	stop := e.startPusher()

	loc := e.location("Push site")
	e.station("PS-1", loc, "Stock", 2)
	e.setStatus("PS-1", 1, "Preparing", "CHARGING") // unpublished: no push
	e.deployState("PS-1", "Production")
	locPath := "/NL/EVR/" + loc
	got := waitPushes(t, f, 1)
	if st := checkPush(t, got[0], "PUT", locPath); strings.Join(st, ",") != "CHARGING,UNKNOWN" {
		t.Errorf("PUT statuses %v", st)
	}
	e.setStatus("PS-1", 2, "Available", "AVAILABLE")
	got = waitPushes(t, f, 2)
	if st := checkPush(t, got[1], "PATCH", locPath+"/PS-1-2"); st[0] != "AVAILABLE" {
		t.Errorf("PATCH status %v", st)
	}
	// A change of the location itself is a PUT.
	e.admin("PATCH", "/api/v1/locations/"+loc, map[string]any{"name": "Push site (renamed)"}).must(t, 200)
	got = waitPushes(t, f, 3)
	checkPush(t, got[2], "PUT", locPath)
	if !strings.Contains(string(got[2].Body), "Push site (renamed)") {
		t.Errorf("PUT after rename: %s", got[2].Body)
	}

	// Receiver down: pushes wait, are retried, and survive a restart of the pusher.
	f.setDown(true)
	e.setStatus("PS-1", 2, "Charging", "CHARGING")
	e.deployState("PS-1", "Stock") // both EVSEs REMOVED: a PUT of the location
	deadline := time.Now().Add(10 * time.Second)
	for {
		var attempts int
		if err := e.db.Get(&attempts, `SELECT coalesce(max(attempts), 0) FROM ocpi_deliveries`); err != nil {
			t.Fatal(err)
		}
		if attempts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retries while the receiver is down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	var queued int
	e.db.Get(&queued, `SELECT count(*) FROM ocpi_deliveries`)
	if queued < 2 {
		t.Errorf("%d pushes queued while down, want at least 2 (PATCH, PUT)", queued)
	}
	f.setDown(false)
	e.startPusher()
	got = waitPushes(t, f, 5)
	if st := checkPush(t, got[3], "PATCH", locPath+"/PS-1-2"); st[0] != "REMOVED" && st[0] != "CHARGING" {
		t.Errorf("PATCH after restart: %v", st)
	}
	if st := checkPush(t, got[4], "PUT", locPath); strings.Join(st, ",") != "REMOVED,REMOVED" {
		t.Errorf("PUT after restart: statuses %v, want REMOVED,REMOVED", st)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(f.recorded()); n != 5 {
		t.Errorf("partner got %d pushes, want exactly 5: %v", n, summary(f.recorded()))
	}
	if n := len(other.recorded()); n != 0 {
		t.Errorf("partner without receiver got %d pushes", n)
	}
	e.db.Get(&queued, `SELECT count(*) FROM ocpi_deliveries`)
	if queued != 0 {
		t.Errorf("%d pushes left in the queue", queued)
	}
}
