package migrations_test

import (
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/migrations"
)

// TestConfigurationsKeptAcross0031: migration 0031 turns the rows of station_configuration
// (one per key) into one document per station, and its down migration turns them back, with
// every field, a missing value and the time it was recorded kept.
func TestConfigurationsKeptAcross0031(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	mustExec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Back to 0030, the schema the rows below were written in.
	if err := migrations.Down(ctx, db.DB, migrations.Latest()-30); err != nil {
		t.Fatalf("down to 0030: %v", err)
	}
	insertLocation(t, db)
	mustExec(`INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id,
		charger_type, security_profile, etag, created, last_updated, station_last_updated)
		SELECT id, '00000000-0000-4000-8000-000000000001', 'L', 'Stock', 'T', 'Public', 1, gen_random_uuid(), now(), now(), now()
		FROM unnest(ARRAY['S1', 'S2', 'S3']) AS id`)
	const rows = `
		('S1', 'HeartbeatInterval', '300', false, false, NULL, NULL, NULL, '2026-11-30T10:00:00.123456Z'),
		('S1', 'AuthorizationKey', NULL, false, false, NULL, NULL, 'WriteOnly', '2026-11-30T10:00:01Z'),
		('S2', 'OCPPCommCtrlr.HeartbeatInterval', '60', true, false, 'OCPPCommCtrlr', 'HeartbeatInterval', 'ReadOnly', '2026-11-30T10:00:02Z'),
		('S2', 'Vendor.Unknown', NULL, false, true, NULL, NULL, NULL, '2026-11-30T10:00:03Z')`
	mustExec(`INSERT INTO station_configuration (charge_station_id, key, value, readonly, unknown, component, variable,
		mutability, updated) VALUES` + rows)
	const asRows = `SELECT charge_station_id, key, coalesce(value, '<none>') AS value, readonly, unknown,
		coalesce(component, '') AS component, coalesce(variable, '') AS variable, coalesce(mutability, '') AS mutability,
		to_char(updated AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS updated
		FROM station_configuration ORDER BY 1, 2`
	type row struct {
		Station    string `db:"charge_station_id"`
		Key        string `db:"key"`
		Value      string `db:"value"`
		ReadOnly   bool   `db:"readonly"`
		Unknown    bool   `db:"unknown"`
		Component  string `db:"component"`
		Variable   string `db:"variable"`
		Mutability string `db:"mutability"`
		Updated    string `db:"updated"`
	}
	var before []row
	if err := db.Select(&before, asRows); err != nil || len(before) != 4 {
		t.Fatalf("before: %d rows (%v)", len(before), err)
	}

	if err := migrations.Up(ctx, db.DB); err != nil {
		t.Fatalf("up: %v", err)
	}
	var docs []struct {
		Station string `db:"charge_station_id"`
		Keys    int    `db:"keys"`
	}
	if err := db.Select(&docs, `SELECT charge_station_id, (SELECT count(*) FROM jsonb_object_keys(keys)) AS keys
		FROM station_configurations ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Station != "S1" || docs[0].Keys != 2 || docs[1].Station != "S2" || docs[1].Keys != 2 {
		t.Errorf("after 0031: %+v, want S1 and S2 with two keys each", docs)
	}

	if err := migrations.Down(ctx, db.DB, migrations.Latest()-30); err != nil { // 0031 and those after it
		t.Fatalf("down: %v", err)
	}
	var after []row
	if err := db.Select(&after, asRows); err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("after down: %d rows, want %d", len(after), len(before))
	}
	for i := range before {
		if after[i] != before[i] {
			t.Errorf("row %d: %+v after up and down, want %+v", i, after[i], before[i])
		}
	}
}
