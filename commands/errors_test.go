package commands_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestUnknownStation404(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{})
	p := e.connect(t, e.ocppURL, v16, "CP-A") // network A
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	for _, tc := range []struct{ name, method, path, key string }{
		{"unknown station", http.MethodPost, "/chargers/NOPE/reset", keyA},
		{"invalid identity", http.MethodPost, "/chargers/a%20b/reset", keyA},
		{"other network", http.MethodPost, "/chargers/CP-A/reset", keyB},
		{"other network history", http.MethodGet, "/chargers/CP-A/data-transfer", keyB},
		{"other network remote start", http.MethodPost, "/chargers/CP-A/start", keyB},
		{"other network remote stop", http.MethodPost, "/chargers/CP-A/stop", keyB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ""
			if tc.method == http.MethodPost {
				body = `{"type": "Soft"}`
			}
			status, b := do(t, tc.method, e.apiURL+tc.path, tc.key, body)
			if status != http.StatusNotFound {
				t.Fatalf("status = %d %s, want 404", status, b)
			}
			decodeEnvelope(t, b)
		})
	}
	if n := len(p.Received("Reset")) + len(p.Received("RemoteStartTransaction")) + len(p.Received("RemoteStopTransaction")); n != 0 {
		t.Errorf("a key of another network commanded the station (%d CALLs)", n)
	}
	if status, _ := do(t, http.MethodPost, e.apiURL+"/chargers/CP-A/reset", "", `{"type": "Soft"}`); status != http.StatusUnauthorized {
		t.Errorf("without an API key: status %d, want 401", status)
	}
}

func TestNotConnected409(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{})
	e.stations.Add("CP-OFF", networkA, ocpp.ProtocolOCPP16) // connected once, not now
	e.stations.Add("CP-NEW", networkA, "")                  // never connected
	for _, id := range []string{"CP-OFF", "CP-NEW"} {
		status, b := do(t, http.MethodPost, e.apiURL+"/chargers/"+id+"/cache/clear", keyA, "")
		if status != http.StatusConflict {
			t.Fatalf("%s: status = %d %s, want 409", id, status, b)
		}
		if env := decodeEnvelope(t, b); !strings.Contains(env.StatusMessage, "not connected") {
			t.Errorf("%s: message %q does not say the station is not connected", id, env.StatusMessage)
		}
	}
}

func TestNoAnswer504(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{Timeout: 300 * time.Millisecond})
	p := e.connect(t, e.ocppURL, v201, "CP-SILENT")
	p.OnCallNever("Reset")
	start := time.Now()
	status, b := do(t, http.MethodPost, e.apiURL+"/chargers/CP-SILENT/reset", keyA, `{"type": "Hard"}`)
	if status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d %s, want 504", status, b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the 504 took %v with a 300ms command timeout", d)
	}
	env := decodeEnvelope(t, b)
	if env.StatusCode != apperr.CodeServerError || !strings.Contains(env.StatusMessage, "did not answer Reset") {
		t.Errorf("envelope = %+v", env)
	}
	p.WaitReceived("Reset", 1) // the CALL did reach the station
}

func TestCallError502(t *testing.T) {
	t.Parallel()
	for _, v := range []version{v16, v201} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, commands.Config{})
			p := e.connect(t, e.ocppURL, v, "CP-ERR")
			p.OnCallError("UnlockConnector", "NotSupported", "no lock motor on this model")
			status, b := do(t, http.MethodPost, e.apiURL+"/chargers/CP-ERR/unlock", keyA, `{"connectorId": 1}`)
			if status != http.StatusBadGateway {
				t.Fatalf("status = %d %s, want 502", status, b)
			}
			env := decodeEnvelope(t, b)
			if !strings.Contains(env.StatusMessage, "NotSupported") || !strings.Contains(env.StatusMessage, "no lock motor on this model") {
				t.Errorf("message %q lacks the station's error code and description", env.StatusMessage)
			}
		})
	}
}

func TestValidation422(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{})
	p16 := e.connect(t, e.ocppURL, v16, "CP-16")
	p201 := e.connect(t, e.ocppURL, v201, "CP-201")
	for _, tc := range []struct {
		name, id, path, body string
		want                 []string // the fields named
		method               string   // default POST
	}{
		{"reset missing type", "CP-16", "reset", `{}`, []string{"type"}, ""},
		{"reset everything wrong", "CP-201", "reset", `{"type": "Medium", "when": "Later", "evseId": 0, "force": true}`,
			[]string{"evseId", "force", "type", "when"}, ""},
		{"reset OnIdle on 1.6", "CP-16", "reset", `{"type": "Soft", "when": "OnIdle", "evseId": 1}`, []string{"evseId", "when"}, ""},
		{"reset wrong types", "CP-16", "reset", `{"type": 1, "evseId": "one"}`, []string{"evseId", "type"}, ""},
		{"unlock", "CP-16", "unlock", `{"connectorId": 0}`, []string{"connectorId"}, ""},
		{"reserve missing", "CP-16", "reserve", `{}`, []string{"connectorId", "expiryDate", "idTag"}, ""},
		{"reserve everything wrong", "CP-16", "reserve", `{"connectorId": 1, "evseId": 1, "idTag": "` + strings.Repeat("t", 21) +
			`", "expiryDate": "2000-01-01T00:00:00Z", "reservationId": 0, "idTokenType": "Card"}`,
			[]string{"evseId", "expiryDate", "idTag", "idTokenType", "reservationId"}, ""},
		{"reserve bad date", "CP-201", "reserve", `{"evseId": 1, "idTag": "A", "expiryDate": "tomorrow"}`, []string{"expiryDate"}, ""},
		{"cancel reservation missing", "CP-201", "cancel-reservation", `{}`, []string{"reservationId"}, ""},
		{"unlock missing", "CP-201", "unlock", ``, []string{"connectorId"}, ""},
		{"unlock evseId on 1.6", "CP-16", "unlock", `{"connectorId": 1, "evseId": 1}`, []string{"evseId"}, ""},
		{"trigger", "CP-16", "trigger", `{"requestedMessage": "Coffee", "connectorId": -1}`, []string{"connectorId", "requestedMessage"}, ""},
		{"availability", "CP-201", "availability", `{}`, []string{"connectorId", "type"}, ""},
		{"availability type", "CP-201", "availability", `{"connectorId": 1, "type": "Broken"}`, []string{"type"}, ""},
		{"configuration get", "CP-16", "configuration/get", `{"key": ["", "` + strings.Repeat("k", 51) + `"]}`, []string{"key[0]", "key[1]"}, ""},
		{"configuration change", "CP-16", "configuration/change", `{}`, []string{"key", "value"}, ""},
		{"configuration change too long for 1.6", "CP-16", "configuration/change",
			`{"key": "` + strings.Repeat("k", 51) + `", "value": "` + strings.Repeat("v", 501) + `"}`, []string{"key", "value"}, ""},
		{"configuration change unmappable key on 2.0.1", "CP-201", "configuration/change", `{"key": "VendorSpecificThing", "value": "1"}`, []string{"key"}, ""},
		{"firmware", "CP-16", "firmware/update", `{"location": "file:///etc/passwd", "retrieveDate": "tomorrow", "retries": -1}`,
			[]string{"location", "retrieveDate", "retries"}, ""},
		{"firmware missing", "CP-201", "firmware/update", `{}`, []string{"location", "retrieveDate"}, ""},
		{"firmware id and location", "CP-16", "firmware/update", `{"firmwareId": "not-a-uuid", "location": "https://firmware.example.com/f.bin", "retrieveDate": "soon"}`,
			[]string{"firmwareId", "location", "retrieveDate"}, ""},
		{"diagnostics", "CP-201", "diagnostics", `{"location": "uploads", "startTime": "2026-02-10T00:00:00Z", "stopTime": "2026-02-09T00:00:00Z"}`,
			[]string{"location", "stopTime"}, ""},
		{"data transfer", "CP-16", "data-transfer", `{"vendorId": "", "messageId": "` + strings.Repeat("m", 51) + `"}`,
			[]string{"messageId", "vendorId"}, ""},
		{"data transfer data not a string", "CP-201", "data-transfer", `{"vendorId": "V", "data": {"screen": 1}}`, []string{"data"}, ""},
		{"install V2G root and no certificate on 1.6", "CP-16", "certificates",
			`{"certificateType": "V2GRootCertificate", "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`,
			[]string{"certificate", "certificateType"}, ""},
		{"install missing", "CP-201", "certificates", `{}`, []string{"certificate", "certificateType"}, ""},
		{"list without a type on 1.6", "CP-16", "certificates", ``, []string{"certificateType"}, http.MethodGet},
		{"list unknown type and parameter", "CP-201", "certificates?certificateType=Gold&page=2", ``, []string{"certificateType", "page"}, http.MethodGet},
		{"delete bad hash data", "CP-201", "certificates?hashAlgorithm=MD5&issuerNameHash=zz&serialNumber=01", ``,
			[]string{"hashAlgorithm", "issuerKeyHash", "issuerNameHash"}, http.MethodDelete},
		{"start missing idTag", "CP-16", "start", `{"connectorId": 0}`, []string{"connectorId", "idTag"}, ""},
		{"start both EVSE fields, tag too long for 1.6", "CP-16", "start",
			`{"connectorId": 1, "evseId": 1, "idTag": "` + strings.Repeat("A", 21) + `"}`, []string{"evseId", "idTag"}, ""},
		{"start tag too long", "CP-201", "start", `{"idTag": "` + strings.Repeat("A", 37) + `", "extra": 1}`, []string{"extra", "idTag"}, ""},
		{"stop missing", "CP-201", "stop", `{}`, []string{"transactionId"}, ""},
		{"stop not a number on 1.6", "CP-16", "stop", `{"transactionId": "tx-9"}`, []string{"transactionId"}, ""},
		{"stop wrong type", "CP-201", "stop", `{"transactionId": {"id": 1}}`, []string{"transactionId"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			status, b := do(t, method, e.apiURL+"/chargers/"+tc.id+"/"+tc.path, keyA, tc.body)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d %s, want 422", status, b)
			}
			env := decodeEnvelope(t, b)
			var got []string
			for _, f := range env.Errors {
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
				got = append(got, f.Field)
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if diff := cmp.Diff(tc.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("fields named mismatch (-want +got):\n%s\nbody: %s", diff, b)
			}
		})
	}
	if n := len(p16.Events("call")) + len(p201.Events("call")); n != 0 {
		t.Errorf("invalid commands reached the stations: %d CALLs", n)
	}

	status, b := do(t, http.MethodPost, e.apiURL+"/chargers/CP-16/reset", keyA, `{"type": `)
	if status != http.StatusBadRequest {
		t.Errorf("malformed JSON: status %d %s, want 400", status, b)
	}
}
