package ocpi

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	oasTariffList = "modules/tariffs/sender-interface.yaml#/paths/~1tariffs/get/responses/200/content/application~1json/schema"
	oasTariff     = "modules/tariffs/schema.yaml#/components/schemas/Tariff"
)

// fullTariff is a tariff body that uses every Tariff field and every restriction.
func fullTariff(id string) map[string]any {
	return map[string]any{
		"id": id, "currency": "EUR", "type": "REGULAR",
		"tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.25/kWh"}},
		"tariff_alt_url":  "https://cpo.example.com/tariffs/ac",
		"min_price":       map[string]any{"excl_vat": 0.5, "incl_vat": 0.61},
		"max_price":       map[string]any{"excl_vat": 50},
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
				"restrictions":     map[string]any{"reservation": "RESERVATION_EXPIRES"},
			},
		},
		"start_date_time": "2026-01-01T00:00:00Z",
		"end_date_time":   "2027-01-01T00:00:00.5Z",
		"energy_mix": map[string]any{
			"is_green_energy": false,
			"energy_sources":  []any{map[string]any{"source": "WIND", "percentage": 60}, map[string]any{"source": "GAS", "percentage": 40}},
			"environ_impact":  []any{map[string]any{"category": "CARBON_DIOXIDE", "amount": 120.5}},
			"supplier_name":   "Green Power BV", "energy_product_name": "Mixed",
		},
	}
}

// freeTariff is the smallest tariff: free of charge, as OCPI defines it.
func freeTariff(id string) map[string]any {
	return map[string]any{"id": id, "currency": "EUR", "elements": []any{
		map[string]any{"price_components": []any{map[string]any{"type": "FLAT", "price": 0, "step_size": 1}}}}}
}

// pullTariffs walks the Tariffs pull by its Link headers; every page is checked against the
// official schema. between runs after each page.
func (e *env) pullTariffs(token, query string, between func(page int)) []Tariff {
	e.t.Helper()
	var all []Tariff
	link := e.srv.URL + "/ocpi/2.2.1/tariffs?" + query
	for page := 0; link != ""; page++ {
		res := send(e.t, "GET", link, tok(token), nil).must(e.t, 200)
		mustMatchOAS(e.t, oasTariffList, res.Body)
		checkEnvelope(e.t, res.Body, 1000)
		var ts []Tariff
		res.data(e.t, &ts)
		all = append(all, ts...)
		link = ""
		if h := res.Header.Get("Link"); h != "" {
			m := nextLink.FindStringSubmatch(h)
			if m == nil {
				e.t.Fatalf("Link = %q", h)
			}
			link = m[1]
		}
		if between != nil {
			between(page)
		}
	}
	return all
}

func tariffIDs(ts []Tariff) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.CountryCode + "/" + t.PartyID + "/" + t.ID
	}
	return out
}

// TestTariffsPull: the Tariffs sender lists the tariffs as OCPI 2.2.1 Tariff objects (every
// field, checked against the official schema), in a stable order while they change, with
// OCPI paging headers and date filters, and is listed in the version details.
func TestTariffsPull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	token := e.registerPartner(f, "eMSP")

	var details VersionDetails
	e.ocpi("GET", "/ocpi/2.2.1", token, nil).must(t, 200).data(t, &details)
	if u := endpointURL(details.Endpoints, "tariffs", RoleSender); u != e.srv.URL+"/ocpi/2.2.1/tariffs" {
		t.Errorf("tariffs SENDER endpoint = %q", u)
	}

	e.admin("POST", "/api/v1/tariffs", fullTariff("FULL")).must(t, 201)
	for i := 1; i <= 4; i++ {
		e.admin("POST", "/api/v1/tariffs", freeTariff("T-"+strconv.Itoa(i))).must(t, 201)
	}

	// The full tariff as published: every field, under the root network's party.
	res := e.ocpi("GET", "/ocpi/2.2.1/tariffs?limit=1", token, nil).must(t, 200)
	if res.Header.Get("X-Total-Count") != "5" || res.Header.Get("X-Limit") != strconv.Itoa(testPageLimit) || res.Header.Get("Link") == "" {
		t.Errorf("headers: X-Total-Count %q, X-Limit %q, Link %q", res.Header.Get("X-Total-Count"), res.Header.Get("X-Limit"), res.Header.Get("Link"))
	}
	var raw []map[string]any
	res.data(t, &raw)
	got, _ := json.Marshal(raw[0])
	mustMatchOAS(t, oasTariff, got)
	want := fullTariff("FULL")
	want["country_code"], want["party_id"] = "NL", "EVR"
	want["end_date_time"] = "2027-01-01T00:00:00.500Z"
	want["start_date_time"] = "2026-01-01T00:00:00.000Z"
	for k, v := range want {
		wj, _ := json.Marshal(v)
		gj, _ := json.Marshal(raw[0][k])
		var wv, gv any
		_ = json.Unmarshal(wj, &wv)
		_ = json.Unmarshal(gj, &gv)
		if string(mustJSON(wv)) != string(mustJSON(gv)) {
			t.Errorf("published %s = %s, want %s", k, gj, wj)
		}
	}
	if lu, _ := raw[0]["last_updated"].(string); len(lu) != len("2026-01-01T00:00:00.000Z") {
		t.Errorf("last_updated %q, want UTC with milliseconds", lu)
	}

	// A full pull, two a page, while tariffs change: a change does not move a tariff, a new
	// one comes at the end; each is met once.
	var lastPatched string
	all := e.pullTariffs(token, "limit=2", func(page int) {
		if page == 0 {
			var p map[string]any
			e.admin("PATCH", "/api/v1/tariffs/FULL", map[string]any{"currency": "USD"}).must(t, 200).data(t, &p)
			lastPatched = p["last_updated"].(string)
			e.admin("POST", "/api/v1/tariffs", freeTariff("T-5")).must(t, 201)
		}
	})
	if diff := slices.Compare(tariffIDs(all), []string{"NL/EVR/FULL", "NL/EVR/T-1", "NL/EVR/T-2", "NL/EVR/T-3", "NL/EVR/T-4", "NL/EVR/T-5"}); diff != 0 {
		t.Errorf("pull order = %v, want the order of creation", tariffIDs(all))
	}

	// date_from (inclusive) and date_to (exclusive) on last_updated.
	from, _ := time.Parse(time.RFC3339Nano, lastPatched)
	since := e.pullTariffs(token, "date_from="+url.QueryEscape(from.Format(time.RFC3339Nano)), nil)
	if ids := tariffIDs(since); !slices.Equal(ids, []string{"NL/EVR/FULL", "NL/EVR/T-5"}) || since[0].Currency != "USD" {
		t.Errorf("date_from pull = %v, want FULL (changed, USD) and T-5", ids)
	}
	before := e.pullTariffs(token, "date_to="+url.QueryEscape(from.Format(time.RFC3339Nano)), nil)
	if ids := tariffIDs(before); !slices.Equal(ids, []string{"NL/EVR/T-1", "NL/EVR/T-2", "NL/EVR/T-3", "NL/EVR/T-4"}) {
		t.Errorf("date_to pull = %v, want T-1 … T-4", ids)
	}
	res = e.ocpi("GET", "/ocpi/2.2.1/tariffs?date_from="+url.QueryEscape(from.Format(time.RFC3339Nano))+"&limit=1", token, nil).must(t, 200)
	if m := nextLink.FindStringSubmatch(res.Header.Get("Link")); m == nil {
		t.Errorf("no next link: %q", res.Header.Get("Link"))
	} else if u, _ := url.Parse(m[1]); u.Query().Get("date_from") == "" || u.Query().Get("offset") != "1" {
		t.Errorf("next link %s does not keep date_from and move the offset", m[1])
	}
	if res.Header.Get("X-Total-Count") != "2" {
		t.Errorf("X-Total-Count with date_from = %q, want 2", res.Header.Get("X-Total-Count"))
	}

	// A deleted tariff is gone from the pull.
	e.admin("DELETE", "/api/v1/tariffs/T-2", nil).must(t, 204)
	if ids := tariffIDs(e.pullTariffs(token, "", nil)); slices.Contains(ids, "NL/EVR/T-2") || len(ids) != 5 {
		t.Errorf("pull after delete = %v", ids)
	}

	// Unreadable parameters: HTTP 400, status 2001.
	for _, q := range []string{"limit=0", "offset=-1", "date_from=yesterday"} {
		res := e.ocpi("GET", "/ocpi/2.2.1/tariffs?"+q, token, nil).must(t, 400)
		checkEnvelope(t, res.Body, 2001)
	}
	// And a TOKEN_A or no token is refused.
	e.ocpi("GET", "/ocpi/2.2.1/tariffs", "not-a-token", nil).must(t, 401)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestTariffsScope: a partner pulls the tariffs of its network and the ones below only.
func TestTariffsScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netA, keyA := e.network(&e.root, "Client A", "NL", "AAA")
	_, keyB := e.network(&e.root, "Client B", "BE", "BBB")
	fa, fb, fr := newFakePartner(t, false), newFakePartner(t, false), newFakePartner(t, false)
	tokenA := e.registerPartnerWith(keyA, fa, "eMSP of A")
	tokenB := e.registerPartnerWith(keyB, fb, "eMSP of B")
	tokenR := e.registerPartner(fr, "eMSP of the root")
	_, keyA1 := e.network(&netA, "Client A1", "NL", "AA1")

	e.admin("POST", "/api/v1/tariffs", freeTariff("ROOT-1")).must(t, 201)
	send(t, "POST", e.srv.URL+"/api/v1/tariffs", "", freeTariff("A-1"), "X-API-Key: "+keyA).must(t, 201)
	send(t, "POST", e.srv.URL+"/api/v1/tariffs", "", freeTariff("A1-1"), "X-API-Key: "+keyA1).must(t, 201)
	send(t, "POST", e.srv.URL+"/api/v1/tariffs", "", freeTariff("B-1"), "X-API-Key: "+keyB).must(t, 201)

	for _, test := range []struct {
		name  string
		token string
		want  []string
	}{
		{"A", tokenA, []string{"NL/AAA/A-1", "NL/AA1/A1-1"}},
		{"B", tokenB, []string{"BE/BBB/B-1"}},
		{"Root", tokenR, []string{"NL/EVR/ROOT-1", "NL/AAA/A-1", "NL/AA1/A1-1", "BE/BBB/B-1"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := tariffIDs(e.pullTariffs(test.token, "", nil)); !slices.Equal(got, test.want) {
				t.Errorf("pull = %v, want %v", got, test.want)
			}
			res := e.ocpi("GET", "/ocpi/2.2.1/tariffs?date_from=2000-01-01T00:00:00Z", test.token, nil).must(t, 200)
			if res.Header.Get("X-Total-Count") != strconv.Itoa(len(test.want)) {
				t.Errorf("X-Total-Count %q, want %d", res.Header.Get("X-Total-Count"), len(test.want))
			}
		})
	}
}

// waitTariffPushes waits until f's Tariffs receiver got n pushes.
func waitTariffPushes(t testing.TB, f *fakePartner, n int) []pushRecord {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := f.recordedTariffs()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("partner got %d tariff pushes, want %d: %v", len(got), n, summary(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkTariffPush checks a push's method and path, and a PUT's body against the official
// schema; it returns the pushed tariff.
func checkTariffPush(t testing.TB, p pushRecord, method, path string) Tariff {
	t.Helper()
	if p.Method != method || p.Path != path {
		t.Fatalf("tariff push %s %s, want %s %s", p.Method, p.Path, method, path)
	}
	var tf Tariff
	if method == "PUT" {
		mustMatchOAS(t, oasTariff, p.Body)
		if err := json.Unmarshal(p.Body, &tf); err != nil {
			t.Fatal(err)
		}
	} else if len(p.Body) != 0 {
		t.Errorf("DELETE with a body: %s", p.Body)
	}
	return tf
}

// TestTariffPush: a partner with a Tariffs receiver gets a PUT of every created or changed
// tariff of its scope (the whole Tariff, as pulled, schema-checked) and a DELETE of every
// deleted one, in order, through the durable pusher (a receiver that is down gets them once
// it is back); a partner without a receiver, and one whose scope lacks the network, get none.
// A network's new party moves its tariffs: DELETE under the old party, PUT under the new.
func TestTariffPush(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netB, keyB := e.network(&e.root, "Client B", "BE", "BBB")
	f := newFakePartner(t, false)
	f.tariffReceiver = true
	token := e.registerPartner(f, "eMSP with a Tariffs receiver")
	fb := newFakePartner(t, false)
	fb.tariffReceiver = true
	e.registerPartnerWith(keyB, fb, "eMSP of B")
	none := newFakePartner(t, false) // no receiver: never pushed to
	e.registerPartner(none, "eMSP without receiver")
	var partners []map[string]any
	e.admin("GET", "/api/v1/ocpi/partners", nil).must(t, 200).data(t, &partners)
	receivers := 0
	for _, p := range partners {
		if p["tariffs_receiver"] != nil {
			receivers++
		}
	}
	if receivers != 2 {
		t.Errorf("%d partners show a tariffs_receiver, want 2: %v", receivers, partners)
	}
	stop := e.startPusher()
	defer stop()

	e.admin("POST", "/api/v1/tariffs", fullTariff("FULL")).must(t, 201)
	got := checkTariffPush(t, waitTariffPushes(t, f, 1)[0], "PUT", "/NL/EVR/FULL")
	pulled := e.pullTariffs(token, "", nil)
	if len(pulled) != 1 || string(mustJSON(pulled[0])) != string(mustJSON(got)) {
		t.Errorf("pushed %s, pulled %s: want the same", mustJSON(got), mustJSON(pulled))
	}

	// A change is pushed whole; while the receiver is down it waits, and comes when it is back.
	f.setDown(true)
	e.admin("PATCH", "/api/v1/tariffs/FULL", map[string]any{"currency": "CHF", "energy_mix": nil}).must(t, 200)
	time.Sleep(300 * time.Millisecond)
	f.setDown(false)
	got = checkTariffPush(t, waitTariffPushes(t, f, 2)[1], "PUT", "/NL/EVR/FULL")
	if got.Currency != "CHF" || got.EnergyMix != nil {
		t.Errorf("pushed after the change: currency %s, energy_mix %v", got.Currency, got.EnergyMix)
	}

	// A delete is a DELETE under the tariff's party.
	e.admin("DELETE", "/api/v1/tariffs/FULL", nil).must(t, 204)
	checkTariffPush(t, waitTariffPushes(t, f, 3)[2], "DELETE", "/NL/EVR/FULL")

	// B's tariff goes to B's partner and to the root's (B is in its scope, once our
	// credentials named B's party to it); the root's tariffs never reach B's partner.
	b := freeTariff("B-1")
	b["network_id"] = netB.ID
	e.admin("POST", "/api/v1/tariffs", b).must(t, 201)
	checkTariffPush(t, waitTariffPushes(t, fb, 1)[0], "PUT", "/BE/BBB/B-1")
	checkTariffPush(t, waitTariffPushes(t, f, 4)[3], "PUT", "/BE/BBB/B-1")
	time.Sleep(300 * time.Millisecond)
	if n := len(fb.recordedTariffs()); n != 1 {
		t.Errorf("B's partner got %d tariff pushes, want only B's: %v", n, summary(fb.recordedTariffs()))
	}
	if n := len(none.recordedTariffs()) + len(none.recorded()); n != 0 {
		t.Errorf("the partner without receivers got %d pushes", n)
	}

	// B changes its party: its tariff is deleted under the old party and put under the new
	// one (once our credentials named the new party to the partner).
	e.admin("PATCH", "/api/v1/networks/"+netB.ID.String(), map[string]any{"party_id": "BB2"}).must(t, 200)
	for _, p := range []struct {
		f    *fakePartner
		from int
	}{{fb, 1}, {f, 4}} {
		got := waitTariffPushes(t, p.f, p.from+2)
		checkTariffPush(t, got[p.from], "DELETE", "/BE/BBB/B-1")
		if moved := checkTariffPush(t, got[p.from+1], "PUT", "/BE/BB2/B-1"); moved.PartyID != "BB2" {
			t.Errorf("tariff put under the new party with party_id %s", moved.PartyID)
		}
		// Our credentials named the new party before anything went under it.
		creds, put := -1, -1
		for i, c := range p.f.callLog() {
			switch {
			case strings.HasPrefix(c, "PUT /ocpi/2.2.1/credentials ") && creds < 0: // the only one: for the new party
				creds = i
			case strings.HasPrefix(c, "PUT /ocpi/2.2.1/emsp/tariffs/BE/BB2/B-1 ") && put < 0:
				put = i
			}
		}
		if creds < 0 || put < creds {
			t.Errorf("credentials update at call %d, PUT under the new party at call %d: want the update first", creds, put)
		}
	}
	time.Sleep(300 * time.Millisecond)
	var queued int
	if err := e.db.Get(&queued, `SELECT count(*) FROM ocpi_deliveries`); err != nil || queued != 0 {
		t.Errorf("%d pushes still queued (%v)", queued, err)
	}
}

// TestTariffStampedAtCommit: a tariff change that commits later than another has a later
// last_updated, whichever was written first, so an incremental pull from the greatest
// last_updated seen misses none.
func TestTariffStampedAtCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := e.registerPartner(newFakePartner(t, false), "eMSP")
	tx, err := e.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// Written first, with a time before the other's, committed last.
	if _, err := tx.Exec(`INSERT INTO tariffs (id, network_id, currency, elements, etag, created, last_updated)
		VALUES ('SLOW', $1, 'EUR', '[{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}]',
			gen_random_uuid(), now() - interval '1 minute', now() - interval '1 minute')`, e.root.ID); err != nil {
		t.Fatal(err)
	}
	e.admin("POST", "/api/v1/tariffs", freeTariff("FAST")).must(t, 201)
	seen := e.pullTariffs(token, "", nil)
	if len(seen) != 1 || seen[0].ID != "FAST" {
		t.Fatalf("pull before the commit = %v", tariffIDs(seen))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Both are in a pull from the last_updated seen (in creation order: SLOW first), SLOW
	// stamped later than FAST.
	since := e.pullTariffs(token, "date_from="+url.QueryEscape(seen[0].LastUpdated), nil)
	if ids := tariffIDs(since); !slices.Equal(ids, []string{"NL/EVR/SLOW", "NL/EVR/FAST"}) || since[0].LastUpdated <= since[1].LastUpdated {
		t.Fatalf("pull from the last_updated seen (%s) = %v %v; want SLOW and FAST, SLOW stamped later", seen[0].LastUpdated, ids, since)
	}
	// The API answers with the stamp the commit gave.
	var got map[string]any
	e.admin("PATCH", "/api/v1/tariffs/FAST", map[string]any{"currency": "GBP"}).must(t, 200).data(t, &got)
	again := e.pullTariffs(token, "", nil)
	lu, _ := time.Parse(time.RFC3339Nano, got["last_updated"].(string))
	if again[1].ID != "FAST" || again[1].LastUpdated != lu.UTC().Format("2006-01-02T15:04:05.000Z") || again[1].LastUpdated <= since[0].LastUpdated {
		t.Errorf("PATCH answered last_updated %v, published %s; want the same, after SLOW's %s", got["last_updated"], again[1].LastUpdated, since[0].LastUpdated)
	}
}
