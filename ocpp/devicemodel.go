package ocpp

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The OCPP 2.0.1 device model, as far as evroam reads and writes it: how a variable
// attribute is addressed on the wire (VariableRef), the one-string key it is stored and
// asked for under (VariableRef.Key, ParseVariableRef), and which OCPP 1.6 configuration
// key corresponds to which variable (LookupKey16).

// Component is the 2.0.1 ComponentType: a component of the device model, optionally an
// instance of it and optionally the EVSE (and connector) it belongs to.
type Component struct {
	Name     string `json:"name"`
	Instance string `json:"instance,omitempty"`
	EVSE     *EVSE  `json:"evse,omitempty"`
}

// EVSE is the 2.0.1 EVSEType: an EVSE (1..n, the 1.6 connectorId) and optionally one of
// its connectors.
type EVSE struct {
	ID          int `json:"id"`
	ConnectorID int `json:"connectorId,omitempty"`
}

// Variable is the 2.0.1 VariableType: a variable of a component, optionally an instance
// of it.
type Variable struct {
	Name     string `json:"name"`
	Instance string `json:"instance,omitempty"`
}

// VariableRef addresses one attribute of a 2.0.1 device-model variable. Its JSON shape is
// GetVariableDataType, which the other GetVariables and SetVariables types extend.
type VariableRef struct {
	// AttributeType is Actual, Target, MinSet or MaxSet; "" means Actual (the station's
	// default, so it is left out of the CALL).
	AttributeType string    `json:"attributeType,omitempty"`
	Component     Component `json:"component"`
	Variable      Variable  `json:"variable"`
}

// Key is the one-string form of r, the key the stored configuration lists 2.0.1
// variables under and the charger commands accept:
// Component[instance]@evse/connector.Variable[instance]/attributeType, where the
// instances, the EVSE, the connector and an attribute type other than Actual appear only
// when set ("OCPPCommCtrlr.HeartbeatInterval", "EVSE@1.Power/MaxSet").
func (r VariableRef) Key() string {
	var b strings.Builder
	b.WriteString(r.Component.Name)
	if r.Component.Instance != "" {
		b.WriteString("[" + r.Component.Instance + "]")
	}
	if e := r.Component.EVSE; e != nil {
		b.WriteString("@" + strconv.Itoa(e.ID))
		if e.ConnectorID != 0 {
			b.WriteString("/" + strconv.Itoa(e.ConnectorID))
		}
	}
	b.WriteString("." + r.Variable.Name)
	if r.Variable.Instance != "" {
		b.WriteString("[" + r.Variable.Instance + "]")
	}
	if r.AttributeType != "" && r.AttributeType != "Actual" {
		b.WriteString("/" + r.AttributeType)
	}
	return b.String()
}

// deviceKey is the grammar of VariableRef.Key: names in the characters of the 2.0.1
// identifierString, instances without brackets, an EVSE id of at least 1 (checked after
// matching) and one of the four attribute types.
var deviceKey = regexp.MustCompile(`^([A-Za-z0-9*_=:+|-]{1,50})(?:\[([^\[\]]{1,50})\])?(?:@(\d{1,9})(?:/(\d{1,9}))?)?\.([A-Za-z0-9*_=:+|-]{1,50})(?:\[([^\[\]]{1,50})\])?(?:/(Actual|Target|MinSet|MaxSet))?$`)

// ParseVariableRef parses a key written as VariableRef.Key writes it. An explicit
// "/Actual" is accepted and gives AttributeType "", so that ParseVariableRef(r.Key())
// returns r for every r it can return.
func ParseVariableRef(key string) (VariableRef, bool) {
	m := deviceKey.FindStringSubmatch(key)
	if m == nil {
		return VariableRef{}, false
	}
	r := VariableRef{
		Component: Component{Name: m[1], Instance: m[2]},
		Variable:  Variable{Name: m[5], Instance: m[6]},
	}
	if m[3] != "" {
		e := &EVSE{}
		e.ID, _ = strconv.Atoi(m[3])
		if e.ID == 0 {
			return VariableRef{}, false // 2.0.1 numbers EVSEs from 1; 0 is the whole station
		}
		if m[4] != "" {
			e.ConnectorID, _ = strconv.Atoi(m[4])
		}
		r.Component.EVSE = e
	}
	if m[7] != "Actual" {
		r.AttributeType = m[7]
	}
	return r, true
}

// identity is a comparable form of r for pairing answers with requests: Actual and no
// attribute type are the same, and so are no EVSE and EVSE 0.
func (r VariableRef) identity() string {
	evse, conn := 0, 0
	if e := r.Component.EVSE; e != nil {
		evse, conn = e.ID, e.ConnectorID
	}
	attributeType := r.AttributeType
	if attributeType == "Actual" {
		attributeType = ""
	}
	return r.Component.Name + "\x00" + r.Component.Instance + "\x00" + strconv.Itoa(evse) + "\x00" + strconv.Itoa(conn) + "\x00" +
		r.Variable.Name + "\x00" + r.Variable.Instance + "\x00" + attributeType
}

// configValue201 is the stored form of a 2.0.1 variable attribute, without its value.
func configValue201(r VariableRef) ConfigurationValue {
	v := ConfigurationValue{
		Key:       r.Key(),
		Component: r.Component.Name, ComponentInstance: r.Component.Instance,
		Variable: r.Variable.Name, VariableInstance: r.Variable.Instance,
		AttributeType: cmp.Or(r.AttributeType, "Actual"),
	}
	if e := r.Component.EVSE; e != nil {
		v.EVSEID, v.ConnectorID = e.ID, e.ConnectorID
	}
	return v
}

// Key16 is an OCPP 1.6 configuration key with a 2.0.1 device-model counterpart.
type Key16 struct {
	Name     string      // the 1.6 key, e.g. HeartbeatInterval
	Variable VariableRef // its 2.0.1 variable, e.g. OCPPCommCtrlr.HeartbeatInterval
	// ReadOnly: the key is read-only in 1.6 (a 2.0.1 GetVariables answer does not say).
	ReadOnly bool
	// WriteOnly: the variable cannot be read; GetVariables would be rejected.
	WriteOnly bool
}

// keys16 maps OCPP 1.6 configuration keys to their 2.0.1 device-model variables, written
// as VariableRef keys (OCPP 2.0.1 appendices, as summarised in the team's OCPP reference
// §3.3).
var keys16 = map[string]string{
	"HeartbeatInterval":                 "OCPPCommCtrlr.HeartbeatInterval",
	"WebSocketPingInterval":             "OCPPCommCtrlr.WebSocketPingInterval",
	"ResetRetries":                      "OCPPCommCtrlr.ResetRetries",
	"TransactionMessageAttempts":        "OCPPCommCtrlr.MessageAttempts[TransactionEvent]",
	"TransactionMessageRetryInterval":   "OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]",
	"UnlockConnectorOnEVSideDisconnect": "OCPPCommCtrlr.UnlockOnEVSideDisconnect",
	"MeterValueSampleInterval":          "SampledDataCtrlr.TxUpdatedInterval",
	"MeterValuesSampledData":            "SampledDataCtrlr.TxUpdatedMeasurands",
	"StopTxnSampledData":                "SampledDataCtrlr.TxEndedMeasurands",
	"ClockAlignedDataInterval":          "AlignedDataCtrlr.Interval",
	"MeterValuesAlignedData":            "AlignedDataCtrlr.Measurands",
	"StopTxnAlignedData":                "AlignedDataCtrlr.TxEndedMeasurands",
	"ConnectionTimeOut":                 "TxCtrlr.EVConnectionTimeOut",
	"StopTransactionOnEVSideDisconnect": "TxCtrlr.StopTxOnEVSideDisconnect",
	"StopTransactionOnInvalidId":        "TxCtrlr.StopTxOnInvalidId",
	"MaxEnergyOnInvalidId":              "TxCtrlr.MaxEnergyOnInvalidId",
	"AuthorizeRemoteTxRequests":         "AuthCtrlr.AuthorizeRemoteStart",
	"LocalAuthorizeOffline":             "AuthCtrlr.LocalAuthorizeOffline",
	"LocalPreAuthorize":                 "AuthCtrlr.LocalPreAuthorize",
	"AllowOfflineTxForUnknownId":        "AuthCtrlr.OfflineTxForUnknownIdEnabled",
	"AuthorizationKey":                  "SecurityCtrlr.BasicAuthPassword",
	"SecurityProfile":                   "SecurityCtrlr.SecurityProfile",
	"CpoName":                           "SecurityCtrlr.OrganizationName",
	"AdditionalRootCertificateCheck":    "SecurityCtrlr.AdditionalRootCertificateCheck",
	"CertificateStoreMaxLength":         "SecurityCtrlr.CertificateEntries",
	"CertificateSignedMaxChainSize":     "SecurityCtrlr.MaxCertificateChainSize",
}

// readOnly16 are the mapped keys that are read-only in 1.6.
var readOnly16 = map[string]bool{
	"AdditionalRootCertificateCheck": true,
	"CertificateStoreMaxLength":      true,
	"CertificateSignedMaxChainSize":  true,
}

// writeOnly16 are the mapped keys whose variable cannot be read.
var writeOnly16 = map[string]bool{"AuthorizationKey": true}

// mapped16 is keys16 parsed once, sorted by 1.6 name.
var mapped16 = func() []Key16 {
	out := make([]Key16, 0, len(keys16))
	for name, key := range keys16 {
		ref, ok := ParseVariableRef(key)
		if !ok {
			panic("ocpp: bad device-model key in the 1.6 mapping: " + key)
		}
		out = append(out, Key16{Name: name, Variable: ref, ReadOnly: readOnly16[name], WriteOnly: writeOnly16[name]})
	}
	slices.SortFunc(out, func(a, b Key16) int { return strings.Compare(a.Name, b.Name) })
	return out
}()

// Keys16 returns every 1.6 configuration key with a 2.0.1 counterpart, sorted by name.
// The caller may change the slice.
func Keys16() []Key16 { return slices.Clone(mapped16) }

// LookupKey16 returns the 2.0.1 counterpart of the 1.6 configuration key name, spelled
// exactly as in the 1.6 specification.
func LookupKey16(name string) (Key16, bool) {
	i, ok := slices.BinarySearchFunc(mapped16, name, func(k Key16, name string) int { return strings.Compare(k.Name, name) })
	if !ok {
		return Key16{}, false
	}
	return mapped16[i], true
}

// VariableForKey returns the 2.0.1 variable a configuration key names: a 1.6 key with a
// 2.0.1 counterpart (HeartbeatInterval), or a device-model key
// (OCPPCommCtrlr.HeartbeatInterval, EVSE@1.Power/MaxSet).
func VariableForKey(key string) (VariableRef, bool) {
	if k, ok := LookupKey16(key); ok {
		return k.Variable, true
	}
	return ParseVariableRef(key)
}
