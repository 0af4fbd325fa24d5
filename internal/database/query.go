package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
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

// Page returns " LIMIT $n OFFSET $m" with its arguments appended after the clause arguments.
func (w *Where) Page(limit, offset int) (string, []any) {
	args := append(append([]any{}, w.args...), limit, offset)
	return fmt.Sprintf(" LIMIT $%d OFFSET $%d", len(args)-1, len(args)), args
}

// SelectPage runs a list query built as `SELECT cols, COUNT(*) OVER () AS total FROM … WHERE w
// ORDER BY … LIMIT … OFFSET …` into dst and returns the total number of matches. total is read
// from the rows (totalOf); when the page is empty (offset past the end) a COUNT query over the
// same FROM/WHERE gives it instead, so X-Total-Count stays right on every page.
func SelectPage[T any](ctx context.Context, db sqlx.QueryerContext, dst *[]T, totalOf func(T) int64,
	selectCols, from string, w *Where, orderBy string, limit, offset int) (int, error) {
	paging, args := w.Page(limit, offset)
	q := "SELECT " + selectCols + ", COUNT(*) OVER () AS total FROM " + from + " WHERE " + w.SQL() + " ORDER BY " + orderBy + paging
	if err := sqlx.SelectContext(ctx, db, dst, q, args...); err != nil {
		return 0, Translate(err)
	}
	if len(*dst) > 0 {
		return int(totalOf((*dst)[0])), nil
	}
	if offset == 0 {
		return 0, nil
	}
	var total int
	if err := sqlx.GetContext(ctx, db, &total, "SELECT count(*) FROM "+from+" WHERE "+w.SQL(), w.Args()...); err != nil {
		return 0, Translate(err)
	}
	return total, nil
}
