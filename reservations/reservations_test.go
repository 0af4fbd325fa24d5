package reservations_test

import (
	"testing"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/reservations"
	"github.com/evroam/evroam/schema"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setup is a database with station CS-1 and its two AVAILABLE EVSEs, and a Service whose
// clock the test moves.
func setup(t *testing.T) (*sqlx.DB, *reservations.Service, *time.Time, *[]string) {
	t.Helper()
	db := pgtest.New(t)
	root, err := networks.NewStore(db).EnsureRoot(t.Context(), "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	apitest.InsertStation(t, db, root.ID, "CS-1")
	for seq := 1; seq <= 2; seq++ {
		if _, err := db.Exec(`INSERT INTO evses (uid, charge_station_id, evse_sequence_number, status, ocpp_status, connectors, last_updated)
			VALUES ($1, 'CS-1', $2, 'AVAILABLE', 'Available', '[]', now())`, "CS-1-"+string(rune('0'+seq)), seq); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	var changed []string
	svc := reservations.NewService(db, reservations.NewStore(db), func(ids ...string) { changed = append(changed, ids...) },
		func() time.Time { return now })
	return db, svc, &now, &changed
}

func evseStatus(t *testing.T, db *sqlx.DB, seq int) string {
	t.Helper()
	var s string
	if err := db.Get(&s, `SELECT status FROM evses WHERE charge_station_id = 'CS-1' AND evse_sequence_number = $1`, seq); err != nil {
		t.Fatal(err)
	}
	return s
}

func reservationStatus(t *testing.T, svc *reservations.Service, id int) reservations.Status {
	t.Helper()
	r, err := svc.Get(t.Context(), "CS-1", id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

// TestReservedUntilExpiry: a recorded reservation makes its EVSE RESERVED at once; a station
// that reports Available does not free it; once the expiry passes, Expire ends it and frees
// the EVSE although the station never reported anything.
func TestReservedUntilExpiry(t *testing.T) {
	t.Parallel()
	db, svc, now, changed := setup(t)
	ctx := t.Context()
	if err := svc.Record(ctx, reservations.Reservation{StationID: "CS-1", ID: 7, EVSESequenceNumber: 2, IDTag: "TAG",
		Expiry: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if s1, s2 := evseStatus(t, db, 1), evseStatus(t, db, 2); s1 != "AVAILABLE" || s2 != "RESERVED" {
		t.Fatalf("EVSE statuses %s, %s after the reservation of EVSE 2, want AVAILABLE, RESERVED", s1, s2)
	}
	if len(*changed) != 1 || (*changed)[0] != "CS-1" {
		t.Errorf("station answer cache told %v, want CS-1", *changed)
	}
	// The station says Available (the gateway's status write): the EVSE stays RESERVED.
	if _, _, _, err := evse.NewStore(db).SetStatuses(ctx, []evse.StatusChange{{Identity: "CS-1", SequenceNumber: 2, OCPPStatus: "Available",
		Status: schema.Status("AVAILABLE"), At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if s := evseStatus(t, db, 2); s != "RESERVED" {
		t.Errorf("after the station reported Available: %s, want RESERVED", s)
	}
	// Faulted still shows.
	if _, _, _, err := evse.NewStore(db).SetStatuses(ctx, []evse.StatusChange{{Identity: "CS-1", SequenceNumber: 2, OCPPStatus: "Faulted",
		Status: schema.Status("OUTOFORDER"), At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if s := evseStatus(t, db, 2); s != "OUTOFORDER" {
		t.Errorf("after the station reported Faulted: %s, want OUTOFORDER", s)
	}
	if _, _, _, err := evse.NewStore(db).SetStatuses(ctx, []evse.StatusChange{{Identity: "CS-1", SequenceNumber: 2, OCPPStatus: "Available",
		Status: schema.Status("AVAILABLE"), At: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	if n, err := svc.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("Expire before the expiry: %d, %v", n, err)
	}
	*now = now.Add(2 * time.Minute)
	if n, err := svc.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("Expire after the expiry: %d, %v; want 1", n, err)
	}
	if s := evseStatus(t, db, 2); s != "AVAILABLE" {
		t.Errorf("after the expiry: %s, want AVAILABLE", s)
	}
	if s := reservationStatus(t, svc, 7); s != reservations.StatusExpired {
		t.Errorf("reservation %s, want EXPIRED", s)
	}
}

// TestCancelFreesTheEVSE, and a second cancel finds nothing.
func TestCancelFreesTheEVSE(t *testing.T) {
	t.Parallel()
	db, svc, now, _ := setup(t)
	ctx := t.Context()
	if err := svc.Record(ctx, reservations.Reservation{StationID: "CS-1", ID: 8, EVSESequenceNumber: 1, IDTag: "TAG",
		Expiry: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ok, err := svc.Cancel(ctx, "CS-1", 8)
	if err != nil || !ok {
		t.Fatalf("Cancel = %v, %v", ok, err)
	}
	if s := evseStatus(t, db, 1); s != "AVAILABLE" {
		t.Errorf("after the cancellation: %s, want AVAILABLE", s)
	}
	if ok, err := svc.Cancel(ctx, "CS-1", 8); err != nil || ok {
		t.Errorf("second Cancel = %v, %v, want false", ok, err)
	}
}

// TestSessionUsesTheReservation: a session that starts on the reserved EVSE with the
// reservation's token (in any letter case) uses it up; one with another token does not.
func TestSessionUsesTheReservation(t *testing.T) {
	t.Parallel()
	db, svc, now, _ := setup(t)
	ctx := t.Context()
	for _, r := range []reservations.Reservation{
		{StationID: "CS-1", ID: 9, EVSESequenceNumber: 1, IDTag: "tag-a", Expiry: now.Add(time.Hour)},
		{StationID: "CS-1", ID: 10, EVSESequenceNumber: 2, IDTag: "TAG-B", Expiry: now.Add(time.Hour)},
	} {
		if err := svc.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO transactions (charge_station_id, transaction_id, evse_sequence_number, id_tag, updated, network_id, location_id)
		SELECT 'CS-1', '1', 1, 'TAG-A', now(), network_id, location_id FROM charge_stations WHERE id = 'CS-1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO transactions (charge_station_id, transaction_id, evse_sequence_number, id_tag, updated, network_id, location_id)
		SELECT 'CS-1', '2', 2, 'SOMEONE-ELSE', now(), network_id, location_id FROM charge_stations WHERE id = 'CS-1'`); err != nil {
		t.Fatal(err)
	}
	if s := reservationStatus(t, svc, 9); s != reservations.StatusUsed {
		t.Errorf("reservation of the token that started a session: %s, want USED", s)
	}
	if s := reservationStatus(t, svc, 10); s != reservations.StatusActive {
		t.Errorf("reservation of another token: %s, want ACTIVE", s)
	}
}
