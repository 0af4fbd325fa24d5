package ocpitest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// EMSP is an eMSP test partner: versions and credentials (evroam registers with it), and the
// endpoint the results of its commands are POSTed to, /ocpi/2.2.1/commands/{command}/{uid}
// (its commands SENDER). Every request evroam makes must carry the token the partner gave
// evroam, and every CommandResult must match the official schema.
type EMSP struct {
	t   testing.TB
	srv *httptest.Server

	TokenA string // the TOKEN_A evroam registers with

	mu           sync.Mutex
	tokenC       string // the token evroam calls it with
	tokenForEvr  string // the token evroam gave it (to call evroam with)
	results      []Result
	failNext     int // result POSTs to answer 503 before accepting
	resultsReady chan struct{}
}

// Result is a CommandResult evroam POSTed.
type Result struct {
	Path   string // /ocpi/2.2.1/commands/{command}/{uid}
	Result string
	Body   []byte
}

// NewEMSP starts an eMSP test partner (closed with the test).
func NewEMSP(t testing.TB, countryCode, partyID string) *EMSP {
	e := &EMSP{t: t, TokenA: "emsp-token-a-" + partyID, tokenC: "emsp-token-c-" + partyID, resultsReady: make(chan struct{}, 1000)}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	base := e.srv.URL + "/ocpi"
	answer := func(w http.ResponseWriter, status, code int, data any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"data": data, "status_code": code, "status_message": "ok",
			"timestamp": time.Now().UTC().Format(time.RFC3339)})
	}
	authorized := func(r *http.Request, tokens ...string) bool {
		h := strings.TrimPrefix(r.Header.Get("Authorization"), "Token ")
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			return false
		}
		for _, t := range tokens {
			if string(raw) == t {
				return true
			}
		}
		return false
	}
	mux.HandleFunc("GET /ocpi/versions", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, e.TokenA, e.tokenC) {
			answer(w, 401, 2000, nil)
			return
		}
		answer(w, 200, 1000, []map[string]string{{"version": "2.2.1", "url": base + "/2.2.1"}})
	})
	mux.HandleFunc("GET /ocpi/2.2.1", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, e.TokenA, e.tokenC) {
			answer(w, 401, 2000, nil)
			return
		}
		answer(w, 200, 1000, map[string]any{"version": "2.2.1", "endpoints": []map[string]string{
			{"identifier": "credentials", "role": "RECEIVER", "url": base + "/2.2.1/credentials"},
			{"identifier": "commands", "role": "SENDER", "url": base + "/2.2.1/commands"},
		}})
	})
	mux.HandleFunc("POST /ocpi/2.2.1/credentials", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, e.TokenA) {
			answer(w, 401, 2000, nil)
			return
		}
		body, _ := io.ReadAll(r.Body)
		MustMatch(t, OASCredentials, body)
		var c struct {
			Token string `json:"token"`
		}
		json.Unmarshal(body, &c)
		e.mu.Lock()
		e.tokenForEvr = c.Token
		e.mu.Unlock()
		answer(w, 200, 1000, map[string]any{"token": e.tokenC, "url": base + "/versions", "roles": []map[string]any{{
			"role": "EMSP", "country_code": countryCode, "party_id": partyID, "business_details": map[string]string{"name": "Test eMSP " + partyID}}}})
	})
	mux.HandleFunc("DELETE /ocpi/2.2.1/credentials", func(w http.ResponseWriter, r *http.Request) { answer(w, 200, 1000, nil) })
	mux.HandleFunc("POST /ocpi/2.2.1/commands/{command}/{uid}", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, e.tokenC) {
			t.Errorf("a command result without the partner's token: %q", r.Header.Get("Authorization"))
			answer(w, 401, 2000, nil)
			return
		}
		body, _ := io.ReadAll(r.Body)
		MustMatch(t, OASCommandResult, body)
		e.mu.Lock()
		if e.failNext > 0 {
			e.failNext--
			e.mu.Unlock()
			answer(w, 503, 3000, nil)
			return
		}
		var res struct {
			Result string `json:"result"`
		}
		json.Unmarshal(body, &res)
		e.results = append(e.results, Result{Path: r.URL.Path, Result: res.Result, Body: body})
		e.mu.Unlock()
		e.resultsReady <- struct{}{}
		answer(w, 200, 1000, nil)
	})
	return e
}

// VersionsURL is the partner's versions endpoint.
func (e *EMSP) VersionsURL() string { return e.srv.URL + "/ocpi/versions" }

// ResponseURL is a response_url for a command: /ocpi/2.2.1/commands/{command}/{uid}.
func (e *EMSP) ResponseURL(command, uid string) string {
	return e.srv.URL + "/ocpi/2.2.1/commands/" + command + "/" + uid
}

// Token is the token evroam gave the partner in the registration: what it calls evroam with.
func (e *EMSP) Token() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tokenForEvr
}

// FailResults makes the next n result POSTs answer HTTP 503.
func (e *EMSP) FailResults(n int) {
	e.mu.Lock()
	e.failNext = n
	e.mu.Unlock()
}

// WaitResult waits until a result was POSTed to the response_url of command and uid, and
// returns it.
func (e *EMSP) WaitResult(command, uid string, within time.Duration) Result {
	e.t.Helper()
	return e.WaitFor(command, uid, "", within)
}

// WaitFor waits until result ("" for any) was POSTed to the response_url of command and uid,
// and returns it.
func (e *EMSP) WaitFor(command, uid, result string, within time.Duration) Result {
	e.t.Helper()
	path := "/ocpi/2.2.1/commands/" + command + "/" + uid
	deadline := time.After(within)
	for {
		e.mu.Lock()
		for _, r := range e.results {
			if r.Path == path && (result == "" || r.Result == result) {
				e.mu.Unlock()
				return r
			}
		}
		e.mu.Unlock()
		select {
		case <-e.resultsReady:
		case <-deadline:
			e.t.Fatalf("no command result %s at %s within %s", result, path, within)
			return Result{}
		}
	}
}

// Results returns the results received so far.
func (e *EMSP) Results() []Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Result(nil), e.results...)
}
