package ocpi

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/schema"
)

// pull walks every page of a Locations pull that starts with query (e.g. "limit=20"),
// following the Link headers, checks every page against the official schema and returns the
// locations in the order received. between runs after each page.
func (e *env) pull(token, query string, between func(page int)) []Location {
	e.t.Helper()
	var all []Location
	link := e.srv.URL + "/ocpi/2.2.1/locations?" + query
	for page := 0; link != ""; page++ {
		res := send(e.t, "GET", link, tok(token), nil).must(e.t, 200)
		mustMatchOAS(e.t, oasLocationList, res.Body)
		var locs []Location
		res.data(e.t, &locs)
		all = append(all, locs...)
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

// find returns the location with id among locs under party cc*pid.
func find(locs []Location, cc, pid, id string) (Location, bool) {
	for _, l := range locs {
		if l.CountryCode == cc && l.PartyID == pid && l.ID == id {
			return l, true
		}
	}
	return Location{}, false
}

func statuses(l Location) map[string]schema.Status {
	out := map[string]schema.Status{}
	for _, e := range l.EVSEs {
		out[e.UID] = e.Status
	}
	return out
}

// seedSites makes locations prefix+from… (n of them) of the root network with one two-EVSE
// Production station each (prefix+"S"+…), in one statement each, as a bulk load would.
func (e *env) seedSites(prefix string, from, n int) error {
	steps := []string{`
		INSERT INTO locations (id, network_id, name, address, city, country, latitude, longitude, time_zone, etag, created, last_updated)
		SELECT $1 || lpad(i::text, 4, '0'), $2::uuid, 'Site ' || i, 'Straat ' || i, 'Utrecht', 'NLD', '52.09074', '5.12142',
			'Europe/Amsterdam', gen_random_uuid(), now(), now()
		FROM generate_series($3::int, $3::int + $4::int - 1) AS i`, `
		INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id, charger_type,
			etag, created, last_updated, station_last_updated)
		SELECT $1 || 'S' || lpad(i::text, 4, '0'), $2::uuid, $1 || lpad(i::text, 4, '0'), 'Production', 'T1', 'Public',
			gen_random_uuid(), now(), now(), now()
		FROM generate_series($3::int, $3::int + $4::int - 1) AS i`, `
		INSERT INTO evses (uid, charge_station_id, evse_sequence_number, connectors, last_updated)
		SELECT $1 || 'S' || lpad(i::text, 4, '0') || '-' || k, $1 || 'S' || lpad(i::text, 4, '0'), k,
			'[{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32, "last_updated": "2026-01-01T00:00:00Z"}]',
			now()
		FROM generate_series($3::int, $3::int + $4::int - 1) AS i, generate_series(1, 2) AS k
		WHERE $2::uuid IS NOT NULL`}
	for _, q := range steps {
		if _, err := e.db.Exec(q, prefix, e.root.ID, from, n); err != nil {
			return fmt.Errorf("seed sites %s%d…: %w", prefix, from, err)
		}
	}
	return nil
}

// TestFullPullWhileChanging pulls every location page by page while statuses, connections,
// deploy states and station locations change and new sites appear: no location that existed
// when the pull started is missing or met twice. (Ordered by last_updated, as before, a
// location changed on an early page moves behind the cursor: met twice, and another one
// missed.) Both ways of paging are walked: our Link (offset and cursor) and plain offsets.
func TestFullPullWhileChanging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	token := e.registerPartner(f, "eMSP")
	const n = 300
	if err := e.seedSites("FP-", 0, n); err != nil {
		t.Fatal(err)
	}
	next := n // the next new site
	before := e.pull(token, "limit=100", nil)
	if len(before) != n {
		t.Fatalf("%d locations published, want %d", len(before), n)
	}

	for _, walk := range []struct {
		name  string
		query func(offset int) string
	}{
		{"Link", nil},
		{"Offsets", func(offset int) string { return fmt.Sprintf("offset=%d&limit=20", offset) }},
	} {
		t.Run(walk.name, func(t *testing.T) {
			e.t = t
			ctx, stop := context.WithCancel(t.Context())
			var changes atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			started := time.Now()
			go func() {
				defer wg.Done()
				e.churn(ctx, t, n, &next, &changes)
			}()
			var got []Location
			if walk.query == nil {
				got = e.pull(token, "limit=20", func(int) { time.Sleep(40 * time.Millisecond) })
			} else {
				for offset := 0; ; offset += 20 {
					res := e.ocpi("GET", "/ocpi/2.2.1/locations?"+walk.query(offset), token, nil).must(t, 200)
					mustMatchOAS(t, oasLocationList, res.Body)
					var page []Location
					res.data(t, &page)
					got = append(got, page...)
					if len(page) < 20 {
						break
					}
					time.Sleep(40 * time.Millisecond)
				}
			}
			stop()
			wg.Wait()
			if changes.Load() < 10 {
				t.Fatalf("only %d changes during the pull", changes.Load())
			}
			seen := map[string]int{}
			for _, l := range got {
				seen[l.ID]++
			}
			for id, k := range seen {
				if k > 1 {
					t.Errorf("location %s met %d times", id, k)
				}
			}
			for _, l := range before {
				if seen[l.ID] == 0 {
					t.Errorf("location %s missing from the pull", l.ID)
				}
			}
			// The churn reached the early pages: locations already pulled changed again.
			early := 0
			for _, l := range got[:n/3] {
				var now Location
				res := e.ocpi("GET", "/ocpi/2.2.1/locations/"+l.ID, token, nil).must(t, 200)
				mustMatchOAS(t, oasLocationGet, res.Body)
				res.data(t, &now)
				if ts, _ := schema.ParseDateTime(now.LastUpdated); ts.After(started) {
					early++
				}
			}
			if early == 0 {
				t.Errorf("no location of the first pages changed during the pull")
			}
		})
	}
}

// churn changes the sites of TestFullPullWhileChanging until ctx ends: status batches the way
// the gateway writes them, connections, stations leaving and re-entering Production, stations
// moving between sites, and new sites.
func (e *env) churn(ctx context.Context, t *testing.T, n int, next *int, changes *atomic.Int64) {
	r := rand.New(rand.NewPCG(1, 2))
	site := func() string { return fmt.Sprintf("FP-S%04d", r.IntN(n)) }
	statuses := []struct {
		ocpp string
		ocpi schema.Status
	}{{"Available", "AVAILABLE"}, {"Charging", "CHARGING"}, {"Faulted", "OUTOFORDER"}}
	for i := 0; ctx.Err() == nil; i++ {
		var err error
		switch i % 5 {
		case 0, 1:
			var batch []evse.StatusChange
			for range 30 {
				s := statuses[r.IntN(len(statuses))]
				batch = append(batch, evse.StatusChange{Identity: site(), SequenceNumber: 1 + r.IntN(2), OCPPStatus: s.ocpp, Status: s.ocpi, At: time.Now()})
			}
			_, _, _, err = e.evses.SetStatuses(ctx, batch)
		case 2:
			_, err = e.db.ExecContext(ctx, `UPDATE charge_stations SET connectivity_status = CASE WHEN connectivity_status = 'Offline' THEN 'Online' ELSE 'Offline' END WHERE id = ANY($1)`,
				fmt.Sprintf("{%s,%s,%s}", site(), site(), site()))
		case 3:
			id := site()
			if _, err = e.db.ExecContext(ctx, `UPDATE charge_stations SET deploy_state = 'Stock' WHERE id = $1`, id); err == nil {
				_, err = e.db.ExecContext(ctx, `UPDATE charge_stations SET deploy_state = 'Production' WHERE id = $1`, id)
			}
		case 4:
			_, err = e.db.ExecContext(ctx, `UPDATE charge_stations SET location_id = $2 WHERE id = $1`, site(), fmt.Sprintf("FP-%04d", r.IntN(n)))
			if err == nil && i%10 == 4 {
				err = e.seedSites("FP-", *next, 1)
				*next++
			}
		}
		if err != nil && ctx.Err() == nil {
			t.Errorf("churn: %v", err)
			return
		}
		changes.Add(1)
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRetiredCopies: nothing vanishes. A station that moves, a station deleted, a location
// deleted, a location moved to another network and a network changing its party each leave
// the old copy with its EVSEs REMOVED, pushed and returned by date_from pulls under the old
// party path, and publish the new one; an EVSE uid is never live in two locations.
func TestRetiredCopies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub, _ := e.network(&e.root, "Sub-client", "NL", "SUB")
	f := newFakePartner(t, true)
	token := e.registerPartner(f, "eMSP")
	e.startPusher()

	a := e.location("Site A")
	b := e.location("Site B")
	e.station("MV-1", a, "Production", 2)
	e.station("MV-2", b, "Production", 1)
	got := waitPushes(t, f, 2)
	pushed := func(from int) map[string]int {
		out := map[string]int{}
		for _, p := range f.recorded()[from:] {
			out[p.Method+" "+p.Path]++
		}
		return out
	}
	since := func(t0 string) []Location {
		return e.pull(token, "limit=100&date_from="+url.QueryEscape(t0), nil)
	}
	mark := func() string {
		var ts time.Time
		if err := e.db.Get(&ts, `SELECT max(last_updated) + interval '1 millisecond' FROM ocpi_locations`); err != nil {
			t.Fatal(err)
		}
		return ts.UTC().Format(time.RFC3339Nano)
	}
	liveOnce := func(locs []Location) {
		t.Helper()
		live := map[string]string{}
		for _, l := range locs {
			for _, ev := range l.EVSEs {
				if ev.Status != "REMOVED" {
					if other, ok := live[ev.UID]; ok {
						t.Errorf("EVSE %s live in %s and %s", ev.UID, other, l.PartyID+"/"+l.ID)
					}
					live[ev.UID] = l.PartyID + "/" + l.ID
				}
			}
		}
	}

	// A station moves from A to B: A keeps its EVSEs as REMOVED, B shows them live.
	t0, n0 := mark(), len(got)
	e.admin("PATCH", "/api/v1/chargestations/MV-1", map[string]any{"location_id": b}).must(t, 200)
	got = waitPushes(t, f, n0+2)
	if p := pushed(n0); p["PUT /NL/EVR/"+a] != 1 || p["PUT /NL/EVR/"+b] != 1 {
		t.Fatalf("pushes after the move: %v", p)
	}
	for _, p := range got[n0:] {
		st := checkPush(t, p, "PUT", p.Path)
		if p.Path == "/NL/EVR/"+a && strings.Join(st, ",") != "REMOVED,REMOVED" {
			t.Errorf("A after the move: %v", st)
		}
		if p.Path == "/NL/EVR/"+b && len(st) != 3 {
			t.Errorf("B after the move: %v", st)
		}
	}
	locs := since(t0)
	la, okA := find(locs, "NL", "EVR", a)
	lb, okB := find(locs, "NL", "EVR", b)
	if !okA || !okB || statuses(la)["MV-1-1"] != "REMOVED" || statuses(lb)["MV-1-1"] != "UNKNOWN" || len(locs) != 2 {
		t.Fatalf("date_from pull after the move: %+v", locs)
	}
	liveOnce(e.pull(token, "limit=100", nil))

	// The station of B is deleted: B keeps MV-2's EVSE as REMOVED.
	t1, n1 := mark(), len(got)
	e.admin("DELETE", "/api/v1/chargestations/MV-2", nil).must(t, 204)
	got = waitPushes(t, f, n1+1)
	if st := checkPush(t, got[n1], "PUT", "/NL/EVR/"+b); !slices.Contains(st, "REMOVED") {
		t.Errorf("B after deleting MV-2: %v", st)
	}
	if lb, ok := find(since(t1), "NL", "EVR", b); !ok || statuses(lb)["MV-2-1"] != "REMOVED" {
		t.Errorf("date_from pull after deleting MV-2: %+v", lb)
	}

	// Site A, empty now, is deleted: its copy stays, with its fields and REMOVED EVSEs, pushed,
	// pulled, and found by a single GET. (Before, a deleted site vanished and its pushes were
	// dropped.)
	t2, n2 := mark(), len(got)
	e.admin("DELETE", "/api/v1/locations/"+a, nil).must(t, 204)
	got = waitPushes(t, f, n2+1)
	if st := checkPush(t, got[n2], "PUT", "/NL/EVR/"+a); strings.Join(st, ",") != "REMOVED,REMOVED" {
		t.Errorf("A after its deletion: %v", st)
	}
	if la, ok := find(since(t2), "NL", "EVR", a); !ok || la.Name != "Site A" || la.Address != "Stationsplein 1" {
		t.Errorf("date_from pull after deleting A: %+v", la)
	}
	res := e.ocpi("GET", "/ocpi/2.2.1/locations/"+a, token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationGet, res.Body)
	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+a+"/MV-1-1", token, nil).must(t, 200)
	mustMatchOAS(t, oasEVSEGet, res.Body)
	var ev EVSE
	res.data(t, &ev)
	if ev.Status != "REMOVED" {
		t.Errorf("GET of an EVSE of the deleted site: %s", ev.Status)
	}

	// Site B moves to the sub-client's network: the copy under NL*EVR retires, one under NL*SUB
	// appears, in that order (one location: its pushes are in queue order).
	t3, n3 := mark(), len(got)
	e.admin("PATCH", "/api/v1/locations/"+b, map[string]any{"network_id": sub.ID}).must(t, 200)
	got = waitPushes(t, f, n3+2)
	if st := checkPush(t, got[n3], "PUT", "/NL/EVR/"+b); strings.Join(st, ",") != "REMOVED,REMOVED,REMOVED" {
		t.Errorf("B under NL*EVR after the move: %v", st)
	}
	if st := checkPush(t, got[n3+1], "PUT", "/NL/SUB/"+b); strings.Join(st, ",") != "UNKNOWN,UNKNOWN" {
		t.Errorf("B under NL*SUB after the move: %v", st)
	}
	locs = since(t3)
	old, okOld := find(locs, "NL", "EVR", b)
	moved, okNew := find(locs, "NL", "SUB", b)
	if !okOld || !okNew || len(locs) != 2 || statuses(old)["MV-1-1"] != "REMOVED" || statuses(moved)["MV-1-1"] != "UNKNOWN" {
		t.Fatalf("date_from pull after moving B: %+v", locs)
	}
	liveOnce(e.pull(token, "limit=100", nil))
	// A single GET finds the live copy.
	var one Location
	e.ocpi("GET", "/ocpi/2.2.1/locations/"+b, token, nil).must(t, 200).data(t, &one)
	if one.PartyID != "SUB" {
		t.Errorf("GET %s: party %s, want the live copy under SUB", b, one.PartyID)
	}

	// The sub-client changes its party: NL*SUB retires, NL*SBX appears (after our credentials
	// name SBX; the retirement under SUB goes first).
	t4, n4 := mark(), len(got)
	send(t, "PATCH", e.srv.URL+"/api/v1/networks/"+sub.ID.String(), "", map[string]any{"party_id": "SBX"}, "X-API-Key: "+e.key).must(t, 200)
	got = waitPushes(t, f, n4+2)
	if st := checkPush(t, got[n4], "PUT", "/NL/SUB/"+b); strings.Join(st, ",") != "REMOVED,REMOVED" {
		t.Errorf("B under NL*SUB after the party change: %v", st)
	}
	if st := checkPush(t, got[n4+1], "PUT", "/NL/SBX/"+b); strings.Join(st, ",") != "UNKNOWN,UNKNOWN" {
		t.Errorf("B under NL*SBX after the party change: %v", st)
	}
	f.mu.Lock()
	updates := slices.Clone(f.credentialUpdates)
	f.mu.Unlock()
	if len(updates) == 0 || !slices.Equal(parties(updates[len(updates)-1].Roles), []string{"NL*EVR", "NL*SBX"}) {
		t.Errorf("credentials updates %+v, want the last naming NL*EVR and NL*SBX", updates)
	}
	locs = e.pull(f.tokenForEvrLocked(), "limit=100&date_from="+url.QueryEscape(t4), nil)
	if old, ok := find(locs, "NL", "SUB", b); !ok || statuses(old)["MV-1-1"] != "REMOVED" || len(locs) != 2 {
		t.Errorf("date_from pull after the party change: %+v", locs)
	}
	if _, ok := find(locs, "NL", "SBX", b); !ok {
		t.Errorf("date_from pull after the party change has no NL*SBX copy: %+v", locs)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(f.recorded()); n != n4+2 {
		t.Errorf("%d pushes, want %d: %v", n, n4+2, summary(f.recorded()))
	}
	var queued int
	e.db.Get(&queued, `SELECT count(*) FROM ocpi_deliveries`)
	if queued != 0 {
		t.Errorf("%d pushes left in the queue", queued)
	}
}

// tokenForEvrLocked is the token the fake partner uses with evroam now.
func (f *fakePartner) tokenForEvrLocked() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenForEvr
}

// TestPatchUnknownThenPut: a receiver that answers a PATCH with "unknown object" gets the
// whole Location right after, and the PATCH is neither retried nor dropped unsent.
func TestPatchUnknownThenPut(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		name       string
		http, code int
	}{
		{"HTTP404", 404, 2000},
		{"UnknownLocation2003", 200, 2003},
		{"InvalidParameters2001", 200, 2001},
	} {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := newFakePartner(t, true)
			e.registerPartner(f, "eMSP")
			f.mu.Lock()
			f.unknownPatch = &[2]int{test.http, test.code}
			f.mu.Unlock()
			e.startPusher()
			loc := e.location("Lost site")
			e.station("UP-1", loc, "Production", 2)
			waitPushes(t, f, 1)
			e.setStatus("UP-1", 2, "Charging", "CHARGING")
			got := waitPushes(t, f, 3)
			checkPush(t, got[1], "PATCH", "/NL/EVR/"+loc+"/UP-1-2")
			if st := checkPush(t, got[2], "PUT", "/NL/EVR/"+loc); strings.Join(st, ",") != "UNKNOWN,CHARGING" {
				t.Errorf("PUT after the unknown PATCH: %v", st)
			}
			time.Sleep(300 * time.Millisecond)
			if n := len(f.recorded()); n != 3 {
				t.Errorf("%d pushes, want 3: %v", n, summary(f.recorded()))
			}
			var queued int
			e.db.Get(&queued, `SELECT count(*) FROM ocpi_deliveries`)
			if queued != 0 {
				t.Errorf("%d pushes left in the queue", queued)
			}
		})
	}
}

var millisecondStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestStampsInCommitOrder: a change is stamped when it commits, so one committed later never
// carries an older last_updated than one already visible, whichever transaction started
// first; a partner syncing from the latest last_updated it saw misses nothing. Stamps have
// milliseconds, and date_from/date_to compare at that precision.
func TestStampsInCommitOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	token := e.registerPartner(f, "eMSP")
	early := e.location("Early site")
	late := e.location("Late site")
	e.station("CO-1", early, "Production", 1)
	e.station("CO-2", late, "Production", 1)

	setStatus := func(tx *sql.Tx, uid, status string) {
		t.Helper()
		if _, err := tx.Exec(`UPDATE evses SET status = $2 WHERE uid = $1`, uid, status); err != nil {
			t.Fatal(err)
		}
	}
	// The earlier transaction changes CO-1 first and commits last.
	tx1, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	setStatus(tx1, "CO-1-1", "CHARGING")
	time.Sleep(20 * time.Millisecond)
	tx2, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	setStatus(tx2, "CO-2-1", "CHARGING")
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
	// A partner syncs now and sees the second change.
	var seen Location
	res := e.ocpi("GET", "/ocpi/2.2.1/locations/"+late, token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationGet, res.Body)
	res.data(t, &seen)
	if seen.EVSEs[0].Status != "CHARGING" || !millisecondStamp.MatchString(seen.LastUpdated) || !millisecondStamp.MatchString(seen.EVSEs[0].LastUpdated) ||
		!millisecondStamp.MatchString(seen.EVSEs[0].Connectors[0].LastUpdated) {
		t.Fatalf("after the second commit: %+v", seen)
	}
	time.Sleep(20 * time.Millisecond)
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	var first Location
	res = e.ocpi("GET", "/ocpi/2.2.1/locations/"+early, token, nil).must(t, 200)
	mustMatchOAS(t, oasLocationGet, res.Body)
	res.data(t, &first)
	if first.EVSEs[0].Status != "CHARGING" || first.EVSEs[0].LastUpdated <= seen.EVSEs[0].LastUpdated || first.LastUpdated <= seen.LastUpdated {
		t.Errorf("committed last: last_updated %s (EVSE %s), not later than %s, committed before", first.LastUpdated, first.EVSEs[0].LastUpdated, seen.LastUpdated)
	}
	// The next incremental sync from the latest last_updated seen finds the late commit; at
	// millisecond precision date_from is inclusive and date_to exclusive.
	locs := e.pull(token, "date_from="+url.QueryEscape(seen.LastUpdated), nil)
	if _, ok := find(locs, "NL", "EVR", early); !ok {
		t.Errorf("date_from=%s misses the change committed after it was seen: %+v", seen.LastUpdated, locs)
	}
	next, _ := schema.ParseDateTime(seen.LastUpdated)
	locs = e.pull(token, "date_from="+url.QueryEscape(next.Add(time.Millisecond).Format(time.RFC3339Nano)), nil)
	if len(locs) != 1 || locs[0].ID != early {
		t.Errorf("date_from one millisecond after %s: %+v", seen.LastUpdated, locs)
	}
	locs = e.pull(token, "date_to="+url.QueryEscape(seen.LastUpdated), nil)
	if _, ok := find(locs, "NL", "EVR", late); ok {
		t.Errorf("date_to=%s is not exclusive", seen.LastUpdated)
	}
	locs = e.pull(token, "date_to="+url.QueryEscape(next.Add(time.Millisecond).Format(time.RFC3339Nano)), nil)
	if _, ok := find(locs, "NL", "EVR", late); !ok {
		t.Errorf("date_to one millisecond after %s misses it", seen.LastUpdated)
	}
}

// TestPullWindowShrinks: locations already pulled that change during a date_to pull leave the
// window, so the total shrinks and plain offsets would skip what follows them. The Link
// carries evroam's cursor, and the pull gets every location that was in the window when it
// started and is still in it.
func TestPullWindowShrinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	token := e.registerPartner(f, "eMSP")
	if err := e.seedSites("WS-", 0, 60); err != nil {
		t.Fatal(err)
	}
	var end time.Time
	if err := e.db.Get(&end, `SELECT max(last_updated) + interval '1 millisecond' FROM ocpi_locations`); err != nil {
		t.Fatal(err)
	}
	window := "limit=20&date_to=" + url.QueryEscape(end.UTC().Format(time.RFC3339Nano))
	var pulled []Location
	got := e.pull(token, window, func(page int) {
		if page != 1 {
			return
		}
		// After the second page, 30 of the 40 pulled locations change: they leave the window.
		var batch []evse.StatusChange
		for i := range 30 {
			batch = append(batch, evse.StatusChange{Identity: fmt.Sprintf("WS-S%04d", i), SequenceNumber: 1, OCPPStatus: "Charging", Status: "CHARGING", At: time.Now()})
		}
		if _, _, _, err := e.evses.SetStatuses(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	})
	pulled = append(pulled, got...)
	if len(pulled) != 60 {
		t.Fatalf("pulled %d locations, want 60 (40 before the change, the 20 after them)", len(pulled))
	}
	for i, l := range pulled {
		if want := fmt.Sprintf("WS-%04d", i); l.ID != want {
			t.Fatalf("location %d is %s, want %s", i, l.ID, want)
		}
	}
	// Plain offsets, by contrast, skip: the third page by offset starts in the shrunk list.
	res := e.ocpi("GET", "/ocpi/2.2.1/locations?offset=40&"+window, token, nil).must(t, 200)
	var page []Location
	res.data(t, &page)
	if res.Header.Get("X-Total-Count") != "30" || len(page) != 0 {
		t.Errorf("offset=40 after the change: total %s, %d locations", res.Header.Get("X-Total-Count"), len(page))
	}
}

// TestConcurrentPublishersNeverDeadlock: transactions that publish overlapping locations at
// once (status batches over many stations, station moves between locations) take turns per
// location and never deadlock, and what is published afterwards is what the registry holds.
func TestConcurrentPublishersNeverDeadlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var locs []string
	for i := range 4 {
		locs = append(locs, e.location(fmt.Sprintf("Site %d", i)))
	}
	var stations []string
	for i := range 12 {
		id := fmt.Sprintf("CC-%02d", i)
		e.station(id, locs[i%len(locs)], "Production", 2)
		stations = append(stations, id)
	}
	statuses := []schema.Status{schema.StatusAvailable, schema.StatusCharging, schema.StatusOutOfOrder}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for range 25 {
				// A batch of status reports over stations of every location, in id order as the
				// gateway sends them.
				var cs []evse.StatusChange
				for _, id := range stations {
					if rnd.IntN(2) == 0 {
						s := statuses[rnd.IntN(len(statuses))]
						cs = append(cs, evse.StatusChange{Identity: id, SequenceNumber: 1 + rnd.IntN(2), OCPPStatus: "x", Status: s, At: time.Now()})
					}
				}
				if _, _, _, err := e.evses.SetStatuses(t.Context(), cs); err != nil {
					errs <- err
					return
				}
				// Now and then a station moves to another location.
				if rnd.IntN(5) == 0 {
					id, to := stations[rnd.IntN(len(stations))], locs[rnd.IntN(len(locs))]
					if _, err := e.db.Exec(`UPDATE charge_stations SET location_id = $2 WHERE id = $1`, id, to); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent publisher: %v", err)
	}
	// Every live published EVSE is in its station's location with the registry's status.
	var wrong []string
	if err := e.db.Select(&wrong, `
		SELECT e.uid FROM evses e JOIN charge_stations cs ON cs.id = e.charge_station_id
		LEFT JOIN ocpi_evses p ON p.evse_uid = e.uid AND p.live
		LEFT JOIN ocpi_locations c ON c.seq = p.location_seq
		WHERE c.location_id IS DISTINCT FROM cs.location_id OR p.status IS DISTINCT FROM ocpi_evse_status(e, cs)`); err != nil {
		t.Fatal(err)
	}
	if len(wrong) > 0 {
		t.Errorf("published EVSEs that differ from the registry: %v", wrong)
	}
	var placeholders int
	if err := e.db.Get(&placeholders, `SELECT (SELECT count(*) FROM ocpi_locations WHERE last_updated = 'infinity')
		+ (SELECT count(*) FROM ocpi_evses WHERE last_updated = 'infinity')`); err != nil || placeholders != 0 {
		t.Errorf("%d placeholder stamps left (%v)", placeholders, err)
	}
}
