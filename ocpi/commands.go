package ocpi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// The Commands module, RECEIVER (OCPI 2.2.1 mod_commands): a partner POSTs a command to
// /ocpi/2.2.1/commands/{command}; evroam answers at once with a CommandResponse (whether it
// can send the command to a charge station, and how long the partner should wait for the
// result), sends the command to the station, and POSTs the CommandResult to the request's
// response_url once the station answered, or TIMEOUT when it did not in time.

// Command types (CommandType).
const (
	CommandCancelReservation = "CANCEL_RESERVATION"
	CommandReserveNow        = "RESERVE_NOW"
	CommandStartSession      = "START_SESSION"
	CommandStopSession       = "STOP_SESSION"
	CommandUnlockConnector   = "UNLOCK_CONNECTOR"
)

// CommandResponse results (CommandResponseType).
const (
	ResponseAccepted       = "ACCEPTED"
	ResponseNotSupported   = "NOT_SUPPORTED"
	ResponseRejected       = "REJECTED"
	ResponseUnknownSession = "UNKNOWN_SESSION"
)

// CommandResult results (CommandResultType).
const (
	ResultAccepted            = "ACCEPTED"
	ResultCanceledReservation = "CANCELED_RESERVATION"
	ResultEVSEOccupied        = "EVSE_OCCUPIED"
	ResultEVSEInoperative     = "EVSE_INOPERATIVE"
	ResultFailed              = "FAILED"
	ResultNotSupported        = "NOT_SUPPORTED"
	ResultRejected            = "REJECTED"
	ResultTimeout             = "TIMEOUT"
	ResultUnknownReservation  = "UNKNOWN_RESERVATION"
)

// CommandResponse is the immediate answer to a command.
type CommandResponse struct {
	Result  string               `json:"result"`
	Timeout int                  `json:"timeout"`
	Message []schema.DisplayText `json:"message,omitempty"`
}

// CommandResult is what the station answered, POSTed to the command's response_url.
type CommandResult struct {
	Result  string               `json:"result"`
	Message []schema.DisplayText `json:"message,omitempty"`
}

// Result returns a CommandResult with result and, when msg is not "", an English message.
func Result(result, msg string) CommandResult {
	r := CommandResult{Result: result}
	if msg != "" {
		r.Message = []schema.DisplayText{{Language: "en", Text: truncate(msg, 512)}}
	}
	return r
}

// CommandToken is the OCPI Token of a START_SESSION or RESERVE_NOW: the token the station
// is to use.
type CommandToken struct {
	CountryCode        string  `json:"country_code" validate:"required,len=2"`
	PartyID            string  `json:"party_id" validate:"required,len=3"`
	UID                string  `json:"uid" validate:"required,max=36"`
	Type               string  `json:"type" validate:"required,oneof=AD_HOC_USER APP_USER OTHER RFID"`
	ContractID         string  `json:"contract_id" validate:"required,max=36"`
	VisualNumber       *string `json:"visual_number" validate:"omitempty,max=64"`
	Issuer             string  `json:"issuer" validate:"required,max=64"`
	GroupID            *string `json:"group_id" validate:"omitempty,max=36"`
	Valid              *bool   `json:"valid" validate:"required"`
	Whitelist          string  `json:"whitelist" validate:"required,oneof=ALWAYS ALLOWED ALLOWED_OFFLINE NEVER"`
	Language           *string `json:"language" validate:"omitempty,len=2"`
	DefaultProfileType *string `json:"default_profile_type" validate:"omitempty,oneof=CHEAP FAST GREEN REGULAR"`
	LastUpdated        string  `json:"last_updated" validate:"required"`
}

// CommandTarget is where a command goes: a station, one of its EVSEs (its
// evse_sequence_number; 0 when the command names none) and, for UNLOCK_CONNECTOR, the OCPI
// Connector.id.
type CommandTarget struct {
	StationID      string
	SequenceNumber int
	ConnectorID    string
}

// CommandReservation is a RESERVE_NOW as the station is to get it.
type CommandReservation struct {
	Partner       uuid.UUID // the partner that reserves
	ReservationID string    // the partner's reservation_id
	ResponseURL   string    // the RESERVE_NOW's response_url (CANCELED_RESERVATION goes there)
	Token         CommandToken
	Expiry        time.Time
}

// StationCommands carries out the commands at the charge stations. cmd/evroam implements it
// with the charger commands (package commands, which reach a station on whichever node holds
// it) and the reservations. Each method waits for the station's answer, at most until ctx
// ends, and returns it as a CommandResult: TIMEOUT when the station did not answer in time,
// EVSE_INOPERATIVE when it is not connected, FAILED when its answer was an error.
type StationCommands interface {
	StartSession(ctx context.Context, at CommandTarget, token CommandToken) CommandResult
	StopSession(ctx context.Context, station, transactionID string) CommandResult
	UnlockConnector(ctx context.Context, at CommandTarget) CommandResult
	ReserveNow(ctx context.Context, at CommandTarget, r CommandReservation) CommandResult
	CancelReservation(ctx context.Context, partner uuid.UUID, reservationID string) CommandResult
}

// CommandsConfig tunes the Commands module. Zero values take the defaults.
type CommandsConfig struct {
	// StationTimeout bounds the wait for a station's answer (EVROAM_COMMAND_TIMEOUT); after it
	// the result is TIMEOUT. Default 30 s.
	StationTimeout time.Duration
	// Outbound bounds the CommandResult POSTs (timeouts, answer size, addresses).
	Outbound Outbound
	// ResultAttempts is how often a CommandResult POST is tried before it is given up
	// (default 5); a partner that refuses it outright (HTTP 4xx, OCPI 2xxx) is not asked again.
	ResultAttempts int
	// ResultBackoff is the wait after the first failed POST, doubled after each further one
	// (default 1 s).
	ResultBackoff time.Duration
	// Tokens keeps the token of a START_SESSION as the partner's roaming token, so that the
	// session it starts is the partner's (pushed to it, billed in a CDR); nil: not kept.
	Tokens *tokens.Service
	Log    *slog.Logger
}

// Commands serves the Commands module (RECEIVER) under /ocpi/2.2.1/commands and sends the
// CommandResults. Results are sent from goroutines Close waits for.
type Commands struct {
	store    *Store
	view     *View
	stations StationCommands
	client   *client
	cfg      CommandsConfig
	log      *slog.Logger

	ctx    context.Context // ends at Close: results in flight give up their retries
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewCommands returns the Commands module over stations.
func NewCommands(store *Store, view *View, stations StationCommands, cfg CommandsConfig) *Commands {
	if cfg.StationTimeout <= 0 {
		cfg.StationTimeout = 30 * time.Second
	}
	if cfg.ResultAttempts <= 0 {
		cfg.ResultAttempts = 5
	}
	if cfg.ResultBackoff <= 0 {
		cfg.ResultBackoff = time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Commands{store: store, view: view, stations: stations, client: cfg.Outbound.newClient(), cfg: cfg,
		log: log.With("component", "ocpi-commands"), ctx: ctx, cancel: cancel}
}

// Close stops retrying results and waits for the commands in flight to end.
func (m *Commands) Close() {
	m.cancel()
	m.wg.Wait()
}

// wait waits for the commands in flight (their results sent or given up).
func (m *Commands) wait() { m.wg.Wait() }

// Routes registers POST /ocpi/2.2.1/commands/{command} on r, behind the OCPI token
// authentication of registered partners.
func (m *Commands) Routes(r gin.IRouter) {
	g := r.Group("/ocpi/"+Version, messageHeaders, authenticateWith(m.store, false))
	g.POST("/commands/:command", handle(m.post))
}

// responseTimeout is the CommandResponse timeout: the station's time to answer and that of
// the first POST of its result.
func (m *Commands) responseTimeout() int {
	d := m.cfg.StationTimeout + m.client.http.Timeout
	return int(math.Ceil(d.Seconds()))
}

// commandRequest is the fields of the five command objects; which are required depends on
// the command (check).
type commandRequest struct {
	ResponseURL            string        `json:"response_url" validate:"required,max=255,url"`
	Token                  *CommandToken `json:"token"`
	ExpiryDate             *string       `json:"expiry_date"`
	ReservationID          *string       `json:"reservation_id" validate:"omitempty,max=36"`
	LocationID             *string       `json:"location_id" validate:"omitempty,max=36"`
	EVSEUID                *string       `json:"evse_uid" validate:"omitempty,max=36"`
	ConnectorID            *string       `json:"connector_id" validate:"omitempty,max=36"`
	AuthorizationReference *string       `json:"authorization_reference" validate:"omitempty,max=36"`
	SessionID              *string       `json:"session_id" validate:"omitempty,max=36"`
}

// required lists, per command, the fields its object requires (besides response_url).
var required = map[string][]string{
	CommandCancelReservation: {"reservation_id"},
	CommandReserveNow:        {"token", "expiry_date", "reservation_id", "location_id"},
	CommandStartSession:      {"token", "location_id"},
	CommandStopSession:       {"session_id"},
	CommandUnlockConnector:   {"location_id", "evse_uid", "connector_id"},
}

// commandObjects names the object each command's body is.
var commandObjects = map[string]string{
	CommandCancelReservation: "CancelReservation", CommandReserveNow: "ReserveNow", CommandStartSession: "StartSession",
	CommandStopSession: "StopSession", CommandUnlockConnector: "UnlockConnector",
}

func (r *commandRequest) present(field string) bool {
	switch field {
	case "token":
		return r.Token != nil
	case "expiry_date":
		return r.ExpiryDate != nil && *r.ExpiryDate != ""
	case "reservation_id":
		return r.ReservationID != nil && *r.ReservationID != ""
	case "location_id":
		return r.LocationID != nil && *r.LocationID != ""
	case "evse_uid":
		return r.EVSEUID != nil && *r.EVSEUID != ""
	case "connector_id":
		return r.ConnectorID != nil && *r.ConnectorID != ""
	case "session_id":
		return r.SessionID != nil && *r.SessionID != ""
	}
	return false
}

// check adds what the command's object requires, and the dates, to fe.
func (r *commandRequest) check(command string, fe *apperr.FieldErrors) {
	for _, f := range required[command] {
		if !r.present(f) {
			fe.Add(f, "is required")
		}
	}
	if command == CommandReserveNow && r.present("expiry_date") {
		if _, err := schema.ParseDateTime(*r.ExpiryDate); err != nil {
			fe.Add("expiry_date", "must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z")
		}
	}
	if r.Token != nil && r.Token.LastUpdated != "" {
		if _, err := schema.ParseDateTime(r.Token.LastUpdated); err != nil {
			fe.Add("token.last_updated", "must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z")
		}
	}
	if command == CommandStartSession && r.present("connector_id") && !r.present("evse_uid") {
		fe.Add("evse_uid", "is required when connector_id is given")
	}
}

// bindCommand reads the body of command. A body that is not a JSON object is HTTP 400 with
// 2001; so is one with missing or invalid fields, every one named. Unknown fields are
// tolerated (a later OCPI version may add some).
func bindCommand(c *gin.Context, command string) (commandRequest, error) {
	var req commandRequest
	object := commandObjects[command]
	body, err := web.ReadBodyLimit(c, 64<<10)
	if err != nil {
		return req, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "cannot read the request body: "+err.Error())
	}
	var problems apperr.FieldErrors
	if err := web.BindJSON(body, &req); err != nil {
		var fe apperr.FieldErrors
		if !errors.As(err, &fe) {
			return req, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "the body must be a "+object+" object: "+err.Error())
		}
		for _, f := range fe {
			if f.Message != "unknown field" {
				problems = append(problems, f)
			}
		}
	}
	// A field of the wrong type stops BindJSON before the validator runs; json.Unmarshal
	// decodes what it can, so the other fields are checked too (a field already named for
	// its type is not named again).
	if len(problems) > 0 {
		req = commandRequest{}
		_ = json.Unmarshal(body, &req)
		named := map[string]bool{}
		for _, f := range problems {
			named[f.Field] = true
		}
		var more apperr.FieldErrors
		if err := web.Validate(&req); err != nil {
			errors.As(err, &more)
		}
		for _, f := range more {
			if !named[f.Field] {
				problems = append(problems, f)
			}
		}
	}
	req.check(command, &problems)
	if len(problems) > 0 {
		parts := make([]string, len(problems))
		for i, f := range problems {
			parts[i] = f.Field + " " + f.Message
		}
		return req, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "invalid "+object+" object: "+strings.Join(parts, "; "))
	}
	return req, nil
}

// answer writes the CommandResponse: HTTP 200 with 1000, or HTTP 404 with 2003 (unknown
// location, as the specification's UNLOCK_CONNECTOR example answers) and REJECTED.
func (m *Commands) answer(c *gin.Context, result, msg string) {
	resp := CommandResponse{Result: result, Timeout: m.responseTimeout()}
	if msg != "" {
		resp.Message = []schema.DisplayText{{Language: "en", Text: msg}}
	}
	respond(c, http.StatusOK, resp)
}

func (m *Commands) unknownLocation(c *gin.Context, msg string) {
	c.JSON(http.StatusNotFound, envelope{Data: CommandResponse{Result: ResponseRejected, Timeout: 0,
		Message: []schema.DisplayText{{Language: "en", Text: msg}}}, StatusCode: CodeUnknownLocation,
		StatusMessage: "unknown location", Timestamp: schema.FormatDateTime(nowFunc())})
}

func (m *Commands) post(c *gin.Context) error {
	command := c.Param("command")
	if _, ok := commandObjects[command]; !ok {
		m.answer(c, ResponseNotSupported, fmt.Sprintf("%q is not an OCPI 2.2.1 command", command))
		return nil
	}
	req, err := bindCommand(c, command)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	who := currentCaller(c).Partner
	var run func(ctx context.Context) CommandResult
	switch command {
	case CommandStartSession, CommandReserveNow, CommandUnlockConnector:
		evseUID := ""
		if req.EVSEUID != nil {
			evseUID = *req.EVSEUID
		}
		evses, err := m.view.commandEVSEs(ctx, who.NetworkID, *req.LocationID, evseUID)
		if err != nil {
			return err
		}
		if len(evses) == 0 {
			m.unknownLocation(c, "no such location or EVSE: "+*req.LocationID+" "+evseUID)
			return nil
		}
		at := CommandTarget{StationID: evses[0].StationID}
		if evseUID != "" {
			at.SequenceNumber = evses[0].SequenceNumber
		}
		if req.ConnectorID != nil && *req.ConnectorID != "" {
			if _, ok := evses[0].EVSE.FindConnector(*req.ConnectorID); !ok {
				m.unknownLocation(c, "no such connector: "+*req.ConnectorID)
				return nil
			}
			at.ConnectorID = *req.ConnectorID
		}
		if evseUID == "" {
			// No EVSE named: the station of the location's first EVSE chooses, and a location
			// spread over several stations cannot be commanded as one.
			for _, e := range evses[1:] {
				if e.StationID != at.StationID {
					m.answer(c, ResponseRejected, "this location has several charge stations: name the EVSE (evse_uid)")
					return nil
				}
			}
			if command == CommandReserveNow {
				m.answer(c, ResponseRejected, "evroam reserves one EVSE: name it (evse_uid)")
				return nil
			}
		}
		if offline(evses, evseUID) {
			m.answer(c, ResponseRejected, "the charge station is offline")
			return nil
		}
		switch command {
		case CommandStartSession:
			tok := *req.Token
			if err := m.keepToken(ctx, who, tok); err != nil {
				return err
			}
			run = func(ctx context.Context) CommandResult { return m.stations.StartSession(ctx, at, tok) }
		case CommandUnlockConnector:
			run = func(ctx context.Context) CommandResult { return m.stations.UnlockConnector(ctx, at) }
		case CommandReserveNow:
			expiry, _ := schema.ParseDateTime(*req.ExpiryDate)
			if !expiry.After(time.Now()) {
				m.answer(c, ResponseRejected, "expiry_date has passed")
				return nil
			}
			r := CommandReservation{Partner: who.ID, ReservationID: *req.ReservationID, Token: *req.Token, Expiry: expiry,
				ResponseURL: req.ResponseURL}
			run = func(ctx context.Context) CommandResult { return m.stations.ReserveNow(ctx, at, r) }
		}
	case CommandStopSession:
		s, ok, err := m.view.sessionForCommand(ctx, who.NetworkID, *req.SessionID)
		if err != nil {
			return err
		}
		if !ok {
			m.answer(c, ResponseUnknownSession, "no such session: "+*req.SessionID)
			return nil
		}
		if !s.Active {
			m.answer(c, ResponseRejected, "the session has ended")
			return nil
		}
		run = func(ctx context.Context) CommandResult {
			return m.stations.StopSession(ctx, s.StationID, s.TransactionID)
		}
	case CommandCancelReservation:
		id := *req.ReservationID
		run = func(ctx context.Context) CommandResult { return m.stations.CancelReservation(ctx, who.ID, id) }
	}
	m.answer(c, ResponseAccepted, "")
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.execute(who, command, req.ResponseURL, run)
	}()
	return nil
}

// keepToken stores the token of a START_SESSION as the partner's roaming token (as a PUT to
// the Tokens receiver would): the eMSP vouches for it by sending it, and the station that
// starts the session presents it, so the session and its CDR are the partner's. A token of a
// party that is not the partner's own is not kept (the session is then not roaming).
func (m *Commands) keepToken(ctx context.Context, who Partner, tok CommandToken) error {
	if m.cfg.Tokens == nil {
		return nil
	}
	own := false
	for _, r := range who.Roles {
		if strings.EqualFold(r.CountryCode, tok.CountryCode) && strings.EqualFold(r.PartyID, tok.PartyID) {
			own = true
		}
	}
	if !own {
		return nil
	}
	t := tokens.RoamingToken{
		Token: tokens.Token{NetworkID: who.NetworkID, UID: tok.UID, Type: tok.Type, ContractID: tok.ContractID,
			VisualNumber: tok.VisualNumber, Issuer: tok.Issuer, GroupID: tok.GroupID, Valid: tok.Valid != nil && *tok.Valid,
			Whitelist: tok.Whitelist, Language: tok.Language, DefaultProfileType: tok.DefaultProfileType},
		PartnerID: who.ID, CountryCode: strings.ToUpper(tok.CountryCode), PartyID: strings.ToUpper(tok.PartyID),
	}
	return m.cfg.Tokens.PutRoaming(ctx, []tokens.RoamingToken{t})
}

// ReservationCanceled tells partner that the CPO cancelled the reservation it made with the
// RESERVE_NOW whose response_url was responseURL: a CommandResult CANCELED_RESERVATION POSTed
// there (OCPI 2.2.1: "Reservation canceled by the CPO"), in the background, with the retries
// of every result. A partner that is no longer registered is not told.
func (m *Commands) ReservationCanceled(partner uuid.UUID, responseURL string) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		p, err := m.store.get(m.ctx, partner)
		if err != nil || p.State != StateRegistered {
			m.log.Warn("OCPI partner not told of its cancelled reservation", "partner", partner, "err", err, "state", p.State)
			return
		}
		m.deliver(p, CommandReserveNow, responseURL, Result(ResultCanceledReservation, "the reservation was cancelled by the operator"))
	}()
}

// offline reports whether the EVSE named (or, none named, every EVSE) reads UNKNOWN: its
// station is offline.
func offline(evses []commandEVSE, evseUID string) bool {
	for _, e := range evses {
		if e.EVSE.Status != schema.Status("UNKNOWN") {
			return false
		}
		if evseUID != "" {
			break
		}
	}
	return true
}

// execute runs a command at its station, within StationTimeout, and POSTs the result to
// responseURL.
func (m *Commands) execute(p Partner, command, responseURL string, run func(ctx context.Context) CommandResult) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.StationTimeout)
	res := run(ctx)
	cancel()
	if res.Result == "" {
		res = Result(ResultFailed, "")
	}
	m.deliver(p, command, responseURL, res)
}

// deliver POSTs res to responseURL with the partner's token: up to ResultAttempts tries with
// doubling waits, fewer when the partner refuses it outright or evroam shuts down.
func (m *Commands) deliver(p Partner, command, responseURL string, res CommandResult) {
	wait := m.cfg.ResultBackoff
	for attempt := 1; ; attempt++ {
		err := m.client.do(m.ctx, http.MethodPost, responseURL, p.OutboundToken, res, nil)
		if err == nil {
			m.log.Info("OCPI command result delivered", "partner", p.ID, "command", command, "result", res.Result, "attempt", attempt)
			return
		}
		var ce *callError
		permanent := errors.As(err, &ce) && ce.permanent()
		if permanent || attempt >= m.cfg.ResultAttempts || m.ctx.Err() != nil {
			m.log.Warn("OCPI command result not delivered", "partner", p.ID, "command", command, "result", res.Result,
				"attempts", attempt, "err", err, "partner_message", partnerMessage(err))
			return
		}
		select {
		case <-m.ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}
