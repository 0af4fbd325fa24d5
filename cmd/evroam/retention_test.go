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

// TestLogRetention: serve prunes the message log and the status log to
// EVROAM_MESSAGE_LOG_RETENTION and EVROAM_STATUS_LOG_RETENTION by itself, keeps what is inside
// them, and counts what it deleted in /metrics.
func TestLogRetention(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	a, srv := startNodeWith(t, dbURL, "retention-node", slog.New(slog.NewTextHandler(io.Discard, nil)),
		map[string]string{"EVROAM_MESSAGE_LOG_RETENTION": "10s", "EVROAM_STATUS_LOG_RETENTION": "10s"})
	var root uuid.UUID
	if err := a.db.Get(&root, `SELECT id FROM networks WHERE parent_id IS NULL`); err != nil {
		t.Fatal(err)
	}
	apitest.InsertStation(t, a.db, root, "CS-R")
	// In each log, one row an hour old and one an hour ahead (a station with a fast clock
	// would not log one, but it stays inside the retention for the whole test).
	if _, err := a.db.Exec(`INSERT INTO ocpp_messages (charge_station_id, direction, message_type, message_id, action, created)
		VALUES ('CS-R', 'in', 'CALL', 'old', 'Heartbeat', now() - interval '1 hour'),
		       ('CS-R', 'in', 'CALL', 'new', 'Heartbeat', now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.Exec(`INSERT INTO station_status_log (charge_station_id, evse_sequence_number, connector_id, ocpp_status,
			info, ocpi_status, friendly_status, created)
		VALUES ('CS-R', 1, 1, 'Available', 'old', 'AVAILABLE', 'Available', now() - interval '1 hour'),
		       ('CS-R', 1, 1, 'Charging', 'new', 'CHARGING', 'Charging', now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	// A retention of 10 s prunes every second.
	for _, q := range []string{
		`SELECT message_id FROM ocpp_messages WHERE charge_station_id = 'CS-R' ORDER BY id`,
		`SELECT info FROM station_status_log WHERE charge_station_id = 'CS-R' ORDER BY id`,
	} {
		deadline := time.Now().Add(15 * time.Second)
		var left []string
		for time.Now().Before(deadline) {
			left = nil
			if err := a.db.Select(&left, q); err != nil {
				t.Fatal(err)
			}
			if len(left) == 1 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(left) != 1 || left[0] != "new" {
			t.Fatalf("%s: %v, want [new]", q, left)
		}
	}
	scrape(t, srv.URL).check(t, "node", []metricCheck{
		{name: "evroam_message_log_pruned_total", op: "==", want: 1},
		{name: "evroam_status_log_pruned_total", op: "==", want: 1},
	})
}
