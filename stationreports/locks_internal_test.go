package stationreports

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
)

// TestStatusBatchesAndStationLocks: a status batch takes no station row lock for a station
// it changes one EVSE of, so a report is not held up by a PUT or a batch of connections that
// holds the station's row; for a station it changes several EVSEs of it takes the row first.
// When PostgreSQL breaks a deadlock the batch is part of (another writer took the same locks
// in the other order, as a batch of the same station on another node can), the batch is
// written again and its reports are not refused.
func TestStatusBatchesAndStationLocks(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, func(*sqlx.DB, *gin.RouterGroup) {})
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-L1")
	if _, err := e.DB.Exec(`INSERT INTO evses (uid, charge_station_id, evse_sequence_number, connectors, last_updated)
		VALUES ('CS-L1-1', 'CS-L1', 1, '[]', now()), ('CS-L1-2', 'CS-L1', 2, '[]', now())`); err != nil {
		t.Fatal(err)
	}
	var logged syncBuffer
	svc := NewService(e.DB, chargestations.NewStore(e.DB), evse.NewStore(e.DB), stationlogs.NewStore(e.DB),
		sessions.NewStore(e.DB), nil, func(...string) {}, nil, slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(svc.Close)
	status := func(uid string) string {
		t.Helper()
		var s string
		if err := e.DB.Get(&s, `SELECT status FROM evses WHERE uid = $1`, uid); err != nil {
			t.Fatal(err)
		}
		return s
	}
	logEntries := func() int {
		t.Helper()
		var n int
		if err := e.DB.Get(&n, `SELECT count(*) FROM station_status_log WHERE charge_station_id = 'CS-L1'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	report := func(seq int, ocpp string) StatusReport {
		return StatusReport{Identity: "CS-L1", EVSESequence: seq, ConnectorID: 1, OCPPStatus: ocpp, At: time.Now()}
	}

	// One EVSE of a station whose row another transaction holds: written at once.
	holder, err := e.DB.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.Exec(`SELECT 1 FROM charge_stations WHERE id = 'CS-L1' FOR NO KEY UPDATE`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	err = svc.writeStatuses(ctx, []StatusReport{report(1, "Charging")})
	cancel()
	if err != nil {
		t.Fatalf("one EVSE's report while the station row is held: %v", err)
	}
	if s := status("CS-L1-1"); s != "CHARGING" {
		t.Fatalf("EVSE 1 is %s after its report, want CHARGING", s)
	}
	// Two EVSEs of it in one batch: the batch waits for the row.
	done := make(chan error, 1)
	go func() {
		done <- svc.writeStatuses(t.Context(), []StatusReport{report(1, "Available"), report(2, "Faulted")})
	}()
	waitForLockWait(t, e.DB)
	select {
	case err := <-done:
		t.Fatalf("a batch of two EVSEs of a held station was written (%v) before the row was free", err)
	default:
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s1, s2 := status("CS-L1-1"), status("CS-L1-2"); s1 != "AVAILABLE" || s2 != "OUTOFORDER" {
		t.Fatalf("after the batch of two: EVSEs %s and %s, want AVAILABLE and OUTOFORDER", s1, s2)
	}

	// A deadlock: the other writer holds EVSE 1 and then asks for the station's row, which
	// the batch took first. PostgreSQL breaks it in the backend whose deadlock check runs
	// first once the cycle is closed: the batch's, which waited first, unless the machine is
	// so loaded that its check (deadlock_timeout after it began to wait, and only then) ran
	// before the other writer asked for the row. Then the other writer is the victim, the
	// batch simply goes through, and the scene is set again.
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			// Back to the state after the batch of two, so that the batch's reports change
			// both EVSEs again (a report of the status an EVSE has takes no lock).
			if _, err := e.DB.Exec(`UPDATE evses SET status = CASE uid WHEN 'CS-L1-1' THEN 'AVAILABLE' ELSE 'OUTOFORDER' END
				WHERE uid IN ('CS-L1-1', 'CS-L1-2')`); err != nil {
				t.Fatal(err)
			}
		}
		// The follow-up of the batch before must not hold the station's row when the scene
		// is set: the batch would wait for the row instead of the EVSE.
		if err := svc.StatusFollowersCaughtUp(t.Context()); err != nil {
			t.Fatal(err)
		}
		before := logEntries()
		other, err := e.DB.Beginx()
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback() // when the test fails before it ends
		// Deferred, like a status batch: the EVSE's triggers would lock the station row at once.
		if _, err := other.Exec(`SELECT set_config('evroam.status_followers', 'deferred', true)`); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Exec(`UPDATE evses SET status = 'BLOCKED' WHERE uid = 'CS-L1-1'`); err != nil {
			t.Fatal(err)
		}
		go func() {
			done <- svc.writeStatuses(t.Context(), []StatusReport{report(1, "Charging"), report(2, "Available")})
		}()
		waitForLockWait(t, e.DB)
		_, err = other.Exec(`SELECT 1 FROM charge_stations WHERE id = 'CS-L1' FOR NO KEY UPDATE`)
		if database.IsDeadlock(err) && attempt < 5 {
			_ = other.Rollback()
			if err := <-done; err != nil {
				t.Fatalf("the batch, after the other writer was the deadlock's victim: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("the other writer, attempt %d: %v", attempt, err)
		}
		if err := other.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("the batch that met a deadlock: %v", err)
		}
		if !strings.Contains(logged.String(), "writing it again") {
			t.Errorf("no deadlock was met (log: %s)", logged.String())
		}
		if s1, s2 := status("CS-L1-1"), status("CS-L1-2"); s1 != "CHARGING" || s2 != "AVAILABLE" {
			t.Errorf("after the deadlock: EVSEs %s and %s, want the batch's CHARGING and AVAILABLE", s1, s2)
		}
		if n := logEntries() - before; n != 2 {
			t.Errorf("the batch that met a deadlock left %d status log entries, want 2", n)
		}
		return
	}
}

// waitForLockWait returns once a session of db's database waits for a lock.
func waitForLockWait(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waits for a lock")
		}
	}
}

// syncBuffer is a bytes.Buffer that the service's goroutines may log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
