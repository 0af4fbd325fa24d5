package migrations_test

import (
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestDownUp reverts every migration and applies them again on a migrated database.
func TestDownUp(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if err := migrations.Down(ctx, db.DB, len(all)); err != nil {
		t.Fatalf("down: %v", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`); err != nil || n != 0 {
		t.Fatalf("after down: %d tables left (%v)", n, err)
	}
	if err := migrations.Up(ctx, db.DB); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('charge_stations', 'evses')`); err != nil || n != 2 {
		t.Fatalf("after up: %d of the station tables (%v)", n, err)
	}
}
