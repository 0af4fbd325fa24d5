package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/gorilla/websocket"
)

// startTwoNodes runs nodes A and B on one fresh database, and returns an e2e on node A's API
// whose ocppURL is node B's gateway: for tests of what crosses from one node to the other.
func startTwoNodes(t *testing.T) *e2e {
	t.Helper()
	dbURL := pgtest.URL(t)
	a, apiA := startNode(t, dbURL, "node-a")
	b, _ := startNode(t, dbURL, "node-b")
	gwB := httptest.NewServer(b.gateway)
	t.Cleanup(gwB.Close)
	return &e2e{t: t, app: a, api: apiA.URL, ocppURL: "ws" + strings.TrimPrefix(gwB.URL, "http") + "/ocpp"}
}

// TestChargerCommandsAcrossNodes runs two whole evroam nodes on one database: the station is
// connected to node B and commanded through node A's API.
func TestChargerCommandsAcrossNodes(t *testing.T) {
	t.Parallel()
	eA := startTwoNodes(t)
	eA.station("CS-CMD", "station-password-123", 1)

	// Not connected anywhere yet: 409.
	if code, body := eA.do("POST", "/api/v1/chargers/CS-CMD/reset", map[string]string{"type": "Soft"}); code != 409 {
		t.Fatalf("reset of an offline station: %d %s, want 409", code, body)
	}
	if code, _ := eA.do("POST", "/api/v1/chargers/NOBODY/reset", map[string]string{"type": "Soft"}); code != 404 {
		t.Errorf("reset of an unknown station: %d, want 404", code)
	}

	p := ocpppeer.Start(t)
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	p.OnCall("DataTransfer", map[string]any{"status": "Accepted", "data": `{"text": "Hello"}`})
	p.MustConnect(ocpppeer.ConnectOptions{URL: eA.ocppURL, Identity: "CS-CMD",
		Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})

	// The boot was answered once node B's claim was committed, so node A finds the station
	// at once.
	var reset map[string]any
	eA.must("POST", "/api/v1/chargers/CS-CMD/reset", map[string]string{"type": "Hard"}, 200, &reset)
	if reset["status"] != "accepted" || reset["chargeBoxId"] != "CS-CMD" || reset["type"] != "Hard" {
		t.Errorf("reset answer = %v", reset)
	}
	got := p.WaitReceived("Reset", 1)
	if !strings.Contains(string(got[0].Params), `"Hard"`) {
		t.Errorf("station received Reset %s, want type Hard", got[0].Params)
	}

	eA.must("POST", "/api/v1/chargers/CS-CMD/data-transfer", map[string]string{"vendorId": "MyVendor", "messageId": "GetDisplayMessage", "data": `{"screen": 1}`}, 200, nil)
	p.MustCall("DataTransfer", map[string]any{"vendorId": "Alfen", "messageId": "Hello", "data": "from the station"})
	var history struct {
		Count         int `json:"count"`
		DataTransfers []struct {
			Direction string `json:"direction"`
			VendorID  string `json:"vendorId"`
		} `json:"dataTransfers"`
	}
	eventually(t, "data transfer history", func() error {
		eA.must("GET", "/api/v1/chargers/CS-CMD/data-transfer?limit=1", nil, 200, &history)
		if history.Count != 1 || history.DataTransfers[0].Direction != "incoming" || history.DataTransfers[0].VendorID != "Alfen" {
			b, _ := json.Marshal(history)
			return &historyError{string(b)}
		}
		return nil
	})
	eA.must("GET", "/api/v1/chargers/CS-CMD/data-transfer", nil, 200, &history)
	if history.Count != 2 || history.DataTransfers[1].Direction != "outgoing" {
		t.Errorf("history = %+v, want the incoming then the outgoing transfer", history)
	}
}

// historyError is a check of eventually that has not held yet: what was seen instead.
type historyError struct{ got string }

// TestCommandRightAfterBootThroughAnotherNode: a station's BootNotification is answered only
// once its node's claim is committed, so a command sent through another node right after the
// boot reaches it (no 409 window). The claim is held back by locking its table: while it
// cannot commit, the boot must not be answered; if it is, the command sent then through node
// A finds no owner and the test fails.
func TestCommandRightAfterBootThroughAnotherNode(t *testing.T) {
	t.Parallel()
	eA := startTwoNodes(t)
	eA.station("CS-AFTER-BOOT", "station-password-123", 1)

	lock, err := eA.app.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`LOCK TABLE station_sessions IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	p := ocpppeer.Start(t)
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	p.MustConnect(ocpppeer.ConnectOptions{URL: eA.ocppURL, Identity: "CS-AFTER-BOOT",
		Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	booted := make(chan error, 1)
	go func() {
		_, err := p.Call("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
		booted <- err
	}()
	eventually(t, "node B's claim waiting for the lock", func() error {
		var waiting int
		if err := eA.app.db.Get(&waiting, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE c.relname = 'station_sessions' AND NOT l.granted`); err != nil {
			return err
		}
		if waiting == 0 {
			return &historyError{"no waiting claim"}
		}
		return nil
	})
	select {
	case err := <-booted:
		// Answered while the claim is still waiting: the command below gets 409.
		if err != nil {
			t.Fatalf("boot: %v", err)
		}
	case <-time.After(300 * time.Millisecond):
		if err := lock.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := <-booted; err != nil {
			t.Fatalf("boot: %v", err)
		}
	}
	var reset map[string]any
	eA.must("POST", "/api/v1/chargers/CS-AFTER-BOOT/reset", map[string]string{"type": "Soft"}, 200, &reset)
	if reset["status"] != "accepted" {
		t.Errorf("reset answer = %v", reset)
	}
}

func (e *historyError) Error() string { return "got " + e.got }

// TestCommandAnswerWithNullOptionalField: ocpp-go stations answer a 2.0.1 Reset with
// "statusInfo": null. The reset was accepted and the operator is told so (200), not a 502.
func TestCommandAnswerWithNullOptionalField(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("CS-NULL", "station-password-123", 1)
	h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("CS-NULL:station-password-123"))}}
	d := websocket.Dialer{Subprotocols: []string{"ocpp2.0.1"}}
	ws, _, err := d.Dial(e.ocppURL+"/CS-NULL", h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() []any {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		var f []any
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`[2,"b1","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"},"customData":null}]`))
	for f := read(); f[0] != float64(3) || f[1] != "b1"; f = read() {
		// Calls the gateway makes after a boot (configuration reads) are answered as a
		// station without them would.
		if f[0] == float64(2) {
			_ = ws.WriteJSON([]any{4, f[1], "NotImplemented", "", map[string]any{}})
		}
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f := read()
			if f[0] != float64(2) {
				continue
			}
			if f[2] == "Reset" {
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`[3,"`+f[1].(string)+`",{"status":"Accepted","statusInfo":null}]`))
				return
			}
			_ = ws.WriteJSON([]any{4, f[1], "NotImplemented", "", map[string]any{}})
		}
	}()
	var reset map[string]any
	e.must("POST", "/api/v1/chargers/CS-NULL/reset", map[string]string{"type": "Hard"}, 200, &reset)
	if reset["status"] != "accepted" {
		t.Errorf("reset answer = %v, want accepted", reset)
	}
	<-done
}
