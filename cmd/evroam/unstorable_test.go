package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
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
	const key = "test-admin-key-0123456789"
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
