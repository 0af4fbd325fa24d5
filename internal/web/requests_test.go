package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// logLines is a slog JSON log kept in memory, safe for the server's goroutines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// find returns the log lines whose msg is msg.
func (l *logLines) find(msg string) []map[string]any {
	return l.lines(func(m map[string]any) bool { return m["msg"] == msg })
}

// access returns the access lines: those with the request's bytes.
func (l *logLines) access() []map[string]any {
	return l.lines(func(m map[string]any) bool { _, ok := m["bytes"]; return ok })
}

func (l *logLines) lines(match func(map[string]any) bool) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && match(m) {
			out = append(out, m)
		}
	}
	return out
}

// requestServer serves a small engine behind RequestLog: a route with an id, one that fails
// with a 500, and one that waits for its client to go away (and tells started when it runs).
func requestServer(t *testing.T) (url string, logs *logLines, completed func() []web.Completed, started chan struct{}) {
	t.Helper()
	logs = &logLines{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	var done []web.Completed
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(web.RequestLog(log, func(c web.Completed) { mu.Lock(); done = append(done, c); mu.Unlock() }))
	r.GET("/items/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })
	r.GET("/boom", web.Handle(func(*gin.Context) error { return errors.New("the database exploded") }))
	started = make(chan struct{}, 1)
	r.GET("/slow", web.Handle(func(c *gin.Context) error {
		started <- struct{}{}
		<-c.Request.Context().Done()
		// What a query cut short by the cancellation returns, as evroam's stores wrap it.
		return fmt.Errorf("list items: %w", c.Request.Context().Err())
	}))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL, logs, func() []web.Completed { mu.Lock(); defer mu.Unlock(); return append([]web.Completed(nil), done...) }, started
}

func getWithID(t *testing.T, url, requestID string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	url, logs, completed, _ := requestServer(t)

	resp := getWithID(t, url+"/items/42", "client-id-1")
	if got := resp.Header.Get("X-Request-ID"); got != "client-id-1" {
		t.Errorf("X-Request-ID echoed as %q, want client-id-1", got)
	}
	lines := logs.access()
	if len(lines) != 1 {
		t.Fatalf("%d access lines, want 1: %v", len(lines), lines)
	}
	want := map[string]any{"level": "INFO", "msg": "request", "method": "GET", "route": "/items/:id", "path": "/items/42",
		"status": float64(200), "client": "127.0.0.1", "request_id": "client-id-1"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("access line %s = %v, want %v (line %v)", k, lines[0][k], v, lines[0])
		}
	}
	if b, _ := lines[0]["bytes"].(float64); b < 8 {
		t.Errorf("access line bytes = %v, want the body's size", lines[0]["bytes"])
	}
	if d, _ := lines[0]["duration"].(float64); d <= 0 {
		t.Errorf("access line duration = %v, want > 0", lines[0]["duration"])
	}
	if got := completed(); len(got) != 1 || got[0].Route != "/items/:id" || got[0].Status != 200 || got[0].Method != "GET" {
		t.Errorf("observed %+v", got)
	}

	// No id, or one that is not 1 to 200 printable ASCII characters: a new UUID.
	for _, sent := range []string{"", strings.Repeat("x", 201), "bad-\xe9-id"} {
		resp := getWithID(t, url+"/items/43", sent)
		got := resp.Header.Get("X-Request-ID")
		if _, err := uuid.Parse(got); err != nil {
			t.Errorf("sent X-Request-ID %q: answered %q, want a generated UUID", sent, got)
		}
		lines := logs.access()
		if last := lines[len(lines)-1]; last["request_id"] != got {
			t.Errorf("access line request_id %v, response %s", last["request_id"], got)
		}
	}
	if resp := getWithID(t, url+"/items/44", strings.Repeat("y", 200)); resp.Header.Get("X-Request-ID") != strings.Repeat("y", 200) {
		t.Error("a 200-character X-Request-ID was not kept")
	}
}

// TestRequestLogErrorLineCarriesID: the 5xx error line and the access line carry the same id
// as the response.
func TestRequestLogErrorLineCarriesID(t *testing.T) {
	t.Parallel()
	url, logs, _, _ := requestServer(t)
	for _, sent := range []string{"trace-500", ""} {
		resp := getWithID(t, url+"/boom", sent)
		id := resp.Header.Get("X-Request-ID")
		if resp.StatusCode != 500 || id == "" || (sent != "" && id != sent) {
			t.Fatalf("GET /boom with X-Request-ID %q: %d, id %q", sent, resp.StatusCode, id)
		}
		errLines := logs.find("request failed")
		if len(errLines) == 0 || errLines[len(errLines)-1]["request_id"] != id || errLines[len(errLines)-1]["level"] != "ERROR" {
			t.Errorf("error lines %v, want the last at ERROR with request_id %s", errLines, id)
		}
		access := logs.access()
		if last := access[len(access)-1]; last["request_id"] != id || last["status"] != float64(500) || last["route"] != "/boom" {
			t.Errorf("access line %v, want status 500 and request_id %s", last, id)
		}
	}
}

// TestRequestCancelledByClient: a client that gives up while the handler waits is logged at
// Info as cancelled with status 499 and observed as 499, never as a 500 at ERROR.
func TestRequestCancelledByClient(t *testing.T) {
	t.Parallel()
	url, logs, completed, started := requestServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/slow", nil)
	req.Header.Set("X-Request-ID", "gives-up")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want its own cancellation", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(completed()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no access line for the cancelled request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := completed(); got[0].Status != web.StatusClientClosedRequest || got[0].Route != "/slow" {
		t.Errorf("observed %+v, want status 499", got)
	}
	access := logs.access()
	if len(access) != 1 || access[0]["msg"] != "request cancelled: the client went away" || access[0]["level"] != "INFO" ||
		access[0]["status"] != float64(499) || access[0]["request_id"] != "gives-up" {
		t.Errorf("access lines %v, want one at INFO saying cancelled with status 499", access)
	}
	if lines := logs.find("request failed"); len(lines) != 0 {
		t.Errorf("a cancelled request logged as failed: %v", lines)
	}
	debug := logs.find("request cancelled by the client")
	if len(debug) != 1 || debug[0]["level"] != "DEBUG" || !strings.Contains(fmt.Sprint(debug[0]["err"]), "context canceled") {
		t.Errorf("debug lines %v, want the cause at DEBUG", debug)
	}
}
