package commands

import (
	"context"
	"time"

	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpp"
	"github.com/google/uuid"
)

// The charger commands for other parts of evroam: the OCPI Commands module (through
// cmd/evroam) starts and stops sessions, unlocks connectors and reserves EVSEs with the same
// table entries, the same CALLs for each protocol and the same after steps (a reservation is
// recorded) as the REST API, without HTTP and without an API key: the caller has decided that
// the station may be commanded. Errors are the runner's: not connected (apperr.Conflict), no
// answer in time (apperr.Timeout), a CALLERROR or unusable answer (apperr.BadGateway), a
// request the station's protocol cannot carry (apperr.Invalid, with the fields).

// Answer is a station's answer to a command sent with the Remote methods: its OCPP status as
// the station sent it (Accepted, Rejected, Unlocked, Occupied, …) and, from a 2.0.1 station,
// the reason code of its statusInfo.
type Answer struct {
	Status string
	Reason string
}

func answerOf(a ocpp.StatusResponse) Answer {
	out := Answer{Status: a.Status}
	if a.StatusInfo != nil {
		out.Reason = a.StatusInfo.ReasonCode
	}
	return out
}

// runRemote sends cmd for station identity: the request made by mk for the protocol the
// station is connected with now is checked as the REST runner checks a body, sent within the
// command timeout (or ctx's deadline, if sooner), and the after step runs on the answer.
func runRemote[Req, Ans, Res any](ctx context.Context, h *Handler, cmd command[Req, Ans, Res], identity string, mk func(proto string) *Req) (Ans, error) {
	var zero Ans
	st := Station{Identity: identity}
	if g, ok := h.Gateway.(connectedProtocols); ok {
		if proto, ok := g.ConnectedProtocol(ctx, identity); ok {
			st.ProtocolVersion = proto
		}
	}
	req := mk(st.ProtocolVersion)
	if st.ProtocolVersion == "" {
		return zero, commandError(identity, cmd.path, h.cfg.Timeout, ocpp.ErrNotConnected)
	}
	if err := web.Validate(req); err != nil {
		return zero, err
	}
	if v, ok := any(req).(checker); ok {
		if err := v.check(st.ProtocolVersion).Err(); err != nil {
			return zero, err
		}
	}
	build := cmd.ocpp16
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 {
		build = cmd.ocpp201
	}
	ans, err := build(req).exchange(ctx, h, st)
	if err != nil {
		return zero, err
	}
	if cmd.after != nil {
		if err := cmd.after(context.WithoutCancel(ctx), h, st, req, ans); err != nil {
			return zero, err
		}
	}
	return ans, nil
}

// RemoteStart asks station identity to start a transaction for idTag on EVSE evse (nil: the
// station chooses): 1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction.
func (h *Handler) RemoteStart(ctx context.Context, identity string, evse *int, idTag string) (Answer, error) {
	a, err := runRemote(ctx, h, startCommand, identity, func(string) *startRequest {
		return &startRequest{EVSEID: evse, IDTag: idTag}
	})
	return answerOf(a.StatusResponse), err
}

// RemoteStop asks station identity to stop transaction transactionID: 1.6
// RemoteStopTransaction, 2.0.1 RequestStopTransaction.
func (h *Handler) RemoteStop(ctx context.Context, identity, txID string) (Answer, error) {
	a, err := runRemote(ctx, h, stopCommand, identity, func(string) *stopRequest {
		return &stopRequest{TransactionID: transactionID{Set: true, Value: txID}}
	})
	return answerOf(a), err
}

// Unlock asks station identity to unlock connector connector of EVSE evse: 1.6 addresses the
// EVSE (its connectorId), 2.0.1 the EVSE and its connector.
func (h *Handler) Unlock(ctx context.Context, identity string, evse, connector int) (Answer, error) {
	a, err := runRemote(ctx, h, unlockCommand, identity, func(proto string) *unlockRequest {
		if proto == ocpp.ProtocolOCPP201 {
			return &unlockRequest{EVSEID: &evse, ConnectorID: &connector}
		}
		return &unlockRequest{ConnectorID: &evse}
	})
	return answerOf(a), err
}

// Reservation is what Reserve asks of a station.
type Reservation struct {
	EVSE        int // the evse_sequence_number
	IDTag       string
	IDTokenType string // the 2.0.1 idToken type; "" is Central
	Expiry      time.Time
	// ID is the OCPP reservationId; 0 makes a fresh one.
	ID int
	// OCPIPartner, OCPIReservationID and OCPIResponseURL are recorded with the reservation.
	OCPIPartner       *uuid.UUID
	OCPIReservationID string
	OCPIResponseURL   string
}

// Reserve sends ReserveNow to station identity; an accepted reservation is recorded. It
// returns the station's answer and the reservationId sent.
func (h *Handler) Reserve(ctx context.Context, identity string, r Reservation) (Answer, int, error) {
	var req *reserveRequest
	a, err := runRemote(ctx, h, reserveCommand, identity, func(string) *reserveRequest {
		req = &reserveRequest{EVSEID: &r.EVSE, IDTag: r.IDTag, IDTokenType: r.IDTokenType,
			ExpiryDate: r.Expiry.UTC().Format(time.RFC3339Nano), ocpiPartner: r.OCPIPartner, ocpiReservationID: r.OCPIReservationID,
			ocpiResponseURL: r.OCPIResponseURL}
		if r.ID != 0 {
			req.ReservationID = &r.ID
		}
		return req
	})
	return answerOf(a), req.id, err
}

// CancelReservation sends CancelReservation for reservation id to station identity, on
// behalf of the OCPI partner that made it; an accepted cancellation ends the recorded
// reservation.
func (h *Handler) CancelReservation(ctx context.Context, identity string, id int) (Answer, error) {
	a, err := runRemote(ctx, h, cancelReservationCommand, identity, func(string) *cancelReservationRequest {
		return &cancelReservationRequest{ReservationID: &id, byPartner: true}
	})
	return answerOf(a), err
}
