package chargestations_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/evroam/evroam/schema"
)

// TestHasFault: the faults view finds every station with an EVSE OUTOFORDER, whatever the
// aggregate says; the flag follows every EVSE write (status reports, a faulted EVSE removed
// through the API), and a key of another network finds none of them.
func TestHasFault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, aKey := e.Network(uuidNil, "AAA")
	_, bKey := e.Network(uuidNil, "BBB")
	loc := e.mustLocation(aKey)
	e.mustTemplate(aKey, "dual-ac")
	for _, id := range []string{"CS-FAULT", "CS-OK"} {
		e.DoKey(aKey, http.MethodPost, "/api/v1/chargestations", fromTemplate(id, loc, "dual-ac")).Must(t, http.StatusCreated)
	}
	now := nowUTC()
	if err := e.setStatus("CS-FAULT", 1, "Faulted", schema.StatusOutOfOrder, now); err != nil {
		t.Fatal(err)
	}
	if err := e.setStatus("CS-FAULT", 2, "Charging", schema.StatusCharging, now); err != nil {
		t.Fatal(err)
	}
	if err := e.setStatus("CS-OK", 1, "Available", schema.StatusAvailable, now); err != nil {
		t.Fatal(err)
	}
	ids := func(key, query string) []string {
		t.Helper()
		var list []struct {
			ID       string `json:"charge_station_id"`
			Status   string `json:"status"`
			HasFault bool   `json:"has_fault"`
		}
		e.DoKey(key, http.MethodGet, "/api/v1/chargestations"+query, nil).Must(t, http.StatusOK).Decode(t, &list)
		var out []string
		for _, s := range list {
			out = append(out, s.ID+" "+s.Status)
			if query == "?has_fault=true" && !s.HasFault {
				t.Errorf("%s is listed by has_fault=true but its has_fault is false", s.ID)
			}
		}
		return out
	}
	// The aggregate shows the charging EVSE; the flag shows the fault.
	if got := ids(aKey, "?has_fault=true"); !slices.Equal(got, []string{"CS-FAULT CHARGING"}) {
		t.Errorf("has_fault=true lists %v", got)
	}
	if got := ids(aKey, "?status=OUTOFORDER"); len(got) != 0 {
		t.Errorf("status=OUTOFORDER lists %v: the aggregate is not the faults view", got)
	}
	if got := ids(bKey, "?has_fault=true"); len(got) != 0 {
		t.Errorf("another network's key finds %v", got)
	}
	// The fault clears when the EVSE reports again, and when the faulted EVSE is removed.
	if err := e.setStatus("CS-FAULT", 1, "Available", schema.StatusAvailable, now); err != nil {
		t.Fatal(err)
	}
	if got := ids(aKey, "?has_fault=true"); len(got) != 0 {
		t.Errorf("after the EVSE recovered: %v", got)
	}
	if err := e.setStatus("CS-OK", 2, "Faulted", schema.StatusOutOfOrder, now); err != nil {
		t.Fatal(err)
	}
	if got := ids(aKey, "?has_fault=true"); !slices.Equal(got, []string{"CS-OK AVAILABLE"}) {
		t.Errorf("has_fault=true lists %v", got)
	}
	var body map[string]json.RawMessage
	e.DoKey(aKey, http.MethodGet, "/api/v1/chargestations/CS-OK", nil).Must(t, http.StatusOK).Decode(t, &body)
	var evses []map[string]any
	json.Unmarshal(body["evses"], &evses)
	body["evses"], _ = json.Marshal(evses[:1]) // drop the faulted EVSE 2
	e.DoKey(aKey, http.MethodPut, "/api/v1/chargestations/CS-OK", body).Must(t, http.StatusOK)
	if got := ids(aKey, "?has_fault=true"); len(got) != 0 {
		t.Errorf("after the faulted EVSE was removed: %v", got)
	}
}
