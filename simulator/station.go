package simulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Reply is a station's answer to a CALL from the gateway.
type Reply struct {
	// Payload is the CALLRESULT payload: nil ({}), a json.RawMessage, or anything
	// encoding/json can marshal. Ignored when Err is set.
	Payload any
	// Err, when set, is answered as a CALLERROR.
	Err *CallError
	// Then, when set, runs in a goroutine of its own after the answer has been written: what
	// the station does because of the CALL (TriggerMessage: send the message; Remote start:
	// start the session).
	// The context is the station's Run context, or context.Background() for a station
	// driven by hand.
	Then func(ctx context.Context)
}

// Handler answers one CALL the gateway sent to st. It runs on the connection's reader
// goroutine, so it must not block: anything that sends CALLs belongs in Reply.Then.
type Handler func(ctx context.Context, st *Station, action string, payload json.RawMessage) Reply

// Read and write limits of a station's socket.
const (
	// readBufferSize is small on purpose: most frames a station gets are a few hundred bytes,
	// larger ones are read through, and an idle connection holds this buffer for its life.
	readBufferSize = 512
	// writeBufferSize is the pooled buffer gorilla/websocket frames a message in; it is held
	// only while a message is written.
	writeBufferSize = 1024
	maxMessageSize  = 1 << 20
	writeTimeout    = 10 * time.Second
)

// Station is one simulated charge station: one WebSocket connection at a time to the
// gateway, its CALLs to the gateway one at a time (OCPP allows one outstanding CALL per
// direction), and the gateway's CALLs answered by its Handler on the connection's reader
// goroutine. Methods are safe for concurrent use.
type Station struct {
	env      *env
	identity string
	proto    Protocol
	src      uint16 // which of env.srcs it dials from

	callSem chan struct{} // capacity 1: held while this station's CALL is outstanding

	mu           sync.Mutex
	link         *link // nil when not connected
	dialing      bool  // a Connect is under way
	runCtx       context.Context
	everBooted   bool
	rebootReason string // boot reason of the reconnect after a Reset; "" when none is due
	rebootIdle   bool   // a 2.0.1 Reset OnIdle waits for the last session to end
	backoff      time.Duration
	queued       bool  // waiting in a fleet's connect queue
	interval     int32 // heartbeat interval from the last BootNotification answer, seconds
	device
}

// link is one WebSocket connection of a station.
type link struct {
	st      *Station
	ws      *websocket.Conn
	writeMu sync.Mutex

	mu      sync.Mutex
	pending *pendingCall
	tickers []*ticker // the behaviours of Run on this connection
	ended   bool      // the reader has finished; no new tickers

	booted atomic.Bool // a BootNotification was accepted on this connection

	bootMu        sync.Mutex
	flight        *bootFlight   // the BootNotification outstanding, if any
	bootStarted   bool          // a BootNotification was sent on this connection
	bootStartedCh chan struct{} // made on demand; closed once bootStarted
	closing       atomic.Bool   // we closed it (not a drop)
	closeOnce     sync.Once
	err           error         // why the connection ended; set before done is closed
	done          chan struct{} // closed when the reader has finished
}

// bootFlight is one BootNotification on its way; concurrent boots of a connection (the
// station's own and one the gateway triggered) share it.
type bootFlight struct {
	done chan struct{}
	res  BootResult
	err  error
}

type pendingCall struct {
	id string
	ch chan callResult // capacity 1
}

type callResult struct {
	payload json.RawMessage
	err     error
}

// NewStation returns a station that is not connected yet. cfg gives the gateway URL,
// password, behaviours and handler (defaults apply); its Count and numbering are not used.
// Stations of a Fleet share one config instead.
func NewStation(cfg Config, identity string, proto Protocol) (*Station, error) {
	e, err := newEnv(cfg)
	if err != nil {
		return nil, err
	}
	if proto != OCPP16 && proto != OCPP201 {
		return nil, fmt.Errorf("simulator: station protocol must be OCPP16 or OCPP201")
	}
	return e.newStation(identity, proto, 0), nil
}

func (e *env) newStation(identity string, proto Protocol, src int) *Station {
	s := &Station{env: e, identity: identity, proto: proto, src: uint16(src), callSem: make(chan struct{}, 1)}
	s.device.init(e.cfg.Connectors)
	return s
}

// Identity returns the station's OCPP identity.
func (s *Station) Identity() string { return s.identity }

// Protocol returns OCPP16 or OCPP201.
func (s *Station) Protocol() Protocol { return s.proto }

// Connected reports whether the station has an open connection.
func (s *Station) Connected() bool { return s.current() != nil }

// Booted reports whether a BootNotification was accepted on the current connection.
func (s *Station) Booted() bool {
	l := s.current()
	return l != nil && l.booted.Load()
}

// Done returns a channel that is closed when the current connection ends (already closed when
// there is none).
func (s *Station) Done() <-chan struct{} {
	if l := s.current(); l != nil {
		return l.done
	}
	return closedChan
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// HeartbeatInterval returns the interval the station heartbeats at: Config.HeartbeatInterval,
// else a HeartbeatInterval the gateway configured, else the BootNotification answer's (300s
// before the first boot). Zero means no heartbeats.
func (s *Station) HeartbeatInterval() time.Duration {
	if d := s.env.cfg.HeartbeatInterval; d != 0 {
		return max(d, 0)
	}
	if v, ok := s.setting(settingHeartbeatInterval); ok {
		return secondsSetting(v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.interval > 0 {
		return time.Duration(s.interval) * time.Second
	}
	return 300 * time.Second
}

func (s *Station) current() *link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link
}

// Connect opens the WebSocket connection: HTTP Basic auth when a password is configured,
// the station's subprotocol, and the source address the fleet gave the station. It returns
// a *HandshakeError when the gateway refuses the upgrade (404 unknown station, 401 bad
// credentials) and ErrNoSubprotocol when it does not speak the station's version.
func (s *Station) Connect(ctx context.Context) error {
	s.mu.Lock()
	if s.link != nil || s.dialing {
		s.mu.Unlock()
		return fmt.Errorf("simulator: %s is connected or connecting already", s.identity)
	}
	s.dialing = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.dialing = false
		s.mu.Unlock()
	}()
	var hdr http.Header
	if pw := s.password(); pw != "" {
		hdr = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(s.identity+":"+pw))}}
	}
	ws, resp, err := s.env.dialer(s.proto, int(s.src)).DialContext(ctx, s.env.baseURL+url.PathEscape(s.identity), hdr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // given up, not failed
		}
		s.env.stats.connectFailures.Add(1)
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			return &HandshakeError{Status: resp.StatusCode, Body: string(body)}
		}
		return fmt.Errorf("simulator: connect %s: %w", s.identity, err)
	}
	if ws.Subprotocol() != s.proto.Subprotocol() {
		_ = ws.Close()
		s.env.stats.connectFailures.Add(1)
		return ErrNoSubprotocol
	}
	ws.SetReadLimit(maxMessageSize)
	l := &link{st: s, ws: ws, done: make(chan struct{})}
	s.mu.Lock()
	s.link = l
	s.mu.Unlock()
	s.env.stats.connectedUp()
	go l.read()
	return nil
}

// Close closes the connection (normal closure) and waits until it is down. Behaviours of Run
// stop with it; a running Run or Fleet.Run reconnects when Config.Reconnect is set.
func (s *Station) Close() error {
	l := s.current()
	if l == nil {
		return nil
	}
	l.close(websocket.CloseNormalClosure)
	<-l.done
	return nil
}

// BootResult is the gateway's BootNotification answer.
type BootResult struct {
	Status      string        // Accepted, Pending or Rejected
	Interval    time.Duration // the heartbeat interval (Accepted) or the wait before trying again
	CurrentTime time.Time     // the gateway's clock
}

// Boot sends BootNotification (reason PowerUp for 2.0.1) with the configured vendor, model and
// firmware and a serial number made from the identity. A Pending or Rejected answer is
// returned with an error wrapping ErrBootNotAccepted. A BootNotification already on its way
// on this connection (one the gateway asked for with TriggerMessage) is shared, not sent
// twice.
func (s *Station) Boot(ctx context.Context) (BootResult, error) { return s.boot(ctx, "PowerUp") }

func (s *Station) boot(ctx context.Context, reason string) (BootResult, error) {
	l := s.current()
	if l == nil {
		return BootResult{}, ErrNotConnected
	}
	l.bootMu.Lock()
	if f := l.flight; f != nil {
		l.bootMu.Unlock()
		select {
		case <-f.done:
			return f.res, f.err
		case <-ctx.Done():
			return BootResult{}, ctx.Err()
		}
	}
	f := &bootFlight{done: make(chan struct{})}
	l.flight = f
	if !l.bootStarted {
		l.bootStarted = true
		if l.bootStartedCh != nil {
			close(l.bootStartedCh)
		}
	}
	l.bootMu.Unlock()

	f.res, f.err = s.sendBoot(ctx, l, reason)
	l.bootMu.Lock()
	l.flight = nil
	l.bootMu.Unlock()
	close(f.done)
	return f.res, f.err
}

// bootStartedChan returns a channel closed once a BootNotification was sent on l.
func (l *link) bootStartedChan() <-chan struct{} {
	l.bootMu.Lock()
	defer l.bootMu.Unlock()
	if l.bootStartedCh == nil {
		l.bootStartedCh = make(chan struct{})
		if l.bootStarted {
			close(l.bootStartedCh)
		}
	}
	return l.bootStartedCh
}

func (s *Station) sendBoot(ctx context.Context, l *link, reason string) (BootResult, error) {
	raw, err := s.Call(ctx, "BootNotification", s.bootPayload(reason))
	if err != nil {
		return BootResult{}, err
	}
	var res struct {
		Status      string    `json:"status"`
		Interval    int       `json:"interval"`
		CurrentTime time.Time `json:"currentTime"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return BootResult{}, fmt.Errorf("simulator: BootNotification answer: %w", err)
	}
	br := BootResult{Status: res.Status, Interval: time.Duration(res.Interval) * time.Second, CurrentTime: res.CurrentTime}
	if res.Status != "Accepted" {
		return br, fmt.Errorf("%w: %s", ErrBootNotAccepted, res.Status)
	}
	if !l.booted.Swap(true) {
		s.env.stats.booted.Add(1)
	}
	s.mu.Lock()
	s.everBooted = true
	if res.Interval > 0 {
		s.interval = int32(res.Interval)
	}
	s.mu.Unlock()
	return br, nil
}

// Call sends a CALL and returns the CALLRESULT payload. Errors: ErrNotConnected, ErrTimeout
// (Config.CallTimeout, or the caller's earlier deadline), *CallError (the gateway answered
// CALLERROR), or the context's error. Calls of one station wait for each other: only one is
// outstanding at a time. payload is nil ({}), a json.RawMessage, or anything encoding/json
// can marshal. With Config.Recorder set, the latency is recorded under action.
func (s *Station) Call(ctx context.Context, action string, payload any) (json.RawMessage, error) {
	raw, err := marshalPayload(payload)
	if err != nil {
		return nil, fmt.Errorf("simulator: %s payload: %w", action, err)
	}
	start := time.Now()
	res, err := s.call(ctx, action, raw)
	if rec := s.env.cfg.Recorder; rec != nil {
		rec.Observe(action, time.Since(start), err)
	}
	return res, err
}

func (s *Station) call(ctx context.Context, action string, payload []byte) (_ json.RawMessage, err error) {
	parent := ctx
	defer func() {
		if err != nil && parent.Err() != nil {
			// The caller gave up (a run ending closes its connections too): say so, rather
			// than blame the connection.
			err = ctxErr(parent)
		}
		if err != nil {
			s.env.stats.countError(err)
		}
	}()
	l := s.current()
	if l == nil {
		return nil, ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.env.cfg.CallTimeout)
	defer cancel()
	select {
	case s.callSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	case <-l.done:
		return nil, ErrNotConnected
	}
	defer func() { <-s.callSem }()

	bp := getBuffer()
	defer putBuffer(bp)
	var idBuf [32]byte
	id := nextMessageID(idBuf[:0])
	p := &pendingCall{id: string(id), ch: make(chan callResult, 1)}
	*bp = appendCall((*bp)[:0], id, action, payload)
	l.mu.Lock()
	l.pending = p
	l.mu.Unlock()
	if err := l.write(*bp); err != nil {
		l.takePending(p)
		return nil, fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	s.env.stats.callsSent.Add(1)
	select {
	case r := <-p.ch:
		return r.payload, r.err
	case <-ctx.Done():
		if !l.takePending(p) {
			// The answer arrived as the deadline passed; it is in the channel, and late.
			<-p.ch
		}
		return nil, ctxErr(ctx)
	}
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

// takePending clears p if it is still outstanding and reports whether it was.
func (l *link) takePending(p *pendingCall) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending != p {
		return false
	}
	l.pending = nil
	return true
}

// write sends one text frame. A failed write closes the socket, which ends the reader.
func (l *link) write(msg []byte) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	_ = l.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := l.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		_ = l.ws.Close()
		return err
	}
	l.st.env.stats.framesOut.Add(1)
	return nil
}

// close sends a close frame and closes the socket; the reader then finishes.
func (l *link) close(code int) {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		_ = l.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		_ = l.ws.Close()
	})
}

// read is the connection's goroutine: it delivers answers to the outstanding CALL and
// answers the gateway's CALLs, one at a time, in wire order.
func (l *link) read() {
	defer l.finish()
	st := &l.st.env.stats
	for {
		typ, data, err := l.ws.ReadMessage()
		if err != nil {
			l.err = err
			return
		}
		st.framesIn.Add(1)
		if typ != websocket.TextMessage {
			st.badFrames.Add(1)
			continue
		}
		f, err := decodeFrame(data)
		if err != nil {
			st.badFrames.Add(1)
			continue
		}
		if f.typ == typeCall {
			l.answer(f)
			continue
		}
		l.deliver(f)
	}
}

func (l *link) deliver(f frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	if p == nil || p.id != f.id {
		// A late answer to a call that timed out, or an id the gateway could not read ("-1").
		l.st.env.stats.unmatched.Add(1)
		return
	}
	l.pending = nil
	if f.err != nil {
		p.ch <- callResult{err: f.err}
		return
	}
	p.ch <- callResult{payload: f.payload}
}

func (l *link) answer(f frame) {
	s := l.st
	ctx := s.thenContext()
	reply := s.env.cfg.Handler(ctx, s, f.action, f.payload)
	bp := getBuffer()
	defer putBuffer(bp)
	if reply.Err == nil {
		payload, err := marshalPayload(reply.Payload)
		if err != nil {
			reply.Err = &CallError{Code: "InternalError", Description: err.Error()}
		} else {
			*bp = appendResult((*bp)[:0], f.id, payload)
		}
	}
	if reply.Err != nil {
		*bp = appendError((*bp)[:0], f.id, reply.Err)
	}
	if l.write(*bp) != nil {
		return
	}
	s.env.stats.callsAnswered.Add(1)
	if reply.Then != nil {
		go reply.Then(ctx)
	}
}

// thenContext is the context of Reply.Then: the station's Run context, when it runs.
func (s *Station) thenContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx != nil {
		return s.runCtx
	}
	return context.Background()
}

// finish runs when the reader ends: the outstanding CALL fails, the behaviours stop, and a
// fleet that runs the station may schedule a reconnect.
func (l *link) finish() {
	_ = l.ws.Close()
	l.mu.Lock()
	p := l.pending
	l.pending = nil
	tickers := l.tickers
	l.tickers = nil
	l.ended = true
	l.mu.Unlock()
	if p != nil {
		p.ch <- callResult{err: ErrNotConnected}
	}
	for _, t := range tickers {
		t.stop()
	}
	s := l.st
	s.mu.Lock()
	if s.link == l {
		s.link = nil
	}
	s.mu.Unlock()
	s.env.stats.connected.Add(-1)
	if !l.closing.Load() {
		s.env.stats.drops.Add(1)
	}
	if l.booted.Load() {
		s.env.stats.booted.Add(-1)
	}
	close(l.done)
	if down := s.env.onDown.Load(); down != nil {
		down.fn(s)
	}
}

// password is the configured password, or the one the gateway set since
// (AuthorizationKey, SecurityCtrlr.BasicAuthPassword).
func (s *Station) password() string {
	if v, ok := s.setting(settingAuthorizationKey); ok {
		return v
	}
	return s.env.cfg.Password
}

// buffers holds frame buffers: a frame is built, written (gorilla/websocket copies it into
// its own pooled buffer) and the buffer comes back.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= 64<<10 {
		buffers.Put(b)
	}
}

// ticker runs one behaviour of Run on one connection: fn after first, then again after
// next() each time, until stopped or next() is not positive. It costs a runtime timer, not a
// goroutine, while it waits.
type ticker struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func (l *link) every(first time.Duration, next func() time.Duration, fn func()) {
	if first <= 0 {
		return
	}
	tk := &ticker{}
	tk.mu.Lock()
	tk.t = time.AfterFunc(first, func() {
		fn()
		tk.mu.Lock()
		defer tk.mu.Unlock()
		if d := next(); !tk.stopped && d > 0 {
			tk.t.Reset(d)
		}
	})
	tk.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		tk.stop()
		return
	}
	l.tickers = append(l.tickers, tk)
}

func (tk *ticker) stop() {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.stopped = true
	tk.t.Stop()
}
