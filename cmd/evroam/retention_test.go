package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/google/uuid"
)

// TestMessageLogRetention: serve prunes the message log to EVROAM_MESSAGE_LOG_RETENTION by
// itself, keeps what is inside it, and counts what it deleted in /metrics.
func TestMessageLogRetention(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	a, srv := startNodeWith(t, dbURL, "retention-node", slog.New(slog.NewTextHandler(io.Discard, nil)), map[string]string{"EVROAM_MESSAGE_LOG_RETENTION": "10s"})
	var root uuid.UUID
	if err := a.db.Get(&root, `SELECT id FROM networks WHERE parent_id IS NULL`); err != nil {
		t.Fatal(err)
	}
	apitest.InsertStation(t, a.db, root, "CS-R")
	// One frame an hour old and one an hour ahead (a station with a fast clock would not
	// log one, but it stays inside the retention for the whole test).
	if _, err := a.db.Exec(`INSERT INTO ocpp_messages (charge_station_id, direction, message_type, message_id, action, created)
		VALUES ('CS-R', 'in', 'CALL', 'old', 'Heartbeat', now() - interval '1 hour'),
		       ('CS-R', 'in', 'CALL', 'new', 'Heartbeat', now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	// A retention of 10 s prunes every second.
	deadline := time.Now().Add(15 * time.Second)
	var left []string
	for time.Now().Before(deadline) {
		left = nil
		if err := a.db.Select(&left, `SELECT message_id FROM ocpp_messages WHERE charge_station_id = 'CS-R' ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if len(left) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) != 1 || left[0] != "new" {
		t.Fatalf("the message log holds %v, want [new]", left)
	}
	scrape(t, srv.URL).check(t, "node", []metricCheck{{name: "evroam_message_log_pruned_total", op: "==", want: 1}})
}
