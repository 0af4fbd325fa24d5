package commands

import (
	"cmp"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
)

// The commands answered with a plain status: reset, unlock, cache/clear, trigger and
// availability.

// statusCall is a CALL answered with the common status shape (ocpp.StatusResponse).
func statusCall(action string, payload any) outgoing[ocpp.StatusResponse] {
	return send[ocpp.StatusResponse](action, payload)
}

// evseOf is the 2.0.1 evse a 1.6 connectorId names (a 1.6 connectorId is a 2.0.1 evseId);
// nil for 0, the whole station, which 2.0.1 addresses by leaving evse out.
func evseOf(connectorID *int) *ocpp.EVSE {
	if connectorID == nil || *connectorID <= 0 {
		return nil
	}
	return &ocpp.EVSE{ID: *connectorID}
}

// ---- reset

type resetRequest struct {
	Type   string `json:"type" validate:"required,oneof=Soft Hard"`
	When   string `json:"when" validate:"omitempty,oneof=Immediate OnIdle"`
	EVSEID *int   `json:"evseId" validate:"omitempty,min=1"`
}

func (r *resetRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 {
		if r.When == "OnIdle" {
			fe.Add("when", "OnIdle needs an OCPP 2.0.1 station: OCPP 1.6 resets at once")
		}
		if r.EVSEID != nil {
			fe.Add("evseId", "resetting one EVSE needs an OCPP 2.0.1 station: OCPP 1.6 resets the whole station")
		}
	}
	return fe
}

type resetResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	Type        string `json:"type"`
	When        string `json:"when,omitempty"`
	EVSEID      *int   `json:"evseId,omitempty"`
	Status      string `json:"status"`
}

// reset16 is the OCPP 1.6 Reset payload: type Soft or Hard.
type reset16 struct {
	Type string `json:"type"`
}

// reset201 is the OCPP 2.0.1 Reset payload: type Immediate or OnIdle, for the station or
// one EVSE.
type reset201 struct {
	Type   string `json:"type"`
	EVSEID *int   `json:"evseId,omitempty"`
}

var resetCommand = command[resetRequest, ocpp.StatusResponse, resetResponse]{
	path: "reset",
	ocpp16: func(r *resetRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("Reset", reset16{Type: r.Type})
	},
	ocpp201: func(r *resetRequest) outgoing[ocpp.StatusResponse] {
		// Immediate, like a 1.6 reset, ends transactions first; Soft/Hard has no 2.0.1
		// counterpart and is only echoed in the answer.
		return statusCall("Reset", reset201{Type: cmp.Or(r.When, "Immediate"), EVSEID: r.EVSEID})
	},
	respond: func(st Station, r *resetRequest, a ocpp.StatusResponse) resetResponse {
		return resetResponse{
			Message:     withInfo(r.Type+" reset "+verb(a.Status)+" by charger", a.StatusInfo),
			ChargeBoxID: st.Identity, Type: r.Type, When: r.When, EVSEID: r.EVSEID, Status: apiStatus(a.Status),
		}
	},
}

// ---- unlock

type unlockRequest struct {
	ConnectorID *int `json:"connectorId" validate:"required,min=1"`
	EVSEID      *int `json:"evseId" validate:"omitempty,min=1"`
}

func (r *unlockRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 && r.EVSEID != nil {
		fe.Add("evseId", "OCPP 1.6 addresses connectors by connectorId only")
	}
	return fe
}

type unlockResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	ConnectorID int    `json:"connectorId"`
	EVSEID      *int   `json:"evseId,omitempty"`
	Status      string `json:"status"`
}

var unlockMessages = map[string]string{
	"Unlocked":                     "Connector unlocked successfully",
	"UnlockFailed":                 "Charger failed to unlock the connector",
	"NotSupported":                 "Charger does not support unlocking connectors",
	"OngoingAuthorizedTransaction": "Connector not unlocked: an authorized transaction is ongoing",
	"UnknownConnector":             "Charger does not know this connector",
}

// unlock16 is the OCPP 1.6 UnlockConnector payload.
type unlock16 struct {
	ConnectorID int `json:"connectorId"`
}

// unlock201 is the OCPP 2.0.1 UnlockConnector payload: a connector of an EVSE.
type unlock201 struct {
	EVSEID      int `json:"evseId"`
	ConnectorID int `json:"connectorId"`
}

var unlockCommand = command[unlockRequest, ocpp.StatusResponse, unlockResponse]{
	path: "unlock",
	ocpp16: func(r *unlockRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("UnlockConnector", unlock16{ConnectorID: *r.ConnectorID})
	},
	ocpp201: func(r *unlockRequest) outgoing[ocpp.StatusResponse] {
		// Without evseId the 1.6 connectorId names the EVSE (contract: evse_sequence_number
		// = 1.6 connectorId = 2.0.1 evseId), whose connector 1 is unlocked.
		p := unlock201{EVSEID: *r.ConnectorID, ConnectorID: 1}
		if r.EVSEID != nil {
			p = unlock201{EVSEID: *r.EVSEID, ConnectorID: *r.ConnectorID}
		}
		return statusCall("UnlockConnector", p)
	},
	respond: func(st Station, r *unlockRequest, a ocpp.StatusResponse) unlockResponse {
		msg, ok := unlockMessages[a.Status]
		if !ok {
			msg = "Unlock " + verb(a.Status)
		}
		return unlockResponse{
			Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, ConnectorID: *r.ConnectorID,
			EVSEID: r.EVSEID, Status: apiStatus(a.Status),
		}
	},
}

// ---- cache/clear

type clearCacheRequest struct{}

type clearCacheResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	Status      string `json:"status"`
}

// clearCache is the ClearCache payload of both versions: empty.
type clearCache struct{}

func clearCacheCall(*clearCacheRequest) outgoing[ocpp.StatusResponse] {
	return statusCall("ClearCache", clearCache{})
}

var clearCacheCommand = command[clearCacheRequest, ocpp.StatusResponse, clearCacheResponse]{
	path:    "cache/clear",
	ocpp16:  clearCacheCall,
	ocpp201: clearCacheCall,
	respond: func(st Station, _ *clearCacheRequest, a ocpp.StatusResponse) clearCacheResponse {
		msg := "Cache cleared successfully"
		if a.Status != "Accepted" {
			msg = "Clearing the cache " + verb(a.Status) + " by charger"
		}
		return clearCacheResponse{Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, Status: apiStatus(a.Status)}
	},
}

// ---- trigger

type triggerRequest struct {
	RequestedMessage string `json:"requestedMessage" validate:"required,oneof=BootNotification Heartbeat MeterValues StatusNotification DiagnosticsStatusNotification FirmwareStatusNotification"`
	ConnectorID      *int   `json:"connectorId" validate:"omitempty,min=0"`
}

type triggerResponse struct {
	Message          string `json:"message"`
	ChargeBoxID      string `json:"chargeBoxId"`
	RequestedMessage string `json:"requestedMessage"`
	ConnectorID      *int   `json:"connectorId,omitempty"`
	Status           string `json:"status"`
}

// trigger16 is the OCPP 1.6 TriggerMessage payload.
type trigger16 struct {
	RequestedMessage string `json:"requestedMessage"`
	ConnectorID      *int   `json:"connectorId,omitempty"`
}

// trigger201 is the OCPP 2.0.1 TriggerMessage payload.
type trigger201 struct {
	RequestedMessage string     `json:"requestedMessage"`
	EVSE             *ocpp.EVSE `json:"evse,omitempty"`
}

var triggerCommand = command[triggerRequest, ocpp.StatusResponse, triggerResponse]{
	path: "trigger",
	ocpp16: func(r *triggerRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("TriggerMessage", trigger16{RequestedMessage: r.RequestedMessage, ConnectorID: r.ConnectorID})
	},
	ocpp201: func(r *triggerRequest) outgoing[ocpp.StatusResponse] {
		p := trigger201{RequestedMessage: r.RequestedMessage, EVSE: evseOf(r.ConnectorID)}
		if p.RequestedMessage == "DiagnosticsStatusNotification" {
			p.RequestedMessage = "LogStatusNotification" // its 2.0.1 successor
		}
		return statusCall("TriggerMessage", p)
	},
	respond: func(st Station, r *triggerRequest, a ocpp.StatusResponse) triggerResponse {
		return triggerResponse{
			Message:     withInfo(r.RequestedMessage+" trigger "+verb(a.Status)+" by charger", a.StatusInfo),
			ChargeBoxID: st.Identity, RequestedMessage: r.RequestedMessage, ConnectorID: r.ConnectorID,
			Status: apiStatus(a.Status),
		}
	},
}

// ---- availability

type availabilityRequest struct {
	ConnectorID *int   `json:"connectorId" validate:"required,min=0"`
	Type        string `json:"type" validate:"required,oneof=Operative Inoperative"`
}

type availabilityResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	ConnectorID int    `json:"connectorId"`
	Type        string `json:"type"`
	Status      string `json:"status"`
}

// changeAvailability16 is the OCPP 1.6 ChangeAvailability payload.
type changeAvailability16 struct {
	ConnectorID int    `json:"connectorId"`
	Type        string `json:"type"`
}

// changeAvailability201 is the OCPP 2.0.1 ChangeAvailability payload.
type changeAvailability201 struct {
	OperationalStatus string     `json:"operationalStatus"`
	EVSE              *ocpp.EVSE `json:"evse,omitempty"`
}

var availabilityCommand = command[availabilityRequest, ocpp.StatusResponse, availabilityResponse]{
	path: "availability",
	ocpp16: func(r *availabilityRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("ChangeAvailability", changeAvailability16{ConnectorID: *r.ConnectorID, Type: r.Type})
	},
	ocpp201: func(r *availabilityRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("ChangeAvailability", changeAvailability201{OperationalStatus: r.Type, EVSE: evseOf(r.ConnectorID)})
	},
	respond: func(st Station, r *availabilityRequest, a ocpp.StatusResponse) availabilityResponse {
		return availabilityResponse{
			Message:     withInfo("Availability change "+verb(a.Status)+" by charger", a.StatusInfo),
			ChargeBoxID: st.Identity, ConnectorID: *r.ConnectorID, Type: r.Type, Status: apiStatus(a.Status),
		}
	},
}
