package ocpp_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/google/go-cmp/cmp"
)

func evse(id, connector int) *ocpp.EVSE { return &ocpp.EVSE{ID: id, ConnectorID: connector} }

// variableRefCases are keys in their written form and the VariableRef they stand for.
var variableRefCases = []struct {
	key string
	ref ocpp.VariableRef
}{
	{"OCPPCommCtrlr.HeartbeatInterval", ocpp.VariableRef{
		Component: ocpp.Component{Name: "OCPPCommCtrlr"}, Variable: ocpp.Variable{Name: "HeartbeatInterval"}}},
	{"OCPPCommCtrlr.MessageTimeout[Default]", ocpp.VariableRef{
		Component: ocpp.Component{Name: "OCPPCommCtrlr"}, Variable: ocpp.Variable{Name: "MessageTimeout", Instance: "Default"}}},
	{"EVSE@1.Power/MaxSet", ocpp.VariableRef{AttributeType: "MaxSet",
		Component: ocpp.Component{Name: "EVSE", EVSE: evse(1, 0)}, Variable: ocpp.Variable{Name: "Power"}}},
	{"Connector[cable]@2/3.Available[x y]/Target", ocpp.VariableRef{AttributeType: "Target",
		Component: ocpp.Component{Name: "Connector", Instance: "cable", EVSE: evse(2, 3)},
		Variable:  ocpp.Variable{Name: "Available", Instance: "x y"}}},
}

func TestVariableRefKey(t *testing.T) {
	for _, tc := range variableRefCases {
		if got := tc.ref.Key(); got != tc.key {
			t.Errorf("Key() = %q, want %q", got, tc.key)
		}
	}
	// Actual is the default: written like no attribute type.
	actual := ocpp.VariableRef{AttributeType: "Actual", Component: ocpp.Component{Name: "A"}, Variable: ocpp.Variable{Name: "B"}}
	if got := actual.Key(); got != "A.B" {
		t.Errorf("Key() with Actual = %q, want A.B", got)
	}
	// A station may name EVSE 0; the key keeps what it said.
	zero := ocpp.VariableRef{Component: ocpp.Component{Name: "A", EVSE: evse(0, 0)}, Variable: ocpp.Variable{Name: "B"}}
	if got := zero.Key(); got != "A@0.B" {
		t.Errorf("Key() with EVSE 0 = %q, want A@0.B", got)
	}
}

func TestParseVariableRef(t *testing.T) {
	for _, tc := range variableRefCases {
		got, ok := ocpp.ParseVariableRef(tc.key)
		if !ok {
			t.Errorf("ParseVariableRef(%q) failed", tc.key)
			continue
		}
		if diff := cmp.Diff(tc.ref, got); diff != "" {
			t.Errorf("ParseVariableRef(%q) mismatch (-want +got):\n%s", tc.key, diff)
		}
	}
	if got, ok := ocpp.ParseVariableRef("A.B/Actual"); !ok || got.AttributeType != "" || got.Key() != "A.B" {
		t.Errorf("ParseVariableRef(A.B/Actual) = %+v, %v; want attribute type \"\"", got, ok)
	}
	if got, ok := ocpp.ParseVariableRef("A@1/0.B"); !ok || got.Key() != "A@1.B" {
		t.Errorf("ParseVariableRef(A@1/0.B) = %+v, %v; want connector 0 to mean none", got, ok)
	}
	for _, bad := range []string{"", "HeartbeatInterval", "A.", ".B", "A@0.B", "A@x.B", "A.B/Minimum", "A[].B", "A[x[y]].B",
		"A B.C", "A.B.C", strings.Repeat("A", 51) + ".B"} {
		if got, ok := ocpp.ParseVariableRef(bad); ok {
			t.Errorf("ParseVariableRef(%q) = %+v, want failure", bad, got)
		}
	}
}

// FuzzParseVariableRef: whatever parses is written back to a key that parses to the same
// reference.
func FuzzParseVariableRef(f *testing.F) {
	for _, tc := range variableRefCases {
		f.Add(tc.key)
	}
	f.Add("A.B/Actual")
	f.Add("A@1/0.B")
	f.Fuzz(func(t *testing.T, key string) {
		ref, ok := ocpp.ParseVariableRef(key)
		if !ok {
			return
		}
		again, ok := ocpp.ParseVariableRef(ref.Key())
		if !ok {
			t.Fatalf("%q parses, its key %q does not", key, ref.Key())
		}
		if diff := cmp.Diff(ref, again); diff != "" {
			t.Fatalf("%q: round trip through %q mismatch (-first +second):\n%s", key, ref.Key(), diff)
		}
	})
}

func TestVariableRefJSON(t *testing.T) {
	ref, _ := ocpp.ParseVariableRef("EVSE@1.Power/MaxSet")
	b, err := json.Marshal(ocpp.SetVariablesRequest{SetVariableData: []ocpp.SetVariableData{{VariableRef: ref, AttributeValue: "11000"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"setVariableData":[{"attributeType":"MaxSet","component":{"name":"EVSE","evse":{"id":1}},"variable":{"name":"Power"},"attributeValue":"11000"}]}`
	if string(b) != want {
		t.Errorf("SetVariablesRequest JSON = %s, want %s", b, want)
	}
	plain, _ := ocpp.ParseVariableRef("OCPPCommCtrlr.HeartbeatInterval")
	b, _ = json.Marshal(ocpp.GetVariablesRequest{GetVariableData: []ocpp.VariableRef{plain}})
	if want := `{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`; string(b) != want {
		t.Errorf("GetVariablesRequest JSON = %s, want %s", b, want)
	}
}

func TestGetVariablesResponseResult(t *testing.T) {
	var res ocpp.GetVariablesResponse
	err := json.Unmarshal([]byte(`{"getVariableResult": [
		{"attributeStatus": "Accepted", "attributeValue": "30", "component": {"name": "OCPPCommCtrlr"},
			"variable": {"name": "MessageTimeout", "instance": "Default"}},
		{"attributeStatus": "Accepted", "attributeType": "Actual", "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
			"variable": {"name": "HeartbeatInterval"}},
		{"attributeStatus": "UnknownVariable", "attributeType": "MaxSet", "component": {"name": "EVSE", "evse": {"id": 1}},
			"variable": {"name": "Power"}, "attributeStatusInfo": {"reasonCode": "NoSuchVariable"}},
		{"attributeStatus": "Accepted", "attributeValue": "600", "component": {"name": "OCPPCommCtrlr"},
			"variable": {"name": "HeartbeatInterval"}}]}`), &res)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, status, value string
		found              bool
	}{
		{"OCPPCommCtrlr.HeartbeatInterval", "Accepted", "600", true}, // answered twice: the last answer counts
		{"OCPPCommCtrlr.MessageTimeout[Default]", "Accepted", "30", true},
		{"EVSE@1.Power/MaxSet", "UnknownVariable", "", true},
		{"EVSE@1.Power", "", "", false}, // Actual was not answered
		{"OCPPCommCtrlr.MessageTimeout", "", "", false},
	} {
		ref, _ := ocpp.ParseVariableRef(tc.key)
		r, ok := res.Result(ref)
		value := ""
		if r.AttributeValue != nil {
			value = *r.AttributeValue
		}
		if ok != tc.found || r.AttributeStatus != tc.status || value != tc.value {
			t.Errorf("Result(%s) = %q %q %v, want %q %q %v", tc.key, r.AttributeStatus, value, ok, tc.status, tc.value, tc.found)
		}
	}
}

func TestKeys16(t *testing.T) {
	keys := ocpp.Keys16()
	if len(keys) != 26 {
		t.Errorf("%d mapped 1.6 keys, want 26", len(keys))
	}
	if !slices.IsSortedFunc(keys, func(a, b ocpp.Key16) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("Keys16 is not sorted by name")
	}
	for _, k := range keys {
		got, ok := ocpp.LookupKey16(k.Name)
		if !ok || got.Name != k.Name || got.Variable.Key() != k.Variable.Key() {
			t.Errorf("LookupKey16(%s) = %+v, %v; want %+v", k.Name, got, ok, k)
		}
	}
	for _, tc := range []struct {
		name, key           string
		readOnly, writeOnly bool
	}{
		{"HeartbeatInterval", "OCPPCommCtrlr.HeartbeatInterval", false, false},
		{"TransactionMessageAttempts", "OCPPCommCtrlr.MessageAttempts[TransactionEvent]", false, false},
		{"CertificateStoreMaxLength", "SecurityCtrlr.CertificateEntries", true, false},
		{"AuthorizationKey", "SecurityCtrlr.BasicAuthPassword", false, true},
	} {
		k, ok := ocpp.LookupKey16(tc.name)
		if !ok || k.Variable.Key() != tc.key || k.ReadOnly != tc.readOnly || k.WriteOnly != tc.writeOnly {
			t.Errorf("LookupKey16(%s) = %+v (key %s), %v", tc.name, k, k.Variable.Key(), ok)
		}
	}
	if _, ok := ocpp.LookupKey16("NumberOfConnectors"); ok {
		t.Errorf("NumberOfConnectors has no 2.0.1 counterpart in the table")
	}
	// The caller's copy is its own.
	keys[0].Name = "Changed"
	if ocpp.Keys16()[0].Name == "Changed" {
		t.Errorf("Keys16 shares its slice with the caller")
	}
}

func TestVariableForKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"HeartbeatInterval", "OCPPCommCtrlr.HeartbeatInterval"},
		{"MeterValueSampleInterval", "SampledDataCtrlr.TxUpdatedInterval"},
		{"OCPPCommCtrlr.MessageTimeout[Default]", "OCPPCommCtrlr.MessageTimeout[Default]"},
		{"EVSE@1.Power/MaxSet", "EVSE@1.Power/MaxSet"},
		{"VendorSpecificThing", ""},
		{"heartbeatinterval", ""},
	} {
		ref, ok := ocpp.VariableForKey(tc.key)
		if got := map[bool]string{true: ref.Key()}[ok]; got != tc.want {
			t.Errorf("VariableForKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 2, 10, 14, 0, 0, 0, time.UTC), "2026-02-10T14:00:00Z"},
		{time.Date(2026, 2, 10, 15, 0, 0, 0, ams), "2026-02-10T14:00:00Z"},
		{time.Date(2026, 2, 10, 14, 0, 0, 123_456_789, time.UTC), "2026-02-10T14:00:00.123Z"},
		{time.Date(2026, 2, 10, 14, 0, 0, 999_999_999, time.UTC), "2026-02-10T14:00:00.999Z"},
		{time.Date(2026, 2, 10, 14, 0, 0, 100, time.UTC), "2026-02-10T14:00:00.000Z"},
	} {
		if got := ocpp.FormatTime(tc.in); got != tc.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	for _, key := range []string{"AuthorizationKey", "authorizationkey", "BasicAuthPassword", "SecurityCtrlr.BasicAuthPassword",
		"SecurityCtrlr.BasicAuthPassword/Target", "SecurityCtrlr[x].BasicAuthPassword[y]", "Vendor.basicauthpassword"} {
		if !ocpp.IsSecretKey(key) {
			t.Errorf("IsSecretKey(%q) = false, want true", key)
		}
	}
	for _, key := range []string{"", "HeartbeatInterval", "OCPPCommCtrlr.HeartbeatInterval", "AuthorizationKeyLength",
		"SecurityCtrlr.BasicAuthPasswordLength", "BasicAuthPassword.Enabled"} {
		if ocpp.IsSecretKey(key) {
			t.Errorf("IsSecretKey(%q) = true, want false", key)
		}
	}
}
