package main

import (
	"context"
	"errors"
	"strconv"

	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpi"
	"github.com/evroam/evroam/reservations"
	"github.com/google/uuid"
)

// ocpiStations carries out the OCPI Commands module's commands with the charger commands of
// package commands (the same CALLs as the REST API, reaching a station on whichever node
// holds it), and maps each station answer onto an OCPI CommandResult: the one place that
// knows both the OCPP statuses and the OCPI results.
type ocpiStations struct {
	commands     *commands.Handler
	reservations *reservations.Service
}

// resultOf maps a station's answer (or the failure to get one) onto a CommandResult, with the
// OCPP status → OCPI result table of the command.
func resultOf(a commands.Answer, err error, table map[string]string) ocpi.CommandResult {
	var fe apperr.FieldErrors
	switch {
	case err == nil:
		if r, ok := table[a.Status]; ok {
			return ocpi.Result(r, "")
		}
		return ocpi.Result(ocpi.ResultFailed, "the charge station answered "+a.Status)
	case errors.Is(err, apperr.Timeout):
		return ocpi.Result(ocpi.ResultTimeout, "the charge station did not answer in time")
	case errors.Is(err, apperr.Conflict):
		return ocpi.Result(ocpi.ResultEVSEInoperative, "the charge station is not connected")
	case errors.As(err, &fe):
		// What the station's protocol cannot carry (a 1.6 idTag is at most 20 characters).
		msg := "the charge station cannot take this command"
		if len(fe) > 0 {
			msg += ": " + fe[0].Field + " " + fe[0].Message
		}
		return ocpi.Result(ocpi.ResultRejected, msg)
	case errors.Is(err, apperr.BadGateway):
		return ocpi.Result(ocpi.ResultFailed, "the charge station answered with an error")
	}
	return ocpi.Result(ocpi.ResultFailed, "")
}

var (
	startResults  = map[string]string{"Accepted": ocpi.ResultAccepted, "Rejected": ocpi.ResultRejected}
	stopResults   = startResults
	unlockResults = map[string]string{"Unlocked": ocpi.ResultAccepted, "UnlockFailed": ocpi.ResultFailed,
		"NotSupported": ocpi.ResultNotSupported, "UnknownConnector": ocpi.ResultRejected,
		"OngoingAuthorizedTransaction": ocpi.ResultRejected}
	reserveResults = map[string]string{"Accepted": ocpi.ResultAccepted, "Faulted": ocpi.ResultEVSEInoperative,
		"Unavailable": ocpi.ResultEVSEInoperative, "Occupied": ocpi.ResultEVSEOccupied, "Rejected": ocpi.ResultRejected}
	// A station that rejects a cancellation does not know the reservation (OCPP 1.6 and 2.0.1).
	cancelResults = map[string]string{"Accepted": ocpi.ResultAccepted, "Rejected": ocpi.ResultUnknownReservation}
)

// idTokenType is the OCPP 2.0.1 idToken type of an OCPI token: an RFID card is ISO14443, an
// app or ad hoc user is presented by evroam (Central).
func idTokenType(t ocpi.CommandToken) string {
	if t.Type == "RFID" {
		return "ISO14443"
	}
	return "Central"
}

func optionalEVSE(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func (s ocpiStations) StartSession(ctx context.Context, at ocpi.CommandTarget, token ocpi.CommandToken) ocpi.CommandResult {
	a, err := s.commands.RemoteStart(ctx, at.StationID, optionalEVSE(at.SequenceNumber), token.UID)
	return resultOf(a, err, startResults)
}

func (s ocpiStations) StopSession(ctx context.Context, station, transactionID string) ocpi.CommandResult {
	a, err := s.commands.RemoteStop(ctx, station, transactionID)
	return resultOf(a, err, stopResults)
}

func (s ocpiStations) UnlockConnector(ctx context.Context, at ocpi.CommandTarget) ocpi.CommandResult {
	// OCPI connector ids are strings; evroam's are the 2.0.1 connectorId ("1", "2", …).
	connector, err := strconv.Atoi(at.ConnectorID)
	if err != nil || connector < 1 {
		connector = 1
	}
	a, err := s.commands.Unlock(ctx, at.StationID, at.SequenceNumber, connector)
	return resultOf(a, err, unlockResults)
}

func (s ocpiStations) ReserveNow(ctx context.Context, at ocpi.CommandTarget, r ocpi.CommandReservation) ocpi.CommandResult {
	partner := r.Partner
	res := commands.Reservation{EVSE: at.SequenceNumber, IDTag: r.Token.UID, IDTokenType: idTokenType(r.Token), Expiry: r.Expiry,
		OCPIPartner: &partner, OCPIReservationID: r.ReservationID, OCPIResponseURL: r.ResponseURL}
	// The partner's reservation_id never reaches the station (another partner could use the
	// same): a known one keeps the OCPP id it has, so that the station replaces it.
	if cur, err := s.reservations.GetByOCPI(ctx, partner, r.ReservationID); err == nil && cur.StationID == at.StationID &&
		cur.Status == reservations.StatusActive {
		res.ID = cur.ID
	}
	a, _, err := s.commands.Reserve(ctx, at.StationID, res)
	return resultOf(a, err, reserveResults)
}

func (s ocpiStations) CancelReservation(ctx context.Context, partner uuid.UUID, reservationID string) ocpi.CommandResult {
	cur, err := s.reservations.GetByOCPI(ctx, partner, reservationID)
	if errors.Is(err, reservations.ErrNotFound) || err == nil && cur.Status != reservations.StatusActive {
		return ocpi.Result(ocpi.ResultUnknownReservation, "no active reservation "+reservationID)
	}
	if err != nil {
		return ocpi.Result(ocpi.ResultFailed, "")
	}
	a, err := s.commands.CancelReservation(ctx, cur.StationID, cur.ID)
	return resultOf(a, err, cancelResults)
}

// commandReservations records the reservations of the charger commands (REST and OCPI alike)
// in the reservations service, and tells an OCPI partner when the operator cancels its
// reservation (CANCELED_RESERVATION at its RESERVE_NOW's response_url). ocpi is set once the
// OCPI Commands module is built: it is built on the charger commands, which are built on this.
type commandReservations struct {
	svc  *reservations.Service
	ocpi *ocpi.Commands
}

func (r *commandReservations) Record(ctx context.Context, res reservations.Reservation) error {
	return r.svc.Record(ctx, res)
}

func (r *commandReservations) Cancel(ctx context.Context, station string, id int, byPartner bool) (bool, error) {
	cur, err := r.svc.Get(ctx, station, id)
	if err != nil && !errors.Is(err, reservations.ErrNotFound) {
		return false, err
	}
	ok, err := r.svc.Cancel(ctx, station, id)
	if err == nil && ok && !byPartner && r.ocpi != nil && cur.OCPIPartnerID != nil && cur.OCPIResponseURL != "" {
		r.ocpi.ReservationCanceled(*cur.OCPIPartnerID, cur.OCPIResponseURL)
	}
	return ok, err
}
