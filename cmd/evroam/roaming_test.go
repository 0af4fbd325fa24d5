package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official OCPI 2.2.1 OpenAPI files (kept with package ocpi's tests) judge every OCPI body
// of the roaming end-to-end test, in both directions.

type oasLoader struct{}

func (oasLoader) Load(u string) (any, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.FromSlash(parsed.Path))
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(j))
}

var roamingOAS struct {
	once     sync.Once
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	base     string
	schemas  map[string]*jsonschema.Schema
}

// Schemas of the roaming test (refs relative to the 2.2.1 directory).
const (
	oasSession        = "modules/sessions/schema.yaml#/components/schemas/Session"
	oasSessionPatch   = "modules/sessions/schema.yaml#/components/schemas/SessionPatch"
	oasCDR            = "modules/cdrs/schema.yaml#/components/schemas/CDR"
	oasLocationRefs   = "modules/tokens/schema.yaml#/components/schemas/LocationReferences"
	oasAuthInfo       = "modules/tokens/schema.yaml#/components/schemas/AuthorizationInfo"
	oasToken          = "modules/tokens/schema.yaml#/components/schemas/Token"
	oasTokenPull      = "modules/tokens/sender-interface.yaml#/paths/~1tokens/get/responses/200/content/application~1json/schema"
	oasSessionsPull   = "modules/sessions/sender-interface.yaml#/paths/~1sessions/get/responses/200/content/application~1json/schema"
	oasCDRsPull       = "modules/cdrs/sender-interface.yaml#/paths/~1cdrs/get/responses/200/content/application~1json/schema"
	oasTokenGet       = "modules/tokens/receiver-interface.yaml#/paths/~1tokens~1%7Bcountry_code%7D~1%7Bparty_id%7D~1%7Btoken_uid%7D/get/responses/200/content/application~1json/schema"
	oasSuccess        = "components/schema.yaml#/components/responses/OCPISuccessResponse/content/application~1json/schema"
	oasErrorResponse  = "components/schema.yaml#/components/responses/OCPIErrorResponse/content/application~1json/schema"
	oasVersionDetails = "modules/versions/interface.yaml#/paths/~1versions~12.2.1/get/responses/200/content/application~1json/schema"
)

// mustOAS fails the test unless body validates against the official schema at ref.
func mustOAS(t testing.TB, ref string, body []byte) {
	t.Helper()
	roamingOAS.mu.Lock()
	if roamingOAS.compiler == nil {
		dir, err := filepath.Abs(filepath.Join("..", "..", "ocpi", "testdata", "openapi", "2.2.1"))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		c.UseLoader(oasLoader{})
		roamingOAS.compiler, roamingOAS.base, roamingOAS.schemas = c, "file://"+filepath.ToSlash(dir)+"/", map[string]*jsonschema.Schema{}
	}
	s, ok := roamingOAS.schemas[ref]
	if !ok {
		var err error
		if s, err = roamingOAS.compiler.Compile(roamingOAS.base + ref); err != nil {
			roamingOAS.mu.Unlock()
			t.Fatalf("compile %s: %v", ref, err)
		}
		roamingOAS.schemas[ref] = s
	}
	roamingOAS.mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("not JSON (%s): %v: %s", ref, err, body)
		return
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("body breaks the official OCPI 2.2.1 schema %s:\n%v\nbody: %s", ref, err, body)
	}
}

// emsp is an eMSP test partner of our own: versions, credentials, a Tokens SENDER (pages of
// its tokens, and real-time authorisation), a Sessions and a CDRs RECEIVER. It checks every
// body evroam sends it against the official schemas and records them.
type emsp struct {
	t    *testing.T
	srv  *httptest.Server
	cc   string // its party
	pid  string
	name string

	mu       sync.Mutex
	accept   map[string]bool
	evroam   string            // the token it calls evroam with
	tokens   []map[string]any  // what its Tokens SENDER lists
	auth     map[string]string // uid → allowed it answers; "hang" makes it not answer in time
	authRefs []string          // authorization_references it gave, in order
	authAsks []string          // "uid location evse" of every real-time authorisation
	sessions []record
	cdrs     []record
	// cdrFailures is how many CDR POSTs it answers 503 before it takes them.
	cdrFailures int
}

type record struct {
	Method, Path string
	Body         []byte
}

func newEMSP(t *testing.T, name, cc, pid string) *emsp {
	f := &emsp{t: t, cc: cc, pid: pid, name: name, accept: map[string]bool{}, auth: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *emsp) reply(w http.ResponseWriter, status, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	env := map[string]any{"status_code": code, "timestamp": time.Now().UTC().Format(time.RFC3339)}
	if data != nil {
		env["data"] = data
	}
	json.NewEncoder(w).Encode(env)
}

func bearer(r *http.Request) string {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Token ")
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return raw
	}
	return string(b)
}

func (f *emsp) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	ok := f.accept[bearer(r)]
	f.mu.Unlock()
	if !ok {
		f.reply(w, 401, 2000, nil)
		return
	}
	base := f.srv.URL + "/ocpi/2.2.1"
	path := strings.TrimPrefix(r.URL.Path, "/ocpi/2.2.1")
	switch {
	case r.Method == "GET" && r.URL.Path == "/ocpi/versions":
		f.reply(w, 200, 1000, []map[string]string{{"version": "2.2.1", "url": base}})
	case r.Method == "GET" && r.URL.Path == "/ocpi/2.2.1":
		f.reply(w, 200, 1000, map[string]any{"version": "2.2.1", "endpoints": []map[string]string{
			{"identifier": "credentials", "role": "SENDER", "url": base + "/credentials"},
			{"identifier": "tokens", "role": "SENDER", "url": base + "/tokens"},
			{"identifier": "sessions", "role": "RECEIVER", "url": base + "/sessions"},
			{"identifier": "cdrs", "role": "RECEIVER", "url": base + "/cdrs"},
		}})
	case r.Method == "GET" && path == "/tokens":
		// One token per page, the next page linked, as a SENDER may page.
		offset := 0
		fmt.Sscan(r.URL.Query().Get("offset"), &offset)
		f.mu.Lock()
		all := append([]map[string]any(nil), f.tokens...)
		f.mu.Unlock()
		page := []map[string]any{}
		if offset < len(all) {
			page = all[offset : offset+1]
		}
		if offset+1 < len(all) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/tokens?offset=%d&limit=1>; rel="next"`, base, offset+1))
		}
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(map[string]any{"data": page, "status_code": 1000, "timestamp": time.Now().UTC().Format(time.RFC3339)})
		mustOAS(f.t, oasTokenPull, buf.Bytes())
		w.Header().Set("Content-Type", "application/json")
		w.Write(buf.Bytes())
	case r.Method == "POST" && strings.HasPrefix(path, "/tokens/") && strings.HasSuffix(path, "/authorize"):
		mustOAS(f.t, oasLocationRefs, body)
		uid, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(path, "/tokens/"), "/authorize"))
		var refs struct {
			LocationID string   `json:"location_id"`
			EVSEUIDs   []string `json:"evse_uids"`
		}
		json.Unmarshal(body, &refs)
		f.mu.Lock()
		allowed := f.auth[uid]
		f.authAsks = append(f.authAsks, uid+" "+refs.LocationID+" "+strings.Join(refs.EVSEUIDs, ","))
		var tok map[string]any
		for _, t := range f.tokens {
			if t["uid"] == uid {
				tok = t
			}
		}
		ref := fmt.Sprintf("AUTH-%s-%d", uid, len(f.authRefs)+1)
		if allowed != "hang" {
			f.authRefs = append(f.authRefs, ref)
		}
		f.mu.Unlock()
		if allowed == "hang" {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
			return
		}
		info := map[string]any{"allowed": allowed, "token": tok, "authorization_reference": ref,
			"location": map[string]any{"location_id": refs.LocationID}}
		b, _ := json.Marshal(info)
		mustOAS(f.t, oasAuthInfo, b)
		f.reply(w, 200, 1000, info)
	case (r.Method == "PUT" || r.Method == "PATCH") && strings.HasPrefix(path, "/sessions/"):
		if r.Method == "PUT" {
			mustOAS(f.t, oasSession, body)
		} else {
			mustOAS(f.t, oasSessionPatch, body)
		}
		f.mu.Lock()
		f.sessions = append(f.sessions, record{r.Method, strings.TrimPrefix(path, "/sessions"), body})
		f.mu.Unlock()
		f.reply(w, 200, 1000, nil)
	case r.Method == "POST" && path == "/cdrs":
		mustOAS(f.t, oasCDR, body)
		var c struct {
			ID string `json:"id"`
		}
		json.Unmarshal(body, &c)
		f.mu.Lock()
		if f.cdrFailures > 0 {
			f.cdrFailures--
			f.mu.Unlock()
			f.reply(w, 503, 3000, nil)
			return
		}
		f.cdrs = append(f.cdrs, record{r.Method, path, body})
		f.mu.Unlock()
		w.Header().Set("Location", base+"/cdrs/"+c.ID)
		f.reply(w, 201, 1000, nil)
	default:
		f.reply(w, 404, 2000, nil)
	}
}

// register runs the handshake the way a real eMSP does: evroam invites it, it POSTs its
// credentials with the TOKEN_A.
func (f *emsp) register(e *e2e) {
	f.t.Helper()
	var p struct {
		TokenA      string `json:"token_a"`
		VersionsURL string `json:"versions_url"`
	}
	e.must("POST", "/api/v1/ocpi/partners", map[string]any{"name": f.name}, 201, &p)
	tokenB := "emsp-token-b-" + f.pid
	f.mu.Lock()
	f.accept[tokenB] = true
	f.mu.Unlock()
	var vs []struct {
		URL string `json:"url"`
	}
	f.ocpiMust("GET", p.VersionsURL, p.TokenA, nil, 200, &vs)
	var details struct {
		Endpoints []struct{ Identifier, Role, URL string } `json:"endpoints"`
	}
	res := f.ocpiMust("GET", vs[0].URL, p.TokenA, nil, 200, &details)
	mustOAS(f.t, oasVersionDetails, res)
	for _, ep := range []string{"tokens RECEIVER", "sessions SENDER", "cdrs SENDER"} {
		found := false
		for _, d := range details.Endpoints {
			found = found || d.Identifier+" "+d.Role == ep
		}
		if !found {
			f.t.Errorf("evroam's version details lack %s: %+v", ep, details.Endpoints)
		}
	}
	var ours struct {
		Token string `json:"token"`
	}
	f.ocpiMust("POST", vs[0].URL+"/credentials", p.TokenA, map[string]any{"token": tokenB, "url": f.srv.URL + "/ocpi/versions",
		"roles": []any{map[string]any{"role": "EMSP", "country_code": f.cc, "party_id": f.pid, "business_details": map[string]any{"name": f.name}}}},
		200, &ours)
	f.mu.Lock()
	f.evroam = ours.Token
	f.mu.Unlock()
}

// ocpiMust calls evroam's OCPI interface with token and decodes data into out.
func (f *emsp) ocpiMust(method, u, token string, body any, want int, out any) []byte {
	f.t.Helper()
	code, raw := f.ocpi(method, u, token, body)
	if code != want {
		f.t.Fatalf("%s %s = %d %s, want %d", method, u, code, raw, want)
	}
	if out != nil {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		json.Unmarshal(raw, &env)
		if err := json.Unmarshal(env.Data, out); err != nil {
			f.t.Fatalf("%s %s: decode %s: %v", method, u, raw, err)
		}
	}
	return raw
}

func (f *emsp) ocpi(method, u, token string, body any) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(f.t.Context(), method, u, rd)
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// token is one of its drivers' tokens.
func (f *emsp) token(uid, whitelist string) map[string]any {
	return map[string]any{"country_code": f.cc, "party_id": f.pid, "uid": uid, "type": "RFID",
		"contract_id": f.cc + "-" + f.pid + "-C" + uid, "issuer": f.name, "valid": true, "whitelist": whitelist,
		"last_updated": time.Now().UTC().Format(time.RFC3339)}
}

func (f *emsp) recorded() (sessions, cdrs []record, refs, asks []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]record(nil), f.sessions...), append([]record(nil), f.cdrs...),
		append([]string(nil), f.authRefs...), append([]string(nil), f.authAsks...)
}

// TestRoamingEndToEnd is issue 14's roaming test: an eMSP of our own registers, evroam pulls
// its tokens (paged), it pushes more; strict 1.6 and 2.0.1 stations authorise them (from the
// stored token, and in real time for NEVER and ALLOWED_OFFLINE tokens), charge with meter
// values and stop; the eMSP receives the session pushes and CDRs whose cost matches the
// tariff to the cent; a second eMSP sees none of it.
func TestRoamingEndToEnd(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- e.app.pusher.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The stations and their tariff: 0.30/kWh, 2.00/h charging, 6.00/h parked, 0.50 a session.
	e.station("ROAM-16", "roaming-station-pw", 1)
	e.station("ROAM-201", "roaming-station-pw", 1)
	var locs []struct {
		LocationID string `json:"location_id"`
	}
	for _, id := range []string{"ROAM-16", "ROAM-201"} {
		var cs struct {
			LocationID string `json:"location_id"`
		}
		e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &cs)
		locs = append(locs, cs)
		var cur struct {
			ETag string `json:"etag"`
		}
		e.must("GET", "/api/v1/tariffs/"+cs.LocationID, nil, 200, &cur)
		e.must("PUT", "/api/v1/tariffs/"+cs.LocationID, map[string]any{"etag": cur.ETag, "currency": "EUR", "elements": []any{
			map[string]any{"price_components": []any{
				map[string]any{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1},
				map[string]any{"type": "TIME", "price": 2.00, "vat": 21, "step_size": 60},
				map[string]any{"type": "PARKING_TIME", "price": 6.00, "vat": 21, "step_size": 60},
				map[string]any{"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1},
			}}}}, 200, nil)
	}

	m := newEMSP(t, "Test eMSP", "DE", "MSP")
	m.cdrFailures = 1 // the first CDR is retried, and the second waits behind it
	m.tokens = []map[string]any{m.token("PULLED1", "ALLOWED"), m.token("PULLED2", "ALLOWED")}
	other := newEMSP(t, "Other eMSP", "BE", "OTH")
	m.register(e)
	other.register(e)
	tokensURL := e.api + "/ocpi/2.2.1/tokens"

	// evroam pulls the partner's tokens after its registration, page by page.
	p16 := ocppStation(t, e, "ROAM-16", "roaming-station-pw", "ocpp1.6")
	p16.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	status16 := func(id string) string {
		var a struct {
			IDTagInfo struct {
				Status string `json:"status"`
			} `json:"idTagInfo"`
		}
		json.Unmarshal(p16.MustCall("Authorize", map[string]any{"idTag": id}), &a)
		return a.IDTagInfo.Status
	}
	eventually(t, "the pulled tokens are authorised", func() error {
		if s := status16("PULLED2"); s != "Accepted" {
			return fmt.Errorf("PULLED2 is %s", s)
		}
		return nil
	})

	// The partner pushes tokens; bad bodies are refused naming every bad field.
	for _, tk := range []map[string]any{m.token("CARD-OK", "ALLOWED"), m.token("CARD-NEVER", "NEVER"),
		m.token("CARD-DENIED", "NEVER"), m.token("CARD-OFFLINE", "ALLOWED_OFFLINE"), m.token("CARD-SILENT", "NEVER")} {
		b, _ := json.Marshal(tk)
		mustOAS(t, oasToken, b)
		res := m.ocpiMust("PUT", tokensURL+"/DE/MSP/"+tk["uid"].(string), m.evroam, tk, 200, nil)
		mustOAS(t, oasSuccess, res)
	}
	m.mu.Lock()
	m.tokens = append(m.tokens, m.token("CARD-NEVER", "NEVER"), m.token("CARD-DENIED", "NEVER"))
	m.auth["CARD-NEVER"], m.auth["CARD-DENIED"] = "ALLOWED", "NOT_ALLOWED"
	m.auth["CARD-OFFLINE"], m.auth["CARD-SILENT"] = "hang", "hang"
	m.mu.Unlock()
	code, raw := m.ocpi("PUT", tokensURL+"/DE/MSP/BAD", m.evroam, map[string]any{"uid": "OTHER", "type": "CAR", "whitelist": "SOMETIMES"})
	mustOAS(t, oasErrorResponse, raw)
	for _, want := range []string{"type", "whitelist", "contract_id is required", "issuer is required", "valid is required", "last_updated is required", "uid differs"} {
		if code != 400 || !bytes.Contains(raw, []byte(want)) {
			t.Errorf("PUT of a bad token = %d %s, want 400 naming %q", code, raw, want)
		}
	}
	if code, raw := m.ocpi("PUT", tokensURL+"/BE/OTH/CARD-X", m.evroam, m.token("CARD-X", "ALLOWED")); code != 400 {
		t.Errorf("PUT under another party = %d %s, want 400", code, raw)
	}
	var got map[string]any
	raw = m.ocpiMust("GET", tokensURL+"/DE/MSP/CARD-OK", m.evroam, nil, 200, &got)
	mustOAS(t, oasTokenGet, raw)
	if code, _ := other.ocpi("GET", tokensURL+"/DE/MSP/CARD-OK", other.evroam, nil); code != 400 {
		t.Errorf("the other partner reads our partner's token: %d, want 400", code)
	}
	// PATCH blocks a token; the station hears it at once.
	m.ocpiMust("PATCH", tokensURL+"/DE/MSP/PULLED1", m.evroam, map[string]any{"valid": false, "last_updated": time.Now().UTC().Format(time.RFC3339)}, 200, nil)
	if s := status16("PULLED1"); s != "Blocked" {
		t.Errorf("a token the partner blocked is %s, want Blocked", s)
	}
	if code, _ := m.ocpi("PATCH", tokensURL+"/DE/MSP/NOPE", m.evroam, map[string]any{"valid": false, "last_updated": time.Now().UTC().Format(time.RFC3339)}); code != 404 {
		t.Errorf("PATCH of an unknown token = %d, want 404", code)
	}

	// Real-time authorisation: NEVER and ALLOWED_OFFLINE tokens ask the eMSP.
	for uid, want := range map[string]string{"CARD-OK": "Accepted", "CARD-NEVER": "Accepted", "CARD-DENIED": "Invalid",
		"CARD-OFFLINE": "Accepted", "CARD-SILENT": "Invalid", "UNKNOWN-CARD": "Invalid"} {
		if s := status16(uid); s != want {
			t.Errorf("Authorize %s = %s, want %s", uid, s, want)
		}
	}
	_, _, _, asks := m.recorded()
	asked := strings.Join(asks, "|")
	for _, uid := range []string{"CARD-NEVER", "CARD-DENIED", "CARD-OFFLINE", "CARD-SILENT"} {
		if !strings.Contains(asked, uid+" "+locs[0].LocationID) {
			t.Errorf("no real-time authorisation of %s at location %s: %s", uid, locs[0].LocationID, asked)
		}
	}
	if strings.Contains(asked, "CARD-OK") || strings.Contains(asked, "PULLED") {
		t.Errorf("whitelisted ALLOWED tokens were asked in real time: %s", asked)
	}

	// A 1.6 session of CARD-OK: 20 minutes charging (3 + 2 kWh), 10 minutes parked.
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(min int) string { return stamp(t0.Add(time.Duration(min) * time.Minute)) }
	var st struct {
		TransactionID int `json:"transactionId"`
	}
	json.Unmarshal(p16.MustCall("StartTransaction", map[string]any{"connectorId": 1, "idTag": "CARD-OK", "meterStart": 1000, "timestamp": at(0)}), &st)
	p16.MustCall("StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": at(0)})
	waitSessions(t, m, func(rs []record) bool { return len(rs) >= 1 })
	p16.MustCall("MeterValues", map[string]any{"connectorId": 1, "transactionId": st.TransactionID, "meterValue": []any{map[string]any{
		"timestamp": at(10), "sampledValue": []any{map[string]any{"value": "4000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}}}}})
	waitSessions(t, m, func(rs []record) bool { return rs[len(rs)-1].Method == "PATCH" })
	p16.MustCall("StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "SuspendedEV", "timestamp": at(20)})
	p16.MustCall("StopTransaction", map[string]any{"transactionId": st.TransactionID, "idTag": "CARD-OK", "meterStop": 6000, "timestamp": at(30), "reason": "EVDisconnected"})

	// A 2.0.1 session of CARD-NEVER, authorised in real time: its reference goes into the
	// session and the CDR.
	p201 := ocppStation(t, e, "ROAM-201", "roaming-station-pw", "ocpp2.0.1")
	p201.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"vendorName": "Alfen", "model": "Eve"}})
	sample := func(wh float64) []any {
		return []any{map[string]any{"value": wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": map[string]any{"unit": "Wh"}}}
	}
	ev := func(typ, trigger string, seq, min int, info map[string]any, wh float64) json.RawMessage {
		info["transactionId"] = "TX-ROAM-1"
		body := map[string]any{"eventType": typ, "timestamp": at(min), "triggerReason": trigger, "seqNo": seq, "transactionInfo": info,
			"evse": map[string]any{"id": 1, "connectorId": 1}, "meterValue": []any{map[string]any{"timestamp": at(min), "sampledValue": sample(wh)}}}
		if typ == "Started" {
			body["idToken"] = map[string]any{"idToken": "CARD-NEVER", "type": "ISO14443"}
		}
		return p201.MustCall("TransactionEvent", body)
	}
	var started struct {
		IDTokenInfo struct {
			Status string `json:"status"`
		} `json:"idTokenInfo"`
	}
	json.Unmarshal(ev("Started", "Authorized", 0, 0, map[string]any{"chargingState": "Charging"}, 0), &started)
	if started.IDTokenInfo.Status != "Accepted" {
		t.Errorf("TransactionEvent Started with CARD-NEVER: %s, want Accepted", started.IDTokenInfo.Status)
	}
	_, _, refs, _ := m.recorded()
	wantRef := refs[len(refs)-1]
	ev("Updated", "MeterValuePeriodic", 1, 15, map[string]any{}, 2500)
	ev("Ended", "EVDeparted", 2, 30, map[string]any{"stoppedReason": "EVDisconnected", "chargingState": "Idle"}, 4000)

	// Both sessions reach the partner: PUT, PATCH, final PUT; then a CDR each.
	var cdrs []record
	eventually(t, "the CDRs reach the partner", func() error {
		_, cdrs, _, _ = m.recorded()
		if len(cdrs) < 2 {
			return fmt.Errorf("%d CDRs", len(cdrs))
		}
		return nil
	})
	// And the final PUT of each (its queue is apart from the CDRs').
	eventually(t, "the final session PUTs reach the partner", func() error {
		sessions, _, _, _ := m.recorded()
		n := 0
		for _, s := range sessions {
			if s.Method == "PUT" && bytes.Contains(s.Body, []byte(`"status":"COMPLETED"`)) {
				n++
			}
		}
		if n < 2 {
			return fmt.Errorf("%d final PUTs", n)
		}
		return nil
	})
	sessions, _, _, _ := m.recorded()
	byID := map[string][]record{}
	for _, s := range sessions {
		parts := strings.Split(s.Path, "/")
		if len(parts) != 4 || parts[1] != "NL" || parts[2] != "EVR" {
			t.Errorf("session push to %s, want /NL/EVR/{id}", s.Path)
			continue
		}
		byID[parts[3]] = append(byID[parts[3]], s)
	}
	type cdrView struct {
		ID                     string  `json:"id"`
		SessionID              string  `json:"session_id"`
		AuthMethod             string  `json:"auth_method"`
		AuthorizationReference *string `json:"authorization_reference"`
		TotalEnergy            float64 `json:"total_energy"`
		TotalTime              float64 `json:"total_time"`
		TotalParkingTime       float64 `json:"total_parking_time"`
		TotalCost              struct {
			Excl float64 `json:"excl_vat"`
			Incl float64 `json:"incl_vat"`
		} `json:"total_cost"`
		TotalEnergyCost struct {
			Excl float64 `json:"excl_vat"`
			Incl float64 `json:"incl_vat"`
		} `json:"total_energy_cost"`
		TotalTimeCost struct {
			Excl float64 `json:"excl_vat"`
		} `json:"total_time_cost"`
		TotalParkingCost struct {
			Excl float64 `json:"excl_vat"`
		} `json:"total_parking_cost"`
		CDRToken struct {
			UID string `json:"uid"`
		} `json:"cdr_token"`
		Tariffs []struct {
			ID string `json:"id"`
		} `json:"tariffs"`
		ChargingPeriods []struct {
			Dimensions []struct {
				Type   string  `json:"type"`
				Volume float64 `json:"volume"`
			} `json:"dimensions"`
		} `json:"charging_periods"`
	}
	found := map[string]cdrView{}
	for _, c := range cdrs {
		var v cdrView
		json.Unmarshal(c.Body, &v)
		found[v.CDRToken.UID] = v
		pushes := byID[v.SessionID]
		var kinds []string
		for _, p := range pushes {
			var s struct {
				Status string `json:"status"`
			}
			json.Unmarshal(p.Body, &s)
			kinds = append(kinds, p.Method+":"+s.Status)
		}
		if len(kinds) < 2 || kinds[0] != "PUT:ACTIVE" || kinds[len(kinds)-1] != "PUT:COMPLETED" {
			t.Errorf("pushes of session %s (%s): %v, want a PUT on start, PATCHes, a final PUT", v.SessionID, v.CDRToken.UID, kinds)
		}
	}
	// CARD-OK at 1.6: 5 kWh → 1.50 (1.815 → 1.82 incl.); 20 min charging → 0.67 (0.81);
	// 10 min parked → 1.00 (1.21); flat 0.50 (0.61): 3.67 excl., 4.45 incl. VAT.
	c16 := found["CARD-OK"]
	if c16.TotalCost.Excl != 3.67 || c16.TotalCost.Incl != 4.45 || c16.TotalEnergyCost.Excl != 1.50 || c16.TotalEnergyCost.Incl != 1.82 ||
		c16.TotalTimeCost.Excl != 0.67 || c16.TotalParkingCost.Excl != 1.00 || c16.TotalEnergy != 5 || c16.TotalTime != 0.5 ||
		c16.AuthMethod != "WHITELIST" || c16.AuthorizationReference != nil || len(c16.Tariffs) != 1 || len(c16.ChargingPeriods) != 2 {
		t.Errorf("CDR of the 1.6 session: %+v", c16)
	} else if d := c16.ChargingPeriods[0].Dimensions; d[0].Type != "ENERGY" || d[0].Volume != 3 || d[1].Type != "TIME" {
		t.Errorf("first charging period of the 1.6 CDR: %+v, want 3 kWh of charging", d)
	}
	// CARD-NEVER at 2.0.1: 4 kWh → 1.20 (1.45); 30 min charging → 1.00 (1.21); flat 0.50 (0.61):
	// 2.70 excl., 3.27 incl. VAT; authorised in real time, with the eMSP's reference.
	c201 := found["CARD-NEVER"]
	if c201.TotalCost.Excl != 2.70 || c201.TotalCost.Incl != 3.27 || c201.TotalEnergy != 4 || c201.AuthMethod != "AUTH_REQUEST" ||
		c201.AuthorizationReference == nil || *c201.AuthorizationReference != wantRef {
		t.Errorf("CDR of the 2.0.1 session: %+v (reference %v, want %s)", c201, c201.AuthorizationReference, wantRef)
	}
	for _, p := range byID[c201.SessionID] {
		var s struct {
			AuthorizationReference string `json:"authorization_reference"`
		}
		if json.Unmarshal(p.Body, &s); p.Method == "PUT" && s.AuthorizationReference != wantRef {
			t.Errorf("session PUT of the 2.0.1 session carries reference %q, want %q", s.AuthorizationReference, wantRef)
		}
	}

	// A correction: the tariff was wrong (energy is 0.40/kWh). The CDR sent stays as it is; a
	// Credit CDR of it and a new CDR follow, in that order. 5 kWh → 2.00 (2.42): 4.17 excl.
	var cur struct {
		ETag string `json:"etag"`
	}
	e.must("GET", "/api/v1/tariffs/"+locs[0].LocationID, nil, 200, &cur)
	e.must("PUT", "/api/v1/tariffs/"+locs[0].LocationID, map[string]any{"etag": cur.ETag, "currency": "EUR", "elements": []any{
		map[string]any{"price_components": []any{
			map[string]any{"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1},
			map[string]any{"type": "TIME", "price": 2.00, "vat": 21, "step_size": 60},
			map[string]any{"type": "PARKING_TIME", "price": 6.00, "vat": 21, "step_size": 60},
			map[string]any{"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1},
		}}}}, 200, nil)
	var mID string
	var list []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	e.must("GET", "/api/v1/ocpi/partners", nil, 200, &list)
	for _, p := range list {
		if p.Name == m.name {
			mID = p.ID
		}
	}
	var corr struct {
		CreditCDRID string `json:"credit_cdr_id"`
		NewCDRID    string `json:"new_cdr_id"`
	}
	e.must("POST", "/api/v1/ocpi/partners/"+mID+"/cdrs/"+c16.ID+"/correct", nil, 201, &corr)
	if code, _ := e.do("POST", "/api/v1/ocpi/partners/"+mID+"/cdrs/"+c16.ID+"/correct", nil); code != 409 {
		t.Errorf("a second correction of one CDR = %d, want 409", code)
	}
	eventually(t, "the correction reaches the partner", func() error {
		_, cdrs, _, _ = m.recorded()
		if len(cdrs) < 4 {
			return fmt.Errorf("%d CDRs", len(cdrs))
		}
		return nil
	})
	var credit, fresh struct {
		cdrView
		Credit            bool   `json:"credit"`
		CreditReferenceID string `json:"credit_reference_id"`
	}
	json.Unmarshal(cdrs[2].Body, &credit)
	json.Unmarshal(cdrs[3].Body, &fresh)
	if credit.ID != corr.CreditCDRID || !credit.Credit || credit.CreditReferenceID != c16.ID || credit.TotalCost.Excl != -3.67 ||
		credit.TotalCost.Incl != -4.45 || credit.TotalEnergy != 5 {
		t.Errorf("credit CDR: %s", cdrs[2].Body)
	}
	if fresh.ID != corr.NewCDRID || fresh.Credit || fresh.TotalCost.Excl != 4.17 || fresh.TotalCost.Incl != 5.05 || fresh.SessionID != c16.SessionID {
		t.Errorf("corrected CDR: %s", cdrs[3].Body)
	}

	// The pulls: the partner sees its two sessions and CDRs; the other partner none.
	var pulled []map[string]any
	raw = m.ocpiMust("GET", e.api+"/ocpi/2.2.1/sessions?limit=1", m.evroam, nil, 200, &pulled)
	mustOAS(t, oasSessionsPull, raw)
	if len(pulled) != 1 {
		t.Errorf("sessions page of limit 1: %d sessions", len(pulled))
	}
	raw = m.ocpiMust("GET", e.api+"/ocpi/2.2.1/sessions", m.evroam, nil, 200, &pulled)
	mustOAS(t, oasSessionsPull, raw)
	if len(pulled) != 2 {
		t.Errorf("the partner pulls %d sessions, want 2", len(pulled))
	}
	raw = m.ocpiMust("GET", e.api+"/ocpi/2.2.1/cdrs", m.evroam, nil, 200, &pulled)
	mustOAS(t, oasCDRsPull, raw)
	if len(pulled) != 4 {
		t.Errorf("the partner pulls %d CDRs, want 4 (two, a credit CDR and its replacement)", len(pulled))
	}
	for _, path := range []string{"/ocpi/2.2.1/sessions", "/ocpi/2.2.1/cdrs"} {
		other.ocpiMust("GET", e.api+path, other.evroam, nil, 200, &pulled)
		if len(pulled) != 0 {
			t.Errorf("the other partner pulls %d from %s, want none", len(pulled), path)
		}
	}
	os, oc, _, oasks := other.recorded()
	if len(os)+len(oc)+len(oasks) != 0 {
		t.Errorf("the other partner was sent %d sessions, %d CDRs, %d authorisations", len(os), len(oc), len(oasks))
	}
	// The admin API shows which modules of the partner evroam uses, and pulls on demand.
	var partners []struct {
		Name             string  `json:"name"`
		ID               string  `json:"id"`
		TokensSender     *string `json:"tokens_sender"`
		SessionsReceiver *string `json:"sessions_receiver"`
		CDRsReceiver     *string `json:"cdrs_receiver"`
	}
	e.must("GET", "/api/v1/ocpi/partners", nil, 200, &partners)
	for _, p := range partners {
		if p.TokensSender == nil || p.SessionsReceiver == nil || p.CDRsReceiver == nil {
			t.Errorf("partner %s modules: %+v", p.Name, p)
		}
		if p.Name == m.name {
			var res struct {
				Pulled int `json:"pulled"`
			}
			e.must("POST", "/api/v1/ocpi/partners/"+p.ID+"/tokens/sync?full=true", nil, 200, &res)
			if res.Pulled != 4 {
				t.Errorf("a full token pull stored %d tokens, want the 4 the partner lists", res.Pulled)
			}
		}
	}

	// The partner unregisters: its tokens authorise no more, on every node; its CDRs stay.
	m.ocpiMust("DELETE", e.api+"/ocpi/2.2.1/credentials", m.evroam, nil, 200, nil)
	eventually(t, "an unregistered partner's token is refused", func() error {
		if s := status16("CARD-OK"); s != "Invalid" {
			return fmt.Errorf("CARD-OK is %s", s)
		}
		return nil
	})
	var kept []struct {
		ID       string `db:"id"`
		Location string `db:"location_url"`
	}
	if err := e.app.db.Select(&kept, `SELECT id, coalesce(location_url, '') AS location_url FROM ocpi_cdrs ORDER BY seq`); err != nil || len(kept) != 4 {
		t.Errorf("after the unregistration %d CDRs are kept (%v), want 4", len(kept), err)
	}
	for _, c := range kept {
		if c.Location != m.srv.URL+"/ocpi/2.2.1/cdrs/"+c.ID {
			t.Errorf("CDR %s keeps Location %q, want the partner's", c.ID, c.Location)
		}
	}
}

// waitSessions waits until the session pushes the partner received satisfy ok.
func waitSessions(t *testing.T, m *emsp, ok func([]record) bool) {
	t.Helper()
	eventually(t, "session pushes", func() error {
		rs, _, _, _ := m.recorded()
		if len(rs) == 0 || !ok(rs) {
			return fmt.Errorf("%d session pushes", len(rs))
		}
		return nil
	})
}
