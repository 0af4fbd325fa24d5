package schema

import "slices"

// Status is the OCPI 2.2.1 Status of an EVSE (and, aggregated, of a charge
// station).
type Status string

// The OCPI 2.2.1 Status values.
const (
	StatusAvailable   Status = "AVAILABLE"
	StatusBlocked     Status = "BLOCKED"
	StatusCharging    Status = "CHARGING"
	StatusInoperative Status = "INOPERATIVE"
	StatusOutOfOrder  Status = "OUTOFORDER"
	StatusPlanned     Status = "PLANNED"
	StatusRemoved     Status = "REMOVED"
	StatusReserved    Status = "RESERVED"
	StatusUnknown     Status = "UNKNOWN"
)

var statuses = []Status{
	StatusAvailable, StatusBlocked, StatusCharging, StatusInoperative, StatusOutOfOrder,
	StatusPlanned, StatusRemoved, StatusReserved, StatusUnknown,
}

// Statuses returns all OCPI 2.2.1 Status values in specification order.
func Statuses() []Status { return slices.Clone(statuses) }

// Valid reports whether s is an OCPI 2.2.1 Status value (case-sensitive).
func (s Status) Valid() bool { return isOneOf(statuses, s) }

// ParseStatus returns s as a Status, or an error when it is not one.
func ParseStatus(s string) (Status, error) { return parseEnum("status", statuses, s) }

// ConnectorStatus is a connector status as an OCPP station reports it in
// StatusNotification: the OCPP 1.6 ChargePointStatus values plus the OCPP
// 2.0.1 ConnectorStatusEnumType value Occupied. Stations may send other
// values; StatusFromOCPP and FriendlyStatus accept any string.
type ConnectorStatus string

// The OCPP connector status values evroam knows.
const (
	OCPPAvailable     ConnectorStatus = "Available"
	OCPPPreparing     ConnectorStatus = "Preparing"
	OCPPCharging      ConnectorStatus = "Charging"
	OCPPSuspendedEVSE ConnectorStatus = "SuspendedEVSE"
	OCPPSuspendedEV   ConnectorStatus = "SuspendedEV"
	OCPPFinishing     ConnectorStatus = "Finishing"
	OCPPReserved      ConnectorStatus = "Reserved"
	OCPPUnavailable   ConnectorStatus = "Unavailable"
	OCPPFaulted       ConnectorStatus = "Faulted"
	OCPPOccupied      ConnectorStatus = "Occupied" // OCPP 2.0.1 only
)

var connectorStatuses = []ConnectorStatus{
	OCPPAvailable, OCPPPreparing, OCPPCharging, OCPPSuspendedEVSE, OCPPSuspendedEV,
	OCPPFinishing, OCPPReserved, OCPPUnavailable, OCPPFaulted, OCPPOccupied,
}

// ConnectorStatuses returns all OCPP connector status values evroam knows:
// the OCPP 1.6 ones in specification order, then Occupied.
func ConnectorStatuses() []ConnectorStatus { return slices.Clone(connectorStatuses) }

// Valid reports whether c is an OCPP 1.6 or 2.0.1 connector status (case-sensitive).
func (c ConnectorStatus) Valid() bool { return isOneOf(connectorStatuses, c) }

// StatusFromOCPP maps an OCPP 1.6 or 2.0.1 connector status to the OCPI
// status of its EVSE (contract §5): Available → AVAILABLE; Preparing,
// Charging, SuspendedEV, SuspendedEVSE, Finishing and Occupied → CHARGING
// (the EVSE is taken by a vehicle); Reserved → RESERVED; Unavailable →
// INOPERATIVE; Faulted → OUTOFORDER. Anything else, including "" and values
// in another case, is UNKNOWN: OCPP values are case-sensitive.
func StatusFromOCPP(ocppStatus string) Status {
	switch ConnectorStatus(ocppStatus) {
	case OCPPAvailable:
		return StatusAvailable
	case OCPPPreparing, OCPPCharging, OCPPSuspendedEV, OCPPSuspendedEVSE, OCPPFinishing, OCPPOccupied:
		return StatusCharging
	case OCPPReserved:
		return StatusReserved
	case OCPPUnavailable:
		return StatusInoperative
	case OCPPFaulted:
		return StatusOutOfOrder
	}
	return StatusUnknown
}

// The friendly statuses shown to operators in the status log.
const (
	FriendlyReady          = "Ready"
	FriendlyCharging       = "Charging"
	FriendlyChargingPaused = "Charging paused"
	FriendlyDoneOrPaused   = "Done or paused"
	FriendlyFinishing      = "Finishing"
	FriendlyUnavailable    = "Unavailable"
	FriendlyFaulted        = "Faulted"
	FriendlyReserved       = "Reserved"
	// FriendlyOffline is shown when the station is not connected; no OCPP
	// status maps to it, the caller picks it from the connectivity status.
	FriendlyOffline = "Offline"
)

// FriendlyStatuses returns all friendly statuses in the order operators see
// them explained.
func FriendlyStatuses() []string {
	return []string{
		FriendlyReady, FriendlyCharging, FriendlyChargingPaused, FriendlyDoneOrPaused,
		FriendlyFinishing, FriendlyUnavailable, FriendlyFaulted, FriendlyOffline, FriendlyReserved,
	}
}

// FriendlyStatus maps an OCPP connector status to the status an operator
// reads:
//
//   - Available, Preparing → Ready: Preparing means a cable is plugged in or
//     a card presented, and the charger is still waiting for the driver or
//     the car, which the operator sees as ready to use.
//   - Charging, Occupied → Charging. Occupied (2.0.1) does not say whether
//     energy flows; Charging is the closest friendly status.
//   - SuspendedEVSE → Charging paused: the charger paused (load balancing,
//     smart charging).
//   - SuspendedEV → Done or paused: the vehicle paused (battery full or a
//     schedule in the car).
//   - Finishing → Finishing.
//   - Reserved → Reserved: held for one driver.
//   - Unavailable → Unavailable.
//   - Faulted → Faulted.
//   - anything else (unknown or mis-cased values, "") → Unavailable: the
//     charger cannot be counted on when its status is not understood.
//
// Offline is never returned; callers show FriendlyOffline when the station is
// not connected, whatever its last OCPP status.
func FriendlyStatus(ocppStatus string) string {
	switch ConnectorStatus(ocppStatus) {
	case OCPPAvailable, OCPPPreparing:
		return FriendlyReady
	case OCPPCharging, OCPPOccupied:
		return FriendlyCharging
	case OCPPSuspendedEVSE:
		return FriendlyChargingPaused
	case OCPPSuspendedEV:
		return FriendlyDoneOrPaused
	case OCPPFinishing:
		return FriendlyFinishing
	case OCPPFaulted:
		return FriendlyFaulted
	case OCPPReserved:
		return FriendlyReserved
	}
	return FriendlyUnavailable
}

// The 2.0.1 ChargingStateEnumType values that refine an Occupied connector.
const (
	ChargingStateCharging      = "Charging"
	ChargingStateEVConnected   = "EVConnected"
	ChargingStateSuspendedEV   = "SuspendedEV"
	ChargingStateSuspendedEVSE = "SuspendedEVSE"
	ChargingStateIdle          = "Idle"
)

// EVSEFriendlyStatus is FriendlyStatus refined by the 2.0.1 chargingState of the EVSE's
// running transaction: 2.0.1 reports Occupied whether or not energy flows, and says which in
// TransactionEvent. An Occupied EVSE whose transaction is SuspendedEV reads Done or paused,
// SuspendedEVSE Charging paused, EVConnected Ready (plugged in, not charging yet, like 1.6
// Preparing); otherwise (Charging, Idle, none, or a 1.6 status) FriendlyStatus decides.
// migration 0022's evse_friendly_status is the same rule in SQL.
func EVSEFriendlyStatus(ocppStatus, chargingState string) string {
	if ConnectorStatus(ocppStatus) == OCPPOccupied {
		switch chargingState {
		case ChargingStateSuspendedEV:
			return FriendlyDoneOrPaused
		case ChargingStateSuspendedEVSE:
			return FriendlyChargingPaused
		case ChargingStateEVConnected:
			return FriendlyReady
		}
	}
	return FriendlyStatus(ocppStatus)
}

// AggregateStatus derives a charge station's status from its EVSEs' OCPI
// statuses. A station is as usable as its most usable EVSE, so the first
// rule that matches wins:
//
//  1. no EVSEs → UNKNOWN
//  2. any AVAILABLE → AVAILABLE
//  3. any CHARGING → CHARGING
//  4. any RESERVED → RESERVED
//  5. any BLOCKED → BLOCKED
//  6. all REMOVED → REMOVED
//  7. any OUTOFORDER → OUTOFORDER
//  8. any INOPERATIVE → INOPERATIVE
//  9. any PLANNED → PLANNED
//  10. otherwise → UNKNOWN
//
// Values that are not OCPI statuses count as UNKNOWN.
func AggregateStatus(evses []Status) Status {
	if len(evses) == 0 {
		return StatusUnknown
	}
	for _, s := range []Status{StatusAvailable, StatusCharging, StatusReserved, StatusBlocked} {
		if slices.Contains(evses, s) {
			return s
		}
	}
	if !slices.ContainsFunc(evses, func(s Status) bool { return s != StatusRemoved }) {
		return StatusRemoved
	}
	for _, s := range []Status{StatusOutOfOrder, StatusInoperative, StatusPlanned} {
		if slices.Contains(evses, s) {
			return s
		}
	}
	return StatusUnknown
}
