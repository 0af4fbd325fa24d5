package commands

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/reservations"
	"github.com/google/uuid"
)

// Reservations: 1.6 ReserveNow / CancelReservation, 2.0.1 ReserveNow / CancelReservation. A
// reservation the station accepted is recorded (Deps.Reservations), so that its EVSE reads
// RESERVED until it ends; a cancellation the station accepted ends it.

// Reservations records what reservation commands changed. cmd/evroam implements it over
// reservations.Service.
type Reservations interface {
	// Record keeps a reservation the station accepted.
	Record(ctx context.Context, r reservations.Reservation) error
	// Cancel ends reservation id of station, whose cancellation the station accepted.
	// byPartner is true when the OCPI partner that made the reservation asked for it
	// (CANCEL_RESERVATION); otherwise the operator cancelled it, and that partner is told.
	Cancel(ctx context.Context, station string, id int, byPartner bool) (bool, error)
}

// ---- reserve

type reserveRequest struct {
	// ConnectorID (1.6 connectorId) and EVSEID (2.0.1 evseId) name the same thing, the EVSE's
	// evse_sequence_number: give exactly one (evroam reserves a given EVSE, never "any").
	ConnectorID *int   `json:"connectorId" validate:"omitempty,min=1"`
	EVSEID      *int   `json:"evseId" validate:"omitempty,min=1"`
	IDTag       string `json:"idTag" validate:"required,max=36"`
	// IDTokenType is the 2.0.1 idToken type (default Central, as for a remote start); a 1.6
	// idTag has none.
	IDTokenType string `json:"idTokenType" validate:"omitempty,oneof=Central eMAID ISO14443 ISO15693 KeyCode Local MacAddress NoAuthorization"`
	ParentIDTag string `json:"parentIdTag" validate:"omitempty,max=36"`
	ExpiryDate  string `json:"expiryDate"`
	// ReservationID is the OCPP reservationId; evroam makes one when it is not given. A known
	// one replaces that reservation (OCPP).
	ReservationID *int `json:"reservationId" validate:"omitempty,min=1"`

	// Set by the OCPI Commands module (never from a body): the partner and its reservation_id.
	ocpiPartner       *uuid.UUID
	ocpiReservationID string
	ocpiResponseURL   string
	id                int // the reservationId sent
}

func (r *reserveRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	switch {
	case r.ConnectorID != nil && r.EVSEID != nil:
		fe.Add("evseId", "give connectorId or evseId, not both: both name the EVSE")
	case r.ConnectorID == nil && r.EVSEID == nil:
		fe.Add("connectorId", "is required (or evseId): evroam reserves one EVSE")
	}
	if proto != ocpp.ProtocolOCPP201 {
		if len(r.IDTag) > idTag16Max {
			fe.Add("idTag", "must be at most 20 characters for an OCPP 1.6 station")
		}
		if len(r.ParentIDTag) > idTag16Max {
			fe.Add("parentIdTag", "must be at most 20 characters for an OCPP 1.6 station")
		}
	}
	if t := parseTime(&fe, "expiryDate", r.ExpiryDate, true); !t.IsZero() && !t.After(time.Now()) {
		fe.Add("expiryDate", "must be in the future")
	}
	return fe
}

func (r *reserveRequest) evse() int {
	if r.EVSEID != nil {
		return *r.EVSEID
	}
	return *r.ConnectorID
}

// reservationID is the id to send: the given one, else a fresh one (made once per request).
func (r *reserveRequest) reservationID() int {
	if r.id == 0 {
		r.id = ocpp.NewRequestID()
		if r.ReservationID != nil {
			r.id = *r.ReservationID
		}
	}
	return r.id
}

type reserveResponse struct {
	Message       string `json:"message"`
	ChargeBoxID   string `json:"chargeBoxId"`
	ConnectorID   *int   `json:"connectorId,omitempty"`
	EVSEID        *int   `json:"evseId,omitempty"`
	IDTag         string `json:"idTag"`
	ExpiryDate    string `json:"expiryDate"`
	ReservationID int    `json:"reservationId"`
	Status        string `json:"status"`
}

// reserveNow16 is the OCPP 1.6 ReserveNow payload.
type reserveNow16 struct {
	ConnectorID   int    `json:"connectorId"`
	ExpiryDate    string `json:"expiryDate"`
	IDTag         string `json:"idTag"`
	ParentIDTag   string `json:"parentIdTag,omitempty"`
	ReservationID int    `json:"reservationId"`
}

// reserveNow201 is the OCPP 2.0.1 ReserveNow payload.
type reserveNow201 struct {
	ID             int         `json:"id"`
	ExpiryDateTime string      `json:"expiryDateTime"`
	IDToken        idToken201  `json:"idToken"`
	EVSEID         *int        `json:"evseId,omitempty"`
	GroupIDToken   *idToken201 `json:"groupIdToken,omitempty"`
}

var reserveMessages = map[string]string{
	"Accepted":    "Reservation accepted by charger",
	"Faulted":     "Charger rejected the reservation: the EVSE is faulted",
	"Occupied":    "Charger rejected the reservation: the EVSE is occupied",
	"Rejected":    "Charger rejected the reservation",
	"Unavailable": "Charger rejected the reservation: the EVSE is unavailable",
}

var reserveCommand = command[reserveRequest, ocpp.StatusResponse, reserveResponse]{
	path: "reserve",
	ocpp16: func(r *reserveRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("ReserveNow", reserveNow16{ConnectorID: r.evse(), ExpiryDate: ocpp.FormatTime(checkedTime(r.ExpiryDate)),
			IDTag: r.IDTag, ParentIDTag: r.ParentIDTag, ReservationID: r.reservationID()})
	},
	ocpp201: func(r *reserveRequest) outgoing[ocpp.StatusResponse] {
		evse := r.evse()
		p := reserveNow201{ID: r.reservationID(), ExpiryDateTime: ocpp.FormatTime(checkedTime(r.ExpiryDate)),
			IDToken: idToken201{IDToken: r.IDTag, Type: cmp.Or(r.IDTokenType, "Central")}, EVSEID: &evse}
		if r.ParentIDTag != "" {
			p.GroupIDToken = &idToken201{IDToken: r.ParentIDTag, Type: "Central"}
		}
		return statusCall("ReserveNow", p)
	},
	after: func(ctx context.Context, h *Handler, st Station, r *reserveRequest, a ocpp.StatusResponse) error {
		if a.Status != "Accepted" {
			return nil
		}
		if h.Reservations == nil {
			return errors.New("commands: no Reservations configured")
		}
		return h.Reservations.Record(ctx, reservations.Reservation{StationID: st.Identity, ID: r.reservationID(),
			EVSESequenceNumber: r.evse(), IDTag: r.IDTag, Expiry: checkedTime(r.ExpiryDate).UTC(), Status: reservations.StatusActive,
			OCPIPartnerID: r.ocpiPartner, OCPIReservationID: r.ocpiReservationID, OCPIResponseURL: r.ocpiResponseURL,
			Created: time.Now().UTC()})
	},
	respond: func(st Station, r *reserveRequest, a ocpp.StatusResponse) reserveResponse {
		msg, ok := reserveMessages[a.Status]
		if !ok {
			msg = "Reservation " + verb(a.Status) + " by charger"
		}
		return reserveResponse{Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, ConnectorID: r.ConnectorID,
			EVSEID: r.EVSEID, IDTag: r.IDTag, ExpiryDate: ocpp.FormatTime(checkedTime(r.ExpiryDate)),
			ReservationID: r.reservationID(), Status: apiStatus(a.Status)}
	},
}

// ---- cancel-reservation

type cancelReservationRequest struct {
	ReservationID *int `json:"reservationId" validate:"required,min=1"`

	byPartner bool // set by the OCPI Commands module (CANCEL_RESERVATION), never from a body
}

type cancelReservationResponse struct {
	Message       string `json:"message"`
	ChargeBoxID   string `json:"chargeBoxId"`
	ReservationID int    `json:"reservationId"`
	Status        string `json:"status"`
}

// cancelReservation is the CancelReservation payload of both versions.
type cancelReservation struct {
	ReservationID int `json:"reservationId"`
}

func cancelReservationCall(r *cancelReservationRequest) outgoing[ocpp.StatusResponse] {
	return statusCall("CancelReservation", cancelReservation{ReservationID: *r.ReservationID})
}

var cancelReservationCommand = command[cancelReservationRequest, ocpp.StatusResponse, cancelReservationResponse]{
	path:    "cancel-reservation",
	ocpp16:  cancelReservationCall,
	ocpp201: cancelReservationCall,
	after: func(ctx context.Context, h *Handler, st Station, r *cancelReservationRequest, a ocpp.StatusResponse) error {
		if a.Status != "Accepted" {
			return nil
		}
		if h.Reservations == nil {
			return errors.New("commands: no Reservations configured")
		}
		_, err := h.Reservations.Cancel(ctx, st.Identity, *r.ReservationID, r.byPartner)
		return err
	},
	respond: func(st Station, r *cancelReservationRequest, a ocpp.StatusResponse) cancelReservationResponse {
		msg := "Reservation cancelled by charger"
		if a.Status != "Accepted" {
			msg = "Charger rejected the cancellation (no such reservation)"
		}
		return cancelReservationResponse{Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity,
			ReservationID: *r.ReservationID, Status: apiStatus(a.Status)}
	},
}
