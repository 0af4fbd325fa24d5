package ocpp

import (
	"encoding/json"
	"testing"
)

func TestForbiddenForDataAndControl(t *testing.T) {
	for _, c := range []struct {
		proto, action, payload string
		forbidden              bool
	}{
		{ProtocolOCPP16, "RemoteStartTransaction", `{"idTag":"A"}`, true},
		{ProtocolOCPP16, "RemoteStopTransaction", `{"transactionId":1}`, true},
		{ProtocolOCPP16, "ChangeConfiguration", `{"key":"AuthorizationKey","value":"00"}`, true},
		{ProtocolOCPP16, "ChangeConfiguration", `{"key":"SecurityProfile","value":"2"}`, true},
		{ProtocolOCPP16, "ChangeConfiguration", `{"key":"HeartbeatInterval","value":"60"}`, false},
		{ProtocolOCPP16, "Reset", `{"type":"Soft"}`, false},
		{ProtocolOCPP16, "InstallCertificate", `{}`, true},
		{ProtocolOCPP201, "RequestStartTransaction", `{}`, true},
		{ProtocolOCPP201, "RequestStopTransaction", `{}`, true},
		{ProtocolOCPP201, "SetNetworkProfile", `{}`, true},
		{ProtocolOCPP201, "SetVariables", `{"setVariableData":[{"attributeValue":"1","component":{"name":"SampledDataCtrlr"},"variable":{"name":"TxUpdatedInterval"}},
			{"attributeValue":"x","component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"}}]}`, true},
		{ProtocolOCPP201, "SetVariables", `{"setVariableData":[{"attributeValue":"1","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"NetworkConfigurationPriority"}}]}`, true},
		{ProtocolOCPP201, "SetVariables", `{"setVariableData":[{"attributeValue":"60","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`, false},
		{ProtocolOCPP201, "SetChargingProfile", `{}`, false},
	} {
		if got := forbiddenForDataAndControl(c.proto, c.action, json.RawMessage(c.payload)) != ""; got != c.forbidden {
			t.Errorf("%s %s %s: forbidden = %v, want %v", c.proto, c.action, c.payload, got, c.forbidden)
		}
	}
}

func TestTransactionIDMapping(t *testing.T) {
	got := withTransactionID(json.RawMessage(`{"transactionId":5001,"meterStop":3}`), "7001")
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil || m["transactionId"] != float64(7001) || m["meterStop"] != float64(3) {
		t.Errorf("withTransactionID = %s", got)
	}
	if id := transactionIDOf(json.RawMessage(`{"transactionId":42,"idTagInfo":{"status":"Accepted"}}`)); id != "42" {
		t.Errorf("transactionIDOf = %q", id)
	}
	for _, c := range []struct {
		action, payload string
		want            bool
	}{
		{"StartTransaction", `{}`, true}, {"StopTransaction", `{}`, true}, {"TransactionEvent", `{}`, true},
		{"MeterValues", `{"connectorId":1,"transactionId":3}`, true}, {"MeterValues", `{"connectorId":1}`, false},
		{"Heartbeat", `{}`, false}, {"StatusNotification", `{}`, false},
	} {
		if got := transactionMessage(c.action, json.RawMessage(c.payload)); got != c.want {
			t.Errorf("transactionMessage(%s, %s) = %v", c.action, c.payload, got)
		}
	}
}
