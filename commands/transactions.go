package commands

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
)

// Remote start and stop: 1.6 RemoteStartTransaction / RemoteStopTransaction, 2.0.1
// RequestStartTransaction / RequestStopTransaction.

// ---- start

type startRequest struct {
	// ConnectorID (1.6 connectorId) and EVSEID (2.0.1 evseId) name the same thing, the
	// EVSE's evse_sequence_number: give one, or neither to let the station choose.
	ConnectorID *int   `json:"connectorId" validate:"omitempty,min=1"`
	EVSEID      *int   `json:"evseId" validate:"omitempty,min=1"`
	IDTag       string `json:"idTag" validate:"required,max=36"`
}

// idTag16Max is the length of a 1.6 IdToken (CiString20); 2.0.1 takes 36.
const idTag16Max = 20

func (r *startRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if r.ConnectorID != nil && r.EVSEID != nil {
		fe.Add("evseId", "give connectorId or evseId, not both: both name the EVSE")
	}
	if proto != ocpp.ProtocolOCPP201 && len(r.IDTag) > idTag16Max {
		fe.Add("idTag", "must be at most 20 characters for an OCPP 1.6 station")
	}
	return fe
}

// evse is the EVSE the request names, nil for none.
func (r *startRequest) evse() *int {
	if r.EVSEID != nil {
		return r.EVSEID
	}
	return r.ConnectorID
}

type startResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	ConnectorID *int   `json:"connectorId,omitempty"`
	EVSEID      *int   `json:"evseId,omitempty"`
	IDTag       string `json:"idTag"`
	// RemoteStartID is the 2.0.1 remoteStartId: the station's TransactionEvent for the
	// transaction it starts carries it.
	RemoteStartID int `json:"remoteStartId,omitempty"`
	// TransactionID is given by a 2.0.1 station whose EVSE already had a transaction (the
	// driver plugged in first).
	TransactionID string `json:"transactionId,omitempty"`
	Status        string `json:"status"`
}

// remoteStart16 is the OCPP 1.6 RemoteStartTransaction payload.
type remoteStart16 struct {
	ConnectorID *int   `json:"connectorId,omitempty"`
	IDTag       string `json:"idTag"`
}

// requestStart201 is the OCPP 2.0.1 RequestStartTransaction payload. The token is a Central
// one: evroam presents it on the driver's behalf.
type requestStart201 struct {
	EVSEID        *int       `json:"evseId,omitempty"`
	RemoteStartID int        `json:"remoteStartId"`
	IDToken       idToken201 `json:"idToken"`
}

type idToken201 struct {
	IDToken string `json:"idToken"`
	Type    string `json:"type"`
}

// startAnswer is the station's status, with what 2.0.1 adds.
type startAnswer struct {
	ocpp.StatusResponse
	TransactionID string `json:"transactionId"`
	RemoteStartID int    `json:"-"`
}

var startMessages = map[string]string{
	"Accepted": "Remote start accepted by charger",
	"Rejected": "Charger rejected the remote start",
}

var startCommand = command[startRequest, startAnswer, startResponse]{
	path: "start",
	ocpp16: func(r *startRequest) outgoing[startAnswer] {
		return send[startAnswer]("RemoteStartTransaction", remoteStart16{ConnectorID: r.evse(), IDTag: r.IDTag})
	},
	ocpp201: func(r *startRequest) outgoing[startAnswer] {
		id := ocpp.NewRequestID()
		p := requestStart201{EVSEID: r.evse(), RemoteStartID: id, IDToken: idToken201{IDToken: r.IDTag, Type: "Central"}}
		return sendAs("RequestStartTransaction", p, func(a startAnswer) (startAnswer, error) {
			a.RemoteStartID = id
			return a, nil
		})
	},
	respond: func(st Station, r *startRequest, a startAnswer) startResponse {
		msg, ok := startMessages[a.Status]
		if !ok {
			msg = "Remote start " + verb(a.Status) + " by charger"
		}
		return startResponse{Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, ConnectorID: r.ConnectorID,
			EVSEID: r.EVSEID, IDTag: r.IDTag, RemoteStartID: a.RemoteStartID, TransactionID: a.TransactionID,
			Status: apiStatus(a.Status)}
	},
}

// ---- stop

// transactionID is a transaction id as the API takes it: a JSON string or number (1.6 ids are
// integers, 2.0.1 ids strings). A value of another type is remembered as invalid and
// reported with the other field errors.
type transactionID struct {
	Set     bool
	Invalid bool
	Value   string
}

// UnmarshalJSON records the value; it never fails.
func (t *transactionID) UnmarshalJSON(b []byte) error {
	t.Set = true
	b = bytes.TrimSpace(b)
	var s string
	if json.Unmarshal(b, &s) == nil {
		t.Value = s
		return nil
	}
	var n json.Number
	if len(b) > 0 && b[0] != '"' && json.Unmarshal(b, &n) == nil {
		t.Value = n.String()
		return nil
	}
	t.Invalid = true
	return nil
}

type stopRequest struct {
	TransactionID transactionID `json:"transactionId"`
}

func (r *stopRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	t := r.TransactionID
	switch {
	case !t.Set || (t.Value == "" && !t.Invalid):
		fe.Add("transactionId", "is required")
	case t.Invalid:
		fe.Add("transactionId", "must be a string or a whole number")
	case proto == ocpp.ProtocolOCPP201:
		if len(t.Value) > 36 {
			fe.Add("transactionId", "must be at most 36 characters")
		}
	default:
		if _, err := strconv.ParseInt(t.Value, 10, 32); err != nil {
			fe.Add("transactionId", "must be a whole number for an OCPP 1.6 station")
		}
	}
	return fe
}

type stopResponse struct {
	Message       string `json:"message"`
	ChargeBoxID   string `json:"chargeBoxId"`
	TransactionID string `json:"transactionId"`
	Status        string `json:"status"`
}

// remoteStop16 is the OCPP 1.6 RemoteStopTransaction payload.
type remoteStop16 struct {
	TransactionID int `json:"transactionId"`
}

// requestStop201 is the OCPP 2.0.1 RequestStopTransaction payload.
type requestStop201 struct {
	TransactionID string `json:"transactionId"`
}

var stopMessages = map[string]string{
	"Accepted": "Remote stop accepted by charger",
	"Rejected": "Charger rejected the remote stop (no such transaction running)",
}

var stopCommand = command[stopRequest, ocpp.StatusResponse, stopResponse]{
	path: "stop",
	ocpp16: func(r *stopRequest) outgoing[ocpp.StatusResponse] {
		id, _ := strconv.Atoi(r.TransactionID.Value) // checked
		return statusCall("RemoteStopTransaction", remoteStop16{TransactionID: id})
	},
	ocpp201: func(r *stopRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("RequestStopTransaction", requestStop201{TransactionID: r.TransactionID.Value})
	},
	respond: func(st Station, r *stopRequest, a ocpp.StatusResponse) stopResponse {
		msg, ok := stopMessages[a.Status]
		if !ok {
			msg = "Remote stop " + verb(a.Status) + " by charger"
		}
		return stopResponse{Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity,
			TransactionID: r.TransactionID.Value, Status: apiStatus(a.Status)}
	},
}
