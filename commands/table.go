package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
	"github.com/gin-gonic/gin"
)

// table lists the charger commands; Routes serves each as
// POST /chargers/{chargeBoxId}/{path}. How to add one: see the package documentation.
var table = []endpoint{
	resetCommand,
	unlockCommand,
	clearCacheCommand,
	triggerCommand,
	availabilityCommand,
	getConfigurationCommand,
	changeConfigurationCommand,
	updateFirmwareEndpoint{},
	diagnosticsEndpoint{},
	dataTransferCommand,
	passwordEndpoint{},
	securityProfileEndpoint{},
	installCertificateCommand,
	listCertificatesCommand,
	deleteCertificateCommand,
	startCommand,
	stopCommand,
	reserveCommand,
	cancelReservationCommand,
}

// endpoint is a table entry whatever its types, so that one table holds every command.
type endpoint interface {
	route() string
	serve(h *Handler, c *gin.Context) error
}

// methodOf is the HTTP method an endpoint is served with: POST, unless it says otherwise
// (a read such as GET certificates, a DELETE).
func methodOf(e endpoint) string {
	if m, ok := e.(interface{ httpMethod() string }); ok && m.httpMethod() != "" {
		return m.httpMethod()
	}
	return http.MethodPost
}

// command is one charger command. Req is the request body, bound and checked by the
// runner (with validator tags, and its check method when it has one, see checker). Ans is
// the station's answer as the command sees it, the same type for both protocols: each
// protocol's CALL says how its own answer becomes an Ans. Res is the HTTP 200 body.
type command[Req, Ans, Res any] struct {
	path string // after /chargers/{chargeBoxId}/
	// method is the HTTP method; "" is POST. A GET or DELETE command takes its request from
	// the query string (one value per parameter) instead of a body.
	method string
	// ocpp16 and ocpp201 turn a checked request into the CALL for a station of that
	// protocol. ocpp16 also serves a station that never connected: the runner answers
	// 409 before sending anything.
	ocpp16, ocpp201 func(req *Req) outgoing[Ans]
	// respond turns the station's answer into the response: the API's wording and
	// statuses live here.
	respond func(st Station, req *Req, ans Ans) Res
	// after, when set, records what the answer changed in evroam (e.g. a certificate the
	// station installed); it runs once the answer is in, even if the caller went away.
	after func(ctx context.Context, h *Handler, st Station, req *Req, ans Ans) error
}

func (cmd command[Req, Ans, Res]) route() string { return cmd.path }

func (cmd command[Req, Ans, Res]) httpMethod() string { return cmd.method }

// serve is the runner every command goes through: bind the body and find the station
// (404), check the request for the station's protocol (422 naming every bad field),
// build the CALL for that protocol, send it and decode the answer (409, 504, 502, 422 as
// commandError and decodeError say), and write the response.
func (cmd command[Req, Ans, Res]) serve(h *Handler, c *gin.Context) error {
	var req Req
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	build := cmd.ocpp16
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 {
		build = cmd.ocpp201
	}
	ans, err := build(&req).exchange(c.Request.Context(), h, st)
	if err != nil {
		return err
	}
	if cmd.after != nil {
		if err := cmd.after(context.WithoutCancel(c.Request.Context()), h, st, &req, ans); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, cmd.respond(st, &req, ans))
	return nil
}

// outgoing is the CALL a command sends to a station and how the station's answer
// becomes the command's Ans. Make one with send, sendAs or answered.
type outgoing[Ans any] struct {
	action  string
	payload any // the CALL's payload: a struct with json tags, omitempty where optional
	// decode reads the CALLRESULT. An error means the answer is of no use (502); its text
	// completes "charge station X answered Action …".
	decode func(answer json.RawMessage) (Ans, error)
	// done, when set, is the whole answer and no CALL is sent: the hook for a command that
	// finds, for this request, nothing to ask the station (configuration/get on 2.0.1
	// when no key names a variable).
	done *Ans
	// run, when set, replaces the single CALL: a command that needs several (configuration/
	// get on a 2.0.1 station that takes few variables per GetVariables) makes them through
	// call, one after the other, within the command's one timeout.
	run func(call caller) (Ans, error)
}

// caller sends one CALL and decodes its CALLRESULT into answer (a pointer); its errors are
// the runner's (commandError, decodeError), ready to return.
type caller func(action string, payload, answer any) error

// errUnreadable is an answer that does not decode into the shape the command expects.
var errUnreadable = errors.New("with an unreadable payload")

// send is a CALL whose answer decodes straight into Ans.
func send[Ans any](action string, payload any) outgoing[Ans] {
	return sendAs(action, payload, func(a Ans) (Ans, error) { return a, nil })
}

// sendAs is a CALL whose answer decodes into the protocol's own shape Wire, which conv
// turns into the command's Ans.
func sendAs[Wire, Ans any](action string, payload any, conv func(Wire) (Ans, error)) outgoing[Ans] {
	return outgoing[Ans]{action: action, payload: payload, decode: func(raw json.RawMessage) (Ans, error) {
		var w Wire
		if err := json.Unmarshal(raw, &w); err != nil {
			var zero Ans
			return zero, errUnreadable
		}
		return conv(w)
	}}
}

// answered is the answer to a request that needs no CALL.
func answered[Ans any](ans Ans) outgoing[Ans] { return outgoing[Ans]{done: &ans} }

// exchange sends the CALL through the Gateway, bounded by Config.Timeout, and decodes the
// answer.
func (out outgoing[Ans]) exchange(ctx context.Context, h *Handler, st Station) (Ans, error) {
	var zero Ans
	if out.done != nil {
		return *out.done, nil
	}
	if st.ProtocolVersion == "" {
		return zero, commandError(st.Identity, out.action, h.cfg.Timeout, ocpp.ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	if out.run != nil {
		return out.run(func(action string, payload, answer any) error {
			raw, err := h.Gateway.Call(ctx, st.Identity, action, payload)
			if err != nil {
				return commandError(st.Identity, action, h.cfg.Timeout, err)
			}
			if err := json.Unmarshal(raw, answer); err != nil {
				return decodeError(st.Identity, action, errUnreadable)
			}
			return nil
		})
	}
	raw, err := h.Gateway.Call(ctx, st.Identity, out.action, out.payload)
	if err != nil {
		return zero, commandError(st.Identity, out.action, h.cfg.Timeout, err)
	}
	ans, err := out.decode(raw)
	if err != nil {
		return zero, decodeError(st.Identity, out.action, err)
	}
	return ans, nil
}

// decodeError is an answer the command cannot use: 502, like an answer that breaks the
// schema.
func decodeError(identity, action string, err error) error {
	return fmt.Errorf("charge station %s answered %s %v: %w", identity, action, err, apperr.BadGateway)
}
