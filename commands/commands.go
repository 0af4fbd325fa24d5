package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/ocpp"
)

// DefaultTimeout is how long a command waits for the station's answer when Config.Timeout
// is zero (EVROAM_COMMAND_TIMEOUT).
const DefaultTimeout = 30 * time.Second

// Config tunes the command handlers.
type Config struct {
	// Timeout bounds the wait for a station's answer (EVROAM_COMMAND_TIMEOUT); after it the
	// command answers 504. Default DefaultTimeout.
	Timeout time.Duration
	// SecureURL is the wss:// URL (without the identity) that a 2.0.1 station is given in
	// SetNetworkProfile when its security profile is raised (EVROAM_OCPP_TLS_PUBLIC_URL).
	SecureURL string
}

// Stations tells the handlers which charge stations an API key may command and which
// protocol they speak. cmd/evroam implements it over the charge-station store.
type Stations interface {
	// Station returns the station whose OCPP identity is identity, if p may see it (its
	// network is in p.Networks). A station that does not exist or that p may not see is an
	// error wrapping apperr.NotFound (so ids cannot be probed).
	Station(ctx context.Context, p auth.Principal, identity string) (Station, error)
}

// Station is what the handlers need to know about a charge station.
type Station struct {
	Identity string
	// ProtocolVersion is the protocol of the station's current (or last) connection:
	// ocpp.ProtocolOCPP16 or ocpp.ProtocolOCPP201; "" if it never connected.
	ProtocolVersion string
}

// Gateway sends a CALL to a station and waits for its answer, wherever the station is
// connected. *cluster.Node implements it for any number of nodes, *ocpp.Server for a
// single one. Errors are those of ocpp.Server.Call: ocpp.ErrNotConnected,
// ocpp.ErrTimeout, *ocpp.CallError, ocpp.ErrInvalidPayload, ocpp.ErrInvalidResponse.
type Gateway interface {
	Call(ctx context.Context, identity, action string, payload any) (json.RawMessage, error)
}

// DataTransfers reads the DataTransfer history that the gateway records through
// ocpp.Registry.RecordDataTransfer (both directions). cmd/evroam implements it over the
// station-log store.
type DataTransfers interface {
	// ListDataTransfers returns the exchanges of station identity, newest first, at most
	// limit. The handler has checked already that p may see the station.
	ListDataTransfers(ctx context.Context, p auth.Principal, identity string, limit int) ([]DataTransfer, error)
}

// DataTransfer is one recorded DataTransfer exchange.
type DataTransfer struct {
	ID int64
	ocpp.DataTransfer
}

// commandError turns a Gateway error into a command error of the kind the HTTP layer maps
// to a status: not connected 409 (Conflict), no answer 504 (Timeout), CALLERROR or an
// answer that breaks the schema 502 (BadGateway), a payload the schema refuses 422.
func commandError(identity, action string, timeout time.Duration, err error) error {
	var ce *ocpp.CallError
	switch {
	case errors.Is(err, ocpp.ErrNotConnected):
		return fmt.Errorf("charge station %s is not connected: %w", identity, apperr.Conflict)
	case errors.Is(err, ocpp.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("charge station %s did not answer %s within %s: %w", identity, action, timeout, apperr.Timeout)
	case errors.As(err, &ce):
		msg := fmt.Sprintf("charge station %s answered %s with CALLERROR %s", identity, action, ce.Code)
		if ce.Description != "" {
			msg += ": " + ce.Description
		}
		return fmt.Errorf("%s: %w", msg, apperr.BadGateway)
	case errors.Is(err, ocpp.ErrInvalidResponse):
		return fmt.Errorf("charge station %s answered %s with a payload that breaks the OCPP schema (%v): %w",
			identity, action, err, apperr.BadGateway)
	case errors.Is(err, ocpp.ErrInvalidPayload):
		return fmt.Errorf("the command cannot be sent to charge station %s as an OCPP %s (%v): %w",
			identity, action, err, apperr.Invalid)
	}
	return fmt.Errorf("%s to charge station %s: %w", action, identity, err)
}
