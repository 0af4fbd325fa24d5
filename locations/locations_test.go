package locations_test

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
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/locations"
	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newEnv(t *testing.T) *apitest.Env {
	return apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		locations.NewHandler(locations.NewService(db, locations.NewStore(db), chargestations.NewStore(db), nil), evse.NewStore(db)).Routes(v1)
	})
}

type location struct {
	ID          string            `json:"id"`
	NetworkID   string            `json:"network_id"`
	Name        string            `json:"name"`
	Address     string            `json:"address"`
	City        string            `json:"city"`
	PostalCode  *string           `json:"postal_code"`
	Country     string            `json:"country"`
	Coordinates map[string]string `json:"coordinates"`
	TimeZone    string            `json:"time_zone"`
	ParkingType *string           `json:"parking_type"`
	Facilities  []string          `json:"facilities"`
	Publish     bool              `json:"publish"`
	EVSEs       []any             `json:"evses"`
	ETag        string            `json:"etag"`
	Created     string            `json:"created"`
	LastUpdated string            `json:"last_updated"`
}

func validLocation(name string) map[string]any {
	return map[string]any{
		"name": name, "address": "Stationsplein 1", "city": "Amsterdam", "postal_code": "1012AB",
		"country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates":  map[string]string{"latitude": "52.37888", "longitude": "4.90055"},
		"parking_type": "PARKING_GARAGE", "facilities": []string{"TRAIN_STATION"},
	}
}

func create(t *testing.T, e *apitest.Env, key string, body map[string]any) location {
	t.Helper()
	var l location
	e.DoKey(key, "POST", "/api/v1/locations", body).Must(t, http.StatusCreated).Decode(t, &l)
	return l
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	resp := e.Do("POST", "/api/v1/locations", validLocation("Central")).Must(t, http.StatusCreated)
	var l location
	resp.Decode(t, &l)
	if l.ID == "" || l.ETag == "" || !strings.HasSuffix(l.LastUpdated, "Z") || l.NetworkID != e.Root.ID.String() {
		t.Fatalf("created location lacks generated fields: %+v", l)
	}
	if got := resp.Header.Get("ETag"); got != `"`+l.ETag+`"` {
		t.Errorf("ETag header = %q, want %q", got, l.ETag)
	}
	if resp.StatusCode != 1000 || resp.StatusMessage != "Success" || resp.Timestamp == "" {
		t.Errorf("envelope = %d %q %q", resp.StatusCode, resp.StatusMessage, resp.Timestamp)
	}

	var got location
	e.Do("GET", "/api/v1/locations/"+l.ID, nil).Must(t, http.StatusOK).Decode(t, &got)
	if diff := cmp.Diff(l, got); diff != "" {
		t.Errorf("GET mismatch (-created +got):\n%s", diff)
	}
	if got.EVSEs == nil {
		t.Errorf("GET /locations/{id} should carry an evses list")
	}

	// PUT the GET body back with one change and without postal_code: it is cleared.
	body := validLocation("Central renamed")
	delete(body, "postal_code")
	body["etag"] = l.ETag
	body["created"] = "garbage that is ignored"
	var put location
	e.Do("PUT", "/api/v1/locations/"+l.ID, body).Must(t, http.StatusOK).Decode(t, &put)
	if put.Name != "Central renamed" || put.PostalCode != nil || put.ETag == l.ETag || put.Created != l.Created {
		t.Errorf("PUT result = %+v", put)
	}

	// PATCH one field: everything else stays.
	var patched location
	e.Do("PATCH", "/api/v1/locations/"+l.ID, `{"city": "Utrecht"}`).Must(t, http.StatusOK).Decode(t, &patched)
	want := put
	want.City, want.ETag, want.LastUpdated = "Utrecht", patched.ETag, patched.LastUpdated
	if diff := cmp.Diff(want, patched); diff != "" {
		t.Errorf("PATCH changed more than city (-want +got):\n%s", diff)
	}

	e.Do("DELETE", "/api/v1/locations/"+l.ID, nil).Must(t, http.StatusNoContent)
	r := e.Do("GET", "/api/v1/locations/"+l.ID, nil).Must(t, http.StatusNotFound)
	if r.StatusCode != 2003 {
		t.Errorf("unknown location status_code = %d, want 2003", r.StatusCode)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, test := range []struct {
		name       string
		body       any
		wantStatus int
		wantFields []string
	}{
		{"three bad fields", func() map[string]any {
			b := validLocation("x")
			b["country"] = "NL"
			b["time_zone"] = "Mars/Olympus"
			b["coordinates"] = map[string]string{"latitude": "52.3", "longitude": "4.90055"}
			return b
		}(), 422, []string{"country", "coordinates.latitude", "time_zone"}},
		{"missing required", map[string]any{"name": "x"}, 422, []string{"address", "city", "country", "coordinates", "time_zone"}},
		{"malformed JSON", `{"name": "x",`, 400, nil},
		{"unknown field", func() map[string]any { b := validLocation("x"); b["colour"] = "red"; return b }(), 422, []string{"colour"}},
		{"unknown field and bad value together", func() map[string]any {
			b := validLocation("x")
			b["colour"] = "red"
			b["parking_type"] = "on_street"
			return b
		}(), 422, []string{"colour", "parking_type"}},
		{"wrong enum case", func() map[string]any { b := validLocation("x"); b["facilities"] = []string{"train_station"}; return b }(), 422, []string{"facilities[0]"}},
		{"wrong JSON type", func() map[string]any { b := validLocation("x"); b["name"] = 12; b["publish"] = "yes"; return b }(), 422, []string{"name", "publish"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			r := e.Do("POST", "/api/v1/locations", test.body).Must(t, test.wantStatus)
			if r.StatusCode != 2001 {
				t.Errorf("status_code = %d, want 2001", r.StatusCode)
			}
			if diff := cmp.Diff(test.wantFields, r.Fields(), cmpEmpty); diff != "" {
				t.Errorf("error fields mismatch (-want +got):\n%s\nbody: %s", diff, r.Body)
			}
			for _, fe := range r.Errors {
				if fe.Message == "" {
					t.Errorf("field %s has no message", fe.Field)
				}
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal([]string(a), []string(b)) })

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	for i := range 250 {
		create(t, e, e.Key, validLocation(fmt.Sprintf("loc %03d", i)))
	}
	next := "/api/v1/locations?limit=100&date_from=" + url.QueryEscape(start)
	var sizes []int
	seen := map[string]bool{}
	for next != "" {
		r := e.Do("GET", next, nil).Must(t, http.StatusOK)
		var page []location
		r.Decode(t, &page)
		sizes = append(sizes, len(page))
		for _, l := range page {
			if seen[l.ID] {
				t.Fatalf("location %s on two pages", l.ID)
			}
			seen[l.ID] = true
		}
		if r.Header.Get("X-Total-Count") != "250" {
			t.Errorf("X-Total-Count = %q, want 250", r.Header.Get("X-Total-Count"))
		}
		next = ""
		if link := r.Header.Get("Link"); link != "" {
			u := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			parsed, err := url.Parse(u)
			if err != nil || !parsed.IsAbs() {
				t.Fatalf("Link %q is not an absolute URL", link)
			}
			if parsed.Query().Get("date_from") != start {
				t.Errorf("Link %q lost date_from", link)
			}
			next = u
		}
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("page sizes mismatch (-want +got):\n%s", diff)
	}

	r := e.Do("GET", "/api/v1/locations?limit=5000", nil).Must(t, http.StatusOK)
	var all []location
	r.Decode(t, &all)
	if len(all) != 250 || r.Header.Get("X-Limit") != "1000" || r.Header.Get("Link") != "" {
		t.Errorf("limit=5000: got %d items, X-Limit %q, Link %q; want 250, 1000, none", len(all), r.Header.Get("X-Limit"), r.Header.Get("Link"))
	}

	for _, bad := range []string{"limit=abc", "offset=-1", "date_from=yesterday"} {
		e.Do("GET", "/api/v1/locations?"+bad, nil).Must(t, http.StatusBadRequest)
	}
}

func TestDateWindowBoundaries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := create(t, e, e.Key, validLocation("a"))
	time.Sleep(2 * time.Millisecond)
	b := create(t, e, e.Key, validLocation("b"))
	ids := func(query string) []string {
		var page []location
		e.Do("GET", "/api/v1/locations?"+query, nil).Must(t, http.StatusOK).Decode(t, &page)
		var out []string
		for _, l := range page {
			out = append(out, l.Name)
		}
		return out
	}
	q := func(k, v string) string { return k + "=" + url.QueryEscape(v) }
	if diff := cmp.Diff([]string{"b"}, ids(q("date_from", b.LastUpdated))); diff != "" {
		t.Errorf("date_from is inclusive (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, ids(q("date_to", b.LastUpdated))); diff != "" {
		t.Errorf("date_to is exclusive (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, ids(q("date_from", a.LastUpdated)+"&"+q("date_to", b.LastUpdated))); diff != "" {
		t.Errorf("window [a, b) (-want +got):\n%s", diff)
	}
}

func TestETags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := create(t, e, e.Key, validLocation("etag"))
	path := "/api/v1/locations/" + l.ID

	e.Do("PUT", path, validLocation("no etag")).Must(t, http.StatusPreconditionRequired)
	stale := validLocation("stale")
	stale["etag"] = "00000000-0000-0000-0000-000000000000"
	e.Do("PUT", path, stale).Must(t, http.StatusPreconditionFailed)
	e.Do("PATCH", path, `{"name": "stale", "etag": "00000000-0000-0000-0000-000000000000"}`).Must(t, http.StatusPreconditionFailed)
	// If-Match works as well as the body field.
	var viaHeader location
	e.Do("PUT", path, validLocation("if-match"), `If-Match: "`+l.ETag+`"`).Must(t, http.StatusOK).Decode(t, &viaHeader)

	// 20 concurrent PUTs with the same etag: exactly one wins.
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := validLocation(fmt.Sprintf("writer %d", i))
			body["etag"] = viaHeader.ETag
			statuses[i] = e.Do("PUT", path, body).Status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusOK] != 1 || counts[http.StatusPreconditionFailed] != 19 {
		t.Errorf("statuses of 20 concurrent PUTs = %v, want one 200 and nineteen 412", counts)
	}
}

func TestConcurrentPatchesLoseNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := create(t, e, e.Key, validLocation("patch"))
	fields := map[string]string{"name": "N", "address": "A", "city": "C", "postal_code": "P", "state": "S"}
	var wg sync.WaitGroup
	for f, v := range fields {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Do("PATCH", "/api/v1/locations/"+l.ID, map[string]string{f: v}).Must(t, http.StatusOK)
		}()
	}
	wg.Wait()
	var got map[string]any
	e.Do("GET", "/api/v1/locations/"+l.ID, nil).Must(t, http.StatusOK).Decode(t, &got)
	for f, v := range fields {
		if got[f] != v {
			t.Errorf("%s = %v after concurrent PATCHes, want %q", f, got[f], v)
		}
	}
}

func TestNetworkIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netA, keyA := e.Network(e.Root.ID, "AAA")
	_, keyB := e.Network(e.Root.ID, "BBB")
	a := create(t, e, keyA, validLocation("of A"))
	if a.NetworkID != netA.ID.String() {
		t.Fatalf("location of key A is in network %s, want %s", a.NetworkID, netA.ID)
	}

	var listB []location
	e.DoKey(keyB, "GET", "/api/v1/locations", nil).Must(t, http.StatusOK).Decode(t, &listB)
	if len(listB) != 0 {
		t.Errorf("key B lists %d locations of A", len(listB))
	}
	body := validLocation("hijack")
	body["etag"] = a.ETag
	path := "/api/v1/locations/" + a.ID
	e.DoKey(keyB, "GET", path, nil).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "PUT", path, body).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "PATCH", path, `{"name": "hijack"}`).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "DELETE", path, nil).Must(t, http.StatusNotFound)
	// B cannot move its own location into A's network either.
	b := create(t, e, keyB, validLocation("of B"))
	r := e.DoKey(keyB, "PATCH", "/api/v1/locations/"+b.ID, map[string]string{"network_id": netA.ID.String()}).Must(t, 422)
	if diff := cmp.Diff([]string{"network_id"}, r.Fields()); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}

	// A's location is untouched, and the root key (the parent network) sees it.
	var still location
	e.Do("GET", path, nil).Must(t, http.StatusOK).Decode(t, &still)
	if still.Name != "of A" || still.ETag != a.ETag {
		t.Errorf("A's location changed: %+v", still)
	}

	e.DoKey("", "GET", "/api/v1/locations", nil).Must(t, http.StatusUnauthorized)
	e.DoKey("wrong-key-0123456789", "GET", "/api/v1/locations", nil).Must(t, http.StatusUnauthorized)
	e.DoKey("", "GET", "/api/v1/locations", nil, "Authorization: Token "+keyA).Must(t, http.StatusOK)
}
