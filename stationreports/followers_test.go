package stationreports_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/stationreports"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// TestStatusFollowUp: a status report is answered once its EVSE row and log entry are
// committed; the station's row follows right after (statusFollower). When the follow-up
// fails the report is not refused, and the follow-up is tried again until it passes; a node
// that stops while it fails leaves the station to the next node that starts
// (FollowLaggingStatuses). The answer cache hears of the station only once its row changed.
func TestStatusFollowUp(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, func(*sqlx.DB, *gin.RouterGroup) {})
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-F1")
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-F2")
	if _, err := e.DB.Exec(`INSERT INTO evses (uid, charge_station_id, evse_sequence_number, connectors, last_updated)
		VALUES ('CS-F1-1', 'CS-F1', 1, '[]', now()), ('CS-F2-1', 'CS-F2', 1, '[]', now())`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var told []string
	changed := func(ids ...string) {
		mu.Lock()
		told = append(told, ids...)
		mu.Unlock()
	}
	newService := func() *stationreports.Service {
		svc := stationreports.NewService(e.DB, chargestations.NewStore(e.DB), evse.NewStore(e.DB), stationlogs.NewStore(e.DB),
			sessions.NewStore(e.DB), nil, changed, nil, nil)
		t.Cleanup(svc.Close)
		return svc
	}
	report := func(svc *stationreports.Service, id, status string) {
		t.Helper()
		if err := svc.RecordStatus(t.Context(), stationreports.StatusReport{Identity: id, EVSESequence: 1,
			OCPPStatus: status, At: time.Now()}); err != nil {
			t.Fatalf("report %s %s: %v", id, status, err)
		}
	}
	// shown returns the EVSE status the station's row shows, and the EVSE's own.
	shown := func(id string) (row, own string) {
		t.Helper()
		if err := e.DB.QueryRow(`SELECT cs.evses_doc->0->>'status', e.status FROM charge_stations cs
			JOIN evses e ON e.charge_station_id = cs.id WHERE cs.id = $1`, id).Scan(&row, &own); err != nil {
			t.Fatal(err)
		}
		return row, own
	}
	caughtUp := func(svc *stationreports.Service) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := svc.StatusFollowersCaughtUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	failed := func(svc *stationreports.Service) int64 { return svc.BatchStats()["status_followers"].Failed.Load() }
	// waitFailed waits until the follow-up of svc failed more than n times.
	waitFailed := func(svc *stationreports.Service, n int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); failed(svc) <= n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the follow-up never failed")
			}
		}
	}

	// owed returns the stations of the status follow-ups on record (migration 0038).
	owed := func() []string {
		t.Helper()
		var ids []string
		if err := e.DB.Select(&ids, `SELECT DISTINCT unnest(station_ids) FROM evse_status_follow_ups_owed ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		return ids
	}

	svc := newService()
	report(svc, "CS-F1", "Charging")
	report(svc, "CS-F2", "Available")
	caughtUp(svc)
	if left := owed(); len(left) != 0 {
		t.Errorf("follow-ups on record after the follow-up: %v", left)
	}
	if row, own := shown("CS-F1"); row != "CHARGING" || own != "CHARGING" {
		t.Fatalf("after the follow-up: the station row shows %s, the EVSE is %s", row, own)
	}
	mu.Lock()
	if slices.Sort(told); !slices.Equal(told, []string{"CS-F1", "CS-F2"}) {
		t.Errorf("the answer cache was told %v", told)
	}
	told = nil
	mu.Unlock()

	// CS-F2's status was written by a node that stopped before its follow-up, and its row
	// is held by another transaction when this node follows it up: the follow-up does not
	// wait for it, and follows it once it is free.
	tx, err := e.DB.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	deferred := evse.NewStore(e.DB).WithTx(tx)
	deferred.DeferStatusFollowers()
	if _, _, _, err := deferred.SetStatuses(t.Context(), []evse.StatusChange{{Identity: "CS-F2", SequenceNumber: 1,
		OCPPStatus: "Faulted", Status: "OUTOFORDER", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	holder, err := e.DB.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(`SELECT 1 FROM charge_stations WHERE id = 'CS-F2' FOR NO KEY UPDATE`); err != nil {
		t.Fatal(err)
	}
	tried := svc.BatchStats()["status_followers"].Items.Load()
	if n, err := svc.FollowLaggingStatuses(t.Context()); err != nil || n != 1 {
		t.Fatalf("lagging stations: %d (%v), want CS-F2", n, err)
	}
	for deadline := time.Now().Add(30 * time.Second); svc.BatchStats()["status_followers"].Items.Load() == tried; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no follow-up was tried")
		}
	}
	if row, own := shown("CS-F2"); row != "AVAILABLE" || own != "OUTOFORDER" {
		t.Fatalf("while the row is held: the station row shows %s, the EVSE is %s", row, own)
	}
	if left := owed(); !slices.Equal(left, []string{"CS-F2"}) {
		t.Errorf("follow-ups on record while the row is held: %v, want CS-F2's", left)
	}
	holder.Rollback()
	caughtUp(svc)
	if row, _ := shown("CS-F2"); row != "OUTOFORDER" {
		t.Fatalf("once the row is free the station row shows %s", row)
	}
	mu.Lock()
	told = nil
	mu.Unlock()

	// The station row refuses to change: the report is still answered, and its follow-up
	// tried again until the row takes it.
	if _, err := e.DB.Exec(`
		CREATE FUNCTION refuse_doc() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused'; END $$;
		CREATE TRIGGER refuse_doc BEFORE UPDATE OF evses_doc ON charge_stations
			FOR EACH ROW WHEN (NEW.id = 'CS-F1') EXECUTE FUNCTION refuse_doc();`); err != nil {
		t.Fatal(err)
	}
	report(svc, "CS-F1", "Faulted")
	waitFailed(svc, 0)
	if row, own := shown("CS-F1"); row != "CHARGING" || own != "OUTOFORDER" {
		t.Fatalf("while the follow-up fails: the station row shows %s, the EVSE is %s", row, own)
	}
	if left := owed(); !slices.Equal(left, []string{"CS-F1"}) {
		t.Errorf("follow-ups on record while one fails: %v, want CS-F1's", left)
	}
	mu.Lock()
	if len(told) != 0 {
		t.Errorf("the answer cache was told %v before the row changed", told)
	}
	mu.Unlock()
	if _, err := e.DB.Exec(`ALTER TABLE charge_stations DISABLE TRIGGER refuse_doc`); err != nil {
		t.Fatal(err)
	}
	caughtUp(svc)
	if row, _ := shown("CS-F1"); row != "OUTOFORDER" {
		t.Fatalf("after the retried follow-up the station row shows %s", row)
	}

	// The node stops while the follow-up fails: the next node finds the station.
	if _, err := e.DB.Exec(`ALTER TABLE charge_stations ENABLE TRIGGER refuse_doc`); err != nil {
		t.Fatal(err)
	}
	report(svc, "CS-F1", "Available")
	waitFailed(svc, failed(svc))
	svc.Close()
	if row, own := shown("CS-F1"); row != "OUTOFORDER" || own != "AVAILABLE" {
		t.Fatalf("after the node stopped: the station row shows %s, the EVSE is %s", row, own)
	}
	if _, err := e.DB.Exec(`DROP TRIGGER refuse_doc ON charge_stations`); err != nil {
		t.Fatal(err)
	}
	next := newService()
	n, err := next.FollowLaggingStatuses(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("the next node found %d lagging stations (%v), want 1", n, err)
	}
	caughtUp(next)
	if row, _ := shown("CS-F1"); row != "AVAILABLE" {
		t.Errorf("after the next node's follow-up the station row shows %s", row)
	}
	if n, err := next.FollowLaggingStatuses(t.Context()); err != nil || n != 0 {
		t.Errorf("lagging stations after the follow-up: %d (%v)", n, err)
	}
	if behind, err := evse.NewStore(e.DB).StatusFollowersBehind(t.Context()); err != nil || len(behind) != 0 {
		t.Errorf("stations whose rows lag their EVSEs at the end: %v (%v)", behind, err)
	}
}

// TestOwedFollowUpsSettledUnderLoad: many stations report at once while other transactions
// hold some of their rows for a moment (the follow-up skips those and comes back). Once the
// node caught up, every station row shows its EVSE's last status and no follow-up is left on
// record: a record is settled only when each of its stations was followed after it, and
// every record is settled once they all were.
func TestOwedFollowUpsSettledUnderLoad(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, func(*sqlx.DB, *gin.RouterGroup) {})
	const stations = 60
	ids := make([]string, stations)
	for i := range ids {
		ids[i] = "CS-L" + strconv.Itoa(i)
		apitest.InsertStation(t, e.DB, e.Root.ID, ids[i])
		if _, err := e.DB.Exec(`INSERT INTO evses (uid, charge_station_id, evse_sequence_number, connectors, last_updated)
			VALUES ($1 || '-1', $1, 1, '[]', now())`, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	svc := stationreports.NewService(e.DB, chargestations.NewStore(e.DB), evse.NewStore(e.DB), stationlogs.NewStore(e.DB),
		sessions.NewStore(e.DB), nil, nil, nil, nil)
	t.Cleanup(svc.Close)

	// A holder takes a few station rows for a few milliseconds at a time until the reports end.
	stop := make(chan struct{})
	var holding sync.WaitGroup
	holding.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := e.DB.Beginx()
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := tx.Exec(`SELECT 1 FROM charge_stations WHERE id = ANY($1) FOR NO KEY UPDATE`,
				pq.Array([]string{ids[i%stations], ids[(i*7)%stations]})); err != nil {
				t.Error(err)
			}
			time.Sleep(2 * time.Millisecond)
			tx.Rollback()
		}
	})
	statuses := []string{"Available", "Charging", "Faulted", "Preparing"}
	last := make([]string, stations)
	var reporting sync.WaitGroup
	for i := range stations {
		reporting.Go(func() {
			for n := range 12 {
				st := statuses[(i+n)%len(statuses)]
				if err := svc.RecordStatus(t.Context(), stationreports.StatusReport{Identity: ids[i], EVSESequence: 1,
					OCPPStatus: st, At: time.Now()}); err != nil {
					t.Errorf("report %s %s: %v", ids[i], st, err)
					return
				}
				last[i] = st
			}
		})
	}
	reporting.Wait()
	close(stop)
	holding.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := svc.StatusFollowersCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		var row string
		if err := e.DB.Get(&row, `SELECT evses_doc->0->>'ocpp_status' FROM charge_stations WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if row != last[i] {
			t.Errorf("%s: the station row shows %s, the last report was %s", id, row, last[i])
		}
	}
	var left int
	if err := e.DB.Get(&left, `SELECT count(*) FROM evse_status_follow_ups_owed`); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d follow-up records left after the node caught up", left)
	}
	if n, err := svc.FollowLaggingStatuses(t.Context()); err != nil || n != 0 {
		t.Errorf("a node starting now would follow %d stations (%v), want none", n, err)
	}
}
