package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsEveryRoute checks that every route of the real engine is in the OpenAPI
// document served at /openapi.json, with its method, and that the document has no path the
// engine does not serve.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	a, srv := startApp(t, "")
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	served := map[string]bool{}
	for _, r := range a.api.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		served[path] = true
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but not documented in openapi.json", r.Method, path)
		}
	}
	for path := range doc.Paths {
		if !served[path] {
			t.Errorf("openapi.json documents %s, which the engine does not serve", path)
		}
	}
}
