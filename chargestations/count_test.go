package chargestations_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// TestDateWindowTotalsOfALargeRegistry: a list filtered by date only counts the smaller of the
// window and what lies outside it (past 10,000 rows a side), and its X-Total-Count is right on
// every path: an incremental sync (a small window), a sync from far back (all stations less
// the few older ones, from the kept counts), and a window in the middle (counted in full).
func TestDateWindowTotalsOfALargeRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	first := e.mustStations(loc, "CS-BULK", 1)[0]
	// 10,100 copies of the station, changed one second apart from t0 on: more than a side
	// CountWindow reads before it looks at the other.
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const copies = 10_100
	if _, err := e.DB.Exec(`
		INSERT INTO charge_stations
		SELECT copy.* FROM charge_stations cs, generate_series(1, $3::int) g,
			LATERAL jsonb_populate_record(NULL::charge_stations, to_jsonb(cs) || jsonb_build_object(
				'id', 'CS-COPY-' || g, 'last_updated', $2::timestamptz + g * interval '1 second',
				'station_last_updated', $2::timestamptz + g * interval '1 second')) AS copy
		WHERE cs.id = $1`, first, t0, copies); err != nil {
		t.Fatal(err)
	}
	at := func(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(time.RFC3339) }
	for _, c := range []struct {
		name, query string
		column      string
		from        string
	}{
		{"from far back", "date_from=" + at(-3600), "last_updated", at(-3600)},
		{"from just after the oldest", "date_from=" + at(100), "last_updated", at(100)},
		{"from the middle", "date_from=" + at(5000), "last_updated", at(5000)},
		{"recent", "date_from=" + at(copies-3), "last_updated", at(copies - 3)},
		{"station changes from far back", "exclude_evses_modified=true&date_from=" + at(50), "station_last_updated", at(50)},
	} {
		var want int
		if err := e.DB.Get(&want, `SELECT count(*) FROM charge_stations WHERE `+c.column+` >= $1`, c.from); err != nil {
			t.Fatal(err)
		}
		r := e.Do(http.MethodGet, "/api/v1/chargestations?limit=1&"+c.query, nil).Must(t, http.StatusOK)
		if got, _ := strconv.Atoi(r.Header.Get("X-Total-Count")); got != want {
			t.Errorf("%s (%s): X-Total-Count %d, want %d", c.name, url.QueryEscape(c.query), got, want)
		}
	}
}
