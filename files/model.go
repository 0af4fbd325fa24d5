package files

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
)

// ChunkSize is the size of a stored chunk: large enough that a file of MaxSize is 500 rows,
// small enough that a chunk in flight costs little memory.
const ChunkSize = 1 << 20

// MaxSize is the largest file accepted (500 MB).
const MaxSize = 500 << 20

// Kind says what a file is for.
type Kind string

// Kinds of file.
const (
	KindFirmware Kind = "firmware"
	KindLog      Kind = "log"
)

// File is a stored file's metadata.
type File struct {
	ID        uuid.UUID
	NetworkID uuid.UUID
	// StationID is the station that uploaded a log file ("" for firmware); the file is of
	// the station's network.
	StationID   string
	Kind        Kind
	Name        string
	ContentType string
	Size        int64
	ChunkSize   int64
	SHA256      []byte
	Created     time.Time
}

// Errors.
var (
	ErrNotFound = fmt.Errorf("file %w", apperr.NotFound)
	// ErrTooLarge: a body past the limit (HTTP 413); nothing of it is kept.
	ErrTooLarge = fmt.Errorf("the file is larger than %d bytes: %w", MaxSize, apperr.TooLarge)
	// ErrURL: a file URL that is forged, altered or expired (HTTP 403).
	ErrURL = fmt.Errorf("this file URL is invalid or has expired: %w", apperr.Forbidden)
	// ErrUploaded: an upload URL is good for one upload.
	ErrUploaded = fmt.Errorf("a file was uploaded at this URL already: %w", apperr.Conflict)
)
