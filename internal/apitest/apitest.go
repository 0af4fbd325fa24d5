// Package apitest runs feature handlers behind the real gin engine, the real authentication
// middleware and a fresh PostgreSQL database (internal/pgtest), and gives tests a small HTTP
// client for them. It is for tests only.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/networks"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Env is a running API over a fresh database, with an admin key of the root network.
type Env struct {
	T      testing.TB
	DB     *sqlx.DB
	Server *httptest.Server
	Nets   *networks.Store
	// NetSvc authenticates the API's keys (remembering them, as in production); networks
	// made through Network go through it, so keys see them at once.
	NetSvc *networks.Service
	Root   networks.Network
	Key    string // admin key of the root network
}

// New starts an API whose routes mount registers on the authenticated /api/v1 group.
func New(tb testing.TB, mount func(db *sqlx.DB, v1 *gin.RouterGroup)) *Env {
	tb.Helper()
	db := pgtest.New(tb)
	return NewOnDB(tb, db, mount)
}

// NewOnDB is New on a database the test opened itself.
func NewOnDB(tb testing.TB, db *sqlx.DB, mount func(db *sqlx.DB, v1 *gin.RouterGroup)) *Env {
	tb.Helper()
	gin.SetMode(gin.TestMode)
	nets := networks.NewStore(db)
	ctx := tb.Context()
	root, err := nets.EnsureRoot(ctx, "root", "NL", "EVR")
	if err != nil {
		tb.Fatalf("ensure root network: %v", err)
	}
	key, err := nets.CreateKey(ctx, root.ID, "test admin", true)
	if err != nil {
		tb.Fatalf("create key: %v", err)
	}
	svc := networks.NewService(nets, nil)
	r := gin.New()
	r.NoRoute(web.NotFoundHandler)
	v1 := r.Group("/api/v1", web.RequireAPIKey(svc), web.StorableInput)
	networks.NewHandler(svc).Routes(v1)
	if mount != nil {
		mount(db, v1)
	}
	srv := httptest.NewServer(r)
	tb.Cleanup(srv.Close)
	return &Env{T: tb, DB: db, Server: srv, Nets: nets, NetSvc: svc, Root: root, Key: key}
}

// Network creates a sub-network of parent (the root when uuid.Nil) and returns it with a
// non-admin key of its own.
func (e *Env) Network(parent uuid.UUID, party string) (networks.Network, string) {
	e.T.Helper()
	if parent == uuid.Nil {
		parent = e.Root.ID
	}
	n, err := e.NetSvc.Create(e.T.Context(), networks.Network{Name: "net " + party, CountryCode: "NL", PartyID: party, ParentID: &parent})
	if err != nil {
		e.T.Fatalf("create network: %v", err)
	}
	key, err := e.Nets.CreateKey(e.T.Context(), n.ID, "test", false)
	if err != nil {
		e.T.Fatalf("create key: %v", err)
	}
	return n, key
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Envelope fields
	Data          json.RawMessage      `json:"data"`
	StatusCode    int                  `json:"status_code"`
	StatusMessage string               `json:"status_message"`
	Timestamp     string               `json:"timestamp"`
	Errors        []web.FieldErrorJSON `json:"errors"`
}

// Fields returns the field names of a validation error, in order.
func (r *Response) Fields() []string {
	out := make([]string, len(r.Errors))
	for i, f := range r.Errors {
		out[i] = f.Field
	}
	return out
}

// Decode unmarshals the envelope's data into v.
func (r *Response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		tb.Fatalf("decode data: %v\nbody: %s", err, r.Body)
	}
}

// Do sends a request with the admin key. body may be nil, a string/[]byte (sent as is) or a
// value (sent as JSON). headers are "Name: value" strings; "X-API-Key: …" overrides the key.
func (e *Env) Do(method, path string, body any, headers ...string) *Response {
	e.T.Helper()
	return e.DoKey(e.Key, method, path, body, headers...)
}

// DoKey is Do with another API key ("" sends none).
func (e *Env) DoKey(key, method, path string, body any, headers ...string) *Response {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.Server.URL + path
	}
	req, err := http.NewRequestWithContext(e.T.Context(), method, url, rd)
	if err != nil {
		e.T.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	out.Body, _ = io.ReadAll(resp.Body)
	if len(out.Body) > 0 && out.Body[0] == '{' {
		_ = json.Unmarshal(out.Body, out)
	}
	return out
}

// Must fails the test unless the response has status want.
func (r *Response) Must(tb testing.TB, want int) *Response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// InsertStation inserts a location and a Production station id of network straight into the
// database, for tests of what hangs off a station (logs, sessions) that need no registry
// rules.
func InsertStation(tb testing.TB, db *sqlx.DB, network uuid.UUID, id string) {
	tb.Helper()
	now := time.Now().UTC()
	loc := uuid.NewString()
	if _, err := db.Exec(`INSERT INTO locations (id, network_id, name, address, city, country, latitude, longitude, time_zone, etag, created, last_updated)
		VALUES ($1, $2, 'L', 'A', 'C', 'NLD', '52.00000', '5.00000', 'Europe/Amsterdam', $3, $4, $4)`, loc, network, uuid.New(), now); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id, charger_type, etag, created, last_updated, station_last_updated)
		VALUES ($1, $2, $3, 'Production', 'T', 'Public', $4, $5, $5, $5)`, id, network, loc, uuid.New(), now); err != nil {
		tb.Fatal(err)
	}
}
