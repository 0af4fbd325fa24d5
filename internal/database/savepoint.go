package database

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Savepoint runs fn in tx under a savepoint: when fn fails, what it wrote is undone and tx
// goes on as it was before (also after a statement error, which otherwise aborts tx). It is
// for transactions shared by many writers (group commit), where one writer's failure must
// not undo the others'. It returns fn's error, and separately an error of tx itself (a
// savepoint statement that failed: tx is then unusable and must be rolled back). A panic in
// fn becomes fn's error, so that one bad writer cannot take the others down.
//
// Keep the savepoints of one transaction under 64 that write: each takes a subtransaction
// id, and more than 64 make every other transaction's snapshots slower (PostgreSQL's
// subtransaction cache overflows).
func Savepoint(ctx context.Context, tx *sqlx.Tx, fn func() error) (fnErr, txErr error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT shared_write"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", Translate(err))
	}
	if fnErr = guarded(fn); fnErr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT shared_write"); err != nil {
			return fnErr, fmt.Errorf("rollback to savepoint: %w", Translate(err))
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT shared_write"); err != nil {
		return fnErr, fmt.Errorf("release savepoint: %w", Translate(err))
	}
	return fnErr, nil
}

func guarded(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a shared transaction: %v", p)
		}
	}()
	return fn()
}
