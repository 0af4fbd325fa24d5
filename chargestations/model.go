package chargestations

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// ChargeStation is a charge station and its EVSEs.
type ChargeStation struct {
	ID                string // the OCPP identity (charge_station_id), unique system-wide
	NetworkID         uuid.UUID
	LocationID        string
	Name              *string
	DeployState       schema.DeployState
	InstallationDate  *time.Time
	DefaultTariffID   string
	ChargerType       schema.ChargerType
	Capabilities      []schema.Capability
	ContactlessType   *schema.ContactlessType
	TapToStop         *bool
	StopOnParking     *bool
	DefaultDirections []schema.DisplayText
	DefaultFloorLevel *string
	MaintenanceInfo   *string
	Remarks           *string
	SecurityProfile   schema.SecurityProfile
	PasswordHash      string // bcrypt hash of ocpp_password; "" when none is set
	PasswordVerifier  []byte // keyed verifier of ocpp_password (package secret); nil without a key
	Gateway           Gateway
	EVSEs             []evse.EVSE
	ETag              uuid.UUID
	Created           time.Time
	LastUpdated       time.Time // moves on changes of the station, its EVSEs and connectors
	StationUpdated    time.Time // moves on changes of the station itself only
	// RowVersion is the version of the database row the station was read from (PostgreSQL's
	// xmin): every write of the row, the gateway's included, gives it a new one. A list page
	// serves a station's cached answer only when it is of the version the page found.
	RowVersion int64
}

// Status is the station's aggregate status: schema.AggregateStatus of its EVSEs' live
// statuses (UNKNOWN for all while the station is offline). It shows how usable the station
// is, so one faulted EVSE next to an available one reads AVAILABLE: HasFault finds the faults.
func (cs ChargeStation) Status() schema.Status {
	st := make([]schema.Status, len(cs.EVSEs))
	for i, e := range cs.EVSEs {
		st[i], _ = e.LiveStatus()
	}
	return schema.AggregateStatus(st)
}

// HasFault reports whether any EVSE last reported OUTOFORDER (whatever the connectivity: a
// fault does not heal by going offline). The list filter has_fault reads the same from the
// charge_stations.has_fault column.
func (cs ChargeStation) HasFault() bool {
	for _, e := range cs.EVSEs {
		if e.Status == schema.StatusOutOfOrder {
			return true
		}
	}
	return false
}

// Gateway holds the read-only fields that the OCPP gateway fills in; the REST API never
// writes them.
type Gateway struct {
	HeartbeatInterval       *int
	ChargePointVendor       *string
	ChargePointModel        *string
	ChargePointSerialNumber *string
	ChargeBoxSerialNumber   *string
	FirmwareVersion         *string
	ICCID                   *string
	IMSI                    *string
	MeterType               *string
	MeterSerialNumber       *string
	ClientIPAddress         *string
	RemoteManageable        *bool
	ConnectivityStatus      *schema.ConnectivityStatus
	ProtocolVersion         *schema.ProtocolVersion
	Endpoint                *string
	OnboardingState         schema.OnboardingState
	LastBootAt              *time.Time
	LastHeartbeatAt         *time.Time
	// LastConnectionAttemptAt is when the station last tried to connect, and
	// LastConnectionError why that was refused (nil when it was accepted).
	LastConnectionAttemptAt *time.Time
	LastConnectionError     *string
	// SecurityProfilePending is the profile the station was told to move to (POST
	// /chargers/{id}/security-profile) until it has reconnected with it; SecurityProfileError
	// why the last upgrade failed.
	SecurityProfilePending *int
	SecurityProfileError   *string
	// FirmwareUpdateStatus is the status of the station's last FirmwareStatusNotification
	// (its whole history: GET /chargestations/{id}/firmware-history).
	FirmwareUpdateStatus *string
	// DiagnosticsStatus is the status of its last DiagnosticsStatusNotification or
	// LogStatusNotification (its uploads: GET /chargestations/{id}/log-files).
	DiagnosticsStatus *string
}

// Draft is a station as a client writes it (POST, PUT, or PATCH merged onto the current
// state): the writable fields, and where its EVSEs come from: EVSEs, or TemplateID.
type Draft struct {
	Station    ChargeStation // writable fields only
	EVSEs      []evse.EVSE   // when given by hand; uids and sequence numbers filled in
	TemplateID string        // when copied from a hardware template
	// Password is the new ocpp_password's stored form when SetPassword is true (empty clears
	// it).
	// When SetPassword is false the current password is kept: the password is write-only, so a
	// GET body sent back must not clear it.
	SetPassword bool
	Password    secret.Stored
	// TariffRefs are the tariff ids the request names (the default tariff and the
	// connectors' tariff_ids) with their JSON paths, filled in even when other fields are
	// invalid, so that unknown tariffs join the same 422.
	TariffRefs []evse.TariffRef
}

// Filter narrows a list of stations.
type Filter struct {
	LocationID         *string
	OnboardingState    *schema.OnboardingState
	ConnectivityStatus *schema.ConnectivityStatus
	Status             *schema.Status
	// HasFault keeps the stations with (true) or without (false) an EVSE OUTOFORDER.
	HasFault *bool
	// ExcludeEVSEsModified makes the date window apply to changes of the station itself,
	// ignoring changes of its EVSEs and connectors.
	ExcludeEVSEsModified bool
}

// Errors returned by this package.
var (
	ErrNotFound = fmt.Errorf("charge station %w", apperr.NotFound)
	ErrIDTaken  = fmt.Errorf("charge_station_id is already registered: %w", apperr.Conflict)
)
