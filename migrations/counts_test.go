package migrations_test

import (
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
)

// TestListCountsFollowBulkWrites: X-Total-Count comes from list_counts, so the counts must
// match the rows after statements that insert and delete many rows of several networks at
// once (a bulk import, a network deleted with its stations).
func TestListCountsFollowBulkWrites(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`INSERT INTO networks (id, name, country_code, party_id, parent_id, created, last_updated)
		VALUES ('00000000-0000-4000-8000-000000000001', 'root', 'NL', 'EVR', NULL, now(), now())`)
	mustExec(`INSERT INTO networks (id, name, country_code, party_id, parent_id, created, last_updated) VALUES
		('00000000-0000-4000-8000-00000000000a', 'a', 'NL', 'AAA', '00000000-0000-4000-8000-000000000001', now(), now()),
		('00000000-0000-4000-8000-00000000000b', 'b', 'NL', 'BBB', '00000000-0000-4000-8000-000000000001', now(), now())`)
	mustExec(`INSERT INTO locations (id, network_id, name, address, city, postal_code, country, latitude, longitude,
		time_zone, parking_type, facilities, etag, created, last_updated)
		SELECT 'L' || i, CASE WHEN i % 3 = 0 THEN '00000000-0000-4000-8000-00000000000a'::uuid ELSE '00000000-0000-4000-8000-00000000000b'::uuid END,
			'site', 'street', 'city', '1000', 'NLD', '52.0', '4.0', 'Europe/Amsterdam', 'ON_STREET', '{}', gen_random_uuid(), now(), now()
		FROM generate_series(0, 29) AS i`)
	mustExec(`INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id,
		charger_type, security_profile, etag, created, last_updated, station_last_updated)
		SELECT 'S' || i, l.network_id, l.id, 'Stock', 'T', 'Public', 1, gen_random_uuid(), now(), now(), now()
		FROM generate_series(0, 2999) AS i JOIN locations l ON l.id = 'L' || (i % 30)`)
	mustExec(`DELETE FROM charge_stations WHERE id LIKE 'S1%'`)
	mustExec(`DELETE FROM charge_stations WHERE location_id IN ('L1', 'L2', 'L3')`)
	mustExec(`DELETE FROM locations WHERE id IN ('L1', 'L2', 'L3')`)

	var wrong []string
	err := db.Select(&wrong, `
		WITH actual AS (
			SELECT 'charge_stations' AS kind, network_id, count(*) AS n FROM charge_stations GROUP BY network_id
			UNION ALL SELECT 'locations', network_id, count(*) FROM locations GROUP BY network_id
		), counted AS (
			SELECT kind, network_id, sum(n) AS n FROM list_counts
			WHERE kind IN ('charge_stations', 'locations') GROUP BY kind, network_id
		)
		SELECT coalesce(a.kind, c.kind) || ' ' || coalesce(a.network_id, c.network_id) || ': ' ||
			coalesce(a.n, 0) || ' rows, counted ' || coalesce(c.n, 0)
		FROM actual a FULL JOIN counted c ON c.kind = a.kind AND c.network_id = a.network_id
		WHERE coalesce(a.n, 0) <> coalesce(c.n, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrong {
		t.Error(w)
	}
	var stations int
	if err := db.Get(&stations, `SELECT count(*) FROM charge_stations`); err != nil || stations == 3000 || stations == 0 {
		t.Fatalf("stations left: %d (%v): the deletes did not run", stations, err)
	}
}
