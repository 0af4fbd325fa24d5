package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/testca"
	"github.com/evroam/evroam/networks"
	"github.com/google/uuid"
)

type operatorView struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	URL              string  `json:"url"`
	Role             string  `json:"role"`
	Identity         *string `json:"identity"`
	HasPassword      bool    `json:"has_password"`
	Enabled          bool    `json:"enabled"`
	ConnectionStatus string  `json:"connection_status"`
	LastError        *string `json:"last_error"`
	LastConnectedAt  *string `json:"last_connected_at"`
}

func (e *e2e) operator(station, id string) operatorView {
	e.t.Helper()
	var o operatorView
	e.must("GET", "/api/v1/chargestations/"+station+"/operators/"+id, nil, 200, &o)
	return o
}

// waitOperator waits until the operator's status is want (the link's node writes it).
func (e *e2e) waitOperator(station, id, want string) operatorView {
	e.t.Helper()
	var o operatorView
	eventually(e.t, "operator "+id+" "+want, func() error {
		o = e.operator(station, id)
		if o.ConnectionStatus != want {
			return fmt.Errorf("connection_status %s (last_error %s), want %s", o.ConnectionStatus, str(o.LastError), want)
		}
		return nil
	})
	return o
}

func TestOperatorsAPI(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("CS-OPS", "station-password-123", 1)
	base := "/api/v1/chargestations/CS-OPS/operators"

	// Every bad field in one 422.
	code, body := e.do("POST", base, map[string]any{"name": "", "url": "http://billing.example.com/ocpp", "role": "Boss",
		"identity": "a b", "password": "", "color": "red"})
	if code != 422 {
		t.Fatalf("invalid operator: %d %s, want 422", code, body)
	}
	for _, f := range []string{`"name"`, `"url"`, `"role"`, `"identity"`, `"password"`, `"color"`} {
		if !strings.Contains(string(body), `"field":`+f) {
			t.Errorf("422 does not name %s: %s", f, body)
		}
	}
	if code, _ := e.do("POST", "/api/v1/chargestations/NOBODY/operators", map[string]any{"name": "x", "url": "ws://x/ocpp", "role": "Billing"}); code != 404 {
		t.Errorf("operator of an unknown station: %d, want 404", code)
	}

	var billing operatorView
	e.must("POST", base, map[string]any{"name": "Billing Co", "url": "wss://billing.example.com/ocpp", "role": "Billing",
		"password": "upstream-secret-1"}, 201, &billing)
	if !billing.HasPassword || !billing.Enabled || billing.ConnectionStatus != "Disconnected" || billing.Identity != nil {
		t.Errorf("created operator = %+v", billing)
	}
	raw := e.operatorRaw("CS-OPS", billing.ID)
	if strings.Contains(raw, "upstream-secret-1") || strings.Contains(raw, `"password"`) {
		t.Errorf("the password is shown: %s", raw)
	}
	var sealed []byte
	if err := e.app.db.Get(&sealed, `SELECT password_sealed FROM station_operators WHERE id = $1`, billing.ID); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || strings.Contains(string(sealed), "upstream-secret-1") {
		t.Errorf("password stored as %q, want it encrypted", sealed)
	}

	if code, body := e.do("POST", base, map[string]any{"name": "Other billing", "url": "ws://b2.example.com/ocpp", "role": "Billing"}); code != 409 {
		t.Errorf("second Billing operator: %d %s, want 409", code, body)
	}
	var dc operatorView
	e.must("POST", base, map[string]any{"name": "Energy Manager", "url": "ws://ems.example.com:8180/steve/websocket/CentralSystemService",
		"role": "DataAndControl", "identity": "EMS-CS-OPS"}, 201, &dc)
	if code, body := e.do("PATCH", base+"/"+dc.ID, map[string]any{"role": "Billing"}); code != 409 {
		t.Errorf("PATCH to a second Billing: %d %s, want 409", code, body)
	}
	var patched operatorView
	e.must("PATCH", base+"/"+dc.ID, map[string]any{"enabled": false, "connection_status": "Connected", "last_error": "x"}, 200, &patched)
	if patched.Enabled || patched.ConnectionStatus != "Disabled" || patched.LastError != nil || str(patched.Identity) != "EMS-CS-OPS" {
		t.Errorf("disabled operator = %+v (read-only fields must be ignored)", patched)
	}
	e.must("PATCH", base+"/"+billing.ID, map[string]any{"password": nil}, 200, &patched)
	if patched.HasPassword {
		t.Errorf("password null did not clear it: %+v", patched)
	}
	var list []operatorView
	e.must("GET", base, nil, 200, &list)
	if len(list) != 2 || list[0].ID != billing.ID || list[1].ID != dc.ID {
		t.Errorf("list = %+v", list)
	}

	// Another network's key sees neither the station nor its operators.
	nets := networks.NewStore(e.app.db)
	var child struct{ ID string }
	e.must("POST", "/api/v1/networks", map[string]any{"name": "Sub", "country_code": "NL", "party_id": "SUB"}, 201, &child)
	key, err := nets.CreateKey(t.Context(), uuid.MustParse(child.ID), "child", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{base, base + "/" + billing.ID} {
		req, _ := http.NewRequest("GET", e.api+path, nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s with another network's key: %d, want 404", path, resp.StatusCode)
		}
	}

	e.must("DELETE", base+"/"+dc.ID, nil, 204, nil)
	if code, _ := e.do("GET", base+"/"+dc.ID, nil); code != 404 {
		t.Errorf("deleted operator: %d, want 404", code)
	}
	if code, _ := e.do("GET", base+"/not-a-uuid", nil); code != 404 {
		t.Errorf("operator id that is no uuid: %d, want 404", code)
	}
}

// operatorRaw is the operator's GET body as text.
func (e *e2e) operatorRaw(station, id string) string {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.api+"/api/v1/chargestations/"+station+"/operators/"+id, nil)
	req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// paramsOf decodes a forwarded CALL's payload.
func paramsOf(t *testing.T, ev ocpppeer.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Params, &m); err != nil {
		t.Fatalf("params %s: %v", ev.Params, err)
	}
	return m
}

// operatorAnswers makes an operator answer the station messages of 1.6 that the test sends.
func operatorAnswers(o *ocpppeer.Operator, authorize string, firstTx int) {
	o.OnCall("BootNotification", map[string]any{"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300})
	o.OnCall("Heartbeat", map[string]any{"currentTime": "2026-01-01T00:00:00Z"})
	o.OnCall("StatusNotification", map[string]any{})
	o.OnCall("MeterValues", map[string]any{})
	o.OnCall("Authorize", map[string]any{"idTagInfo": map[string]any{"status": authorize}})
	o.OnCall("StopTransaction", map[string]any{"idTagInfo": map[string]any{"status": authorize}})
	o.OnStartTransaction(map[string]any{"idTagInfo": map[string]any{"status": authorize}}, firstTx)
}

// callsAfter returns the CALLs an operator received after the first n events.
func callsAfter(o *ocpppeer.Operator, n int) []ocpppeer.Event {
	var out []ocpppeer.Event
	for _, e := range o.Events("")[n:] {
		if e.Event == "call" {
			out = append(out, e)
		}
	}
	return out
}

// TestProxyOCPP16 runs a 1.6 station with two operators, a Billing one and a Data & Control
// one, each a strict ocpp-rpc server.
func TestProxyOCPP16(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("CS-PX", "station-password-123", 1)
	billing := ocpppeer.StartOperator(t, "billing-secret")
	operatorAnswers(billing, "Accepted", 5001)
	dc := ocpppeer.StartOperator(t, "")
	operatorAnswers(dc, "Invalid", 7001)

	base := "/api/v1/chargestations/CS-PX/operators"
	var bop, dop operatorView
	e.must("POST", base, map[string]any{"name": "Billing Co", "url": billing.URL(), "role": "Billing", "password": "billing-secret"}, 201, &bop)
	e.must("POST", base, map[string]any{"name": "Energy Manager", "url": dc.URL(), "role": "DataAndControl"}, 201, &dop)

	st := ocpppeer.Start(t)
	st.OnCall("ChangeConfiguration", map[string]any{"status": "Accepted"})
	st.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "CS-PX", Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	st.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})

	// One link per operator, same version, the Billing one with Basic auth.
	if c := billing.WaitClient("CS-PX"); c.Protocol != "ocpp1.6" || c.Password == nil || *c.Password != "billing-secret" {
		t.Errorf("billing link = protocol %s password %v", c.Protocol, c.Password)
	}
	if c := dc.WaitClient("CS-PX"); c.Protocol != "ocpp1.6" || c.Password != nil {
		t.Errorf("data & control link = protocol %s password %v", c.Protocol, c.Password)
	}
	if o := e.waitOperator("CS-PX", bop.ID, "Connected"); o.LastConnectedAt == nil {
		t.Errorf("connected operator without last_connected_at: %+v", o)
	}
	e.waitOperator("CS-PX", dop.ID, "Connected")
	// Both see the station's boot (sent first on a link that connects after it).
	billing.WaitReceived("BootNotification", 1)
	dc.WaitReceived("BootNotification", 1)

	// Authorisation is Billing's: evroam does not know the card, Billing accepts it.
	var auth struct {
		IDTagInfo struct{ Status string } `json:"idTagInfo"`
	}
	json.Unmarshal(st.MustCall("Authorize", map[string]any{"idTag": "BILLCARD"}), &auth)
	if auth.IDTagInfo.Status != "Accepted" {
		t.Errorf("Authorize answered %s, want Billing's Accepted", auth.IDTagInfo.Status)
	}
	dc.WaitReceived("Authorize", 1) // forwarded, its Invalid only logged

	// The transaction id the station gets is Billing's; Data & Control's own id is mapped.
	var start struct {
		TransactionID int                     `json:"transactionId"`
		IDTagInfo     struct{ Status string } `json:"idTagInfo"`
	}
	json.Unmarshal(st.MustCall("StartTransaction", map[string]any{"connectorId": 1, "idTag": "BILLCARD", "meterStart": 1000,
		"timestamp": "2026-01-01T10:00:00Z"}), &start)
	if start.TransactionID != 5001 || start.IDTagInfo.Status != "Accepted" {
		t.Fatalf("StartTransaction answered %+v, want Billing's transaction 5001, Accepted", start)
	}
	dc.WaitReceived("StartTransaction", 1)
	st.MustCall("MeterValues", map[string]any{"connectorId": 1, "transactionId": 5001, "meterValue": []any{
		map[string]any{"timestamp": "2026-01-01T10:05:00Z", "sampledValue": []any{map[string]any{"value": "1500"}}}}})
	if got := paramsOf(t, dc.WaitReceived("MeterValues", 1)[0])["transactionId"]; got != float64(7001) {
		t.Errorf("Data & Control got MeterValues of transaction %v, want its own 7001", got)
	}
	if got := paramsOf(t, billing.WaitReceived("MeterValues", 1)[0])["transactionId"]; got != float64(5001) {
		t.Errorf("Billing got MeterValues of transaction %v, want 5001", got)
	}

	// Data & Control may not start transactions, but may change the configuration.
	if _, err := dc.CallStation("CS-PX", "RemoteStartTransaction", map[string]any{"idTag": "BILLCARD"}); err == nil || err.(*ocpppeer.Error).Code != "SecurityError" {
		t.Errorf("Data & Control RemoteStartTransaction: %v, want SecurityError", err)
	}
	if _, err := dc.CallStation("CS-PX", "ChangeConfiguration", map[string]any{"key": "AuthorizationKey", "value": "0011223344556677"}); err == nil || err.(*ocpppeer.Error).Code != "SecurityError" {
		t.Errorf("Data & Control changing AuthorizationKey: %v, want SecurityError", err)
	}
	res, err := dc.CallStation("CS-PX", "ChangeConfiguration", map[string]any{"key": "HeartbeatInterval", "value": "60"})
	if err != nil || !strings.Contains(string(res), "Accepted") {
		t.Errorf("Data & Control ChangeConfiguration: %s %v, want the station's Accepted", res, err)
	}
	if got := st.WaitReceived("ChangeConfiguration", 1); len(got) != 1 || !strings.Contains(string(got[0].Params), "HeartbeatInterval") {
		t.Errorf("station received %+v, want only the HeartbeatInterval change", got)
	}
	if n := len(st.Received("RemoteStartTransaction")); n != 0 {
		t.Errorf("station received %d RemoteStartTransaction, want none", n)
	}

	// Billing goes down while the transaction stops: the station is answered by evroam,
	// and Billing gets MeterValues then StopTransaction, in order, once it is back.
	billing.Down()
	e.waitOperator("CS-PX", bop.ID, "Disconnected")
	mark := len(billing.Events(""))
	st.MustCall("MeterValues", map[string]any{"connectorId": 1, "transactionId": 5001, "meterValue": []any{
		map[string]any{"timestamp": "2026-01-01T10:10:00Z", "sampledValue": []any{map[string]any{"value": "2500"}}}}})
	st.MustCall("StopTransaction", map[string]any{"transactionId": 5001, "meterStop": 3000, "timestamp": "2026-01-01T10:15:00Z",
		"idTag": "BILLCARD", "reason": "Local"})
	if got := paramsOf(t, dc.WaitReceived("StopTransaction", 1)[0])["transactionId"]; got != float64(7001) {
		t.Errorf("Data & Control got StopTransaction of %v, want 7001", got)
	}
	billing.Listen(billing.Port, "billing-secret")
	billing.WaitReceived("StopTransaction", 1)
	var order []string
	for _, c := range callsAfter(billing, mark) {
		order = append(order, c.Action)
		if c.Action == "StopTransaction" || c.Action == "MeterValues" {
			if id := paramsOf(t, c)["transactionId"]; id != float64(5001) {
				t.Errorf("Billing got %s of transaction %v, want 5001", c.Action, id)
			}
		}
	}
	if strings.Join(order, ",") != "BootNotification,MeterValues,StopTransaction" {
		t.Errorf("Billing received %v after coming back, want BootNotification, MeterValues, StopTransaction", order)
	}

	// evroam's own session is the one that started (under evroam's id), now stopped with the
	// station's meter: no second, unknown transaction.
	eventually(t, "evroam's session", func() error {
		var ss []struct {
			TransactionID string   `json:"transaction_id"`
			MeterStop     *float64 `json:"meter_stop"`
			End           *string  `json:"end"`
		}
		e.must("GET", "/api/v1/chargestations/CS-PX/sessions", nil, 200, &ss)
		if len(ss) != 1 || ss[0].MeterStop == nil || *ss[0].MeterStop != 3000 || ss[0].End == nil || ss[0].TransactionID == "5001" {
			b, _ := json.Marshal(ss)
			return fmt.Errorf("sessions = %s, want one, under evroam's own id, stopped at 3000 Wh", b)
		}
		return nil
	})

	// An operator sending garbage disturbs neither the station nor its link.
	dc.SendRawTo("CS-PX", "this is not OCPP")
	st.MustCall("Heartbeat", nil)
	eventually(t, "last_error of the garbage", func() error {
		if o := e.operator("CS-PX", dop.ID); !strings.Contains(str(o.LastError), "malformed") || o.ConnectionStatus != "Connected" {
			return fmt.Errorf("operator = %+v", o)
		}
		return nil
	})
	dc.WaitReceived("Heartbeat", 1)

	// Forwarded frames are in the message log with the operator named, and in /metrics.
	eventually(t, "forwarded frames in the message log", func() error {
		var ms []struct {
			Operator string `json:"operator"`
			Action   string `json:"action"`
		}
		e.must("GET", "/api/v1/chargestations/CS-PX/messages?limit=1000", nil, 200, &ms)
		names := map[string]bool{}
		for _, m := range ms {
			names[m.Operator] = true
		}
		if !names["Billing Co"] || !names["Energy Manager"] || !names[""] {
			return fmt.Errorf("operators in the log: %v", names)
		}
		return nil
	})
	resp, err := http.Get(e.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `evroam_ocpp_proxy_frames_total{direction="out",operator="`+bop.ID+`"}`) {
		t.Errorf("/metrics has no forwarded frames of the Billing operator")
	}
}

// TestProxyOCPP201 runs a 2.0.1 station: the links speak 2.0.1, Billing decides Authorize
// and the transaction's token, Data & Control is refused remote start and credential changes.
func TestProxyOCPP201(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("CS-PX2", "station-password-123", 1)
	answers := func(o *ocpppeer.Operator, status string) {
		o.OnCall("BootNotification", map[string]any{"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300})
		o.OnCall("Heartbeat", map[string]any{"currentTime": "2026-01-01T00:00:00Z"})
		o.OnCall("Authorize", map[string]any{"idTokenInfo": map[string]any{"status": status}})
		o.OnCall("TransactionEvent", map[string]any{"idTokenInfo": map[string]any{"status": status}})
	}
	billing := ocpppeer.StartOperator(t, "")
	answers(billing, "Accepted")
	dc := ocpppeer.StartOperator(t, "")
	answers(dc, "Blocked")
	base := "/api/v1/chargestations/CS-PX2/operators"
	e.must("POST", base, map[string]any{"name": "Billing Co", "url": billing.URL(), "role": "Billing", "identity": "BILL-ID-7"}, 201, nil)
	e.must("POST", base, map[string]any{"name": "Energy Manager", "url": dc.URL(), "role": "DataAndControl"}, 201, nil)

	st := ocpppeer.Start(t)
	st.OnCall("RequestStartTransaction", map[string]any{"status": "Accepted"})
	st.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "CS-PX2", Password: "station-password-123", Protocols: []string{"ocpp2.0.1"}})
	st.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "M", "vendorName": "V"}})
	if c := billing.WaitClient("BILL-ID-7"); c.Protocol != "ocpp2.0.1" {
		t.Errorf("billing link speaks %s, want ocpp2.0.1 (as the station)", c.Protocol)
	}
	dc.WaitClient("CS-PX2")
	billing.WaitReceived("BootNotification", 1)
	dc.WaitReceived("BootNotification", 1)

	var auth struct {
		IDTokenInfo struct{ Status string } `json:"idTokenInfo"`
	}
	json.Unmarshal(st.MustCall("Authorize", map[string]any{"idToken": map[string]any{"idToken": "CARD201", "type": "ISO14443"}}), &auth)
	if auth.IDTokenInfo.Status != "Accepted" {
		t.Errorf("Authorize answered %s, want Billing's Accepted", auth.IDTokenInfo.Status)
	}
	json.Unmarshal(st.MustCall("TransactionEvent", map[string]any{"eventType": "Started", "timestamp": "2026-01-01T10:00:00Z",
		"triggerReason": "Authorized", "seqNo": 0, "transactionInfo": map[string]any{"transactionId": "TX-201"},
		"idToken": map[string]any{"idToken": "CARD201", "type": "ISO14443"}, "evse": map[string]any{"id": 1, "connectorId": 1}}), &auth)
	if auth.IDTokenInfo.Status != "Accepted" {
		t.Errorf("TransactionEvent answered %s, want Billing's Accepted", auth.IDTokenInfo.Status)
	}
	if got := dc.WaitReceived("TransactionEvent", 1); !strings.Contains(string(got[0].Params), "TX-201") {
		t.Errorf("Data & Control got %s", got[0].Params)
	}

	for _, c := range []struct {
		action  string
		payload map[string]any
	}{
		{"RequestStartTransaction", map[string]any{"idToken": map[string]any{"idToken": "CARD201", "type": "ISO14443"}, "remoteStartId": 1}},
		{"RequestStopTransaction", map[string]any{"transactionId": "TX-201"}},
		{"SetVariables", map[string]any{"setVariableData": []any{map[string]any{"attributeValue": "hunter2-hunter2",
			"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"}}}}},
	} {
		if _, err := dc.CallStation("CS-PX2", c.action, c.payload); err == nil || err.(*ocpppeer.Error).Code != "SecurityError" {
			t.Errorf("Data & Control %s: %v, want SecurityError", c.action, err)
		}
	}
	// Billing may start transactions remotely.
	res, err := billing.CallStation("BILL-ID-7", "RequestStartTransaction",
		map[string]any{"idToken": map[string]any{"idToken": "CARD201", "type": "ISO14443"}, "remoteStartId": 2})
	if err != nil || !strings.Contains(string(res), "Accepted") {
		t.Errorf("Billing RequestStartTransaction: %s %v", res, err)
	}
	if got := st.WaitReceived("RequestStartTransaction", 1); len(got) != 1 || !strings.Contains(string(got[0].Params), `"remoteStartId":2`) {
		t.Errorf("station received %+v, want Billing's start only", got)
	}
}

// TestProxyAcrossNodes: the station is on node B, the operators API is used on node A. An
// operator added while the station is connected is linked without a reconnect; one that
// refuses the login shows why; a disabled one is unlinked; the station is never disturbed.
func TestProxyAcrossNodes(t *testing.T) {
	t.Parallel()
	eA := startTwoNodes(t)
	eA.station("CS-NODES", "station-password-123", 1)

	st := ocpppeer.Start(t)
	st.MustConnect(ocpppeer.ConnectOptions{URL: eA.ocppURL, Identity: "CS-NODES",
		Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	st.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})

	op := ocpppeer.StartOperator(t, "right-password")
	operatorAnswers(op, "Accepted", 1)
	base := "/api/v1/chargestations/CS-NODES/operators"
	var o operatorView
	eA.must("POST", base, map[string]any{"name": "Late Co", "url": op.URL(), "role": "DataAndControl", "password": "wrong-password"}, 201, &o)
	eventually(t, "the refused login", func() error {
		if v := eA.operator("CS-NODES", o.ID); !strings.Contains(str(v.LastError), "401") {
			return fmt.Errorf("operator = %+v", v)
		}
		return nil
	})
	st.MustCall("Heartbeat", nil) // the station is not disturbed

	eA.must("PATCH", base+"/"+o.ID, map[string]any{"password": "right-password"}, 200, nil)
	op.WaitClient("CS-NODES")
	eA.waitOperator("CS-NODES", o.ID, "Connected")
	op.WaitReceived("BootNotification", 1)
	st.MustCall("Heartbeat", nil)
	op.WaitReceived("Heartbeat", 1)

	eA.must("PATCH", base+"/"+o.ID, map[string]any{"enabled": false}, 200, nil)
	op.WaitEvent("the link closed", func(ev ocpppeer.Event) bool { return ev.Event == "disconnect" })
	if v := eA.operator("CS-NODES", o.ID); v.ConnectionStatus != "Disabled" {
		t.Errorf("disabled operator shows %s", v.ConnectionStatus)
	}
	st.MustCall("Heartbeat", nil)
}

// TestProxyLinkOverTLS: a wss:// operator with a private CA (EVROAM_PROXY_CA_FILE) is linked
// over TLS; a Billing operator that never answers leaves the station with evroam's answer.
func TestProxyLinkOverTLS(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, "operator CA")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	testca.WriteFile(t, caFile, ca.CertPEM)
	a, srv := startNodeWith(t, "", "tls-node", slog.New(slog.DiscardHandler), map[string]string{"EVROAM_PROXY_CA_FILE": caFile})
	gw := httptest.NewServer(a.gateway)
	t.Cleanup(gw.Close)
	e := &e2e{t: t, app: a, api: srv.URL, ocppURL: "ws" + strings.TrimPrefix(gw.URL, "http") + "/ocpp"}
	e.station("CS-TLS", "station-password-123", 1)

	pair := ca.Server(t)
	op := ocpppeer.StartTLSOperator(t, ocpppeer.TLSOptions{CertPEM: string(pair.CertPEM), KeyPEM: string(pair.KeyPEM)})
	operatorAnswers(op, "Accepted", 1)
	op.OnCall("Authorize", map[string]any{"idTagInfo": map[string]any{"status": "Accepted"}})
	silent := ocpppeer.StartOperator(t, "")
	silent.OnCallNever("Authorize")
	silent.OnCall("BootNotification", map[string]any{"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300})
	var o operatorView
	e.must("POST", "/api/v1/chargestations/CS-TLS/operators", map[string]any{"name": "TLS Co", "url": op.URL(), "role": "DataAndControl"}, 201, &o)
	e.must("POST", "/api/v1/chargestations/CS-TLS/operators", map[string]any{"name": "Slow Billing", "url": silent.URL(), "role": "Billing"}, 201, nil)

	st := ocpppeer.Start(t)
	st.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "CS-TLS", Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	st.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	op.WaitClient("CS-TLS")
	e.waitOperator("CS-TLS", o.ID, "Connected")
	silent.WaitReceived("BootNotification", 1)

	// The Billing operator never answers: evroam does, within the station's own timeout
	// (evroam does not know the card).
	var auth struct {
		IDTagInfo struct{ Status string } `json:"idTagInfo"`
	}
	json.Unmarshal(st.MustCall("Authorize", map[string]any{"idTag": "UNKNOWN1"}), &auth)
	if auth.IDTagInfo.Status != "Invalid" {
		t.Errorf("Authorize with a silent Billing operator answered %s, want evroam's Invalid", auth.IDTagInfo.Status)
	}
	op.WaitReceived("Authorize", 1)
}

// TestProxyLinkToASilentOperatorIsDialledAgain: an operator that stops answering without
// closing the link (frozen: it reads nothing, so it answers no ping) is noticed within two
// ping intervals, the link shows why, and evroam dials it again.
func TestProxyLinkToASilentOperatorIsDialledAgain(t *testing.T) {
	t.Parallel()
	a, srv := startNodeWith(t, "", "ping-node", slog.New(slog.NewTextHandler(io.Discard, nil)),
		map[string]string{"EVROAM_OCPP_PING_INTERVAL": "200ms", "EVROAM_PROXY_RECONNECT_MAX": "200ms"})
	gw := httptest.NewServer(a.gateway)
	t.Cleanup(gw.Close)
	e := &e2e{t: t, app: a, api: srv.URL, ocppURL: "ws" + strings.TrimPrefix(gw.URL, "http") + "/ocpp"}
	e.station("CS-SILENT", "station-password-123", 1)
	op := ocpppeer.StartOperator(t, "")
	operatorAnswers(op, "Accepted", 1)
	var view operatorView
	e.must("POST", "/api/v1/chargestations/CS-SILENT/operators", map[string]any{"name": "Energy Manager", "url": op.URL(),
		"role": "DataAndControl"}, 201, &view)

	st := ocpppeer.Start(t)
	st.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "CS-SILENT", Password: "station-password-123", Protocols: []string{"ocpp1.6"}})
	st.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	op.WaitClient("CS-SILENT")
	e.waitOperator("CS-SILENT", view.ID, "Connected")

	op.Freeze("CS-SILENT")
	eventually(t, "the silent link noticed", func() error {
		o := e.operator("CS-SILENT", view.ID)
		if o.LastError == nil || !strings.Contains(*o.LastError, "not even a pong") {
			return fmt.Errorf("connection_status %s, last_error %s", o.ConnectionStatus, str(o.LastError))
		}
		return nil
	})
	// A second link comes in, and the station's boot goes over it again.
	eventually(t, "a second link", func() error {
		if n := len(op.Events("client")); n < 2 {
			return fmt.Errorf("%d links", n)
		}
		return nil
	})
	op.WaitReceived("BootNotification", 2)
}
