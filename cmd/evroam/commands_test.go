package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/pgtest"
)

// TestChargerCommandsAcrossNodes runs two whole evroam nodes on one database: the station is
// connected to node B and commanded through node A's API.
func TestChargerCommandsAcrossNodes(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	a, apiA := startNode(t, dbURL, "node-a")
	b, _ := startNode(t, dbURL, "node-b")
	gwB := httptest.NewServer(b.gateway)
	t.Cleanup(gwB.Close)
	eA := &e2e{t: t, app: a, api: apiA.URL}
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
	p.MustConnect(ocpppeer.ConnectOptions{URL: "ws" + strings.TrimPrefix(gwB.URL, "http") + "/ocpp", Identity: "CS-CMD",
		Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})

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

type historyError struct{ got string }

func (e *historyError) Error() string { return "history = " + e.got }
