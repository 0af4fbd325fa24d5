package stationlogs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/stationlogs"
	"github.com/jmoiron/sqlx"
)

// logFrames appends one Heartbeat CALL of station per time, in that order (ids grow with it).
func logFrames(t *testing.T, e *apitest.Env, store *stationlogs.Store, station string, ats ...time.Time) {
	t.Helper()
	var ms []stationlogs.Message
	for i, at := range ats {
		ms = append(ms, stationlogs.Message{StationID: station, Direction: "in", MessageType: "CALL",
			MessageID: fmt.Sprintf("%s-%d", station, i), Action: "Heartbeat", Payload: json.RawMessage(`{}`), Created: at})
	}
	if err := appendMessages(t, e.DB, store, ms); err != nil {
		t.Fatal(err)
	}
}

// loggedIDs is the message ids the API lists for station, oldest first.
func loggedIDs(t *testing.T, e *apitest.Env, station string) []string {
	t.Helper()
	var frames []struct {
		MessageID string `json:"message_id"`
	}
	e.Do("GET", "/api/v1/chargestations/"+station+"/messages?limit=100", nil).Must(t, http.StatusOK).Decode(t, &frames)
	ids := make([]string, len(frames))
	for i, f := range frames {
		ids[len(frames)-1-i] = f.MessageID
	}
	return ids
}

// mustPrune prunes every frame logged before cutoff and checks how many went.
func mustPrune(t *testing.T, store *stationlogs.Store, cutoff time.Time, want int, what string) {
	t.Helper()
	if n, err := store.PruneBefore(t.Context(), stationlogs.MessageLog, cutoff); err != nil || n != want {
		t.Fatalf("%s deleted %d (%v), want %d", what, n, err, want)
	}
}

// wantLog checks the message ids station's log holds, oldest first ("[]": none).
func wantLog(t *testing.T, e *apitest.Env, station, want string) {
	t.Helper()
	if got := fmt.Sprint(loggedIDs(t, e, station)); got != want {
		t.Fatalf("%s's log holds %s, want %s", station, got, want)
	}
}

func TestPruneMessagesKeepsTheRetention(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	now := time.Now().UTC()
	old, young := now.Add(-48*time.Hour), now.Add(-time.Hour)
	logFrames(t, e, store, "CS-1", old, old, old, old, old, young, young, young)
	cutoff := now.Add(-24 * time.Hour)

	// Two at a time: the chunks say whether more may be due, and stop at the first frame
	// inside the retention.
	var after int64
	for i, want := range []struct {
		deleted int
		more    bool
	}{{2, true}, {2, true}, {1, false}} {
		n, last, more, err := store.Prune(t.Context(), stationlogs.MessageLog, cutoff, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n != want.deleted || more != want.more {
			t.Fatalf("chunk %d: deleted %d, more %v; want %d, %v", i, n, more, want.deleted, want.more)
		}
		after = last
	}
	wantLog(t, e, "CS-1", "[CS-1-5 CS-1-6 CS-1-7]")
	// A second pass finds nothing due; once they are due too, they go.
	mustPrune(t, store, cutoff, 0, "a second pass")
	mustPrune(t, store, now, 3, "pruning up to now")
	wantLog(t, e, "CS-1", "[]")
}

// Frames are found in id order, a chunk at a time: the due frames of a chunk go, nothing
// inside the retention ever does, and a round stops at the first chunk holding a frame inside
// the retention (the due frames behind it wait for a later round).
func TestPruneMessagesStopsAtTheFirstChunkInsideTheRetention(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-2")
	now := time.Now().UTC()
	old, young := now.Add(-48*time.Hour), now.Add(-time.Hour)
	logFrames(t, e, store, "CS-1", old, young, old)
	logFrames(t, e, store, "CS-2", old)
	cutoff := now.Add(-24 * time.Hour)

	// One frame a chunk: the round ends at CS-1's young frame.
	n, last, more, err := store.Prune(t.Context(), stationlogs.MessageLog, cutoff, 0, 1)
	if err != nil || n != 1 || !more {
		t.Fatalf("first chunk: deleted %d, more %v (%v); want 1, true", n, more, err)
	}
	if n, _, more, err = store.Prune(t.Context(), stationlogs.MessageLog, cutoff, last, 1); err != nil || n != 0 || more {
		t.Fatalf("second chunk: deleted %d, more %v (%v); want 0, false", n, more, err)
	}
	wantLog(t, e, "CS-1", "[CS-1-1 CS-1-2]")
	// A whole round with the default chunk takes every due frame of its chunk.
	mustPrune(t, store, cutoff, 2, "a round")
	wantLog(t, e, "CS-1", "[CS-1-1]")
	wantLog(t, e, "CS-2", "[]")
}

// Another node pruning (holding the lock) makes this one skip the round at once instead of
// queueing behind its deletes.
func TestPruneMessagesSkipsWhileAnotherNodePrunes(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	now := time.Now().UTC()
	logFrames(t, e, store, "CS-1", now.Add(-48*time.Hour))

	other, err := e.DB.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`SELECT pg_advisory_xact_lock(x'6d73677072756e65'::bigint)`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := store.PruneBefore(ctx, stationlogs.MessageLog, now)
	if err != nil || n != 0 {
		t.Fatalf("while another node prunes: deleted %d (%v), want 0 at once", n, err)
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	mustPrune(t, store, now, 1, "after the other node, a round")
}

func TestRunMessageRetentionPrunesAndStops(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	logFrames(t, e, store, "CS-1", now.Add(-31*24*time.Hour), now.Add(-29*24*time.Hour))

	ctx, cancel := context.WithCancel(t.Context())
	rounds := make(chan int)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		store.RunRetention(ctx, stationlogs.MessageLog, 30*24*time.Hour, 0, time.Hour, func() time.Time { return now },
			func(n int) { rounds <- n }, func(err error) { t.Error(err) })
	}()
	select {
	case n := <-rounds:
		if n != 1 {
			t.Fatalf("first round pruned %d frames, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pruning round at start")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("RunRetention did not return when its context ended")
	}
	wantLog(t, e, "CS-1", "[CS-1-1]")
}

// A node that stops before its first round (it waits out its start) returns at once and
// deletes nothing.
func TestRunMessageRetentionStopsBeforeItsFirstRound(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	logFrames(t, e, store, "CS-1", time.Now().Add(-48*time.Hour))
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		store.RunRetention(ctx, stationlogs.MessageLog, time.Hour, time.Hour, time.Hour, nil,
			func(int) { t.Error("a round ran before its first wait was over") }, func(err error) { t.Error(err) })
	}()
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("RunRetention did not return when its context ended during its first wait")
	}
	wantLog(t, e, "CS-1", "[CS-1-0]")
}

// logStatuses appends one status report of station per time, in that order, its info the
// index ("0", "1", …).
func logStatuses(t *testing.T, e *apitest.Env, store *stationlogs.Store, station string, ats ...time.Time) {
	t.Helper()
	var es []stationlogs.StatusEntry
	for i, at := range ats {
		es = append(es, stationlogs.StatusEntry{StationID: station, EVSESequenceNumber: 1, ConnectorID: 1, OCPPStatus: "Available",
			Info: fmt.Sprint(i), OCPIStatus: "AVAILABLE", FriendlyStatus: "Available", Created: at})
	}
	if err := database.InTx(t.Context(), e.DB, func(tx *sqlx.Tx) error {
		return store.WithTx(tx).AppendStatuses(t.Context(), es)
	}); err != nil {
		t.Fatal(err)
	}
}

// statusInfos is the infos of the entries the API lists in station's status log, oldest
// first.
func statusInfos(t *testing.T, e *apitest.Env, station string) string {
	t.Helper()
	var entries []struct {
		Info string `json:"info"`
	}
	e.Do("GET", "/api/v1/chargestations/"+station+"/status-log?limit=100", nil).Must(t, http.StatusOK).Decode(t, &entries)
	infos := make([]string, len(entries))
	for i, en := range entries {
		infos[len(entries)-1-i] = en.Info
	}
	return fmt.Sprint(infos)
}

// The status log is pruned as the message log is, and each log only to its own cutoff: the
// two are kept apart (their own tables and their own locks).
func TestPruneTheStatusLog(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	now := time.Now().UTC()
	old, young := now.Add(-48*time.Hour), now.Add(-time.Hour)
	logStatuses(t, e, store, "CS-1", old, old, old, young)
	logFrames(t, e, store, "CS-1", old, young)
	cutoff := now.Add(-24 * time.Hour)

	n, last, more, err := store.Prune(t.Context(), stationlogs.StatusLog, cutoff, 0, 2)
	if err != nil || n != 2 || !more {
		t.Fatalf("first chunk: deleted %d, more %v (%v); want 2, true", n, more, err)
	}
	if n, _, more, err = store.Prune(t.Context(), stationlogs.StatusLog, cutoff, last, 2); err != nil || n != 1 || more {
		t.Fatalf("second chunk: deleted %d, more %v (%v); want 1, false", n, more, err)
	}
	if got := statusInfos(t, e, "CS-1"); got != "[3]" {
		t.Fatalf("the status log holds %s, want [3]", got)
	}
	wantLog(t, e, "CS-1", "[CS-1-0 CS-1-1]") // the message log is untouched

	// Another node pruning the message log does not hold up the status log.
	other, err := e.DB.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.Exec(`SELECT pg_advisory_xact_lock(x'6d73677072756e65'::bigint)`); err != nil {
		t.Fatal(err)
	}
	if n, err := store.PruneBefore(t.Context(), stationlogs.StatusLog, now); err != nil || n != 1 {
		t.Fatalf("pruning the status log up to now deleted %d (%v), want 1", n, err)
	}
	if n, err := store.PruneBefore(t.Context(), stationlogs.MessageLog, now); err != nil || n != 0 {
		t.Fatalf("pruning the message log while another node does deleted %d (%v), want 0", n, err)
	}
	_ = other.Rollback()
	mustPrune(t, store, cutoff, 1, "the message log, once the other node is done")
	wantLog(t, e, "CS-1", "[CS-1-1]")
}
