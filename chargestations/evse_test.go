package chargestations_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestEVSEEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-EVSE", loc, "dual-ac")).Must(t, http.StatusCreated)
	station := e.getStation(e.Key, "CS-EVSE")
	path := "/api/v1/chargestations/CS-EVSE/evses/CS-EVSE-2"

	r := e.Do(http.MethodGet, path, nil).Must(t, http.StatusOK)
	if r.Header.Get("ETag") != `"`+station.ETag+`"` {
		t.Errorf("EVSE ETag header = %s, want the station's %s", r.Header.Get("ETag"), station.ETag)
	}
	var ev map[string]any
	if err := json.Unmarshal(r.Data, &ev); err != nil {
		t.Fatal(err)
	}

	// PUT of the GET body with changes: directions and parking restrictions live here.
	ev["directions"] = []map[string]string{{"language": "en", "text": "Level -1, bay 12"}}
	ev["parking_restrictions"] = []string{"EV_ONLY"}
	ev["status"] = "AVAILABLE" // read-only: ignored
	r = e.Do(http.MethodPut, path, ev).Must(t, http.StatusOK)
	var put map[string]any
	json.Unmarshal(r.Data, &put)
	if put["status"] != "UNKNOWN" || put["parking_restrictions"].([]any)[0] != "EV_ONLY" {
		t.Errorf("after EVSE PUT: status %v, parking_restrictions %v", put["status"], put["parking_restrictions"])
	}
	after := e.getStation(e.Key, "CS-EVSE")
	if after.ETag == station.ETag {
		t.Error("an EVSE PUT through the API did not change the station's etag")
	}
	if after.EVSEs[0].LastUpdated != station.EVSEs[0].LastUpdated {
		t.Error("an EVSE PUT moved the last_updated of another EVSE")
	}

	// PUT replaces: without parking_restrictions they are cleared. PATCH merges.
	delete(ev, "parking_restrictions")
	r = e.Do(http.MethodPut, path, ev).Must(t, http.StatusOK)
	json.Unmarshal(r.Data, &put)
	if len(put["parking_restrictions"].([]any)) != 0 || len(put["directions"].([]any)) != 1 {
		t.Errorf("after PUT without parking_restrictions: %v, directions %v", put["parking_restrictions"], put["directions"])
	}
	r = e.Do(http.MethodPatch, path, map[string]any{"physical_reference": "B-12", "evse_id": "NL*EVR*E12345*2"}).Must(t, http.StatusOK)
	json.Unmarshal(r.Data, &put)
	if put["physical_reference"] != "B-12" || put["evse_id"] != "NL*EVR*E12345*2" || len(put["directions"].([]any)) != 1 {
		t.Errorf("after PATCH: %v", put)
	}

	// Connector rules on the EVSE endpoint name paths from the EVSE.
	bad := map[string]any{"connectors": []map[string]any{
		{"id": "1", "internal": "CCS2_Cable", "power_type": "DC", "max_voltage": 920, "max_amperage": 200},
		{"id": "2", "standard": "IEC_62196_T2_COMBO", "format": "SOCKET", "power_type": "AC_1_PHASE", "max_voltage": 0, "max_amperage": 10},
		{"id": "2", "standard": "Type2", "format": "SOCKET", "power_type": "AC_1_PHASE", "max_voltage": 230, "max_amperage": 10},
	}, "uid": "other", "evse_sequence_number": 1, "capabilities": []string{"rfid_reader"}}
	assertFields(t, e.Do(http.MethodPut, path, bad).Must(t, http.StatusUnprocessableEntity), []string{
		"connectors[1].power_type", "connectors[1].max_voltage", "connectors[2].standard", "connectors[2].id",
		"uid", "evse_sequence_number", "capabilities[0]"})
	assertFields(t, e.Do(http.MethodPatch, path, map[string]any{"connectors": []any{}}).Must(t, 422), []string{"connectors"})
	assertFields(t, e.Do(http.MethodPatch, path, map[string]any{"colour": "red"}).Must(t, 422), []string{"colour"})

	// A CCS2_Cable in a PATCH comes back with standard and format.
	r = e.Do(http.MethodPatch, path, map[string]any{"connectors": []any{bad["connectors"].([]map[string]any)[0]}}).Must(t, http.StatusOK)
	json.Unmarshal(r.Data, &put)
	c := put["connectors"].([]any)[0].(map[string]any)
	if c["standard"] != "IEC_62196_T2_COMBO" || c["format"] != "CABLE" || c["internal"] != "CCS2_Cable" {
		t.Errorf("connector = %v", c)
	}

	// If-Match is optional and checked when given; unknown EVSEs and stations are 404.
	e.Do(http.MethodPatch, path, map[string]any{"floor_level": "1"}, `If-Match: "`+station.ETag+`"`).Must(t, http.StatusPreconditionFailed)
	cur := e.getStation(e.Key, "CS-EVSE")
	e.Do(http.MethodPatch, path, map[string]any{"floor_level": "1"}, `If-Match: "`+cur.ETag+`"`).Must(t, http.StatusOK)
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-EVSE/evses/CS-EVSE-9", nil).Must(t, http.StatusNotFound)
	e.Do(http.MethodPatch, "/api/v1/chargestations/NOPE/evses/CS-EVSE-1", map[string]any{"floor_level": "1"}).Must(t, http.StatusNotFound)
	// An EVSE of one station is not reachable under another.
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-OTHER", loc, dcEVSE())).Must(t, http.StatusCreated)
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-OTHER/evses/CS-EVSE-1", nil).Must(t, http.StatusNotFound)

	// A station's EVSE uid cannot take one of another station.
	body := manual("CS-THIEF", loc, map[string]any{"uid": "CS-EVSE-1", "connectors": dcEVSE()["connectors"]})
	r = e.Do(http.MethodPost, "/api/v1/chargestations", body).Must(t, http.StatusConflict)
	if !strings.Contains(r.StatusMessage, "CS-EVSE-1") {
		t.Errorf("409 message = %q, want it to name the uid", r.StatusMessage)
	}
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-THIEF", nil).Must(t, http.StatusNotFound)
}

func TestLocationEVSEsAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	empty := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-A", loc, "dual-ac")).Must(t, http.StatusCreated)
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-B", loc, dcEVSE())).Must(t, http.StatusCreated)

	r := e.Do(http.MethodGet, "/api/v1/locations/"+loc, nil).Must(t, http.StatusOK)
	var l struct {
		EVSEs []struct {
			UID             string `json:"uid"`
			ChargeStationID string `json:"charge_station_id"`
		} `json:"evses"`
	}
	r.Decode(t, &l)
	var uids []string
	for _, ev := range l.EVSEs {
		uids = append(uids, ev.UID)
	}
	if strings.Join(uids, ",") != "CS-A-1,CS-A-2,CS-B-1" {
		t.Errorf("location EVSEs = %v, want CS-A-1, CS-A-2, CS-B-1", uids)
	}
	r = e.Do(http.MethodGet, "/api/v1/locations/"+loc+"?exclude_evses=true", nil).Must(t, http.StatusOK)
	if strings.Contains(string(r.Data), `"evses"`) {
		t.Errorf("exclude_evses=true still shows EVSEs: %s", r.Data)
	}

	r = e.Do(http.MethodDelete, "/api/v1/locations/"+loc, nil).Must(t, http.StatusConflict)
	if !strings.Contains(r.StatusMessage, "CS-A") || !strings.Contains(r.StatusMessage, "CS-B") {
		t.Errorf("409 message = %q, want it to name CS-A and CS-B", r.StatusMessage)
	}
	e.Do(http.MethodDelete, "/api/v1/locations/"+empty, nil).Must(t, http.StatusNoContent)

	// Once its stations are deleted (or moved), the location can go.
	e.Do(http.MethodDelete, "/api/v1/chargestations/CS-A", nil).Must(t, http.StatusNoContent)
	e.Do(http.MethodDelete, "/api/v1/chargestations/CS-A", nil).Must(t, http.StatusNotFound)
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-A/evses/CS-A-1", nil).Must(t, http.StatusNotFound)
	other := e.mustLocation(e.Key)
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-B", map[string]any{"location_id": other}).Must(t, http.StatusOK)
	e.Do(http.MethodDelete, "/api/v1/locations/"+loc, nil).Must(t, http.StatusNoContent)
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM evses WHERE charge_station_id = 'CS-A'`); err != nil || n != 0 {
		t.Errorf("EVSEs of a deleted station left: %d (%v)", n, err)
	}
}
