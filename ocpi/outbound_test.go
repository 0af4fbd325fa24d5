package ocpi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgtest"
)

// secret is what a partner URL answers in the tests below: bytes that must never come back
// to whoever made evroam call it.
const secret = "SECRET-31337-internal-banner"

// answerServer serves every request with status and body, and counts the requests.
func answerServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// postCredentials is a TOKEN_A holder registering with url as its versions URL: evroam calls
// url before it answers. It returns the OCPI status code and message of evroam's answer.
func (e *env) postCredentials(tokenA, url string) (int, string) {
	e.t.Helper()
	res := e.ocpi("POST", "/ocpi/2.2.1/credentials", tokenA, Credentials{Token: "partner-token-b-0001", URL: url,
		Roles: []CredentialsRole{emspRole("DE", "MSP")}})
	_, code, msg := res.env(e.t)
	return code, msg
}

// TestPartnerAnswersAreNeverEchoed: whatever a partner URL answers, evroam's answer to the
// TOKEN_A holder who made it call, and the admin API's answer and last_error, name what was
// wrong (the HTTP status, that it was not OCPI) but never carry the answer's bytes: otherwise
// a TOKEN_A could read any page evroam can reach.
func TestPartnerAnswersAreNeverEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokenA, _ := e.invite("Curious eMSP")
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // what the message must say instead
	}{
		{"HTTP error with a text body", 500, secret, "HTTP 500"},
		{"HTTP error with an OCPI message", 404, `{"status_code": 2000, "status_message": "` + secret + `"}`, "HTTP 404, OCPI status 2000"},
		{"OCPI error code with a message", 200, `{"status_code": 2001, "status_message": "` + secret + `", "timestamp": "2026-01-01T00:00:00Z"}`, "OCPI status 2001"},
		{"not JSON", 200, secret, "not an OCPI response"},
		{"JSON but not OCPI", 200, `{"banner": "` + secret + `"}`, "not an OCPI response"},
		{"data of the wrong type", 200, `{"status_code": 1000, "data": 31337, "timestamp": "2026-01-01T00:00:00Z"}`, "data is not what OCPI 2.2.1 defines"},
		{"data with wrong field types", 200, `{"status_code": 1000, "data": [{"version": 31337, "url": 31337}]}`, "data is not what OCPI 2.2.1 defines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := answerServer(t, tc.status, tc.body)
			code, msg := e.postCredentials(tokenA, srv.URL+"/ocpi/versions")
			if calls.Load() == 0 {
				t.Fatal("evroam did not call the partner URL")
			}
			if code != CodeUnableToUseAPI || strings.Contains(msg, "SECRET") || strings.Contains(msg, "31337") || !strings.Contains(msg, tc.want) {
				t.Errorf("POST credentials: %d %q; want 3001 saying %q without the partner's bytes", code, msg, tc.want)
			}

			// The same URL given by an admin: the 502 and the partner's last_error.
			res := e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": "Probe", "versions_url": srv.URL + "/ocpi/versions", "token_a": "their-token-a"})
			if res.Status != http.StatusBadGateway || strings.Contains(string(res.Body), "SECRET") || strings.Contains(string(res.Body), "31337") ||
				!strings.Contains(string(res.Body), tc.want) {
				t.Errorf("register with the partner: %d %s; want 502 saying %q without the partner's bytes", res.Status, res.Body, tc.want)
			}
			list := e.admin("GET", "/api/v1/ocpi/partners?limit=1000", nil).must(t, 200)
			if strings.Contains(string(list.Body), "SECRET") || strings.Contains(string(list.Body), "31337") {
				t.Errorf("the partner list shows the partner's bytes: %s", list.Body)
			}
		})
	}
}

// TestNonPublicAddressesRefused: by default (EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES off) a
// partner URL that leads to loopback is never called, given as an address or as a name that
// resolves to it; the caller is told why.
func TestNonPublicAddressesRefused(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envConfig{outbound: &Outbound{}})
	tokenA, _ := e.invite("Inside job")
	srv, calls := answerServer(t, 200, `{"status_code": 1000, "data": []}`)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, url := range []string{
		srv.URL + "/ocpi/versions",                     // 127.0.0.1
		"http://localhost:" + port + "/ocpi/versions",  // a name that resolves to loopback
		"http://[::ffff:127.0.0.1]:" + port + "/ocpi/", // IPv4 in IPv6 form
	} {
		code, msg := e.postCredentials(tokenA, url)
		if code != CodeUnableToUseAPI || !strings.Contains(msg, "non-public address") || !strings.Contains(msg, "EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES") {
			t.Errorf("POST credentials with %s: %d %q; want 3001 naming the refused address and the setting", url, code, msg)
		}
		res := e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": "Probe", "versions_url": url, "token_a": "their-token-a"})
		if res.Status != http.StatusBadGateway || !strings.Contains(string(res.Body), "non-public address") {
			t.Errorf("register with %s: %d %s; want 502 naming the refused address", url, res.Status, res.Body)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the loopback partner got %d requests; want none", n)
	}
}

func TestPublicAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1", false}, {"127.1.2.3", false}, {"::1", false},
		{"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false}, {"fd00::1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, // link-local: cloud metadata services
		{"0.0.0.0", false}, {"::", false}, {"0.1.2.3", false},
		{"100.64.0.1", false}, {"224.0.0.1", false}, {"255.255.255.255", false},
		{"::ffff:10.0.0.1", false}, {"64:ff9b::a00:1", false}, // private IPv4 inside IPv6
		{"8.8.8.8", true}, {"193.0.14.129", true}, {"2606:4700:4700::1111", true}, {"64:ff9b::808:808", true},
	} {
		if got := publicAddress(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("publicAddress(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}

// TestOversizeAnswerIsAnError: an answer larger than the limit (1 MiB) fails the call, with
// or without a Content-Length, instead of being cut and parsed.
func TestOversizeAnswerIsAnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokenA, _ := e.invite("Verbose eMSP")
	// Valid OCPI, made large with white space: cut anywhere, it would no longer parse, and
	// whole it would parse; either way it is too large.
	big := `{"status_code": 1000, "data": [{"version": "2.2.1", "url": "http://x.example/ocpi/2.2.1"}]` +
		strings.Repeat(" ", DefaultMaxAnswerBytes) + `}`
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !chunked {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			}
			w.WriteHeader(200)
			for i := 0; i < len(big); i += 64 << 10 {
				w.Write([]byte(big[i:min(i+64<<10, len(big))]))
				if chunked {
					w.(http.Flusher).Flush()
				}
			}
		}))
		t.Cleanup(srv.Close)
		code, msg := e.postCredentials(tokenA, srv.URL)
		if code != CodeUnableToUseAPI || !strings.Contains(msg, fmt.Sprintf("larger than %d bytes", DefaultMaxAnswerBytes)) {
			t.Errorf("chunked=%v: %d %q; want 3001 saying the answer is too large", chunked, code, msg)
		}
	}
}

// TestSlowPartnerTimesOut: a partner that never answers costs a registration the call
// timeout, not a hung request.
func TestSlowPartnerTimesOut(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envConfig{outbound: &Outbound{AllowPrivateAddresses: true, Timeout: 500 * time.Millisecond}})
	tokenA, _ := e.invite("Slow eMSP")
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	start := time.Now()
	code, msg := e.postCredentials(tokenA, srv.URL)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the registration took %v with a partner that never answers; want about the 500 ms timeout", took)
	}
	if code != CodeUnableToUseAPI || !strings.Contains(msg, "no answer in time") {
		t.Errorf("POST credentials: %d %q; want 3001 saying there was no answer in time", code, msg)
	}
	if d := (Outbound{}).withDefaults(); d.ConnectTimeout != 5*time.Second || d.Timeout != 15*time.Second || d.MaxAnswerBytes != 1<<20 {
		t.Errorf("defaults = %+v; want 5 s connect, 15 s overall, 1 MiB", d)
	}
}

// TestOCPIDatabaseDown: while PostgreSQL cannot be reached, OCPI answers HTTP 503 in its
// envelope with 3000 (as the REST API does), without internals, and recovers by itself.
func TestOCPIDatabaseDown(t *testing.T) {
	t.Parallel()
	proxy, viaProxy := pgtest.NewProxy(t, pgtest.URL(t))
	e := newEnvWith(t, envConfig{dbURL: viaProxy})
	f := newFakePartner(t, false)
	tokenC := e.registerPartner(f, "eMSP")
	e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil).must(t, 200)

	proxy.Cut()
	for _, path := range []string{"/ocpi/versions", "/ocpi/2.2.1/locations", "/ocpi/2.2.1/locations/L1"} {
		res := e.ocpi("GET", path, tokenC, nil)
		_, code, msg := res.env(t)
		if res.Status != http.StatusServiceUnavailable || code != CodeServerError {
			t.Errorf("GET %s with the database down: HTTP %d, status_code %d; want 503 with 3000", path, res.Status, code)
		}
		if strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "dial") || !strings.Contains(msg, "unavailable") {
			t.Errorf("GET %s: status_message %q; want a plain 'unavailable' without internals", path, msg)
		}
	}

	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("OCPI did not recover after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOffsetAtTheIntegerLimit: a page whose next offset would pass the largest integer has
// no Link (there cannot be a next page), never a wrapped negative offset.
func TestOffsetAtTheIntegerLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	tokenC := e.registerPartner(f, "eMSP")
	for i := range 3 {
		e.station(fmt.Sprintf("CS-%d", i), e.location(fmt.Sprintf("Site %d", i)), "Production", 1)
	}
	var first int64
	if err := e.db.Get(&first, `SELECT min(seq) FROM ocpi_locations`); err != nil {
		t.Fatal(err)
	}
	maxInt := strconv.Itoa(math.MaxInt)
	for _, q := range []string{
		"offset=" + maxInt + "&limit=1",
		"offset=" + maxInt + "&limit=1&after=" + cursor(math.MaxInt, first), // our own cursor for that offset: a page follows
	} {
		res := e.ocpi("GET", "/ocpi/2.2.1/locations?"+q, tokenC, nil).must(t, 200)
		if link := res.Header.Get("Link"); link != "" {
			t.Errorf("?%s: Link %q; want none", q, link)
		}
		var locs []json.RawMessage
		res.data(t, &locs)
	}
	// Below the limit the Link is there as before.
	res := e.ocpi("GET", "/ocpi/2.2.1/locations?limit=1", tokenC, nil).must(t, 200)
	if !strings.Contains(res.Header.Get("Link"), "offset=1") {
		t.Errorf("first page: Link %q; want one to offset 1", res.Header.Get("Link"))
	}
}
