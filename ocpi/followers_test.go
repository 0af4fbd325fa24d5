package ocpi

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/schema"
	"github.com/jmoiron/sqlx"
)

// TestStatusFollowersDeferred: the gateway's status batches defer what follows an EVSE's
// status (the station's REST answer and the OCPI publication, migration 0035) and follow it
// up after their commit. Until then a partner and a portal see the old status and the EVSE
// row has the new one, and the station is found as lagging; the follow-up shows the status in
// both views, moves last_updated past the checkpoint of a partner that synced in between,
// and a second follow-up changes nothing.
func TestStatusFollowersDeferred(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := e.registerPartner(newFakePartner(t, false), "eMSP")
	loc := e.location("Followed site")
	e.station("FS-1", loc, "Production", 2)
	e.station("FS-2", loc, "Stock", 1) // not published: its REST answer still follows

	ocpiStatus := func() (status, evseUpdated, locUpdated string) {
		t.Helper()
		var l Location
		e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc, token, nil).must(t, 200).data(t, &l)
		return string(l.EVSEs[1].Status), l.EVSEs[1].LastUpdated, l.LastUpdated
	}
	type restStation struct {
		LastUpdated time.Time `json:"last_updated"`
		EVSEs       []struct {
			Status string `json:"status"`
		} `json:"evses"`
	}
	rest := func(id string) restStation {
		t.Helper()
		var s restStation
		e.admin("GET", "/api/v1/chargestations/"+id, nil).must(t, 200).data(t, &s)
		return s
	}
	behind := func() []string {
		t.Helper()
		ids, err := e.evses.StatusFollowersBehind(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	if got := behind(); len(got) != 0 {
		t.Fatalf("lagging before any report: %v", got)
	}
	status0, evse0, loc0 := ocpiStatus()
	before := rest("FS-1")

	// A status batch as the gateway writes it, of reports received a second ago.
	received := time.Now().Add(-time.Second)
	tx, err := e.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	store := e.evses.WithTx(tx)
	store.DeferStatusFollowers()
	found, changed, _, err := store.SetStatuses(t.Context(), []evse.StatusChange{
		{Identity: "FS-1", SequenceNumber: 2, OCPPStatus: "Charging", Status: schema.StatusCharging, At: received},
		{Identity: "FS-2", SequenceNumber: 1, OCPPStatus: "Faulted", Status: schema.StatusOutOfOrder, At: received},
		{Identity: "FS-2", SequenceNumber: 7, OCPPStatus: "Faulted", Status: schema.StatusOutOfOrder, At: received},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, []bool{true, true, false}) || !slices.Equal(changed, []string{"FS-1", "FS-2"}) {
		t.Fatalf("found %v, changed %v", found, changed)
	}
	var stored string
	if err := e.db.Get(&stored, `SELECT status FROM evses WHERE charge_station_id = 'FS-1' AND evse_sequence_number = 2`); err != nil || stored != "CHARGING" {
		t.Fatalf("EVSE row: %q, %v", stored, err)
	}
	if s := rest("FS-1"); s.EVSEs[1].Status != before.EVSEs[1].Status || !s.LastUpdated.Equal(before.LastUpdated) {
		t.Errorf("REST answer before the follow-up: %+v, want it unchanged (%+v)", s, before)
	}
	if st, _, _ := ocpiStatus(); st != status0 {
		t.Errorf("OCPI status before the follow-up: %s, want %s", st, status0)
	}
	if got := behind(); !slices.Equal(got, []string{"FS-1", "FS-2"}) {
		t.Errorf("lagging: %v, want FS-1 and FS-2", got)
	}

	// A partner syncs between the reports and their follow-up: its checkpoint is now, after
	// the reports' time.
	checkpoint := time.Now().UTC().Truncate(time.Millisecond)
	const millis = "2006-01-02T15:04:05.000Z"
	// FS-2's row is held by another transaction (a status batch, a PUT): the follow-up does
	// not wait for it but says it skipped it, and follows it once it is free.
	holder, err := e.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(`SELECT 1 FROM charge_stations WHERE id = 'FS-2' FOR NO KEY UPDATE`); err != nil {
		t.Fatal(err)
	}
	skipped, err := e.evses.FollowStatuses(t.Context(), []string{"FS-1", "FS-2", "FS-GONE"}, time.Now())
	if err != nil || !slices.Equal(skipped, []string{"FS-2"}) {
		t.Fatalf("follow-up while FS-2 is held: skipped %v, %v; want FS-2", skipped, err)
	}
	if s := rest("FS-2"); s.EVSEs[0].Status == "OUTOFORDER" {
		t.Errorf("FS-2 followed while its row was held")
	}
	holder.Rollback()
	if skipped, err := e.evses.FollowStatuses(t.Context(), []string{"FS-2"}, time.Now()); err != nil || len(skipped) != 0 {
		t.Fatalf("follow-up of FS-2 once free: skipped %v, %v", skipped, err)
	}
	after := rest("FS-1")
	if after.EVSEs[1].Status != "CHARGING" || after.LastUpdated.Before(checkpoint) {
		t.Errorf("REST answer after the follow-up: %+v, want CHARGING at or after %s", after, checkpoint)
	}
	if s := rest("FS-2"); s.EVSEs[0].Status != "OUTOFORDER" {
		t.Errorf("unpublished station after the follow-up: %+v", s)
	}
	var faults []struct {
		ID string `json:"charge_station_id"`
	}
	e.admin("GET", "/api/v1/chargestations?has_fault=true", nil).must(t, 200).data(t, &faults)
	if len(faults) != 1 || faults[0].ID != "FS-2" {
		t.Errorf("has_fault=true lists %+v, want FS-2", faults)
	}
	res := e.admin("GET", "/api/v1/chargestations?date_from="+url.QueryEscape(checkpoint.Format(millis)), nil).must(t, 200)
	if res.Header.Get("X-Total-Count") != "2" {
		t.Errorf("REST sync from the checkpoint: %s stations, want both", res.Header.Get("X-Total-Count"))
	}
	status1, evse1, loc1 := ocpiStatus()
	if status1 != "CHARGING" || evse1 <= evse0 || loc1 <= loc0 {
		t.Errorf("OCPI after the follow-up: %s (EVSE %s, location %s; before %s, %s)", status1, evse1, loc1, evse0, loc0)
	}
	res = e.ocpi("GET", "/ocpi/2.2.1/locations?date_from="+url.QueryEscape(checkpoint.Format(millis)), token, nil).must(t, 200)
	if res.Header.Get("X-Total-Count") != "1" {
		t.Errorf("OCPI sync from the checkpoint: %s locations, want 1", res.Header.Get("X-Total-Count"))
	}
	if got := behind(); len(got) != 0 {
		t.Errorf("lagging after the follow-up: %v", got)
	}

	// Followed again with nothing new: no station row is written.
	var xmin string
	version := func() string {
		if err := sqlx.Get(e.db, &xmin, `SELECT xmin::text FROM charge_stations WHERE id = 'FS-1'`); err != nil {
			t.Fatal(err)
		}
		return xmin
	}
	v := version()
	if _, err := e.evses.FollowStatuses(t.Context(), []string{"FS-1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if version() != v {
		t.Error("a follow-up with nothing to follow rewrote the station row")
	}
	if _, evse2, _ := ocpiStatus(); evse2 != evse1 {
		t.Errorf("a follow-up with nothing to follow republished the EVSE: %s → %s", evse1, evse2)
	}
}
