package migrations_test

import (
	"testing"

	"github.com/jmoiron/sqlx"
)

// rootNetwork is the network insertLocation makes.
const rootNetwork = "00000000-0000-4000-8000-000000000001"

// insertLocation writes a network and a location "L" in it with plain SQL, in whatever schema
// version the database is at from 0001 on, for tests that need stations to hang rows on.
func insertLocation(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO networks (id, name, country_code, party_id, parent_id, created, last_updated)
		VALUES ('` + rootNetwork + `', 'root', 'NL', 'EVR', NULL, now(), now())`,
		`INSERT INTO locations (id, network_id, name, address, city, postal_code, country, latitude, longitude,
		time_zone, parking_type, facilities, etag, created, last_updated)
		VALUES ('L', '` + rootNetwork + `', 'site', 'street', 'city', '1000', 'NLD', '52.0', '4.0',
			'Europe/Amsterdam', 'ON_STREET', '{}', gen_random_uuid(), now(), now())`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
