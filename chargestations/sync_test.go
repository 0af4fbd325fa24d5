package chargestations_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/schema"
)

// mustStations registers n stations at loc through the service (fast), ids prefix-0000 ….
func (e *env) mustStations(loc, prefix string, n int) []string {
	e.T.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				_, err := e.Service.Create(e.T.Context(), []uuidT{e.Root.ID}, chargestations.Draft{
					Station: chargestations.ChargeStation{ID: id, LocationID: loc, DeployState: schema.DeployProduction,
						DefaultTariffID: loc, ChargerType: schema.ChargerPublic, SecurityProfile: schema.DefaultSecurityProfile},
					EVSEs: []evse.EVSE{{SequenceNumber: 1, Connectors: []evse.Connector{{ID: "1",
						Standard: schema.ConnectorIEC62196T2, Format: schema.FormatSocket, PowerType: schema.PowerAC3Phase,
						MaxVoltage: 230, MaxAmperage: 16}}}},
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		e.T.Fatalf("create station: %v", err)
	}
	return ids
}

// mark returns a date_from value after every change so far.
func mark(t *testing.T) time.Time {
	t.Helper()
	m := database.Timestamp(time.Now())
	time.Sleep(2 * time.Millisecond)
	return m
}

func listIDs(t *testing.T, e *env, query string) ([]string, *listResponse) {
	t.Helper()
	r := e.Do(http.MethodGet, "/api/v1/chargestations?"+query, nil).Must(t, http.StatusOK)
	var list []stationJSON
	r.Decode(t, &list)
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ChargeStationID
	}
	return ids, &listResponse{total: r.Header.Get("X-Total-Count"), limit: r.Header.Get("X-Limit"), link: r.Header.Get("Link")}
}

type listResponse struct{ total, limit, link string }

func TestSyncDateFrom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	ids := e.mustStations(loc, "SYNC", 1000)

	_, all := listIDs(t, e, "limit=5")
	if all.total != "1000" || all.limit != "1000" || !strings.Contains(all.link, `rel="next"`) {
		t.Fatalf("unfiltered list headers = %+v, want X-Total-Count 1000, X-Limit 1000 and a next link", all)
	}

	from := mark(t)
	var changed []string
	for i := 0; i < 1000; i += 100 { // 10 stations, changed through the API
		id := ids[i+7]
		e.Do(http.MethodPatch, "/api/v1/chargestations/"+id, map[string]any{"remarks": "moved"}).Must(t, http.StatusOK)
		changed = append(changed, id)
	}
	q := "date_from=" + url.QueryEscape(from.Format(time.RFC3339Nano))
	got, h := listIDs(t, e, q+"&limit=1000")
	if h.total != "10" || fmt.Sprint(got) != fmt.Sprint(changed) || h.link != "" {
		t.Errorf("date_from list = %v (X-Total-Count %s, Link %q), want %v in change order, total 10, no next link", got, h.total, h.link, changed)
	}
	// Paging keeps the filter: 4 + 4 + 2.
	var paged []string
	next := "/api/v1/chargestations?" + q + "&limit=4"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		r := e.Do(http.MethodGet, next, nil).Must(t, http.StatusOK)
		if r.Header.Get("X-Total-Count") != "10" {
			t.Errorf("page X-Total-Count = %s, want 10", r.Header.Get("X-Total-Count"))
		}
		var list []stationJSON
		r.Decode(t, &list)
		for _, s := range list {
			paged = append(paged, s.ChargeStationID)
		}
		next = ""
		if l := r.Header.Get("Link"); l != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint(changed) {
		t.Errorf("paged through %v, want %v", paged, changed)
	}
	// date_to is exclusive: up to from, everything but the 10.
	if _, h := listIDs(t, e, "limit=1&date_to="+url.QueryEscape(from.Format(time.RFC3339Nano))); h.total != "990" {
		t.Errorf("date_to total = %s, want 990", h.total)
	}

	// An EVSE change counts for date_from, unless exclude_evses_modified=true.
	from2 := mark(t)
	e.Do(http.MethodPatch, "/api/v1/chargestations/"+ids[3]+"/evses/"+ids[3]+"-1", map[string]any{"physical_reference": "A1"}).Must(t, http.StatusOK)
	if err := e.setStatus(ids[4], 1, "Available", schema.StatusAvailable, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.Do(http.MethodPatch, "/api/v1/chargestations/"+ids[5], map[string]any{"name": "station change"}).Must(t, http.StatusOK)
	q2 := "date_from=" + url.QueryEscape(from2.Format(time.RFC3339Nano))
	if got, h := listIDs(t, e, q2); fmt.Sprint(got) != fmt.Sprint([]string{ids[3], ids[4], ids[5]}) || h.total != "3" {
		t.Errorf("date_from after EVSE changes = %v (total %s), want %v", got, h.total, []string{ids[3], ids[4], ids[5]})
	}
	if got, h := listIDs(t, e, q2+"&exclude_evses_modified=true"); fmt.Sprint(got) != fmt.Sprint([]string{ids[5]}) || h.total != "1" {
		t.Errorf("date_from with exclude_evses_modified = %v (total %s), want [%s]", got, h.total, ids[5])
	}

	// Other filters.
	if got, _ := listIDs(t, e, "status=AVAILABLE"); fmt.Sprint(got) != fmt.Sprint([]string{ids[4]}) {
		t.Errorf("status=AVAILABLE = %v, want [%s]", got, ids[4])
	}
	if _, h := listIDs(t, e, "status=UNKNOWN&limit=1"); h.total != "999" {
		t.Errorf("status=UNKNOWN total = %s, want 999", h.total)
	}
	other := e.mustLocation(e.Key)
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("ELSEWHERE", other, dcEVSE())).Must(t, http.StatusCreated)
	if got, h := listIDs(t, e, "location_id="+other); fmt.Sprint(got) != "[ELSEWHERE]" || h.total != "1" {
		t.Errorf("location_id filter = %v (total %s)", got, h.total)
	}
	if _, h := listIDs(t, e, "onboarding_state=Pending&limit=1"); h.total != "1001" {
		t.Errorf("onboarding_state=Pending total = %s, want 1001", h.total)
	}
	if got, _ := listIDs(t, e, "connectivity_status=Online"); len(got) != 0 {
		t.Errorf("connectivity_status=Online = %v, want none", got)
	}
	for _, bad := range []string{"status=available", "onboarding_state=pending", "connectivity_status=x", "exclude_evses_modified=maybe", "date_from=yesterday", "limit=0"} {
		e.Do(http.MethodGet, "/api/v1/chargestations?"+bad, nil).Must(t, http.StatusBadRequest)
	}
}

func TestLocationUnchangedByEVSEChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-LOC", loc, "dual-ac")).Must(t, http.StatusCreated)
	locBefore := e.Do(http.MethodGet, "/api/v1/locations/"+loc+"?exclude_evses=true", nil).Must(t, http.StatusOK)
	csBefore := e.getStation(e.Key, "CS-LOC")
	time.Sleep(2 * time.Millisecond)

	if err := e.setStatus("CS-LOC", 2, "Charging", schema.StatusCharging, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-LOC/evses/CS-LOC-1", map[string]any{"floor_level": "-2"}).Must(t, http.StatusOK)

	locAfter := e.Do(http.MethodGet, "/api/v1/locations/"+loc+"?exclude_evses=true", nil).Must(t, http.StatusOK)
	if string(locAfter.Data) != string(locBefore.Data) {
		t.Errorf("location changed by EVSE changes:\nbefore %s\nafter  %s", locBefore.Data, locAfter.Data)
	}
	cs := e.getStation(e.Key, "CS-LOC")
	if cs.LastUpdated <= csBefore.LastUpdated {
		t.Errorf("station last_updated %s did not move past %s", cs.LastUpdated, csBefore.LastUpdated)
	}
	if cs.EVSEs[1].Status != "CHARGING" || cs.Status != "CHARGING" {
		t.Errorf("EVSE 2 status %s, station status %s; want CHARGING, CHARGING", cs.EVSEs[1].Status, cs.Status)
	}

	// SetStatus does not change the etag; an unknown EVSE is ErrNotFound.
	before := e.getStation(e.Key, "CS-LOC")
	if err := e.setStatus("CS-LOC", 1, "Faulted", schema.StatusOutOfOrder, time.Now()); err != nil {
		t.Fatal(err)
	}
	if after := e.getStation(e.Key, "CS-LOC"); after.ETag != before.ETag || after.EVSEs[0].Status != "OUTOFORDER" {
		t.Errorf("after SetStatus: etag %s (was %s), EVSE 1 status %s", after.ETag, before.ETag, after.EVSEs[0].Status)
	}
	for _, tc := range []struct {
		id  string
		seq int
	}{{"CS-LOC", 3}, {"CS-LOC", 0}, {"NOPE", 1}} {
		if err := e.setStatus(tc.id, tc.seq, "Available", schema.StatusAvailable, time.Now()); err != evse.ErrNotFound {
			t.Errorf("SetStatus(%s, %d) = %v, want ErrNotFound", tc.id, tc.seq, err)
		}
	}
}
