package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// jsonLog is an app's log in slog's JSON form, kept for the test to read.
type jsonLog struct{ buf syncBuffer }

func newJSONLog() (*jsonLog, *slog.Logger) {
	l := &jsonLog{}
	return l, slog.New(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lines returns the lines with the given message and request id.
func (l *jsonLog) lines(msg, requestID string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg && m["request_id"] == requestID {
			out = append(out, m)
		}
	}
	return out
}

// waitLine waits for the one line with msg and requestID (the access line is written after
// the response).
func (l *jsonLog) waitLine(t *testing.T, msg, requestID string) map[string]any {
	t.Helper()
	var got []map[string]any
	eventually(t, fmt.Sprintf("log line %q for request %s", msg, requestID), func() error {
		if got = l.lines(msg, requestID); len(got) != 1 {
			return fmt.Errorf("%d lines", len(got))
		}
		return nil
	})
	return got[0]
}

// request sends a GET with the admin key and X-Request-ID (none when empty) and returns the
// status and the response's X-Request-ID.
func request(t *testing.T, ctx context.Context, url, requestID string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Request-ID"), nil
}

// TestAccessLog runs the whole app and checks its access lines and X-Request-ID: echoed when
// sent, generated when not, the same on OCPI's echo and on the 5xx error line.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	proxy, viaProxy := pgtest.NewProxy(t, pgtest.URL(t))
	logs, log := newJSONLog()
	_, srv := startNodeWithLog(t, viaProxy, "log-node", log)

	status, id, err := request(t, t.Context(), srv.URL+"/api/v1/locations", "it-req-1")
	if err != nil || status != 200 || id != "it-req-1" {
		t.Fatalf("GET /api/v1/locations with an id: %d, X-Request-ID %q, %v", status, id, err)
	}
	line := logs.waitLine(t, "request", "it-req-1")
	want := map[string]any{"level": "INFO", "method": "GET", "route": "/api/v1/locations", "path": "/api/v1/locations",
		"status": float64(200), "client": "127.0.0.1"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access line %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if b, _ := line["bytes"].(float64); b <= 0 {
		t.Errorf("access line bytes = %v, want the body's size", line["bytes"])
	}
	if d, _ := line["duration"].(float64); d <= 0 {
		t.Errorf("access line duration = %v", line["duration"])
	}

	status, id, err = request(t, t.Context(), srv.URL+"/api/v1/locations", "")
	if _, perr := uuid.Parse(id); err != nil || status != 200 || perr != nil {
		t.Fatalf("GET without an id: %d, X-Request-ID %q (%v), want a generated UUID", status, id, err)
	}
	logs.waitLine(t, "request", id)

	// OCPI echoes the same id it is logged with, sent or generated.
	for _, sent := range []string{"ocpi-req-1", ""} {
		status, id, err := request(t, t.Context(), srv.URL+"/ocpi/versions", sent)
		if err != nil || status != 401 || id == "" || (sent != "" && id != sent) {
			t.Fatalf("GET /ocpi/versions without a token, X-Request-ID %q: %d, %q, %v", sent, status, id, err)
		}
		if line := logs.waitLine(t, "request", id); line["route"] != "/ocpi/versions" || line["status"] != float64(401) {
			t.Errorf("OCPI access line %v", line)
		}
	}

	// The database away: the 503's error line carries the request's id.
	proxy.Cut()
	status, id, err = request(t, t.Context(), srv.URL+"/api/v1/locations", "it-req-503")
	proxy.Restore()
	if err != nil || status != 503 || id != "it-req-503" {
		t.Fatalf("GET with the database away: %d, %q, %v; want 503 with the id", status, id, err)
	}
	if failed := logs.waitLine(t, "request failed", "it-req-503"); failed["level"] != "ERROR" || failed["status"] != float64(503) {
		t.Errorf("error line %v, want ERROR with status 503", failed)
	}
	if line := logs.waitLine(t, "request", "it-req-503"); line["status"] != float64(503) {
		t.Errorf("access line of the 503: %v", line)
	}
}

// TestCancelledRequest: a client that gives up while its list waits for the database is logged
// at Info as cancelled (499) and counted so, never as a 500 at ERROR. The list is held up by a
// lock on charge_stations that the test takes.
func TestCancelledRequest(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	logs, log := newJSONLog()
	_, srv := startNodeWithLog(t, dbURL, "cancel-node", log)

	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tx, err := db.BeginTxx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`LOCK TABLE charge_stations IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, _, err := request(t, ctx, srv.URL+"/api/v1/chargestations", "it-gives-up")
		errc <- err
	}()
	eventually(t, "the list waiting for the lock", func() error {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			return err
		}
		if waiting == 0 {
			return errors.New("no query waits for the lock yet")
		}
		return nil
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want its own cancellation", err)
	}

	line := logs.waitLine(t, "request cancelled: the client went away", "it-gives-up")
	if line["level"] != "INFO" || line["status"] != float64(499) || line["route"] != "/api/v1/chargestations" {
		t.Errorf("access line %v, want INFO with status 499", line)
	}
	if failed := logs.lines("request failed", "it-gives-up"); len(failed) != 0 {
		t.Errorf("the cancelled request was logged as failed: %v", failed)
	}
	if cause := logs.waitLine(t, "request cancelled by the client", "it-gives-up"); cause["level"] != "DEBUG" {
		t.Errorf("the cause is logged at %v, want DEBUG", cause["level"])
	}
	time.Sleep(50 * time.Millisecond) // nothing else may follow: no 500 after the fact
	if got := logs.lines("request", "it-gives-up"); len(got) != 0 {
		t.Errorf("a plain access line for the cancelled request: %v", got)
	}

	m := scrape(t, srv.URL)
	if v, _ := m.value("evroam_http_requests_total", l("route", "/api/v1/chargestations", "method", "GET", "status", "499")); v != 1 {
		t.Errorf("cancelled requests counted %v, want 1 with status 499", v)
	}
	if v, ok := m.value("evroam_http_requests_total", l("route", "/api/v1/chargestations", "method", "GET", "status", "500")); ok {
		t.Errorf("the cancelled request counted as a 500 (%v)", v)
	}
}
