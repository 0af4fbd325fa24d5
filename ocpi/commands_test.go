package ocpi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

const (
	oasCommandResult   = "modules/commands/schema.yaml#/components/schemas/CommandResult"
	oasCommandResponse = "modules/commands/receiver-interface.yaml#/paths/~1commands~1START_SESSION/post/responses/200/content/application~1json/schema"
)

// fakeStations records the commands the module hands to the stations and answers result.
type fakeStations struct {
	mu     sync.Mutex
	calls  []string
	result string
}

func (f *fakeStations) record(s string) CommandResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return Result(f.result, "")
}

func (f *fakeStations) StartSession(_ context.Context, at CommandTarget, t CommandToken) CommandResult {
	return f.record("start " + at.StationID + " " + string(rune('0'+at.SequenceNumber)) + " " + t.UID)
}
func (f *fakeStations) StopSession(_ context.Context, station, tx string) CommandResult {
	return f.record("stop " + station + " " + tx)
}
func (f *fakeStations) UnlockConnector(_ context.Context, at CommandTarget) CommandResult {
	return f.record("unlock " + at.StationID + " " + string(rune('0'+at.SequenceNumber)) + " " + at.ConnectorID)
}
func (f *fakeStations) ReserveNow(_ context.Context, at CommandTarget, r CommandReservation) CommandResult {
	return f.record("reserve " + at.StationID + " " + string(rune('0'+at.SequenceNumber)) + " " + r.ReservationID + " " + r.Token.UID + " " + r.Expiry.Format(time.RFC3339))
}
func (f *fakeStations) CancelReservation(_ context.Context, partner uuid.UUID, id string) CommandResult {
	return f.record("cancel " + id)
}

func (f *fakeStations) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// resultSink is a partner's response_url server: /ok/… accepts, /down/… answers 503, /refuse/…
// answers HTTP 400 with 2001. It counts the POSTs per path and checks every body.
type resultSink struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	posts map[string][]string // path → results
	got   chan string
}

func newResultSink(t *testing.T) *resultSink {
	s := &resultSink{t: t, posts: map[string][]string{}, got: make(chan string, 100)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := oasCheck(t, oasCommandResult, b); err != nil {
			t.Errorf("CommandResult %s: %v", b, err)
		}
		var res CommandResult
		json.Unmarshal(b, &res)
		s.mu.Lock()
		s.posts[r.URL.Path] = append(s.posts[r.URL.Path], res.Result)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/down/"):
			w.WriteHeader(503)
			io.WriteString(w, `{"status_code":3000,"timestamp":"2026-01-01T00:00:00Z"}`)
		case strings.HasPrefix(r.URL.Path, "/refuse/"):
			w.WriteHeader(400)
			io.WriteString(w, `{"status_code":2001,"timestamp":"2026-01-01T00:00:00Z"}`)
		default:
			io.WriteString(w, `{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}`)
		}
		s.got <- r.URL.Path
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *resultSink) of(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.posts[path]...)
}

// commandsEnv is the Commands module over the harness's database, with station CS-C (two
// AVAILABLE EVSEs) at location loc, published, and a registered partner.
type commandsEnv struct {
	*env
	srv      *httptest.Server
	module   *Commands
	stations *fakeStations
	sink     *resultSink
	token    string
	loc      string
}

func newCommandsEnv(t *testing.T) *commandsEnv {
	t.Helper()
	e := newEnv(t)
	loc := e.location("Commands")
	e.station("CS-C", loc, "Production", 2)
	e.setStatus("CS-C", 1, "Available", "AVAILABLE")
	e.setStatus("CS-C", 2, "Available", "AVAILABLE")
	token := e.registerPartner(newFakePartner(t, false), "eMSP")
	st := &fakeStations{result: ResultAccepted}
	m := NewCommands(e.store, NewView(e.db), st, CommandsConfig{StationTimeout: 2 * time.Second, Outbound: testOutbound,
		ResultAttempts: 3, ResultBackoff: time.Millisecond})
	t.Cleanup(m.Close)
	r := gin.New()
	m.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &commandsEnv{env: e, srv: srv, module: m, stations: st, sink: newResultSink(t), token: token, loc: loc}
}

// post sends command with body (response_url set to the sink's path when not given) and
// returns the answer, checked against the official schemas.
func (c *commandsEnv) post(command string, body map[string]any, path string) *response {
	c.t.Helper()
	if _, ok := body["response_url"]; !ok {
		body["response_url"] = c.sink.srv.URL + path
	}
	res := send(c.t, "POST", c.srv.URL+"/ocpi/2.2.1/commands/"+command, tok(c.token), body)
	if res.Status == 200 || res.Status == 404 {
		mustMatchOAS(c.t, oasCommandResponse, res.Body)
	} else {
		mustMatchOAS(c.t, oasError, res.Body)
	}
	return res
}

func commandResult(t *testing.T, r *response) (string, int, string) {
	t.Helper()
	var d CommandResponse
	r.data(t, &d)
	msg := ""
	if len(d.Message) > 0 {
		msg = d.Message[0].Text
	}
	return d.Result, d.Timeout, msg
}

var testToken = map[string]any{"country_code": "DE", "party_id": "MSP", "uid": "APP1", "type": "APP_USER", "contract_id": "DE-MSP-1",
	"issuer": "MSP", "valid": true, "whitelist": "ALLOWED", "last_updated": "2026-01-01T00:00:00Z"}

// TestCommandsReachTheStations: each command is handed to the stations with what it names,
// answered ACCEPTED with a timeout that covers the station's and the result's time, and its
// result reaches the response_url.
func TestCommandsReachTheStations(t *testing.T) {
	t.Parallel()
	c := newCommandsEnv(t)
	expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	for _, tc := range []struct {
		command string
		body    map[string]any
		want    string
	}{
		{"START_SESSION", map[string]any{"token": testToken, "location_id": c.loc, "evse_uid": "cs-c-2"}, "start CS-C 2 APP1"},
		{"START_SESSION", map[string]any{"token": testToken, "location_id": strings.ToUpper(c.loc)}, "start CS-C 0 APP1"},
		{"UNLOCK_CONNECTOR", map[string]any{"location_id": c.loc, "evse_uid": "CS-C-2", "connector_id": "2"}, "unlock CS-C 2 2"},
		{"RESERVE_NOW", map[string]any{"token": testToken, "location_id": c.loc, "evse_uid": "CS-C-1", "reservation_id": "R1",
			"expiry_date": expiry}, "reserve CS-C 1 R1 APP1 " + expiry},
		{"CANCEL_RESERVATION", map[string]any{"reservation_id": "R1"}, "cancel R1"},
	} {
		path := "/ok/" + uuid.NewString()
		res := c.post(tc.command, tc.body, path).must(t, 200)
		result, timeout, _ := commandResult(t, res)
		if result != "ACCEPTED" || timeout != 2+15 {
			t.Errorf("%s: %s with timeout %d, want ACCEPTED with 17 (2 s for the station, 15 s for the result)", tc.command, result, timeout)
		}
		c.module.wait()
		if got := c.stations.got(); got[len(got)-1] != tc.want {
			t.Errorf("%s: the stations got %q, want %q", tc.command, got[len(got)-1], tc.want)
		}
		if got := c.sink.of(path); len(got) != 1 || got[0] != "ACCEPTED" {
			t.Errorf("%s: results at the response_url %v, want [ACCEPTED]", tc.command, got)
		}
	}
}

// TestCommandsRefused: what evroam cannot send to a station is answered at once, and nothing
// reaches the stations.
func TestCommandsRefused(t *testing.T) {
	t.Parallel()
	c := newCommandsEnv(t)
	c.station("CS-STOCK", c.loc, "Stock", 1) // not published
	other := c.location("Two stations")
	c.station("CS-D", other, "Production", 1)
	c.station("CS-E", other, "Production", 1)
	c.setStatus("CS-D", 1, "Available", "AVAILABLE")
	c.setStatus("CS-E", 1, "Available", "AVAILABLE")
	offline := c.location("Offline")
	c.station("CS-OFF", offline, "Production", 1) // never reported: UNKNOWN
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, command string
		body          map[string]any
		status        int
		result, msg   string
	}{
		{"unknown location", "START_SESSION", map[string]any{"token": testToken, "location_id": "nowhere"}, 404, "REJECTED", "no such location"},
		{"unpublished EVSE", "UNLOCK_CONNECTOR", map[string]any{"location_id": c.loc, "evse_uid": "CS-STOCK-1", "connector_id": "1"}, 404, "REJECTED", "no such"},
		{"unknown connector", "UNLOCK_CONNECTOR", map[string]any{"location_id": c.loc, "evse_uid": "CS-C-1", "connector_id": "9"}, 404, "REJECTED", "no such connector"},
		{"several stations", "START_SESSION", map[string]any{"token": testToken, "location_id": other}, 200, "REJECTED", "several charge stations"},
		{"offline", "START_SESSION", map[string]any{"token": testToken, "location_id": offline, "evse_uid": "CS-OFF-1"}, 200, "REJECTED", "offline"},
		{"reservation without EVSE", "RESERVE_NOW", map[string]any{"token": testToken, "location_id": c.loc, "reservation_id": "R",
			"expiry_date": time.Now().Add(time.Hour).Format(time.RFC3339)}, 200, "REJECTED", "evse_uid"},
		{"expired reservation", "RESERVE_NOW", map[string]any{"token": testToken, "location_id": c.loc, "evse_uid": "CS-C-1",
			"reservation_id": "R", "expiry_date": past}, 200, "REJECTED", "passed"},
		{"unknown session", "STOP_SESSION", map[string]any{"session_id": uuid.NewString()}, 200, "UNKNOWN_SESSION", ""},
		{"not a session id", "STOP_SESSION", map[string]any{"session_id": "S-1"}, 200, "UNKNOWN_SESSION", ""},
		{"unknown command", "FLY", map[string]any{}, 200, "NOT_SUPPORTED", "FLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.post(tc.command, tc.body, "/ok/"+uuid.NewString()).must(t, tc.status)
			if tc.status == 404 {
				if _, code, _ := res.env(t); code != CodeUnknownLocation {
					t.Errorf("status_code %d, want 2003", code)
				}
			}
			result, _, msg := commandResult(t, res)
			if result != tc.result || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s %q, want %s mentioning %q", result, msg, tc.result, tc.msg)
			}
		})
	}
	c.module.wait()
	if got := c.stations.got(); len(got) != 0 {
		t.Errorf("the stations got %v, want nothing", got)
	}
}

// TestCommandsInvalidBodies: HTTP 400 with 2001 naming every bad field of each command's object.
func TestCommandsInvalidBodies(t *testing.T) {
	t.Parallel()
	c := newCommandsEnv(t)
	for _, tc := range []struct {
		command string
		body    map[string]any
		fields  []string
	}{
		{"START_SESSION", map[string]any{"response_url": "nope"}, []string{"response_url", "token", "location_id"}},
		{"START_SESSION", map[string]any{"token": map[string]any{"uid": strings.Repeat("u", 37), "type": "CARD", "valid": "yes"},
			"location_id": "L", "connector_id": "1", "extension": true},
			[]string{"token.valid", "token.country_code", "token.party_id", "token.uid", "token.type", "token.contract_id",
				"token.issuer", "token.whitelist", "token.last_updated", "evse_uid"}},
		{"STOP_SESSION", map[string]any{}, []string{"session_id"}},
		{"UNLOCK_CONNECTOR", map[string]any{"location_id": 12}, []string{"location_id", "evse_uid", "connector_id"}},
		{"RESERVE_NOW", map[string]any{"expiry_date": "soon", "reservation_id": strings.Repeat("r", 37)},
			[]string{"token", "expiry_date", "reservation_id", "location_id"}},
		{"CANCEL_RESERVATION", map[string]any{"reservation_id": ""}, []string{"reservation_id"}},
	} {
		res := c.post(tc.command, tc.body, "/ok/x").must(t, 400)
		_, code, msg := res.env(t)
		if code != CodeInvalidParameters {
			t.Errorf("%s: status_code %d, want 2001", tc.command, code)
		}
		for _, f := range tc.fields {
			if !strings.Contains(msg, f+" ") {
				t.Errorf("%s %v: %q does not name %s", tc.command, tc.body, msg, f)
			}
		}
	}
	if res := send(t, "POST", c.srv.URL+"/ocpi/2.2.1/commands/STOP_SESSION", tok(c.token), "[1]").must(t, 400); !strings.Contains(string(res.Body), "2001") {
		t.Errorf("a body that is not an object: %s", res.Body)
	}
	if res := send(t, "POST", c.srv.URL+"/ocpi/2.2.1/commands/STOP_SESSION", tok("nobody"), map[string]any{}); res.Status != 401 {
		t.Errorf("unknown token: %d", res.Status)
	}
}

// TestCommandResultDelivery: a response_url that fails is tried ResultAttempts times, one that
// refuses the result outright once, one that works once.
func TestCommandResultDelivery(t *testing.T) {
	t.Parallel()
	c := newCommandsEnv(t)
	for _, tc := range []struct {
		path  string
		posts int
	}{{"/down/a", 3}, {"/refuse/b", 1}, {"/ok/c", 1}} {
		c.post("CANCEL_RESERVATION", map[string]any{"reservation_id": "R"}, tc.path).must(t, 200)
		c.module.wait()
		if got := c.sink.of(tc.path); len(got) != tc.posts {
			t.Errorf("%s: %d POSTs, want %d", tc.path, len(got), tc.posts)
		}
	}
}
