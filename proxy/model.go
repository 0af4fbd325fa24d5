package proxy

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
)

// Role is what an operator may decide.
type Role string

// Roles.
const (
	// RoleBilling decides authorisation (Authorize, the start of transactions) and may start
	// and stop transactions remotely. At most one per station.
	RoleBilling Role = "Billing"
	// RoleDataAndControl sees everything and may send commands, but cannot start or stop
	// transactions or change the station's connection settings.
	RoleDataAndControl Role = "DataAndControl"
)

// Connection statuses of an operator's link.
const (
	StatusConnected    = "Connected"
	StatusConnecting   = "Connecting"
	StatusDisconnected = "Disconnected"
	StatusDisabled     = "Disabled"
)

// Errors.
var (
	ErrNotFound        = fmt.Errorf("operator %w", apperr.NotFound)
	ErrStationNotFound = fmt.Errorf("charge station %w", apperr.NotFound)
	ErrSecondBilling   = fmt.Errorf("the station already has a Billing operator (at most one decides authorisation): %w", apperr.Conflict)
)

// Operator is one operator of a station as the API shows it. The password is never part
// of it: HasPassword says whether one is set.
type Operator struct {
	ID        uuid.UUID
	StationID string
	Name      string
	URL       string
	Role      Role
	// Identity is the identity the link presents upstream; "" means the station's.
	Identity    string
	HasPassword bool
	Enabled     bool
	// Read-only, written by the node holding the link.
	ConnectionStatus string
	LastError        string
	LastConnectedAt  *time.Time
	Created          time.Time
	LastUpdated      time.Time
}

// Write is what a client sets on an operator (create, or the merged result of a PATCH).
type Write struct {
	Name     string
	URL      string
	Role     Role
	Identity string
	Enabled  bool
	// Password: SetPassword false keeps the current one; true sets Password ("" clears it).
	SetPassword bool
	Password    string
}

// Link is what the gateway needs to hold an operator's link: the operator with its password
// opened.
type Link struct {
	ID       uuid.UUID
	Name     string
	URL      string
	Role     Role
	Identity string // "" = the station's
	Password string // "" = no Basic auth
	Enabled  bool
	// PasswordErr is set when a password is on record but cannot be opened (sealed with
	// another EVROAM_SECRET_KEY, or the key is not set): the link is not attempted.
	PasswordErr string
}

// QueuedMessage is a transaction message waiting for an operator.
type QueuedMessage struct {
	ID                   int64
	OperatorID           uuid.UUID
	Action               string
	Payload              []byte
	StationTransactionID string
	Created              time.Time
}

// PartyEvroam names evroam itself in the transaction map.
const PartyEvroam = "evroam"
