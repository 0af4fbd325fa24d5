package logwriter

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is an io.Writer that records how many writes reached it.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *sink) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// An hour: no test below waits for the interval unless it says so.
const never = time.Hour

func TestLinesWaitThenComeOutTogetherInOrder(t *testing.T) {
	out := &sink{}
	w := New(out, never, 1<<20)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, slog.LevelWarn))
	for i := range 100 {
		log.Info("request", "n", i)
	}
	if out.String() != "" {
		t.Fatalf("Info lines written through before any flush: %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 100 || out.Writes() != 1 {
		t.Fatalf("%d lines in %d writes, want 100 in 1", len(lines), out.Writes())
	}
	for i, l := range lines {
		if !strings.HasSuffix(l, fmt.Sprintf(" n=%d", i)) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

func TestAWarningIsOutAtOnceAfterTheLinesBeforeIt(t *testing.T) {
	out := &sink{}
	w := New(out, never, 1<<20)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, slog.LevelWarn)).With("node", "a")
	log.Info("before")
	log.WithGroup("db").Error("broken", "err", "connection refused")
	got := out.String()
	if !strings.Contains(got, "msg=before") || !strings.Contains(got, "msg=broken") ||
		strings.Index(got, "msg=before") > strings.Index(got, "msg=broken") {
		t.Fatalf("after an Error record: %q, want the Info line and then the error", got)
	}
	if !strings.Contains(got, "node=a") || !strings.Contains(got, "db.err=") {
		t.Errorf("attributes or groups lost: %q", got)
	}
}

func TestLinesComeOutWithinTheInterval(t *testing.T) {
	out := &sink{}
	w := New(out, 5*time.Millisecond, 1<<20)
	defer w.Close()
	fmt.Fprintln(w, "quiet line")
	deadline := time.Now().Add(10 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if out.String() != "quiet line\n" {
		t.Fatalf("after waiting: %q", out.String())
	}
}

func TestAFullBufferIsWrittenOut(t *testing.T) {
	out := &sink{}
	w := New(out, never, 100)
	defer w.Close()
	line := strings.Repeat("x", 49) + "\n"
	for range 8 { // 400 bytes: four times the limit, written out by the writer itself
		fmt.Fprint(w, line)
	}
	if got := out.String(); got != strings.Repeat(line, 8) {
		t.Fatalf("after 400 bytes with a limit of 100: %d bytes out", len(got))
	}
}

func TestCloseWritesTheRestAndLaterLinesGoThrough(t *testing.T) {
	out := &sink{}
	w := New(out, never, 1<<20)
	fmt.Fprintln(w, "last before close")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "last before close\n" {
		t.Fatalf("after Close: %q", out.String())
	}
	fmt.Fprintln(w, "after close")
	if out.String() != "last before close\nafter close\n" {
		t.Fatalf("a line after Close: %q", out.String())
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestConcurrentLoggersLoseNothing logs from many goroutines while the writer flushes on
// its own, and wants every line once, whole.
func TestConcurrentLoggersLoseNothing(t *testing.T) {
	out := &sink{}
	w := New(out, time.Millisecond, 4096)
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, slog.LevelWarn))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if i%100 == 99 {
					log.Warn("w", "g", g, "i", i)
				} else {
					log.Info("i", "g", g, "i", i)
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, key, ok := strings.Cut(l, " g=")
		if !ok || seen[key] {
			t.Fatalf("a broken or repeated line: %q", l)
		}
		seen[key] = true
	}
	if len(seen) != 8*500 {
		t.Fatalf("%d lines, want %d", len(seen), 8*500)
	}
}
