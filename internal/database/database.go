// Package database opens the PostgreSQL pool, runs transactions, and translates driver errors
// into the kinds of internal/apperr, so that no feature package inspects lib/pq errors itself.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// maxOpenConns bounds the pool: more connections than this only make PostgreSQL switch between
// backends on a small machine; requests wait for a free one instead.
const maxOpenConns = 32

// Open connects to url and checks the connection. The pool is sized for a service that
// serves many short requests; a dead connection is dropped by database/sql on first use,
// which is what lets the service recover by itself after a database restart.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// As many idle connections as open ones: a pool that closes connections it will want
	// again a millisecond later makes PostgreSQL start a backend (a fork and a login) and
	// prepare every statement anew, which under load cost more than the queries.
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", Translate(err))
	}
	return db, nil
}

// InTx runs fn in a transaction: it commits when fn returns nil and rolls back otherwise,
// also when fn panics (the panic goes on after the rollback).
func InTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", Translate(err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
			return
		}
		if cerr := tx.Commit(); cerr != nil {
			err = fmt.Errorf("commit transaction: %w", Translate(cerr))
		}
	}()
	return fn(tx)
}

// PostgreSQL error codes we translate (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
	codeDeadlockDetected    = "40P01"
)

// IsUniqueViolation reports whether err is a unique-constraint violation, of constraint when
// constraint is not empty.
func IsUniqueViolation(err error, constraint string) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != codeUniqueViolation {
		return false
	}
	return constraint == "" || pqErr.Constraint == constraint
}

// IsForeignKeyViolation reports whether err is a foreign-key violation.
func IsForeignKeyViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == codeForeignKeyViolation
}

// IsDeadlock reports whether err is PostgreSQL breaking a deadlock: the transaction was
// rolled back and may be run again.
func IsDeadlock(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == codeDeadlockDetected
}

// Translate wraps err with apperr.Unavailable when it means the database cannot be reached
// (refused connection, broken connection, server shutting down or starting up), so that the
// HTTP layer answers 503 instead of 500. Other errors are returned unchanged.
func Translate(err error) error {
	if err == nil || errors.Is(err, apperr.Unavailable) {
		return err
	}
	if IsConnectionError(err) {
		return fmt.Errorf("%w: %w", apperr.Unavailable, err)
	}
	return err
}

// IsConnectionError reports whether err comes from a database that cannot be reached.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		// Class 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown, cannot connect now.
		c := string(pqErr.Code)
		return len(c) == 5 && (c[:2] == "08" || c == "57P01" || c == "57P02" || c == "57P03")
	}
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.As(err, &opErr):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return false
}
