package ocpp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/google/go-cmp/cmp"
)

const ts = "2025-01-02T03:04:05.000Z"

// wireOrder returns the frames the peer saw, as our log should record them:
// "in|out TYPE id" with in = station to CSMS.
func wireOrder(p *ocpppeer.Peer) []string {
	var out []string
	for _, e := range p.Events("message") {
		var f []json.RawMessage
		if json.Unmarshal([]byte(e.Text), &f) != nil || len(f) < 2 {
			continue
		}
		var typ int
		var id string
		_ = json.Unmarshal(f[0], &typ)
		_ = json.Unmarshal(f[1], &id)
		dir := "out"
		if e.Outbound {
			dir = "in"
		}
		out = append(out, fmt.Sprintf("%s %s %s", dir, map[int]string{2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}[typ], id))
	}
	return out
}

func logOrder(ms []ocpp.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s %s %s", m.Direction, m.MessageType, m.MessageID))
	}
	return out
}

// redactionCases are, per version, calls that carry secrets and the station's answers.
var redactionCases = map[string][]struct {
	action         string
	payload, reply any
}{
	"ocpp1.6": {
		{"ChangeConfiguration", map[string]any{"key": "AuthorizationKey", "value": "746F7073656372657431323334353637"},
			map[string]any{"status": "Accepted"}},
		{"GetConfiguration", map[string]any{},
			map[string]any{"configurationKey": []any{
				map[string]any{"key": "AuthorizationKey", "readonly": false, "value": "topsecret-leaked"},
				map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			}, "unknownKey": []any{"NoSuchKey"}}},
	},
	"ocpp2.0.1": {
		{"SetVariables", map[string]any{"setVariableData": []any{map[string]any{
			"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"},
			"attributeValue": "topsecret-password-201"}}},
			map[string]any{"setVariableResult": []any{map[string]any{"attributeStatus": "Accepted",
				"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"}}}}},
		{"GetVariables", map[string]any{"getVariableData": []any{
			map[string]any{"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"}},
			map[string]any{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}},
		}},
			map[string]any{"getVariableResult": []any{
				map[string]any{"attributeStatus": "Accepted", "attributeValue": "topsecret-leaked",
					"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"}},
				map[string]any{"attributeStatus": "Accepted", "attributeValue": "300",
					"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}},
			}}},
		{"SetNetworkProfile", map[string]any{"configurationSlot": 1, "connectionData": map[string]any{
			"ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "wss://ocpp.example.com/ocpp",
			"messageTimeout": 30, "securityProfile": 2, "ocppInterface": "Wireless0",
			"apn": map[string]any{"apn": "internet", "apnUserName": "user", "apnPassword": "topsecret-apn", "simPin": 1234,
				"apnAuthentication": "AUTO"},
			"vpn": map[string]any{"server": "vpn.example.com", "user": "user", "password": "topsecret-vpn",
				"key": "topsecret-key", "type": "IKEv2"}}},
			map[string]any{"status": "Accepted"}},
	},
}

func TestMessageLog(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{})
			e.reg.AddStation("CP-1", 1, "secret-password-1", false)
			p := ocpppeer.Start(t)
			p.OnCall("TriggerMessage", map[string]any{"status": "Accepted"})
			for _, c := range redactionCases[v.name] {
				p.OnCall(c.action, c.reply)
			}
			e.connect(t, p, v, "CP-1", "secret-password-1")
			p.WaitReceived("TriggerMessage", 1)
			p.MustCall("BootNotification", v.boot)
			for _, c := range redactionCases[v.name] {
				if _, err := e.srv.Call(context.Background(), "CP-1", c.action, c.payload); err != nil {
					t.Fatalf("Call(%s): %v", c.action, err)
				}
			}
			if v.proto == ocpp.ProtocolOCPP201 {
				p.MustCall("NotifyReport", map[string]any{"requestId": 1, "generatedAt": ts, "seqNo": 0, "reportData": []any{
					map[string]any{"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"},
						"variableAttribute": []any{map[string]any{"type": "Actual", "value": "topsecret-nr", "mutability": "WriteOnly"}}},
					map[string]any{"component": map[string]any{"name": "EVSE", "evse": map[string]any{"id": 1}}, "variable": map[string]any{"name": "Power"},
						"variableAttribute": []any{map[string]any{"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}}},
				}})
			}
			// The station's own CALL is the last frame; let the log catch up.
			p.MustCall("Heartbeat", nil)
			want := wireOrder(p)
			e.reg.Wait(t, waitTimeout, "the whole exchange in the message log", func(r *ocpptest.Registry) bool {
				return len(r.Messages) >= len(want)
			})
			ms := e.reg.MessagesOf("CP-1")
			if got := logOrder(ms); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("message log order:\n%s\nwire order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			actions := map[string]bool{}
			for _, m := range ms {
				actions[m.Action] = true
				if strings.Contains(string(m.Payload), "topsecret") || strings.Contains(string(m.Payload), "746F7073656372657431323334353637") {
					t.Errorf("secret in message log: %s %s %s", m.MessageType, m.Action, m.Payload)
				}
				if m.Action == "" || m.At.IsZero() || !json.Valid(m.Payload) {
					t.Errorf("incomplete log entry %+v", m)
				}
			}
			for _, c := range redactionCases[v.name] {
				if !actions[c.action] {
					t.Errorf("no %s in the message log", c.action)
				}
			}

			cfg := map[string]ocpp.ConfigurationValue{}
			e.reg.Do(func(r *ocpptest.Registry) {
				for _, c := range r.Configuration["CP-1"] {
					cfg[c.Key] = c
				}
			})
			var secretKey, plainKey string
			if v.proto == ocpp.ProtocolOCPP16 {
				secretKey, plainKey = "AuthorizationKey", "HeartbeatInterval"
				if !cfg["NoSuchKey"].Unknown {
					t.Errorf("unknown key not recorded: %+v", cfg)
				}
			} else {
				secretKey, plainKey = "SecurityCtrlr.BasicAuthPassword", "OCPPCommCtrlr.HeartbeatInterval"
				if c := cfg["EVSE@1.Power/MaxSet"]; c.Value != "22000" || !c.ReadOnly || c.EVSEID != 1 || c.Component != "EVSE" {
					t.Errorf("NotifyReport variable = %+v", c)
				}
			}
			if c := cfg[secretKey]; c.Value != "***" || !c.HasValue {
				t.Errorf("recorded %s = %+v, want value ***", secretKey, c)
			}
			if c := cfg[plainKey]; c.Value != "300" {
				t.Errorf("recorded %s = %+v, want value 300", plainKey, c)
			}
		})
	}
}

func TestTransactions16(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[0], "CP-1", "")

	res := p.MustCall("Authorize", map[string]any{"idTag": "TAG1"})
	if !compactJSONEqual(res, `{"idTagInfo":{"status":"Accepted"}}`) {
		t.Errorf("Authorize = %s", res)
	}
	res = p.MustCall("StartTransaction", map[string]any{"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": ts})
	var start struct {
		TransactionID int `json:"transactionId"`
	}
	_ = json.Unmarshal(res, &start)
	if start.TransactionID != 1001 {
		t.Errorf("StartTransaction = %s, want the registry's id 1001", res)
	}
	p.MustCall("MeterValues", map[string]any{"connectorId": 1, "transactionId": start.TransactionID, "meterValue": []any{
		map[string]any{"timestamp": ts, "sampledValue": []any{
			map[string]any{"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
			map[string]any{"value": "21.5", "measurand": "Temperature", "unit": "Celcius"},
		}}}})
	p.MustCall("StopTransaction", map[string]any{"transactionId": start.TransactionID, "meterStop": 2500, "timestamp": ts,
		"transactionData": []any{map[string]any{"timestamp": ts, "sampledValue": []any{
			map[string]any{"value": "2.5", "unit": "kWh"},
			map[string]any{"value": "20", "measurand": "Temperature", "unit": "Celsius"},
		}}}})
	e.reg.Do(func(r *ocpptest.Registry) {
		if len(r.TxStarts) != 1 || r.TxStarts[0].IDTag != "TAG1" || r.TxStarts[0].MeterStartWh != 1000 || r.TxStarts[0].EVSESequence != 1 {
			t.Errorf("TxStarts = %+v", r.TxStarts)
		}
		if len(r.MeterValues) != 1 || r.MeterValues[0].TransactionID != "1001" || len(r.MeterValues[0].Samples) != 2 ||
			r.MeterValues[0].Samples[1].Unit != "Celcius" {
			t.Errorf("MeterValues = %+v", r.MeterValues)
		}
		if len(r.TxStops) != 1 || r.TxStops[0].TransactionID != 1001 || r.TxStops[0].MeterStopWh != 2500 ||
			len(r.TxStops[0].Samples) != 2 || r.TxStops[0].Reason != "Local" {
			t.Errorf("TxStops = %+v", r.TxStops)
		}
	})
}

func TestTransactions201(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[1], "CP-1", "")

	token := map[string]any{"idToken": "TAG1", "type": "ISO14443"}
	res := p.MustCall("Authorize", map[string]any{"idToken": token})
	if !compactJSONEqual(res, `{"idTokenInfo":{"status":"Accepted"}}`) {
		t.Errorf("Authorize = %s", res)
	}
	p.MustCall("TransactionEvent", map[string]any{"eventType": "Started", "timestamp": ts, "triggerReason": "Authorized", "seqNo": 0,
		"transactionInfo": map[string]any{"transactionId": "tx-1", "chargingState": "Charging"},
		"evse":            map[string]any{"id": 1, "connectorId": 1}, "idToken": token,
		"meterValue": []any{map[string]any{"timestamp": ts, "sampledValue": []any{
			map[string]any{"value": 1.5, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": map[string]any{"unit": "kWh"}}}}}})
	p.MustCall("MeterValues", map[string]any{"evseId": 1, "meterValue": []any{map[string]any{"timestamp": ts, "sampledValue": []any{
		map[string]any{"value": 230.1, "measurand": "Voltage", "unitOfMeasure": map[string]any{"unit": "V"}}}}}})
	p.MustCall("TransactionEvent", map[string]any{"eventType": "Ended", "timestamp": ts, "triggerReason": "EVDeparted", "seqNo": 1,
		"transactionInfo": map[string]any{"transactionId": "tx-1", "stoppedReason": "EVDisconnected"},
		"meterValue": []any{map[string]any{"timestamp": ts, "sampledValue": []any{
			map[string]any{"value": 2500, "context": "Transaction.End"}}}}})
	e.reg.Do(func(r *ocpptest.Registry) {
		if len(r.TxEvents) != 2 {
			t.Fatalf("TxEvents = %+v", r.TxEvents)
		}
		st, end := r.TxEvents[0], r.TxEvents[1]
		if st.TransactionID != "tx-1" || st.EventType != "Started" || st.IDToken != "TAG1" || st.EVSESequence != 1 ||
			st.MeterWh == nil || *st.MeterWh != 1500 || st.ChargingState != "Charging" {
			t.Errorf("Started = %+v", st)
		}
		if end.EventType != "Ended" || end.StoppedReason != "EVDisconnected" || end.MeterWh == nil || *end.MeterWh != 2500 || end.SeqNo != 1 {
			t.Errorf("Ended = %+v", end)
		}
		if len(r.MeterValues) != 1 || r.MeterValues[0].EVSESequence != 1 || r.MeterValues[0].Samples[0].Value != "230.1" {
			t.Errorf("MeterValues = %+v", r.MeterValues)
		}
	})
}

func TestDataTransfer(t *testing.T) {
	data := map[string]any{"ocpp1.6": "hello", "ocpp2.0.1": map[string]any{"a": 1}}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{})
			e.reg.AddStation("CP-1", 0, "", true)
			p := ocpppeer.Start(t)
			p.OnCall("DataTransfer", map[string]any{"status": "Accepted", "data": "pong"})
			e.connect(t, p, v, "CP-1", "")

			res := p.MustCall("DataTransfer", map[string]any{"vendorId": "com.acme", "messageId": "hello", "data": data[v.name]})
			if !compactJSONEqual(res, `{"status":"UnknownVendorId"}`) {
				t.Errorf("DataTransfer answer = %s", res)
			}
			if _, err := e.srv.Call(context.Background(), "CP-1", "DataTransfer", map[string]any{"vendorId": "com.acme", "messageId": "ping", "data": "hi"}); err != nil {
				t.Fatal(err)
			}
			e.reg.Do(func(r *ocpptest.Registry) {
				if len(r.DataTransfers) != 2 {
					t.Fatalf("DataTransfers = %+v", r.DataTransfers)
				}
				in, out := r.DataTransfers[0], r.DataTransfers[1]
				wantData, _ := json.Marshal(data[v.name])
				if in.Direction != "in" || in.VendorID != "com.acme" || in.MessageID != "hello" || !compactJSONEqual(in.Data, string(wantData)) || in.Status != "UnknownVendorId" {
					t.Errorf("incoming = %+v", in)
				}
				if out.Direction != "out" || out.MessageID != "ping" || string(out.Data) != `"hi"` || out.Status != "Accepted" || string(out.ResponseData) != `"pong"` {
					t.Errorf("outgoing = %+v", out)
				}
			})
		})
	}
}

func TestNotifications(t *testing.T) {
	calls := map[string][][2]any{
		"ocpp1.6": {
			{"FirmwareStatusNotification", map[string]any{"status": "Downloading"}},
			{"DiagnosticsStatusNotification", map[string]any{"status": "Uploading"}},
			{"LogStatusNotification", map[string]any{"status": "Uploading", "requestId": 1}},
			{"SignedFirmwareStatusNotification", map[string]any{"status": "Installing", "requestId": 1}},
			{"SecurityEventNotification", map[string]any{"type": "StartupOfTheDevice", "timestamp": ts}},
		},
		"ocpp2.0.1": {
			{"FirmwareStatusNotification", map[string]any{"status": "Downloading", "requestId": 1}},
			{"LogStatusNotification", map[string]any{"status": "Uploading", "requestId": 1}},
			{"SecurityEventNotification", map[string]any{"type": "StartupOfTheDevice", "timestamp": ts}},
			{"NotifyEvent", map[string]any{"generatedAt": ts, "seqNo": 0, "eventData": []any{map[string]any{
				"eventId": 1, "timestamp": ts, "trigger": "Alerting", "actualValue": "true",
				"component": map[string]any{"name": "EVSE", "evse": map[string]any{"id": 1}}, "variable": map[string]any{"name": "Problem"},
				"eventNotificationType": "HardWiredNotification"}}}},
		},
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{})
			e.reg.AddStation("CP-1", 0, "", true)
			p := ocpppeer.Start(t)
			e.connect(t, p, v, "CP-1", "")
			for _, c := range calls[v.name] {
				if res := p.MustCall(c[0].(string), c[1]); string(res) != "{}" {
					t.Errorf("%s answer = %s, want {}", c[0], res)
				}
			}
			// Firmware and log upload statuses reach the registry (requestId when sent).
			type status struct {
				Status    string
				RequestID int
			}
			statuses := func(fs []ocpp.FirmwareStatus) []status {
				var out []status
				for _, f := range fs {
					s := status{Status: f.Status}
					if f.RequestID != nil {
						s.RequestID = *f.RequestID
					}
					if f.Identity != "CP-1" || f.At.IsZero() {
						t.Errorf("status %+v lacks its station or time", f)
					}
					out = append(out, s)
				}
				return out
			}
			wantFirmware, wantLogs := []status{{"Downloading", 0}}, []status{{"Uploading", 0}, {"Uploading", 1}}
			if v.name == "ocpp2.0.1" {
				wantFirmware, wantLogs = []status{{"Downloading", 1}}, []status{{"Uploading", 1}}
			}
			e.reg.Do(func(r *ocpptest.Registry) {
				if diff := cmp.Diff(wantFirmware, statuses(r.Firmware)); diff != "" {
					t.Errorf("firmware statuses (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantLogs, statuses(r.Diagnostics)); diff != "" {
					t.Errorf("log upload statuses (-want +got):\n%s", diff)
				}
			})
			// A valid action the gateway does not handle (every 1.6 one, with the security
			// extension, is handled).
			if v.name == "ocpp2.0.1" {
				_, err := p.Call("ReservationStatusUpdate", map[string]any{"reservationId": 1, "reservationUpdateStatus": "Expired"})
				if pe, ok := err.(*ocpppeer.Error); !ok || pe.Code != "NotImplemented" {
					t.Errorf("ReservationStatusUpdate: err = %v, want NotImplemented", err)
				}
			}
		})
	}
}

// TestAuthorizeAnswersTheRegistry: every id token a station presents is answered with the
// registry's decision, in each version's shape, and strict stations accept the answers.
func TestAuthorizeAnswersTheRegistry(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-16", 0, "", true)
	e.reg.AddStation("CP-201", 0, "", true)
	expiry := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	e.reg.Do(func(r *ocpptest.Registry) {
		r.Decisions = map[string]ocpp.IDTokenInfo{
			"GOOD":    {Status: ocpp.AuthorizationAccepted, GroupID: "FLEET-1", ExpiryDate: &expiry},
			"BLOCKED": {Status: ocpp.AuthorizationBlocked, GroupID: "A-GROUP-LONGER-THAN-20-CHARS"},
			"NOPE":    {Status: ocpp.AuthorizationInvalid},
		}
	})
	p16, p201 := ocpppeer.Start(t), ocpppeer.Start(t)
	e.connect(t, p16, versions[0], "CP-16", "")
	e.connect(t, p201, versions[1], "CP-201", "")

	for _, c := range []struct{ tag, want string }{
		{"GOOD", `{"idTagInfo":{"status":"Accepted","parentIdTag":"FLEET-1","expiryDate":"2031-01-02T03:04:05Z"}}`},
		// 1.6 parentIdTag holds 20 characters: a longer group is left out, not sent broken.
		{"BLOCKED", `{"idTagInfo":{"status":"Blocked"}}`},
		{"NOPE", `{"idTagInfo":{"status":"Invalid"}}`},
	} {
		if res := p16.MustCall("Authorize", map[string]any{"idTag": c.tag}); !compactJSONEqual(res, c.want) {
			t.Errorf("1.6 Authorize %s = %s, want %s", c.tag, res, c.want)
		}
	}
	res := p16.MustCall("StartTransaction", map[string]any{"connectorId": 1, "idTag": "NOPE", "meterStart": 0, "timestamp": ts})
	if !strings.Contains(string(res), `"idTagInfo":{"status":"Invalid"}`) {
		t.Errorf("1.6 StartTransaction with an invalid tag = %s", res)
	}

	for _, c := range []struct{ tag, typ, want string }{
		{"GOOD", "ISO14443", `{"idTokenInfo":{"status":"Accepted","groupIdToken":{"idToken":"FLEET-1","type":"Central"},"cacheExpiryDateTime":"2031-01-02T03:04:05Z"}}`},
		{"BLOCKED", "eMAID", `{"idTokenInfo":{"status":"Blocked","groupIdToken":{"idToken":"A-GROUP-LONGER-THAN-20-CHARS","type":"Central"}}}`},
		{"NOPE", "ISO14443", `{"idTokenInfo":{"status":"Invalid"}}`},
		{"", "NoAuthorization", `{"idTokenInfo":{"status":"Accepted"}}`},
	} {
		res := p201.MustCall("Authorize", map[string]any{"idToken": map[string]any{"idToken": c.tag, "type": c.typ}})
		if !compactJSONEqual(res, c.want) {
			t.Errorf("2.0.1 Authorize %s = %s, want %s", c.tag, res, c.want)
		}
	}
	res = p201.MustCall("TransactionEvent", map[string]any{"eventType": "Started", "timestamp": ts, "triggerReason": "Authorized", "seqNo": 0,
		"transactionInfo": map[string]any{"transactionId": "tx-9"}, "evse": map[string]any{"id": 1, "connectorId": 1},
		"idToken": map[string]any{"idToken": "BLOCKED", "type": "ISO14443"}})
	if !strings.Contains(string(res), `"status":"Blocked"`) {
		t.Errorf("2.0.1 TransactionEvent with a blocked token = %s", res)
	}
	e.reg.Do(func(r *ocpptest.Registry) {
		// NoAuthorization is not asked about; the 1.6 types are unknown ("").
		if len(r.Authorizations) != 8 || r.Authorizations[0].Type != "" || r.Authorizations[4].Type != "ISO14443" {
			t.Errorf("Authorizations = %+v", r.Authorizations)
		}
	})
}
