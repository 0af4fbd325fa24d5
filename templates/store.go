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

// Store keeps templates in PostgreSQL; the EVSE tree is one jsonb document. A Store made by
// NewStore runs each statement on the pool; one made by WithTx runs in the caller's
// transaction.
type Store struct {
	q sqlx.ExtContext
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type templateRow struct {
	ID            string                        `db:"template_id"`
	NetworkID     uuid.UUID                     `db:"network_id"`
	Name          string                        `db:"name"`
	EVSETemplates database.JSON[[]EVSETemplate] `db:"evse_templates"`
	ETag          uuid.UUID                     `db:"etag"`
	Created       time.Time                     `db:"created"`
	LastUpdated   time.Time                     `db:"last_updated"`
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
	return s.get(ctx, visible, id, false)
}

// GetForUpdate is Get with the template's row locked until the transaction ends (the store
// must be one made by WithTx). Errors: ErrNotFound.
func (s *Store) GetForUpdate(ctx context.Context, visible []uuid.UUID, id string) (Template, error) {
	return s.get(ctx, visible, id, true)
}

func (s *Store) get(ctx context.Context, visible []uuid.UUID, id string, forUpdate bool) (Template, error) {
	q := `
	SELECT ` + columns + `
	FROM templates
	WHERE template_id = $1 AND network_id = ANY($2)`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var row templateRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Template{}, ErrNotFound
	}
	if err != nil {
		return Template{}, fmt.Errorf("get template %s: %w", id, database.Translate(err))
	}
	return row.toTemplate(), nil
}

// List returns a page of visible templates in (last_updated, template_id) order, and the total.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Template, paging.Meta, error) {
	var w database.Where
	w.AddNetworks("network_id", visible)
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []templateRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "templates", &w,
		database.Order{Updated: "last_updated", ID: "template_id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list templates: %w", err)
	}
	var m paging.Meta
	if m.Total, err = database.Count(ctx, s.q, "templates", &w); err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count templates: %w", err)
	}
	out := make([]Template, len(rows))
	for i, r := range rows {
		out[i] = r.toTemplate()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID}
	}
	return out, m, nil
}

// Create inserts t as it is: etag and timestamps are the caller's. Errors: ErrIDTaken (the
// id belongs to a template, maybe one the caller cannot see).
func (s *Store) Create(ctx context.Context, t Template) error {
	_, err := sqlx.NamedExecContext(ctx, s.q, `INSERT INTO templates (`+columns+`)
	VALUES (:template_id, :network_id, :name, :evse_templates, :etag, :created, :last_updated)`, toRow(t))
	if database.IsUniqueViolation(err, "templates_pkey") {
		return ErrIDTaken
	}
	if err != nil {
		return fmt.Errorf("insert template %s: %w", t.ID, database.Translate(err))
	}
	return nil
}

// Update writes t (found by t.ID) as it is: etag and timestamps are the caller's.
func (s *Store) Update(ctx context.Context, t Template) error {
	_, err := sqlx.NamedExecContext(ctx, s.q, `UPDATE templates
	SET network_id = :network_id, name = :name, evse_templates = :evse_templates,
		etag = :etag, last_updated = :last_updated
	WHERE template_id = :template_id`, toRow(t))
	if err != nil {
		return fmt.Errorf("update template %s: %w", t.ID, database.Translate(err))
	}
	return nil
}

// Delete removes template id. Stations made from it keep their copy. Errors: ErrNotFound.
func (s *Store) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM templates WHERE template_id = $1 AND network_id = ANY($2)`, id, pq.Array(visible))
	if err != nil {
		return fmt.Errorf("delete template %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
