package ocpp_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/gorilla/websocket"
)

// loginEnv is a gateway with a clock the test moves and a log the test reads.
type loginEnv struct {
	srv   *ocpp.Server
	reg   *ocpptest.Registry
	url   string
	clock *testClock
	log   *syncBuffer
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newLoginEnv(t *testing.T, cfg ocpp.Config) *loginEnv {
	t.Helper()
	e := &loginEnv{reg: ocpptest.New(), clock: &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, log: &syncBuffer{}}
	cfg.Now = e.clock.Now
	cfg.HeartbeatFlushInterval = 10 * time.Millisecond
	// The test speaks for several addresses through X-Forwarded-For from loopback.
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e.srv = ocpp.NewServer(cfg, e.reg, slog.New(slog.NewTextHandler(e.log, nil)))
	hs := httptest.NewServer(e.srv)
	t.Cleanup(func() { _ = e.srv.Close(t.Context()); hs.Close() })
	e.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp/"
	return e
}

// dial tries a login of identity with password from address and returns the HTTP status of
// the upgrade (101 when accepted) and its Retry-After.
func (e *loginEnv) dial(t *testing.T, identity, password, address string) (int, string) {
	t.Helper()
	h := http.Header{"X-Forwarded-For": {address}}
	if password != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(identity+":"+password)))
	}
	d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}, HandshakeTimeout: waitTimeout}
	ws, resp, err := d.Dial(e.url+identity, h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", identity, err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestPasswordGuessingIsSlowedDown: past LoginFailuresPerIdentity failures an identity is
// blocked (429 with Retry-After, even for the right password) for a time that doubles; it
// is free again when the time has passed, and a success forgets the failures. Every refusal
// is logged with identity, address and reason, never the password, and recorded for the
// station.
func TestPasswordGuessingIsSlowedDown(t *testing.T) {
	e := newLoginEnv(t, ocpp.Config{LoginFailuresPerIdentity: 3, LoginFailuresPerAddress: 100, LoginBackoffMax: time.Minute})
	const good = "the-right-password-42"
	e.reg.AddStation("CP-G", 1, good, true)

	for i := 1; i <= 4; i++ {
		if code, _ := e.dial(t, "CP-G", "guess-number-"+string(rune('0'+i)), "198.51.100.7"); code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	// The fourth failure is one past the allowance: blocked for 1s.
	if code, retry := e.dial(t, "CP-G", good, "198.51.100.7"); code != 429 || retry != "1" {
		t.Fatalf("the right password while blocked: %d Retry-After %q, want 429 and 1", code, retry)
	}
	e.clock.add(1100 * time.Millisecond)
	if code, _ := e.dial(t, "CP-G", "guess-number-5", "198.51.100.7"); code != 401 {
		t.Fatalf("a guess after the block: %d, want 401", code)
	}
	// Fifth failure: blocked for 2s now.
	if code, retry := e.dial(t, "CP-G", good, "198.51.100.7"); code != 429 || retry != "2" {
		t.Fatalf("after the fifth failure: %d Retry-After %q, want 429 and 2", code, retry)
	}
	e.clock.add(2100 * time.Millisecond)
	if code, _ := e.dial(t, "CP-G", good, "198.51.100.7"); code != 101 {
		t.Fatalf("the right password after the block: %d, want 101", code)
	}
	// The success forgot the failures: three more wrong ones are allowed again.
	for i := 0; i < 3; i++ {
		if code, _ := e.dial(t, "CP-G", "guess-again", "198.51.100.7"); code != 401 {
			t.Fatalf("guess %d after a success: %d, want 401", i, code)
		}
	}

	log := e.log.String()
	for _, want := range []string{`identity=CP-G`, `address=198.51.100.7`, `reason="wrong password"`, `reason="too many failed logins, retry later"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "guess-number") || strings.Contains(log, good) {
		t.Errorf("the log holds a password:\n%s", log)
	}
	if n := strings.Count(log, "login refused"); n != 10 {
		t.Errorf("%d refusals logged, want 10 (8 wrong passwords, 2 blocked)", n)
	}
	e.reg.Wait(t, waitTimeout, "login failures recorded", func(r *ocpptest.Registry) bool {
		return len(r.LoginFailures) > 0 && r.LoginFailures[len(r.LoginFailures)-1].At.Equal(e.clock.Now())
	})
	e.reg.Do(func(r *ocpptest.Registry) {
		f := r.LoginFailures[len(r.LoginFailures)-1]
		if f.Identity != "CP-G" || f.Reason != "wrong password" || f.Address != "198.51.100.7" {
			t.Errorf("last login failure recorded = %+v", f)
		}
	})
}

// TestGuessingFromOneAddressBlocksTheAddress: failures of many identities from one address
// count against the address; once it is blocked, even a good station behind it waits, while
// other addresses are served. Unknown identities count against the address too.
func TestGuessingFromOneAddressBlocksTheAddress(t *testing.T) {
	e := newLoginEnv(t, ocpp.Config{LoginFailuresPerIdentity: 100, LoginFailuresPerAddress: 4, LoginBackoffMax: time.Minute})
	for _, id := range []string{"CP-1", "CP-2", "CP-3"} {
		e.reg.AddStation(id, 1, "station-password-"+id, true)
	}
	for _, try := range []struct{ id, pass string }{{"CP-1", "x-wrong-password"}, {"CP-2", "x-wrong-password"}, {"NOBODY", "x"}, {"CP-3", "x-wrong-password"}, {"CP-1", "y-wrong-password"}} {
		if code, _ := e.dial(t, try.id, try.pass, "2001:db8:1:2::10"); code != 401 && code != 404 {
			t.Fatalf("%s: %d, want 401 or 404", try.id, code)
		}
	}
	// Another host of the same /64 is the same address.
	if code, _ := e.dial(t, "CP-2", "station-password-CP-2", "2001:db8:1:2::99"); code != 429 {
		t.Errorf("a good station behind the blocked /64: %d, want 429", code)
	}
	if code, _ := e.dial(t, "CP-2", "station-password-CP-2", "203.0.113.5"); code != 101 {
		t.Errorf("the same station from another address: %d, want 101", code)
	}
}

// TestParallelGuessesCheckOnePasswordAtATime: 100 guesses at once for one identity check
// passwords one at a time, and once the identity is blocked none is checked at all: a burst
// of guesses cannot keep the cores busy with password hashing.
func TestParallelGuessesCheckOnePasswordAtATime(t *testing.T) {
	e := newLoginEnv(t, ocpp.Config{LoginFailuresPerIdentity: 3, LoginFailuresPerAddress: 1000, LoginBackoffMax: time.Minute})
	var checks, inCheck, maxInCheck atomic.Int32
	e.reg.AddStationWith(ocpp.Station{Identity: "CP-P", SecurityProfile: 1, HasBootData: true,
		VerifyPassword: func(...string) bool {
			checks.Add(1)
			n := inCheck.Add(1)
			for m := maxInCheck.Load(); n > m && !maxInCheck.CompareAndSwap(m, n); m = maxInCheck.Load() {
			}
			time.Sleep(5 * time.Millisecond) // a password hash takes time
			inCheck.Add(-1)
			return false
		}})
	var wg sync.WaitGroup
	codes := make([]int, 100)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = e.dial(t, "CP-P", "parallel-guess", "192.0.2.1")
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, c := range codes {
		counts[c]++
	}
	if counts[401]+counts[429] != 100 || counts[401] > 4 {
		t.Errorf("answers %v: want at most 4 × 401 (the allowance and the one that blocks), the rest 429", counts)
	}
	if n := checks.Load(); n > 4 {
		t.Errorf("%d password checks for 100 parallel guesses, want at most 4", n)
	}
	if m := maxInCheck.Load(); m != 1 {
		t.Errorf("%d password checks ran at once, want 1", m)
	}
}

// TestStationsBehindOneAddressReconnectTogether: a hundred stations behind one address (a
// NAT, or a proxy not declared trusted) logging in at once are all let in: only an address
// with failed logins has its logins capped.
func TestStationsBehindOneAddressReconnectTogether(t *testing.T) {
	e := newLoginEnv(t, ocpp.Config{})
	const n = 100
	for i := range n {
		e.reg.AddStationWith(ocpp.Station{Identity: fmt.Sprintf("CP-NAT-%03d", i), SecurityProfile: 1, HasBootData: true,
			VerifyPassword: func(c ...string) bool {
				time.Sleep(20 * time.Millisecond) // a password check takes time: the logins overlap
				return c[0] == "station-password-of-nat"
			}})
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = e.dial(t, fmt.Sprintf("CP-NAT-%03d", i), "station-password-of-nat", "198.51.100.200")
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 101 {
			t.Errorf("station %d: %d, want 101", i, c)
		}
	}
}
