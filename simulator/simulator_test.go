package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/evroam/evroam/simulator"
)

// waitTimeout bounds every wait: a safety net against hangs, not a timing assertion.
const waitTimeout = 20 * time.Second

// gateway is the real OCPP gateway with the map-backed registry, on a loopback port.
type gateway struct {
	srv *ocpp.Server
	reg *ocpptest.Registry
	url string // ws://127.0.0.1:port/ocpp
	// statusesBefore is how many statuses the registry held before the command TestCommands
	// is sending.
	statusesBefore int
}

func startGateway(t *testing.T, cfg ocpp.Config) *gateway {
	t.Helper()
	reg := ocpptest.New()
	cfg.MessageLogFlushInterval = 10 * time.Millisecond
	cfg.HeartbeatFlushInterval = 10 * time.Millisecond
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("EVROAM_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := ocpp.NewServer(cfg, reg, log)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		hs.Close()
	})
	return &gateway{srv: srv, reg: reg, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp"}
}

// noCallErrors fails the test if the gateway answered any CALL of identity with a CALLERROR
// (every payload is checked against the official schemas, so a malformed simulator payload
// shows up here).
func (g *gateway) noCallErrors(t *testing.T, identity string) {
	t.Helper()
	time.Sleep(50 * time.Millisecond) // one message-log flush
	for _, m := range g.reg.MessagesOf(identity) {
		if m.Direction == ocpp.DirectionOut && m.MessageType == ocpp.MessageTypeCallError {
			t.Errorf("gateway answered %s with CALLERROR %s", m.Action, m.Payload)
		}
	}
}

func (g *gateway) count(fn func(r *ocpptest.Registry) int) int {
	var n int
	g.reg.Do(func(r *ocpptest.Registry) { n = fn(r) })
	return n
}

var protocols = []struct {
	name  string
	proto simulator.Protocol
}{{"ocpp1.6", simulator.OCPP16}, {"ocpp2.0.1", simulator.OCPP201}}

func TestBootHeartbeatStatus(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, ocpp.Config{HeartbeatInterval: 120 * time.Second})
			const id, password = "SIM-BOOT", "a-station-password"
			g.reg.AddStation(id, 1, password, false)
			st, err := simulator.NewStation(simulator.Config{URL: g.url, Password: password}, id, p.proto)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if err := st.Connect(ctx); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer st.Close()
			boot, err := st.Boot(ctx)
			if err != nil || boot.Status != "Accepted" || boot.Interval != 120*time.Second {
				t.Fatalf("Boot = %+v, %v; want Accepted with interval 120s", boot, err)
			}
			if !st.Booted() || st.HeartbeatInterval() != 120*time.Second {
				t.Errorf("Booted %v, HeartbeatInterval %v", st.Booted(), st.HeartbeatInterval())
			}
			if err := st.Heartbeat(ctx); err != nil {
				t.Errorf("Heartbeat: %v", err)
			}
			occupied := map[simulator.Protocol]string{simulator.OCPP16: "Charging", simulator.OCPP201: "Occupied"}[p.proto]
			if err := st.SendStatus(ctx, 2, occupied); err != nil {
				t.Errorf("SendStatus: %v", err)
			}

			g.reg.Wait(t, waitTimeout, "boot, heartbeat, status and configuration", func(r *ocpptest.Registry) bool {
				return len(r.Boots) >= 1 && len(r.Heartbeats) >= 1 && len(r.Statuses) >= 1 && len(r.Configuration[id]) > 0
			})
			g.reg.Do(func(r *ocpptest.Registry) {
				b := r.Boots[0].Info
				if b.Vendor != "evroam" || b.Model != "Simulator" || b.ChargePointSerialNumber != id || b.FirmwareVersion != "1.0.0" {
					t.Errorf("boot recorded %+v", b)
				}
				if p.proto == simulator.OCPP201 && b.Reason != "PowerUp" {
					t.Errorf("boot reason %q, want PowerUp", b.Reason)
				}
				if s := r.Statuses[0]; s.EVSESequence != 2 || s.OCPPStatus != occupied {
					t.Errorf("status recorded %+v", s)
				}
				// The configuration read after the boot got a schema-valid answer (1.6
				// GetConfiguration; 2.0.1 GetBaseReport, then NotifyReport).
				keys := map[string]bool{}
				for _, v := range r.Configuration[id] {
					keys[v.Key] = true
				}
				want := map[simulator.Protocol]string{simulator.OCPP16: "HeartbeatInterval", simulator.OCPP201: "OCPPCommCtrlr.HeartbeatInterval"}[p.proto]
				if !keys[want] {
					t.Errorf("configuration read after boot lacks %s: %v", want, keys)
				}
			})
			g.noCallErrors(t, id)
		})
	}
}

func TestRefusedConnections(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	g.reg.AddStation("SIM-PW", 1, "the-right-password", true)
	for _, c := range []struct {
		name, identity, password, wantCode string
	}{
		{"UnknownStation", "SIM-NOBODY", "", "HTTP 404"},
		{"WrongPassword", "SIM-PW", "a-wrong-password", "HTTP 401"},
		{"NoPassword", "SIM-PW", "", "HTTP 401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := simulator.NewStation(simulator.Config{URL: g.url, Password: c.password}, c.identity, simulator.OCPP16)
			if err != nil {
				t.Fatal(err)
			}
			err = st.Connect(t.Context())
			var he *simulator.HandshakeError
			if !errors.As(err, &he) || simulator.ErrorCode(err) != c.wantCode {
				t.Errorf("Connect: %v (code %q), want a HandshakeError %s", err, simulator.ErrorCode(err), c.wantCode)
			}
		})
	}
}

// TestRun runs a station's whole life: boot, a status per connector, heartbeats at the
// configured interval, and a session of its own with meter values.
func TestRun(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, ocpp.Config{})
			const id = "SIM-RUN"
			g.reg.AddStation(id, 0, "", false)
			st, err := simulator.NewStation(simulator.Config{URL: g.url, HeartbeatInterval: 50 * time.Millisecond,
				SessionInterval: 100 * time.Millisecond, SessionDuration: 300 * time.Millisecond,
				MeterValuesInterval: 60 * time.Millisecond}, id, p.proto)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- st.Run(ctx) }()

			g.reg.Wait(t, waitTimeout, "boot, statuses, heartbeats and a finished session", func(r *ocpptest.Registry) bool {
				ended := len(r.TxStops) > 0
				for _, e := range r.TxEvents {
					ended = ended || e.EventType == "Ended"
				}
				return len(r.Boots) == 1 && len(r.Statuses) >= 2 && len(r.Heartbeats) >= 2 && ended
			})
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if st.Connected() {
				t.Error("still connected after Run returned")
			}
			g.reg.Do(func(r *ocpptest.Registry) {
				if s0, s1 := r.Statuses[0], r.Statuses[1]; s0.EVSESequence != 1 || s1.EVSESequence != 2 ||
					s0.OCPPStatus != "Available" || s1.OCPPStatus != "Available" {
					t.Errorf("first statuses %+v, %+v; want Available for connectors 1 and 2", s0, s1)
				}
			})
			checkSession(t, g, p.proto, id)
			g.noCallErrors(t, id)
		})
	}
}

// checkSession checks the first finished session the registry saw: 1.6 start, meter values
// with a rising register, stop; 2.0.1 Started, Updated, Ended with one transaction id and
// meter values, statuses around it.
func checkSession(t *testing.T, g *gateway, proto simulator.Protocol, id string) {
	t.Helper()
	g.reg.Do(func(r *ocpptest.Registry) {
		var statuses []string
		for _, s := range r.Statuses {
			statuses = append(statuses, s.OCPPStatus)
		}
		if proto == simulator.OCPP16 {
			if len(r.TxStarts) == 0 || len(r.TxStops) == 0 || len(r.MeterValues) == 0 {
				t.Fatalf("starts %d, stops %d, meter values %d", len(r.TxStarts), len(r.TxStops), len(r.MeterValues))
			}
			start, stop := r.TxStarts[0], r.TxStops[0]
			if start.Identity != id || start.IDTag == "" || stop.TransactionID != 1001 || stop.MeterStopWh < start.MeterStartWh {
				t.Errorf("start %+v, stop %+v", start, stop)
			}
			mv := r.MeterValues[0]
			if mv.TransactionID != "1001" || len(mv.Samples) != 2 || mv.Samples[0].Measurand != "Energy.Active.Import.Register" ||
				mv.Samples[1].Measurand != "Power.Active.Import" {
				t.Errorf("meter values %+v", mv)
			}
			if !strings.Contains(strings.Join(statuses, ","), "Preparing,Charging") {
				t.Errorf("statuses %v, want Preparing then Charging", statuses)
			}
			return
		}
		var events []string
		txID := ""
		for _, e := range r.TxEvents {
			if txID == "" {
				txID = e.TransactionID
			}
			if e.TransactionID != txID {
				continue // a second session, on the other connector
			}
			events = append(events, e.EventType)
			if e.MeterWh == nil {
				t.Errorf("%s event without an energy reading", e.EventType)
			}
			if e.EventType == "Ended" {
				break
			}
		}
		if len(txID) != 36 || events[0] != "Started" || events[len(events)-1] != "Ended" || !contains(events, "Updated") {
			t.Errorf("transaction %q events %v, want a UUID and Started, Updated…, Ended", txID, events)
		}
		if !strings.Contains(strings.Join(statuses, ","), "Occupied") {
			t.Errorf("statuses %v, want Occupied around the session", statuses)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestSessionByHand drives a session through the exported calls.
func TestSessionByHand(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, ocpp.Config{})
			const id = "SIM-SESSION"
			g.reg.AddStation(id, 0, "", false)
			st, err := simulator.NewStation(simulator.Config{URL: g.url, MeterValuesInterval: 30 * time.Millisecond}, id, p.proto)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if err := st.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Boot(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.StartSession(ctx, 1, "TAG-1"); err != nil {
				t.Fatalf("StartSession: %v", err)
			}
			if err := st.StartSession(ctx, 1, "TAG-2"); err == nil {
				t.Error("a second session on a busy connector started")
			}
			g.reg.Wait(t, waitTimeout, "meter values", func(r *ocpptest.Registry) bool { return len(r.MeterValues)+len(r.TxEvents) >= 3 })
			if err := st.StopSession(ctx, 1); err != nil {
				t.Fatalf("StopSession: %v", err)
			}
			if err := st.StopSession(ctx, 1); err == nil {
				t.Error("StopSession without a session succeeded")
			}
			checkSession(t, g, p.proto, id)
			g.reg.Wait(t, waitTimeout, "Available after the session", func(r *ocpptest.Registry) bool {
				return r.Statuses[len(r.Statuses)-1].OCPPStatus == "Available"
			})
			g.noCallErrors(t, id)
		})
	}
}

// command is one CALL the test sends with server.Call and what the station must answer.
type command struct {
	action  string
	payload any
	// want is the expected "status" of the answer ("" when the answer has none).
	want string
	// check, when set, inspects the registry afterwards (it may wait).
	check func(t *testing.T, g *gateway, answer json.RawMessage)
}

func TestCommands(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Format(time.RFC3339)
	triggeredStatus := func(evse int) func(*testing.T, *gateway, json.RawMessage) {
		return func(t *testing.T, g *gateway, _ json.RawMessage) {
			g.reg.Wait(t, waitTimeout, "the triggered StatusNotification", func(r *ocpptest.Registry) bool {
				return len(r.Statuses) == g.statusesBefore+1 && r.Statuses[g.statusesBefore].EVSESequence == evse
			})
		}
	}
	heartbeatChanged := func(want string) func(*testing.T, *gateway, json.RawMessage) {
		return func(t *testing.T, _ *gateway, answer json.RawMessage) {
			if !strings.Contains(string(answer), want) {
				t.Errorf("answer %s lacks %s", answer, want)
			}
		}
	}
	cases := map[simulator.Protocol][]command{
		simulator.OCPP16: {
			{action: "GetConfiguration", payload: map[string]any{}, check: func(t *testing.T, _ *gateway, a json.RawMessage) {
				var res struct {
					ConfigurationKey []struct{ Key string } `json:"configurationKey"`
				}
				json.Unmarshal(a, &res)
				if len(res.ConfigurationKey) < 10 || strings.Contains(string(a), "AuthorizationKey") {
					t.Errorf("GetConfiguration answered %s", a)
				}
			}},
			{action: "ChangeConfiguration", payload: map[string]any{"key": "HeartbeatInterval", "value": "77"}, want: "Accepted"},
			{action: "GetConfiguration", payload: map[string]any{"key": []string{"HeartbeatInterval", "NoSuchKey"}},
				check: heartbeatChanged(`"value":"77"`)},
			{action: "ChangeConfiguration", payload: map[string]any{"key": "NumberOfConnectors", "value": "5"}, want: "Rejected"},
			{action: "ChangeConfiguration", payload: map[string]any{"key": "NoSuchKey", "value": "1"}, want: "NotSupported"},
			{action: "ClearCache", payload: map[string]any{}, want: "Accepted"},
			{action: "UnlockConnector", payload: map[string]any{"connectorId": 1}, want: "Unlocked"},
			{action: "UnlockConnector", payload: map[string]any{"connectorId": 9}, want: "UnlockFailed"},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "StatusNotification", "connectorId": 2},
				want: "Accepted", check: triggeredStatus(2)},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "Heartbeat"}, want: "Accepted"},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "MeterValues", "connectorId": 1}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "triggered meter values", func(r *ocpptest.Registry) bool { return len(r.MeterValues) > 0 })
				}},
			{action: "ChangeAvailability", payload: map[string]any{"connectorId": 2, "type": "Inoperative"}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "Unavailable", func(r *ocpptest.Registry) bool {
						s := r.Statuses[len(r.Statuses)-1]
						return s.EVSESequence == 2 && s.OCPPStatus == "Unavailable"
					})
				}},
			{action: "ChangeAvailability", payload: map[string]any{"connectorId": 2, "type": "Operative"}, want: "Accepted"},
			{action: "UpdateFirmware", payload: map[string]any{"location": "https://example.com/fw.bin", "retrieveDate": now}},
			{action: "GetDiagnostics", payload: map[string]any{"location": "ftp://example.com/upload"},
				check: heartbeatChanged(`"fileName":"SIM-CMD-diagnostics.log"`)},
			{action: "DataTransfer", payload: map[string]any{"vendorId": "evroam", "messageId": "Echo", "data": "hello"},
				want: "Accepted", check: heartbeatChanged(`"data":"hello"`)},
			{action: "RemoteStartTransaction", payload: map[string]any{"idTag": "REMOTE-1", "connectorId": 1}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					// Recorded, and known to the station: it reports Charging once the answer
					// to its StartTransaction (the transaction id the stop below names) is in.
					g.reg.Wait(t, waitTimeout, "the remote start", func(r *ocpptest.Registry) bool {
						charging := false
						for _, s := range r.Statuses[g.statusesBefore:] {
							charging = charging || (s.EVSESequence == 1 && s.OCPPStatus == "Charging")
						}
						return len(r.TxStarts) == 1 && r.TxStarts[0].IDTag == "REMOTE-1" && charging
					})
				}},
			{action: "RemoteStartTransaction", payload: map[string]any{"idTag": "REMOTE-2", "connectorId": 1}, want: "Rejected"},
			{action: "RemoteStopTransaction", payload: map[string]any{"transactionId": 999}, want: "Rejected"},
			{action: "RemoteStopTransaction", payload: map[string]any{"transactionId": 1001}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "the remote stop", func(r *ocpptest.Registry) bool {
						return len(r.TxStops) == 1 && r.TxStops[0].Reason == "Remote"
					})
				}},
			{action: "CancelReservation", payload: map[string]any{"reservationId": 1}},
		},
		simulator.OCPP201: {
			{action: "GetVariables", payload: map[string]any{"getVariableData": []any{
				map[string]any{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}},
				map[string]any{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "Nope"}},
				map[string]any{"component": map[string]any{"name": "Nope"}, "variable": map[string]any{"name": "Nope"}},
				map[string]any{"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"}},
			}}, check: func(t *testing.T, _ *gateway, a json.RawMessage) {
				var res struct {
					GetVariableResult []struct{ AttributeStatus string } `json:"getVariableResult"`
				}
				json.Unmarshal(a, &res)
				var got []string
				for _, r := range res.GetVariableResult {
					got = append(got, r.AttributeStatus)
				}
				if strings.Join(got, ",") != "Accepted,UnknownVariable,UnknownComponent,Rejected" {
					t.Errorf("GetVariables statuses %v (%s)", got, a)
				}
			}},
			{action: "SetVariables", payload: map[string]any{"setVariableData": []any{
				map[string]any{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}, "attributeValue": "88"},
				map[string]any{"component": map[string]any{"name": "ChargingStation"}, "variable": map[string]any{"name": "Model"}, "attributeValue": "X"},
			}}, check: heartbeatChanged(`"attributeStatus":"Accepted"`)},
			{action: "GetVariables", payload: map[string]any{"getVariableData": []any{
				map[string]any{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}}}},
				check: heartbeatChanged(`"attributeValue":"88"`)},
			{action: "GetBaseReport", payload: map[string]any{"requestId": 42, "reportBase": "FullInventory"}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "the NotifyReport", func(r *ocpptest.Registry) bool {
						for _, v := range r.Configuration["SIM-CMD"] {
							if v.Key == "OCPPCommCtrlr.HeartbeatInterval" && v.Value == "88" {
								return true
							}
						}
						return false
					})
				}},
			{action: "ClearCache", payload: map[string]any{}, want: "Accepted"},
			{action: "UnlockConnector", payload: map[string]any{"evseId": 1, "connectorId": 1}, want: "Unlocked"},
			{action: "UnlockConnector", payload: map[string]any{"evseId": 7, "connectorId": 1}, want: "UnknownConnector"},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "StatusNotification", "evse": map[string]any{"id": 2, "connectorId": 1}},
				want: "Accepted", check: triggeredStatus(2)},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "TransactionEvent"}, want: "Rejected"},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "SignV2GCertificate"}, want: "NotImplemented"},
			{action: "ChangeAvailability", payload: map[string]any{"operationalStatus": "Inoperative", "evse": map[string]any{"id": 2}}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "Unavailable", func(r *ocpptest.Registry) bool {
						s := r.Statuses[len(r.Statuses)-1]
						return s.EVSESequence == 2 && s.OCPPStatus == "Unavailable"
					})
				}},
			{action: "ChangeAvailability", payload: map[string]any{"operationalStatus": "Operative"}, want: "Accepted"},
			{action: "UpdateFirmware", payload: map[string]any{"requestId": 5, "firmware": map[string]any{"location": "https://example.com/fw.bin", "retrieveDateTime": now}}, want: "Accepted"},
			{action: "GetLog", payload: map[string]any{"logType": "DiagnosticsLog", "requestId": 6, "log": map[string]any{"remoteLocation": "https://example.com/logs"}}, want: "Accepted"},
			{action: "DataTransfer", payload: map[string]any{"vendorId": "evroam", "data": map[string]any{"a": 1}}, want: "Accepted",
				check: heartbeatChanged(`"data":{"a":1}`)},
			{action: "RequestStartTransaction", payload: map[string]any{"idToken": map[string]any{"idToken": "REMOTE-1", "type": "Central"}, "remoteStartId": 7, "evseId": 1},
				want: "Accepted", check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "the remote start", func(r *ocpptest.Registry) bool {
						return len(r.TxEvents) == 1 && r.TxEvents[0].TriggerReason == "RemoteStart" && r.TxEvents[0].IDToken == "REMOTE-1"
					})
				}},
			{action: "TriggerMessage", payload: map[string]any{"requestedMessage": "TransactionEvent", "evse": map[string]any{"id": 1}}, want: "Accepted",
				check: func(t *testing.T, g *gateway, _ json.RawMessage) {
					g.reg.Wait(t, waitTimeout, "the triggered TransactionEvent", func(r *ocpptest.Registry) bool {
						return len(r.TxEvents) == 2 && r.TxEvents[1].TriggerReason == "Trigger"
					})
				}},
			{action: "UnlockConnector", payload: map[string]any{"evseId": 1, "connectorId": 1}, want: "OngoingAuthorizedTransaction"},
			{action: "RequestStopTransaction", payload: map[string]any{"transactionId": "not-this-one"}, want: "Rejected"},
			{action: "RequestStopTransaction", payload: nil, want: "Accepted"}, // the running transaction's id, filled in below
			{action: "CancelReservation", payload: map[string]any{"reservationId": 1}},
		},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, ocpp.Config{})
			const id = "SIM-CMD"
			g.reg.AddStation(id, 0, "", false)
			st, err := simulator.NewStation(simulator.Config{URL: g.url, HeartbeatInterval: -1}, id, p.proto)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- st.Run(ctx) }()
			g.reg.Wait(t, waitTimeout, "boot and configuration read", func(r *ocpptest.Registry) bool {
				return len(r.Boots) == 1 && len(r.Configuration[id]) > 0 && len(r.Statuses) >= 2
			})

			for _, c := range cases[p.proto] {
				payload := c.payload
				if c.action == "RequestStopTransaction" && payload == nil {
					var tx string
					g.reg.Do(func(r *ocpptest.Registry) { tx = r.TxEvents[0].TransactionID })
					payload = map[string]any{"transactionId": tx}
				}
				g.statusesBefore = g.count(func(r *ocpptest.Registry) int { return len(r.Statuses) })
				answer, err := g.srv.Call(ctx, id, c.action, payload)
				if c.action == "CancelReservation" {
					var ce *ocpp.CallError
					if !errors.As(err, &ce) || ce.Code != "NotImplemented" {
						t.Errorf("%s: %v, want CALLERROR NotImplemented", c.action, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s %v: %v", c.action, payload, err)
				}
				var res struct{ Status string }
				json.Unmarshal(answer, &res)
				if res.Status != c.want {
					t.Errorf("%s %v answered %s, want status %q", c.action, payload, answer, c.want)
				}
				if c.check != nil {
					c.check(t, g, answer)
				}
			}
			if p.proto == simulator.OCPP201 {
				g.reg.Wait(t, waitTimeout, "the remote stop", func(r *ocpptest.Registry) bool {
					last := r.TxEvents[len(r.TxEvents)-1]
					return last.EventType == "Ended" && last.TriggerReason == "RemoteStop" && last.StoppedReason == "Remote"
				})
			}

			// Reset last: the station reboots, reconnecting with a BootNotification.
			resetType := map[simulator.Protocol]string{simulator.OCPP16: "Soft", simulator.OCPP201: "Immediate"}[p.proto]
			answer, err := g.srv.Call(ctx, id, "Reset", map[string]any{"type": resetType})
			if err != nil || !strings.Contains(string(answer), "Accepted") {
				t.Fatalf("Reset: %s, %v", answer, err)
			}
			g.reg.Wait(t, waitTimeout, "the reboot", func(r *ocpptest.Registry) bool { return len(r.Boots) == 2 && len(r.Connects) == 2 })
			if p.proto == simulator.OCPP201 {
				g.reg.Do(func(r *ocpptest.Registry) {
					if reason := r.Boots[1].Info.Reason; reason != "RemoteReset" {
						t.Errorf("boot after Reset: reason %q, want RemoteReset", reason)
					}
				})
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			g.noCallErrors(t, id)
		})
	}
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	const n = 20
	cfg := simulator.Config{URL: g.url, Count: n, IdentityPrefix: "SIM-S", Protocol: simulator.ProtocolMix, MaxInFlight: 4,
		ConnectRate: 500}
	for i := range n {
		g.reg.AddStation(cfg.Identity(i), 0, "", false)
	}
	f, err := simulator.NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := t.Context()

	start := time.Now()
	rep, err := simulator.ConnectStorm(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	// 20 connections at 500 a second take at least 38 ms.
	if elapsed := time.Since(start); elapsed < 38*time.Millisecond {
		t.Errorf("connect storm took %v: the connect rate was not applied", elapsed)
	}
	cb := rep.Get(simulator.ActionConnectBoot)
	if cb.Count != n || cb.Errors != 0 || rep.Get("BootNotification").Count != n || rep.Get(simulator.ActionConnect).Count != n {
		t.Fatalf("connect storm:\n%s", rep)
	}
	if cb.P50 <= 0 || cb.P50 > cb.P99 || cb.P99 > cb.Max || cb.Min > cb.P50 || cb.Throughput <= 0 {
		t.Errorf("implausible figures %+v", cb)
	}
	if got := f.Connected(); got != n {
		t.Errorf("%d connected after the storm, want %d", got, n)
	}
	g.reg.Wait(t, waitTimeout, "every boot", func(r *ocpptest.Registry) bool { return len(r.Boots) == n })
	// The gateway records a connect while it already serves the station, so a boot can be
	// recorded before its connection's connect.
	g.reg.Wait(t, waitTimeout, "every connect", func(r *ocpptest.Registry) bool { return len(r.Connects) == n })
	protos := map[string]int{}
	g.reg.Do(func(r *ocpptest.Registry) {
		for _, c := range r.Connects {
			protos[c.ProtocolVersion]++
		}
	})
	if protos[ocpp.ProtocolOCPP16] != n/2 || protos[ocpp.ProtocolOCPP201] != n/2 {
		t.Errorf("protocols %v, want half of each", protos)
	}

	// The recorder counts exactly what the gateway recorded.
	statusesBefore := g.count(func(r *ocpptest.Registry) int { return len(r.Statuses) })
	rep, err = simulator.MessageLoad(ctx, f, simulator.Load{Action: simulator.LoadStatusNotification, Stations: 6, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sn := rep.Get("StatusNotification")
	if sn.Count == 0 || sn.Errors != 0 {
		t.Fatalf("status load:\n%s", rep)
	}
	if got := g.count(func(r *ocpptest.Registry) int { return len(r.Statuses) }) - statusesBefore; uint64(got) != sn.Count {
		t.Errorf("gateway recorded %d statuses, the recorder counted %d", got, sn.Count)
	}
	g.reg.Do(func(r *ocpptest.Registry) {
		seen := map[string]bool{}
		for _, s := range r.Statuses[statusesBefore:] {
			seen[fmt.Sprintf("%d %s", s.EVSESequence, s.OCPPStatus)] = true
		}
		for _, want := range []string{"1 Charging", "2 Charging", "1 Available", "2 Available", "1 Occupied", "2 Occupied"} {
			if !seen[want] {
				t.Errorf("the status load never sent %s (sent %v)", want, seen)
			}
		}
	})
	// Paced: 6 stations at 100 messages a second in all send one each every 60 ms, on
	// schedules 10 ms apart, so no more than 5 each fit in 300 ms, however fast the gateway.
	rep, err = simulator.MessageLoad(ctx, f, simulator.Load{Action: simulator.LoadStatusNotification, Stations: 6,
		Duration: 300 * time.Millisecond, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if paced := rep.Get("StatusNotification"); paced.Count == 0 || paced.Count > 30 || paced.Errors != 0 {
		t.Errorf("paced status load sent %d (errors %d), want 1 to 30:\n%s", paced.Count, paced.Errors, rep)
	}
	for _, a := range []simulator.LoadAction{simulator.LoadHeartbeat, simulator.LoadAuthorize, simulator.LoadMeterValues} {
		rep, err := simulator.MessageLoad(ctx, f, simulator.Load{Action: a, Duration: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if fig := rep.Get(a.String()); fig.Count == 0 || fig.Errors != 0 {
			t.Errorf("%s load:\n%s", a, rep)
		}
	}

	// Reconnect without a boot: the gateway has the boot data, so a Heartbeat is served.
	rep, err = simulator.ReconnectStorm(ctx, f, false)
	if err != nil {
		t.Fatal(err)
	}
	if rc := rep.Get(simulator.ActionReconnect); rc.Count != n || rc.Errors != 0 || rep.Get("Heartbeat").Count != n {
		t.Errorf("reconnect storm:\n%s", rep)
	}
	g.reg.Wait(t, waitTimeout, "every reconnect", func(r *ocpptest.Registry) bool { return len(r.Connects) == 2*n })
	if boots := g.count(func(r *ocpptest.Registry) int { return len(r.Boots) }); boots != n {
		t.Errorf("%d boots after a reconnect storm without boot, want %d", boots, n)
	}
	// And with one, as after a reboot.
	rep, err = simulator.ReconnectStorm(ctx, f, true)
	if err != nil {
		t.Fatal(err)
	}
	if rc := rep.Get(simulator.ActionReconnect); rc.Count != n || rc.Errors != 0 {
		t.Errorf("reconnect storm with boot:\n%s", rep)
	}
	g.reg.Wait(t, waitTimeout, "every second boot", func(r *ocpptest.Registry) bool { return len(r.Boots) == 2*n })
	for _, s := range f.Stations() {
		g.noCallErrors(t, s.Identity())
	}
	if st := f.Stats(); st.Errors() != 0 || st.PeakConnected != n {
		t.Errorf("stats %+v", st)
	}
}

// TestStormCountsFailures: refused stations are counted by code, not returned as an error.
func TestStormCountsFailures(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	cfg := simulator.Config{URL: g.url, Count: 3, IdentityPrefix: "SIM-F"}
	g.reg.AddStation(cfg.Identity(0), 0, "", false)
	g.reg.AddStation(cfg.Identity(1), 1, "a-password-nobody-knows", false)
	f, err := simulator.NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := simulator.ConnectStorm(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	cb := rep.Get(simulator.ActionConnectBoot)
	if cb.Count != 1 || cb.Errors != 2 || cb.ErrorsByCode["HTTP 401"] != 1 || cb.ErrorsByCode["HTTP 404"] != 1 {
		t.Errorf("figures %+v", cb)
	}
}

// TestHoldIdle holds connections and counts the one that drops.
func TestHoldIdle(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	cfg := simulator.Config{URL: g.url, Count: 5, IdentityPrefix: "SIM-I"}
	for i := range cfg.Count {
		g.reg.AddStation(cfg.Identity(i), 0, "", true)
	}
	f, err := simulator.NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		rep simulator.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := simulator.HoldIdle(ctx, f)
		done <- result{rep, err}
	}()
	deadline := time.Now().Add(waitTimeout)
	for f.Stats().Booted < int64(cfg.Count) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// A second connection of one identity replaces (drops) the fleet's.
	intruder, err := simulator.NewStation(simulator.Config{URL: g.url}, cfg.Identity(0), simulator.OCPP16)
	if err != nil {
		t.Fatal(err)
	}
	if err := intruder.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	<-f.Stations()[0].Done()
	cancel()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if cb, idle := r.rep.Get(simulator.ActionConnectBoot), r.rep.Get(simulator.ActionIdle); cb.Count != 5 || idle.Count != 4 ||
		idle.Errors != 1 || idle.ErrorsByCode["Dropped"] != 1 {
		t.Errorf("hold idle:\n%s", r.rep)
	}
	if got := f.Connected(); got != 4 {
		t.Errorf("%d still connected, want 4", got)
	}
}

// TestFleetRun runs a fleet with reconnects: a dropped station comes back on its own.
func TestFleetRun(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	rec := simulator.NewRecorder()
	cfg := simulator.Config{URL: g.url, Count: 4, IdentityPrefix: "SIM-R", Protocol: simulator.ProtocolMix, Reconnect: true,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 40 * time.Millisecond, HeartbeatInterval: 30 * time.Millisecond,
		Recorder: rec}
	for i := range cfg.Count {
		g.reg.AddStation(cfg.Identity(i), 0, "", false)
	}
	f, err := simulator.NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	g.reg.Wait(t, waitTimeout, "every boot and heartbeats", func(r *ocpptest.Registry) bool {
		return len(r.Boots) == cfg.Count && len(r.Heartbeats) >= cfg.Count
	})
	victim := cfg.Identity(1)
	intruder, err := simulator.NewStation(simulator.Config{URL: g.url}, victim, simulator.OCPP201)
	if err != nil {
		t.Fatal(err)
	}
	if err := intruder.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// The fleet's station reconnects after its backoff and replaces the intruder in turn.
	<-intruder.Done()
	g.reg.Wait(t, waitTimeout, "the reconnect", func(r *ocpptest.Registry) bool {
		n := 0
		for _, c := range r.Connects {
			if c.Identity == victim {
				n++
			}
		}
		return n == 3
	})
	if boots := g.count(func(r *ocpptest.Registry) int { return len(r.Boots) }); boots != cfg.Count {
		t.Errorf("%d boots: a reconnect should not boot again", boots)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if f.Connected() != 0 {
		t.Errorf("%d connected after Run", f.Connected())
	}
	// A heartbeat may have been on its way when the connection was replaced (NotConnected);
	// nothing else may fail.
	st := f.Stats()
	if st.Drops != 1 || st.CallErrors != 0 || st.Timeouts != 0 || st.ConnectFailures != 0 || st.OtherErrors > 1 {
		t.Errorf("stats %+v: want one drop and no errors", st)
	}
	if hb := rec.Report().Get("Heartbeat"); hb.Count == 0 || hb.Errors > 1 {
		t.Errorf("recorded heartbeats %+v", hb)
	}
}

// TestSourceAddrs dials from a chosen loopback address (Linux routes all of 127/8 to lo).
func TestSourceAddrs(t *testing.T) {
	t.Parallel()
	g := startGateway(t, ocpp.Config{})
	g.reg.AddStation("SIM-SRC", 0, "", true)
	var cfg simulator.Config
	fs := newFlagSet(&cfg)
	if err := fs.Parse([]string{"--url", g.url, "--source-addrs", "127.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	st, err := simulator.NewStation(cfg, "SIM-SRC", simulator.OCPP16)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Connect(t.Context()); err != nil {
		t.Skipf("cannot dial from 127.0.0.2 here: %v", err)
	}
	defer st.Close()
	g.reg.Wait(t, waitTimeout, "the connect", func(r *ocpptest.Registry) bool { return len(r.Connects) == 1 })
	g.reg.Do(func(r *ocpptest.Registry) {
		if ip := r.Connects[0].ClientIP; ip != "127.0.0.2" {
			t.Errorf("gateway saw the station at %s, want 127.0.0.2", ip)
		}
	})
}
