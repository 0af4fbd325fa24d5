package ocpi

import (
	"strings"
	"time"

	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// Version is the OCPI version this package implements.
const Version = "2.2.1"

// State is where a partner is in its registration.
type State string

// Partner states.
const (
	// StatePending: we issued a TOKEN_A and wait for the partner to POST its credentials, or we
	// are registering with the partner right now.
	StatePending State = "PENDING"
	// StateRegistered: tokens have been exchanged; the partner may use the functional modules.
	StateRegistered State = "REGISTERED"
	// StateUnregistered: the credentials were deleted (by the partner or by us).
	StateUnregistered State = "UNREGISTERED"
	// StateFailed: our registration with the partner failed; LastError says why.
	StateFailed State = "FAILED"
)

// Initiator says who POSTs the credentials in a partner's registration.
type Initiator string

// Initiators.
const (
	// InitiatorPartner: the partner registers with us, using a TOKEN_A we issued.
	InitiatorPartner Initiator = "partner"
	// InitiatorEvroam: we register with the partner, using a TOKEN_A it issued.
	InitiatorEvroam Initiator = "evroam"
)

// Partner is a roaming partner (an eMSP, hub, …) connected over OCPI.
type Partner struct {
	ID uuid.UUID
	// NetworkID is the network of the API key that created the partner: the partner sees,
	// pulls and is pushed that network and every network below it (its scope), and our
	// credentials name their parties only.
	NetworkID          uuid.UUID
	Name               string
	Initiator          Initiator
	State              State
	OutboundToken      string // the token we send to the partner (its TOKEN_B or TOKEN_C)
	PartnerVersionsURL string
	Version            string
	Endpoints          []Endpoint
	Roles              []CredentialsRole
	LocationsURL       string // the partner's Locations RECEIVER endpoint, "" when it has none
	TariffsURL         string // the partner's Tariffs RECEIVER endpoint, "" when it has none
	TokensURL          string // the partner's Tokens SENDER endpoint (pull, real-time authorisation)
	SessionsURL        string // the partner's Sessions RECEIVER endpoint
	CDRsURL            string // the partner's CDRs RECEIVER endpoint
	// AnnouncedParties are the parties ("NL*EVR", upper case) our credentials named in the
	// last exchange with the partner: we push under these only.
	AnnouncedParties []string
	// OurVersionsURL is the versions URL we gave the partner in that exchange.
	OurVersionsURL string
	LastError      string
	Created        time.Time
	LastUpdated    time.Time
}

// partyKey is how a party is named in AnnouncedParties: "NL*EVR".
func partyKey(countryCode, partyID string) string {
	return strings.ToUpper(countryCode) + "*" + strings.ToUpper(partyID)
}

// parties returns the party keys of roles.
func parties(roles []CredentialsRole) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = partyKey(r.CountryCode, r.PartyID)
	}
	return out
}

// Wire types of the configuration modules (OCPI 2.2.1 versions and credentials).

// VersionInfo is one entry of the versions list.
type VersionInfo struct {
	Version string `json:"version"`
	URL     string `json:"url"`
}

// VersionDetails lists the endpoints of one version.
type VersionDetails struct {
	Version   string     `json:"version"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is a module a party exposes, with the role it plays in it.
type Endpoint struct {
	Identifier string `json:"identifier"`
	Role       string `json:"role"`
	URL        string `json:"url"`
}

// InterfaceRole values.
const (
	RoleSender   = "SENDER"
	RoleReceiver = "RECEIVER"
)

// Credentials is the OCPI Credentials object.
type Credentials struct {
	Token string            `json:"token" validate:"required,max=64,printascii,excludes= "`
	URL   string            `json:"url" validate:"required,max=255,url"`
	Roles []CredentialsRole `json:"roles" validate:"required,min=1,dive"`
}

// CredentialsRole is one party (role, country_code, party_id) of a platform.
type CredentialsRole struct {
	Role            string                 `json:"role" validate:"required,oneof=CPO EMSP HUB NAP NSP OTHER SCSP"`
	BusinessDetails schema.BusinessDetails `json:"business_details" validate:"required"`
	PartyID         string                 `json:"party_id" validate:"required,len=3,printascii"`
	CountryCode     string                 `json:"country_code" validate:"required,len=2,alpha"`
}
