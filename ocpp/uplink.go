package ocpp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// uplink is one operator's link: an outgoing OCPP-J WebSocket that evroam holds on the
// station's behalf while the station is connected here. Its goroutine (run) dials,
// reconnects with backoff and jitter, delivers the operator's queue of transaction messages
// in order, and forwards everything else best effort; the operator's CALLs go to the station.
type uplink struct {
	sp *stationProxy
	op Operator

	ctx    context.Context // ends when the link is stopped
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	callSem chan struct{} // one outstanding CALL towards the operator

	wsMu sync.Mutex
	ws   *websocket.Conn // nil while not connected

	writeMu sync.Mutex

	pmu     sync.Mutex
	pending *pendingCall

	outbox chan outgoing // best-effort forwards (not transaction messages)
	wake   chan struct{} // the queue has something new

	// qmu orders writes to the durable queue with the check that it is empty: while backlog
	// is true, a transaction message must queue behind the others instead of being sent.
	qmu     sync.Mutex
	backlog bool
	idle    chan struct{} // closed when backlog turns false; a new one when it turns true

	connected atomic.Bool
	frames    [2]Counter // forwarded frames, out and in (nil without a ProxyObserver)
}

type outgoing struct {
	action  string
	payload json.RawMessage
}

func newUplink(sp *stationProxy, op Operator) *uplink {
	ctx, cancel := context.WithCancel(sp.c.s.ctx)
	l := &uplink{sp: sp, op: op, ctx: ctx, cancel: cancel, done: make(chan struct{}), callSem: make(chan struct{}, 1),
		outbox: make(chan outgoing, 64), wake: make(chan struct{}, 1), backlog: true, idle: make(chan struct{})}
	if po, ok := sp.c.s.cfg.Observer.(ProxyObserver); ok {
		l.frames[0], l.frames[1] = po.ForwardedFrames(op.ID, DirectionOut), po.ForwardedFrames(op.ID, DirectionIn)
	}
	return l
}

// stop ends the link; with wait, it returns once the link's goroutine has finished.
func (l *uplink) stop(wait bool) {
	l.cancel()
	l.closeWS()
	if wait {
		<-l.done
	}
}

func (l *uplink) closeWS() {
	l.wsMu.Lock()
	if l.ws != nil {
		_ = l.ws.Close()
	}
	l.wsMu.Unlock()
}

func (l *uplink) status(status, lastError string, connectedAt *time.Time) {
	s := l.sp.c.s
	ctx, cancel := s.registryCtx()
	defer cancel()
	if err := l.sp.reg.RecordOperatorStatus(ctx, l.op.ID, status, lastError, connectedAt); err != nil {
		s.log.Error("ocpp proxy: record link status", "identity", l.sp.c.identity, "operator", l.op.Name, "err", err)
	}
}

// jitter returns a wait between half of d and d, so that links that broke together do not
// come back together.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func (l *uplink) run() {
	defer close(l.done)
	s := l.sp.c.s
	if l.op.Unusable != "" {
		l.status(LinkDisconnected, l.op.Unusable, nil)
		return
	}
	backoff := s.cfg.ProxyReconnectMin
	for {
		if l.ctx.Err() != nil {
			l.status(LinkDisconnected, "", nil)
			return
		}
		l.status(LinkConnecting, "", nil)
		ws, err := l.dial()
		if err != nil {
			if l.ctx.Err() != nil {
				l.status(LinkDisconnected, "", nil)
				return
			}
			s.log.Info("ocpp proxy: link to operator failed", "identity", l.sp.c.identity, "operator", l.op.Name, "err", err)
			l.status(LinkDisconnected, err.Error(), nil)
			if !l.sleep(jitter(backoff)) {
				l.status(LinkDisconnected, "", nil)
				return
			}
			backoff = min(2*backoff, s.cfg.ProxyReconnectMax)
			continue
		}
		backoff = s.cfg.ProxyReconnectMin
		now := s.cfg.Now()
		l.status(LinkConnected, "", &now)
		s.log.Info("ocpp proxy: linked to operator", "identity", l.sp.c.identity, "operator", l.op.Name)
		lost := l.serveConnection(ws)
		if l.ctx.Err() != nil {
			l.status(LinkDisconnected, "", nil)
			return
		}
		l.status(LinkDisconnected, lost, nil)
		if !l.sleep(jitter(backoff)) {
			l.status(LinkDisconnected, "", nil)
			return
		}
	}
}

func (l *uplink) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// dial opens the WebSocket: the operator's URL with the identity appended, the station's
// OCPP version as the only subprotocol, Basic auth when a password is set, TLS for wss://.
func (l *uplink) dial() (*websocket.Conn, error) {
	c := l.sp.c
	identity := l.op.Identity
	if identity == "" {
		identity = c.identity
	}
	target := strings.TrimRight(l.op.URL, "/") + "/" + url.PathEscape(identity)
	token := subprotocol16
	if c.proto == ProtocolOCPP201 {
		token = subprotocol201
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{token},
		TLSClientConfig: c.s.cfg.ProxyTLS, Proxy: http.ProxyFromEnvironment}
	hdr := http.Header{}
	if l.op.Password != "" {
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(identity+":"+l.op.Password)))
	}
	ctx, cancel := context.WithTimeout(l.ctx, 15*time.Second)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, target, hdr)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("the operator refused the connection: HTTP %d", resp.StatusCode)
		}
		return nil, fmt.Errorf("cannot connect to the operator: %v", err)
	}
	if ws.Subprotocol() != token {
		_ = ws.Close()
		return nil, fmt.Errorf("the operator does not speak %s", token)
	}
	ws.SetReadLimit(c.s.cfg.MaxMessageSize)
	return ws, nil
}

// serveConnection runs one connected WebSocket until it breaks or the link stops, and
// returns why it ended.
func (l *uplink) serveConnection(ws *websocket.Conn) string {
	l.wsMu.Lock()
	l.ws = ws
	l.wsMu.Unlock()
	l.connected.Store(true)
	readerDone := make(chan string, 1)
	calls := make(chan frame, 8)
	ended := make(chan struct{})
	l.keepAlive(ws, ended)
	go func() { readerDone <- l.read(ws, calls) }()
	go func() {
		for f := range calls {
			l.sp.operatorCall(l, f)
		}
	}()
	why := l.serve(readerDone)
	close(ended)
	l.connected.Store(false)
	_ = ws.Close()
	if why == "" {
		why = <-readerDone
	}
	l.wsMu.Lock()
	l.ws = nil
	l.wsMu.Unlock()
	l.failPending()
	return why
}

// keepAlive pings the operator every Config.PingInterval until ended is closed, and makes the
// link's reads fail once the operator has sent nothing, not even a pong, for two intervals. A
// link whose operator went away without closing it (a dropped NAT mapping, a dead host) then
// ends and is dialled again, instead of showing Connected while every forward waits out its
// CallTimeout. Negative PingInterval: no pings, no deadline.
func (l *uplink) keepAlive(ws *websocket.Conn, ended <-chan struct{}) {
	cfg := l.sp.c.s.cfg
	if cfg.PingInterval <= 0 {
		return
	}
	silence := 2 * cfg.PingInterval
	_ = ws.SetReadDeadline(time.Now().Add(silence))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(silence)) })
	go func() {
		t := time.NewTicker(cfg.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-ended:
				return
			case <-t.C:
				// WriteControl may run alongside the link's other writes (gorilla/websocket).
				if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
					return
				}
			}
		}
	}()
}

// serve delivers to the operator while the connection lasts: first the station's boot,
// then the queue of transaction messages in order, then forwards as they come.
func (l *uplink) serve(readerDone <-chan string) string {
	if boot := l.sp.lastBoot.Load(); boot != nil {
		l.deliver(outgoing{action: "BootNotification", payload: *boot})
	}
	for {
		if !l.drain() {
			// The operator did not take a transaction message: start over with a new
			// connection, which delivers the queue again.
			return "the operator did not answer a transaction message"
		}
		select {
		case <-l.ctx.Done():
			return ""
		case why := <-readerDone:
			return why
		case <-l.wake:
		case m := <-l.outbox:
			l.deliver(m)
		}
	}
}

// deliver sends a best-effort forward; the answer is only logged.
func (l *uplink) deliver(m outgoing) {
	ctx, cancel := context.WithTimeout(l.ctx, l.sp.c.s.cfg.CallTimeout)
	defer cancel()
	if _, err := l.call(ctx, m.action, m.payload); err != nil {
		l.sp.c.s.log.Debug("ocpp proxy: forward", "identity", l.sp.c.identity, "operator", l.op.Name, "action", m.action, "err", err)
	}
}

// drain delivers the queued transaction messages in order. It returns false when one could
// not be delivered (no answer), true when the queue is empty.
func (l *uplink) drain() bool {
	s := l.sp.c.s
	for {
		l.qmu.Lock()
		ctx, cancel := s.registryCtx()
		items, err := l.sp.reg.Queued(ctx, l.op.ID, 50)
		cancel()
		if err == nil && len(items) == 0 && l.backlog {
			l.backlog = false
			close(l.idle)
		}
		l.qmu.Unlock()
		if err != nil {
			s.log.Error("ocpp proxy: read the operator's queue", "identity", l.sp.c.identity, "operator", l.op.Name, "err", err)
			return true // tried again on the next wake
		}
		if len(items) == 0 {
			return true
		}
		for _, it := range items {
			payload := l.sp.forOperator(l, it.Action, it.Payload)
			cctx, ccancel := context.WithTimeout(l.ctx, s.cfg.CallTimeout)
			res, err := l.call(cctx, it.Action, payload)
			ccancel()
			var ce *CallError
			if err != nil && !errors.As(err, &ce) {
				return false
			}
			if err == nil && it.Action == "StartTransaction" && it.StationTransactionID != "" {
				if own := transactionIDOf(res); own != "" {
					rctx, rcancel := s.registryCtx()
					if err := l.sp.reg.MapTransaction(rctx, l.sp.c.identity, it.StationTransactionID, l.op.ID, own); err != nil {
						s.log.Error("ocpp proxy: map transaction", "identity", l.sp.c.identity, "err", err)
					}
					rcancel()
				}
			}
			rctx, rcancel := s.registryCtx()
			err = l.sp.reg.Dequeue(rctx, it.ID)
			rcancel()
			if err != nil {
				s.log.Error("ocpp proxy: dequeue", "identity", l.sp.c.identity, "err", err)
				return true
			}
		}
	}
}

// enqueue keeps a transaction message for the operator and wakes the link.
func (l *uplink) enqueue(q QueuedCall) {
	s := l.sp.c.s
	l.qmu.Lock()
	ctx, cancel := s.registryCtx()
	err := l.sp.reg.Enqueue(ctx, l.op.ID, q)
	cancel()
	if !l.backlog {
		l.backlog = true
		l.idle = make(chan struct{})
	}
	l.qmu.Unlock()
	if err != nil {
		s.log.Error("ocpp proxy: queue a transaction message", "identity", l.sp.c.identity, "operator", l.op.Name, "action", q.Action, "err", err)
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// forward passes a message on if the link is up; it is not kept otherwise.
func (l *uplink) forward(action string, payload json.RawMessage) {
	if !l.connected.Load() {
		return
	}
	select {
	case l.outbox <- outgoing{action: action, payload: payload}:
	default:
		l.sp.c.s.log.Info("ocpp proxy: operator too slow, message not forwarded", "identity", l.sp.c.identity, "operator", l.op.Name, "action", action)
	}
}

// callNow sends an authority CALL at once and waits at most Config.ProxyAnswerTimeout.
// answer is the operator's CALLRESULT when it fits the schema; settled is true when it took
// the message (answered at all), so it must not be queued again; sent is true when the CALL
// went out (answered or not), so a message that is not kept must not be sent twice.
func (l *uplink) callNow(action string, payload json.RawMessage) (answer json.RawMessage, settled, sent bool) {
	c := l.sp.c
	if !l.connected.Load() {
		return nil, false, false
	}
	ctx, cancel := context.WithTimeout(l.ctx, c.s.cfg.ProxyAnswerTimeout)
	defer cancel()
	// A link that is delivering its queue (also right after connecting, while it reads
	// whether there is one) is waited for, within the same time: this message must not
	// overtake the queued ones.
	l.qmu.Lock()
	idle := l.idle
	l.qmu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		return nil, false, false
	}
	res, err := l.call(ctx, action, payload)
	var ce *CallError
	switch {
	case errors.As(err, &ce):
		return nil, true, true
	case errors.Is(err, ErrTimeout):
		c.s.log.Info("ocpp proxy: the Billing operator did not answer in time; evroam answers", "identity", c.identity,
			"operator", l.op.Name, "action", action)
		return nil, false, true
	case err != nil:
		return nil, false, false
	}
	if e := c.val.validate(action, "conf", res); e != nil {
		c.s.log.Warn("ocpp proxy: the Billing operator's answer breaks the schema; evroam answers", "identity", c.identity,
			"operator", l.op.Name, "action", action, "err", e.desc)
		return nil, true, true
	}
	return res, true, true
}

var errLinkDown = errors.New("ocpp proxy: operator link is down")

// call sends a CALL to the operator and waits for its answer (one outstanding at a time).
func (l *uplink) call(ctx context.Context, action string, payload json.RawMessage) (json.RawMessage, error) {
	select {
	case l.callSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	}
	defer func() { <-l.callSem }()
	if !l.connected.Load() {
		return nil, errLinkDown
	}
	p := &pendingCall{id: uuid.NewString(), action: action, ch: make(chan callResult, 1)}
	l.pmu.Lock()
	l.pending = p
	l.pmu.Unlock()
	if err := l.send(frame{Type: typeCall, ID: p.id, Action: action, Payload: payload}, action); err != nil {
		l.takePending(p.id)
		return nil, err
	}
	select {
	case r := <-p.ch:
		return r.payload, r.err
	case <-ctx.Done():
		l.takePending(p.id)
		return nil, ctxErr(ctx)
	}
}

func (l *uplink) takePending(id string) *pendingCall {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	p := l.pending
	if p == nil || p.id != id {
		return nil
	}
	l.pending = nil
	return p
}

func (l *uplink) failPending() {
	l.pmu.Lock()
	p := l.pending
	l.pending = nil
	l.pmu.Unlock()
	if p != nil {
		p.ch <- callResult{err: errLinkDown}
	}
}

// send writes one frame to the operator and logs it (with the operator named).
func (l *uplink) send(f frame, action string) error {
	data, err := f.encode()
	if err != nil {
		return err
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.wsMu.Lock()
	ws := l.ws
	l.wsMu.Unlock()
	if ws == nil {
		return errLinkDown
	}
	l.log(DirectionOut, f, action)
	_ = ws.SetWriteDeadline(time.Now().Add(l.sp.c.s.cfg.WriteTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, data); err != nil {
		_ = ws.Close()
		return fmt.Errorf("%w: %v", errLinkDown, err)
	}
	return nil
}

func (l *uplink) answerError(id, action string, e *rpcError) {
	_ = l.send(frame{Type: typeCallError, ID: id, ErrorCode: e.kind.code(l.sp.c.proto), ErrorDescription: e.desc,
		ErrorDetails: json.RawMessage("{}")}, action)
}

func (l *uplink) log(dir string, f frame, action string) {
	m := l.sp.c.logEntry(dir, f, action)
	m.Operator = l.op.Name
	l.sp.c.s.messages.add(m)
	i := 0
	if dir == DirectionIn {
		i = 1
	}
	if l.frames[i] != nil {
		l.frames[i].Inc()
	}
}

// read reads the operator's frames until the socket breaks: answers go to the pending
// CALL, CALLs to calls (handled one at a time), and a frame that cannot be read is answered
// (when it can be) and noted as the link's last error, but never reaches the station.
func (l *uplink) read(ws *websocket.Conn, calls chan<- frame) string {
	defer close(calls)
	s := l.sp.c.s
	silence := 2 * s.cfg.PingInterval
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			if l.ctx.Err() != nil {
				return ""
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Sprintf("the operator sent nothing, not even a pong, for %v", silence)
			}
			return "the operator closed the connection"
		}
		if silence > 0 {
			_ = ws.SetReadDeadline(time.Now().Add(silence))
		}
		if typ != websocket.TextMessage {
			l.answerError(unreadableID, "", newRPCError(errFormat, "OCPP-J frames are text frames"))
			continue
		}
		f, err := decodeFrame(data)
		if err != nil {
			fe := err.(*frameError)
			s.log.Info("ocpp proxy: malformed frame from operator", "identity", l.sp.c.identity, "operator", l.op.Name, "err", fe.Msg)
			l.status(LinkConnected, "malformed frame from the operator: "+fe.Msg, nil)
			if fe.Answerable && fe.Kind != errMessageTypeNotSupported {
				l.answerError(fe.ID, "", &rpcError{kind: fe.Kind, desc: fe.Msg})
			}
			continue
		}
		switch f.Type {
		case typeCall:
			l.log(DirectionIn, f, f.Action)
			select {
			case calls <- f:
			default:
				l.answerError(f.ID, f.Action, newRPCError(errRPCFramework, "one CALL at a time, please"))
			}
		case typeCallResult, typeCallError:
			p := l.takePending(f.ID)
			action := ""
			if p != nil {
				action = p.action
			}
			l.log(DirectionIn, f, action)
			if p == nil {
				continue
			}
			if f.Type == typeCallError {
				p.ch <- callResult{err: &CallError{Code: f.ErrorCode, Description: f.ErrorDescription, Details: f.ErrorDetails}}
			} else {
				p.ch <- callResult{payload: f.Payload}
			}
		}
	}
}
