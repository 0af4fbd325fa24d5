package templates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps templates in PostgreSQL; the EVSE tree is one jsonb document.
type Store struct {
	db  *sqlx.DB
	now func() time.Time
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db, now: time.Now} }

type templateRow struct {
	ID            string                        `db:"template_id"`
	NetworkID     uuid.UUID                     `db:"network_id"`
	Name          string                        `db:"name"`
	EVSETemplates database.JSON[[]EVSETemplate] `db:"evse_templates"`
	ETag          uuid.UUID                     `db:"etag"`
	Created       time.Time                     `db:"created"`
	LastUpdated   time.Time                     `db:"last_updated"`
	Total         int64                         `db:"total"`
}

const columns = `template_id, network_id, name, evse_templates, etag, created, last_updated`

func toRow(t Template) templateRow {
	return templateRow{ID: t.ID, NetworkID: t.NetworkID, Name: t.Name,
		EVSETemplates: database.JSON[[]EVSETemplate]{V: t.EVSETemplates},
		ETag:          t.ETag, Created: t.Created, LastUpdated: t.LastUpdated}
}

func (r templateRow) toTemplate() Template {
	return Template{ID: r.ID, NetworkID: r.NetworkID, Name: r.Name, EVSETemplates: r.EVSETemplates.V,
		ETag: r.ETag, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC()}
}

// Get returns template id if its network is visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id string) (Template, error) {
	t, err := get(ctx, s.db, visible, id, "")
	if errors.Is(err, sql.ErrNoRows) {
		return Template{}, ErrNotFound
	}
	return t, err
}

func get(ctx context.Context, q sqlx.QueryerContext, visible []uuid.UUID, id, lock string) (Template, error) {
	var row templateRow
	err := sqlx.GetContext(ctx, q, &row, `
	SELECT `+columns+`
	FROM templates
	WHERE template_id = $1 AND network_id = ANY($2)`+lock, id, pq.Array(visible))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Template{}, err
		}
		return Template{}, fmt.Errorf("get template %s: %w", id, database.Translate(err))
	}
	return row.toTemplate(), nil
}

// List returns a page of visible templates in (last_updated, template_id) order, and the total.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Template, int, error) {
	var w database.Where
	w.Add("network_id = ANY(%s)", pq.Array(visible))
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []templateRow
	total, err := database.SelectPage(ctx, s.db, &rows, func(r templateRow) int64 { return r.Total },
		columns, "templates", &w, "last_updated, template_id", p.Limit, p.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list templates: %w", err)
	}
	out := make([]Template, len(rows))
	for i, r := range rows {
		out[i] = r.toTemplate()
	}
	return out, total, nil
}

// Put creates template id or replaces it, under a row lock. change receives the current
// template (nil when there is none) and returns the one to store, or an error (a missing or
// stale etag) that aborts. created tells which happened. Errors: ErrIDTaken (the id belongs to
// a template the caller cannot see), and change's errors.
func (s *Store) Put(ctx context.Context, visible []uuid.UUID, id string, change func(cur *Template) (Template, error)) (t Template, created bool, err error) {
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var cur *Template
		c, err := get(ctx, tx, visible, id, " FOR UPDATE")
		switch {
		case err == nil:
			cur = &c
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		now := database.Timestamp(s.now())
		next.ID, next.ETag, next.LastUpdated = id, uuid.New(), now
		if cur == nil {
			next.Created = now
			_, err = tx.NamedExecContext(ctx, `INSERT INTO templates (`+columns+`)
			VALUES (:template_id, :network_id, :name, :evse_templates, :etag, :created, :last_updated)`, toRow(next))
			if database.IsUniqueViolation(err, "templates_pkey") {
				return ErrIDTaken
			}
			created = true
		} else {
			next.Created = cur.Created
			_, err = tx.NamedExecContext(ctx, `UPDATE templates
			SET network_id = :network_id, name = :name, evse_templates = :evse_templates,
				etag = :etag, last_updated = :last_updated
			WHERE template_id = :template_id`, toRow(next))
		}
		if err != nil {
			return fmt.Errorf("put template %s: %w", id, database.Translate(err))
		}
		t = next
		return nil
	})
	return t, created, err
}

// Delete removes template id. Stations made from it keep their copy. Errors: ErrNotFound.
func (s *Store) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM templates WHERE template_id = $1 AND network_id = ANY($2)`, id, pq.Array(visible))
	if err != nil {
		return fmt.Errorf("delete template %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// GetWith is Get reading through q, e.g. another package's transaction, so that a caller
// holding a transaction does not need a second connection from the pool. Errors: ErrNotFound.
func (s *Store) GetWith(ctx context.Context, q sqlx.QueryerContext, visible []uuid.UUID, id string) (Template, error) {
	t, err := get(ctx, q, visible, id, "")
	if errors.Is(err, sql.ErrNoRows) {
		return Template{}, ErrNotFound
	}
	return t, err
}
