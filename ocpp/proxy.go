package ocpp

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The OCPP proxy: a station's connection forwarded to other operators (CSMSs) at the same
// time, each over an outgoing WebSocket of the same OCPP version (a link, uplink.go). See
// the package doc's Proxy section for the rules; this file holds the station's side.

// Operator is one operator a station's connection is forwarded to (ProxyRegistry.Operators).
type Operator struct {
	ID   string
	Name string
	// URL is the operator's OCPP-J endpoint; the identity is appended as the last path
	// segment.
	URL string
	// Billing: this operator decides authorisation and may start and stop transactions;
	// otherwise it is a Data & Control operator.
	Billing bool
	// Identity is presented upstream; "" means the station's own.
	Identity string
	// Password is sent with HTTP Basic auth; "" sends none.
	Password string
	Enabled  bool
	// Unusable says why the link cannot be tried (e.g. its password cannot be opened); "" when
	// it can.
	Unusable string
}

// QueuedCall is a transaction message waiting for an operator that was down.
type QueuedCall struct {
	ID      int64
	Action  string
	Payload json.RawMessage
	// StationTransactionID is, for a 1.6 StartTransaction, the id the station was given: the
	// operator's own id from its answer is mapped to it.
	StationTransactionID string
}

// Link statuses reported with ProxyRegistry.RecordOperatorStatus.
const (
	LinkConnected    = "Connected"
	LinkConnecting   = "Connecting"
	LinkDisconnected = "Disconnected"
)

// PartyGateway names the gateway's own registry in the transaction map.
const PartyGateway = "evroam"

// ProxyRegistry is what the proxy needs from storage (Config.Proxy). Every method must be safe
// for concurrent use.
type ProxyRegistry interface {
	// Operators returns the station's operators (enabled or not).
	Operators(ctx context.Context, identity string) ([]Operator, error)
	// RecordOperatorStatus records a link's status; lastError "" keeps the last one, and
	// connectedAt is set when the link just connected.
	RecordOperatorStatus(ctx context.Context, operatorID, status, lastError string, connectedAt *time.Time) error
	// Enqueue keeps a transaction message for an operator, durably, after those already kept.
	Enqueue(ctx context.Context, operatorID string, q QueuedCall) error
	// Queued returns the oldest messages kept for an operator, in order.
	Queued(ctx context.Context, operatorID string, limit int) ([]QueuedCall, error)
	// Dequeue forgets a delivered message.
	Dequeue(ctx context.Context, id int64) error
	// MapTransaction records that party (an operator id, or PartyGateway) knows the station's
	// 1.6 transaction stationTx as partyTx.
	MapTransaction(ctx context.Context, identity, stationTx, party, partyTx string) error
	// PartyTransaction returns party's id of the station's transaction ("" when none).
	PartyTransaction(ctx context.Context, identity, stationTx, party string) (string, error)
	// StationTransaction returns the station's id of party's transaction ("" when none).
	StationTransaction(ctx context.Context, identity, party, partyTx string) (string, error)
}

// ProxyObserver is an optional extension of Observer: it counts the frames forwarded over
// operator links, by operator (its id) and direction (DirectionOut: sent to the operator).
type ProxyObserver interface {
	ForwardedFrames(operatorID, direction string) Counter
}

// authorityActions are the CALLs whose answer the Billing operator decides.
var authorityActions = map[string]bool{"Authorize": true, "StartTransaction": true, "StopTransaction": true, "TransactionEvent": true}

// transactionMessage reports whether a station CALL is transaction-related (OCPP 1.6 §4.10,
// 2.0.1 E: delivered in order, kept while the receiver is down).
func transactionMessage(action string, payload json.RawMessage) bool {
	switch action {
	case "StartTransaction", "StopTransaction", "TransactionEvent":
		return true
	case "MeterValues":
		var p struct {
			TransactionID *int `json:"transactionId"`
		}
		return json.Unmarshal(payload, &p) == nil && p.TransactionID != nil
	}
	return false
}

// stationProxy is one connected station's links.
type stationProxy struct {
	c   *conn
	reg ProxyRegistry

	// lastBoot is the station's BootNotification on this connection: a link that connects
	// later gets it first, as an operator expects a boot before anything else.
	lastBoot atomic.Pointer[json.RawMessage]

	mu      sync.Mutex
	links   map[string]*uplink // by operator id
	closed  bool
	stopped chan struct{} // closed once close has ended every link
}

func newStationProxy(c *conn, reg ProxyRegistry) *stationProxy {
	return &stationProxy{c: c, reg: reg, links: map[string]*uplink{}, stopped: make(chan struct{})}
}

// reload reads the station's operators and brings the links in line: new or changed
// operators get a (new) link, removed or disabled ones lose theirs.
func (sp *stationProxy) reload() {
	s := sp.c.s
	ctx, cancel := s.registryCtx()
	ops, err := sp.reg.Operators(ctx, sp.c.identity)
	cancel()
	if err != nil {
		s.log.Error("ocpp proxy: read operators", "identity", sp.c.identity, "err", err)
		return
	}
	want := map[string]Operator{}
	for _, op := range ops {
		if op.Enabled {
			want[op.ID] = op
		}
	}
	var stop []*uplink
	var start []*uplink
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return
	}
	for id, l := range sp.links {
		if op, ok := want[id]; !ok || op != l.op {
			stop = append(stop, l)
			delete(sp.links, id)
		}
	}
	for id, op := range want {
		if _, ok := sp.links[id]; !ok {
			l := newUplink(sp, op)
			sp.links[id] = l
			start = append(start, l)
		}
	}
	sp.mu.Unlock()
	for _, l := range stop {
		l.stop(true)
	}
	for _, l := range start {
		go l.run()
	}
}

// close ends every link (the station left).
func (sp *stationProxy) close() {
	sp.mu.Lock()
	sp.closed = true
	links := sp.links
	sp.links = map[string]*uplink{}
	sp.mu.Unlock()
	for _, l := range links {
		l.stop(false)
	}
	for _, l := range links {
		<-l.done
	}
	close(sp.stopped)
}

func (sp *stationProxy) snapshot() []*uplink {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := make([]*uplink, 0, len(sp.links))
	for _, l := range sp.links {
		out = append(out, l)
	}
	return out
}

// handled is what the proxy made of a station CALL around evroam's own handler.
type handled struct {
	billing  *uplink
	answer   json.RawMessage // the Billing operator's answer, nil when it gave none
	settled  bool            // the Billing operator took the message (answered at all)
	sent     bool            // the message went out to the Billing operator (answered or not)
	original json.RawMessage // the station's payload as sent
}

// before runs when a station CALL has been validated, before evroam's handler: it asks the
// Billing operator for the authority actions and returns the payload evroam's handler gets
// (a 1.6 transaction id mapped to evroam's own).
func (sp *stationProxy) before(action string, payload json.RawMessage) (json.RawMessage, *handled) {
	if action == "BootNotification" {
		sp.lastBoot.Store(&payload) // also when no link is up yet: links that come later get it
	}
	links := sp.snapshot()
	if len(links) == 0 {
		return payload, nil
	}
	h := &handled{original: payload}
	for _, l := range links {
		if l.op.Billing {
			h.billing = l
		}
	}
	if h.billing != nil && authorityActions[action] {
		h.answer, h.settled, h.sent = h.billing.callNow(action, sp.forOperator(h.billing, action, payload))
	}
	return sp.mapForParty(PartyGateway, action, payload), h
}

// after runs once evroam's handler answered (answer, or nil when it failed): it returns the
// answer the station gets and forwards the CALL to the other operators.
func (sp *stationProxy) after(h *handled, action string, answer json.RawMessage) json.RawMessage {
	if h == nil {
		return answer
	}
	final := answer
	if h.answer != nil && answer != nil {
		final = h.answer
	}
	stationTx := ""
	if action == "StartTransaction" && sp.c.proto == ProtocolOCPP16 {
		stationTx = sp.recordStart(h, answer, final)
	}
	tx := transactionMessage(action, h.original)
	for _, l := range sp.snapshot() {
		if l == h.billing && authorityActions[action] && (h.settled || (h.sent && !tx)) {
			// Delivered already. A transaction message it did not answer is kept and sent
			// again (OCPP's retry); an Authorize is not.
			continue
		}
		if tx {
			l.enqueue(QueuedCall{Action: action, Payload: h.original, StationTransactionID: stationTx})
		} else {
			l.forward(action, h.original)
		}
	}
	return final
}

// recordStart maps the transaction ids of a 1.6 StartTransaction: the station uses the
// authority's (final); evroam's own (answer) is mapped to it when they differ.
func (sp *stationProxy) recordStart(h *handled, answer, final json.RawMessage) string {
	own, station := transactionIDOf(answer), transactionIDOf(final)
	if station == "" {
		return ""
	}
	ctx, cancel := sp.c.s.registryCtx()
	defer cancel()
	if own != "" && own != station {
		if err := sp.reg.MapTransaction(ctx, sp.c.identity, station, PartyGateway, own); err != nil {
			sp.c.s.log.Error("ocpp proxy: map transaction", "identity", sp.c.identity, "err", err)
		}
	}
	return station
}

func transactionIDOf(payload json.RawMessage) string {
	var p struct {
		TransactionID *json.Number `json:"transactionId"`
	}
	if payload == nil || json.Unmarshal(payload, &p) != nil || p.TransactionID == nil {
		return ""
	}
	return p.TransactionID.String()
}

// forOperator is the payload as operator l is to receive it (its own transaction id).
func (sp *stationProxy) forOperator(l *uplink, action string, payload json.RawMessage) json.RawMessage {
	return sp.mapForParty(l.op.ID, action, payload)
}

// mapForParty replaces the station's 1.6 transaction id in StopTransaction and MeterValues by
// party's own id, when party knows the transaction under another.
func (sp *stationProxy) mapForParty(party, action string, payload json.RawMessage) json.RawMessage {
	if sp.c.proto != ProtocolOCPP16 || (action != "StopTransaction" && action != "MeterValues") {
		return payload
	}
	stationTx := transactionIDOf(payload)
	if stationTx == "" {
		return payload
	}
	ctx, cancel := sp.c.s.registryCtx()
	partyTx, err := sp.reg.PartyTransaction(ctx, sp.c.identity, stationTx, party)
	cancel()
	if err != nil {
		sp.c.s.log.Error("ocpp proxy: look up transaction", "identity", sp.c.identity, "err", err)
		return payload
	}
	if partyTx == "" || partyTx == stationTx {
		return payload
	}
	return withTransactionID(payload, partyTx)
}

// withTransactionID returns payload with its top-level transactionId set to id (a number
// when it reads as one, as 1.6 has it).
func withTransactionID(payload json.RawMessage, id string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return payload
	}
	if n, err := strconv.Atoi(id); err == nil {
		m["transactionId"] = json.RawMessage(strconv.Itoa(n))
	} else {
		b, _ := json.Marshal(id)
		m["transactionId"] = b
	}
	out, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return out
}

// forbiddenForDataAndControl says why a Data & Control operator may not send a CALL ("" when
// it may): starting or stopping transactions, and changing how the station connects (its
// credentials, security profile, network profile, certificates).
func forbiddenForDataAndControl(proto, action string, payload json.RawMessage) string {
	switch action {
	case "RemoteStartTransaction", "RemoteStopTransaction", "RequestStartTransaction", "RequestStopTransaction":
		return "a Data & Control operator cannot start or stop transactions"
	case "SetNetworkProfile", "CertificateSigned", "InstallCertificate", "DeleteCertificate":
		return "a Data & Control operator cannot change the station's connection settings or credentials"
	case "ChangeConfiguration":
		var p struct {
			Key string `json:"key"`
		}
		_ = json.Unmarshal(payload, &p)
		if connectionKey16(p.Key) {
			return "a Data & Control operator cannot change " + p.Key
		}
	case "SetVariables":
		var p struct {
			SetVariableData []struct {
				Component Component `json:"component"`
				Variable  Variable  `json:"variable"`
			} `json:"setVariableData"`
		}
		_ = json.Unmarshal(payload, &p)
		for _, d := range p.SetVariableData {
			if connectionVariable201(d.Component.Name, d.Variable.Name) {
				return "a Data & Control operator cannot change " + d.Component.Name + "." + d.Variable.Name
			}
		}
	}
	return ""
}

// connectionKey16 reports whether a 1.6 configuration key holds the station's credentials or
// connection settings.
func connectionKey16(key string) bool {
	switch strings.ToLower(key) {
	case "authorizationkey", "securityprofile", "cpocentralsystemurl", "centralsystemurl", "chargeboxidentity",
		"chargepointid", "ocppendpoint", "backendurl":
		return true
	}
	return false
}

// connectionVariable201 reports whether a 2.0.1 variable holds the station's credentials or
// connection settings.
func connectionVariable201(component, variable string) bool {
	if component == "SecurityCtrlr" {
		return true // BasicAuthPassword, SecurityProfile, Identity, certificates…
	}
	return component == "OCPPCommCtrlr" && (variable == "NetworkConfigurationPriority" || variable == "NetworkProfileConnectionAttempts")
}

// operatorCall runs a CALL an operator sent on its link: role rules, schema, then the
// station; the answer (or CALLERROR) goes back to that operator only.
func (sp *stationProxy) operatorCall(l *uplink, f frame) {
	c := sp.c
	if !l.op.Billing {
		if why := forbiddenForDataAndControl(c.proto, f.Action, f.Payload); why != "" {
			l.answerError(f.ID, f.Action, newRPCError(errSecurity, "%s", why))
			return
		}
	}
	if !c.val.hasAction(f.Action) {
		l.answerError(f.ID, f.Action, newRPCError(errNotImplemented, "%s is not an %s action", f.Action, c.proto))
		return
	}
	if e := c.val.validate(f.Action, "req", f.Payload); e != nil {
		l.answerError(f.ID, f.Action, e)
		return
	}
	payload := f.Payload
	if f.Action == "RemoteStopTransaction" && c.proto == ProtocolOCPP16 {
		// The operator may know the transaction under its own id (it got the start late).
		ctx, cancel := c.s.registryCtx()
		if st, err := sp.reg.StationTransaction(ctx, c.identity, l.op.ID, transactionIDOf(payload)); err == nil && st != "" {
			payload = withTransactionID(payload, st)
		}
		cancel()
	}
	res, err := c.call(l.ctx, f.Action, payload)
	c.s.afterCall(c, f.Action, payload, res, err)
	switch e := err.(type) {
	case nil:
		l.send(frame{Type: typeCallResult, ID: f.ID, Payload: res}, f.Action)
	case *CallError:
		l.send(frame{Type: typeCallError, ID: f.ID, ErrorCode: e.Code, ErrorDescription: e.Description, ErrorDetails: orEmpty(e.Details)}, f.Action)
	default:
		// Not connected or no answer in time: the operator's own call timeout tells it, as it
		// would without the proxy.
		c.s.log.Info("ocpp proxy: operator CALL not answered by the station", "identity", c.identity, "operator", l.op.Name, "action", f.Action, "err", err)
	}
}

// ReloadOperators makes the links of a station connected here follow its operators (added,
// changed, disabled, removed). It does nothing for a station that is not connected here.
func (s *Server) ReloadOperators(identity string) {
	if c := s.connOf(identity); c != nil && c.px != nil {
		go c.px.reload()
	}
}

// ReloadAllOperators is ReloadOperators for every station connected here (after missed
// change notifications).
func (s *Server) ReloadAllOperators() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		if c.px != nil {
			go c.px.reload()
		}
	}
}
