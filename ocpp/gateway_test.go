package ocpp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
)

func TestSecondConnectionReplacesFirst(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{})
			e.reg.AddStation("CP-1", 1, "secret-password-1", true)
			p1 := ocpppeer.Start(t)
			e.connect(t, p1, v, "CP-1", "secret-password-1")
			p1.MustCall("Heartbeat", nil)

			p2 := ocpppeer.Start(t)
			e.connect(t, p2, v, "CP-1", "secret-password-1")
			p1.WaitClosed()
			p2.MustCall("Heartbeat", nil)
			if proto, ok := e.srv.ProtocolOf("CP-1"); !ok || proto != v.proto {
				t.Errorf("ProtocolOf = %q, %v; want %q", proto, ok, v.proto)
			}
			e.reg.Do(func(r *ocpptest.Registry) {
				if len(r.Connects) != 2 || len(r.Disconnects) != 0 {
					t.Errorf("connects %d, disconnects %d; want 2 and 0 (the replaced socket is not a disconnect)",
						len(r.Connects), len(r.Disconnects))
				}
			})

			p2.Close()
			e.reg.Wait(t, waitTimeout, "RecordDisconnect", func(r *ocpptest.Registry) bool { return len(r.Disconnects) == 1 })
			if _, ok := e.srv.ProtocolOf("CP-1"); ok {
				t.Error("ProtocolOf reports a closed station as connected")
			}
			e.reg.Do(func(r *ocpptest.Registry) {
				var got []string
				for _, ev := range r.Events {
					if strings.HasPrefix(ev, "RecordConnect") || strings.HasPrefix(ev, "RecordDisconnect") {
						got = append(got, ev)
					}
				}
				want := "RecordConnect CP-1,RecordConnect CP-1,RecordDisconnect CP-1"
				if strings.Join(got, ",") != want {
					t.Errorf("connectivity events = %v, want %s", got, want)
				}
			})
		})
	}
}

func TestSilentStationIsClosed(t *testing.T) {
	// No server pings, so a station that sends nothing is silent.
	e := newEnv(t, ocpp.Config{OfflineAfter: 200 * time.Millisecond, PingInterval: -1})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[0], "CP-1", "")
	p.WaitClosed()
	e.reg.Wait(t, waitTimeout, "RecordDisconnect", func(r *ocpptest.Registry) bool { return len(r.Disconnects) == 1 })
}

func TestCloseRecordsDisconnects(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[1], "CP-1", "")
	p.MustCall("Heartbeat", nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p.WaitClosed()
	e.reg.Do(func(r *ocpptest.Registry) {
		if len(r.Disconnects) != 1 {
			t.Errorf("disconnects = %d, want 1", len(r.Disconnects))
		}
		// Close flushed the message log: Heartbeat CALL and CALLRESULT.
		if len(r.Messages) != 2 {
			t.Errorf("message log has %d frames after Close, want 2", len(r.Messages))
		}
	})
}

func TestCallBeforeBoot(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{})
			e.reg.AddStation("NEW-1", 1, "secret-password-1", false) // no boot data on record
			p := ocpppeer.Start(t)
			p.OnCall("TriggerMessage", map[string]any{"status": "Accepted"})
			e.connect(t, p, v, "NEW-1", "secret-password-1")

			trig := p.WaitReceived("TriggerMessage", 1)
			var params struct {
				RequestedMessage string `json:"requestedMessage"`
			}
			_ = json.Unmarshal(trig[0].Params, &params)
			if params.RequestedMessage != "BootNotification" {
				t.Errorf("TriggerMessage params = %s", trig[0].Params)
			}

			_, err := p.Call("Heartbeat", nil)
			if pe, ok := err.(*ocpppeer.Error); !ok || pe.Code != "SecurityError" {
				t.Fatalf("Heartbeat before boot: err = %v, want SecurityError", err)
			}
			p.MustCall("BootNotification", v.boot)
			p.MustCall("Heartbeat", nil)
		})
	}
}

func TestBootDataOnRecordCountsAsBooted(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("OLD-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[0], "OLD-1", "")
	p.MustCall("StatusNotification", map[string]any{"connectorId": 0, "errorCode": "NoError", "status": "Available"})
	e.reg.Wait(t, waitTimeout, "message log", func(r *ocpptest.Registry) bool { return len(r.Messages) >= 2 })
	for _, m := range e.reg.MessagesOf("OLD-1") {
		if m.Action == "TriggerMessage" {
			t.Errorf("station with boot data on record got %s", m.Action)
		}
	}
}

// calls per version for TestServerCall.
var commandCases = map[string]struct {
	ok, okAnswer         [2]any // action, payload; answer
	failing, silent, bad [2]any // CALLERROR, never answered, invalid payload
	wantOK               string
}{
	"ocpp1.6": {
		ok:       [2]any{"Reset", map[string]any{"type": "Soft"}},
		okAnswer: [2]any{map[string]any{"status": "Accepted"}},
		failing:  [2]any{"UnlockConnector", map[string]any{"connectorId": 1}},
		silent:   [2]any{"ClearCache", map[string]any{}},
		bad:      [2]any{"Reset", map[string]any{"type": "Immediate"}},
		wantOK:   `{"status":"Accepted"}`,
	},
	"ocpp2.0.1": {
		ok:       [2]any{"Reset", map[string]any{"type": "Immediate"}},
		okAnswer: [2]any{map[string]any{"status": "Scheduled"}},
		failing:  [2]any{"UnlockConnector", map[string]any{"evseId": 1, "connectorId": 1}},
		silent:   [2]any{"ClearCache", map[string]any{}},
		bad:      [2]any{"Reset", map[string]any{"type": "Soft"}},
		wantOK:   `{"status":"Scheduled"}`,
	},
}

func TestServerCall(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			cc := commandCases[v.name]
			e := newEnv(t, ocpp.Config{CallTimeout: 500 * time.Millisecond})
			e.reg.AddStation("CP-1", 0, "", true)
			p := ocpppeer.Start(t)
			p.OnCall(cc.ok[0].(string), cc.okAnswer[0])
			p.OnCallError(cc.failing[0].(string), "NotSupported", "not on this model")
			p.OnCallNever(cc.silent[0].(string))
			e.connect(t, p, v, "CP-1", "")
			ctx := context.Background()

			res, err := e.srv.Call(ctx, "CP-1", cc.ok[0].(string), cc.ok[1])
			if err != nil || !compactJSONEqual(res, cc.wantOK) {
				t.Errorf("Call(%s) = %s, %v; want %s", cc.ok[0], res, err, cc.wantOK)
			}

			_, err = e.srv.Call(ctx, "CP-1", cc.failing[0].(string), cc.failing[1])
			var ce *ocpp.CallError
			if !errors.As(err, &ce) || ce.Code != "NotSupported" || ce.Description != "not on this model" {
				t.Errorf("Call(%s) error = %v, want CallError NotSupported", cc.failing[0], err)
			}

			_, err = e.srv.Call(ctx, "CP-1", cc.silent[0].(string), cc.silent[1])
			if !errors.Is(err, ocpp.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Call(%s) error = %v, want ErrTimeout", cc.silent[0], err)
			}

			_, err = e.srv.Call(ctx, "CP-1", cc.bad[0].(string), cc.bad[1])
			if !errors.Is(err, ocpp.ErrInvalidPayload) {
				t.Errorf("Call(%s, %v) error = %v, want ErrInvalidPayload", cc.bad[0], cc.bad[1], err)
			}
			_, err = e.srv.Call(ctx, "CP-1", "NoSuchAction", nil)
			if !errors.Is(err, ocpp.ErrInvalidPayload) {
				t.Errorf("Call(NoSuchAction) error = %v, want ErrInvalidPayload", err)
			}
			_, err = e.srv.Call(ctx, "NOT-CONNECTED", "ClearCache", nil)
			if !errors.Is(err, ocpp.ErrNotConnected) {
				t.Errorf("Call to an unconnected station: %v, want ErrNotConnected", err)
			}

			// After a timeout the next call still goes through.
			res, err = e.srv.Call(ctx, "CP-1", cc.ok[0].(string), cc.ok[1])
			if err != nil || !compactJSONEqual(res, cc.wantOK) {
				t.Errorf("Call(%s) after a timeout = %s, %v", cc.ok[0], res, err)
			}
			// The peer reports a received CALL on its own stdout; it may trail the answer.
			if got := len(p.WaitReceived(cc.ok[0].(string), 2)); got != 2 {
				t.Errorf("station received %d %s calls, want 2", got, cc.ok[0])
			}
		})
	}
}

func TestServerCallQueues(t *testing.T) {
	// Concurrent calls to one station go out one at a time: ocpp-rpc (callConcurrency 1 on
	// its side too) would answer an overlapping CALL anyway, so check our log instead.
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	p.OnCall("ClearCache", map[string]any{"status": "Accepted"})
	e.connect(t, p, versions[0], "CP-1", "")
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.srv.Call(context.Background(), "CP-1", "ClearCache", nil)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	e.reg.Wait(t, waitTimeout, "message log", func(r *ocpptest.Registry) bool { return len(r.Messages) == 2*n })
	ms := e.reg.MessagesOf("CP-1")
	for i := 0; i < len(ms); i += 2 {
		if ms[i].MessageType != ocpp.MessageTypeCall || ms[i+1].MessageType != ocpp.MessageTypeCallResult || ms[i].MessageID != ms[i+1].MessageID {
			t.Fatalf("frames %d,%d = %s %s / %s %s: calls overlapped", i, i+1, ms[i].MessageType, ms[i].MessageID, ms[i+1].MessageType, ms[i+1].MessageID)
		}
	}
}

func compactJSONEqual(raw json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestPeerReportsStrictFailures checks the harness itself: a station answer that breaks
// the schema is caught by the peer's strict mode and reported.
func TestPeerReportsStrictFailures(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	p.AllowStrictFailures()
	p.OnCall("Reset", map[string]any{"status": "Bogus"})
	e.connect(t, p, versions[0], "CP-1", "")
	_, err := e.srv.Call(context.Background(), "CP-1", "Reset", map[string]any{"type": "Hard"})
	var ce *ocpp.CallError
	if !errors.As(err, &ce) || ce.Code != "InternalError" {
		t.Errorf("Call(Reset) error = %v, want the peer's InternalError", err)
	}
	// The peer's report may reach us after its CALLERROR reached the gateway.
	p.WaitEvent("strict-mode failure", func(e ocpppeer.Event) bool { return e.Event == "strictValidationFailure" })
	if fs := p.Events("strictValidationFailure"); len(fs) != 1 || fs[0].Method != "Reset" || !fs[0].Outbound {
		t.Errorf("strict failures = %+v, want one for the outbound Reset result", fs)
	}
}

// TestNoTriggerWhenTheStationBootsByItself: a station without boot data on record that
// sends its BootNotification within BootTriggerDelay is not asked for one (a trigger
// crossing its own boot would make it boot twice).
func TestNoTriggerWhenTheStationBootsByItself(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{BootTriggerDelay: 500 * time.Millisecond})
			e.reg.AddStation("NEW-2", 0, "", false)
			p := ocpppeer.Start(t)
			p.OnCall("TriggerMessage", map[string]any{"status": "Accepted"})
			e.connect(t, p, v, "NEW-2", "")
			p.MustCall("BootNotification", v.boot)
			time.Sleep(time.Second) // past the delay: a trigger would have been sent by now
			if got := p.Received("TriggerMessage"); len(got) != 0 {
				t.Errorf("station that booted by itself got %d TriggerMessage(s)", len(got))
			}
		})
	}
}

// TestConfigurationReadOnlyWhenNeeded: a boot reads the configuration when none is on record
// or the firmware changed, not on every reconnect.
func TestConfigurationReadOnlyWhenNeeded(t *testing.T) {
	v := versions[0] // 1.6: GetConfiguration
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStationWith(ocpp.Station{Identity: "OLD-2", HasBootData: true, HasConfiguration: true, FirmwareVersion: "1.0"})
	p := ocpppeer.Start(t)
	p.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{}})
	e.connect(t, p, v, "OLD-2", "")
	boot := map[string]any{"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"}
	p.MustCall("BootNotification", boot)
	p.MustCall("Heartbeat", nil) // the configuration read would have started by now
	time.Sleep(200 * time.Millisecond)
	if got := p.Received("GetConfiguration"); len(got) != 0 {
		t.Errorf("a reconnect with the same firmware read the configuration %d time(s)", len(got))
	}
	boot["firmwareVersion"] = "1.1"
	p.MustCall("BootNotification", boot)
	p.WaitReceived("GetConfiguration", 1)
}
