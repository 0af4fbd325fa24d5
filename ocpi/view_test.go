package ocpi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
)

// TestLocationDocMatchesLocationsTable fails when what the copies publish of a location
// (ocpi_location_doc, migration 0012) and the registry's locations table drift apart: every
// column of the table is either published or named here as deliberately left out, every
// published field comes from a column of the table, and the view's Location reads every
// published field.
func TestLocationDocMatchesLocationsTable(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var table []string
	if err := db.Select(&table, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'locations' ORDER BY ordinal_position`); err != nil {
		t.Fatal(err)
	}
	// Columns of the locations table that the OCPI Location does not carry as such.
	notPublished := map[string]string{
		"network_id":   "the party (country_code, party_id) is the copy's, read from the network",
		"etag":         "REST concurrency control only",
		"created":      "REST only",
		"last_updated": "the copy's last_updated is the commit stamp of its latest change instead",
	}
	// Published fields made of other columns.
	madeOf := map[string][]string{"coordinates": {"latitude", "longitude"}}

	// A location with every column set, so that no field is left out for being null.
	if _, err := db.Exec(`
		INSERT INTO networks (id, name, country_code, party_id, created, last_updated)
		VALUES ('00000000-0000-4000-8000-000000000001', 'root', 'NL', 'EVR', now(), now());
		INSERT INTO locations (id, network_id, name, address, city, postal_code, state, country, latitude, longitude,
			time_zone, parking_type, facilities, opening_times, directions, operator, suboperator, owner,
			charging_when_closed, publish, etag, created, last_updated)
		VALUES ('L1', '00000000-0000-4000-8000-000000000001', 'n', 'a', 'c', '1012AB', 'NH', 'NLD', '52.00000', '4.00000',
			'Europe/Amsterdam', 'ON_STREET', '{HOTEL}', '{"twentyfourseven": true}', '[{"language": "en", "text": "left"}]',
			'{"name": "o"}', '{"name": "s"}', '{"name": "w"}', true, true, gen_random_uuid(), now(), now())`); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := db.Get(&raw, `SELECT ocpi_location_doc(l) FROM locations l WHERE id = 'L1'`); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	published := map[string]bool{}
	for key := range doc {
		cols := madeOf[key]
		if cols == nil {
			cols = []string{key}
		}
		for _, c := range cols {
			if !slices.Contains(table, c) {
				t.Errorf("the published Location field %s reads %s, which the locations table does not have (table: %s)", key, c, strings.Join(table, ", "))
			}
			published[c] = true
		}
	}
	for _, c := range table {
		if _, ok := notPublished[c]; !ok && !published[c] {
			t.Errorf("locations.%s is neither published (ocpi_location_doc) nor listed as not published", c)
		}
	}
	var fields []string
	rt := reflect.TypeOf(Location{})
	for i := range rt.NumField() {
		if tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); tag != "" {
			fields = append(fields, tag)
		}
	}
	for key := range doc {
		if !slices.Contains(fields, key) {
			t.Errorf("the published Location field %s is not a field of the view's Location (%s)", key, strings.Join(fields, ", "))
		}
	}
}
