package database_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Statements a store runs within a transaction (WithTx) become prepared statements of the
// transaction's connection once the pool has prepared them, and they still run in that
// transaction: its writes are seen by its own reads and undone by its rollback.
func TestStatementsInTransactionsArePrepared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	db.SetMaxOpenConns(2)
	if _, err := db.Exec(`CREATE TABLE samples (n int)`); err != nil {
		t.Fatal(err)
	}
	q := database.Prepared(db)
	const insert = `INSERT INTO samples (n) VALUES ($1)`
	const count = `SELECT count(*) FROM samples WHERE n = $1`
	errRollback := errors.New("roll back")

	prepared := false
	deadline := time.Now().Add(20 * time.Second)
	for round := 1; !prepared; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("the statements were not prepared after %d transactions", round)
		}
		err := database.InTx(ctx, db, func(tx *sqlx.Tx) error {
			in := database.WithTx(q, tx)
			if _, err := in.ExecContext(ctx, insert, round); err != nil {
				return err
			}
			var n int
			if err := sqlx.GetContext(ctx, in, &n, count, round); err != nil {
				return err
			}
			if n != 1 {
				t.Fatalf("round %d: the transaction sees %d of its own rows, want 1", round, n)
			}
			// Both statements are prepared on this connection once the pool knows them.
			var known int
			if err := tx.GetContext(ctx, &known, `SELECT count(*) FROM pg_prepared_statements WHERE statement IN ($1, $2)`,
				insert, count); err != nil {
				return err
			}
			prepared = known == 2
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("round %d: %v", round, err)
		}
		// Not on the pool behind the transaction's back: the rollback undid the insert.
		var left int
		if err := db.Get(&left, `SELECT count(*) FROM samples`); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Fatalf("round %d: %d rows outlived the rollback", round, left)
		}
		if !prepared {
			time.Sleep(10 * time.Millisecond) // the pool prepares them in the background
		}
	}
}
