package ocpi

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestProductionRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	token := e.registerPartner(f, "eMSP")
	loc := e.location("Central station")
	e.station("CS-1", loc, "Stock", 2)

	// A Stock station publishes nothing: the location is not in the view.
	res := e.ocpi("GET", "/ocpi/2.2.1/locations", token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationList, res.Body)
	if res.Header.Get("X-Total-Count") != "0" || string(mustData(t, res)) != "[]" {
		t.Fatalf("Stock station visible: %s %s", res.Header.Get("X-Total-Count"), res.Body)
	}
	for _, path := range []string{"/" + loc, "/" + loc + "/CS-1-1", "/" + loc + "/CS-1-1/1", "/nope"} {
		res := e.ocpi("GET", "/ocpi/2.2.1/locations"+path, token, nil).must(t, 404)
		mustMatchOAS(t, oasNotFound, res.Body)
		checkEnvelope(t, res.Body, 2003)
	}

	// Production: the location appears with both EVSEs and all their connectors.
	e.deployState("CS-1", "Production")
	res = e.ocpi("GET", "/ocpi/2.2.1/locations", token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationList, res.Body)
	checkEnvelope(t, res.Body, 1000)
	var list []Location
	res.data(t, &list)
	if len(list) != 1 || list[0].ID != loc || list[0].CountryCode != "NL" || list[0].PartyID != "EVR" || len(list[0].EVSEs) != 2 {
		t.Fatalf("locations = %s", res.Body)
	}
	l := list[0]
	if l.EVSEs[0].UID != "CS-1-1" || l.EVSEs[1].UID != "CS-1-2" || len(l.EVSEs[1].Connectors) != 2 {
		t.Fatalf("EVSEs = %+v", l.EVSEs)
	}
	dc := l.EVSEs[1].Connectors[1]
	if dc.Standard != "IEC_62196_T2_COMBO" || dc.Format != "CABLE" || dc.PowerType != "DC" || dc.MaxVoltage != 920 || dc.MaxAmperage != 400 ||
		!slices.Equal(dc.TariffIDs, []string{"DC-FAST"}) || !slices.Equal(l.EVSEs[0].Connectors[0].TariffIDs, []string{"T1"}) {
		t.Errorf("connectors = %+v, want CCS2 cable DC 920 V 400 A with its own tariff, the socket with the station default T1", l.EVSEs[1].Connectors)
	}
	if l.EVSEs[0].EVSEID == nil || *l.EVSEs[0].EVSEID != "NL*EVR*ECS1*1" || !slices.Equal(stringsOf(l.EVSEs[0].Capabilities), []string{"RFID_READER"}) {
		t.Errorf("EVSE 1 = %+v", l.EVSEs[0])
	}

	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc, token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationGet, res.Body)
	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc+"/cs-1-2", token, nil).must(t, 200) // CiString: case-insensitive
	mustMatchOAS(t, oasEVSEGet, res.Body)
	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc+"/CS-1-2/2", token, nil).must(t, 200)
	mustMatchOAS(t, oasConnectorGet, res.Body)
	checkEnvelope(t, res.Body, 1000)
	for _, path := range []string{"/" + loc + "/CS-1-9", "/" + loc + "/CS-1-2/9"} {
		res := e.ocpi("GET", "/ocpi/2.2.1/locations"+path, token, nil).must(t, 404)
		checkEnvelope(t, res.Body, 2003)
	}

	// A status report (the gateway's write path) changes the EVSE and, in OCPI, the location's
	// last_updated with it, though the REST location does not move. last_updated has
	// milliseconds, so later strings sort later.
	var rest struct {
		LastUpdated string `json:"last_updated"`
	}
	e.admin("GET", "/api/v1/locations/"+loc, nil).must(t, 200).data(t, &rest)
	// No pause needed: every commit's stamp is later than the one before, in milliseconds.
	e.setStatus("CS-1", 2, "Charging", "CHARGING")
	var after Location
	e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc, token, nil).must(t, 200).data(t, &after)
	if after.EVSEs[1].Status != "CHARGING" || after.EVSEs[1].LastUpdated <= l.EVSEs[1].LastUpdated ||
		after.LastUpdated != after.EVSEs[1].LastUpdated || after.LastUpdated <= l.LastUpdated {
		t.Errorf("after status change: location %s, EVSE %s %s (before: %s, %s)", after.LastUpdated, after.EVSEs[1].Status, after.EVSEs[1].LastUpdated, l.LastUpdated, l.EVSEs[1].LastUpdated)
	}
	for _, c := range after.EVSEs[1].Connectors {
		if c.LastUpdated > after.EVSEs[1].LastUpdated {
			t.Errorf("connector %s last_updated %s after its EVSE's %s", c.ID, c.LastUpdated, after.EVSEs[1].LastUpdated)
		}
	}
	var restAfter struct {
		LastUpdated string `json:"last_updated"`
	}
	e.admin("GET", "/api/v1/locations/"+loc, nil).must(t, 200).data(t, &restAfter)
	if restAfter.LastUpdated != rest.LastUpdated {
		t.Errorf("REST location last_updated moved on a status change: %s → %s", rest.LastUpdated, restAfter.LastUpdated)
	}
	// date_from at the new last_updated still finds it (inclusive).
	res = e.ocpi("GET", "/ocpi/2.2.1/locations?date_from="+url.QueryEscape(after.LastUpdated), token, nil).must(t, 200)
	if res.Header.Get("X-Total-Count") != "1" {
		t.Errorf("date_from=%s: total %s, want 1", after.LastUpdated, res.Header.Get("X-Total-Count"))
	}

	// Back to Stock: still listed, its EVSEs REMOVED, newer last_updated.
	e.deployState("CS-1", "Stock")
	var removed Location
	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc, token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationGet, res.Body)
	res.data(t, &removed)
	if len(removed.EVSEs) != 2 || removed.EVSEs[0].Status != "REMOVED" || removed.EVSEs[1].Status != "REMOVED" || removed.LastUpdated <= after.LastUpdated {
		t.Errorf("after Stock: %s", res.Body)
	}
	// An offline station's EVSEs read UNKNOWN; a deleted station's stay REMOVED.
	e.deployState("CS-1", "Production")
	if _, err := e.db.Exec(`UPDATE charge_stations SET connectivity_status = 'Offline' WHERE id = 'CS-1'`); err != nil {
		t.Fatal(err)
	}
	var offline EVSE
	e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc+"/CS-1-2", token, nil).must(t, 200).data(t, &offline)
	if offline.Status != "UNKNOWN" {
		t.Errorf("offline station EVSE status = %s, want UNKNOWN", offline.Status)
	}
	e.admin("DELETE", "/api/v1/chargestations/CS-1", nil).must(t, 204)
	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+loc, token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationGet, res.Body)
	res.data(t, &removed)
	if removed.EVSEs[0].Status != "REMOVED" || removed.EVSEs[1].Status != "REMOVED" {
		t.Errorf("after delete: %s", res.Body)
	}
}

func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func mustData(t testing.TB, r *response) []byte {
	t.Helper()
	d, _, _ := r.env(t)
	return d
}

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

func TestLocationsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	token := e.registerPartner(f, "eMSP")
	const n = 250
	for i := range n {
		loc := e.location(fmt.Sprintf("Site %03d", i))
		e.station(fmt.Sprintf("P-%03d", i), loc, "Production", 1)
	}
	// Known timestamps, in the reverse of the order of creation: location i (created i-th)
	// was last updated at base + (n-1-i) seconds, so the sync window bounds are exact and a
	// pull ordered by last_updated would show up.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stamp := func(i int) time.Time { return base.Add(time.Duration(n-1-i) * time.Second) }
	if _, err := e.db.Exec(`
		UPDATE ocpi_evses e SET last_updated = $1::timestamptz + (($2 - 1 - substr(e.charge_station_id, 3)::int) * interval '1 second')`, base, n); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`
		UPDATE ocpi_locations c SET last_updated = (SELECT max(e.last_updated) FROM ocpi_evses e WHERE e.location_seq = c.seq)`); err != nil {
		t.Fatal(err)
	}
	// The empty DB view: a location without stations is not listed.
	e.location("No stations here")

	// Walk the pages by their Link headers.
	var all []Location
	link := e.srv.URL + "/ocpi/2.2.1/locations?limit=100"
	pages := 0
	for link != "" {
		res := send(t, "GET", link, tok(token), nil).must(t, 200)
		mustMatchOAS(t, oasLocationList, res.Body)
		checkEnvelope(t, res.Body, 1000)
		if res.Header.Get("X-Total-Count") != strconv.Itoa(n) || res.Header.Get("X-Limit") != "100" {
			t.Fatalf("page %d: X-Total-Count %q X-Limit %q", pages, res.Header.Get("X-Total-Count"), res.Header.Get("X-Limit"))
		}
		var page []Location
		res.data(t, &page)
		want := []int{100, 100, 50}[min(pages, 2)]
		if len(page) != want {
			t.Fatalf("page %d has %d locations, want %d", pages, len(page), want)
		}
		all = append(all, page...)
		link = ""
		if h := res.Header.Get("Link"); h != "" {
			m := nextLink.FindStringSubmatch(h)
			if m == nil {
				t.Fatalf("Link = %q", h)
			}
			link = m[1]
			u, _ := url.Parse(link)
			if u.Query().Get("offset") != strconv.Itoa(len(all)) || u.Query().Get("limit") != "100" || u.Host == "" || u.Query().Get("after") == "" {
				t.Errorf("next link %q, want offset, limit and our cursor (after)", link)
			}
		}
		pages++
	}
	if pages != 3 || len(all) != n {
		t.Fatalf("%d pages, %d locations; want 3 pages, %d", pages, len(all), n)
	}
	seen := map[string]bool{}
	for i, l := range all {
		if want := fmt.Sprintf("Site %03d", i); l.Name != want {
			t.Fatalf("location %d is %q, want %q (the order of creation)", i, l.Name, want)
		}
		if want := stamp(i).Format("2006-01-02T15:04:05.000Z"); l.LastUpdated != want {
			t.Fatalf("location %d last_updated %s, want %s", i, l.LastUpdated, want)
		}
		if seen[l.ID] {
			t.Fatalf("location %s twice", l.ID)
		}
		seen[l.ID] = true
	}

	// A limit above the maximum is clamped, and says so.
	res := e.ocpi("GET", "/ocpi/2.2.1/locations?limit=5000", token, nil).must(t, 200)
	var page []Location
	res.data(t, &page)
	if len(page) != 100 || res.Header.Get("X-Limit") != "100" || !regexp.MustCompile(`limit=100[&>]`).MatchString(res.Header.Get("Link")) {
		t.Errorf("limit=5000: %d locations, X-Limit %s, Link %s", len(page), res.Header.Get("X-Limit"), res.Header.Get("Link"))
	}

	// date_to is exclusive, date_from inclusive; filters are kept in the next link. Locations
	// 130…249 were updated before cut, 0…129 at or after it.
	cut := base.Add(120 * time.Second).Format(time.RFC3339)
	res = e.ocpi("GET", "/ocpi/2.2.1/locations?date_to="+cut, token, nil).must(t, 200)
	res.data(t, &page)
	if res.Header.Get("X-Total-Count") != "120" || len(page) != 100 || page[0].ID != all[130].ID || page[99].ID != all[229].ID {
		t.Errorf("date_to=%s: total %s, %d on the page", cut, res.Header.Get("X-Total-Count"), len(page))
	}
	m := nextLink.FindStringSubmatch(res.Header.Get("Link"))
	if m == nil {
		t.Fatalf("no next link with date_to: %q", res.Header.Get("Link"))
	}
	u, _ := url.Parse(m[1])
	if u.Query().Get("date_to") != cut {
		t.Errorf("next link %q lost date_to", m[1])
	}
	res = send(t, "GET", m[1], tok(token), nil).must(t, 200)
	res.data(t, &page)
	if len(page) != 20 || page[19].ID != all[249].ID || res.Header.Get("Link") != "" {
		t.Errorf("second date_to page: %d locations, Link %q", len(page), res.Header.Get("Link"))
	}
	res = e.ocpi("GET", "/ocpi/2.2.1/locations?date_from="+cut+"&limit=10&offset=5", token, nil).must(t, 200)
	res.data(t, &page)
	if res.Header.Get("X-Total-Count") != "130" || len(page) != 10 || page[0].ID != all[5].ID {
		t.Errorf("date_from=%s offset 5: total %s, first %v", cut, res.Header.Get("X-Total-Count"), page[0].LastUpdated)
	}
	m = nextLink.FindStringSubmatch(res.Header.Get("Link"))
	if u, _ = url.Parse(m[1]); m == nil || u.Query().Get("date_from") != cut || u.Query().Get("offset") != "15" || u.Query().Get("limit") != "10" {
		t.Errorf("next link %v", m)
	}
	res = e.ocpi("GET", "/ocpi/2.2.1/locations?date_from="+cut+"&date_to="+url.QueryEscape(base.Add(121*time.Second).Format(time.RFC3339)), token, nil).must(t, 200)
	res.data(t, &page)
	if len(page) != 1 || page[0].ID != all[129].ID {
		t.Errorf("one-second window: %d locations", len(page))
	}
	// Past the end: an empty page, the total still right.
	res = e.ocpi("GET", "/ocpi/2.2.1/locations?offset=400", token, nil).must(t, 200)
	if string(mustData(t, res)) != "[]" || res.Header.Get("X-Total-Count") != "250" || res.Header.Get("Link") != "" {
		t.Errorf("offset past the end: %s total %s", res.Body, res.Header.Get("X-Total-Count"))
	}
	// Unreadable parameters: 400 with 2001.
	for _, q := range []string{"date_from=yesterday", "limit=0", "offset=-1"} {
		res := e.ocpi("GET", "/ocpi/2.2.1/locations?"+q, token, nil).must(t, 400)
		mustMatchOAS(t, oasError, res.Body)
		checkEnvelope(t, res.Body, 2001)
	}
}
