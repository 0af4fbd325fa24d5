package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"
	"testing/iotest"
	"time"

	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/networks"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// write stores content as a new file of the root network.
func write(t *testing.T, db *sqlx.DB, content []byte, limit int64) (files.File, error) {
	t.Helper()
	root, err := networks.NewStore(db).EnsureRoot(t.Context(), "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	var f files.File
	err = database.InTx(t.Context(), db, func(tx *sqlx.Tx) error {
		var err error
		f, err = files.NewStore(db).WithTx(tx).Write(t.Context(), files.File{ID: uuid.New(), NetworkID: root.ID, Kind: files.KindFirmware,
			Name: "f.bin", ContentType: "application/octet-stream", Created: time.Now()}, bytes.NewReader(content), limit)
		return err
	})
	return f, err
}

// TestReaderSeeksAcrossChunks: the Reader is a proper io.ReadSeeker over a file of several
// chunks (the last one partial): reads of every size, seeks from the start, the current
// position and the end, as HTTP Range needs (testing/iotest.TestReader checks them all).
func TestReaderSeeksAcrossChunks(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	content := make([]byte, 2*files.ChunkSize+12345)
	mrand.NewChaCha8([32]byte{9}).Read(content)
	f, err := write(t, db, content, files.MaxSize)
	if err != nil {
		t.Fatal(err)
	}
	var chunks int
	db.Get(&chunks, `SELECT count(*) FROM file_chunks WHERE file_id = $1`, f.ID)
	if f.Size != int64(len(content)) || chunks != 3 {
		t.Fatalf("stored %d bytes in %d chunks, want %d in 3", f.Size, chunks, len(content))
	}
	got, err := files.NewStore(db).Get(t.Context(), nil, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(files.NewStore(db).Open(context.Background(), got), content); err != nil {
		t.Error(err)
	}
	// A read from the middle of the second chunk to the middle of the third.
	r := files.NewStore(db).Open(t.Context(), got)
	from := int64(files.ChunkSize + 100)
	if _, err := r.Seek(from, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, files.ChunkSize)
	if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, content[from:from+files.ChunkSize]) {
		t.Errorf("read across a chunk boundary: %v, or the bytes differ", err)
	}
}

// TestWriteRefusesPastTheLimit: a body one byte past the limit is TooLarge and, with the
// transaction rolled back, nothing of it is kept; exactly the limit is fine.
func TestWriteRefusesPastTheLimit(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	const limit = files.ChunkSize + 10
	if _, err := write(t, db, make([]byte, limit+1), limit); !errors.Is(err, apperr.TooLarge) {
		t.Fatalf("write past the limit: %v, want TooLarge", err)
	}
	var n int
	db.Get(&n, `SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM file_chunks)`)
	if n != 0 {
		t.Errorf("%d rows kept of a refused file", n)
	}
	if f, err := write(t, db, make([]byte, limit), limit); err != nil || f.Size != limit {
		t.Errorf("write of the limit: %+v %v", f, err)
	}
}
