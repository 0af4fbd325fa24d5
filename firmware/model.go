package firmware

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
)

// Firmware is an uploaded firmware image.
type Firmware struct {
	ID                 uuid.UUID
	NetworkID          uuid.UUID
	Vendor             string
	Model              string
	Version            string
	SigningCertificate *string // PEM, for 2.0.1 signed firmware
	Signature          *string // base64, for 2.0.1 signed firmware
	File               files.File
	Created            time.Time
	LastUpdated        time.Time
}

// New is what an upload says about its image, besides the bytes.
type New struct {
	Vendor             string
	Model              string
	Version            string
	SigningCertificate *string
	Signature          *string
	FileName           string
	ContentType        string
}

// ErrNotFound: no such firmware, or one of a network the caller cannot see.
var ErrNotFound = fmt.Errorf("firmware %w", apperr.NotFound)
