package commands_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/google/go-cmp/cmp"
)

// endpointCase is one command sent to a strict station: the station's canned answer, the
// frame it must receive and the HTTP answer we must give.
type endpointCase struct {
	name   string
	method string // default POST; a GET or DELETE has its request in path's query string
	path   string // after /chargers/{id}/
	body   string
	action string // the CALL the station must receive
	answer any    // the station's CALLRESULT
	// params is the CALL payload the station must receive ({{ID}} is the station). With
	// a requestId, "requestId":0 stands for "any positive number, echoed in the answer".
	params string
	// checkParams replaces params for payloads too long to spell out.
	checkParams func(t *testing.T, params json.RawMessage)
	want        string // the HTTP 200 body ({{ID}} is the station)
	// after runs extra checks, e.g. on the stored configuration.
	after func(t *testing.T, e *env, id string)
	// calls is how many CALLs of action the station receives (default 1); params and
	// checkParams are about the last. configuration/get on 2.0.1 first asks the station's
	// DeviceDataCtrlr.ItemsPerMessage[GetVariables].
	calls int
}

var cases16 = []endpointCase{
	{
		name: "reserve", path: "reserve", body: `{"connectorId": 2, "idTag": "04A1B2C3", "expiryDate": "2099-01-01T10:00:00Z", "reservationId": 17}`,
		action: "ReserveNow", answer: map[string]any{"status": "Accepted"},
		params: `{"connectorId": 2, "expiryDate": "2099-01-01T10:00:00Z", "idTag": "04A1B2C3", "reservationId": 17}`,
		want: `{"message": "Reservation accepted by charger", "chargeBoxId": "{{ID}}", "connectorId": 2, "idTag": "04A1B2C3",
			"expiryDate": "2099-01-01T10:00:00Z", "reservationId": 17, "status": "accepted"}`,
		after: reservationRecorded(17, 2, "04A1B2C3"),
	},
	{
		name: "reserve occupied", path: "reserve", body: `{"connectorId": 1, "idTag": "04A1B2C3", "expiryDate": "2099-01-01T10:00:00Z", "reservationId": 18}`,
		action: "ReserveNow", answer: map[string]any{"status": "Occupied"},
		params: `{"connectorId": 1, "expiryDate": "2099-01-01T10:00:00Z", "idTag": "04A1B2C3", "reservationId": 18}`,
		want: `{"message": "Charger rejected the reservation: the EVSE is occupied", "chargeBoxId": "{{ID}}", "connectorId": 1, "idTag": "04A1B2C3",
			"expiryDate": "2099-01-01T10:00:00Z", "reservationId": 18, "status": "occupied"}`,
		after: reservationRecorded(0, 0, ""),
	},
	{
		name: "cancel reservation", path: "cancel-reservation", body: `{"reservationId": 17}`,
		action: "CancelReservation", answer: map[string]any{"status": "Accepted"},
		params: `{"reservationId": 17}`,
		want:   `{"message": "Reservation cancelled by charger", "chargeBoxId": "{{ID}}", "reservationId": 17, "status": "accepted"}`,
		after:  cancellationRecorded(17),
	},
	{
		name: "install root certificate", path: "certificates", body: `{"certificateType": "CSMSRootCertificate", "certificate": {{ROOT}}}`,
		action: "InstallCertificate", answer: map[string]any{"status": "Accepted"},
		checkParams: func(t *testing.T, params json.RawMessage) {
			var p struct{ CertificateType, Certificate string }
			_ = json.Unmarshal(params, &p)
			if p.CertificateType != "CentralSystemRootCertificate" || p.Certificate != rootPEM {
				t.Errorf("InstallCertificate %s, want the 1.6 type CentralSystemRootCertificate and the PEM", params)
			}
		},
		want: `{"chargeBoxId": "{{ID}}", "certificateType": "CentralSystemRootCertificate", "subject": "CN=evroam test root",
			"notAfter": "2036-01-01T00:00:00Z", "status": "Accepted", "message": "Certificate installation accepted"}`,
		after: installedRecorded("CentralSystemRootCertificate", "Accepted"),
	},
	{
		name: "list certificates", method: "GET", path: "certificates?certificateType=ManufacturerRootCertificate",
		action: "GetInstalledCertificateIds", answer: map[string]any{"status": "Accepted", "certificateHashData": []any{
			map[string]any{"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}}},
		params: `{"certificateType": "ManufacturerRootCertificate"}`,
		want: `{"chargeBoxId": "{{ID}}", "status": "Accepted", "certificates": [{"certificateType": "ManufacturerRootCertificate",
			"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}]}`,
	},
	{
		name: "delete certificate", method: "DELETE", path: "certificates?hashAlgorithm=SHA256&issuerNameHash=aa&issuerKeyHash=bb&serialNumber=01",
		action: "DeleteCertificate", answer: map[string]any{"status": "NotFound"},
		params: `{"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}}`,
		want:   `{"chargeBoxId": "{{ID}}", "serialNumber": "01", "status": "NotFound", "message": "Certificate deletion not found"}`,
	},
	{
		name: "remote start", path: "start", body: `{"connectorId": 2, "idTag": "04A1B2C3"}`,
		action: "RemoteStartTransaction", answer: map[string]any{"status": "Accepted"},
		params: `{"connectorId": 2, "idTag": "04A1B2C3"}`,
		want:   `{"message": "Remote start accepted by charger", "chargeBoxId": "{{ID}}", "connectorId": 2, "idTag": "04A1B2C3", "status": "accepted"}`,
	},
	{
		name: "remote start any connector rejected", path: "start", body: `{"idTag": "04A1B2C3"}`,
		action: "RemoteStartTransaction", answer: map[string]any{"status": "Rejected"},
		params: `{"idTag": "04A1B2C3"}`,
		want:   `{"message": "Charger rejected the remote start", "chargeBoxId": "{{ID}}", "idTag": "04A1B2C3", "status": "rejected"}`,
	},
	{
		name: "remote stop", path: "stop", body: `{"transactionId": 1042}`,
		action: "RemoteStopTransaction", answer: map[string]any{"status": "Accepted"},
		params: `{"transactionId": 1042}`,
		want:   `{"message": "Remote stop accepted by charger", "chargeBoxId": "{{ID}}", "transactionId": "1042", "status": "accepted"}`,
	},
	{
		name: "remote stop as text", path: "stop", body: `{"transactionId": "77"}`,
		action: "RemoteStopTransaction", answer: map[string]any{"status": "Rejected"},
		params: `{"transactionId": 77}`,
		want:   `{"message": "Charger rejected the remote stop (no such transaction running)", "chargeBoxId": "{{ID}}", "transactionId": "77", "status": "rejected"}`,
	},
	{
		name: "reset", path: "reset", body: `{"type": "Soft"}`,
		action: "Reset", answer: map[string]any{"status": "Accepted"}, params: `{"type": "Soft"}`,
		want: `{"message": "Soft reset accepted by charger", "chargeBoxId": "{{ID}}", "type": "Soft", "status": "accepted"}`,
	},
	{
		name: "reset hard rejected", path: "reset", body: `{"type": "Hard", "when": "Immediate"}`,
		action: "Reset", answer: map[string]any{"status": "Rejected"}, params: `{"type": "Hard"}`,
		want: `{"message": "Hard reset rejected by charger", "chargeBoxId": "{{ID}}", "type": "Hard", "when": "Immediate", "status": "rejected"}`,
	},
	{
		name: "unlock", path: "unlock", body: `{"connectorId": 1}`,
		action: "UnlockConnector", answer: map[string]any{"status": "Unlocked"}, params: `{"connectorId": 1}`,
		want: `{"message": "Connector unlocked successfully", "chargeBoxId": "{{ID}}", "connectorId": 1, "status": "unlocked"}`,
	},
	{
		name: "unlock failed", path: "unlock", body: `{"connectorId": 2}`,
		action: "UnlockConnector", answer: map[string]any{"status": "UnlockFailed"}, params: `{"connectorId": 2}`,
		want: `{"message": "Charger failed to unlock the connector", "chargeBoxId": "{{ID}}", "connectorId": 2, "status": "unlock_failed"}`,
	},
	{
		name: "cache clear", path: "cache/clear", body: ``,
		action: "ClearCache", answer: map[string]any{"status": "Accepted"}, params: `{}`,
		want: `{"message": "Cache cleared successfully", "chargeBoxId": "{{ID}}", "status": "accepted"}`,
	},
	{
		name: "trigger", path: "trigger", body: `{"requestedMessage": "StatusNotification", "connectorId": 1}`,
		action: "TriggerMessage", answer: map[string]any{"status": "Accepted"},
		params: `{"requestedMessage": "StatusNotification", "connectorId": 1}`,
		want: `{"message": "StatusNotification trigger accepted by charger", "chargeBoxId": "{{ID}}",
			"requestedMessage": "StatusNotification", "connectorId": 1, "status": "accepted"}`,
	},
	{
		name: "availability", path: "availability", body: `{"connectorId": 1, "type": "Inoperative"}`,
		action: "ChangeAvailability", answer: map[string]any{"status": "Scheduled"},
		params: `{"connectorId": 1, "type": "Inoperative"}`,
		want: `{"message": "Availability change scheduled by charger", "chargeBoxId": "{{ID}}", "connectorId": 1,
			"type": "Inoperative", "status": "scheduled"}`,
	},
	{
		name: "configuration get keys", path: "configuration/get", body: `{"key": ["HeartbeatInterval", "MeterValueSampleInterval", "Nope"]}`,
		action: "GetConfiguration",
		answer: map[string]any{"configurationKey": []any{
			map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			map[string]any{"key": "MeterValueSampleInterval", "readonly": false, "value": "60"},
		}, "unknownKey": []any{"Nope"}},
		params: `{"key": ["HeartbeatInterval", "MeterValueSampleInterval", "Nope"]}`,
		want: `{"chargeBoxId": "{{ID}}", "configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			{"key": "MeterValueSampleInterval", "readonly": false, "value": "60"}], "unknownKey": ["Nope"]}`,
	},
	{
		name: "configuration get all", path: "configuration/get", body: `{}`,
		action: "GetConfiguration",
		answer: map[string]any{"configurationKey": []any{
			map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			map[string]any{"key": "NumberOfConnectors", "readonly": true, "value": "2"},
			map[string]any{"key": "AuthorizationKey", "readonly": false},
		}},
		params: `{}`,
		want: `{"chargeBoxId": "{{ID}}", "configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			{"key": "NumberOfConnectors", "readonly": true, "value": "2"}, {"key": "AuthorizationKey", "readonly": false}], "unknownKey": []}`,
	},
	{
		name: "configuration change accepted", path: "configuration/change", body: `{"key": "HeartbeatInterval", "value": "600"}`,
		action: "ChangeConfiguration", answer: map[string]any{"status": "Accepted"},
		params: `{"key": "HeartbeatInterval", "value": "600"}`,
		want: `{"chargeBoxId": "{{ID}}", "key": "HeartbeatInterval", "value": "600", "status": "Accepted",
			"message": "Configuration changed successfully"}`,
		after: wantStoredConfig("HeartbeatInterval", "600", true),
	},
	{
		name: "configuration change rejected", path: "configuration/change", body: `{"key": "HeartbeatInterval", "value": "7"}`,
		action: "ChangeConfiguration", answer: map[string]any{"status": "Rejected"},
		params: `{"key": "HeartbeatInterval", "value": "7"}`,
		want: `{"chargeBoxId": "{{ID}}", "key": "HeartbeatInterval", "value": "7", "status": "Rejected",
			"message": "Charger rejected the configuration change"}`,
		after: wantStoredConfig("HeartbeatInterval", "", false),
	},
	{
		name: "configuration change reboot required", path: "configuration/change", body: `{"key": "WebSocketPingInterval", "value": "0"}`,
		action: "ChangeConfiguration", answer: map[string]any{"status": "RebootRequired"},
		params: `{"key": "WebSocketPingInterval", "value": "0"}`,
		want: `{"chargeBoxId": "{{ID}}", "key": "WebSocketPingInterval", "value": "0", "status": "RebootRequired",
			"message": "Configuration changed; it takes effect after a reboot"}`,
		after: wantStoredConfig("WebSocketPingInterval", "0", true),
	},
	{
		name: "firmware update", path: "firmware/update",
		body:   `{"location": "https://firmware.example.com/v2.0.0/firmware.bin", "retrieveDate": "2026-02-10T14:00:00Z", "retries": 3, "retryInterval": 60}`,
		action: "UpdateFirmware", answer: map[string]any{},
		params: `{"location": "https://firmware.example.com/v2.0.0/firmware.bin", "retrieveDate": "2026-02-10T14:00:00Z", "retries": 3, "retryInterval": 60}`,
		want: `{"message": "Firmware update accepted by charger", "chargeBoxId": "{{ID}}",
			"location": "https://firmware.example.com/v2.0.0/firmware.bin", "retrieveDate": "2026-02-10T14:00:00Z", "status": "accepted"}`,
	},
	{
		name: "diagnostics", path: "diagnostics",
		body:   `{"location": "https://uploads.example.com/diagnostics/", "startTime": "2026-02-09T00:00:00Z", "stopTime": "2026-02-10T00:00:00+01:00", "retries": 3, "retryInterval": 60}`,
		action: "GetDiagnostics", answer: map[string]any{"fileName": "diag-0001.zip"},
		params: `{"location": "https://uploads.example.com/diagnostics/", "startTime": "2026-02-09T00:00:00Z", "stopTime": "2026-02-09T23:00:00Z", "retries": 3, "retryInterval": 60}`,
		want: `{"message": "Diagnostics upload accepted by charger", "chargeBoxId": "{{ID}}",
			"location": "https://uploads.example.com/diagnostics/", "fileName": "diag-0001.zip", "status": "accepted"}`,
	},
	{
		name: "data transfer", path: "data-transfer", body: `{"vendorId": "MyVendor", "messageId": "GetDisplayMessage", "data": "{\"screen\": 1}"}`,
		action: "DataTransfer", answer: map[string]any{"status": "Accepted", "data": `{"text": "Hello"}`},
		params: `{"vendorId": "MyVendor", "messageId": "GetDisplayMessage", "data": "{\"screen\": 1}"}`,
		want: `{"message": "DataTransfer accepted by charger", "chargeBoxId": "{{ID}}", "vendorId": "MyVendor",
			"messageId": "GetDisplayMessage", "status": "Accepted", "responseData": "{\"text\": \"Hello\"}"}`,
	},
}

// comp and vr build 2.0.1 component and variable objects for canned answers.
func comp(name string) map[string]any { return map[string]any{"name": name} }
func vr(name string) map[string]any   { return map[string]any{"name": name} }

var cases201 = []endpointCase{
	{
		name: "reserve", path: "reserve", body: `{"evseId": 2, "idTag": "04A1B2C3", "idTokenType": "ISO14443", "expiryDate": "2099-01-01T10:00:00Z", "reservationId": 21}`,
		action: "ReserveNow", answer: map[string]any{"status": "Accepted"},
		params: `{"id": 21, "expiryDateTime": "2099-01-01T10:00:00Z", "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"}, "evseId": 2}`,
		want: `{"message": "Reservation accepted by charger", "chargeBoxId": "{{ID}}", "evseId": 2, "idTag": "04A1B2C3",
			"expiryDate": "2099-01-01T10:00:00Z", "reservationId": 21, "status": "accepted"}`,
		after: reservationRecorded(21, 2, "04A1B2C3"),
	},
	{
		name: "cancel reservation rejected", path: "cancel-reservation", body: `{"reservationId": 22}`,
		action: "CancelReservation", answer: map[string]any{"status": "Rejected"},
		params: `{"reservationId": 22}`,
		want:   `{"message": "Charger rejected the cancellation (no such reservation)", "chargeBoxId": "{{ID}}", "reservationId": 22, "status": "rejected"}`,
		after:  cancellationRecorded(),
	},
	{
		name: "install root certificate", path: "certificates", body: `{"certificateType": "V2GRootCertificate", "certificate": {{ROOT}}}`,
		action: "InstallCertificate", answer: map[string]any{"status": "Rejected", "statusInfo": map[string]any{"reasonCode": "Full"}},
		checkParams: func(t *testing.T, params json.RawMessage) {
			var p struct{ CertificateType, Certificate string }
			_ = json.Unmarshal(params, &p)
			if p.CertificateType != "V2GRootCertificate" || p.Certificate != rootPEM {
				t.Errorf("InstallCertificate %s, want V2GRootCertificate and the PEM", params)
			}
		},
		want: `{"chargeBoxId": "{{ID}}", "certificateType": "V2GRootCertificate", "subject": "CN=evroam test root",
			"notAfter": "2036-01-01T00:00:00Z", "status": "Rejected", "message": "Certificate installation rejected (Full)"}`,
		after: installedRecorded("V2GRootCertificate", "Rejected"),
	},
	{
		name: "list all certificates", method: "GET", path: "certificates",
		action: "GetInstalledCertificateIds", answer: map[string]any{"status": "Accepted", "certificateHashDataChain": []any{
			map[string]any{"certificateType": "CSMSRootCertificate", "certificateHashData": map[string]any{
				"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}}}},
		params: `{}`,
		want: `{"chargeBoxId": "{{ID}}", "status": "Accepted", "certificates": [{"certificateType": "CSMSRootCertificate",
			"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}]}`,
	},
	{
		name: "remote start", path: "start", body: `{"evseId": 1, "idTag": "04A1B2C3"}`,
		action: "RequestStartTransaction", answer: map[string]any{"status": "Accepted"},
		params: `{"evseId": 1, "remoteStartId": 0, "idToken": {"idToken": "04A1B2C3", "type": "Central"}}`,
		want: `{"message": "Remote start accepted by charger", "chargeBoxId": "{{ID}}", "evseId": 1, "idTag": "04A1B2C3",
			"remoteStartId": 0, "status": "accepted"}`,
	},
	{
		name: "remote start on a running transaction", path: "start", body: `{"connectorId": 2, "idTag": "APP-USER-7"}`,
		action: "RequestStartTransaction", answer: map[string]any{"status": "Accepted", "transactionId": "tx-9"},
		params: `{"evseId": 2, "remoteStartId": 0, "idToken": {"idToken": "APP-USER-7", "type": "Central"}}`,
		want: `{"message": "Remote start accepted by charger", "chargeBoxId": "{{ID}}", "connectorId": 2, "idTag": "APP-USER-7",
			"remoteStartId": 0, "transactionId": "tx-9", "status": "accepted"}`,
	},
	{
		name: "remote stop", path: "stop", body: `{"transactionId": "tx-9"}`,
		action: "RequestStopTransaction", answer: map[string]any{"status": "Rejected", "statusInfo": map[string]any{"reasonCode": "UnknownTransaction"}},
		params: `{"transactionId": "tx-9"}`,
		want: `{"message": "Charger rejected the remote stop (no such transaction running) (UnknownTransaction)", "chargeBoxId": "{{ID}}",
			"transactionId": "tx-9", "status": "rejected"}`,
	},
	{
		name: "reset", path: "reset", body: `{"type": "Soft"}`,
		action: "Reset", answer: map[string]any{"status": "Accepted"}, params: `{"type": "Immediate"}`,
		want: `{"message": "Soft reset accepted by charger", "chargeBoxId": "{{ID}}", "type": "Soft", "status": "accepted"}`,
	},
	{
		name: "reset on idle evse", path: "reset", body: `{"type": "Hard", "when": "OnIdle", "evseId": 2}`,
		action: "Reset", answer: map[string]any{"status": "Scheduled"}, params: `{"type": "OnIdle", "evseId": 2}`,
		want: `{"message": "Hard reset scheduled by charger", "chargeBoxId": "{{ID}}", "type": "Hard", "when": "OnIdle",
			"evseId": 2, "status": "scheduled"}`,
	},
	{
		name: "unlock", path: "unlock", body: `{"connectorId": 1}`,
		action: "UnlockConnector", answer: map[string]any{"status": "Unlocked"}, params: `{"evseId": 1, "connectorId": 1}`,
		want: `{"message": "Connector unlocked successfully", "chargeBoxId": "{{ID}}", "connectorId": 1, "status": "unlocked"}`,
	},
	{
		name: "unlock evse connector", path: "unlock", body: `{"evseId": 2, "connectorId": 3}`,
		action: "UnlockConnector", answer: map[string]any{"status": "OngoingAuthorizedTransaction"},
		params: `{"evseId": 2, "connectorId": 3}`,
		want: `{"message": "Connector not unlocked: an authorized transaction is ongoing", "chargeBoxId": "{{ID}}",
			"connectorId": 3, "evseId": 2, "status": "ongoing_authorized_transaction"}`,
	},
	{
		name: "cache clear rejected", path: "cache/clear", body: `{}`,
		action: "ClearCache", answer: map[string]any{"status": "Rejected", "statusInfo": map[string]any{"reasonCode": "Disabled"}},
		params: `{}`,
		want:   `{"message": "Clearing the cache rejected by charger (Disabled)", "chargeBoxId": "{{ID}}", "status": "rejected"}`,
	},
	{
		name: "trigger", path: "trigger", body: `{"requestedMessage": "DiagnosticsStatusNotification", "connectorId": 2}`,
		action: "TriggerMessage", answer: map[string]any{"status": "NotImplemented"},
		params: `{"requestedMessage": "LogStatusNotification", "evse": {"id": 2}}`,
		want: `{"message": "DiagnosticsStatusNotification trigger not implemented by charger", "chargeBoxId": "{{ID}}",
			"requestedMessage": "DiagnosticsStatusNotification", "connectorId": 2, "status": "not_implemented"}`,
	},
	{
		name: "availability whole station", path: "availability", body: `{"connectorId": 0, "type": "Operative"}`,
		action: "ChangeAvailability", answer: map[string]any{"status": "Accepted"}, params: `{"operationalStatus": "Operative"}`,
		want: `{"message": "Availability change accepted by charger", "chargeBoxId": "{{ID}}", "connectorId": 0,
			"type": "Operative", "status": "accepted"}`,
	},
	{
		name: "availability evse", path: "availability", body: `{"connectorId": 2, "type": "Inoperative"}`,
		action: "ChangeAvailability", answer: map[string]any{"status": "Accepted"},
		params: `{"operationalStatus": "Inoperative", "evse": {"id": 2}}`,
		want: `{"message": "Availability change accepted by charger", "chargeBoxId": "{{ID}}", "connectorId": 2,
			"type": "Inoperative", "status": "accepted"}`,
	},
	{
		name: "configuration get keys", path: "configuration/get",
		body:   `{"key": ["HeartbeatInterval", "MeterValueSampleInterval", "NotAKey", "OCPPCommCtrlr.MessageTimeout[Default]"]}`,
		action: "GetVariables", calls: 2, // the station's answer does not say its ItemsPerMessage: all in one
		// Results out of request order: they are matched by component and variable.
		answer: map[string]any{"getVariableResult": []any{
			map[string]any{"attributeStatus": "Accepted", "attributeValue": "30", "component": comp("OCPPCommCtrlr"),
				"variable": map[string]any{"name": "MessageTimeout", "instance": "Default"}},
			map[string]any{"attributeStatus": "UnknownVariable", "component": comp("SampledDataCtrlr"), "variable": vr("TxUpdatedInterval")},
			map[string]any{"attributeStatus": "Accepted", "attributeValue": "300", "component": comp("OCPPCommCtrlr"), "variable": vr("HeartbeatInterval")},
		}},
		params: `{"getVariableData": [
			{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
			{"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}},
			{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageTimeout", "instance": "Default"}}]}`,
		want: `{"chargeBoxId": "{{ID}}", "configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
			{"key": "OCPPCommCtrlr.MessageTimeout[Default]", "readonly": false, "value": "30"}],
			"unknownKey": ["NotAKey", "MeterValueSampleInterval"]}`,
	},
	{
		name: "configuration get all", path: "configuration/get", body: `{}`,
		action: "GetVariables", calls: 2,
		answer: map[string]any{"getVariableResult": []any{
			map[string]any{"attributeStatus": "Accepted", "attributeValue": "300", "component": comp("OCPPCommCtrlr"), "variable": vr("HeartbeatInterval")},
			map[string]any{"attributeStatus": "Accepted", "attributeValue": "5", "component": comp("SecurityCtrlr"), "variable": vr("CertificateEntries")},
		}},
		checkParams: func(t *testing.T, params json.RawMessage) {
			var p struct {
				GetVariableData []struct {
					Component struct{ Name string } `json:"component"`
					Variable  struct{ Name string } `json:"variable"`
				} `json:"getVariableData"`
			}
			if err := json.Unmarshal(params, &p); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, d := range p.GetVariableData {
				got[d.Component.Name+"."+d.Variable.Name] = true
			}
			for _, want := range []string{"OCPPCommCtrlr.HeartbeatInterval", "SampledDataCtrlr.TxUpdatedInterval",
				"TxCtrlr.EVConnectionTimeOut", "AuthCtrlr.AuthorizeRemoteStart", "SecurityCtrlr.SecurityProfile"} {
				if !got[want] {
					t.Errorf("GetVariables does not ask for %s: %s", want, params)
				}
			}
			if got["SecurityCtrlr.BasicAuthPassword"] {
				t.Errorf("GetVariables asks for the write-only BasicAuthPassword")
			}
			if len(p.GetVariableData) != 25 {
				t.Errorf("GetVariables asks for %d variables, want the 25 readable mapped 1.6 keys", len(p.GetVariableData))
			}
		},
		after: func(t *testing.T, e *env, id string) {}, // the answer is checked below
		want:  "",
	},
	{
		name: "configuration change accepted", path: "configuration/change", body: `{"key": "HeartbeatInterval", "value": "600"}`,
		action: "SetVariables",
		answer: map[string]any{"setVariableResult": []any{map[string]any{"attributeStatus": "Accepted",
			"component": comp("OCPPCommCtrlr"), "variable": vr("HeartbeatInterval")}}},
		params: `{"setVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "600"}]}`,
		want: `{"chargeBoxId": "{{ID}}", "key": "HeartbeatInterval", "value": "600", "status": "Accepted",
			"message": "Configuration changed successfully"}`,
		after: wantStoredConfig("OCPPCommCtrlr.HeartbeatInterval", "600", true),
	},
	{
		name: "configuration change rejected", path: "configuration/change", body: `{"key": "HeartbeatInterval", "value": "1"}`,
		action: "SetVariables",
		answer: map[string]any{"setVariableResult": []any{map[string]any{"attributeStatus": "Rejected",
			"component": comp("OCPPCommCtrlr"), "variable": vr("HeartbeatInterval"),
			"attributeStatusInfo": map[string]any{"reasonCode": "ValueTooLow"}}}},
		params: `{"setVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "1"}]}`,
		want: `{"chargeBoxId": "{{ID}}", "key": "HeartbeatInterval", "value": "1", "status": "Rejected",
			"message": "Charger rejected the configuration change (ValueTooLow)"}`,
		after: wantStoredConfig("OCPPCommCtrlr.HeartbeatInterval", "", false),
	},
	{
		name: "configuration change device key unknown", path: "configuration/change", body: `{"key": "EVSE@1.Power/MaxSet", "value": "11000"}`,
		action: "SetVariables",
		answer: map[string]any{"setVariableResult": []any{map[string]any{"attributeStatus": "UnknownVariable", "attributeType": "MaxSet",
			"component": map[string]any{"name": "EVSE", "evse": map[string]any{"id": 1}}, "variable": vr("Power")}}},
		params: `{"setVariableData": [{"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
			"attributeType": "MaxSet", "attributeValue": "11000"}]}`,
		want: `{"chargeBoxId": "{{ID}}", "key": "EVSE@1.Power/MaxSet", "value": "11000", "status": "NotSupported",
			"message": "Charger does not support this configuration key"}`,
	},
	{
		name: "firmware update", path: "firmware/update",
		body:   `{"location": "https://firmware.example.com/v2.0.0/firmware.bin", "retrieveDate": "2026-02-10T14:00:00.123456Z", "retries": 3, "retryInterval": 60}`,
		action: "UpdateFirmware", answer: map[string]any{"status": "Accepted"},
		params: `{"requestId": 0, "firmware": {"location": "https://firmware.example.com/v2.0.0/firmware.bin",
			"retrieveDateTime": "2026-02-10T14:00:00.123Z"}, "retries": 3, "retryInterval": 60}`,
		want: `{"message": "Firmware update accepted by charger", "chargeBoxId": "{{ID}}",
			"location": "https://firmware.example.com/v2.0.0/firmware.bin", "retrieveDate": "2026-02-10T14:00:00.123456Z",
			"requestId": 0, "status": "accepted"}`,
	},
	{
		name: "diagnostics", path: "diagnostics",
		body:   `{"location": "https://uploads.example.com/diagnostics/", "startTime": "2026-02-09T00:00:00Z", "stopTime": "2026-02-10T00:00:00Z", "retries": 3, "retryInterval": 60}`,
		action: "GetLog", answer: map[string]any{"status": "Accepted", "filename": "log-0001.zip"},
		params: `{"log": {"remoteLocation": "https://uploads.example.com/diagnostics/", "oldestTimestamp": "2026-02-09T00:00:00Z",
			"latestTimestamp": "2026-02-10T00:00:00Z"}, "logType": "DiagnosticsLog", "requestId": 0, "retries": 3, "retryInterval": 60}`,
		want: `{"message": "Diagnostics upload accepted by charger", "chargeBoxId": "{{ID}}",
			"location": "https://uploads.example.com/diagnostics/", "fileName": "log-0001.zip", "requestId": 0, "status": "accepted"}`,
	},
	{
		name: "data transfer", path: "data-transfer", body: `{"vendorId": "MyVendor", "messageId": "GetDisplayMessage", "data": "{\"screen\": 1}"}`,
		action: "DataTransfer", answer: map[string]any{"status": "Accepted", "data": map[string]any{"text": "Hello"}},
		params: `{"vendorId": "MyVendor", "messageId": "GetDisplayMessage", "data": "{\"screen\": 1}"}`,
		want: `{"message": "DataTransfer accepted by charger", "chargeBoxId": "{{ID}}", "vendorId": "MyVendor",
			"messageId": "GetDisplayMessage", "status": "Accepted", "responseData": "{\"text\":\"Hello\"}"}`,
	},
	{
		name: "data transfer unknown vendor", path: "data-transfer", body: `{"vendorId": "Other"}`,
		action: "DataTransfer", answer: map[string]any{"status": "UnknownVendorId"},
		params: `{"vendorId": "Other"}`,
		want:   `{"message": "Charger does not know this vendorId", "chargeBoxId": "{{ID}}", "vendorId": "Other", "status": "UnknownVendorId"}`,
	},
}

// wantStoredConfig checks the configuration the gateway recorded for the station: key with
// value, or no key at all when present is false.
func wantStoredConfig(key, value string, present bool) func(t *testing.T, e *env, id string) {
	return func(t *testing.T, e *env, id string) {
		t.Helper()
		var found *ocpp.ConfigurationValue
		e.reg.Do(func(r *ocpptest.Registry) {
			for _, v := range r.Configuration[id] {
				if v.Key == key {
					v := v
					found = &v
				}
			}
		})
		switch {
		case !present && found != nil:
			t.Errorf("stored configuration has %s = %q after a change that was not accepted", key, found.Value)
		case present && found == nil:
			t.Errorf("stored configuration has no %s after an accepted change", key)
		case present && (found.Value != value || !found.HasValue):
			t.Errorf("stored %s = %q, want %q", key, found.Value, value)
		}
	}
}

// withRequestID replaces a positive "requestId" (or 2.0.1 "remoteStartId", made the same
// way) in v by 0 and returns it (0 if absent).
func withRequestID(t *testing.T, v any) int64 {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return 0
	}
	for _, key := range []string{"requestId", "remoteStartId"} {
		n, ok := m[key].(json.Number)
		if !ok {
			continue
		}
		id, err := n.Int64()
		if err != nil || id <= 0 {
			t.Errorf("%s = %v, want a positive integer", key, m[key])
		}
		m[key] = json.Number("0")
		return id
	}
	return 0
}

func runEndpointCases(t *testing.T, v version, cases []endpointCase) {
	e := newEnv(t, commands.Config{})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("CP-%s-%02d", strings.ReplaceAll(v.name, ".", ""), i)
			// The recorders are the package's, and outlive a run (go test -count=N).
			installed.forget(id)
			reserved.forget(id)
			p := e.connect(t, e.ocppURL, v, id)
			p.OnCall(tc.action, tc.answer)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			status, body := do(t, method, e.apiURL+"/chargers/"+id+"/"+tc.path, keyA, strings.ReplaceAll(tc.body, "{{ROOT}}", rootPEMJSON))
			if status != http.StatusOK {
				t.Fatalf("%s %s = %d %s, want 200", method, tc.path, status, body)
			}

			want := max(tc.calls, 1)
			calls := p.WaitReceived(tc.action, want)
			if len(calls) != want {
				t.Fatalf("station received %d %s CALLs, want %d (events: %v)", len(calls), tc.action, want, p.Events("call"))
			}
			last := calls[len(calls)-1]
			var frameID int64
			if tc.checkParams != nil {
				tc.checkParams(t, last.Params)
			} else {
				got := decodeJSON(t, last.Params)
				frameID = withRequestID(t, got)
				if diff := cmp.Diff(decodeJSON(t, []byte(tc.params)), got); diff != "" {
					t.Errorf("%s payload mismatch (-want +got):\n%s", tc.action, diff)
				}
			}

			if tc.want != "" {
				got := decodeJSON(t, body)
				if bodyID := withRequestID(t, got); bodyID != frameID {
					t.Errorf("answer requestId = %d, the station got %d", bodyID, frameID)
				}
				want := decodeJSON(t, []byte(strings.ReplaceAll(tc.want, "{{ID}}", id)))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("POST %s answer mismatch (-want +got):\n%s", tc.path, diff)
				}
			}
			if tc.after != nil {
				tc.after(t, e, id)
			}

			// The command and its answer are in the message log.
			e.reg.Wait(t, waitTimeout, "command in the message log", func(r *ocpptest.Registry) bool {
				var call, result bool
				for _, m := range r.Messages {
					if m.Identity == id && m.Action == tc.action && m.MessageID == calls[0].MessageID {
						call = call || (m.Direction == ocpp.DirectionOut && m.MessageType == ocpp.MessageTypeCall)
						result = result || (m.Direction == ocpp.DirectionIn && m.MessageType == ocpp.MessageTypeCallResult)
					}
				}
				return call && result
			})
		})
	}
}

func TestEndpoints16(t *testing.T) { t.Parallel(); runEndpointCases(t, v16, cases16) }

func TestEndpoints201(t *testing.T) { t.Parallel(); runEndpointCases(t, v201, cases201) }

// TestConfigurationGetSplitsByItemsPerMessage: a 2.0.1 station that takes 4 variables per
// GetVariables (and refuses more, as real ones do) is asked the 25 variables of
// configuration/get {} in batches of 4, after one question for its limit, and the answer
// has every value.
func TestConfigurationGetSplitsByItemsPerMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{})
	p := e.connect(t, e.ocppURL, v201, "CP-SMALL")
	p.DeviceModel(map[string]string{
		"DeviceDataCtrlr.ItemsPerMessage[GetVariables]": "4",
		"OCPPCommCtrlr.HeartbeatInterval":               "300",
		"SecurityCtrlr.CertificateEntries":              "5",
		"TxCtrlr.EVConnectionTimeOut":                   "120",
		"OCPPCommCtrlr.WebSocketPingInterval":           "60",
	})
	status, body := do(t, http.MethodPost, e.apiURL+"/chargers/CP-SMALL/configuration/get", keyA, `{}`)
	if status != http.StatusOK {
		t.Fatalf("configuration/get {}: %d %s", status, body)
	}
	var got struct {
		ConfigurationKey []struct {
			Key   string  `json:"key"`
			Value *string `json:"value"`
		} `json:"configurationKey"`
		UnknownKey []string `json:"unknownKey"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, k := range got.ConfigurationKey {
		values[k.Key] = *k.Value
	}
	want := map[string]string{"HeartbeatInterval": "300", "CertificateStoreMaxLength": "5", "ConnectionTimeOut": "120", "WebSocketPingInterval": "60"}
	if !maps.Equal(values, want) || len(got.UnknownKey) != 21 {
		t.Errorf("answer %s: values %v, want %v and 21 unknown keys", body, values, want)
	}
	// The station's events may trail the HTTP answer: wait for them.
	calls := p.WaitReceived("GetVariables", 1+7)
	if len(calls) != 1+7 { // the limit, then 25 variables by 4
		t.Errorf("station received %d GetVariables, want 8", len(calls))
	}
	for i, c := range calls {
		var req struct {
			GetVariableData []json.RawMessage `json:"getVariableData"`
		}
		if err := json.Unmarshal(c.Params, &req); err != nil || len(req.GetVariableData) > 4 {
			t.Errorf("GetVariables %d asks for %d variables, more than the station takes", i, len(req.GetVariableData))
		}
	}
}

// TestConfigurationGetAll201 checks the answer to configuration/get {} on a 2.0.1 station:
// the 1.6 keys the station knows, with their 1.6 names, and the others as unknown.
func TestConfigurationGetAll201(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{})
	p := e.connect(t, e.ocppURL, v201, "CP-ALL")
	p.OnCall("GetVariables", map[string]any{"getVariableResult": []any{
		map[string]any{"attributeStatus": "Accepted", "attributeValue": "300", "component": comp("OCPPCommCtrlr"), "variable": vr("HeartbeatInterval")},
		map[string]any{"attributeStatus": "Accepted", "attributeValue": "5", "component": comp("SecurityCtrlr"), "variable": vr("CertificateEntries")},
		map[string]any{"attributeStatus": "UnknownComponent", "component": comp("AuthCtrlr"), "variable": vr("LocalPreAuthorize")},
	}})
	status, body := do(t, http.MethodPost, e.apiURL+"/chargers/CP-ALL/configuration/get", keyA, `{}`)
	if status != http.StatusOK {
		t.Fatalf("status %d %s", status, body)
	}
	var got struct {
		ChargeBoxID      string `json:"chargeBoxId"`
		ConfigurationKey []struct {
			Key      string  `json:"key"`
			ReadOnly bool    `json:"readonly"`
			Value    *string `json:"value"`
		} `json:"configurationKey"`
		UnknownKey []string `json:"unknownKey"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ConfigurationKey) != 2 || got.ConfigurationKey[0].Key != "CertificateStoreMaxLength" || !got.ConfigurationKey[0].ReadOnly ||
		*got.ConfigurationKey[0].Value != "5" || got.ConfigurationKey[1].Key != "HeartbeatInterval" || got.ConfigurationKey[1].ReadOnly ||
		*got.ConfigurationKey[1].Value != "300" {
		t.Errorf("configurationKey = %s", body)
	}
	if len(got.UnknownKey) != 23 {
		t.Errorf("unknownKey has %d keys, want the 23 others: %s", len(got.UnknownKey), body)
	}
}

// rootPEM is a CA certificate to install on stations (valid until 2036-01-01), and
// rootPEMJSON the same as a JSON string.
var rootPEM, rootPEMJSON = func() (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evroam test root"},
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	j, _ := json.Marshal(p)
	return p, string(j)
}()

// installedRecorded checks that the install was recorded for the station with its expiry and
// the station's answer.
func installedRecorded(certType, status string) func(t *testing.T, e *env, id string) {
	return func(t *testing.T, e *env, id string) {
		got := installed.of(id)
		if len(got) != 1 || got[0].CertificateType != certType || got[0].Status != status ||
			!got[0].NotAfter.Equal(time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)) || got[0].Subject != "CN=evroam test root" {
			t.Errorf("recorded %+v, want one %s %s expiring 2036-01-01", got, certType, status)
		}
	}
}

// reservationRecorded checks that the station's reservation was recorded (id 0: that none was).
func reservationRecorded(id, evse int, idTag string) func(t *testing.T, e *env, station string) {
	return func(t *testing.T, e *env, station string) {
		got, _ := reserved.of(station)
		if id == 0 {
			if len(got) != 0 {
				t.Errorf("recorded %+v, want no reservation", got)
			}
			return
		}
		if len(got) != 1 || got[0].ID != id || got[0].EVSESequenceNumber != evse || got[0].IDTag != idTag ||
			!got[0].Expiry.Equal(time.Date(2099, 1, 1, 10, 0, 0, 0, time.UTC)) || got[0].OCPIPartnerID != nil {
			t.Errorf("recorded %+v, want reservation %d of EVSE %d for %s", got, id, evse, idTag)
		}
	}
}

// cancellationRecorded checks the cancellations recorded for the station.
func cancellationRecorded(ids ...int) func(t *testing.T, e *env, station string) {
	return func(t *testing.T, e *env, station string) {
		_, got := reserved.of(station)
		if fmt.Sprint(got) != fmt.Sprint(ids) && !(len(got) == 0 && len(ids) == 0) {
			t.Errorf("cancellations recorded %v, want %v", got, ids)
		}
	}
}
