package ocpi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/evroam/evroam/ocpi/ocpitest"
)

// The official OCPI 2.2.1 OpenAPI files (testdata/openapi, see its README) are the judge of
// every body the tests see. OpenAPI 3.1 schemas are JSON Schema 2020-12, so a JSON Schema
// validator reads them directly; refs such as
// "modules/locations/schema.yaml#/components/schemas/Location" point into the YAML files.

// Schemas the tests validate against: the success responses of each operation (envelope and
// data), request bodies, and the shared error responses.
const (
	oasVersions          = "modules/versions/interface.yaml#/paths/~1versions/get/responses/200/content/application~1json/schema"
	oasVersionDetails    = "modules/versions/interface.yaml#/paths/~1versions~12.2.1/get/responses/200/content/application~1json/schema"
	oasCredentialsGet    = "modules/credentials/interface.yaml#/paths/~1credentials/get/responses/200/content/application~1json/schema"
	oasCredentialsPost   = "modules/credentials/interface.yaml#/paths/~1credentials/post/responses/200/content/application~1json/schema"
	oasCredentialsPut    = "modules/credentials/interface.yaml#/paths/~1credentials/put/responses/200/content/application~1json/schema"
	oasCredentialsDelete = "components/schema.yaml#/components/responses/OCPISuccessResponse/content/application~1json/schema"
	oasCredentials405    = "modules/credentials/interface.yaml#/paths/~1credentials/post/responses/405/content/application~1json/schema"
	oasCredentialsBody   = "modules/credentials/schema.yaml#/components/schemas/Credentials"
	oasError             = "components/schema.yaml#/components/responses/OCPIErrorResponse/content/application~1json/schema"
	oasUnauthorized      = "components/schema.yaml#/components/responses/OCPIUnauthorizedResponse/content/application~1json/schema"
	oasNotFound          = "components/schema.yaml#/components/responses/OCPINotFoundResponse/content/application~1json/schema"
	oasLocationList      = "modules/locations/sender-interface.yaml#/paths/~1locations/get/responses/200/content/application~1json/schema"
	oasLocationGet       = "modules/locations/sender-interface.yaml#/paths/~1locations~1%7Blocation_id%7D/get/responses/200/content/application~1json/schema"
	oasEVSEGet           = "modules/locations/sender-interface.yaml#/paths/~1locations~1%7Blocation_id%7D~1%7Bevse_uid%7D/get/responses/200/content/application~1json/schema"
	oasConnectorGet      = "modules/locations/sender-interface.yaml#/paths/~1locations~1%7Blocation_id%7D~1%7Bevse_uid%7D~1%7Bconnector_id%7D/get/responses/200/content/application~1json/schema"
	oasLocation          = "modules/locations/schema.yaml#/components/schemas/Location"
	oasEVSE              = "modules/locations/schema.yaml#/components/schemas/EVSE"
	oasEVSEPatch         = "modules/locations/schema.yaml#/components/schemas/EVSEPatch"
)

// oasCheck validates body against the official schema at ref (ocpitest holds the validator,
// which the whole-server tests of cmd/evroam use too).
func oasCheck(tb testing.TB, ref string, body []byte) error {
	tb.Helper()
	return ocpitest.Check(tb, ref, body)
}

// mustMatchOAS fails the test unless body validates against the official schema at ref.
func mustMatchOAS(tb testing.TB, ref string, body []byte) {
	tb.Helper()
	if err := oasCheck(tb, ref, body); err != nil {
		tb.Fatalf("body does not match the official OCPI 2.2.1 schema %s:\n%v\nbody: %s", ref, err, body)
	}
}

// TestOASValidatorRejects proves the validator has teeth: bodies that break the official
// schemas are refused, so the other tests' checks can fail.
func TestOASValidatorRejects(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		name, ref, body string
	}{
		{"EVSEWithoutUID", oasEVSE, `{"status":"AVAILABLE","connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"last_updated":"2026-01-01T00:00:00Z"}],"last_updated":"2026-01-01T00:00:00Z"}`},
		{"EVSEWithoutConnectors", oasEVSE, `{"uid":"1","status":"AVAILABLE","connectors":[],"last_updated":"2026-01-01T00:00:00Z"}`},
		{"BadStatus", oasEVSE, `{"uid":"1","status":"available","connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"last_updated":"2026-01-01T00:00:00Z"}],"last_updated":"2026-01-01T00:00:00Z"}`},
		{"BadDate", oasEVSE, `{"uid":"1","status":"AVAILABLE","connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"last_updated":"2026-01-01T00:00:00Z"}],"last_updated":"yesterday"}`},
		{"ConnectorVoltageString", oasEVSE, `{"uid":"1","status":"AVAILABLE","connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":"230","max_amperage":32,"last_updated":"2026-01-01T00:00:00Z"}],"last_updated":"2026-01-01T00:00:00Z"}`},
		{"LocationCoordinatesNumbers", oasLocation, `{"country_code":"NL","party_id":"EVR","id":"L1","publish":true,"address":"a","city":"c","country":"NLD","coordinates":{"latitude":52.1,"longitude":4.1},"time_zone":"Europe/Amsterdam","last_updated":"2026-01-01T00:00:00Z"}`},
		{"CredentialsWithoutRoles", oasCredentialsBody, `{"token":"abc","url":"https://example.com/versions"}`},
		{"VersionsDataNotList", oasVersions, `{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z","data":{"version":"2.2.1","url":"https://example.com/2.2.1"}}`},
	} {
		t.Run(test.name, func(t *testing.T) {
			if err := oasCheck(t, test.ref, []byte(test.body)); err == nil {
				t.Errorf("body validated against %s, want an error: %s", test.ref, test.body)
			}
		})
	}
	// And a valid one passes.
	good := `{"uid":"1","status":"AVAILABLE","connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"last_updated":"2026-01-01T00:00:00Z"}],"last_updated":"2026-01-01T00:00:00Z"}`
	if err := oasCheck(t, oasEVSE, []byte(good)); err != nil {
		t.Errorf("valid EVSE rejected: %v", err)
	}
}

// checkEnvelope checks what the OCPI text asks of every response body and the OpenAPI
// envelope leaves optional: status_code and timestamp present, a UTC DateTime, and nothing
// but data, status_code, status_message and timestamp at the top level.
func checkEnvelope(tb testing.TB, body []byte, wantCode int) {
	tb.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		tb.Fatalf("response is not a JSON object: %v: %s", err, body)
	}
	for k := range env {
		switch k {
		case "data", "status_code", "status_message", "timestamp":
		default:
			tb.Errorf("unexpected envelope field %q in %s", k, body)
		}
	}
	var code int
	if err := json.Unmarshal(env["status_code"], &code); err != nil || code != wantCode {
		tb.Errorf("status_code = %s, want %d; body: %s", env["status_code"], wantCode, body)
	}
	var ts string
	if err := json.Unmarshal(env["timestamp"], &ts); err != nil || !strings.HasSuffix(ts, "Z") || len(ts) > 25 {
		tb.Errorf("timestamp = %s, want a UTC DateTime; body: %s", env["timestamp"], body)
	}
}
