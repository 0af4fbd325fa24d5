package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkGetStation measures GET /api/v1/chargestations/{id} through the real engine and
// database, without the network: cpu-µs/op is this process's CPU per request (handler,
// authentication, driver, encoding), the part of a request evroam itself costs.
func BenchmarkGetStation(b *testing.B) {
	a, _ := startApp(b, "")
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("POST", "/api/v1/locations", `{"id": "LOC-B", "name": "Depot", "address": "Weg 1", "city": "Utrecht", "country": "NLD",
		"time_zone": "Europe/Amsterdam", "coordinates": {"latitude": "52.09074", "longitude": "5.12142"}}`); rec.Code != 201 {
		b.Fatal(rec.Body)
	}
	if rec := do("PUT", "/api/v1/tariffs/T", `{"currency": "EUR", "elements": [{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}]}`); rec.Code != 201 {
		b.Fatal(rec.Body)
	}
	conn := `{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}`
	if rec := do("POST", "/api/v1/chargestations", `{"charge_station_id": "CS-B", "location_id": "LOC-B", "deploy_state": "Production",
		"default_charge_station_tariff_id": "T", "charger_type": "Public", "evses": [{"connectors": [`+conn+`]}, {"connectors": [`+conn+`]}]}`); rec.Code != 201 {
		b.Fatal(rec.Body)
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ReportAllocs()
	b.ResetTimer()
	before := cpu()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := do(http.MethodGet, "/api/v1/chargestations/CS-B", ""); rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
	b.ReportMetric(float64((cpu()-before).Microseconds())/float64(b.N), "cpu-µs/op")
}
