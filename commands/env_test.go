package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/commands/commandstest"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/evroam/evroam/reservations"
	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

const waitTimeout = 20 * time.Second

// API keys of the fake authenticator: keyA sees network A, keyB sees network B.
const (
	keyA = "key-network-a"
	keyB = "key-network-b"
)

var (
	networkA = uuid.MustParse("0b8e3c34-7a0a-4f7e-9a53-3d2c6c1a0a01")
	networkB = uuid.MustParse("0b8e3c34-7a0a-4f7e-9a53-3d2c6c1a0a02")
)

func testLogger() *slog.Logger {
	if os.Getenv("EVROAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// authenticator knows the two keys above.
var authenticator = commandstest.Authenticator{keyA: networkA, keyB: networkB}

// node is one evroam node: a gateway, and an HTTP API whose commands go through gw.
type node struct {
	reg     *ocpptest.Registry
	srv     *ocpp.Server
	ocppURL string // ws://host:port/ocpp
	apiURL  string // http://host:port/api/v1
}

// startGateway starts a gateway on a loopback port.
func startGateway(t *testing.T) (*ocpptest.Registry, *ocpp.Server, string) {
	t.Helper()
	reg := ocpptest.New()
	srv := ocpp.NewServer(ocpp.Config{MessageLogFlushInterval: 20 * time.Millisecond, HeartbeatFlushInterval: 20 * time.Millisecond},
		reg, testLogger())
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
	})
	return reg, srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp"
}

// startAPI serves the command routes, authenticated, on a loopback port.
func startAPI(t *testing.T, cfg commands.Config, st commands.Stations, gw commands.Gateway, dt commands.DataTransfers) string {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	v1 := r.Group("/api/v1", web.RequireAPIKey(authenticator))
	commands.NewHandler(cfg, commands.Deps{Stations: st, Gateway: gw, Transfers: dt, Certificates: installed, Reservations: reserved}).Routes(v1)
	hs := httptest.NewServer(r)
	t.Cleanup(hs.Close)
	return hs.URL + "/api/v1"
}

// env is a single node.
type env struct {
	node
	stations *commandstest.Stations
}

func newEnv(t *testing.T, cfg commands.Config) *env {
	t.Helper()
	e := &env{stations: &commandstest.Stations{}}
	e.reg, e.srv, e.ocppURL = startGateway(t)
	e.apiURL = startAPI(t, cfg, e.stations, e.srv, commandstest.DataTransfers{Registry: e.reg})
	return e
}

// protocol versions under test.
type version struct {
	name  string // subprotocol
	proto string
}

var (
	v16  = version{"ocpp1.6", ocpp.ProtocolOCPP16}
	v201 = version{"ocpp2.0.1", ocpp.ProtocolOCPP201}
)

// connect registers identity in network A (with boot data on record, so the gateway
// neither triggers a boot nor reads the configuration) and connects a strict peer to url.
func (e *env) connect(t *testing.T, url string, v version, identity string) *ocpppeer.Peer {
	t.Helper()
	e.reg.AddStation(identity, 0, "", true)
	e.stations.Add(identity, networkA, v.proto)
	p := ocpppeer.Start(t)
	if got := p.MustConnect(ocpppeer.ConnectOptions{URL: url, Identity: identity, Protocols: []string{v.name}}); got != v.name {
		t.Fatalf("negotiated %q, want %q", got, v.name)
	}
	return p
}

// do sends an API request with key and returns the status and body.
func do(t *testing.T, method, url, key, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// decodeJSON decodes b into a generic value, failing the test on bad JSON.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return v
}

// jsonDiff compares two JSON texts semantically.
func jsonDiff(t *testing.T, want string, got []byte) string {
	t.Helper()
	return cmp.Diff(decodeJSON(t, []byte(want)), decodeJSON(t, got))
}

// envelope is the error body of the registry.
type envelope struct {
	StatusCode    int                `json:"status_code"`
	StatusMessage string             `json:"status_message"`
	Timestamp     string             `json:"timestamp"`
	Errors        apperr.FieldErrors `json:"errors"`
}

func decodeEnvelope(t *testing.T, b []byte) envelope {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("error body is not the envelope: %q: %v", b, err)
	}
	if env.StatusCode == 0 || env.StatusMessage == "" || env.Timestamp == "" {
		t.Errorf("error body lacks envelope fields: %s", b)
	}
	return env
}

// installed records what the certificates command says was installed, per station (the real
// one writes to the station logs; cmd/evroam's tests read those back).
var installed = &certRecorder{m: map[string][]commands.InstalledCertificate{}}

type certRecorder struct {
	mu sync.Mutex
	m  map[string][]commands.InstalledCertificate
}

func (r *certRecorder) RecordInstalled(_ context.Context, identity string, c commands.InstalledCertificate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[identity] = append(r.m[identity], c)
	return nil
}

func (r *certRecorder) forget(identity string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, identity)
}

func (r *certRecorder) of(identity string) []commands.InstalledCertificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]commands.InstalledCertificate(nil), r.m[identity]...)
}

// reserved records the reservations the reserve command says were accepted and the
// cancellations, per station (the real one is reservations.Service; cmd/evroam's tests read
// the EVSE status back).
var reserved = &reservationRecorder{m: map[string][]reservations.Reservation{}}

type reservationRecorder struct {
	mu        sync.Mutex
	m         map[string][]reservations.Reservation
	cancelled map[string][]int
}

func (r *reservationRecorder) Record(_ context.Context, res reservations.Reservation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[res.StationID] = append(r.m[res.StationID], res)
	return nil
}

func (r *reservationRecorder) Cancel(_ context.Context, station string, id int, _ bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancelled == nil {
		r.cancelled = map[string][]int{}
	}
	r.cancelled[station] = append(r.cancelled[station], id)
	return true, nil
}

func (r *reservationRecorder) forget(station string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, station)
	delete(r.cancelled, station)
}

func (r *reservationRecorder) of(station string) ([]reservations.Reservation, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reservations.Reservation(nil), r.m[station]...), append([]int(nil), r.cancelled[station]...)
}
