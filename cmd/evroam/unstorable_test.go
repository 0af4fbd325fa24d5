package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestUnstorableTextIsRefusedEverywhere: PostgreSQL text is UTF-8 without NUL. Text that
// breaks that, in a path id, a query parameter, a body field or the API key, must get a 4xx
// on every route of the engine, never a 500, and nothing may be stored.
func TestUnstorableTextIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	a, srv := startApp(t, "")
	param := regexp.MustCompile(`:[A-Za-z_]+`)
	send := func(method, url, key, body string) (int, string) {
		t.Helper()
		if strings.ContainsRune(key, 0) {
			return sendRaw(t, srv.Listener.Addr().String(), method, strings.TrimPrefix(url, srv.URL), key, body)
		}
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const key = "test-admin-key-0123456789abcdefghij"
	for _, r := range a.api.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue // OCPI has its own token checks (ocpi tests)
		}
		for _, tc := range []struct {
			name, path, query, key, body string
			want                         []int
		}{
			{"NUL in the path", param.ReplaceAllString(r.Path, "a%00b"), "", key, `{}`, []int{404}},
			{"invalid UTF-8 in the path", param.ReplaceAllString(r.Path, "a%FF%FEb"), "", key, `{}`, []int{404}},
			{"NUL in a query parameter", param.ReplaceAllString(r.Path, "x"), "?location_id=a%00b&date_from=x%00", key, `{}`, []int{400, 404}},
			{"invalid UTF-8 in a query parameter", param.ReplaceAllString(r.Path, "x"), "?name=%C3%28", key, `{}`, []int{400, 404}},
			// net/http itself refuses a header with a NUL (400) before any handler runs.
			{"NUL in the API key", r.Path, "", "test-admin-key\x00-0123456789", `{}`, []int{400, 401}},
			{"invalid UTF-8 in the API key", r.Path, "", "test-admin-key-\xff\xfe456789", `{}`, []int{401}},
		} {
			if strings.Contains(tc.path, ":") || (tc.path == r.Path && strings.Contains(tc.name, "path")) {
				continue // a route without parameters has no path id to spoil
			}
			status, body := send(r.Method, srv.URL+tc.path+tc.query, tc.key, tc.body)
			ok := false
			for _, w := range tc.want {
				ok = ok || status == w
			}
			if !ok {
				t.Errorf("%s %s, %s: HTTP %d %s; want %v", r.Method, r.Path, tc.name, status, body, tc.want)
			}
		}
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			continue
		}
		path := param.ReplaceAllString(r.Path, "x")
		for _, tc := range []struct{ name, body string }{
			{"raw invalid UTF-8 in the body", "{\"name\": \"caf\xe9\"}"},
			{"a lone surrogate escaped in the body", `{"name": "\ud800"}`},
			{"NUL escaped in a body field", `{"name": "a\u0000b", "id": "x\u0000"}`},
		} {
			status, body := send(r.Method, srv.URL+path, key, tc.body)
			if status < 400 || status >= 500 {
				t.Errorf("%s %s, %s: HTTP %d %s; want a 4xx", r.Method, r.Path, tc.name, status, body)
			}
			if tc.name == "NUL escaped in a body field" && status == 422 && !strings.Contains(body, "NUL") {
				t.Errorf("%s %s, %s: the 422 does not name the NUL field: %s", r.Method, r.Path, tc.name, body)
			}
		}
	}
	var stored int
	if err := a.db.Get(&stored, `SELECT (SELECT count(*) FROM locations) + (SELECT count(*) FROM templates) +
		(SELECT count(*) FROM charge_stations) + (SELECT count(*) FROM networks WHERE parent_id IS NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("%d objects were stored from bodies with unstorable text", stored)
	}
}

// sendRaw sends one HTTP/1.1 request over a bare connection: Go's client refuses to send a
// header with a NUL, which is exactly what this test needs to send.
func sendRaw(t *testing.T, addr, method, path, key, body string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, path, addr, key, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIDsThatAPathCannotCarryAreRefused: a location or template id with '/' (or a space, '?',
// '#', '%') could be stored but never be read again by its URL: 422, nothing stored.
func TestIDsThatAPathCannotCarryAreRefused(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	loc := map[string]any{"name": "Depot", "address": "Weg 1", "city": "Utrecht", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]string{"latitude": "52.09074", "longitude": "5.12142"}}
	tpl := map[string]any{"name": "AC", "evse_templates": []any{map[string]any{"evse_sequence_number": 1, "connector_templates": []any{
		map[string]any{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}}}}}
	fields := func(method, path string, body any) (int, []string) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, e.api+path, bytes.NewReader(b))
		req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&env)
		var out []string
		for _, fe := range env.Errors {
			out = append(out, fe.Field)
		}
		return resp.StatusCode, out
	}
	for _, id := range []string{"a/b", "a b", "a?b", "a#b", "50%"} {
		loc["id"] = id
		if code, got := fields("POST", "/api/v1/locations", loc); code != 422 || !slices.Contains(got, "id") {
			t.Errorf("POST location with id %q: %d %v; want 422 naming id", id, code, got)
		}
		tpl["template_id"] = id
		if code, got := fields("POST", "/api/v1/templates", tpl); code != 422 || !slices.Contains(got, "template_id") {
			t.Errorf("POST template with template_id %q: %d %v; want 422 naming template_id", id, code, got)
		}
	}
	delete(tpl, "template_id")
	if code, body := e.do("PUT", "/api/v1/templates/a%20b", tpl); code != 422 {
		t.Errorf("PUT /templates/a%%20b: %d %s; want 422", code, body)
	}
	loc["id"] = "LOC:ok@1"
	if code, body := e.do("POST", "/api/v1/locations", loc); code != 201 {
		t.Errorf("POST location with a path-safe id: %d %s", code, body)
	}
	if code, _ := e.do("GET", "/api/v1/locations/LOC:ok@1", nil); code != 200 {
		t.Errorf("GET the location by its id: %d", code)
	}
}

// TestBoundedWorkPerRequest: lists have limits (100 EVSEs per station, 16 connectors per
// EVSE, 100 items in other lists), and an error answer names at most 100 bad fields with a
// count of the rest, so a huge bad body gets a small answer.
func TestBoundedWorkPerRequest(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	var loc struct{ ID string }
	e.must("POST", "/api/v1/locations", map[string]any{"name": "Depot", "address": "Weg 1", "city": "Utrecht", "country": "NLD",
		"time_zone": "Europe/Amsterdam", "coordinates": map[string]string{"latitude": "52.09074", "longitude": "5.12142"}}, 201, &loc)
	e.must("PUT", "/api/v1/tariffs/T", freeTariff, 201, nil)
	station := func(evses []any) map[string]any {
		return map[string]any{"charge_station_id": "CS-BIG", "location_id": loc.ID, "deploy_state": "Stock",
			"default_charge_station_tariff_id": "T", "charger_type": "Public", "evses": evses}
	}
	good := map[string]any{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}
	post := func(body any) (int, map[string]any, int) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", e.api+"/api/v1/chargestations", bytes.NewReader(b))
		req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var env map[string]any
		_ = json.Unmarshal(raw, &env)
		return resp.StatusCode, env, len(raw)
	}

	evses := make([]any, 101)
	for i := range evses {
		evses[i] = map[string]any{"connectors": []any{good}}
	}
	if code, env, _ := post(station(evses)); code != 422 || !strings.Contains(fmt.Sprint(env["errors"]), "at most 100 items") {
		t.Errorf("101 EVSEs: %d %v; want 422, at most 100 items", code, env["errors"])
	}

	// A body over the 4 MiB limit is refused before it is parsed.
	huge := make([]any, 100_000)
	for i := range huge {
		huge[i] = good
	}
	if code, env, _ := post(station([]any{map[string]any{"connectors": huge}})); code != 413 {
		t.Errorf("a 10 MB body: %d %v; want 413", code, env["status_message"])
	}

	// Within the limits, 100 EVSEs of 16 bad connectors each are 1,600 bad fields: the answer
	// names 100 and counts the rest.
	badEVSEs := make([]any, 100)
	for i := range badEVSEs {
		cs := make([]any, 16)
		for j := range cs {
			cs[j] = map[string]any{"id": "1", "standard": "NOPE", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}
		}
		badEVSEs[i] = map[string]any{"connectors": cs}
	}
	code, env, size := post(station(badEVSEs))
	errs, _ := env["errors"].([]any)
	omitted, _ := env["errors_omitted"].(float64)
	if code != 422 || len(errs) != 100 || omitted < 1500 || size > 64<<10 {
		t.Errorf("1,600 bad connectors: %d, %d errors named, errors_omitted %v, %d bytes; want 422, 100 named, a count of the rest, a small answer",
			code, len(errs), env["errors_omitted"], size)
	}

	evses = evses[:100]
	if code, env, _ := post(station(evses)); code != 201 {
		t.Errorf("100 EVSEs (the maximum): %d %v", code, env["errors"])
	}
}
