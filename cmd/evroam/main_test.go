package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/pgcluster"
	"github.com/evroam/evroam/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// startApp wires the whole service on a fresh database (through dbURL when given) and serves
// its API.
func startApp(t testing.TB, dbURL string) (*app, *httptest.Server) {
	return startNode(t, dbURL, "test-node")
}

// testSecretKey is EVROAM_SECRET_KEY of the test apps (64 hex digits).
const testSecretKey = "8f1c2e6a9b3d4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e"

// startNode is startApp for one of several nodes on one database.
func startNode(t testing.TB, dbURL, nodeID string) (*app, *httptest.Server) {
	t.Helper()
	return startNodeWithLog(t, dbURL, nodeID, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// startNodeWithLog is startNode with the app logging to log.
func startNodeWithLog(t testing.TB, dbURL, nodeID string, log *slog.Logger) (*app, *httptest.Server) {
	t.Helper()
	return startNodeWith(t, dbURL, nodeID, log, nil)
}

// startNodeWith is startNodeWithLog with more environment (extra wins).
func startNodeWith(t testing.TB, dbURL, nodeID string, log *slog.Logger, extra map[string]string) (*app, *httptest.Server) {
	t.Helper()
	if dbURL == "" {
		dbURL = pgtest.URL(t)
	}
	cfg, err := loadConfig(nil, func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		return map[string]string{
			"EVROAM_DATABASE_URL":    dbURL,
			"EVROAM_ADMIN_API_KEY":   "test-admin-key-0123456789abcdefghij",
			"EVROAM_HTTP_ADDR":       "127.0.0.1:0",
			"EVROAM_OCPP_ADDR":       "127.0.0.1:0",
			"EVROAM_NODE_ID":         nodeID,
			"EVROAM_COMMAND_TIMEOUT": "5s",
			"EVROAM_SECRET_KEY":      testSecretKey,
			// operator links of the OCPP proxy come back quickly in the tests
			"EVROAM_PROXY_RECONNECT_MAX": "1s",
			// the test partners listen on loopback
			"EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES": "true",
			// roaming tests: a quick real-time authorisation timeout, PATCHes not held back long
			"EVROAM_OCPI_AUTHORIZE_TIMEOUT":      "500ms",
			"EVROAM_OCPI_SESSION_PATCH_INTERVAL": "50ms",
			// a test's reads decide what the answer cache holds (TestWarmUpAfterStart warms)
			"EVROAM_STATION_CACHE_WARM_AFTER": "off",
		}[k]
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := newApp(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.api)
	t.Cleanup(srv.Close)
	return a, srv
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestDatabaseDownAndBack cuts the database away under a running service: requests answer
// 503 in the envelope without internals, and the service recovers by itself when PostgreSQL is
// reachable again.
func TestDatabaseDownAndBack(t *testing.T) {
	t.Parallel()
	proxy, viaProxy := pgtest.NewProxy(t, pgtest.URL(t))
	_, srv := startApp(t, viaProxy)

	if code, _ := get(t, srv.URL+"/api/v1/locations"); code != http.StatusOK {
		t.Fatalf("before the cut: status %d, want 200", code)
	}
	proxy.Cut()
	for _, path := range []string{"/api/v1/locations", "/api/v1/templates", "/api/v1/networks"} {
		code, body := get(t, srv.URL+path)
		if code != http.StatusServiceUnavailable {
			t.Errorf("GET %s with the database down: status %d, want 503 (body %v)", path, code, body)
		}
		if body["status_code"] != float64(3000) || body["timestamp"] == nil {
			t.Errorf("GET %s: envelope %v, want status_code 3000 and a timestamp", path, body)
		}
		if msg, _ := body["status_message"].(string); strings.Contains(msg, "dial") || strings.Contains(msg, "127.0.0.1") {
			t.Errorf("503 body leaks internals: %q", msg)
		}
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz with the database down: %d, want 503", code)
	}

	proxy.Restore()
	// The pool drops dead connections on use; the first requests after the restore may still
	// meet one. Recovery must come without a restart, within a few tries.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := get(t, srv.URL+"/api/v1/locations")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not recover after the database came back: last status %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after recovery: %d, want 200", code)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(nil, env(map[string]string{"EVROAM_DATABASE_URL": "postgres://x"}))
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if cfg.HTTPAddr != ":8080" || cfg.OCPPAddr != ":9000" || cfg.HeartbeatInterval != 300*time.Second ||
		cfg.CountryCode != "NL" || cfg.PartyID != "EVR" || cfg.OCPPPublicURL != "ws://localhost:9000/ocpp" {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg.MessageLogRetention != 30*24*time.Hour || cfg.StatusLogRetention != 90*24*time.Hour {
		t.Errorf("message log retention %v and status log retention %v by default, want 30 and 90 days",
			cfg.MessageLogRetention, cfg.StatusLogRetention)
	}
	if cfg.OCPIAllowPrivateAddresses {
		t.Error("OCPI partner URLs may reach private addresses by default; want them refused unless EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES=true")
	}
	if !cfg.StationCacheWarm || cfg.StationCacheWarmAfter != time.Minute {
		t.Errorf("station cache warm-up %v after %v by default, want on, a minute after the start", cfg.StationCacheWarm, cfg.StationCacheWarmAfter)
	}
	for value, want := range map[string]bool{"off": false, "0": true, "30s": true} {
		cfg, err := loadConfig(nil, env(map[string]string{"EVROAM_DATABASE_URL": "postgres://x", "EVROAM_STATION_CACHE_WARM_AFTER": value}))
		if err != nil || cfg.StationCacheWarm != want {
			t.Errorf("EVROAM_STATION_CACHE_WARM_AFTER=%s: warm-up %v (%v), want %v", value, cfg.StationCacheWarm, err, want)
		}
	}
	_, err = loadConfig(nil, env(map[string]string{
		"EVROAM_HTTP_ADDR": "8080", "EVROAM_HEARTBEAT_INTERVAL": "often",
		"EVROAM_COUNTRY_CODE": "Netherlands", "EVROAM_ADMIN_API_KEY": "evr_admin_31_characters_long_xx",
		"EVROAM_TRUSTED_PROXIES":              "10.0.0.0/8, proxy.example.com",
		"EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES": "sometimes", "EVROAM_OCPP_TLS_ADDR": ":9443",
		"EVROAM_MESSAGE_LOG_RETENTION": "-1h", "EVROAM_OCPP_PING_INTERVAL": "-1s",
		"EVROAM_STATION_CACHE_WARM_AFTER": "soon", "EVROAM_STATUS_LOG_RETENTION": "-1s",
	}))
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, name := range []string{"EVROAM_DATABASE_URL", "EVROAM_HTTP_ADDR", "EVROAM_HEARTBEAT_INTERVAL", "EVROAM_COUNTRY_CODE",
		"EVROAM_ADMIN_API_KEY", "EVROAM_TRUSTED_PROXIES", "EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES", "EVROAM_OCPP_TLS_CERT_FILE", "EVROAM_MESSAGE_LOG_RETENTION", "EVROAM_OCPP_PING_INTERVAL",
		"EVROAM_STATION_CACHE_WARM_AFTER", "EVROAM_STATUS_LOG_RETENTION"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("config error does not name %s:\n%v", name, err)
		}
	}
}

// TestServeAndShutdown runs `evroam serve` as main runs it and stops it as SIGTERM would.
func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string {
			return map[string]string{"EVROAM_DATABASE_URL": dbURL, "EVROAM_HTTP_ADDR": "127.0.0.1:0", "EVROAM_OCPP_ADDR": "127.0.0.1:0"}[k]
		}, out, io.Discard)
	}()
	deadline := time.Now().Add(20 * time.Second)
	var apiURL string
	for apiURL == "" && time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			if _, u, ok := strings.Cut(line, "API:  "); ok {
				apiURL = strings.TrimSuffix(strings.TrimSpace(u), "/api/v1")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if apiURL == "" {
		t.Fatalf("serve printed no API URL: %q", out.String())
	}
	resp, err := http.Get(apiURL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}

// TestAPIKeyCreate makes a key with the CLI and uses it against the API.
func TestAPIKeyCreate(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	getenv := func(k string) string { return map[string]string{"EVROAM_DATABASE_URL": dbURL}[k] }
	var out strings.Builder
	if err := run(t.Context(), []string{"apikey", "create", "--network", "root", "--name", "portal"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	key := strings.TrimSpace(out.String())
	if len(key) < 32 || strings.Contains(key, " ") {
		t.Fatalf("apikey create printed %q, want one key", key)
	}
	_, srv := startApp(t, dbURL)
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/locations", nil)
	req.Header.Set("Authorization", "Token "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the new key gets %d, want 200", resp.StatusCode)
	}
	if err := run(t.Context(), []string{"apikey", "create", "--network", "00000000-0000-0000-0000-000000000001"}, getenv, io.Discard, io.Discard); err == nil {
		t.Error("apikey create for an unknown network succeeded")
	}
}

// TestLocalDB starts the private PostgreSQL of `make run` in a directory of its own, reuses
// it, and stops it as `make stop` does; stopping what is not running is not an error.
func TestLocalDB(t *testing.T) {
	t.Parallel()
	if _, err := pgcluster.FindBinaries(); err != nil {
		t.Skip(err)
	}
	// Not t.TempDir: as root the server runs as postgres, which must reach the directory.
	dir, err := os.MkdirTemp("", "evroam-localdb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "postgres")
	localdb := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := run(t.Context(), append([]string{"localdb", "--dir", data}, args...), os.Getenv, &out, io.Discard); err != nil {
			t.Fatalf("localdb %v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	localdb("--stop") // no cluster yet: nothing to do
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("localdb --stop made %s (err %v)", data, err)
	}
	url := localdb()
	t.Cleanup(func() { localdb("--stop") })
	if again := localdb(); again != url {
		t.Errorf("second start printed %q, want the same URL %q", again, url)
	}
	db, err := database.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	db.Close()
	if out := localdb("--stop"); !strings.Contains(out, "stopped") {
		t.Errorf("localdb --stop printed %q", out)
	}
	c, err := pgcluster.New(data, 5432)
	if err != nil {
		t.Fatal(err)
	}
	if c.Running(t.Context()) {
		t.Error("the cluster still runs after localdb --stop")
	}
	if out := localdb("--stop"); out != "" {
		t.Errorf("localdb --stop of a stopped cluster printed %q, want nothing", out)
	}
}
