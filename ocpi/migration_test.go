package ocpi

import (
	"database/sql"
	"slices"
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/migrations"
)

// TestMigrationDownUp reverts migrations down to and including 0003 (OCPI's) and applies them
// again: the down file removes every object the up file makes, triggers on the registry
// tables included.
func TestMigrationDownUp(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func() (n int) {
		const q = `
		SELECT (SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ocpi\_%')
			+ (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ocpi\_%')
			+ (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ocpi\_%')`
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if before < 12 {
		t.Fatalf("%d OCPI tables, functions and triggers after migrating, want at least 12", before)
	}
	const ocpiMigration = 3
	if err := migrations.Down(t.Context(), db, migrations.Latest()-ocpiMigration+1); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Errorf("%d OCPI objects left after down", n)
	}
	if err := migrations.Up(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != before {
		t.Errorf("%d OCPI objects after up again, want %d", n, before)
	}
}

// TestMigration0012KeepsWhatWasPublished applies 0012 to a database that 0003's triggers
// published into: every published location becomes a copy under its network's party with its
// EVSEs (REMOVED ones included), queued pushes name their copy, partners belong to the root
// network and keep the parties our credentials named; publication then goes on from there.
// Reverting 0012 gives 0003's table back.
func TestMigration0012KeepsWhatWasPublished(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	const rebuild = 12
	if err := migrations.Down(ctx, db, migrations.Latest()-rebuild+1); err != nil {
		t.Fatal(err)
	}
	// Published by 0003: a location with a Production station, one EVSE since deleted; a
	// registered partner with a receiver and its queued pushes.
	for _, q := range []string{`
		INSERT INTO networks (id, name, country_code, party_id, created, last_updated) VALUES
			('00000000-0000-4000-8000-000000000001', 'root', 'NL', 'EVR', now(), now())`, `
		INSERT INTO networks (id, name, country_code, party_id, parent_id, created, last_updated) VALUES
			('00000000-0000-4000-8000-000000000002', 'sub', 'BE', 'SUB', '00000000-0000-4000-8000-000000000001', now(), now() + interval '1 second')`, `
		INSERT INTO ocpi_partners (id, name, initiator, state, inbound_token_hash, outbound_token, locations_url, created, last_updated)
		VALUES ('00000000-0000-4000-8000-0000000000aa', 'eMSP', 'partner', 'REGISTERED', '\x01', 'tok', 'http://127.0.0.1:1/locations', now(), now())`, `
		INSERT INTO locations (id, network_id, name, address, city, country, latitude, longitude, time_zone, etag, created, last_updated)
		VALUES ('L1', '00000000-0000-4000-8000-000000000002', 'Old site', 'a', 'c', 'BEL', '50.00000', '4.00000', 'Europe/Brussels', gen_random_uuid(), now(), now())`, `
		INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id, charger_type, etag, created, last_updated, station_last_updated)
		VALUES ('OLD-1', '00000000-0000-4000-8000-000000000002', 'L1', 'Production', 'T1', 'Public', gen_random_uuid(), now(), now(), now())`, `
		INSERT INTO evses (uid, charge_station_id, evse_sequence_number, status, connectors, last_updated)
		SELECT 'OLD-1-' || k, 'OLD-1', k, 'CHARGING', '[{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32, "last_updated": "2026-01-01T00:00:00Z"}]', now()
		FROM generate_series(1, 2) AS k`, `
		DELETE FROM evses WHERE uid = 'OLD-1-2'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var published, queued int
	db.QueryRow(`SELECT count(*) FROM ocpi_published_evses`).Scan(&published)
	db.QueryRow(`SELECT count(*) FROM ocpi_deliveries`).Scan(&queued)
	if published != 2 || queued == 0 {
		t.Fatalf("0003 published %d EVSEs and queued %d pushes, want 2 and some", published, queued)
	}

	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var copies []string
	rows, err := db.Query(`SELECT c.country_code || '*' || c.party_id || '/' || c.location_id || ' ' || e.evse_uid || ' ' || e.status || ' ' || e.live
		FROM ocpi_locations c JOIN ocpi_evses e ON e.location_seq = c.seq ORDER BY e.evse_uid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		copies = append(copies, s)
	}
	rows.Close()
	if want := []string{"BE*SUB/L1 OLD-1-1 CHARGING true", "BE*SUB/L1 OLD-1-2 REMOVED false"}; !slices.Equal(copies, want) {
		t.Errorf("copies after 0012: %q, want %q", copies, want)
	}
	var unmapped int
	db.QueryRow(`SELECT count(*) FROM ocpi_deliveries d LEFT JOIN ocpi_locations c ON c.seq = d.location_seq WHERE c.seq IS NULL`).Scan(&unmapped)
	db.QueryRow(`SELECT count(*) FROM ocpi_deliveries`).Scan(&queued)
	if queued == 0 || unmapped != 0 {
		t.Errorf("%d pushes queued, %d without their copy", queued, unmapped)
	}
	var network, announced string
	db.QueryRow(`SELECT network_id, array_to_string(announced_parties, ',') FROM ocpi_partners`).Scan(&network, &announced)
	if network != "00000000-0000-4000-8000-000000000001" || announced != "NL*EVR,BE*SUB" {
		t.Errorf("partner after 0012: network %s, announced %s", network, announced)
	}
	// Publication goes on: a status change is one PATCH for the partner.
	db.Exec(`DELETE FROM ocpi_deliveries`)
	if _, err := db.Exec(`UPDATE evses SET status = 'AVAILABLE' WHERE uid = 'OLD-1-1'`); err != nil {
		t.Fatal(err)
	}
	var kind string
	db.QueryRow(`SELECT string_agg(kind || ' ' || coalesce(evse_uid, ''), ',') FROM ocpi_deliveries`).Scan(&kind)
	if kind != "evse_status OLD-1-1" {
		t.Errorf("pushes after a status change: %q", kind)
	}

	// Reverting 0012 gives 0003's table back, statuses inside the documents.
	if err := migrations.Down(ctx, db, migrations.Latest()-rebuild+1); err != nil {
		t.Fatal(err)
	}
	var docs []string
	rows, err = db.Query(`SELECT evse_uid || ' ' || (evse->>'status') FROM ocpi_published_evses ORDER BY evse_uid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		docs = append(docs, s)
	}
	rows.Close()
	if want := []string{"OLD-1-1 AVAILABLE", "OLD-1-2 REMOVED"}; !slices.Equal(docs, want) {
		t.Errorf("ocpi_published_evses after reverting 0012: %q, want %q", docs, want)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationFindsTariffsReceivers: partners registered before 0020 get the Tariffs
// RECEIVER endpoint their stored version details list, so they are pushed tariffs without
// registering again. A new tariff then queues a push for them only; 0020 reverts and applies
// again with tariffs and their pushes in the tables.
func TestMigrationFindsTariffsReceivers(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	const tariffsMigration = 20 // migrations/0020_create_tariffs
	if err := migrations.Down(ctx, db, migrations.Latest()-tariffsMigration+1); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`
		INSERT INTO networks (id, name, country_code, party_id, created, last_updated) VALUES
			('00000000-0000-4000-8000-000000000001', 'root', 'NL', 'EVR', now(), now())`, `
		INSERT INTO ocpi_partners (id, network_id, name, initiator, state, inbound_token_hash, outbound_token, endpoints, locations_url, created, last_updated)
		VALUES ('00000000-0000-4000-8000-0000000000aa', '00000000-0000-4000-8000-000000000001', 'with', 'partner', 'REGISTERED', '\x01', 'tok',
			'[{"identifier": "locations", "role": "RECEIVER", "url": "http://127.0.0.1:1/locations"},
			  {"identifier": "tariffs", "role": "SENDER", "url": "http://127.0.0.1:1/tariffs-sender"},
			  {"identifier": "tariffs", "role": "RECEIVER", "url": "http://127.0.0.1:1/tariffs"}]',
			'http://127.0.0.1:1/locations', now(), now()),
			('00000000-0000-4000-8000-0000000000bb', '00000000-0000-4000-8000-000000000001', 'without', 'partner', 'REGISTERED', '\x02', 'tok',
			'[{"identifier": "locations", "role": "RECEIVER", "url": "http://127.0.0.1:1/locations"}]',
			'http://127.0.0.1:1/locations', now(), now())`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT name, coalesce(tariffs_url, '-') FROM ocpi_partners ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, u string
		rows.Scan(&name, &u)
		got = append(got, name+" "+u)
	}
	rows.Close()
	if want := []string{"with http://127.0.0.1:1/tariffs", "without -"}; !slices.Equal(got, want) {
		t.Errorf("tariffs_url after 0020: %q, want %q", got, want)
	}
	// A tariff now queues a push for the partner with a receiver only, and reverting 0020
	// drops it with the table.
	if _, err := db.Exec(`INSERT INTO tariffs (id, network_id, currency, elements, etag, created, last_updated)
		VALUES ('T', '00000000-0000-4000-8000-000000000001', 'EUR', '[{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}]',
			gen_random_uuid(), now(), now())`); err != nil {
		t.Fatal(err)
	}
	var pushes string
	db.QueryRow(`SELECT string_agg(p.name || ' ' || d.kind || ' ' || d.country_code || '/' || d.party_id || '/' || d.tariff_id, ',')
		FROM ocpi_deliveries d JOIN ocpi_partners p ON p.id = d.partner_id`).Scan(&pushes)
	if pushes != "with tariff NL/EVR/T" {
		t.Errorf("pushes queued for a new tariff: %q", pushes)
	}
	if err := migrations.Down(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
}
