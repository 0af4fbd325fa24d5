package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/evroam/evroam/ocpi"
)

// TestRouteTableMountsOCPI checks that the route table serves the OCPI interface with its own
// token authentication and the partner administration behind admin API keys.
func TestRouteTableMountsOCPI(t *testing.T) {
	t.Parallel()
	srv, admin, nets, root := routeTable(t, ocpi.Config{PublicURL: "https://cpo.example.com"})
	plain, err := nets.CreateKey(t.Context(), root.ID, "plain", false)
	if err != nil {
		t.Fatal(err)
	}

	do := func(method, path, header string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if k, v, ok := strings.Cut(header, ": "); ok {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// An API key is not an OCPI token.
	if code, body := do("GET", "/ocpi/versions", "Authorization: Token "+admin); code != 401 || !strings.Contains(body, `"status_code":2000`) {
		t.Errorf("GET /ocpi/versions with an API key = %d %s, want 401", code, body)
	}
	if code, body := do("GET", "/api/v1/ocpi/partners", "X-API-Key: "+plain); code != 403 {
		t.Errorf("partners with a non-admin key = %d %s, want 403", code, body)
	}
	code, body := do("POST", "/api/v1/ocpi/partners", "X-API-Key: "+admin)
	if code != 400 {
		t.Errorf("POST partners without a body = %d %s, want 400", code, body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/v1/ocpi/partners", strings.NewReader(`{"name":"eMSP"}`))
	req.Header.Set("X-API-Key", admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(b), `"versions_url":"https://cpo.example.com/ocpi/versions"`) {
		t.Errorf("POST partners = %d %s, want 201 with the EVROAM_PUBLIC_URL versions URL", resp.StatusCode, b)
	}
	if !strings.Contains(string(b), `"network_id":"`+root.ID.String()+`"`) {
		t.Errorf("POST partners = %s, want the partner in the network of the key (%s)", b, root.ID)
	}
}
