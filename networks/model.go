package networks

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
)

// Network is a CPO or a sub-client.
type Network struct {
	ID          uuid.UUID
	Name        string
	CountryCode string // ISO 3166 alpha-2
	PartyID     string // 3 characters
	ParentID    *uuid.UUID
	// AcceptUnknownTokens: the network's stations accept id tokens it does not know (free
	// vend, home chargers). Off by default.
	AcceptUnknownTokens bool
	Created             time.Time
	LastUpdated         time.Time
}

// Errors returned by this package.
var (
	ErrNotFound   = fmt.Errorf("network %w", apperr.NotFound)
	ErrPartyTaken = fmt.Errorf("another network already uses this country_code and party_id: %w", apperr.Conflict)
	ErrBadKey     = fmt.Errorf("unknown API key: %w", apperr.Unauthorized)
)
