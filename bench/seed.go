package main

import (
	"context"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/secret"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The data set: a CPO (the root network) with `locations` locations of stationsPerLocation
// stations each, every station a two-EVSE AC station in Production with a password, none of
// them booted yet; and a small sub-network with its own stations, to show that a list page
// costs the same whatever the size of the network.
const (
	stationsPerLocation = 10
	stationPassword     = "bench-station-password-01"
	smallNetworkParty   = "BSM"
)

func stationID(i int) string       { return fmt.Sprintf("BENCH-%06d", i) }
func smallStationID(i int) string  { return fmt.Sprintf("SMALL-%06d", i) }
func locationID(i int) string      { return fmt.Sprintf("BLOC-%06d", i) }
func smallLocationID(i int) string { return fmt.Sprintf("SLOC-%06d", i) }

// seed loads the data set in a few set-based statements. Every station's password is stored
// as the API stores it (the bcrypt hash of stationPassword, computed once, and the station's
// keyed verifier made with the key evroam runs with). The OCPI triggers publish the stations
// as they would for stations created through the API.
func seed(ctx context.Context, db *sqlx.DB, stations, smallStations int, passwordHash string, key *secret.Key) error {
	root, err := rootNetwork(ctx, db)
	if err != nil {
		return err
	}
	small := "00000000-0000-4000-8000-00000000b5a1"
	now := time.Now().UTC()
	steps := []struct {
		what string
		q    string
		args []any
	}{
		{"small network", `INSERT INTO networks (id, name, country_code, party_id, parent_id, created, last_updated)
			VALUES ($1, 'bench small', 'NL', $2, $3, $4, $4)`, []any{small, smallNetworkParty, root, now}},
		{"locations", locationsSQL, []any{root, (stations + stationsPerLocation - 1) / stationsPerLocation, "BLOC-", now}},
		{"small locations", locationsSQL, []any{small, (smallStations + stationsPerLocation - 1) / stationsPerLocation, "SLOC-", now}},
		{"tariffs", tariffSQL, []any{root, now, benchTariffs}},
		{"stations", stationsSQL, []any{root, stations, "BENCH-", "BLOC-", passwordHash, now}},
		{"small stations", stationsSQL, []any{small, smallStations, "SMALL-", "SLOC-", passwordHash, now}},
		{"password verifiers", verifiersSQL, verifierArgs(key, stations, smallStations)},
		{"EVSEs", evsesSQL, []any{now}},
		{"publish", `UPDATE charge_stations SET deploy_state = 'Production'`, nil},
		// VACUUM as well: the seed leaves every station's first row version dead (publish) and
		// every table past autovacuum's insert threshold, so autovacuum would otherwise work
		// through them during the first scenarios, and their figures (and the CPU they are
		// compared by) would depend on when it ran.
		{"vacuum and analyze", `VACUUM (ANALYZE)`, nil},
		// And a checkpoint, for the same reason: the seed's dirty pages are written now rather
		// than by a checkpoint in the middle of a scenario.
		{"checkpoint", `CHECKPOINT`, nil},
	}
	for _, s := range steps {
		start := time.Now()
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("seed %s: %w", s.what, err)
		}
		logf("seeded %s in %s", s.what, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func rootNetwork(ctx context.Context, db *sqlx.DB) (string, error) {
	var id string
	err := db.GetContext(ctx, &id, `SELECT id FROM networks WHERE parent_id IS NULL`)
	return id, err
}

const locationsSQL = `
INSERT INTO locations (id, network_id, name, address, city, postal_code, country, latitude, longitude,
	time_zone, parking_type, facilities, etag, created, last_updated)
SELECT $3 || lpad(i::text, 6, '0'), $1, 'Bench site ' || i, 'Benchstraat ' || i, 'Amsterdam', '1012AB', 'NLD',
	to_char(52 + (i % 1000) / 10000.0, 'FM90.00000'), to_char(4 + (i / 1000) / 1000.0, 'FM90.00000'),
	'Europe/Amsterdam', 'ON_STREET', '{}', gen_random_uuid(), $4, $4
FROM generate_series(0, $2 - 1) AS i`

// benchTariffs is how many tariffs the root network has: TARIFF-AC, which the stations name
// (the API refuses a station whose tariff is not one of its network's; the seeded stations of
// the small network are not written through it), and others with time-of-day and parking
// elements, for the Tariffs pull.
const benchTariffs = 1000

const tariffSQL = `
INSERT INTO tariffs (id, network_id, currency, tariff_alt_text, elements, etag, created, last_updated)
SELECT CASE WHEN i = 0 THEN 'TARIFF-AC' ELSE 'BENCH-TARIFF-' || lpad(i::text, 4, '0') END, $1, 'EUR',
	'[{"language": "en", "text": "0.30/kWh; 0.45/kWh 08:00-20:00 on weekdays; parking 6.00/h after 2 h"}]',
	'[{"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 21, "step_size": 1}],
	   "restrictions": {"start_time": "08:00", "end_time": "20:00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
	  {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]},
	  {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 21, "step_size": 60}], "restrictions": {"min_duration": 7200}}]',
	gen_random_uuid(), $2, $2
FROM generate_series(0, $3 - 1) AS i
ON CONFLICT (id) DO NOTHING`

const stationsSQL = `
INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id,
	charger_type, security_profile, ocpp_password_hash, etag, created, last_updated, station_last_updated)
SELECT $3 || lpad(i::text, 6, '0'), $1, $4 || lpad((i / 10)::text, 6, '0'), 'Stock', 'TARIFF-AC', 'Public',
	1, $5, gen_random_uuid(), $6, $6, $6
FROM generate_series(0, $2 - 1) AS i`

const evsesSQL = `
INSERT INTO evses (uid, charge_station_id, evse_sequence_number, capabilities, connectors, last_updated)
SELECT cs.id || '-' || n, cs.id, n, '{RFID_READER}',
	jsonb_build_array(jsonb_build_object('id', '1', 'standard', 'IEC_62196_T2', 'format', 'SOCKET',
		'internal', 'Mennekes_Socket', 'power_type', 'AC_3_PHASE', 'max_voltage', 400, 'max_amperage', 32,
		'max_electric_power', 22000, 'last_updated', $1::timestamptz)),
	$1
FROM charge_stations cs, generate_series(1, 2) AS n`

const verifiersSQL = `
UPDATE charge_stations cs SET ocpp_password_verifier = v.verifier
FROM unnest($1::text[], $2::bytea[]) AS v(id, verifier)
WHERE cs.id = v.id`

func verifierArgs(key *secret.Key, stations, small int) []any {
	ids := make([]string, 0, stations+small)
	verifiers := make([][]byte, 0, stations+small)
	for i := range stations {
		ids = append(ids, stationID(i))
	}
	for i := range small {
		ids = append(ids, smallStationID(i))
	}
	for _, id := range ids {
		verifiers = append(verifiers, key.Verifier(id, stationPassword))
	}
	return []any{pq.Array(ids), pq.ByteaArray(verifiers)}
}
