package migrations_test

import (
	"database/sql"
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/migrations"
	_ "github.com/lib/pq"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestNumbering(t *testing.T) {
	migs, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migrations.Latest() != len(migs) {
		t.Fatalf("Latest() = %d with %d migrations", migrations.Latest(), len(migs))
	}
}

func tables(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUpDownUp reverts every migration of a migrated database and applies them again: every
// down undoes its up completely, and Up is idempotent.
func TestUpDownUp(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t).DB
	ctx := t.Context()
	migrated := tables(t, db)
	if migrated == 0 {
		t.Fatal("the test database has no tables")
	}
	if err := migrations.Down(ctx, db, migrations.Latest()); err != nil {
		t.Fatalf("down: %v", err)
	}
	if n := tables(t, db); n != 0 {
		t.Errorf("%d tables left after reverting every migration", n)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("up a second time: %v", err)
	}
	if n := tables(t, db); n != migrated {
		t.Errorf("%d tables after up-down-up, want %d", n, migrated)
	}
}

// TestConcurrentUp starts several migrators at once, as several nodes starting together do:
// the advisory lock lets each migration apply once.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t).DB
	ctx := t.Context()
	if err := migrations.Down(ctx, db, migrations.Latest()); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- migrations.Up(ctx, db) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent up: %v", err)
		}
	}
	var applied int
	db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied)
	if applied != migrations.Latest() {
		t.Errorf("%d migrations recorded, want %d", applied, migrations.Latest())
	}
}
