package database

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// Prepared returns db as an sqlx.ExtContext that runs every query as a prepared statement,
// prepared once per statement text and pool connection and kept (database/sql re-prepares it
// on a new connection, e.g. after a database restart). lib/pq otherwise sends each query
// unnamed, and PostgreSQL parses and plans it again every time: for a primary-key lookup
// with a subquery, planning costs more than executing. Stores made by NewStore use it for
// statements on the pool; in a transaction (WithTx) statements run unprepared.
//
// Every store of one process shares db's statements.
func Prepared(db *sqlx.DB) sqlx.ExtContext {
	if p, ok := prepared.Load(db); ok {
		return p.(*preparedDB)
	}
	p, _ := prepared.LoadOrStore(db, &preparedDB{DB: db})
	return p.(*preparedDB)
}

var prepared sync.Map // *sqlx.DB → *preparedDB

// preparedDB is an *sqlx.DB whose queries go through its statement cache.
type preparedDB struct {
	*sqlx.DB
	stmts sync.Map // query text → *sqlx.Stmt
}

func (p *preparedDB) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if s, ok := p.stmts.Load(query); ok {
		return s.(*sqlx.Stmt), nil
	}
	s, err := p.DB.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return s, nil
}

// QueryContext runs query as a prepared statement.
func (p *preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryxContext runs query as a prepared statement.
func (p *preparedDB) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryxContext(ctx, args...)
}

// QueryRowxContext runs query as a prepared statement.
func (p *preparedDB) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	s, err := p.stmt(ctx, query)
	if err != nil {
		// A Row carrying the error, as sqlx reports failures of QueryRowx.
		return p.DB.QueryRowxContext(ctx, query, args...)
	}
	return s.QueryRowxContext(ctx, args...)
}

// ExecContext runs query as a prepared statement.
func (p *preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}
