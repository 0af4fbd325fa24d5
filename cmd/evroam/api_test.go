package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/evroam/evroam/ocpi"
)

// TestAPIWiring builds the real route table (a route conflict would panic here) and walks a
// station through it: location, template, station from the template, its EVSE, the location's
// EVSEs and the 409 on deleting the location.
func TestAPIWiring(t *testing.T) {
	t.Parallel()
	srv, key, _, _ := routeTable(t, ocpi.Config{})
	do := func(method, path, body string, want int) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return string(b)
	}
	do("POST", "/api/v1/locations", `{"id":"LOC-1","name":"Depot","address":"Kade 1","city":"Utrecht","country":"NLD",
		"coordinates":{"latitude":"52.09074","longitude":"5.12142"},"time_zone":"Europe/Amsterdam"}`, 201)
	do("PUT", "/api/v1/templates/ac", `{"name":"AC","evse_templates":[{"evse_sequence_number":1,
		"connector_templates":[{"id":"1","internal":"Mennekes_Socket","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16}]}]}`, 201)
	do("PUT", "/api/v1/tariffs/T1", `{"currency": "EUR", "elements": [{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}]}`, 201)
	do("POST", "/api/v1/chargestations", `{"charge_station_id":"CS-1","location_id":"LOC-1","deploy_state":"Stock",
		"default_charge_station_tariff_id":"T1","charger_type":"Home","charge_station_template_id":"ac"}`, 201)
	if body := do("GET", "/api/v1/chargestations/CS-1/evses/CS-1-1", "", 200); !strings.Contains(body, `"IEC_62196_T2"`) {
		t.Errorf("EVSE = %s", body)
	}
	if body := do("GET", "/api/v1/locations/LOC-1", "", 200); !strings.Contains(body, `"uid":"CS-1-1"`) {
		t.Errorf("location without its EVSEs: %s", body)
	}
	if body := do("DELETE", "/api/v1/locations/LOC-1", "", 409); !strings.Contains(body, "CS-1") {
		t.Errorf("409 does not name the station: %s", body)
	}
}
