package files

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps files in PostgreSQL. A Store made by NewStore runs each statement on the pool;
// one made by WithTx runs in the caller's transaction.
type Store struct {
	q sqlx.ExtContext
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: db} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type fileRow struct {
	ID          uuid.UUID      `db:"id"`
	NetworkID   uuid.UUID      `db:"network_id"`
	StationID   sql.NullString `db:"charge_station_id"`
	Kind        string         `db:"kind"`
	Name        string         `db:"name"`
	ContentType string         `db:"content_type"`
	Size        int64          `db:"size"`
	ChunkSize   int64          `db:"chunk_size"`
	SHA256      []byte         `db:"sha256"`
	Created     time.Time      `db:"created"`
}

const columns = `id, network_id, charge_station_id, kind, name, content_type, size, chunk_size, sha256, created`

func (r fileRow) toFile() File {
	return File{ID: r.ID, NetworkID: r.NetworkID, StationID: r.StationID.String, Kind: Kind(r.Kind), Name: r.Name, ContentType: r.ContentType,
		Size: r.Size, ChunkSize: r.ChunkSize, SHA256: r.SHA256, Created: r.Created.UTC()}
}

// TooLarge is the error of a body past limit bytes (HTTP 413).
func TooLarge(limit int64) error {
	return fmt.Errorf("the file is larger than the limit of %d bytes: %w", limit, apperr.TooLarge)
}

// Write stores the bytes of body as file f (whose ID, NetworkID or StationID, Kind, Name,
// ContentType and Created the caller sets) and returns f with its size and sha256. A file of
// a station is of the station's network. Errors: ErrUploaded (the id is taken), ErrNotFound
// (the station does not exist), TooLarge (more than limit bytes). It reads body one chunk at
// a time and inserts each as it fills, so memory holds one chunk whatever the size. Run it on a store made by WithTx: a failure part way
// must roll the chunks back with the transaction.
func (s *Store) Write(ctx context.Context, f File, body io.Reader, limit int64) (File, error) {
	f.ChunkSize = ChunkSize
	if f.StationID != "" {
		err := sqlx.GetContext(ctx, s.q, &f.NetworkID, `SELECT network_id FROM charge_stations WHERE id = $1`, f.StationID)
		if errors.Is(err, sql.ErrNoRows) {
			return File{}, fmt.Errorf("charge station %s: %w", f.StationID, ErrNotFound)
		}
		if err != nil {
			return File{}, fmt.Errorf("get charge station %s: %w", f.StationID, database.Translate(err))
		}
	}
	const qFile = `
	INSERT INTO files (` + columns + `)
	VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, 0, $7, '', $8)`
	_, err := s.q.ExecContext(ctx, qFile, f.ID, f.NetworkID, f.StationID, string(f.Kind), f.Name, f.ContentType, f.ChunkSize, f.Created)
	if database.IsUniqueViolation(err, "files_pkey") {
		return File{}, ErrUploaded
	}
	if err != nil {
		return File{}, fmt.Errorf("insert file %s: %w", f.ID, database.Translate(err))
	}
	const qChunk = `
	INSERT INTO file_chunks (file_id, seq, data)
	VALUES ($1, $2, $3)`
	h := sha256.New()
	buf := make([]byte, ChunkSize)
	var size int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(body, buf)
		if n > 0 {
			size += int64(n)
			if size > limit {
				return File{}, TooLarge(limit)
			}
			h.Write(buf[:n])
			if _, err := s.q.ExecContext(ctx, qChunk, f.ID, seq, buf[:n]); err != nil {
				return File{}, fmt.Errorf("insert chunk %d of file %s: %w", seq, f.ID, database.Translate(err))
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return File{}, fmt.Errorf("read the upload: %w", readError(err))
		}
	}
	f.Size, f.SHA256 = size, h.Sum(nil)
	const qDone = `
	UPDATE files SET size = $2, sha256 = $3
	WHERE id = $1`
	if _, err := s.q.ExecContext(ctx, qDone, f.ID, f.Size, f.SHA256); err != nil {
		return File{}, fmt.Errorf("finish file %s: %w", f.ID, database.Translate(err))
	}
	return f, nil
}

// readError keeps the kind of a body reader's error (http.MaxBytesReader's limit is a 413)
// and makes any other a 400: the client's upload broke off.
func readError(err error) error {
	if errors.Is(err, apperr.TooLarge) {
		return err
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return TooLarge(mb.Limit)
	}
	return fmt.Errorf("%v: %w", err, apperr.BadRequest)
}

// Get returns file id, if its network is visible (nil visible: any network, for the signed
// URLs that carry their own authority). Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id uuid.UUID) (File, error) {
	q := `
	SELECT ` + columns + `
	FROM files
	WHERE id = $1 AND ($2::uuid[] IS NULL OR network_id = ANY($2))`
	var nets any
	if visible != nil {
		nets = pq.Array(visible)
	}
	var row fileRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, nets)
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("get file %s: %w", id, database.Translate(err))
	}
	return row.toFile(), nil
}

// ListOfStation returns a page of the files station uploaded (newest first is not the
// order: (created, id), like every list), if its network is visible. Errors: ErrNotFound
// (no such station for these networks).
func (s *Store) ListOfStation(ctx context.Context, visible []uuid.UUID, station string, p paging.Page) ([]File, paging.Meta, error) {
	var n int
	err := sqlx.GetContext(ctx, s.q, &n, `SELECT count(*) FROM charge_stations WHERE id = $1 AND network_id = ANY($2)`, station, pq.Array(visible))
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("get charge station %s: %w", station, database.Translate(err))
	}
	if n == 0 {
		return nil, paging.Meta{}, fmt.Errorf("charge station %s %w", station, apperr.NotFound)
	}
	var w database.Where
	w.Add("charge_station_id = %s", station)
	w.Window("created", p.DateFrom, p.DateTo)
	var rows []fileRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "files", &w, database.Order{Updated: "created", ID: "id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list files of %s: %w", station, err)
	}
	var m paging.Meta
	if m.Total, err = database.Count(ctx, s.q, "files", &w); err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count files of %s: %w", station, err)
	}
	out := make([]File, len(rows))
	for i, r := range rows {
		out[i] = r.toFile()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.Created, ID: last.ID.String()}
	}
	return out, m, nil
}

// Delete removes file id and its chunks.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM files WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete file %s: %w", id, database.Translate(err))
	}
	return nil
}

// Open returns a reader of f's bytes. ctx bounds every read of it.
func (s *Store) Open(ctx context.Context, f File) *Reader {
	return &Reader{ctx: ctx, q: s.q, file: f, seq: -1}
}

// Reader reads a stored file one chunk at a time: an io.ReadSeeker over the chunks, which is
// what http.ServeContent needs for HTTP Range. It holds one chunk (ChunkSize bytes) at most,
// and reads a chunk from the database only when a read reaches it, so a ranged request costs
// the chunks of its range.
type Reader struct {
	ctx  context.Context
	q    sqlx.QueryerContext
	file File
	off  int64
	seq  int64  // the chunk in buf; -1: none
	buf  []byte // chunk seq
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.file.Size {
		return 0, io.EOF
	}
	seq := r.off / r.file.ChunkSize
	if seq != r.seq {
		if err := r.load(seq); err != nil {
			return 0, err
		}
	}
	start := r.off - seq*r.file.ChunkSize
	if start >= int64(len(r.buf)) {
		return 0, fmt.Errorf("file %s: chunk %d is shorter than its size says", r.file.ID, seq)
	}
	n := copy(p, r.buf[start:])
	r.off += int64(n)
	return n, nil
}

// load reads chunk seq into buf, reusing buf's memory.
func (r *Reader) load(seq int64) error {
	const q = `
	SELECT data
	FROM file_chunks
	WHERE file_id = $1 AND seq = $2`
	rows, err := r.q.QueryContext(r.ctx, q, r.file.ID, seq)
	if err != nil {
		return fmt.Errorf("read chunk %d of file %s: %w", seq, r.file.ID, database.Translate(err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read chunk %d of file %s: %w", seq, r.file.ID, database.Translate(err))
		}
		return fmt.Errorf("chunk %d of file %s: %w", seq, r.file.ID, ErrNotFound) // deleted meanwhile
	}
	var raw sql.RawBytes
	if err := rows.Scan(&raw); err != nil {
		return fmt.Errorf("read chunk %d of file %s: %w", seq, r.file.ID, err)
	}
	r.buf = append(r.buf[:0], raw...)
	r.seq = seq
	return rows.Close()
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.file.Size + offset
	default:
		return 0, errors.New("files: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("files: negative position")
	}
	r.off = abs
	return abs, nil
}

// Rename sets the name and content type of file id ("" keeps one as it is).
func (s *Store) Rename(ctx context.Context, id uuid.UUID, name, contentType string) error {
	const q = `
	UPDATE files SET
		name = coalesce(nullif($2, ''), name),
		content_type = coalesce(nullif($3, ''), content_type)
	WHERE id = $1`
	if _, err := s.q.ExecContext(ctx, q, id, name, contentType); err != nil {
		return fmt.Errorf("rename file %s: %w", id, database.Translate(err))
	}
	return nil
}
