package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Where builds a WHERE clause and its arguments side by side; values never enter the SQL text.
type Where struct {
	clauses []string
	args    []any
}

// Add appends clause, whose %s verbs are replaced by the placeholders of args in order:
// w.Add("network_id = ANY(%s)", pq.Array(ids)).
func (w *Where) Add(clause string, args ...any) {
	ph := make([]any, len(args))
	for i, a := range args {
		w.args = append(w.args, a)
		ph[i] = fmt.Sprintf("$%d", len(w.args))
	}
	w.clauses = append(w.clauses, fmt.Sprintf(clause, ph...))
}

// AddNetworks restricts column to the visible networks: `column = $n` for one network, so
// that an index on (column, sort key) gives the rows in page order and a page reads one page
// of rows however large the network; PostgreSQL does not read such an index in order for
// `= ANY(array)`, and reads and sorts the whole network instead. `= ANY($n)` for several.
func (w *Where) AddNetworks(column string, visible []uuid.UUID) {
	if len(visible) == 1 {
		w.Add(column+" = %s", visible[0])
		return
	}
	w.Add(column+" = ANY(%s)", pq.Array(visible))
}

// Window restricts column to [from, to) when those are set: the date_from/date_to sync rule.
func (w *Where) Window(column string, from, to *time.Time) {
	if from != nil {
		w.Add(column+" >= %s", *from)
	}
	if to != nil {
		w.Add(column+" < %s", *to)
	}
}

// SQL returns the clauses joined with AND ("TRUE" when there are none).
func (w *Where) SQL() string {
	if len(w.clauses) == 0 {
		return "TRUE"
	}
	return strings.Join(w.clauses, " AND ")
}

// Args returns the arguments of the clauses.
func (w *Where) Args() []any { return w.args }

// Order is the sort key of a list: a timestamp column and a unique text column, (last_updated,
// id) for the registry's lists. Keyset pages start after a paging.Cursor of these two.
type Order struct {
	Updated string // e.g. "last_updated"
	ID      string // e.g. "id"
}

// SelectPage reads one page of `SELECT cols FROM from WHERE w ORDER BY o` into dst: after
// p.After when set (a keyset page: its cost does not depend on how deep it is), else from
// p.Offset. It reads one row more than p.Limit to learn whether more follow, and keeps only
// p.Limit. The sort columns must be among cols.
func SelectPage[T any](ctx context.Context, q sqlx.QueryerContext, dst *[]T, cols, from string, w *Where, o Order, p paging.Page) (more bool, err error) {
	query, args := PageQuery(cols, from, w, o, p)
	if err := sqlx.SelectContext(ctx, q, dst, query, args...); err != nil {
		return false, Translate(err)
	}
	if len(*dst) > p.Limit {
		*dst = (*dst)[:p.Limit]
		return true, nil
	}
	return false, nil
}

// PageQuery is SelectPage's statement and arguments, for a caller that scans the rows itself:
// it asks for p.Limit+1 rows, the last of which only tells that more follow.
func PageQuery(cols, from string, w *Where, o Order, p paging.Page) (query string, args []any) {
	where := w.Clone()
	if p.After != nil {
		where.Add("("+o.Updated+", "+o.ID+") > (%s, %s)", p.After.Updated, p.After.ID)
	}
	args = append(where.Args(), p.Limit+1)
	query = "SELECT " + cols + " FROM " + from + " WHERE " + where.SQL() + " ORDER BY " + o.Updated + ", " + o.ID +
		fmt.Sprintf(" LIMIT $%d", len(args))
	if p.After == nil && p.Offset > 0 {
		args = append(args, p.Offset)
		query += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	return query, args
}

// Count returns the number of rows of `FROM from WHERE w`.
func Count(ctx context.Context, q sqlx.QueryerContext, from string, w *Where) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, "SELECT count(*) FROM "+from+" WHERE "+w.SQL(), w.Args()...); err != nil {
		return 0, Translate(err)
	}
	return n, nil
}

// windowCountCap is how many rows CountWindow reads of a side (the window, or what lies
// outside it) before it takes the other: about a millisecond of index entries.
const windowCountCap = 10_000

// CountWindow returns how many rows of `FROM from WHERE base` have column in [dateFrom,
// dateTo) (a date_from/date_to list's X-Total-Count), without reading the whole window on
// every page of a sync that started far back. all is the number of rows of `FROM from WHERE
// base` without the window (from the counts triggers keep, CountOf: no count). It counts the
// window up to windowCountCap rows, which answers an incremental sync (a recent date_from);
// past that, what lies outside the window (column < dateFrom, column >= dateTo), which answers
// a sync that starts far back (all less the few older rows); only when both are large, the
// window in full, as Count does. Each count reads the (column) index range of its side.
func CountWindow(ctx context.Context, q sqlx.QueryerContext, from string, base *Where, column string, dateFrom, dateTo *time.Time,
	all func() (int, error)) (int, error) {
	return countWindow(ctx, q, from, base, column, dateFrom, dateTo, all, windowCountCap)
}

func countWindow(ctx context.Context, q sqlx.QueryerContext, from string, base *Where, column string, dateFrom, dateTo *time.Time,
	all func() (int, error), limit int) (int, error) {
	if dateFrom == nil && dateTo == nil {
		return all()
	}
	// capped counts the rows of w, up to limit+1.
	capped := func(w Where) (int, error) {
		var n int
		err := sqlx.GetContext(ctx, q, &n, "SELECT count(*) FROM (SELECT 1 FROM "+from+" WHERE "+w.SQL()+
			fmt.Sprintf(" LIMIT %d) AS side", limit+1), w.Args()...)
		return n, Translate(err)
	}
	window := base.Clone()
	window.Window(column, dateFrom, dateTo)
	if n, err := capped(window); err != nil || n <= limit {
		return n, err
	}
	outside := 0
	for _, side := range []struct {
		clause string
		at     *time.Time
	}{{column + " < %s", dateFrom}, {column + " >= %s", dateTo}} {
		if side.at == nil || outside > limit {
			continue
		}
		w := base.Clone()
		w.Add(side.clause, *side.at)
		n, err := capped(w)
		if err != nil {
			return 0, err
		}
		outside += n
	}
	if outside <= limit {
		total, err := all()
		return total - outside, err
	}
	return Count(ctx, q, from, &window)
}

// Clone is a copy of w that can be added to without changing w.
func (w *Where) Clone() Where {
	return Where{clauses: append([]string(nil), w.clauses...), args: append([]any(nil), w.args...)}
}

// CountOf returns how many rows of kind ("charge_stations", "locations") the networks hold,
// from the counts that triggers keep (migration 0006): an unfiltered list's total without
// counting the table.
func CountOf(ctx context.Context, q sqlx.QueryerContext, kind string, networks []uuid.UUID) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT coalesce(sum(n), 0) FROM list_counts WHERE kind = $1 AND network_id = ANY($2)`,
		kind, pq.Array(networks))
	if err != nil {
		return 0, Translate(err)
	}
	return n, nil
}
