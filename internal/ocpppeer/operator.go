package ocpppeer

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Operator is one running testpeers/operator.js: an upstream operator (CSMS) built on
// ocpp-rpc's RPCServer in strict mode, for the OCPP proxy's tests. Events and waits are those
// of Peer; "call" events are the CALLs evroam forwarded to it, with the link's identity.
type Operator struct {
	*Peer
	Port int
	// TLS, when set, is the certificate the operator serves wss:// with.
	TLS *TLSOptions
}

// StartOperator launches an operator and starts it listening on a free loopback port (with
// password set, only links presenting it are accepted). It skips or fails like Start.
func StartOperator(tb testing.TB, password string) *Operator {
	tb.Helper()
	o := &Operator{Peer: start(tb, "operator.js")}
	o.Listen(0, password)
	return o
}

// StartTLSOperator is StartOperator serving wss:// with the certificate in tlsOpts (CertPEM,
// KeyPEM).
func StartTLSOperator(tb testing.TB, tlsOpts TLSOptions) *Operator {
	tb.Helper()
	o := &Operator{Peer: start(tb, "operator.js"), TLS: &tlsOpts}
	o.Listen(0, "")
	return o
}

// URL is the operator's OCPP endpoint (without an identity).
func (o *Operator) URL() string {
	if o.TLS != nil {
		return fmt.Sprintf("wss://localhost:%d/ocpp", o.Port)
	}
	return fmt.Sprintf("ws://127.0.0.1:%d/ocpp", o.Port)
}

// Listen starts the server (after Down, on the same port with port = o.Port).
func (o *Operator) Listen(port int, password string) {
	o.tb.Helper()
	cmd := map[string]any{"cmd": "listen", "port": port}
	if password != "" {
		cmd["password"] = password
	}
	if o.TLS != nil {
		cmd["tls"] = map[string]string{"cert": o.TLS.CertPEM, "key": o.TLS.KeyPEM}
	}
	res, err := o.do(cmd)
	if err != nil {
		o.tb.Fatalf("ocpppeer: operator listen: %v", err)
	}
	var r struct {
		Port int `json:"port"`
	}
	_ = json.Unmarshal(res, &r)
	o.Port = r.Port
}

// Down closes every link and stops listening; Listen(o.Port, …) brings it back.
func (o *Operator) Down() { o.tb.Helper(); o.mustDo(map[string]any{"cmd": "down"}) }

// OnStartTransaction makes the operator answer StartTransaction with result and transaction
// ids counting up from first.
func (o *Operator) OnStartTransaction(result any, first int) {
	o.tb.Helper()
	o.mustDo(map[string]any{"cmd": "respond", "action": "StartTransaction", "result": result, "transactionIdFrom": first})
}

// CallStation sends a CALL from the operator over the link of identity and returns the
// answer (an *Error for a CALLERROR).
func (o *Operator) CallStation(identity, action string, payload any) (json.RawMessage, error) {
	o.tb.Helper()
	if payload == nil {
		payload = map[string]any{}
	}
	return o.do(map[string]any{"cmd": "call", "identity": identity, "action": action, "payload": payload})
}

// SendRawTo sends text over the link of identity as one frame, unvalidated.
func (o *Operator) SendRawTo(identity, text string) {
	o.tb.Helper()
	o.mustDo(map[string]any{"cmd": "sendRaw", "identity": identity, "text": text})
}

// Freeze stops the operator reading the link of identity without closing it: from then on it
// answers nothing, pings included (a host gone behind a NAT).
func (o *Operator) Freeze(identity string) {
	o.tb.Helper()
	o.mustDo(map[string]any{"cmd": "freeze", "identity": identity})
}

// WaitClient waits until a link of identity is connected and returns its event.
func (o *Operator) WaitClient(identity string) Event {
	o.tb.Helper()
	return o.WaitEvent("link of "+identity, func(e Event) bool { return e.Event == "client" && e.Identity == identity })
}
