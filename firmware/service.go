package firmware

import (
	"context"
	"io"
	"time"

	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service uploads, lists and deletes firmware.
type Service struct {
	db    *sqlx.DB
	store *Store
	files *files.Store
	now   func() time.Time
}

// NewService returns a Service. now is the clock (nil: time.Now).
func NewService(db *sqlx.DB, store *Store, fileStore *files.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, store: store, files: fileStore, now: now}
}

// Upload stores the image read from body (at most limit bytes) for p's own network, with
// what meta says of it. meta runs once the bytes are stored, before the commit, because a
// multipart upload may give its fields after its file part. File and metadata are written
// in one transaction, so an upload that fails part way (too large, broken off, refused by
// meta) leaves nothing behind. The transaction lasts as long as the upload: one connection
// of the pool per upload in progress. Errors: files.TooLarge (413), apperr.BadRequest for
// an upload that broke off, meta's errors.
func (s *Service) Upload(ctx context.Context, p auth.Principal, body io.Reader, limit int64, meta func() (New, error)) (Firmware, error) {
	now := database.Timestamp(s.now())
	var fw Firmware
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id := uuid.New()
		f, err := s.files.WithTx(tx).Write(ctx, files.File{ID: uuid.New(), NetworkID: p.NetworkID, Kind: files.KindFirmware,
			Name: "firmware.bin", ContentType: "application/octet-stream", Created: now}, body, limit)
		if err != nil {
			return err
		}
		n, err := meta()
		if err != nil {
			return err
		}
		if n.FileName != "" || n.ContentType != "" {
			if err := s.files.WithTx(tx).Rename(ctx, f.ID, n.FileName, n.ContentType); err != nil {
				return err
			}
			if n.FileName != "" {
				f.Name = n.FileName
			}
			if n.ContentType != "" {
				f.ContentType = n.ContentType
			}
		}
		fw = Firmware{ID: id, NetworkID: p.NetworkID, Vendor: n.Vendor, Model: n.Model, Version: n.Version,
			SigningCertificate: n.SigningCertificate, Signature: n.Signature, File: f, Created: now, LastUpdated: now}
		return s.store.WithTx(tx).Create(ctx, fw)
	})
	if err != nil {
		return Firmware{}, err
	}
	return fw, nil
}

// Get returns firmware id if p may see it. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, p auth.Principal, id uuid.UUID) (Firmware, error) {
	return s.store.Get(ctx, p.Networks, id)
}

// List returns a page of the firmware p may see.
func (s *Service) List(ctx context.Context, p auth.Principal, f Filter, pg paging.Page) ([]Firmware, paging.Meta, error) {
	return s.store.List(ctx, p.Networks, f, pg)
}

// Delete removes firmware id and its file, if p may see it. A download in progress ends
// there. Errors: ErrNotFound.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	return database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		fw, err := s.store.WithTx(tx).GetForDelete(ctx, p.Networks, id)
		if err != nil {
			return err
		}
		if err := s.store.WithTx(tx).Delete(ctx, id); err != nil {
			return err
		}
		return s.files.WithTx(tx).Delete(ctx, fw.File.ID)
	})
}
