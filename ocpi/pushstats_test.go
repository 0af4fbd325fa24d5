package ocpi

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestPushStats checks the counts metrics read: a push accepted, attempts failing while the
// receiver is down, and the queue while they wait.
func TestPushStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, true)
	e.registerPartner(f, "eMSP with receiver")
	p := NewPusher(e.db, NewView(e.db), PushConfig{DatabaseURL: e.dbURL, Outbound: testOutbound, PollInterval: 500 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	loc := e.location("Stats site")
	e.station("ST-1", loc, "Production", 1)
	waitPushes(t, f, 1)
	waitPushStat(t, "a push counted as sent", func() bool { return p.Stats().Sent.Load() >= 1 })
	// The push leaves the queue once its row is deleted, just after the partner accepted it.
	waitPushStat(t, "an empty queue", func() bool { n, err := p.Queued(t.Context()); return err == nil && n == 0 })

	f.setDown(true)
	e.setStatus("ST-1", 1, "Charging", "CHARGING")
	waitPushStat(t, "failed attempts counted", func() bool { return p.Stats().Failed.Load() >= 2 })
	if n, err := p.Queued(t.Context()); err != nil || n < 1 {
		t.Errorf("Queued while the receiver is down = %d, %v; want at least 1", n, err)
	}
	if n := p.Stats().Dropped.Load(); n != 0 {
		t.Errorf("Dropped = %d: a partner that is down is retried, never dropped", n)
	}
}

func waitPushStat(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
