package tokens

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
)

// Token is one token of a network.
type Token struct {
	ID                 string // internal key; the API addresses tokens by network and uid
	NetworkID          uuid.UUID
	UID                string
	Type               string // RFID, APP_USER, AD_HOC_USER, OTHER
	ContractID         string
	VisualNumber       *string
	Issuer             string
	GroupID            *string
	Valid              bool
	Whitelist          string // ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER
	Language           *string
	DefaultProfileType *string
	ExpiryDate         *time.Time // not OCPI: when the token stops being accepted (OCPP expiryDate)
	ETag               uuid.UUID
	Created            time.Time
	LastUpdated        time.Time
}

// The OCPI 2.2.1 TokenType values.
const (
	TypeRFID      = "RFID"
	TypeAppUser   = "APP_USER"
	TypeAdHocUser = "AD_HOC_USER"
	TypeOther     = "OTHER"
)

// MatchUID is the key under which a network keeps uid: RFID uids are matched
// case-insensitively, others exactly (the generated column match_uid, migration 0022).
func MatchUID(typ, uid string) string {
	if typ == TypeRFID {
		return upperASCII(uid)
	}
	return uid
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// Filter narrows a list of tokens.
type Filter struct {
	NetworkID *uuid.UUID
	Type      *string
}

// BulkResult counts what a bulk upsert did.
type BulkResult struct {
	Created int
	Updated int
}

// MaxBulk is the most tokens one bulk upsert takes: one statement, bounded in time and in
// the memory of its JSON.
const MaxBulk = 1000

// Errors returned by this package.
var (
	ErrNotFound  = fmt.Errorf("token %w", apperr.NotFound)
	ErrUIDTaken  = fmt.Errorf("the network already has a token with this uid: %w", apperr.Conflict)
	ErrAmbiguous = fmt.Errorf("tokens of several networks have this uid, give network_id: %w", apperr.Conflict)
)
