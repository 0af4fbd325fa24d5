package database_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/google/uuid"
)

// TestPageOfOneNetworkReadsOnlyThePage: the first page of a small network inside a large
// table reads the page's rows and stops, as a page of many networks does, so a key of one
// network pays for its page, not for its network. PostgreSQL walks the (network, sort key)
// index in order for `network_id = $1`, not for `= ANY(array)`, which reads and sorts all the
// network's rows.
func TestPageOfOneNetworkReadsOnlyThePage(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	big, small := uuid.New(), uuid.New()
	_, err := db.Exec(`
		CREATE TABLE items (id text PRIMARY KEY, network_id uuid NOT NULL, last_updated timestamptz NOT NULL);
		CREATE INDEX items_sync_idx ON items (network_id, last_updated, id);
		CREATE INDEX items_updated_idx ON items (last_updated, id);
		INSERT INTO items SELECT 'big-' || i, '` + big.String() + `', now() - interval '1 day' + i * interval '1 second'
			FROM generate_series(1, 20000) i;
		-- The small network's rows all changed after the big one's: they come last in the
		-- table's order.
		INSERT INTO items SELECT 'small-' || i, '` + small.String() + `', now() + i * interval '1 second'
			FROM generate_series(1, 3000) i;
		ANALYZE items;`)
	if err != nil {
		t.Fatal(err)
	}
	order := database.Order{Updated: "last_updated", ID: "id"}
	for _, visible := range [][]uuid.UUID{{small}, {big, small}} {
		var w database.Where
		w.AddNetworks("network_id", visible)
		query, args := database.PageQuery("id", "items", &w, order, paging.Page{Limit: 100})
		var plan []string
		if err := db.Select(&plan, "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) "+query, args...); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		read := 0
		// Rows a scan gave, and rows it read and dropped.
		for _, m := range regexp.MustCompile(`(?:Scan .*actual rows=|Rows Removed by Filter: )(\d+)`).FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(m[1])
			read += n
		}
		if strings.Contains(text, "Sort") || read == 0 || read > 101 {
			t.Errorf("a page of 100 of %d network(s) read %d rows:\n%s", len(visible), read, text)
		}
	}
}
