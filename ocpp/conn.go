package ocpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// Errors of Server.Call.
var (
	// ErrNotConnected: the station has no connection to this server, or it closed while
	// the call was waiting.
	ErrNotConnected = errors.New("ocpp: charge station not connected")
	// ErrTimeout: the station did not answer within Config.CallTimeout (or the caller's
	// deadline). It wraps context.DeadlineExceeded.
	ErrTimeout = fmt.Errorf("ocpp: no answer from the charge station in time: %w", context.DeadlineExceeded)
	// ErrInvalidPayload: the payload does not match the OCPP schema of the action for the
	// station's protocol version (or the action does not exist in it). The returned error
	// wraps it and says which field is wrong.
	ErrInvalidPayload = errors.New("ocpp: invalid payload")
	// ErrInvalidResponse: the station's answer does not match the schema; the raw answer
	// is returned alongside.
	ErrInvalidResponse = errors.New("ocpp: invalid response from the charge station")
)

// CallError is a CALLERROR answer from a station.
type CallError struct {
	Code        string
	Description string
	Details     json.RawMessage
}

func (e *CallError) Error() string {
	if e.Description == "" {
		return "ocpp: charge station answered " + e.Code
	}
	return "ocpp: charge station answered " + e.Code + ": " + e.Description
}

// conn is one station's WebSocket connection. Its goroutine (run) reads frames and
// handles the station's CALLs one at a time; CALLs we send come from callers' goroutines
// and wait for their turn on callSem (one outstanding CALL per direction).
type conn struct {
	s        *Server
	ws       wsConn
	identity string
	proto    string
	val      *validator
	serial   uint64 // ConnectInfo.Connection: this server's number for the connection

	lastSeen atomic.Int64 // unix nanos of the last frame, ping or pong
	lastPing atomic.Int64
	booted   atomic.Bool
	replaced atomic.Bool
	// bootSent: the station sent a BootNotification on this connection (answered or not); a
	// boot still being recorded when BootTriggerDelay runs out must not draw a trigger.
	bootSent atomic.Bool

	// configRead: the station's configuration is on record; firmware: the version its last
	// BootNotification gave. A boot reads the configuration again only when it is not on
	// record or the firmware changed (a reconnect storm does not read every station's).
	configRead atomic.Bool
	firmware   atomic.Pointer[string]
	readConfig atomic.Bool // the boot just answered asks for a configuration read
	upgraded   int         // the pending security profile this connection's login met (ConnectInfo)
	// pendingChain is a certificate signed for the SignCertificate just answered, sent once
	// the answer is on the wire (certificates.go).
	pendingChain atomic.Pointer[signedChain]

	writeMu sync.Mutex
	callSem chan struct{} // capacity 1: held by the caller whose CALL is outstanding

	mu        sync.Mutex
	pending   *pendingCall
	triggered map[string]int // messages we asked for, allowed before boot

	// px holds the station's operator links (nil without Config.Proxy).
	px *stationProxy
	// hasOperators: the station had operators when it logged in (Station.HasOperators), so
	// its links are read at the start.
	hasOperators bool

	closeOnce sync.Once
	done      chan struct{} // closed when run has finished (disconnect recorded)
	// connectRecorded is closed when RecordConnect has returned (run records the connect
	// while it already serves the station).
	connectRecorded chan struct{}
	handling        sync.WaitGroup // the frame being read or handled aside (aside)
	idle            *idleConn      // the socket, for a shallow wait (idleread.go); nil in benchmarks
}

// wsConn is the part of *websocket.Conn a conn uses after the upgrade (an interface so
// that the dispatch benchmark can run without sockets).
type wsConn interface {
	ReadMessage() (int, []byte, error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

type pendingCall struct {
	id     string
	action string
	ch     chan callResult // capacity 1
}

type callResult struct {
	payload json.RawMessage
	err     error
}

func newConn(s *Server, ws *websocket.Conn, identity, proto string, st Station) *conn {
	c := &conn{
		s:        s,
		ws:       ws,
		identity: identity,
		proto:    proto,
		val:      s.validators[proto],
		serial:   s.serials.Add(1),
		callSem:  make(chan struct{}, 1),
		done:     make(chan struct{}),

		connectRecorded: make(chan struct{}),
		upgraded:        st.upgraded,
	}
	now := s.cfg.Now().UnixNano()
	c.lastSeen.Store(now)
	c.lastPing.Store(now)
	c.booted.Store(st.HasBootData)
	c.configRead.Store(st.HasConfiguration)
	if s.cfg.Proxy != nil {
		c.px = newStationProxy(c, s.cfg.Proxy)
	}
	c.hasOperators = st.HasOperators
	fw := st.FirmwareVersion
	c.firmware.Store(&fw)
	ws.SetReadLimit(s.cfg.MaxMessageSize)
	ws.SetPongHandler(func(string) error { c.touch(); return nil })
	ws.SetPingHandler(func(data string) error { return c.answerPing([]byte(data)) })
	return c
}

// answerPing answers a station's ping with a pong carrying the same payload.
func (c *conn) answerPing(payload []byte) error {
	c.touch()
	err := c.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(c.s.cfg.WriteTimeout))
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return err
	}
	return nil
}

// controlFrames handles the pings and pongs the read loop took off the read path
// (idleConn.takeControlFrames) as the library's handlers would have: a pong shows the station
// is there, a ping is answered. Where the library ends the read when a pong cannot be
// written, here the next read or write meets the broken socket and ends the connection.
func (c *conn) controlFrames(fs []controlFrame) {
	for _, f := range fs {
		if !f.ping {
			c.touch()
			continue
		}
		if c.answerPing(f.payload) != nil {
			return
		}
	}
}

func (c *conn) touch() { c.lastSeen.Store(c.s.cfg.Now().UnixNano()) }

// start begins serving a connection: it records the connect and arms the boot trigger (both
// without waiting), then reads the station's frames on a goroutine of its own (readLoop).
func (c *conn) start(prev *conn, clientIP, endpoint string) {
	s := c.s
	// The connection is recorded while the station is already served: in a reconnect storm
	// the record waits for a batch (and its OCPI publication) to commit, and the station's
	// BootNotification need not wait for that. finish waits for it, so the registry still
	// sees every connect before its disconnect.
	at := s.cfg.Now()
	go func() {
		defer close(c.connectRecorded)
		if prev != nil {
			// Let the replaced connection record its end first, so the registry sees
			// connect after disconnect.
			select {
			case <-prev.done:
			case <-time.After(s.cfg.RegistryTimeout):
			}
		}
		ctx, cancel := s.registryCtx()
		err := s.reg.RecordConnect(ctx, ConnectInfo{
			Identity: c.identity, ProtocolVersion: c.proto, ClientIP: clientIP, Endpoint: endpoint, At: at,
			UpgradedProfile: c.upgraded, Connection: c.serial,
		})
		cancel()
		if err != nil {
			s.log.Error("ocpp: record connect", "identity", c.identity, "err", err)
		}
	}()
	s.log.Debug("ocpp: station connected", "identity", c.identity, "protocol", c.proto, "ip", clientIP)
	if c.px != nil && c.hasOperators {
		go func() {
			if prev != nil && prev.px != nil {
				// One link per operator: the replaced connection's links end first.
				select {
				case <-prev.px.stopped:
				case <-time.After(s.cfg.RegistryTimeout):
				}
			}
			c.px.reload()
		}()
	}

	if !c.booted.Load() {
		// A station without boot data on record is asked for a BootNotification, unless it
		// sends one by itself first: most do right after connecting, and a trigger crossing
		// their own boot makes them boot twice. The timer is not stopped when the
		// connection ends (the loop's frame would hold it for as long as the station stays
		// connected); a timer that fires for a closed connection does nothing.
		time.AfterFunc(s.cfg.BootTriggerDelay, func() {
			select {
			case <-c.done:
				return
			default:
			}
			if !c.booted.Load() && !c.bootSent.Load() {
				c.triggerBoot()
			}
		})
	}
	go c.readLoop()
}

// readLoop is the connection's goroutine: it reads the station's frames until the socket
// closes. It is what an idle station costs for as long as it is connected, so its stack is
// kept at Go's smallest (2 KiB): it starts with nothing else on its stack, it waits for the
// next frame shallowly (idleread.go), and frames are handled on the server's handler
// goroutines (aside), since handling one needs 8 KiB and more, and a parked goroutine's
// stack shrinks only while it uses less than a quarter of it.
func (c *conn) readLoop() {
	defer c.s.connWG.Done()
	defer c.finish()
	for {
		var err error
		if c.idle.canWait() {
			// Wait here, shallow; read and handle on a handler goroutine (reading a frame
			// needs more stack than waiting does).
			c.idle.waitReadable()
			if ctl := c.idle.takeControlFrames(); ctl != nil {
				c.aside(func() { c.controlFrames(ctl) })
				if !c.idle.pending() {
					continue // only pings or pongs arrived: wait again, shallow
				}
			}
			c.aside(func() {
				var typ int
				var data []byte
				if typ, data, err = c.ws.ReadMessage(); err == nil {
					c.touch()
					c.handle(typ, data)
				}
			})
		} else {
			// TLS in evroam (or a benchmark's fake socket): the library waits, and only
			// the handling goes aside.
			var typ int
			var data []byte
			if typ, data, err = c.ws.ReadMessage(); err == nil {
				c.touch()
				c.aside(func() { c.handle(typ, data) })
			}
		}
		if err != nil {
			c.readEnded(err)
			return
		}
	}
}

func (c *conn) readEnded(err error) {
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && !c.replaced.Load() {
		c.s.log.Debug("ocpp: read", "identity", c.identity, "err", err)
	}
}

// aside runs fn on one of the server's handler goroutines (handlerPool) and waits for it, so
// frames are still read and handled one at a time and in order, while the connection's own
// goroutine keeps a small stack.
func (c *conn) aside(fn func()) {
	c.handling.Add(1)
	c.s.handlers.run(func() {
		defer c.handling.Done()
		fn()
	})
	c.handling.Wait()
}

func (c *conn) handle(typ int, data []byte) {
	if typ != websocket.TextMessage {
		c.sendError(unreadableID, "", newRPCError(errFormat, "OCPP-J frames are text frames"))
		return
	}
	c.handleFrame(data)
}

// triggerBoot asks a station without boot data on record for a BootNotification.
func (c *conn) triggerBoot() {
	payload := json.RawMessage(`{"requestedMessage":"BootNotification"}`)
	_, err := c.call(c.s.ctx, "TriggerMessage", payload)
	if err != nil && !errors.Is(err, ErrNotConnected) {
		c.s.log.Info("ocpp: TriggerMessage(BootNotification)", "identity", c.identity, "err", err)
	}
}

// finish runs when the read loop ends.
func (c *conn) finish() {
	s := c.s
	_ = c.ws.Close()
	c.failPending(ErrNotConnected)
	if c.px != nil {
		// The links end with the station's connection (not waited for here: the station's
		// disconnect is recorded meanwhile).
		s.proxyWG.Add(1)
		go func() {
			defer s.proxyWG.Done()
			c.px.close()
		}()
	}

	s.mu.Lock()
	current := s.conns[c.identity] == c
	s.mu.Unlock()
	<-c.connectRecorded
	if current && !c.replaced.Load() {
		ctx, cancel := s.registryCtx()
		var err error
		if lr, ok := s.reg.(LeaveRecorder); ok && s.shuttingDown.Load() {
			err = lr.RecordLeft(ctx, c.identity, s.cfg.Now())
		} else {
			err = s.reg.RecordDisconnect(ctx, c.identity, s.cfg.Now())
		}
		if err != nil {
			s.log.Error("ocpp: record disconnect", "identity", c.identity, "err", err)
		}
		cancel()
	}
	s.mu.Lock()
	if s.conns[c.identity] == c {
		delete(s.conns, c.identity)
		s.connected[c.proto]--
	}
	s.mu.Unlock()
	s.log.Debug("ocpp: station disconnected", "identity", c.identity, "replaced", c.replaced.Load())
	close(c.done)
}

// closeWith sends a close frame and closes the socket; run then finishes.
func (c *conn) closeWith(code int, reason string) {
	c.closeOnce.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
			time.Now().Add(time.Second))
		_ = c.ws.Close()
	})
}

// write sends one frame and logs it. Logging under writeMu keeps the message log in wire
// order.
func (c *conn) write(f frame, action string) error {
	data, err := f.encode()
	if err != nil {
		return err
	}
	c.s.obs.frame(action, true, f.Type)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.s.messages.add(c.logEntry(DirectionOut, f, action))
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		_ = c.ws.Close()
		return fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	return nil
}

func (c *conn) sendError(id, action string, e *rpcError) {
	details := json.RawMessage("{}")
	c.s.obs.callErrorSent(action, e.kind, c.proto)
	_ = c.write(frame{Type: typeCallError, ID: id, ErrorCode: e.kind.code(c.proto), ErrorDescription: e.desc, ErrorDetails: details}, action)
}

func (c *conn) logEntry(dir string, f frame, action string) Message {
	m := Message{Identity: c.identity, Direction: dir, MessageID: f.ID, Action: action, At: c.s.cfg.Now()}
	switch f.Type {
	case typeCall:
		m.MessageType = MessageTypeCall
		m.Payload = redact(action, true, f.Payload)
	case typeCallResult:
		m.MessageType = MessageTypeCallResult
		m.Payload = redact(action, false, f.Payload)
	case typeCallError:
		m.MessageType = MessageTypeCallError
		m.Payload, _ = json.Marshal(struct {
			Code        string          `json:"errorCode"`
			Description string          `json:"errorDescription"`
			Details     json.RawMessage `json:"errorDetails"`
		}{f.ErrorCode, f.ErrorDescription, orEmpty(f.ErrorDetails)})
	}
	return m
}

func (c *conn) handleFrame(data []byte) {
	f, err := decodeFrame(data)
	if err != nil {
		fe := err.(*frameError)
		c.s.log.Info("ocpp: malformed frame", "identity", c.identity, "err", fe.Msg)
		if fe.Unstorable && !fe.Answerable {
			// An answer to one of our CALLs that we cannot record: the call fails.
			if p := c.takePending(fe.ID); p != nil {
				p.ch <- callResult{err: fmt.Errorf("%w: %s", ErrInvalidResponse, fe.Msg)}
			}
			return
		}
		if fe.Kind == errMessageTypeNotSupported && c.proto == ProtocolOCPP16 {
			return // OCPP-J 1.6 §4.1.3: ignore unknown message types
		}
		if fe.Answerable {
			c.sendError(fe.ID, "", &rpcError{kind: fe.Kind, desc: fe.Msg})
		}
		return
	}
	switch f.Type {
	case typeCall:
		c.s.obs.frame(f.Action, false, f.Type)
		c.s.messages.add(c.logEntry(DirectionIn, f, f.Action))
		c.handleCall(f)
	case typeCallResult, typeCallError:
		p := c.takePending(f.ID)
		action := ""
		if p != nil {
			action = p.action
		}
		c.s.obs.frame(action, false, f.Type)
		c.s.messages.add(c.logEntry(DirectionIn, f, action))
		if p == nil {
			c.s.log.Info("ocpp: answer to no outstanding call", "identity", c.identity, "id", f.ID)
			return
		}
		if f.Type == typeCallError {
			p.ch <- callResult{err: &CallError{Code: f.ErrorCode, Description: f.ErrorDescription, Details: f.ErrorDetails}}
		} else {
			p.ch <- callResult{payload: f.Payload}
		}
	}
}

func (c *conn) handleCall(f frame) {
	if o := c.s.obs; o != nil {
		start := time.Now()
		defer o.handled(f.Action, start)
	}
	h := handlerFor(c.proto, f.Action)
	if h == nil || !c.val.hasAction(f.Action) {
		c.sendError(f.ID, f.Action, newRPCError(errNotImplemented, "%s is not implemented", f.Action))
		return
	}
	if !c.booted.Load() && f.Action != "BootNotification" && !c.consumeTrigger(f.Action) {
		c.sendError(f.ID, f.Action, newRPCError(errSecurity, "station has not been accepted: send BootNotification first"))
		return
	}
	var e *rpcError
	if f.Payload, e = c.val.validateReceived(f.Action, "req", f.Payload); e != nil {
		c.sendError(f.ID, f.Action, e)
		return
	}
	if f.Action == "BootNotification" {
		c.bootSent.Store(true)
	}
	var forwarded *handled
	if c.px != nil {
		f.Payload, forwarded = c.px.before(f.Action, f.Payload)
	}
	ctx, cancel := c.s.registryCtx()
	result, err := h(ctx, c, f.Payload)
	cancel()
	if err != nil {
		var re *rpcError
		if !errors.As(err, &re) {
			c.s.log.Error("ocpp: handle "+f.Action, "identity", c.identity, "err", err)
			re = newRPCError(errInternal, "internal error")
		}
		c.sendError(f.ID, f.Action, re)
		c.px.after(forwarded, f.Action, nil)
		return
	}
	payload, err := json.Marshal(result)
	if err != nil {
		c.s.log.Error("ocpp: encode response", "identity", c.identity, "action", f.Action, "err", err)
		c.sendError(f.ID, f.Action, newRPCError(errInternal, "internal error"))
		return
	}
	if c.s.cfg.ValidateOwnAnswers {
		if e := c.val.validate(f.Action, "conf", payload); e != nil {
			// Our own answer is wrong: a bug. Do not send it.
			c.s.log.Error("ocpp: invalid response", "identity", c.identity, "action", f.Action, "err", e.desc)
			c.sendError(f.ID, f.Action, newRPCError(errInternal, "internal error"))
			return
		}
	}
	payload = c.px.after(forwarded, f.Action, payload)
	if c.write(frame{Type: typeCallResult, ID: f.ID, Payload: payload}, f.Action) == nil {
		c.afterAnswer(f.Action)
	}
}

// allowBeforeBoot lets a message we asked for (TriggerMessage, GetBaseReport, GetReport)
// through while the station has not booted.
func (c *conn) allowBeforeBoot(action string) {
	c.mu.Lock()
	if c.triggered == nil {
		c.triggered = map[string]int{}
	}
	c.triggered[action]++
	c.mu.Unlock()
}

func (c *conn) consumeTrigger(action string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.triggered[action] > 0 {
		if action != "NotifyReport" { // a report may come in many parts
			c.triggered[action]--
		}
		return true
	}
	return false
}

func (c *conn) takePending(id string) *pendingCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	if p == nil || p.id != id {
		return nil
	}
	c.pending = nil
	return p
}

func (c *conn) failPending(err error) {
	c.mu.Lock()
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	if p != nil {
		p.ch <- callResult{err: err}
	}
}

// call sends a CALL and waits for its answer. Callers queue on callSem.
func (c *conn) call(ctx context.Context, action string, payload json.RawMessage) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.cfg.CallTimeout)
	defer cancel()
	select {
	case c.callSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	case <-c.done:
		return nil, ErrNotConnected
	}
	defer func() { <-c.callSem }()

	switch action {
	case "TriggerMessage":
		var req struct {
			RequestedMessage string `json:"requestedMessage"`
		}
		if json.Unmarshal(payload, &req) == nil && req.RequestedMessage != "" {
			c.allowBeforeBoot(req.RequestedMessage)
		}
	case "GetBaseReport", "GetReport":
		c.allowBeforeBoot("NotifyReport")
	}

	p := &pendingCall{id: uuid.NewString(), action: action, ch: make(chan callResult, 1)}
	c.mu.Lock()
	c.pending = p
	c.mu.Unlock()
	if err := c.write(frame{Type: typeCall, ID: p.id, Action: action, Payload: payload}, action); err != nil {
		c.takePending(p.id)
		return nil, err
	}
	select {
	case r := <-p.ch:
		return r.payload, r.err
	case <-ctx.Done():
		c.takePending(p.id)
		return nil, ctxErr(ctx)
	}
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

// Call sends a CALL to a station connected to this server and returns its CALLRESULT
// payload. Errors: ErrNotConnected; a wrapped ErrInvalidPayload (payload does not match
// the schema of action in the station's protocol version; nothing is sent); ErrTimeout;
// *CallError (the station answered CALLERROR); a wrapped ErrInvalidResponse (the answer
// does not match the schema; the raw answer is returned too). payload may be a
// json.RawMessage, nil (sent as {}) or anything encoding/json can marshal.
//
// Answers to GetConfiguration and GetVariables are recorded with RecordConfiguration and
// DataTransfer exchanges with RecordDataTransfer.
func (s *Server) Call(ctx context.Context, identity, action string, payload any) (json.RawMessage, error) {
	c := s.connOrUpgrade(ctx, identity)
	if c == nil {
		return nil, ErrNotConnected
	}
	var raw json.RawMessage
	switch p := payload.(type) {
	case nil:
		raw = json.RawMessage("{}")
	case json.RawMessage:
		raw = orEmpty(p)
	case []byte:
		raw = orEmpty(p)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
		}
		raw = b
	}
	if !c.val.hasAction(action) {
		return nil, fmt.Errorf("%w: %s has no action %s", ErrInvalidPayload, c.proto, action)
	}
	if e := c.val.validate(action, "req", raw); e != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidPayload, e.desc)
	}
	res, err := c.call(ctx, action, raw)
	if err == nil {
		var e *rpcError
		if res, e = c.val.validateReceived(action, "conf", res); e != nil {
			err = fmt.Errorf("%w: %s", ErrInvalidResponse, e.desc)
		}
	}
	s.afterCall(c, action, raw, res, err)
	return res, err
}
