package ocpi

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/migrations"
)

// longStation is a charge station id of the longest kind (48 characters): "<id>-<n>" does
// not fit in an EVSE uid.
const longStation = "EVR-AMSTERDAM-CENTRAL-STATION-GARAGE-LEVEL2-0001"

// ac is a connector every test station can have.
var ac = map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}

// stationWith posts a Production station with the given EVSE bodies and returns the answer.
func (e *env) stationWith(id, locationID string, evses ...map[string]any) *response {
	e.t.Helper()
	tariff, _ := e.stationTariffs(locationID)
	return e.admin("POST", "/api/v1/chargestations", map[string]any{
		"charge_station_id": id, "location_id": locationID, "deploy_state": "Production",
		"default_charge_station_tariff_id": tariff, "charger_type": "Public", "evses": evses,
	})
}

// badFields returns the fields a 422 names, sorted.
func badFields(t *testing.T, res *response) []string {
	t.Helper()
	if res.Status != 422 {
		t.Fatalf("HTTP %d, want 422: %s", res.Status, res.Body)
	}
	var body struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range body.Errors {
		out = append(out, f.Field)
	}
	sort.Strings(out)
	return out
}

func wantFields(t *testing.T, what string, res *response, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := badFields(t, res); !slices.Equal(got, want) {
		t.Errorf("%s: 422 names %q, want %q; body %s", what, got, want, res.Body)
	}
}

// TestRefuseWhatCannotBePublished: the REST API refuses, naming every bad field, what the
// official OCPI 2.2.1 schemas would not take: coordinates too long, opening times OCPI
// cannot express, EVSE uids over 36 characters, an evse_id another EVSE has.
func TestRefuseWhatCannotBePublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	site := map[string]any{
		"name": "Edge", "address": "Kade 1", "city": "Amsterdam", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]string{"latitude": "-52.1234567", "longitude": "-123.1234567"},
		"opening_times": map[string]any{"twentyfourseven": false, "regular_hours": []map[string]any{
			{"weekday": 1, "period_begin": "08:00", "period_end": "24:00"},
			{"weekday": 2, "period_begin": "18:00", "period_end": "08:00"},
			{"weekday": 3, "period_begin": "09:00", "period_end": "09:00"},
			{"weekday": 4, "period_begin": "00:00", "period_end": "23:59"},
		}},
	}
	wantFields(t, "location", e.admin("POST", "/api/v1/locations", site),
		"coordinates.latitude", "coordinates.longitude", "opening_times.regular_hours[0].period_end",
		"opening_times.regular_hours[1].period_end", "opening_times.regular_hours[2].period_end")
	site["coordinates"] = map[string]string{"latitude": "52.1234567", "longitude": "4.1234567"}
	site["opening_times"] = map[string]any{"twentyfourseven": false}
	wantFields(t, "not 24/7 without hours", e.admin("POST", "/api/v1/locations", site), "opening_times.regular_hours")
	var list []json.RawMessage
	e.admin("GET", "/api/v1/locations", nil).must(t, 200).data(t, &list)
	if len(list) != 0 {
		t.Fatalf("%d locations stored by refused writes", len(list))
	}
	// The longest values OCPI takes are accepted.
	site["coordinates"] = map[string]string{"latitude": "-52.123456", "longitude": "-123.123456"}
	site["opening_times"] = map[string]any{"twentyfourseven": false, "regular_hours": []map[string]any{
		{"weekday": 1, "period_begin": "00:00", "period_end": "23:59"}}}
	var loc struct{ ID string }
	e.admin("POST", "/api/v1/locations", site).must(t, 201).data(t, &loc)

	// EVSEs: a uid over 36 characters, coordinates too long, one evse_id twice in a body.
	wantFields(t, "station", e.stationWith("CS-BAD", loc.ID,
		map[string]any{"uid": strings.Repeat("U", 37), "evse_id": "NL*EVR*E1*1", "connectors": []any{ac}},
		map[string]any{"evse_id": "NL*EVR*E1*2", "coordinates": map[string]string{"latitude": "-52.1234567", "longitude": "4.00000"}, "connectors": []any{ac}},
		map[string]any{"evse_id": "nl*evr*e12", "connectors": []any{ac}}),
		"evses[0].uid", "evses[1].coordinates.latitude", "evses[2].evse_id")

	// An evse_id another station's EVSE has (compared without case and '*').
	e.stationWith("CS-1", loc.ID, map[string]any{"evse_id": "NL*EVR*E100*1", "connectors": []any{ac}}).must(t, 201)
	wantFields(t, "evse_id of another station", e.stationWith("CS-2", loc.ID,
		map[string]any{"evse_id": "NL*EVR*E100*2", "connectors": []any{ac}},
		map[string]any{"evse_id": "nlevre1001", "connectors": []any{ac}}), "evses[1].evse_id")
	e.stationWith("CS-2", loc.ID, map[string]any{"evse_id": "NL*EVR*E100*2", "connectors": []any{ac}}).must(t, 201)
	res := e.admin("PATCH", "/api/v1/chargestations/CS-2/evses/CS-2-1", map[string]any{"evse_id": "NL*EVR*E100*1"})
	wantFields(t, "EVSE endpoint", res, "evse_id")
	// Two EVSEs of one station swap their evse_ids in one write.
	e.stationWith("CS-3", loc.ID,
		map[string]any{"evse_id": "NL*EVR*E300*1", "connectors": []any{ac}},
		map[string]any{"evse_id": "NL*EVR*E300*2", "connectors": []any{ac}}).must(t, 201)
	e.admin("PATCH", "/api/v1/chargestations/CS-3", map[string]any{"evses": []map[string]any{
		{"evse_id": "NL*EVR*E300*2", "connectors": []any{ac}},
		{"evse_id": "NL*EVR*E300*1", "connectors": []any{ac}}}}).must(t, 200)
}

// TestGeneratedUIDsFit: the uids evroam makes for the EVSEs of a 48-character station id fit
// OCPI's 36 characters, differ between stations whose ids start alike, and work in paths.
func TestGeneratedUIDsFit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.location("Garage")
	other := longStation[:len(longStation)-1] + "2"
	var uids []string
	for _, id := range []string{longStation, other} {
		var cs struct {
			EVSEs []struct{ UID string } `json:"evses"`
		}
		e.stationWith(id, loc, map[string]any{"connectors": []any{ac}}, map[string]any{"connectors": []any{ac}}).must(t, 201).data(t, &cs)
		for i, ev := range cs.EVSEs {
			if len(ev.UID) > evse.MaxUIDLen || ev.UID != evse.GeneratedUID(id, i+1) {
				t.Errorf("station %s EVSE %d: uid %q (%d characters), want GeneratedUID, at most 36", id, i+1, ev.UID, len(ev.UID))
			}
			e.admin("GET", "/api/v1/chargestations/"+id+"/evses/"+ev.UID, nil).must(t, 200)
			uids = append(uids, ev.UID)
		}
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(uids))); len(distinct) != 4 {
		t.Errorf("uids %q are not 4 different ones", uids)
	}
	if got := evse.GeneratedUID("CS-1", 2); got != "CS-1-2" {
		t.Errorf("GeneratedUID of a short id = %q, want CS-1-2 as before", got)
	}
}

// TestEVSEIDRace: of concurrent writes giving two stations the same evse_id, one wins; the
// database decides, so the check cannot be raced.
func TestEVSEIDRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.location("Race")
	for round := range 5 {
		evseID := fmt.Sprintf("NL*EVR*E9%d*1", round)
		var wg sync.WaitGroup
		codes := make([]int, 4)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = e.stationWith(fmt.Sprintf("RACE-%d-%d", round, i), loc, map[string]any{"evse_id": evseID, "connectors": []any{ac}}).Status
			}()
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case 201:
				won++
			case 409, 422:
			default:
				t.Errorf("round %d: HTTP %d, want 201, 409 or 422", round, c)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d writers won the same evse_id (%v), want 1", round, won, codes)
		}
	}
}

// TestAcceptedIsPublishable: what the REST API accepts at its limits is published as the
// official schemas want: a full pull and the single GETs validate.
func TestAcceptedIsPublishable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	tokenC := e.registerPartner(f, "eMSP")
	var loc struct{ ID string }
	e.admin("POST", "/api/v1/locations", map[string]any{
		"name": "Edge", "address": "Kade 1", "city": "Amsterdam", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]string{"latitude": "-52.123456", "longitude": "-123.123456"},
		"opening_times": map[string]any{"twentyfourseven": false, "regular_hours": []map[string]any{
			{"weekday": 1, "period_begin": "00:00", "period_end": "23:59"}, {"weekday": 2, "period_begin": "08:00", "period_end": "18:00"}}},
	}).must(t, 201).data(t, &loc)
	e.stationWith(longStation, loc.ID,
		map[string]any{"evse_id": "NL*EVR*E1*1", "coordinates": map[string]string{"latitude": "-52.123456", "longitude": "-123.123456"}, "connectors": []any{ac}},
		map[string]any{"uid": strings.Repeat("U", 36), "connectors": []any{ac}}).must(t, 201)
	res := e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil).must(t, 200)
	mustMatchOAS(t, oasLocationList, res.Body)
	mustMatchOAS(t, oasLocationGet, e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc.ID, tokenC, nil).must(t, 200).Body)
	mustMatchOAS(t, oasEVSEGet, e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc.ID+"/"+evse.GeneratedUID(longStation, 1), tokenC, nil).must(t, 200).Body)
}

// TestMigrationRefuseUnpublishable applies migration 0021_refuse_unpublishable to rows stored
// before it that break OCPI's schemas: long uids (published, and retired), long coordinates,
// opening times OCPI cannot express and an evse_id held twice. Afterwards everything published validates, the published copies carry
// the new uids, the renamed location is queued to be pushed whole, and the REST API reads the
// fixed rows.
func TestMigrationRefuseUnpublishable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, true)
	tokenC := e.registerPartner(f, "eMSP with receiver")
	ctx := t.Context()
	// The schema of every migration but 0021: down to 0020, then the later ones again (they do
	// not depend on it), so that the API the setup below uses finds the columns it reads.
	// migrations.Up at the end then applies 0021 alone, to the rows made here.
	const refuseUnpublishable = 21 // migrations/0021_refuse_unpublishable
	if err := migrations.Down(ctx, e.db.DB, migrations.Latest()-refuseUnpublishable+1); err != nil {
		t.Fatal(err)
	}
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version <= refuseUnpublishable {
			continue
		}
		if _, err := e.db.Exec(m.Up); err != nil {
			t.Fatalf("migration %04d_%s without 0021: %v", m.Version, m.Name, err)
		}
		if _, err := e.db.Exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.db.Exec(q, args...); err != nil {
			t.Fatalf("%v: %s", err, q)
		}
	}
	// As stored before 0021: uids "<station>-<n>" of a 48-character station id.
	locA, locB, locC := e.location("Long uids"), e.location("Bad hours"), e.location("Closed")
	oldUID := func(station string, n int) string { return fmt.Sprintf("%s-%d", station, n) }
	gone := longStation[:len(longStation)-1] + "9"
	tariff, _ := e.stationTariffs(locA)
	for _, id := range []string{longStation, gone} {
		e.admin("POST", "/api/v1/chargestations", map[string]any{
			"charge_station_id": id, "location_id": locA, "deploy_state": "Stock",
			"default_charge_station_tariff_id": tariff, "charger_type": "Public",
			"evses": []map[string]any{{"connectors": []any{ac}}, {"connectors": []any{ac}}},
		}).must(t, 201)
		for n := 1; n <= 2; n++ {
			exec(`UPDATE evses SET uid = $1 WHERE uid = $2`, oldUID(id, n), evse.GeneratedUID(id, n))
		}
		// (not through the API: it refuses the station's long uids now)
		exec(`UPDATE charge_stations SET deploy_state = 'Production' WHERE id = $1`, id)
	}
	e.admin("DELETE", "/api/v1/chargestations/"+gone, nil).must(t, 204) // its EVSEs stay REMOVED under the long uids
	exec(`UPDATE locations SET latitude = '-52.1234567', longitude = '-123.1234567' WHERE id = $1`, locA)
	exec(`UPDATE evses SET coordinates = '{"latitude": "-52.1234567", "longitude": "4.1234567"}' WHERE uid = $1`, oldUID(longStation, 2))
	exec(`UPDATE locations SET opening_times = '{"twentyfourseven": false, "regular_hours": [
		{"weekday": 1, "period_begin": "08:00", "period_end": "24:00"},
		{"weekday": 2, "period_begin": "18:00", "period_end": "08:00"},
		{"weekday": 3, "period_begin": "09:00", "period_end": "17:00"}]}' WHERE id = $1`, locB)
	exec(`UPDATE locations SET opening_times = '{"twentyfourseven": false, "regular_hours": [
		{"weekday": 1, "period_begin": "10:00", "period_end": "10:00"}]}' WHERE id = $1`, locC)
	e.station("DUP-1", locB, "Production", 1) // evse_id NL*EVR*EDUP1*1
	e.station("DUP-2", locC, "Production", 1)
	exec(`UPDATE evses SET evse_id = 'nl*evr*edup1*1' WHERE charge_station_id = 'DUP-2'`)
	var long int
	e.db.Get(&long, `SELECT count(*) FROM ocpi_evses WHERE length(evse_uid) > 36`)
	if long != 4 {
		t.Fatalf("%d published EVSEs with a long uid before 0021, want 4", long)
	}
	if err := oasCheck(t, oasLocationList, e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil).must(t, 200).Body); err == nil {
		t.Fatal("the pull before 0021 matches the schema: the test data breaks nothing")
	}
	exec(`DELETE FROM ocpi_deliveries`)

	if err := migrations.Up(ctx, e.db.DB); err != nil {
		t.Fatal(err)
	}

	var uids []string
	e.db.Select(&uids, `SELECT uid FROM evses WHERE charge_station_id = $1 ORDER BY evse_sequence_number`, longStation)
	if want := []string{evse.GeneratedUID(longStation, 1), evse.GeneratedUID(longStation, 2)}; !slices.Equal(uids, want) {
		t.Errorf("uids after 0021 = %q, want the generated ones %q", uids, want)
	}
	var copies []string
	e.db.Select(&copies, `SELECT evse_uid || ' ' || (doc->>'uid') || ' ' || live FROM ocpi_evses ORDER BY evse_uid`)
	for _, c := range copies {
		parts := strings.Fields(c)
		if len(parts[0]) > 36 || parts[0] != parts[1] {
			t.Errorf("published EVSE after 0021: %q; want a uid of at most 36 characters, the same in its document", c)
		}
	}
	for n := 1; n <= 2; n++ {
		if uid := evse.GeneratedUID(longStation, n); !slices.Contains(copies, uid+" "+uid+" true") {
			t.Errorf("published EVSEs after 0021: %q; want %s live", copies, uid)
		}
	}
	var pushes []string
	e.db.Select(&pushes, `SELECT kind || ' ' || location_id FROM ocpi_deliveries ORDER BY id`)
	if !slices.Contains(pushes, "location "+locA) {
		t.Errorf("pushes queued by 0021: %q; want a PUT of location %s with the new uids", pushes, locA)
	}

	var hours map[string]json.RawMessage
	e.admin("GET", "/api/v1/locations/"+locB, nil).must(t, 200).data(t, &hours)
	if got := string(hours["opening_times"]); !strings.Contains(got, `"period_end":"23:59"`) || strings.Contains(got, `"18:00"`) || !strings.Contains(got, `"17:00"`) {
		t.Errorf("opening times after 0021: %s; want 24:00 read 23:59, the period over midnight gone, the rest kept", got)
	}
	e.admin("GET", "/api/v1/locations/"+locC, nil).must(t, 200).data(t, &hours)
	if got := string(hours["opening_times"]); got != "null" {
		t.Errorf("opening times without a valid period after 0021: %s; want null", got)
	}
	var coords map[string]any
	e.admin("GET", "/api/v1/locations/"+locA, nil).must(t, 200).data(t, &coords)
	if c := coords["coordinates"].(map[string]any); c["latitude"] != "-52.123457" || c["longitude"] != "-123.123457" {
		t.Errorf("coordinates after 0021: %v; want rounded to 6 decimals", c)
	}
	var evseIDs []string
	e.db.Select(&evseIDs, `SELECT charge_station_id || ' ' || coalesce(evse_id, 'null') FROM evses WHERE charge_station_id LIKE 'DUP-%' ORDER BY 1`)
	if want := []string{"DUP-1 NL*EVR*EDUP1*1", "DUP-2 null"}; !slices.Equal(evseIDs, want) {
		t.Errorf("evse_ids after 0021: %q, want %q (the station created first keeps it)", evseIDs, want)
	}

	// Everything published now passes the official schemas, and the guards hold.
	mustMatchOAS(t, oasLocationList, e.ocpi("GET", "/ocpi/2.2.1/locations", tokenC, nil).must(t, 200).Body)
	for _, id := range []string{locA, locB, locC} {
		mustMatchOAS(t, oasLocationGet, e.ocpi("GET", "/ocpi/2.2.1/locations/"+id, tokenC, nil).must(t, 200).Body)
	}
	if _, err := e.db.Exec(`UPDATE evses SET uid = repeat('x', 37) WHERE charge_station_id = 'DUP-1'`); err == nil {
		t.Error("a 37-character uid was stored after 0021")
	}
}
