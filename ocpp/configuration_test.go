package ocpp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// configOf returns the configuration recorded for identity, sorted by key.
func configOf(reg *ocpptest.Registry, identity string) []ocpp.ConfigurationValue {
	var out []ocpp.ConfigurationValue
	reg.Do(func(r *ocpptest.Registry) { out = append(out, r.Configuration[identity]...) })
	return out
}

var sortConfig = cmpopts.SortSlices(func(a, b ocpp.ConfigurationValue) bool { return a.Key < b.Key })

// bootAnsweredBefore checks that the station got the BootNotification CALLRESULT before the
// CALL named action: the gateway must not talk to a station before answering its boot.
func bootAnsweredBefore(t *testing.T, p *ocpppeer.Peer, action string) {
	t.Helper()
	var bootID string
	for _, e := range p.Events("message") {
		if e.Outbound && strings.Contains(e.Text, `"BootNotification"`) {
			var f []json.RawMessage
			_ = json.Unmarshal([]byte(e.Text), &f)
			_ = json.Unmarshal(f[1], &bootID)
		}
	}
	answered := false
	for _, e := range p.Events("message") {
		if !e.Outbound && strings.HasPrefix(e.Text, `[3,"`+bootID+`"`) {
			answered = true
		}
		if !e.Outbound && strings.Contains(e.Text, `"`+action+`"`) {
			if !answered {
				t.Errorf("%s reached the station before the BootNotification answer", action)
			}
			return
		}
	}
	t.Errorf("the station never received %s", action)
}

func TestConfigurationReadAfterBoot16(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	p.OnCall("GetConfiguration", map[string]any{
		"configurationKey": []map[string]any{
			{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			{"key": "NumberOfConnectors", "readonly": true, "value": "2"},
			{"key": "AuthorizationKey", "readonly": false, "value": "0011223344556677889900112233445566778899"},
			{"key": "NoValue", "readonly": true},
		},
	})
	e.connect(t, p, versions[0], "CP-1", "")
	p.MustCall("BootNotification", versions[0].boot)

	got := p.WaitReceived("GetConfiguration", 1)
	if string(got[0].Params) != "{}" {
		t.Errorf("GetConfiguration params = %s, want {} (all keys)", got[0].Params)
	}
	bootAnsweredBefore(t, p, "GetConfiguration")
	e.reg.Wait(t, waitTimeout, "configuration recorded", func(r *ocpptest.Registry) bool { return len(r.Configuration["CP-1"]) == 4 })
	want := []ocpp.ConfigurationValue{
		{Key: "HeartbeatInterval", Value: "300", HasValue: true},
		{Key: "NumberOfConnectors", Value: "2", HasValue: true, ReadOnly: true},
		{Key: "AuthorizationKey", Value: "***", HasValue: true},
		{Key: "NoValue", ReadOnly: true},
	}
	if diff := cmp.Diff(want, configOf(e.reg, "CP-1"), sortConfig); diff != "" {
		t.Errorf("recorded configuration mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigurationReadAfterBoot201(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-2", 0, "", true)
	p := ocpppeer.Start(t)
	p.OnCall("GetBaseReport", map[string]any{"status": "Accepted"})
	e.connect(t, p, versions[1], "CP-2", "")
	p.MustCall("BootNotification", versions[1].boot)

	got := p.WaitReceived("GetBaseReport", 1)
	var params struct {
		RequestID  int    `json:"requestId"`
		ReportBase string `json:"reportBase"`
	}
	if err := json.Unmarshal(got[0].Params, &params); err != nil || params.ReportBase != "FullInventory" || params.RequestID <= 0 {
		t.Fatalf("GetBaseReport params = %s, want reportBase FullInventory and a positive requestId", got[0].Params)
	}
	bootAnsweredBefore(t, p, "GetBaseReport")

	// The report comes in two parts.
	p.MustCall("NotifyReport", map[string]any{
		"requestId": params.RequestID, "generatedAt": "2025-01-02T03:04:05.000Z", "seqNo": 0, "tbc": true,
		"reportData": []map[string]any{
			{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"},
				"variableAttribute": []map[string]any{{"type": "Actual", "value": "300", "mutability": "ReadWrite"}}},
			{"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"},
				"variableAttribute": []map[string]any{{"type": "Actual", "value": "secret-password-123", "mutability": "WriteOnly"}}},
		},
	})
	p.MustCall("NotifyReport", map[string]any{
		"requestId": params.RequestID, "generatedAt": "2025-01-02T03:04:05.000Z", "seqNo": 1,
		"reportData": []map[string]any{
			{"component": map[string]any{"name": "EVSE", "evse": map[string]any{"id": 1}}, "variable": map[string]any{"name": "Power"},
				"variableAttribute": []map[string]any{{"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}}},
		},
	})
	want := []ocpp.ConfigurationValue{
		{Key: "OCPPCommCtrlr.HeartbeatInterval", Value: "300", HasValue: true, Component: "OCPPCommCtrlr",
			Variable: "HeartbeatInterval", AttributeType: "Actual", Mutability: "ReadWrite"},
		{Key: "SecurityCtrlr.BasicAuthPassword", Value: "***", HasValue: true, Component: "SecurityCtrlr",
			Variable: "BasicAuthPassword", AttributeType: "Actual", Mutability: "WriteOnly"},
		{Key: "EVSE@1.Power/MaxSet", Value: "22000", HasValue: true, ReadOnly: true, Component: "EVSE", EVSEID: 1,
			Variable: "Power", AttributeType: "MaxSet", Mutability: "ReadOnly"},
	}
	if diff := cmp.Diff(want, configOf(e.reg, "CP-2"), sortConfig); diff != "" {
		t.Errorf("recorded configuration mismatch (-want +got):\n%s", diff)
	}
}

// TestConfigurationNotReadWithoutBoot: a station that reconnects without booting again is
// not asked for its configuration (it was read after its last boot).
func TestConfigurationNotReadWithoutBoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-3", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[0], "CP-3", "")
	p.MustCall("Heartbeat", nil)
	p.MustCall("Heartbeat", nil)
	if got := p.Received("GetConfiguration"); len(got) != 0 {
		t.Errorf("GetConfiguration sent without a boot: %v", got)
	}
}

func TestConfigurationChangeRecorded(t *testing.T) {
	t.Parallel()
	t.Run("ocpp1.6", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ocpp.Config{})
		e.reg.AddStation("CP-1", 0, "", true)
		p := ocpppeer.Start(t)
		e.connect(t, p, versions[0], "CP-1", "")
		ctx := context.Background()

		p.OnCall("ChangeConfiguration", map[string]any{"status": "Rejected"})
		if _, err := e.srv.Call(ctx, "CP-1", "ChangeConfiguration", map[string]any{"key": "HeartbeatInterval", "value": "900"}); err != nil {
			t.Fatal(err)
		}
		p.OnCall("ChangeConfiguration", map[string]any{"status": "Accepted"})
		if _, err := e.srv.Call(ctx, "CP-1", "ChangeConfiguration", map[string]any{"key": "HeartbeatInterval", "value": "600"}); err != nil {
			t.Fatal(err)
		}
		p.OnCall("ChangeConfiguration", map[string]any{"status": "RebootRequired"})
		if _, err := e.srv.Call(ctx, "CP-1", "ChangeConfiguration", map[string]any{"key": "AuthorizationKey", "value": "00112233445566778899"}); err != nil {
			t.Fatal(err)
		}
		want := []ocpp.ConfigurationValue{
			{Key: "HeartbeatInterval", Value: "600", HasValue: true},
			{Key: "AuthorizationKey", Value: "***", HasValue: true},
		}
		if diff := cmp.Diff(want, configOf(e.reg, "CP-1"), sortConfig); diff != "" {
			t.Errorf("recorded configuration mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("ocpp2.0.1", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ocpp.Config{})
		e.reg.AddStation("CP-2", 0, "", true)
		p := ocpppeer.Start(t)
		e.connect(t, p, versions[1], "CP-2", "")
		p.OnCall("SetVariables", map[string]any{"setVariableResult": []map[string]any{
			{"attributeStatus": "Accepted", "component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}},
			{"attributeStatus": "Rejected", "component": map[string]any{"name": "TxCtrlr"}, "variable": map[string]any{"name": "EVConnectionTimeOut"}},
		}})
		_, err := e.srv.Call(context.Background(), "CP-2", "SetVariables", map[string]any{"setVariableData": []map[string]any{
			{"attributeValue": "600", "component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}},
			{"attributeValue": "30", "component": map[string]any{"name": "TxCtrlr"}, "variable": map[string]any{"name": "EVConnectionTimeOut"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := []ocpp.ConfigurationValue{
			{Key: "OCPPCommCtrlr.HeartbeatInterval", Value: "600", HasValue: true, Component: "OCPPCommCtrlr",
				Variable: "HeartbeatInterval", AttributeType: "Actual", Mutability: "ReadWrite"},
		}
		if diff := cmp.Diff(want, configOf(e.reg, "CP-2"), sortConfig); diff != "" {
			t.Errorf("recorded configuration mismatch (-want +got):\n%s", diff)
		}
	})
}
