package migrations_test

import (
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
)

// TestGatewayFunctionsStayIndexLookups: gateway_stations and cluster_write_sessions (0034)
// keep the plan they made at their first call for as long as the connection lives. Made on
// a new database, when the tables are empty, that plan must still read only the rows of the
// stations asked about once the tables hold thousands: a reconnect storm calls them hundreds
// of times a second.
func TestGatewayFunctionsStayIndexLookups(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.SetMaxOpenConns(1) // one connection: the one whose plans are kept
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const sid = "00000000-0000-4000-8000-00000000000"
	lookup := `SELECT id, has_configuration, has_operators FROM gateway_stations($1::text[]) ORDER BY id`
	write := `SELECT cluster_write_sessions('node-a', $1::text[], $2::uuid[], $3::text[], $4::timestamptz[],
		$5::text[], $6::uuid[], '{}', '{}', '{}')`
	type found struct {
		ID     string `db:"id"`
		Config bool   `db:"has_configuration"`
		Ops    bool   `db:"has_operators"`
	}

	// First calls, on empty tables: the plans are made now.
	var none []found
	if err := db.Select(&none, lookup, "{S1}"); err != nil || len(none) != 0 {
		t.Fatalf("lookup on an empty database: %v %v", none, err)
	}
	mustExec(write, "{}", "{}", "{}", "{}", "{}", "{}")

	insertLocation(t, db)
	mustExec(`INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id,
		charger_type, security_profile, etag, created, last_updated, station_last_updated)
		SELECT 'S' || i, '00000000-0000-4000-8000-000000000001', 'L', 'Stock', 'T', 'Public', 1, gen_random_uuid(), now(), now(), now()
		FROM generate_series(1, 3000) AS i`)
	// Every station but S2 has its configuration on record; only S1 has an operator; every
	// station is held by node-b.
	mustExec(`INSERT INTO station_configurations (charge_station_id, keys)
		SELECT 'S' || i, '{}' FROM generate_series(1, 3000) AS i WHERE i <> 2`)
	mustExec(`INSERT INTO station_operators (id, charge_station_id, name, url, role, created, last_updated)
		VALUES (gen_random_uuid(), 'S1', 'Other Co', 'ws://operator.example/ocpp', 'DataAndControl', now(), now())`)
	mustExec(`INSERT INTO station_sessions (charge_station_id, node_id, session_id, protocol_version, connected_at)
		SELECT 'S' || i, 'node-b', gen_random_uuid(), 'ocpp1.6', now() FROM generate_series(1, 3000) AS i`)

	tx := db.MustBegin()
	defer tx.Rollback()
	// Rows read from the tables the functions read, by scans and through indexes, as this
	// backend counts them (counts of earlier statements not yet reported are included, so
	// the test compares before and after).
	rowsRead := func() int64 {
		t.Helper()
		var n int64
		if err := tx.Get(&n, `SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) FROM pg_stat_xact_user_tables
			WHERE relname IN ('charge_stations', 'station_configurations', 'station_operators', 'station_sessions')`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := rowsRead()
	var got []found
	if err := tx.Select(&got, lookup, "{S1,S2,S3,NOBODY}"); err != nil {
		t.Fatal(err)
	}
	want := []found{{"S1", true, true}, {"S2", false, false}, {"S3", true, false}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("gateway_stations = %+v, want %+v", got, want)
	}
	// node-a claims S1 and S2 (node-b is told to drop them) and releases a session it never had.
	if _, err := tx.Exec(write, "{S1,S2}", "{"+sid+"1,"+sid+"2}", "{ocpp1.6,ocpp2.0.1}", "{2026-12-01T10:00:00Z,2026-12-01T10:00:00Z}",
		"{S3}", "{"+sid+"3}"); err != nil {
		t.Fatal(err)
	}
	// Bounded by the stations asked about, not by the 3,000 rows of each table.
	if n := rowsRead() - before; n > 50 {
		t.Errorf("looking up 4 stations and claiming 2 read %d rows, want a few per station", n)
	}
	var held int
	if err := tx.Get(&held, `SELECT count(*) FROM station_sessions WHERE node_id = 'node-a'`); err != nil || held != 2 {
		t.Fatalf("node-a holds %d stations (%v), want 2", held, err)
	}
}
