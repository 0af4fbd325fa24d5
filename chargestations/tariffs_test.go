package chargestations_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestTariffReferences: a station's default tariff and its connectors' tariff_ids must be
// tariffs of the station's network; an unknown one is a 422 naming the field, together with
// the body's other bad fields, and nothing is stored. A tariff still referred to is not
// deleted (409 naming the references).
func TestTariffReferences(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, aKey := e.Network(uuidNil, "AAA")
	loc := e.mustLocation(aKey) // and the tariff <loc> in A
	e.mustTariff(aKey, "A-DC")
	e.mustTariff(e.Key, "ROOT-DC") // the root network's: visible to the root key, not A's

	withTariffs := func(def string, connTariffs ...[]string) map[string]any {
		b := manual("CS-T", loc, dcEVSE(), dcEVSE())
		b["default_charge_station_tariff_id"] = def
		evses := b["evses"].([]map[string]any)
		for i, ids := range connTariffs {
			ev := map[string]any{"connectors": []map[string]any{
				{"id": "1", "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC", "max_voltage": 920, "max_amperage": 400},
				{"id": "2", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "max_voltage": 500, "max_amperage": 125, "tariff_ids": ids},
			}}
			evses[i] = ev
		}
		return b
	}

	// Unknown ids, and a tariff of another network (the root key sees it, but the station is
	// in A): each named, with the body's other bad field.
	body := withTariffs("NOPE", []string{"A-DC"}, []string{"ROOT-DC", "A-DC", "MISSING"})
	body["charger_type"] = "Private"
	r := e.Do(http.MethodPost, "/api/v1/chargestations", body).Must(t, http.StatusUnprocessableEntity)
	assertFields(t, r, []string{"charger_type", "default_charge_station_tariff_id", "evses[1].connectors[1].tariff_ids[0]", "evses[1].connectors[1].tariff_ids[2]"})
	if !strings.Contains(string(r.Body), `no tariff \"NOPE\" in the station's network`) {
		t.Errorf("message does not name the tariff: %s", r.Body)
	}
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-T", nil).Must(t, http.StatusNotFound)

	// With tariffs of A it is stored; the tariffs are published as written.
	r = e.DoKey(aKey, http.MethodPost, "/api/v1/chargestations", withTariffs(loc, []string{"A-DC"})).Must(t, http.StatusCreated)
	cs := decodeStation(t, r)
	if !strings.Contains(string(cs.Raw), `"tariff_ids":["A-DC"]`) {
		t.Errorf("connector tariff_ids not kept: %s", cs.Raw)
	}

	// PATCH and PUT check them too; so does the EVSE endpoint.
	assertFields(t, e.DoKey(aKey, http.MethodPatch, "/api/v1/chargestations/CS-T", map[string]any{"default_charge_station_tariff_id": "ROOT-DC"}).Must(t, 422),
		[]string{"default_charge_station_tariff_id"})
	put := withTariffs(loc, []string{"GONE"})
	put["etag"] = cs.ETag
	assertFields(t, e.DoKey(aKey, http.MethodPut, "/api/v1/chargestations/CS-T", put).Must(t, 422), []string{"evses[0].connectors[1].tariff_ids[0]"})
	evsePath := "/api/v1/chargestations/CS-T/evses/CS-T-1"
	assertFields(t, e.DoKey(aKey, http.MethodPatch, evsePath, map[string]any{"connectors": []map[string]any{
		{"id": "1", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "max_voltage": 500, "max_amperage": 125, "tariff_ids": []string{"A-DC", "X"}},
		{"id": "2", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "max_voltage": 0, "max_amperage": 125},
	}}).Must(t, 422), []string{"connectors[0].tariff_ids[1]", "connectors[1].max_voltage"})
	e.DoKey(aKey, http.MethodPatch, evsePath, map[string]any{"connectors": []map[string]any{
		{"id": "1", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "max_voltage": 500, "max_amperage": 125, "tariff_ids": []string{"A-DC"}},
	}}).Must(t, http.StatusOK)
	if after := e.getStation(aKey, "CS-T"); after.ETag == cs.ETag {
		t.Errorf("the EVSE change did not change the station's etag")
	}

	// A tariff in use is not deleted: 409 naming the station and the connectors.
	r = e.DoKey(aKey, http.MethodDelete, "/api/v1/tariffs/A-DC", nil).Must(t, http.StatusConflict)
	for _, want := range []string{"charge station CS-T EVSE CS-T-1 connector 1"} {
		if !strings.Contains(r.StatusMessage, want) {
			t.Errorf("409 message %q does not name %q", r.StatusMessage, want)
		}
	}
	r = e.DoKey(aKey, http.MethodDelete, "/api/v1/tariffs/"+loc, nil).Must(t, http.StatusConflict)
	if !strings.Contains(r.StatusMessage, "charge station CS-T (default_charge_station_tariff_id)") {
		t.Errorf("409 message %q does not name the station's default tariff", r.StatusMessage)
	}
	// Once nothing refers to it, it goes.
	e.DoKey(aKey, http.MethodDelete, "/api/v1/chargestations/CS-T", nil).Must(t, http.StatusNoContent)
	e.DoKey(aKey, http.MethodDelete, "/api/v1/tariffs/A-DC", nil).Must(t, http.StatusNoContent)
	e.DoKey(aKey, http.MethodGet, "/api/v1/tariffs/A-DC", nil).Must(t, http.StatusNotFound)
	_ = a
}

// TestTariffDeleteRacesReference: a station write that names a tariff and the tariff's
// delete, sent at the same time, never both succeed (which would leave a station naming a
// tariff that is gone), and never both fail.
func TestTariffDeleteRacesReference(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	for i := range 20 {
		id := fmt.Sprintf("RACE-%02d", i)
		e.mustTariff(e.Key, id)
		body := manual("CS-"+id, loc, dcEVSE())
		body["default_charge_station_tariff_id"] = id
		var created, deleted int
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			created = e.Do(http.MethodPost, "/api/v1/chargestations", body).Status
		}()
		go func() {
			defer wg.Done()
			deleted = e.Do(http.MethodDelete, "/api/v1/tariffs/"+id, nil).Status
		}()
		wg.Wait()
		switch {
		case created == http.StatusCreated && deleted == http.StatusConflict:
			e.Do(http.MethodGet, "/api/v1/tariffs/"+id, nil).Must(t, http.StatusOK)
		case created == http.StatusUnprocessableEntity && deleted == http.StatusNoContent:
			e.Do(http.MethodGet, "/api/v1/chargestations/CS-"+id, nil).Must(t, http.StatusNotFound)
		default:
			t.Fatalf("round %d: station POST %d, tariff DELETE %d; want exactly one to succeed", i, created, deleted)
		}
	}
}
