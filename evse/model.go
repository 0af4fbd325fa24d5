package evse

import (
	"fmt"
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

// GeneratedUID is the uid an EVSE gets when the client gives none.
func GeneratedUID(chargeStationID string, sequenceNumber int) string {
	return fmt.Sprintf("%s-%d", chargeStationID, sequenceNumber)
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
