package evse

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/schema"
)

// EVSE is one EVSE of a charge station.
type EVSE struct {
	UID                 string
	ChargeStationID     string
	SequenceNumber      int // the OCPP 1.6 connectorId / 2.0.1 evseId, 1..n per station
	EVSEID              *string
	Status              schema.Status // OCPI status, reported by the station (read-only)
	OCPPStatus          *string       // the raw OCPP status last reported (read-only)
	Capabilities        []schema.Capability
	Connectors          []Connector
	FloorLevel          *string
	Coordinates         *schema.GeoLocation
	PhysicalReference   *string
	Directions          []schema.DisplayText
	ParkingRestrictions []schema.ParkingRestriction
	StatusSchedule      []schema.StatusSchedule
	LastUpdated         time.Time
	// ChargingState is the 2.0.1 chargingState of the EVSE's running transaction (nil when
	// none, and always for 1.6): it refines the friendly status of an Occupied EVSE.
	ChargingState *string
	// StationOffline: the station is not connected, so what the EVSE last reported cannot be
	// counted on: it reads UNKNOWN / Offline (see LiveStatus). Filled by the reads.
	StationOffline bool
}

// LiveStatus is the EVSE's status as the API shows it: the OCPI status and the friendly one
// of what the station last reported, or UNKNOWN / Offline while the station is offline (as
// OCPI partners see it).
func (e EVSE) LiveStatus() (schema.Status, string) {
	if e.StationOffline {
		return schema.StatusUnknown, schema.FriendlyOffline
	}
	var ocpp, charging string
	if e.OCPPStatus != nil {
		ocpp = *e.OCPPStatus
	}
	if e.ChargingState != nil {
		charging = *e.ChargingState
	}
	if ocpp == "" {
		// Never reported: nothing is known yet.
		return e.Status, schema.FriendlyUnavailable
	}
	return e.Status, schema.EVSEFriendlyStatus(ocpp, charging)
}

// Connector is one connector of an EVSE. Standard, Format and Internal are always resolved
// together (Internal is empty when the internal table has no name for the pair).
type Connector struct {
	ID               string
	Standard         schema.ConnectorStandard
	Format           schema.ConnectorFormat
	Internal         schema.InternalConnector
	PowerType        schema.PowerType
	MaxVoltage       int
	MaxAmperage      int
	MaxElectricPower *int
	TariffIDs        []string
	LastUpdated      time.Time
}

// MaxUIDLen is the longest EVSE uid: OCPI 2.2.1's EVSE.uid is a string(36).
const MaxUIDLen = 36

// GeneratedUID is the uid an EVSE gets when the client gives none: "<station>-<sequence
// number>" when that fits in MaxUIDLen characters. A station id may have 48 characters, so a
// longer one is shortened: its first characters, "~", the first 10 hex digits of the SHA-256
// of the whole station id (so that two stations whose ids start alike still get different
// uids) and "-<sequence number>", 36 characters in all. Migration 0021 computes the same for
// the EVSEs stored before.
func GeneratedUID(chargeStationID string, sequenceNumber int) string {
	uid := fmt.Sprintf("%s-%d", chargeStationID, sequenceNumber)
	if len(uid) <= MaxUIDLen {
		return uid
	}
	sum := sha256.Sum256([]byte(chargeStationID))
	tail := "~" + hex.EncodeToString(sum[:])[:10] + "-" + strconv.Itoa(sequenceNumber)
	return chargeStationID[:max(0, MaxUIDLen-len(tail))] + tail
}

// Errors returned by this package.
var (
	ErrNotFound        = fmt.Errorf("EVSE %w", apperr.NotFound)
	ErrStationNotFound = fmt.Errorf("charge station %w", apperr.NotFound)
)

// ErrUIDTaken is returned when an EVSE uid is already used by another station's EVSE.
type ErrUIDTaken struct{ UID string }

func (e ErrUIDTaken) Error() string {
	return fmt.Sprintf("EVSE uid %q is already used by another charge station", e.UID)
}

// Unwrap makes the error a Conflict (HTTP 409).
func (e ErrUIDTaken) Unwrap() error { return apperr.Conflict }

// EVSEIDConstraint is the unique index that keeps evse_id unique among the EVSEs of every
// station (migration 0021): between concurrent writers it decides.
const EVSEIDConstraint = "evses_evse_id_key"

// EVSEIDTakenError is returned when EVSEs would take an evse_id that another EVSE has: UIDs
// are the EVSEs of the write whose evse_id is taken. Services turn it into a 422 naming each
// field; it is a Conflict for callers that do not.
type EVSEIDTakenError struct{ UIDs []string }

func (e EVSEIDTakenError) Error() string {
	return fmt.Sprintf("the evse_id of EVSE %s is already used by another EVSE", strings.Join(e.UIDs, ", "))
}

// Unwrap makes the error a Conflict.
func (e EVSEIDTakenError) Unwrap() error { return apperr.Conflict }

// EVSEIDTakenMessage is the message of a field whose evse_id another EVSE has.
const EVSEIDTakenMessage = "is already used by another EVSE (EVSE IDs are unique, compared without case and '*')"

// ErrEVSEIDRace is a write that lost to a concurrent one taking the same evse_id.
var ErrEVSEIDRace = fmt.Errorf("evse_id: another write took the same evse_id at the same time: %w", apperr.Conflict)
