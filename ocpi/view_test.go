package ocpi

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
)

// TestViewLocationRowMatchesLocationsTable fails when the OCPI view's copy of the location
// row (viewLocationRow) and the registry's locations table drift apart: every column of the
// table is either published or named here as deliberately left out, and every location
// column the view reads exists.
func TestViewLocationRowMatchesLocationsTable(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var table []string
	if err := db.Select(&table, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'locations' ORDER BY ordinal_position`); err != nil {
		t.Fatal(err)
	}
	// Columns of the locations table that the OCPI Location does not carry as such.
	notPublished := map[string]string{
		"network_id": "the party (country_code, party_id) is read from the network instead",
		"etag":       "REST concurrency control only",
		"created":    "REST only",
	}
	// Columns of viewLocationRow that do not come from the locations table.
	fromElsewhere := map[string]bool{"country_code": true, "party_id": true}

	var view []string
	rt := reflect.TypeOf(viewLocationRow{})
	for i := range rt.NumField() {
		if tag := rt.Field(i).Tag.Get("db"); tag != "" {
			view = append(view, tag)
		}
	}
	for _, c := range table {
		if _, ok := notPublished[c]; !ok && !slices.Contains(view, c) {
			t.Errorf("locations.%s is neither in the OCPI view's row nor listed as not published", c)
		}
	}
	for _, c := range view {
		if !fromElsewhere[c] && !slices.Contains(table, c) {
			t.Errorf("the OCPI view's row reads %s, which the locations table does not have (table: %s)", c, strings.Join(table, ", "))
		}
	}
}
