package ocpp

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRedactFindsSecretsHoweverWritten: the message log never shows a secret value, whatever
// case or JSON escapes the key is written in; a payload naming no secret is logged as sent.
func TestRedactFindsSecretsHoweverWritten(t *testing.T) {
	for _, key := range []string{"AuthorizationKey", "authorizationKEY", `Authorization\u004bey`, `\u0041uthorizationKey`,
		"Authorization\u212aey"} { // a Kelvin sign, which lower-cases to k
		payload := json.RawMessage(`{"configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"},` +
			`{"key": "` + key + `", "readonly": false, "value": "hunter2"}]}`)
		out := string(redact("GetConfiguration", false, payload))
		if strings.Contains(out, "hunter2") || !strings.Contains(out, `"***"`) {
			t.Errorf("key %s: logged %s", key, out)
		}
	}
	plain := json.RawMessage(`{"configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"}]}`)
	if out := redact("GetConfiguration", false, plain); string(out) != string(plain) {
		t.Errorf("a payload without secrets was rewritten: %s", out)
	}
	report := json.RawMessage(`{"requestId": 1, "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0, "reportData": [` +
		`{"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BASICAUTHPASSWORD"}, "variableAttribute": [{"value": "hunter2"}]}]}`)
	if out := string(redact("NotifyReport", true, report)); strings.Contains(out, "hunter2") {
		t.Errorf("NotifyReport logged %s", out)
	}
}
