// Package ocpppeer drives a real OCPP charge station for tests: testpeers/station.js, a
// Node.js script around the ocpp-rpc client in strict mode, which validates every frame
// in both directions against the official OCA schemas.
//
//	p := ocpppeer.Start(t)
//	p.OnCall("Reset", map[string]any{"status": "Accepted"})
//	p.MustConnect(ocpppeer.ConnectOptions{URL: "ws://127.0.0.1:9000/ocpp", Identity: "CP1",
//		Password: "secret", Protocols: []string{"ocpp1.6"}})
//	res, err := p.Call("BootNotification", map[string]any{…})
//
// Start skips the test when node or testpeers/node_modules is missing (run `npm ci` in
// testpeers/), and fails it instead when the CI environment variable is set. The node
// process is killed in t.Cleanup, which also fails the test if the peer reported a
// strict-mode validation failure (unless AllowStrictFailures was called).
//
// It is a test helper: production code must not import it.
package ocpppeer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds each command sent to the peer, and each Wait.
const DefaultTimeout = 20 * time.Second

// Peer is one running station.js process, holding at most one connection at a time.
type Peer struct {
	tb      testing.TB
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  bytes.Buffer
	timeout time.Duration

	writeMu sync.Mutex

	mu          sync.Mutex
	changed     chan struct{}
	nextID      int
	waiting     map[int]chan reply
	events      []Event
	exited      bool
	allowStrict bool
}

// Event is one event line from the peer.
type Event struct {
	Event string `json:"event"` // message, call, strictValidationFailure, badMessage, open, close, disconnect, pong
	// message
	Outbound bool   `json:"outbound"`
	Text     string `json:"text"`
	// call (a CALL from the CSMS)
	Action    string          `json:"action"`
	MessageID string          `json:"messageId"`
	Params    json.RawMessage `json:"params"`
	// strictValidationFailure
	Method string          `json:"method"`
	IsCall bool            `json:"isCall"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	// badMessage: the CALLERROR the peer answered with, if any
	Response json.RawMessage `json:"response"`
	// open
	Protocol string `json:"protocol"`
	// close, disconnect
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	// operator.js: the identity of the link the event is about, and a client's password
	Identity string  `json:"identity"`
	Password *string `json:"password"`
}

// Error is a failed command: an RPC error (Code is the OCPP error code), an HTTP refusal
// of the upgrade (HTTPStatus), or another client error (Message).
type Error struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	Details    json.RawMessage `json:"details"`
	HTTPStatus int             `json:"httpStatus"`
}

func (e *Error) Error() string {
	if e.HTTPStatus != 0 {
		return fmt.Sprintf("ocpppeer: HTTP %d: %s", e.HTTPStatus, e.Message)
	}
	return fmt.Sprintf("ocpppeer: %s: %s", e.Code, e.Message)
}

type reply struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

type line struct {
	Type string `json:"type"`
	ID   int    `json:"id"`
}

// Start launches a peer. See the package comment for when it skips.
func Start(tb testing.TB) *Peer {
	tb.Helper()
	return start(tb, "station.js")
}

// start launches one of the node peers of testpeers/.
func start(tb testing.TB, script string) *Peer {
	tb.Helper()
	dir, err := testpeersDir()
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "ocpp-rpc", "package.json"))
		if err != nil {
			err = fmt.Errorf("testpeers/node_modules is missing: run `npm ci` in testpeers/ (%v)", err)
		}
	}
	node := ""
	if err == nil {
		node, err = exec.LookPath("node")
		if err != nil {
			err = fmt.Errorf("node is not installed: %v", err)
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("ocpppeer: %v", err)
		}
		tb.Skipf("ocpppeer: %v (set CI to make this a failure)", err)
	}

	p := &Peer{tb: tb, timeout: DefaultTimeout, changed: make(chan struct{}), waiting: map[int]chan reply{}}
	p.cmd = exec.Command(node, script)
	p.cmd.Dir = dir
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	p.stdin, err = p.cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("ocpppeer: %v", err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("ocpppeer: %v", err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("ocpppeer: start node: %v", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		p.read(stdout)
	}()
	tb.Cleanup(func() {
		_ = p.stdin.Close() // station.js exits when stdin closes
		waited := make(chan error, 1)
		go func() { <-readDone; waited <- p.cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-waited
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.allowStrict {
			for _, e := range p.events {
				if e.Event == "strictValidationFailure" {
					tb.Errorf("ocpppeer: strict-mode validation failure: %s %s (outbound=%v isCall=%v): %v; params=%s result=%s",
						e.Method, e.MessageID, e.Outbound, e.IsCall, e.Error, e.Params, e.Result)
				}
			}
		}
		if tb.Failed() {
			tb.Logf("ocpppeer: station.js stderr:\n%s", p.stderr.String())
			for _, e := range p.events {
				if e.Event == "message" {
					dir := "CSMS->CP"
					if e.Outbound {
						dir = "CP->CSMS"
					}
					tb.Logf("ocpppeer: %s %s", dir, e.Text)
				}
			}
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// testpeersDir finds testpeers/ next to the module's go.mod, walking up from the working
// directory (go test runs in the package directory).
func testpeersDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testpeers"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func (p *Peer) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			p.tb.Logf("ocpppeer: unreadable line from station.js: %q", sc.Text())
			continue
		}
		p.mu.Lock()
		switch l.Type {
		case "reply":
			var r reply
			_ = json.Unmarshal(sc.Bytes(), &r)
			if ch := p.waiting[l.ID]; ch != nil {
				ch <- r
				delete(p.waiting, l.ID)
			}
		case "event":
			var e Event
			_ = json.Unmarshal(sc.Bytes(), &e)
			p.events = append(p.events, e)
		default:
			fmt.Fprintf(&p.stderr, "%s\n", sc.Text())
		}
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.exited = true
	for id, ch := range p.waiting {
		ch <- reply{Error: &Error{Code: "PeerExited", Message: "station.js exited"}}
		delete(p.waiting, id)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// SetTimeout changes the per-command and Wait timeout (default DefaultTimeout).
func (p *Peer) SetTimeout(d time.Duration) { p.timeout = d }

// AllowStrictFailures stops Cleanup from failing the test on strict-mode validation
// failures, for tests that provoke them on purpose.
func (p *Peer) AllowStrictFailures() {
	p.mu.Lock()
	p.allowStrict = true
	p.mu.Unlock()
}

// do sends one command and waits for its reply.
func (p *Peer) do(cmd map[string]any) (json.RawMessage, error) {
	p.tb.Helper()
	ch := make(chan reply, 1)
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return nil, &Error{Code: "PeerExited", Message: "station.js exited"}
	}
	p.nextID++
	id := p.nextID
	p.waiting[id] = ch
	p.mu.Unlock()
	cmd["id"] = id
	b, err := json.Marshal(cmd)
	if err != nil {
		p.tb.Fatalf("ocpppeer: encode command: %v", err)
	}
	p.writeMu.Lock()
	_, err = p.stdin.Write(append(b, '\n'))
	p.writeMu.Unlock()
	if err != nil {
		return nil, &Error{Code: "PeerExited", Message: err.Error()}
	}
	select {
	case r := <-ch:
		if !r.OK {
			if r.Error == nil {
				r.Error = &Error{Code: "Unknown"}
			}
			return nil, r.Error
		}
		return r.Result, nil
	case <-time.After(p.timeout):
		p.tb.Fatalf("ocpppeer: no reply to %s within %v", cmd["cmd"], p.timeout)
		return nil, nil
	}
}

// ConnectOptions describe a connection.
type ConnectOptions struct {
	// URL is the gateway base URL, e.g. "ws://127.0.0.1:9000/ocpp"; the identity is
	// appended, percent-encoded.
	URL      string
	Identity string
	// Password is sent as UTF-8; PasswordHex, when set, is decoded and sent as raw bytes.
	// With neither, no Authorization header is sent.
	Password    string
	PasswordHex string
	// Protocols offered, most preferred first. Default ocpp1.6.
	Protocols []string
	// CallTimeout bounds the peer's own CALLs. Default 10s.
	CallTimeout time.Duration
	// PingInterval, when set, has the station ping the CSMS this often; ocpp-rpc closes the
	// connection when a ping is not answered before the next. Each answered ping is an event
	// "pong".
	PingInterval time.Duration
	// NoStrict turns strict mode off (it is on for every protocol ocpp-rpc has schemas for).
	NoStrict bool
	Headers  map[string]string
	// TLS, for a wss:// URL: CAPEM is the CA that signed the server's certificate; CertPEM
	// and KeyPEM, when set, are the station's client certificate (security profile 3).
	TLS *TLSOptions
}

// TLSOptions are a wss:// connection's certificates, PEM encoded.
type TLSOptions struct {
	CAPEM, CertPEM, KeyPEM string
}

// Connect opens the WebSocket and returns the negotiated subprotocol. An HTTP refusal is
// an *Error with HTTPStatus set; no common subprotocol is an *Error whose Message is
// "Server sent no subprotocol".
func (p *Peer) Connect(o ConnectOptions) (string, error) {
	p.tb.Helper()
	cmd := map[string]any{"cmd": "connect", "url": o.URL, "identity": o.Identity}
	if o.PasswordHex != "" {
		cmd["passwordHex"] = o.PasswordHex
	} else if o.Password != "" {
		cmd["password"] = o.Password
	}
	if len(o.Protocols) > 0 {
		cmd["protocols"] = o.Protocols
	}
	if o.CallTimeout > 0 {
		cmd["callTimeoutMs"] = o.CallTimeout.Milliseconds()
	}
	if o.PingInterval > 0 {
		cmd["pingIntervalMs"] = o.PingInterval.Milliseconds()
	}
	if o.NoStrict {
		cmd["strict"] = false
	}
	if o.Headers != nil {
		cmd["headers"] = o.Headers
	}
	if o.TLS != nil {
		t := map[string]any{"ca": o.TLS.CAPEM}
		if o.TLS.CertPEM != "" {
			t["cert"], t["key"] = o.TLS.CertPEM, o.TLS.KeyPEM
		}
		cmd["tls"] = t
	}
	res, err := p.do(cmd)
	if err != nil {
		return "", err
	}
	var r struct {
		Protocol string `json:"protocol"`
	}
	_ = json.Unmarshal(res, &r)
	return r.Protocol, nil
}

// MustConnect is Connect that fails the test on error.
func (p *Peer) MustConnect(o ConnectOptions) string {
	p.tb.Helper()
	proto, err := p.Connect(o)
	if err != nil {
		p.tb.Fatalf("ocpppeer: connect %s: %v", o.Identity, err)
	}
	return proto
}

// Call sends a CALL from the station and returns the CSMS's CALLRESULT payload, or an
// *Error (Code = the CALLERROR code, or the strict-mode failure's code when the result
// did not validate).
func (p *Peer) Call(action string, payload any) (json.RawMessage, error) {
	p.tb.Helper()
	if payload == nil {
		payload = map[string]any{}
	}
	return p.do(map[string]any{"cmd": "call", "action": action, "payload": payload})
}

// MustCall is Call that fails the test on error.
func (p *Peer) MustCall(action string, payload any) json.RawMessage {
	p.tb.Helper()
	res, err := p.Call(action, payload)
	if err != nil {
		p.tb.Fatalf("ocpppeer: %s: %v", action, err)
	}
	return res
}

// OnCall makes the station answer CALLs of action ("*" for any) with result.
func (p *Peer) OnCall(action string, result any) {
	p.tb.Helper()
	p.mustDo(map[string]any{"cmd": "respond", "action": action, "result": result})
}

// DeviceModel makes a 2.0.1 station answer GetVariables from variables (keys as
// ocpp.VariableRef.Key writes them, e.g. "OCPPCommCtrlr.HeartbeatInterval"; values as the
// station would send them), unless OnCall set an answer for GetVariables. A request with
// more variables than "DeviceDataCtrlr.ItemsPerMessage[GetVariables]" gets the CALLERROR
// OccurrenceConstraintViolation, as real stations answer.
func (p *Peer) DeviceModel(variables map[string]string) {
	p.tb.Helper()
	p.mustDo(map[string]any{"cmd": "deviceModel", "variables": variables})
}

// OnCallError makes the station answer CALLs of action with a CALLERROR.
func (p *Peer) OnCallError(action, code, description string) {
	p.tb.Helper()
	p.mustDo(map[string]any{"cmd": "respond", "action": action,
		"error": map[string]any{"code": code, "description": description}})
}

// OnCallNever makes the station never answer CALLs of action.
func (p *Peer) OnCallNever(action string) {
	p.tb.Helper()
	p.mustDo(map[string]any{"cmd": "respond", "action": action, "never": true})
}

// SendRaw sends text as one WebSocket text frame, unvalidated.
func (p *Peer) SendRaw(text string) {
	p.tb.Helper()
	p.mustDo(map[string]any{"cmd": "sendRaw", "text": text})
}

// Close closes the station's WebSocket (code 1000).
func (p *Peer) Close() {
	p.tb.Helper()
	p.mustDo(map[string]any{"cmd": "close", "code": 1000, "reason": "test done"})
}

func (p *Peer) mustDo(cmd map[string]any) {
	p.tb.Helper()
	if _, err := p.do(cmd); err != nil {
		p.tb.Fatalf("ocpppeer: %s: %v", cmd["cmd"], err)
	}
}

// Events returns the events named name ("" for all) so far.
func (p *Peer) Events(name string) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Event
	for _, e := range p.events {
		if name == "" || e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// Received returns the CALLs of action the station has received from the CSMS so far.
// Events travel over the peer's stdout, so they can trail what the server side already
// saw (e.g. a Server.Call that has returned): to assert on them, use WaitReceived or
// WaitEvent. A command's reply is written after the events that led to it, so after
// Call, Connect etc. return, their own frames are in Events.
func (p *Peer) Received(action string) []Event {
	var out []Event
	for _, e := range p.Events("call") {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// WaitEvent waits for the first event (past or future) for which match returns true.
func (p *Peer) WaitEvent(what string, match func(Event) bool) Event {
	p.tb.Helper()
	deadline := time.NewTimer(p.timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for _, e := range p.events {
			if match(e) {
				p.mu.Unlock()
				return e
			}
		}
		ch, exited := p.changed, p.exited
		p.mu.Unlock()
		if exited {
			p.tb.Fatalf("ocpppeer: station.js exited while waiting for %s", what)
		}
		select {
		case <-ch:
		case <-deadline.C:
			p.tb.Fatalf("ocpppeer: timed out after %v waiting for %s", p.timeout, what)
		}
	}
}

// WaitReceived waits until the station has received n CALLs of action and returns them.
func (p *Peer) WaitReceived(action string, n int) []Event {
	p.tb.Helper()
	// WaitEvent calls match with p.mu held, for every event, again after each change: count
	// them all each time (a count kept across calls would count the same event twice).
	p.WaitEvent(fmt.Sprintf("%d %s CALL(s)", n, action), func(Event) bool {
		count := 0
		for _, e := range p.events {
			if e.Event == "call" && e.Action == action {
				count++
			}
		}
		return count >= n
	})
	return p.Received(action)
}

// WaitEvents waits until there have been n events named name.
func (p *Peer) WaitEvents(name string, n int) {
	p.tb.Helper()
	p.WaitEvent(fmt.Sprintf("%d %s event(s)", n, name), func(Event) bool {
		count := 0 // counted afresh at each call, as in WaitReceived
		for _, e := range p.events {
			if e.Event == name {
				count++
			}
		}
		return count >= n
	})
}

// WaitEventsWhileOpen is WaitEvents for events that only an open connection brings (pongs,
// CALLs): it fails at once, saying how the socket closed, when it closes first.
func (p *Peer) WaitEventsWhileOpen(name string, n int) {
	p.tb.Helper()
	e := p.WaitEvent(fmt.Sprintf("%d %s event(s)", n, name), func(e Event) bool {
		if e.Event == "close" {
			return true
		}
		count := 0
		for _, e := range p.events {
			if e.Event == name {
				count++
			}
		}
		return count >= n
	})
	if e.Event == "close" {
		p.tb.Fatalf("ocpppeer: the socket closed (code %d, %q) while waiting for %d %s event(s)", e.Code, e.Reason, n, name)
	}
}

// WaitClosed waits until the station's socket has closed and returns the close event.
func (p *Peer) WaitClosed() Event {
	p.tb.Helper()
	return p.WaitEvent("socket close", func(e Event) bool { return e.Event == "close" })
}

// WaitFrame waits for a raw frame in the given direction (outbound = station to CSMS)
// whose text contains substr, and returns its text.
func (p *Peer) WaitFrame(outbound bool, substr string) string {
	p.tb.Helper()
	return p.WaitEvent(fmt.Sprintf("frame containing %q", substr), func(e Event) bool {
		return e.Event == "message" && e.Outbound == outbound && strings.Contains(e.Text, substr)
	}).Text
}
