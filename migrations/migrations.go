// Package migrations holds the database schema as numbered SQL files, embedded in the binary,
// and the runner that applies them. Files are NNNN_verb_noun.up.sql / .down.sql; each up file
// runs in a transaction the runner opens, together with its row in schema_migrations, so a
// file must not contain BEGIN or COMMIT itself. Up takes a PostgreSQL
// advisory lock first, so several evroam nodes starting together apply each migration once.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

//go:embed *.sql
var FS embed.FS

// lockID is the advisory lock key that serialises migration runs ("evroam" in ASCII).
const lockID = 0x657672_6f616d

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// All returns the embedded migrations in version order. It fails when a file is misnamed, a
// number is missing, or an up has no down, so that a broken set never reaches a database.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.up.sql or .down.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(FS, e.Name())
		if err != nil {
			return nil, err
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if mig.Name != m[2] {
			return nil, fmt.Errorf("migration %04d has two names: %q and %q", v, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration numbers must be contiguous from 0001: missing %04d", i+1)
		}
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %04d_%s needs both an up and a down file", m.Version, m.Name)
		}
	}
	return out, nil
}

// Up applies every pending migration. It is safe to call from several processes at once.
func Up(ctx context.Context, db *sql.DB) error {
	migs, err := All()
	if err != nil {
		return err
	}
	return withLock(ctx, db, func(conn *sql.Conn) error {
		applied, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for _, m := range migs {
			if applied[m.Version] {
				continue
			}
			if err := apply(ctx, conn, m.Version, m.Up, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
				return err
			}); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		return nil
	})
}

// Down reverts the newest applied migration; steps times. Used by tests and by operators
// rolling back a release.
func Down(ctx context.Context, db *sql.DB, steps int) error {
	migs, err := All()
	if err != nil {
		return err
	}
	return withLock(ctx, db, func(conn *sql.Conn) error {
		applied, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for i := len(migs) - 1; i >= 0 && steps > 0; i-- {
			m := migs[i]
			if !applied[m.Version] {
				continue
			}
			if err := apply(ctx, conn, m.Version, m.Down, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = $1`, m.Version)
				return err
			}); err != nil {
				return fmt.Errorf("revert %04d_%s: %w", m.Version, m.Name, err)
			}
			steps--
		}
		return nil
	})
}

func withLock(ctx context.Context, db *sql.DB, fn func(*sql.Conn) error) error {
	// The advisory lock belongs to a session, so everything runs on one connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return fmt.Errorf("migrations: take advisory lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID)
	const q = `
	CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	return fn(conn)
}

func appliedVersions(ctx context.Context, conn *sql.Conn) (map[int]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrations: read applied versions: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func apply(ctx context.Context, conn *sql.Conn, version int, body string, record func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if err := record(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Latest is the highest migration version embedded in this binary.
func Latest() int {
	migs, err := All()
	if err != nil || len(migs) == 0 {
		return 0
	}
	return migs[len(migs)-1].Version
}
