package ocpi

import (
	"database/sql"
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
