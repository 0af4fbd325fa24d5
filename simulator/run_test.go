package simulator_test

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/evroam/evroam/simulator"
)

func newFlagSet(cfg *simulator.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	return fs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFlags(t *testing.T) {
	t.Parallel()
	var cfg simulator.Config
	fs := newFlagSet(&cfg)
	err := fs.Parse([]string{"--url", "ws://127.0.0.1:1/ocpp", "--count", "7", "--prefix", "X-", "--digits", "3", "--first", "5",
		"--protocol", "mix", "--status-interval", "2s", "--create", "--api-key", "k"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Count != 7 || cfg.Identity(0) != "X-005" || cfg.Identity(6) != "X-011" || cfg.Protocol != simulator.ProtocolMix ||
		cfg.StatusInterval != 2*time.Second || !cfg.Create.Enabled || cfg.Create.APIURL != "http://localhost:8080/api/v1" {
		t.Errorf("parsed %+v", cfg)
	}
	if err := newFlagSet(&cfg).Parse([]string{"--protocol", "1.5"}); err == nil {
		t.Error("--protocol 1.5 was accepted")
	}
	if _, err := simulator.NewFleet(simulator.Config{URL: "http://x/ocpp", IdentityPrefix: "A/B"}); err == nil ||
		!strings.Contains(err.Error(), "gateway URL") || !strings.Contains(err.Error(), "identity") {
		t.Errorf("NewFleet with a bad URL and prefix: %v, want both named", err)
	}
}

// TestRunCLI runs what `evroam simulate` runs, writing plain progress lines (the output is
// not a terminal) and the latency table.
func TestRunCLI(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{HeartbeatInterval: time.Second})
	cfg := simulator.Config{URL: g.url, Count: 3, IdentityPrefix: "SIM-CLI", Duration: 1500 * time.Millisecond,
		ProgressInterval: 200 * time.Millisecond, HeartbeatInterval: 5 * time.Millisecond, StatusInterval: 5 * time.Millisecond}
	for i := range cfg.Count {
		g.reg.AddStation(cfg.Identity(i), 0, "", false)
	}
	var out syncBuffer
	if err := simulator.Run(t.Context(), cfg, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	got := out.String()
	// Heartbeats on their way when the time is up are cut short, not failed: no errors.
	for _, want := range []string{"simulating 3 stations (OCPP 1.6)", "connected 3/3  booted 3", "done: at most 3 of 3 connected",
		"; 0 errors (",
		"BootNotification", "Heartbeat", "p99"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\r") {
		t.Errorf("progress rewrote a line on a non-terminal:\n%q", got)
	}
	g.reg.Do(func(r *ocpptest.Registry) {
		if len(r.Boots) != 3 {
			t.Errorf("%d boots, want 3", len(r.Boots))
		}
	})
}

func TestRunCLINoStation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	var out syncBuffer
	err := simulator.Run(t.Context(), simulator.Config{URL: g.url, Count: 2, Duration: 300 * time.Millisecond}, &out)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("Run against a gateway that knows no station: %v, want the 404 named", err)
	}
}
