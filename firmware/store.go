package firmware

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps firmware metadata in PostgreSQL (the bytes are the file store's). A Store made
// by NewStore runs each statement on the pool; one made by WithTx runs in the caller's
// transaction.
type Store struct {
	q sqlx.ExtContext
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type firmwareRow struct {
	ID                 uuid.UUID      `db:"id"`
	NetworkID          uuid.UUID      `db:"network_id"`
	Vendor             string         `db:"vendor"`
	Model              string         `db:"model"`
	Version            string         `db:"version"`
	SigningCertificate sql.NullString `db:"signing_certificate"`
	Signature          sql.NullString `db:"signature"`
	Created            time.Time      `db:"created"`
	LastUpdated        time.Time      `db:"last_updated"`
	FileID             uuid.UUID      `db:"file_id"`
	FileName           string         `db:"file_name"`
	ContentType        string         `db:"content_type"`
	Size               int64          `db:"size"`
	ChunkSize          int64          `db:"chunk_size"`
	SHA256             []byte         `db:"sha256"`
}

// columns of firmware f joined with its file x.
const columns = `f.id, f.network_id, f.vendor, f.model, f.version, f.signing_certificate, f.signature,
	f.created, f.last_updated, f.file_id, x.name AS file_name, x.content_type, x.size, x.chunk_size, x.sha256`

const from = `firmware f JOIN files x ON x.id = f.file_id`

func (r firmwareRow) toFirmware() Firmware {
	return Firmware{
		ID: r.ID, NetworkID: r.NetworkID, Vendor: r.Vendor, Model: r.Model, Version: r.Version,
		SigningCertificate: database.StringPtr[string](r.SigningCertificate), Signature: database.StringPtr[string](r.Signature),
		Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC(),
		File: files.File{ID: r.FileID, NetworkID: r.NetworkID, Kind: files.KindFirmware, Name: r.FileName,
			ContentType: r.ContentType, Size: r.Size, ChunkSize: r.ChunkSize, SHA256: r.SHA256, Created: r.Created.UTC()},
	}
}

// Create inserts fw; its file must exist.
func (s *Store) Create(ctx context.Context, fw Firmware) error {
	const q = `
	INSERT INTO firmware (id, network_id, file_id, vendor, model, version, signing_certificate, signature, created, last_updated)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	_, err := s.q.ExecContext(ctx, q, fw.ID, fw.NetworkID, fw.File.ID, fw.Vendor, fw.Model, fw.Version,
		database.NullString(fw.SigningCertificate), database.NullString(fw.Signature), fw.Created, fw.LastUpdated)
	if err != nil {
		return fmt.Errorf("insert firmware %s: %w", fw.ID, database.Translate(err))
	}
	return nil
}

// Get returns firmware id if its network is visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id uuid.UUID) (Firmware, error) {
	return s.get(ctx, visible, id, "")
}

// GetForDelete is Get with the firmware's row locked until the transaction ends (a store
// made by WithTx). Errors: ErrNotFound.
func (s *Store) GetForDelete(ctx context.Context, visible []uuid.UUID, id uuid.UUID) (Firmware, error) {
	return s.get(ctx, visible, id, ` FOR UPDATE OF f`)
}

func (s *Store) get(ctx context.Context, visible []uuid.UUID, id uuid.UUID, lock string) (Firmware, error) {
	q := `
	SELECT ` + columns + `
	FROM ` + from + `
	WHERE f.id = $1 AND f.network_id = ANY($2)` + lock
	var row firmwareRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Firmware{}, ErrNotFound
	}
	if err != nil {
		return Firmware{}, fmt.Errorf("get firmware %s: %w", id, database.Translate(err))
	}
	return row.toFirmware(), nil
}

// Filter narrows a list.
type Filter struct {
	Vendor, Model string // "" for any
}

// List returns a page of visible firmware in (last_updated, id) order, and the total.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]Firmware, paging.Meta, error) {
	var w database.Where
	w.AddNetworks("f.network_id", visible)
	if f.Vendor != "" {
		w.Add("f.vendor = %s", f.Vendor)
	}
	if f.Model != "" {
		w.Add("f.model = %s", f.Model)
	}
	w.Window("f.last_updated", p.DateFrom, p.DateTo)
	var rows []firmwareRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, from, &w, database.Order{Updated: "f.last_updated", ID: "f.id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list firmware: %w", err)
	}
	// Firmware lists are short (a few images per model): counting them is cheap.
	var m paging.Meta
	if m.Total, err = database.Count(ctx, s.q, from, &w); err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count firmware: %w", err)
	}
	out := make([]Firmware, len(rows))
	for i, r := range rows {
		out[i] = r.toFirmware()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID.String()}
	}
	return out, m, nil
}

// Delete removes firmware id (not its file: the service deletes that in the same
// transaction).
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM firmware WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete firmware %s: %w", id, database.Translate(err))
	}
	return nil
}
