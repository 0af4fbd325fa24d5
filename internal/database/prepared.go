package database

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// Prepared returns db as an sqlx.ExtContext that runs every query as a prepared statement,
// prepared once per statement text and pool connection and kept (database/sql re-prepares it
// on a new connection, e.g. after a database restart). lib/pq otherwise sends each query
// unnamed, and PostgreSQL parses and plans it again every time: for a primary-key lookup
// with a subquery, planning costs more than executing. Stores made by NewStore use it for
// statements on the pool, and their WithTx methods for statements in a transaction.
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
	stmts     sync.Map // query text → *sqlx.Stmt
	preparing sync.Map // query text → true, while WithTx prepares it in the background
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

// WithTx returns what a store that queries through q uses within tx: when q is Prepared's,
// tx's queries run as the pool's prepared statements too, bound to the transaction's
// connection (database/sql prepares a statement once per connection and keeps it there);
// otherwise tx itself. The writes of the batchers (group commit) are transactions, and there
// an unprepared statement costs PostgreSQL a plan each time (for the batched connect of many
// stations, most of its time) and lib/pq a second round trip.
//
// A statement not prepared yet runs unprepared this once, and is prepared on the pool in
// the background: preparing it within the transaction would take a second pool connection
// while holding one, and a pool whose every connection is held by a transaction waiting for
// another would wait forever.
func WithTx(q sqlx.ExtContext, tx *sqlx.Tx) sqlx.ExtContext {
	switch p := q.(type) {
	case *preparedDB:
		return &preparedTx{Tx: tx, p: p}
	case *preparedTx:
		return &preparedTx{Tx: tx, p: p.p}
	}
	return tx
}

// preparedTx is a transaction whose queries use its preparedDB's statements.
type preparedTx struct {
	*sqlx.Tx
	p *preparedDB
}

// stmt returns the prepared statement of query bound to the transaction, or nil when it is
// not prepared yet (see WithTx).
func (t *preparedTx) stmt(ctx context.Context, query string) *sqlx.Stmt {
	s, ok := t.p.stmts.Load(query)
	if !ok {
		if _, busy := t.p.preparing.LoadOrStore(query, true); !busy {
			go func() {
				defer t.p.preparing.Delete(query)
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_, _ = t.p.stmt(ctx, query) // a failure is the query's own: it shows where it runs
			}()
		}
		return nil
	}
	return t.Tx.StmtxContext(ctx, s.(*sqlx.Stmt))
}

// QueryContext runs query as a prepared statement of the transaction.
func (t *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryxContext runs query as a prepared statement of the transaction.
func (t *preparedTx) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryxContext(ctx, args...)
	}
	return t.Tx.QueryxContext(ctx, query, args...)
}

// QueryRowxContext runs query as a prepared statement of the transaction.
func (t *preparedTx) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowxContext(ctx, args...)
	}
	return t.Tx.QueryRowxContext(ctx, query, args...)
}

// ExecContext runs query as a prepared statement of the transaction.
func (t *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}
