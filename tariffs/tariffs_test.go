package tariffs_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/tariffs"
	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newEnv(t *testing.T) *apitest.Env {
	return apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		tariffs.NewHandler(tariffs.NewService(db, tariffs.NewStore(db), nil)).Routes(v1)
	})
}

// fullTariff uses every Tariff field and every restriction.
func fullTariff() map[string]any {
	return map[string]any{
		"currency":        "EUR",
		"type":            "REGULAR",
		"tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.25/kWh, 1.00/h after 2 h"}, map[string]any{"language": "nl", "text": "0,25/kWh"}},
		"tariff_alt_url":  "https://cpo.example.com/tariffs/ac",
		"min_price":       map[string]any{"excl_vat": 0.5, "incl_vat": 0.61},
		"max_price":       map[string]any{"excl_vat": 50, "incl_vat": 60.5},
		"elements": []any{
			map[string]any{"price_components": []any{
				map[string]any{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1},
				map[string]any{"type": "FLAT", "price": 0.5, "step_size": 1},
			}},
			map[string]any{
				"price_components": []any{map[string]any{"type": "PARKING_TIME", "price": 1.0, "vat": 21.0, "step_size": 300}},
				"restrictions": map[string]any{
					"start_time": "08:00", "end_time": "00:00", "start_date": "2026-01-01", "end_date": "2027-01-01",
					"min_kwh": 0, "max_kwh": 50.5, "min_current": 6, "max_current": 32, "min_power": 1.5, "max_power": 22,
					"min_duration": 7200, "max_duration": 86400, "day_of_week": []string{"MONDAY", "FRIDAY"},
				},
			},
			map[string]any{
				"price_components": []any{map[string]any{"type": "TIME", "price": 2, "step_size": 60}},
				"restrictions":     map[string]any{"reservation": "RESERVATION"},
			},
		},
		"start_date_time": "2026-01-01T00:00:00Z",
		"end_date_time":   "2027-01-01T00:00:00Z",
		"energy_mix": map[string]any{
			"is_green_energy":     false,
			"energy_sources":      []any{map[string]any{"source": "WIND", "percentage": 60}, map[string]any{"source": "GAS", "percentage": 40}},
			"environ_impact":      []any{map[string]any{"category": "CARBON_DIOXIDE", "amount": 120.5}},
			"supplier_name":       "Green Power BV",
			"energy_product_name": "Mixed",
		},
	}
}

// flatTariff is the smallest tariff there is: free of charge, as OCPI defines it.
func flatTariff() map[string]any {
	return map[string]any{
		"currency": "EUR",
		"elements": []any{map[string]any{"price_components": []any{map[string]any{"type": "FLAT", "price": 0, "step_size": 1}}}},
	}
}

func decodeMap(t *testing.T, r *apitest.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		t.Fatalf("decode: %v: %s", err, r.Body)
	}
	return m
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	created := decodeMap(t, e.Do("POST", "/api/v1/tariffs", fullTariff()).Must(t, http.StatusCreated))
	id, _ := created["id"].(string)
	etag, _ := created["etag"].(string)
	if len(id) != 36 || etag == "" || created["network_id"] != e.Root.ID.String() {
		t.Fatalf("created tariff has id %q, etag %q, network %v", id, etag, created["network_id"])
	}
	// Every field comes back as written.
	want := fullTariff()
	for k, v := range want {
		wj, _ := json.Marshal(v)
		var wv any
		_ = json.Unmarshal(wj, &wv)
		if diff := cmp.Diff(wv, created[k]); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", k, diff)
		}
	}

	path := "/api/v1/tariffs/" + id
	r := e.Do("GET", path, nil).Must(t, http.StatusOK)
	if diff := cmp.Diff(created, decodeMap(t, r)); diff != "" {
		t.Errorf("GET mismatch (-want +got):\n%s", diff)
	}
	if r.Header.Get("ETag") != `"`+etag+`"` {
		t.Errorf("ETag header %q, want %q", r.Header.Get("ETag"), etag)
	}

	// PUT replaces, with the etag: without it 428, with a stale one 412.
	e.Do("PUT", path, flatTariff()).Must(t, http.StatusPreconditionRequired)
	stale := flatTariff()
	stale["etag"] = "11111111-1111-1111-1111-111111111111"
	e.Do("PUT", path, stale).Must(t, http.StatusPreconditionFailed)
	e.Do("PUT", path, flatTariff(), "If-Match: \"11111111-1111-1111-1111-111111111111\"").Must(t, http.StatusPreconditionFailed)
	replaced := decodeMap(t, e.Do("PUT", path, flatTariff(), `If-Match: "`+etag+`"`).Must(t, http.StatusOK))
	if replaced["etag"] == etag || replaced["type"] != nil || replaced["energy_mix"] != nil || replaced["min_price"] != nil ||
		len(replaced["elements"].([]any)) != 1 || replaced["created"] != created["created"] {
		t.Errorf("PUT did not replace the tariff (optional fields cleared, new etag, same created): %v", replaced)
	}

	// A GET body can be edited and PUT back (read-only fields ignored, etag in the body).
	back := decodeMap(t, e.Do("GET", path, nil).Must(t, http.StatusOK))
	back["currency"] = "CHF"
	if got := decodeMap(t, e.Do("PUT", path, back).Must(t, http.StatusOK)); got["currency"] != "CHF" {
		t.Errorf("currency after PUT of the GET body = %v, want CHF", got["currency"])
	}

	// PATCH changes only what it names; null clears; no etag needed, a stale one is 412.
	e.Do("PATCH", path, map[string]any{"type": "AD_HOC_PAYMENT", "etag": "11111111-1111-1111-1111-111111111111"}).Must(t, http.StatusPreconditionFailed)
	patched := decodeMap(t, e.Do("PATCH", path, map[string]any{"type": "AD_HOC_PAYMENT", "tariff_alt_url": "https://x.example/t"}).Must(t, http.StatusOK))
	if patched["type"] != "AD_HOC_PAYMENT" || patched["currency"] != "CHF" || patched["tariff_alt_url"] != "https://x.example/t" {
		t.Errorf("PATCH result %v", patched)
	}
	patched = decodeMap(t, e.Do("PATCH", path, map[string]any{"tariff_alt_url": nil}).Must(t, http.StatusOK))
	if patched["tariff_alt_url"] != nil || patched["type"] != "AD_HOC_PAYMENT" {
		t.Errorf("PATCH with null: %v", patched)
	}
	e.Do("PATCH", path, map[string]any{"id": "other"}).Must(t, http.StatusUnprocessableEntity)
	e.Do("PATCH", "/api/v1/tariffs/nope", map[string]any{"type": "REGULAR"}).Must(t, http.StatusNotFound)

	// PUT of a new id creates it; POST with a given id too, and a taken id is a 409.
	fresh := decodeMap(t, e.Do("PUT", "/api/v1/tariffs/AC-NIGHT", flatTariff()).Must(t, http.StatusCreated))
	if fresh["id"] != "AC-NIGHT" {
		t.Errorf("id = %v, want AC-NIGHT", fresh["id"])
	}
	given := flatTariff()
	given["id"] = "DC-FAST"
	e.Do("POST", "/api/v1/tariffs", given).Must(t, http.StatusCreated)
	e.Do("POST", "/api/v1/tariffs", given).Must(t, http.StatusConflict)
	wrong := flatTariff()
	wrong["id"] = "OTHER"
	e.Do("PUT", "/api/v1/tariffs/AC-NIGHT", wrong, `If-Match: "`+fresh["etag"].(string)+`"`).Must(t, http.StatusUnprocessableEntity)
	e.Do("PUT", "/api/v1/tariffs/a%20b", flatTariff()).Must(t, http.StatusUnprocessableEntity)
	e.Do("PUT", "/api/v1/tariffs/0123456789012345678901234567890123456", flatTariff()).Must(t, http.StatusUnprocessableEntity) // 37 characters

	var list []map[string]any
	r = e.Do("GET", "/api/v1/tariffs?limit=2", nil).Must(t, http.StatusOK)
	r.Decode(t, &list)
	if len(list) != 2 || r.Header.Get("X-Total-Count") != "3" || r.Header.Get("Link") == "" {
		t.Errorf("list: %d tariffs, X-Total-Count %q, Link %q; want 2 of 3 and a next link", len(list), r.Header.Get("X-Total-Count"), r.Header.Get("Link"))
	}
	// date_from: only what changed since the last change of the first.
	r = e.Do("GET", "/api/v1/tariffs?date_from="+fresh["last_updated"].(string), nil).Must(t, http.StatusOK)
	r.Decode(t, &list)
	if len(list) != 2 || list[0]["id"] != "AC-NIGHT" || list[1]["id"] != "DC-FAST" {
		t.Errorf("date_from list = %v, want AC-NIGHT and DC-FAST", list)
	}

	e.Do("DELETE", path, nil).Must(t, http.StatusNoContent)
	e.Do("GET", path, nil).Must(t, http.StatusNotFound)
	e.Do("DELETE", path, nil).Must(t, http.StatusNotFound)
	if r := e.Do("GET", "/api/v1/tariffs", nil).Must(t, http.StatusOK); r.Header.Get("X-Total-Count") != "2" {
		t.Errorf("X-Total-Count after delete = %q, want 2", r.Header.Get("X-Total-Count"))
	}
}

// TestValidation sends a tariff with a mistake in every field and expects one 422 that names
// each of them; nothing is stored.
func TestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := map[string]any{
		"id":              "has space",
		"currency":        "eur",
		"type":            "CHEAP",
		"tariff_alt_text": []any{map[string]any{"language": "eng", "text": "x"}},
		"tariff_alt_url":  "not a url",
		"min_price":       map[string]any{"excl_vat": 10},
		"max_price":       map[string]any{"excl_vat": 5, "incl_vat": -1},
		"elements": []any{
			map[string]any{"price_components": []any{
				map[string]any{"type": "KWH", "price": -0.25, "vat": 121, "step_size": 1},
				map[string]any{"type": "FLAT", "step_size": -1},
			}},
			map[string]any{"price_components": []any{}},
			map[string]any{
				"price_components": []any{map[string]any{"type": "ENERGY", "price": 1, "step_size": 1}},
				"restrictions": map[string]any{
					"start_time": "24:00", "end_time": "8:00", "start_date": "2026-02-30", "end_date": "2026-01-01T00:00:00Z",
					"min_kwh": 50, "max_kwh": 10, "min_power": -1, "min_duration": 100, "max_duration": 100,
					"day_of_week": []string{"MONDAY", "MONDAY", "monday"}, "reservation": "BOOKED",
				},
			},
			map[string]any{
				"price_components": []any{map[string]any{"type": "ENERGY", "price": 1, "step_size": 1}},
				"restrictions":     map[string]any{"reservation": "RESERVATION", "start_date": "2026-06-01", "end_date": "2026-05-01"},
			},
		},
		"start_date_time": "2026-06-01T00:00:00Z",
		"end_date_time":   "2026-01-01T00:00:00Z",
		"energy_mix": map[string]any{
			"energy_sources": []any{map[string]any{"source": "WIND", "percentage": 80}, map[string]any{"source": "SUN", "percentage": 30}},
			"environ_impact": []any{map[string]any{"category": "CARBON_DIOXIDE"}},
		},
		"colour": "green",
	}
	r := e.Do("POST", "/api/v1/tariffs", body).Must(t, http.StatusUnprocessableEntity)
	want := []string{
		"colour",
		"currency",
		"elements[0].price_components[0].price",
		"elements[0].price_components[0].type",
		"elements[0].price_components[0].vat",
		"elements[0].price_components[1].step_size",
		"elements[0].price_components[1].price",
		"elements[1].price_components",
		"elements[2].price_components[0].type",
		"elements[2].restrictions.day_of_week",
		"elements[2].restrictions.end_date",
		"elements[2].restrictions.end_time",
		"elements[2].restrictions.max_duration",
		"elements[2].restrictions.max_kwh",
		"elements[2].restrictions.min_power",
		"elements[2].restrictions.reservation",
		"elements[2].restrictions.start_date",
		"elements[2].restrictions.start_time",
		"elements[3].price_components[0].type",
		"elements[3].restrictions.end_date",
		"end_date_time",
		"energy_mix.energy_sources",
		"energy_mix.energy_sources[1].source",
		"energy_mix.environ_impact[0].amount",
		"energy_mix.is_green_energy",
		"id",
		"max_price.excl_vat",
		"max_price.incl_vat",
		"tariff_alt_text[0].language",
		"tariff_alt_url",
		"type",
	}
	got := r.Fields()
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error fields mismatch (-want +got):\n%s\nbody: %s", diff, r.Body)
	}

	// The rules on consistent values, once the tags pass: each reported.
	body = flatTariff()
	body["min_price"] = map[string]any{"excl_vat": 10, "incl_vat": 12}
	body["max_price"] = map[string]any{"excl_vat": 5, "incl_vat": 6}
	body["elements"] = []any{map[string]any{
		"price_components": []any{map[string]any{"type": "ENERGY", "price": 1, "step_size": 1}},
		"restrictions":     map[string]any{"min_kwh": 50, "max_kwh": 10, "min_duration": 100, "max_duration": 100, "reservation": "RESERVATION_EXPIRES"},
	}}
	body["energy_mix"] = map[string]any{"is_green_energy": true, "energy_sources": []any{map[string]any{"source": "WIND", "percentage": 80}, map[string]any{"source": "SOLAR", "percentage": 30}}}
	r = e.Do("POST", "/api/v1/tariffs", body).Must(t, http.StatusUnprocessableEntity)
	want = []string{
		"elements[0].price_components[0].type",
		"elements[0].restrictions.max_duration",
		"elements[0].restrictions.max_kwh",
		"energy_mix.energy_sources",
		"max_price.excl_vat",
		"max_price.incl_vat",
	}
	got = r.Fields()
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule fields mismatch (-want +got):\n%s\nbody: %s", diff, r.Body)
	}

	// Required fields, and a body without elements.
	r = e.Do("POST", "/api/v1/tariffs", map[string]any{"elements": []any{}}).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"currency", "elements"}, r.Fields()); diff != "" {
		t.Errorf("required fields mismatch (-want +got):\n%s", diff)
	}
	e.Do("POST", "/api/v1/tariffs", `{"currency": "EUR", "elements": [}`).Must(t, http.StatusBadRequest)

	if r := e.Do("GET", "/api/v1/tariffs", nil).Must(t, http.StatusOK); r.Header.Get("X-Total-Count") != "0" {
		t.Errorf("a refused tariff was stored: X-Total-Count %q", r.Header.Get("X-Total-Count"))
	}
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netA, keyA := e.Network(e.Root.ID, "AAA")
	netB, keyB := e.Network(e.Root.ID, "BBB")
	a := flatTariff()
	a["id"] = "A-1"
	created := decodeMap(t, e.DoKey(keyA, "POST", "/api/v1/tariffs", a).Must(t, http.StatusCreated))
	if created["network_id"] != netA.ID.String() {
		t.Errorf("network_id = %v, want the key's network %s", created["network_id"], netA.ID)
	}
	path := "/api/v1/tariffs/A-1"
	e.DoKey(keyB, "GET", path, nil).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "PATCH", path, map[string]any{"currency": "USD"}).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "DELETE", path, nil).Must(t, http.StatusNotFound)
	// B's PUT tries to create the id, which is taken system-wide: 409, and A's tariff stays.
	b := flatTariff()
	b["etag"] = created["etag"]
	e.DoKey(keyB, "PUT", path, b).Must(t, http.StatusConflict)
	var list []map[string]any
	e.DoKey(keyB, "GET", "/api/v1/tariffs", nil).Must(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Errorf("B lists %d tariffs of A", len(list))
	}
	if got := decodeMap(t, e.DoKey(keyA, "GET", path, nil).Must(t, http.StatusOK)); got["currency"] != "EUR" {
		t.Errorf("A's tariff changed: %v", got)
	}

	// The root key sees A's tariff; it can create one in B, but B cannot name A's network.
	e.Do("GET", path, nil).Must(t, http.StatusOK)
	inB := flatTariff()
	inB["network_id"] = netB.ID.String()
	if got := decodeMap(t, e.Do("POST", "/api/v1/tariffs", inB).Must(t, http.StatusCreated)); got["network_id"] != netB.ID.String() {
		t.Errorf("network_id = %v, want B", got["network_id"])
	}
	inA := flatTariff()
	inA["network_id"] = netA.ID.String()
	if r := e.DoKey(keyB, "POST", "/api/v1/tariffs", inA).Must(t, http.StatusUnprocessableEntity); !slices.Equal(r.Fields(), []string{"network_id"}) {
		t.Errorf("fields = %v, want network_id", r.Fields())
	}
	// A tariff never changes network.
	if r := e.Do("PATCH", path, map[string]any{"network_id": netB.ID.String()}).Must(t, http.StatusUnprocessableEntity); !slices.Equal(r.Fields(), []string{"network_id"}) {
		t.Errorf("fields = %v, want network_id", r.Fields())
	}
}
