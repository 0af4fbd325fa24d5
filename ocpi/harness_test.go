package ocpi

import (
	"bytes"
	"fmt"
	"time"

	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/evroam/evroam/schema"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/locations"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/tariffs"
	"github.com/evroam/evroam/templates"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testPageLimit is the largest Locations page of the test server, so that the tests page
// through a few hundred locations.
const testPageLimit = 100

// env is evroam's HTTP API (the admin routes of this package, locations, and /ocpi) over a
// fresh database, behind a real HTTP server.
type env struct {
	t     testing.TB
	db    *sqlx.DB
	dbURL string
	srv   *httptest.Server
	evses *evse.Store
	key   string // admin API key of the root network
	store *Store
	root  networks.Network
}

// testOutbound is how the test servers call partners: the fake partners listen on loopback,
// which evroam refuses by default.
var testOutbound = Outbound{AllowPrivateAddresses: true}

// envConfig changes what newEnvWith builds.
type envConfig struct {
	dbURL    string    // "" for a fresh database
	outbound *Outbound // nil for testOutbound
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, envConfig{})
}

func newEnvWith(t testing.TB, cfg envConfig) *env {
	t.Helper()
	dbURL := cfg.dbURL
	if dbURL == "" {
		dbURL = pgtest.URL(t)
	}
	outbound := testOutbound
	if cfg.outbound != nil {
		outbound = *cfg.outbound
	}
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gin.SetMode(gin.TestMode)
	nets := networks.NewStore(db)
	root, err := nets.EnsureRoot(t.Context(), "Evroam Root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	key, err := nets.CreateKey(t.Context(), root.ID, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(db)
	h := NewHandler(store, NewView(db), Config{LocationsPageLimit: testPageLimit, Outbound: outbound,
		Tokens: tokens.NewService(db, tokens.NewStore(db), nil, nil)})
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.NoRoute(web.NotFoundHandler)
	r.NoMethod(web.MethodNotAllowedHandler)
	v1 := r.Group("/api/v1", web.RequireAPIKey(nets))
	// The registry as cmd/evroam mounts it.
	locStore := locations.NewStore(db)
	tplStore := templates.NewStore(db)
	evseStore := evse.NewStore(db)
	csStore := chargestations.NewStore(db)
	tariffSvc := tariffs.NewService(db, tariffs.NewStore(db), nil)
	csSvc := chargestations.NewService(db, csStore, evseStore, locStore, tplStore, tariffSvc, nil, nil, nil)
	locations.NewHandler(locations.NewService(db, locStore, csStore, nil), evseStore).Routes(v1)
	templates.NewHandler(templates.NewService(db, tplStore, nil)).Routes(v1)
	chargestations.NewHandler(csSvc).Routes(v1)
	evse.NewHandler(evse.NewService(db, evseStore, tariffSvc, nil, nil)).Routes(v1)
	tariffs.NewHandler(tariffSvc).Routes(v1)
	networks.NewHandler(networks.NewService(nets, nil)).Routes(v1)
	h.AdminRoutes(v1)
	h.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, dbURL: dbURL, srv: srv, evses: evseStore, key: key, store: store, root: root}
}

// response is an answer as a test sees it.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// env decodes the OCPI/REST envelope.
func (r *response) env(tb testing.TB) (data json.RawMessage, code int, msg string) {
	tb.Helper()
	var e struct {
		Data          json.RawMessage `json:"data"`
		StatusCode    int             `json:"status_code"`
		StatusMessage string          `json:"status_message"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		tb.Fatalf("body is not an envelope: %v: %s", err, r.Body)
	}
	return e.Data, e.StatusCode, e.StatusMessage
}

func (r *response) data(tb testing.TB, v any) {
	tb.Helper()
	d, _, _ := r.env(tb)
	if err := json.Unmarshal(d, v); err != nil {
		tb.Fatalf("decode data: %v: %s", err, r.Body)
	}
}

func (r *response) must(tb testing.TB, status int) *response {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("HTTP status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// send makes an HTTP request. auth is the whole Authorization header value ("" for none);
// headers are "Name: value".
func send(tb testing.TB, method, url, auth string, body any, headers ...string) *response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	out.Body, _ = io.ReadAll(resp.Body)
	return out
}

// tok is the OCPI 2.2.1 Authorization header for token.
func tok(token string) string { return "Token " + base64.StdEncoding.EncodeToString([]byte(token)) }

// admin calls the REST API with the admin key.
func (e *env) admin(method, path string, body any) *response {
	e.t.Helper()
	return send(e.t, method, e.srv.URL+path, "", body, "X-API-Key: "+e.key)
}

// ocpi calls evroam's OCPI interface with token (Base64-encoded, as OCPI 2.2.1 wants).
func (e *env) ocpi(method, path, token string, body any, headers ...string) *response {
	e.t.Helper()
	return send(e.t, method, e.srv.URL+path, tok(token), body, headers...)
}

// invite creates a partner that registers with us and returns its TOKEN_A and our versions URL.
func (e *env) invite(name string) (tokenA, versionsURL string) {
	e.t.Helper()
	var p struct {
		TokenA      string `json:"token_a"`
		VersionsURL string `json:"versions_url"`
	}
	e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": name}).must(e.t, 201).data(e.t, &p)
	return p.TokenA, p.VersionsURL
}

// pushRecord is a push a partner's Locations receiver got.
type pushRecord struct {
	Method string
	Path   string // below the receiver's locations endpoint: /{cc}/{pid}/{location}[/{evse}]
	Body   []byte
}

// fakePartner is an eMSP: versions, credentials and optionally a Locations receiver, served
// over HTTP, with the tokens of a real handshake. It records what evroam sends it and checks
// every request's token and every body against the official schemas.
type fakePartner struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	accept      map[string]bool // tokens it accepts from evroam
	tokenC      string          // what it answers evroam's POST credentials with
	ourVersions string          // evroam's versions URL, as evroam's credentials said
	tokenForEvr string          // the token it uses to call evroam (TOKEN_B evroam gave it, or TOKEN_C)
	calls       []string        // "METHOD path token" of every request
	pushes      []pushRecord
	down        bool // receiver answers 503
	receiver    bool // lists a Locations RECEIVER endpoint
	// tariffReceiver lists a Tariffs RECEIVER endpoint; what it gets is in tariffPushes
	// (paths below it: /{cc}/{pid}/{tariff_id}).
	tariffReceiver bool
	// sessionsReceiver lists Sessions and CDRs RECEIVER endpoints; what they get is in
	// sessionPushes (paths below /emsp/sessions) and cdrPushes.
	sessionsReceiver bool
	sessionPushes    []pushRecord
	cdrPushes        []pushRecord
	tariffPushes     []pushRecord
	versions         []VersionInfo
	noCredsEP        bool
	// unknownPatch, when set, is the HTTP status and OCPI status_code the receiver answers
	// every PATCH with (it records the PATCH first).
	unknownPatch *[2]int
	// credentialUpdates are the bodies of evroam's PUT credentials, in order.
	credentialUpdates []Credentials
}

func newFakePartner(t testing.TB, receiver bool) *fakePartner {
	f := &fakePartner{t: t, accept: map[string]bool{}, receiver: receiver}
	mux := http.NewServeMux()
	mux.HandleFunc("/", f.serve)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePartner) versionsURL() string { return f.srv.URL + "/ocpi/versions" }

func (f *fakePartner) allow(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accept[token] = true
}

func (f *fakePartner) answer(w http.ResponseWriter, status, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"data": data, "status_code": code, "timestamp": "2026-01-01T00:00:00Z"})
}

func (f *fakePartner) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	token := ""
	if cands := tokenCandidates(r.Header.Get("Authorization")); len(cands) > 0 {
		token = cands[0]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+token)
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Token ") || !f.accept[token] {
		f.answer(w, 401, 2000, nil)
		return
	}
	if r.Header.Get("X-Request-ID") == "" || r.Header.Get("X-Correlation-ID") == "" {
		f.t.Errorf("%s %s without X-Request-ID/X-Correlation-ID", r.Method, r.URL.Path)
	}
	base := f.srv.URL + "/ocpi/2.2.1"
	switch {
	case r.Method == "GET" && r.URL.Path == "/ocpi/versions":
		vs := f.versions
		if vs == nil {
			vs = []VersionInfo{{Version: "2.1.1", URL: f.srv.URL + "/ocpi/2.1.1"}, {Version: "2.2.1", URL: base}}
		}
		f.answer(w, 200, 1000, vs)
	case r.Method == "GET" && r.URL.Path == "/ocpi/2.2.1":
		eps := []Endpoint{}
		if !f.noCredsEP {
			eps = append(eps, Endpoint{Identifier: "credentials", Role: RoleSender, URL: base + "/credentials"})
		}
		if f.receiver {
			eps = append(eps, Endpoint{Identifier: "locations", Role: RoleReceiver, URL: base + "/emsp/locations"})
		}
		if f.tariffReceiver {
			eps = append(eps, Endpoint{Identifier: "tariffs", Role: RoleReceiver, URL: base + "/emsp/tariffs"})
		}
		if f.sessionsReceiver {
			eps = append(eps, Endpoint{Identifier: "sessions", Role: RoleReceiver, URL: base + "/emsp/sessions"},
				Endpoint{Identifier: "cdrs", Role: RoleReceiver, URL: base + "/emsp/cdrs"})
		}
		f.answer(w, 200, 1000, VersionDetails{Version: "2.2.1", Endpoints: eps})
	case r.Method == "POST" && r.URL.Path == "/ocpi/2.2.1/credentials":
		// evroam registering with us: body is its credentials (TOKEN_B for us).
		if err := oasCheck(f.t, oasCredentialsBody, body); err != nil {
			f.t.Errorf("evroam's POST credentials body breaks the schema: %v: %s", err, body)
		}
		var creds Credentials
		json.Unmarshal(body, &creds)
		f.ourVersions, f.tokenForEvr = creds.URL, creds.Token
		// Like a real partner, call evroam's versions and details with TOKEN_B before answering.
		f.mu.Unlock()
		res := send(f.t, "GET", creds.URL, tok(creds.Token), nil)
		if res.Status == 200 {
			if err := oasCheck(f.t, oasVersions, res.Body); err != nil {
				f.t.Errorf("evroam versions: %v", err)
			}
			var vs []VersionInfo
			res.data(f.t, &vs)
			if len(vs) > 0 {
				res = send(f.t, "GET", vs[0].URL, tok(creds.Token), nil)
				if err := oasCheck(f.t, oasVersionDetails, res.Body); err != nil {
					f.t.Errorf("evroam version details: %v", err)
				}
			}
		}
		f.mu.Lock()
		if res.Status != 200 {
			f.answer(w, 200, 3001, nil)
			return
		}
		delete(f.accept, token) // TOKEN_A is used up
		f.tokenC = "partner-token-c-" + newToken()[:8]
		f.accept[f.tokenC] = true
		f.answer(w, 200, 1000, Credentials{Token: f.tokenC, URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}})
	case r.Method == "PUT" && r.URL.Path == "/ocpi/2.2.1/credentials":
		// evroam updating its credentials (new parties): the body carries a new token for us.
		if err := oasCheck(f.t, oasCredentialsBody, body); err != nil {
			f.t.Errorf("evroam's PUT credentials body breaks the schema: %v: %s", err, body)
		}
		var creds Credentials
		json.Unmarshal(body, &creds)
		f.credentialUpdates = append(f.credentialUpdates, creds)
		f.ourVersions, f.tokenForEvr = creds.URL, creds.Token
		// As after a POST, the new token must open evroam's versions before we answer.
		f.mu.Unlock()
		res := send(f.t, "GET", creds.URL, tok(creds.Token), nil)
		f.mu.Lock()
		if res.Status != 200 {
			f.answer(w, 200, 3001, nil)
			return
		}
		delete(f.accept, token) // the token evroam used so far is replaced
		f.tokenC = "partner-token-c-" + newToken()[:8]
		f.accept[f.tokenC] = true
		f.answer(w, 200, 1000, Credentials{Token: f.tokenC, URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}})
	case r.Method == "DELETE" && r.URL.Path == "/ocpi/2.2.1/credentials":
		delete(f.accept, token)
		f.answer(w, 200, 1000, nil)
	case strings.HasPrefix(r.URL.Path, "/ocpi/2.2.1/emsp/locations/") && (r.Method == "PUT" || r.Method == "PATCH"):
		if f.down {
			w.WriteHeader(503)
			return
		}
		f.pushes = append(f.pushes, pushRecord{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/ocpi/2.2.1/emsp/locations"), Body: body})
		if r.Method == "PATCH" && f.unknownPatch != nil {
			// A receiver that lost (or never got) the location.
			f.answer(w, f.unknownPatch[0], f.unknownPatch[1], nil)
			return
		}
		f.answer(w, 200, 1000, nil)
	case strings.HasPrefix(r.URL.Path, "/ocpi/2.2.1/emsp/tariffs/") && (r.Method == "PUT" || r.Method == "DELETE"):
		if f.down {
			w.WriteHeader(503)
			return
		}
		f.tariffPushes = append(f.tariffPushes, pushRecord{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/ocpi/2.2.1/emsp/tariffs"), Body: body})
		f.answer(w, 200, 1000, nil)
	case strings.HasPrefix(r.URL.Path, "/ocpi/2.2.1/emsp/sessions/") && (r.Method == "PUT" || r.Method == "PATCH"):
		if f.down {
			w.WriteHeader(503)
			return
		}
		f.sessionPushes = append(f.sessionPushes, pushRecord{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/ocpi/2.2.1/emsp/sessions"), Body: body})
		f.answer(w, 200, 1000, nil)
	case r.URL.Path == "/ocpi/2.2.1/emsp/cdrs" && r.Method == "POST":
		if f.down {
			w.WriteHeader(503)
			return
		}
		f.cdrPushes = append(f.cdrPushes, pushRecord{Method: r.Method, Path: r.URL.Path, Body: body})
		w.Header().Set("Location", base+"/emsp/cdrs/"+fmt.Sprint(len(f.cdrPushes)))
		f.answer(w, 201, 1000, nil)
	default:
		f.answer(w, 404, 2000, nil)
	}
}

func (f *fakePartner) recordedSessions() (sessions, cdrs []pushRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pushRecord(nil), f.sessionPushes...), append([]pushRecord(nil), f.cdrPushes...)
}

func (f *fakePartner) recordedTariffs() []pushRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pushRecord(nil), f.tariffPushes...)
}

func (f *fakePartner) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakePartner) recorded() []pushRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pushRecord(nil), f.pushes...)
}

func (f *fakePartner) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func emspRole(cc, pid string) CredentialsRole {
	r := CredentialsRole{Role: "EMSP", CountryCode: cc, PartyID: pid}
	r.BusinessDetails.Name = "Fake eMSP " + pid
	return r
}

// registerPartner runs the whole inbound handshake: evroam invites (with the root
// network's admin key), the fake partner POSTs its credentials with the TOKEN_A. It returns
// the TOKEN_C the partner now uses with evroam.
func (e *env) registerPartner(f *fakePartner, name string) string {
	e.t.Helper()
	return e.registerPartnerWith(e.key, f, name)
}

// registerPartnerWith is registerPartner with the admin key of another network.
func (e *env) registerPartnerWith(key string, f *fakePartner, name string) string {
	e.t.Helper()
	var p struct {
		TokenA      string `json:"token_a"`
		VersionsURL string `json:"versions_url"`
	}
	send(e.t, "POST", e.srv.URL+"/api/v1/ocpi/partners", "", map[string]any{"name": name}, "X-API-Key: "+key).must(e.t, 201).data(e.t, &p)
	tokenA, versionsURL := p.TokenA, p.VersionsURL
	tokenB := "partner-token-b-" + newToken()[:8]
	f.allow(tokenB)
	var vs []VersionInfo
	send(e.t, "GET", versionsURL, tok(tokenA), nil).must(e.t, 200).data(e.t, &vs)
	var details VersionDetails
	send(e.t, "GET", vs[0].URL, tok(tokenA), nil).must(e.t, 200).data(e.t, &details)
	res := send(e.t, "POST", endpointURL(details.Endpoints, "credentials", ""), tok(tokenA),
		Credentials{Token: tokenB, URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}).must(e.t, 200)
	var ours Credentials
	res.data(e.t, &ours)
	f.mu.Lock()
	f.tokenForEvr = ours.Token
	f.mu.Unlock()
	return ours.Token
}

// location creates a location through the REST API and returns its id.
func (e *env) location(name string) string {
	e.t.Helper()
	var loc struct {
		ID string `json:"id"`
	}
	e.admin("POST", "/api/v1/locations", map[string]any{
		"name": name, "address": "Stationsplein 1", "city": "Amsterdam", "postal_code": "1012AB", "country": "NLD",
		"coordinates": map[string]string{"latitude": "52.37903", "longitude": "4.90007"},
		"time_zone":   "Europe/Amsterdam", "parking_type": "PARKING_LOT", "facilities": []string{"TRAIN_STATION"},
		"opening_times": map[string]any{"twentyfourseven": true},
		"operator":      map[string]any{"name": "Evroam"},
	}).must(e.t, 201).data(e.t, &loc)
	return loc.ID
}

// station creates a charge station with n EVSEs (an AC Type 2 socket and, on EVSE 2, also a
// CCS2 cable) through the REST API.
func (e *env) station(id, locationID, deployState string, n int) {
	e.t.Helper()
	defaultTariff, dcTariff := e.stationTariffs(locationID)
	evses := make([]map[string]any, n)
	for i := range evses {
		conns := []map[string]any{{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32, "max_electric_power": 22000}}
		if i == 1 {
			conns = append(conns, map[string]any{"id": "2", "internal": "CCS2_Cable", "power_type": "DC", "max_voltage": 920, "max_amperage": 400, "max_electric_power": 150000, "tariff_ids": []string{dcTariff}})
		}
		evses[i] = map[string]any{"evse_id": fmt.Sprintf("NL*EVR*E%s*%d", strings.ReplaceAll(id, "-", ""), i+1), "capabilities": []string{"RFID_READER"}, "connectors": conns}
	}
	e.admin("POST", "/api/v1/chargestations", map[string]any{
		"charge_station_id": id, "location_id": locationID, "deploy_state": deployState,
		"default_charge_station_tariff_id": defaultTariff, "charger_type": "Public", "evses": evses,
	}).must(e.t, 201)
}

// stationTariffs makes sure the network of location locationID has the tariffs station()
// refers to, and returns their ids: T1 and DC-FAST in the root network, T1-<party> and
// DC-FAST-<party> in others (tariff ids are unique system-wide).
func (e *env) stationTariffs(locationID string) (defaultTariff, dcTariff string) {
	e.t.Helper()
	var net struct {
		ID    uuid.UUID `db:"id"`
		Party string    `db:"party_id"`
	}
	if err := e.db.Get(&net, `SELECT n.id, n.party_id FROM locations l JOIN networks n ON n.id = l.network_id WHERE l.id = $1`, locationID); err != nil {
		e.t.Fatalf("network of location %s: %v", locationID, err)
	}
	suffix := ""
	if net.ID != e.root.ID {
		suffix = "-" + net.Party
	}
	for _, id := range []string{"T1" + suffix, "DC-FAST" + suffix} {
		r := e.admin("POST", "/api/v1/tariffs", map[string]any{"id": id, "network_id": net.ID, "currency": "EUR", "elements": []any{
			map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}}}}})
		if r.Status != 201 && r.Status != 409 {
			e.t.Fatalf("create tariff %s: %d %s", id, r.Status, r.Body)
		}
	}
	return "T1" + suffix, "DC-FAST" + suffix
}

// network creates a network below parent (nil: the root) through the REST API and returns
// it with an admin API key of its own.
func (e *env) network(parent *networks.Network, name, countryCode, partyID string) (networks.Network, string) {
	e.t.Helper()
	body := map[string]any{"name": name, "country_code": countryCode, "party_id": partyID}
	if parent != nil {
		body["parent_id"] = parent.ID
	}
	var resp struct {
		ID uuid.UUID `json:"id"`
	}
	e.admin("POST", "/api/v1/networks", body).must(e.t, 201).data(e.t, &resp)
	n := networks.Network{ID: resp.ID, Name: name, CountryCode: countryCode, PartyID: partyID}
	key, err := networks.NewStore(e.db).CreateKey(e.t.Context(), n.ID, name+" admin", true)
	if err != nil {
		e.t.Fatal(err)
	}
	return n, key
}

// locationIn creates a location in network (via its admin key) and returns its id.
func (e *env) locationIn(key, name string) string {
	e.t.Helper()
	var loc struct {
		ID string `json:"id"`
	}
	send(e.t, "POST", e.srv.URL+"/api/v1/locations", "", map[string]any{
		"name": name, "address": "Stationsplein 1", "city": "Amsterdam", "postal_code": "1012AB", "country": "NLD",
		"coordinates": map[string]string{"latitude": "52.37903", "longitude": "4.90007"},
		"time_zone":   "Europe/Amsterdam",
	}, "X-API-Key: "+key).must(e.t, 201).data(e.t, &loc)
	return loc.ID
}

func (e *env) deployState(stationID, state string) {
	e.t.Helper()
	e.admin("PATCH", "/api/v1/chargestations/"+stationID, map[string]any{"deploy_state": state}).must(e.t, 200)
}

// setStatus reports an EVSE status the way the OCPP gateway does.
func (e *env) setStatus(stationID string, seq int, ocpp string, status schema.Status) {
	e.t.Helper()
	found, _, _, err := e.evses.SetStatuses(e.t.Context(), []evse.StatusChange{{Identity: stationID, SequenceNumber: seq,
		OCPPStatus: ocpp, Status: status, At: time.Now()}})
	if err != nil || !found[0] {
		e.t.Fatalf("set status of %s EVSE %d: found %v, %v", stationID, seq, found, err)
	}
}
