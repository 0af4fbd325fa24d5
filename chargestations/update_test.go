package chargestations_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
)

// getBody returns station id as a PUT body: the data of its GET, as a map.
func (e *env) getBody(key, id string) map[string]any {
	e.T.Helper()
	r := e.DoKey(key, http.MethodGet, "/api/v1/chargestations/"+id, nil).Must(e.T, http.StatusOK)
	var m map[string]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		e.T.Fatal(err)
	}
	return m
}

func TestPutRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	with := fromTemplate("CS-PUT", loc, "dual-ac")
	with["remarks"] = "behind the hotel"
	e.Do(http.MethodPost, "/api/v1/chargestations", with).Must(t, http.StatusCreated)

	// GET, change a field, PUT with the etag: 200 and a new etag.
	body := e.getBody(e.Key, "CS-PUT")
	oldETag := body["etag"].(string)
	body["name"] = "Hotel entrance"
	r := e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body).Must(t, http.StatusOK)
	put := decodeStation(t, r)
	if put.ETag == oldETag || put.ETag == "" {
		t.Errorf("etag after PUT = %q, want a new one (old %q)", put.ETag, oldETag)
	}
	if str(put.Name) != `"Hotel entrance"` || str(put.Remarks) != `"behind the hotel"` {
		t.Errorf("after PUT name = %s, remarks = %s", str(put.Name), str(put.Remarks))
	}
	if len(put.EVSEs) != 2 || put.EVSEs[0].UID != "CS-PUT-1" {
		t.Errorf("EVSEs after a PUT of the GET body: %+v", put.EVSEs)
	}

	// The old etag again: 412; no etag at all: 428; the If-Match header works like the body field.
	e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body).Must(t, http.StatusPreconditionFailed)
	delete(body, "etag")
	e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body).Must(t, http.StatusPreconditionRequired)
	e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body, "If-Match: \""+oldETag+"\"").Must(t, http.StatusPreconditionFailed)
	r = e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body, "If-Match: \""+put.ETag+"\"").Must(t, http.StatusOK)
	current := decodeStation(t, r).ETag

	// PUT of a new id creates it.
	r = e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT-NEW", manual("CS-PUT-NEW", loc, dcEVSE())).Must(t, http.StatusCreated)
	if got := decodeStation(t, r); got.ChargeStationID != "CS-PUT-NEW" || len(got.EVSEs) != 1 {
		t.Errorf("PUT-created station = %+v", got)
	}
	// The path's id wins when the body has none; a different one is a 422.
	noID := manual("", loc, dcEVSE())
	delete(noID, "charge_station_id")
	e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT-NOID", noID).Must(t, http.StatusCreated)
	assertFields(t, e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT-X", manual("CS-PUT-Y", loc, dcEVSE())).Must(t, 422),
		[]string{"charge_station_id"})

	// Read-only fields: set by the gateway (here: directly in the database), never by a PUT.
	if _, err := e.DB.Exec(`UPDATE charge_stations SET firmware_version = 'FW-1.2.3', connectivity_status = 'Online' WHERE id = 'CS-PUT'`); err != nil {
		t.Fatal(err)
	}
	body = e.getBody(e.Key, "CS-PUT")
	if body["etag"] != current {
		t.Errorf("a gateway write changed the etag: %v, want %v", body["etag"], current)
	}
	body["firmware_version"] = "garbage"
	body["connectivity_status"] = 42
	body["onboarding_state"] = "Onboarded"
	body["status"] = "AVAILABLE"
	body["has_ocpp_password"] = true
	e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body).Must(t, http.StatusOK)
	got := e.getStation(e.Key, "CS-PUT")
	if str(got.FirmwareVersion) != `"FW-1.2.3"` || str(got.ConnectivityStatus) != `"Online"` ||
		got.OnboardingState != "Pending" || got.Status != "UNKNOWN" || got.HasOCPPPassword {
		t.Errorf("read-only fields after PUT: firmware %s, connectivity %s, onboarding %s, status %s, has_ocpp_password %v",
			str(got.FirmwareVersion), str(got.ConnectivityStatus), got.OnboardingState, got.Status, got.HasOCPPPassword)
	}

	// A PUT without an optional field clears it.
	body = e.getBody(e.Key, "CS-PUT")
	delete(body, "remarks")
	delete(body, "name")
	e.Do(http.MethodPut, "/api/v1/chargestations/CS-PUT", body).Must(t, http.StatusOK)
	if got := e.getStation(e.Key, "CS-PUT"); got.Remarks != nil || got.Name != nil {
		t.Errorf("after a PUT without them: remarks %s, name %s; want both null", str(got.Remarks), str(got.Name))
	}
}

func TestPutReplacesEVSEs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-REP", loc, "dual-ac")).Must(t, http.StatusCreated)
	if err := e.setStatus("CS-REP", 1, "Charging", "CHARGING", nowUTC()); err != nil {
		t.Fatal(err)
	}
	before := e.getStation(e.Key, "CS-REP")

	// Keep EVSE 1 as it is, drop EVSE 2, add a DC EVSE as number 2.
	body := e.getBody(e.Key, "CS-REP")
	evses := body["evses"].([]any)
	body["evses"] = []any{evses[0], dcEVSE()}
	r := e.Do(http.MethodPut, "/api/v1/chargestations/CS-REP", body).Must(t, http.StatusOK)
	after := decodeStation(t, r)
	if len(after.EVSEs) != 2 {
		t.Fatalf("evses = %d, want 2", len(after.EVSEs))
	}
	if after.EVSEs[0].UID != "CS-REP-1" || after.EVSEs[0].Status != "CHARGING" || after.EVSEs[0].LastUpdated != before.EVSEs[0].LastUpdated {
		t.Errorf("surviving EVSE = %s %s %s, want CS-REP-1 CHARGING with its last_updated %s unchanged",
			after.EVSEs[0].UID, after.EVSEs[0].Status, after.EVSEs[0].LastUpdated, before.EVSEs[0].LastUpdated)
	}
	if after.EVSEs[1].UID != "CS-REP-2" || after.EVSEs[1].Status != "UNKNOWN" || after.EVSEs[1].Connectors[0].PowerType != "DC" {
		t.Errorf("new EVSE 2 = %+v, want CS-REP-2 UNKNOWN DC (a new EVSE, whose status is not the old one's)", after.EVSEs[1])
	}
	if after.Status != "CHARGING" {
		t.Errorf("station status = %s, want CHARGING", after.Status)
	}

	// A PUT with a template rebuilds the EVSEs from it.
	body = e.getBody(e.Key, "CS-REP")
	delete(body, "evses")
	body["charge_station_template_id"] = "dual-ac"
	after = decodeStation(t, e.Do(http.MethodPut, "/api/v1/chargestations/CS-REP", body).Must(t, http.StatusOK))
	if len(after.EVSEs) != 2 || after.EVSEs[1].Connectors[0].Standard != "IEC_62196_T2" || after.EVSEs[0].Status != "CHARGING" {
		t.Errorf("EVSEs after PUT with template: %+v", after.EVSEs)
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	body := fromTemplate("CS-PATCH", loc, "dual-ac")
	body["name"] = "Before"
	body["maintenance_info"] = "checked 2026-01"
	e.Do(http.MethodPost, "/api/v1/chargestations", body).Must(t, http.StatusCreated)
	before := e.getBody(e.Key, "CS-PATCH")
	staleETag := before["etag"].(string)

	r := e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"remarks": "new remark"}).Must(t, http.StatusOK)
	after := e.getBody(e.Key, "CS-PATCH")
	if after["remarks"] != "new remark" {
		t.Errorf("remarks = %v, want new remark", after["remarks"])
	}
	if after["etag"] == before["etag"] || r.Header.Get("ETag") != `"`+after["etag"].(string)+`"` {
		t.Errorf("etag after PATCH = %v (header %s), want a new one", after["etag"], r.Header.Get("ETag"))
	}
	// Nothing else changed, the EVSEs included (their last_updated too).
	for _, m := range []map[string]any{before, after} {
		delete(m, "remarks")
		delete(m, "etag")
		delete(m, "last_updated")
	}
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if !bytes.Equal(b1, b2) {
		t.Errorf("PATCH of remarks changed more:\nbefore %s\nafter  %s", b1, b2)
	}

	// null clears; a stale etag is a 412; the current one passes.
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"name": nil}).Must(t, http.StatusOK)
	if got := e.getStation(e.Key, "CS-PATCH"); got.Name != nil {
		t.Errorf("name after PATCH null = %s", str(got.Name))
	}
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"name": "X", "etag": staleETag}).Must(t, http.StatusPreconditionFailed)
	cur := e.getStation(e.Key, "CS-PATCH")
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"name": "X"}, `If-Match: "`+cur.ETag+`"`).Must(t, http.StatusOK)

	// PATCH validates like PUT, and read-only fields are ignored.
	assertFields(t, e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH",
		map[string]any{"deploy_state": "Broken", "location_id": "nowhere"}).Must(t, 422), []string{"deploy_state", "location_id"})
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"firmware_version": "x"}).Must(t, http.StatusOK)
	if got := e.getStation(e.Key, "CS-PATCH"); got.FirmwareVersion != nil {
		t.Errorf("firmware_version = %s after a PATCH, want null", str(got.FirmwareVersion))
	}
	// A template in a PATCH replaces the EVSEs; unknown stations are 404.
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"evses": []any{dcEVSE()}}).Must(t, http.StatusOK)
	if got := e.getStation(e.Key, "CS-PATCH"); len(got.EVSEs) != 1 {
		t.Errorf("evses after PATCH = %d, want 1", len(got.EVSEs))
	}
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", map[string]any{"charge_station_template_id": "dual-ac"}).Must(t, http.StatusOK)
	if got := e.getStation(e.Key, "CS-PATCH"); len(got.EVSEs) != 2 {
		t.Errorf("evses after PATCH with a template = %d, want 2", len(got.EVSEs))
	}
	e.Do(http.MethodPatch, "/api/v1/chargestations/NOPE", map[string]any{"name": "x"}).Must(t, http.StatusNotFound)
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PATCH", `{"name": `).Must(t, http.StatusBadRequest)
}

// TestConcurrentPatches sends 100 PATCHes at once to one station: 10 set different station
// fields and 90 set the physical_reference of 90 different EVSEs (each EVSE PATCH also renews
// the station's etag, and each station PATCH rewrites the EVSE set from the state it merged
// onto). All must land.
func TestConcurrentPatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTariff(e.Key, "T2")
	evses := make([]map[string]any, 90)
	for i := range evses {
		evses[i] = dcEVSE()
	}
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-CONC", loc, evses...)).Must(t, http.StatusCreated)

	stationPatches := []map[string]any{
		{"name": "N"}, {"remarks": "R"}, {"maintenance_info": "M"}, {"default_charge_station_floor_level": "-1"},
		{"tap_to_stop": true}, {"stop_on_parking": false}, {"contactless_type": "Nayax"},
		{"installation_date": "2025-05-01T00:00:00Z"}, {"capabilities": []string{"RFID_READER"}},
		{"default_charge_station_tariff_id": "T2"},
	}
	type req struct {
		path string
		body map[string]any
	}
	var reqs []req
	for _, p := range stationPatches {
		reqs = append(reqs, req{"/api/v1/chargestations/CS-CONC", p})
	}
	for i := 1; i <= 90; i++ {
		reqs = append(reqs, req{fmt.Sprintf("/api/v1/chargestations/CS-CONC/evses/CS-CONC-%d", i), map[string]any{"physical_reference": fmt.Sprintf("P%d", i)}})
	}
	rand.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })

	var wg sync.WaitGroup
	statuses := make([]int, len(reqs))
	for i, rq := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.Do(http.MethodPatch, rq.path, rq.body).Status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("PATCH %s %v = %d", reqs[i].path, reqs[i].body, s)
		}
	}

	got := e.getBody(e.Key, "CS-CONC")
	for _, p := range stationPatches {
		for k, v := range p {
			want, _ := json.Marshal(v)
			have, _ := json.Marshal(got[k])
			if !bytes.Equal(want, have) {
				t.Errorf("%s = %s, want %s: a PATCH was lost", k, have, want)
			}
		}
	}
	for i, ev := range got["evses"].([]any) {
		m := ev.(map[string]any)
		if want := fmt.Sprintf("P%d", i+1); m["physical_reference"] != want {
			t.Errorf("%s physical_reference = %v, want %s: a PATCH was lost", m["uid"], m["physical_reference"], want)
		}
	}
}

func TestConcurrentPutsSameETag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-RACE", loc, dcEVSE())).Must(t, http.StatusCreated)
	body := e.getBody(e.Key, "CS-RACE")

	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		b := with(body, "name", fmt.Sprintf("writer %d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.Do(http.MethodPut, "/api/v1/chargestations/CS-RACE", b).Status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	winner := -1
	for i, s := range statuses {
		count[s]++
		if s == http.StatusOK {
			winner = i
		}
	}
	if count[http.StatusOK] != 1 || count[http.StatusPreconditionFailed] != n-1 {
		t.Fatalf("statuses = %v, want exactly one 200 and %d 412", count, n-1)
	}
	if got := e.getStation(e.Key, "CS-RACE"); str(got.Name) != fmt.Sprintf(`"writer %d"`, winner) {
		t.Errorf("name = %s, want the winner's (writer %d)", str(got.Name), winner)
	}
}
