package ocpp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A station sees the 101 of its handshake a moment before the gateway has taken its
// connection in. A command sent through the API in that moment (an operator or a test that
// commands a station as soon as it is connected) reaches the station instead of being
// answered "not connected". The hooks hold the gateway in exactly that moment.
func TestCallInTheMomentAfterTheHandshake(t *testing.T) {
	srv := NewServer(Config{}, nopRegistry{}, discardLogger())
	upgraded, release, waiting := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv.testHookUpgraded = func(string) { close(upgraded); <-release }
	srv.testHookAwaitUpgrade = func(string) { close(waiting) }
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())

	type dialed struct {
		ws  *websocket.Conn
		err error
	}
	dials := make(chan dialed, 1)
	go func() {
		d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}}
		ws, _, err := d.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ocpp/CP-EARLY", nil)
		dials <- dialed{ws, err}
	}()
	<-upgraded
	d := <-dials // the station has its 101; the gateway has not taken the connection in
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.ws.Close()
	if proto, ok := srv.ProtocolOf("CP-EARLY"); !ok || proto != ProtocolOCPP16 {
		t.Fatalf("ProtocolOf during the handshake = %q, %v; want %q, true", proto, ok, ProtocolOCPP16)
	}

	type answer struct {
		raw json.RawMessage
		err error
	}
	answers := make(chan answer, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		raw, err := srv.Call(ctx, "CP-EARLY", "Reset", map[string]string{"type": "Soft"})
		answers <- answer{raw, err}
	}()
	select {
	case <-waiting:
	case a := <-answers:
		t.Fatalf("Call answered before the connection was taken in: %s, %v", a.raw, a.err)
	}
	close(release)

	// The station answers the Reset the gateway now sends.
	_ = d.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, msg, err := d.ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var call []json.RawMessage
	if err := json.Unmarshal(msg, &call); err != nil || len(call) != 4 || string(call[2]) != `"Reset"` {
		t.Fatalf("station got %s, want a Reset CALL", msg)
	}
	if err := d.ws.WriteMessage(websocket.TextMessage, []byte(`[3,`+string(call[1])+`,{"status":"Accepted"}]`)); err != nil {
		t.Fatal(err)
	}
	a := <-answers
	if a.err != nil || !strings.Contains(string(a.raw), `"Accepted"`) {
		t.Fatalf("Call = %s, %v; want the station's Accepted", a.raw, a.err)
	}
}
