package ocpi

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

func TestVersionsAndDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokenA, versionsURL := e.invite("eMSP")
	if want := e.srv.URL + "/ocpi/versions"; versionsURL != want {
		t.Fatalf("versions_url = %q, want %q", versionsURL, want)
	}

	res := send(t, "GET", versionsURL, tok(tokenA), nil, "X-Request-ID: req-1", "X-Correlation-ID: corr-1").must(t, 200)
	mustMatchOAS(t, oasVersions, res.Body)
	checkEnvelope(t, res.Body, 1000)
	if res.Header.Get("X-Request-ID") != "req-1" || res.Header.Get("X-Correlation-ID") != "corr-1" {
		t.Errorf("X-Request-ID/X-Correlation-ID not echoed: %v", res.Header)
	}
	var vs []VersionInfo
	res.data(t, &vs)
	if len(vs) != 1 || vs[0].Version != "2.2.1" || vs[0].URL != e.srv.URL+"/ocpi/2.2.1" {
		t.Fatalf("versions = %+v", vs)
	}

	res = send(t, "GET", vs[0].URL, tok(tokenA), nil).must(t, 200)
	mustMatchOAS(t, oasVersionDetails, res.Body)
	checkEnvelope(t, res.Body, 1000)
	if res.Header.Get("X-Request-ID") == "" || res.Header.Get("X-Correlation-ID") == "" {
		t.Errorf("a response without X-Request-ID/X-Correlation-ID: %v", res.Header)
	}
	var d VersionDetails
	res.data(t, &d)
	want := []Endpoint{
		{Identifier: "credentials", Role: "SENDER", URL: e.srv.URL + "/ocpi/2.2.1/credentials"},
		{Identifier: "locations", Role: "SENDER", URL: e.srv.URL + "/ocpi/2.2.1/locations"},
		{Identifier: "tariffs", Role: "SENDER", URL: e.srv.URL + "/ocpi/2.2.1/tariffs"},
		{Identifier: "tokens", Role: "RECEIVER", URL: e.srv.URL + "/ocpi/2.2.1/tokens"},
		{Identifier: "sessions", Role: "SENDER", URL: e.srv.URL + "/ocpi/2.2.1/sessions"},
		{Identifier: "cdrs", Role: "SENDER", URL: e.srv.URL + "/ocpi/2.2.1/cdrs"},
		{Identifier: "commands", Role: "RECEIVER", URL: e.srv.URL + "/ocpi/2.2.1/commands"},
	}
	if d.Version != "2.2.1" || !slices.Equal(d.Endpoints, want) {
		t.Errorf("details = %+v, want endpoints %+v", d, want)
	}

	// No token, unknown token: 401 in the envelope.
	for _, auth := range []string{"", "Token " + base64.StdEncoding.EncodeToString([]byte("nope")), "Bearer " + tokenA} {
		res := send(t, "GET", versionsURL, auth, nil).must(t, 401)
		mustMatchOAS(t, oasUnauthorized, res.Body)
		checkEnvelope(t, res.Body, 2000)
	}
}

func TestPartnerRegistersWithUs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, true)
	tokenA, _ := e.invite("eMSP DE*MSP")

	// TOKEN_A opens versions and credentials only.
	res := e.ocpi("GET", "/ocpi/2.2.1/locations", tokenA, nil).must(t, 401)
	mustMatchOAS(t, oasUnauthorized, res.Body)
	checkEnvelope(t, res.Body, 2000)
	res = e.ocpi("GET", "/ocpi/2.2.1/credentials", tokenA, nil).must(t, 200)
	mustMatchOAS(t, oasCredentialsGet, res.Body)

	// PUT and DELETE before registering: 405.
	tokenB := "partner-token-b-1"
	f.allow(tokenB)
	body := Credentials{Token: tokenB, URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}
	for _, m := range []string{"PUT", "DELETE"} {
		res := e.ocpi(m, "/ocpi/2.2.1/credentials", tokenA, body).must(t, 405)
		mustMatchOAS(t, oasCredentials405, res.Body)
		checkEnvelope(t, res.Body, 2000)
	}

	// POST registers: evroam calls the partner's versions and details with TOKEN_B and
	// answers TOKEN_C.
	res = e.ocpi("POST", "/ocpi/2.2.1/credentials", tokenA, body, "X-Request-ID: r2", "X-Correlation-ID: c2").must(t, 200)
	mustMatchOAS(t, oasCredentialsPost, res.Body)
	checkEnvelope(t, res.Body, 1000)
	if res.Header.Get("X-Request-ID") != "r2" || res.Header.Get("X-Correlation-ID") != "c2" {
		t.Errorf("ids not echoed: %v", res.Header)
	}
	var ours Credentials
	res.data(t, &ours)
	if ours.Token == "" || ours.Token == tokenA || ours.URL != e.srv.URL+"/ocpi/versions" {
		t.Fatalf("our credentials = %+v", ours)
	}
	if len(ours.Roles) != 1 || ours.Roles[0] != (CredentialsRole{Role: "CPO", CountryCode: "NL", PartyID: "EVR", BusinessDetails: ours.Roles[0].BusinessDetails}) || ours.Roles[0].BusinessDetails.Name != "Evroam Root" {
		t.Errorf("roles = %+v, want the root network as CPO NL*EVR", ours.Roles)
	}
	calls := f.callLog()
	for _, want := range []string{"GET /ocpi/versions " + tokenB, "GET /ocpi/2.2.1 " + tokenB} {
		if !slices.Contains(calls, want) {
			t.Errorf("partner calls %q, want %q among them", calls, want)
		}
	}
	tokenC := ours.Token

	// TOKEN_A is refused from now on, everywhere.
	for _, path := range []string{"/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/credentials", "/ocpi/2.2.1/locations"} {
		res := e.ocpi("GET", path, tokenA, nil).must(t, 401)
		checkEnvelope(t, res.Body, 2000)
	}
	// A second POST: 405; PATCH is not a credentials method at all.
	res = e.ocpi("POST", "/ocpi/2.2.1/credentials", tokenC, body).must(t, 405)
	mustMatchOAS(t, oasCredentials405, res.Body)
	res = e.ocpi("PATCH", "/ocpi/2.2.1/credentials", tokenC, body, "X-Request-ID: r3").must(t, 405)
	checkEnvelope(t, res.Body, 2000)
	if res.Header.Get("X-Request-ID") != "r3" {
		t.Errorf("405 without the echoed X-Request-ID")
	}

	// TOKEN_C works, Base64 (2.2.1) or raw (2.1.1 style), for the functional modules too.
	res = e.ocpi("GET", "/ocpi/2.2.1/credentials", tokenC, nil).must(t, 200)
	mustMatchOAS(t, oasCredentialsGet, res.Body)
	var got Credentials
	res.data(t, &got)
	if got.Token != tokenC {
		t.Errorf("GET credentials token = %q, want %q", got.Token, tokenC)
	}
	send(t, "GET", e.srv.URL+"/ocpi/2.2.1/credentials", "Token "+tokenC, nil).must(t, 200)
	res = e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil,
		"OCPI-from-country-code: DE", "OCPI-from-party-id: MSP", "OCPI-to-country-code: NL", "OCPI-to-party-id: EVR").must(t, 200)
	mustMatchOAS(t, oasLocationList, res.Body)
	checkEnvelope(t, res.Body, 1000)
	for h, want := range map[string]string{"OCPI-to-country-code": "DE", "OCPI-to-party-id": "MSP", "OCPI-from-country-code": "NL", "OCPI-from-party-id": "EVR"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("response %s = %q, want %q (routing headers swapped)", h, got, want)
		}
	}

	// The admin API shows the partner registered, with its roles and receiver.
	var list []partnerResponse
	lr := e.admin("GET", "/api/v1/ocpi/partners", nil).must(t, 200)
	lr.data(t, &list)
	if len(list) != 1 || list[0].State != StateRegistered || list[0].Initiator != InitiatorPartner ||
		len(list[0].Roles) != 1 || list[0].Roles[0].PartyID != "MSP" || list[0].LocationsReceiver == nil || list[0].TokenA != "" {
		t.Fatalf("partners = %s", lr.Body)
	}

	// PUT rotates: new TOKEN_B for us, new TOKEN_C for the partner; the old C dies.
	tokenB2 := "partner-token-b-2"
	f.allow(tokenB2)
	body.Token = tokenB2
	res = e.ocpi("PUT", "/ocpi/2.2.1/credentials", tokenC, body).must(t, 200)
	mustMatchOAS(t, oasCredentialsPut, res.Body)
	checkEnvelope(t, res.Body, 1000)
	var rotated Credentials
	res.data(t, &rotated)
	if rotated.Token == "" || rotated.Token == tokenC {
		t.Fatalf("PUT answered token %q, want a new one", rotated.Token)
	}
	if !slices.Contains(f.callLog(), "GET /ocpi/versions "+tokenB2) {
		t.Errorf("after PUT evroam did not fetch the partner's versions with the new token: %q", f.callLog())
	}
	e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil).must(t, 401)
	e.ocpi("GET", "/ocpi/2.2.1/locations", rotated.Token, nil).must(t, 200)

	// DELETE unregisters: every token dies, PUT/DELETE can no longer be used.
	res = e.ocpi("DELETE", "/ocpi/2.2.1/credentials", rotated.Token, nil).must(t, 200)
	mustMatchOAS(t, oasCredentialsDelete, res.Body)
	checkEnvelope(t, res.Body, 1000)
	e.ocpi("GET", "/ocpi/versions", rotated.Token, nil).must(t, 401)
	e.ocpi("DELETE", "/ocpi/2.2.1/credentials", rotated.Token, nil).must(t, 401)
	e.admin("GET", "/api/v1/ocpi/partners", nil).must(t, 200).data(t, &list)
	if list[0].State != StateUnregistered {
		t.Errorf("state after DELETE = %s, want UNREGISTERED", list[0].State)
	}
}

func TestRegistrationErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, test := range []struct {
		name     string
		setup    func(f *fakePartner)
		body     func(f *fakePartner) any
		wantHTTP int
		wantCode int
	}{
		{"NotJSON", nil, func(*fakePartner) any { return `{"token":` }, 400, 2001},
		{"MissingRoles", nil, func(f *fakePartner) any {
			return map[string]any{"token": "tok-b", "url": f.versionsURL()}
		}, 200, 2001},
		{"TokenWithSpace", nil, func(f *fakePartner) any {
			return Credentials{Token: "tok b", URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}
		}, 200, 2001},
		{"VersionsUnreachable", nil, func(f *fakePartner) any {
			return Credentials{Token: "tok-b", URL: "http://127.0.0.1:1/versions", Roles: []CredentialsRole{emspRole("DE", "MSP")}}
		}, 200, 3001},
		{"TokenBRefused", func(f *fakePartner) { f.accept = map[string]bool{} }, func(f *fakePartner) any {
			return Credentials{Token: "tok-b", URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}
		}, 200, 3001},
		{"NoVersion221", func(f *fakePartner) { f.versions = []VersionInfo{{Version: "2.1.1", URL: f.srv.URL + "/ocpi/2.1.1"}} }, func(f *fakePartner) any {
			return Credentials{Token: "tok-b", URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}
		}, 200, 3002},
		{"NoCredentialsEndpoint", func(f *fakePartner) { f.noCredsEP = true }, func(f *fakePartner) any {
			return Credentials{Token: "tok-b", URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}
		}, 200, 3003},
	} {
		t.Run(test.name, func(t *testing.T) {
			f := newFakePartner(t, false)
			f.allow("tok-b")
			if test.setup != nil {
				test.setup(f)
			}
			tokenA, _ := e.invite(test.name)
			res := send(t, "POST", e.srv.URL+"/ocpi/2.2.1/credentials", tok(tokenA), test.body(f)).must(t, test.wantHTTP)
			mustMatchOAS(t, oasError, res.Body)
			checkEnvelope(t, res.Body, test.wantCode)
			// The registration did not happen: TOKEN_A still works.
			e.ocpi("GET", "/ocpi/versions", tokenA, nil).must(t, 200)
		})
	}
}

func TestWeRegisterWithPartner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, true)
	partnerTokenA := "partner-token-a"
	f.allow(partnerTokenA)

	res := e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": "eMSP", "versions_url": f.versionsURL(), "token_a": partnerTokenA}).must(t, 201)
	var p partnerResponse
	res.data(t, &p)
	if p.State != StateRegistered || p.Initiator != InitiatorEvroam || p.VersionsURL != f.versionsURL() || p.LocationsReceiver == nil || p.TokenA != "" {
		t.Fatalf("partner = %s", res.Body)
	}
	f.mu.Lock()
	tokenB, tokenC, ourURL := f.tokenForEvr, f.tokenC, f.ourVersions
	f.mu.Unlock()
	if tokenB == "" || tokenC == "" || ourURL != e.srv.URL+"/ocpi/versions" {
		t.Fatalf("handshake incomplete: B=%q C=%q url=%q", tokenB, tokenC, ourURL)
	}
	calls := f.callLog()
	for _, want := range []string{"GET /ocpi/versions " + partnerTokenA, "GET /ocpi/2.2.1 " + partnerTokenA, "POST /ocpi/2.2.1/credentials " + partnerTokenA} {
		if !slices.Contains(calls, want) {
			t.Errorf("partner calls %q, want %q among them", calls, want)
		}
	}
	// The partner uses TOKEN_B with us, for every module now; the partner's TOKEN_A is not ours.
	res = e.ocpi("GET", "/ocpi/2.2.1/locations", tokenB, nil).must(t, 200)
	mustMatchOAS(t, oasLocationList, res.Body)
	e.ocpi("GET", "/ocpi/versions", partnerTokenA, nil).must(t, 401)
	// We already registered: the partner's POST to us is a 405.
	e.ocpi("POST", "/ocpi/2.2.1/credentials", tokenB, Credentials{Token: "x", URL: f.versionsURL(), Roles: []CredentialsRole{emspRole("DE", "MSP")}}).must(t, 405)

	// Deleting the partner tells it (DELETE with its TOKEN_C) and kills TOKEN_B.
	e.admin("DELETE", "/api/v1/ocpi/partners/"+p.ID.String(), nil).must(t, 204)
	if !slices.Contains(f.callLog(), "DELETE /ocpi/2.2.1/credentials "+tokenC) {
		t.Errorf("partner was not told: %q", f.callLog())
	}
	e.ocpi("GET", "/ocpi/versions", tokenB, nil).must(t, 401)
	e.admin("GET", "/api/v1/ocpi/partners/"+p.ID.String(), nil).must(t, 404)
}

func TestWeRegisterWithPartnerFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	// The partner does not know the token we were given.
	res := e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": "eMSP", "versions_url": f.versionsURL(), "token_a": "wrong"}).must(t, 502)
	_, code, msg := res.env(t)
	if code != 3001 || !strings.Contains(msg, "401") {
		t.Errorf("code %d message %q, want 3001 naming the partner's 401", code, msg)
	}
	var list []partnerResponse
	e.admin("GET", "/api/v1/ocpi/partners", nil).must(t, 200).data(t, &list)
	if len(list) != 1 || list[0].State != StateFailed || list[0].LastError == nil {
		t.Errorf("partners = %+v, want one FAILED with its reason", list)
	}
	// Half a body, and non-admin keys, are refused.
	e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": "x", "token_a": "abc"}).must(t, 422)
	e.admin("POST", "/api/v1/ocpi/partners", map[string]any{"name": "x", "versions_url": "not a url", "token_a": "abc"}).must(t, 422)
	send(t, "GET", e.srv.URL+"/api/v1/ocpi/partners", "", nil).must(t, 401)
}
