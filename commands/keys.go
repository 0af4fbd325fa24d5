package commands

import (
	"regexp"
	"slices"
	"strconv"
)

// variableRef addresses one 2.0.1 device-model variable attribute.
type variableRef struct {
	Component         string
	ComponentInstance string
	EVSEID            int // 0: none
	ConnectorID       int // 0: none
	Variable          string
	VariableInstance  string
	AttributeType     string // "" means Actual
}

// keyMapping16 maps OCPP 1.6 configuration keys to their 2.0.1 device-model variables
// (OCPP 2.0.1 appendices, as summarised in the team's OCPP reference §3.3).
var keyMapping16 = map[string]variableRef{
	"HeartbeatInterval":                 {Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval"},
	"WebSocketPingInterval":             {Component: "OCPPCommCtrlr", Variable: "WebSocketPingInterval"},
	"ResetRetries":                      {Component: "OCPPCommCtrlr", Variable: "ResetRetries"},
	"TransactionMessageAttempts":        {Component: "OCPPCommCtrlr", Variable: "MessageAttempts", VariableInstance: "TransactionEvent"},
	"TransactionMessageRetryInterval":   {Component: "OCPPCommCtrlr", Variable: "MessageAttemptInterval", VariableInstance: "TransactionEvent"},
	"UnlockConnectorOnEVSideDisconnect": {Component: "OCPPCommCtrlr", Variable: "UnlockOnEVSideDisconnect"},
	"MeterValueSampleInterval":          {Component: "SampledDataCtrlr", Variable: "TxUpdatedInterval"},
	"MeterValuesSampledData":            {Component: "SampledDataCtrlr", Variable: "TxUpdatedMeasurands"},
	"StopTxnSampledData":                {Component: "SampledDataCtrlr", Variable: "TxEndedMeasurands"},
	"ClockAlignedDataInterval":          {Component: "AlignedDataCtrlr", Variable: "Interval"},
	"MeterValuesAlignedData":            {Component: "AlignedDataCtrlr", Variable: "Measurands"},
	"StopTxnAlignedData":                {Component: "AlignedDataCtrlr", Variable: "TxEndedMeasurands"},
	"ConnectionTimeOut":                 {Component: "TxCtrlr", Variable: "EVConnectionTimeOut"},
	"StopTransactionOnEVSideDisconnect": {Component: "TxCtrlr", Variable: "StopTxOnEVSideDisconnect"},
	"StopTransactionOnInvalidId":        {Component: "TxCtrlr", Variable: "StopTxOnInvalidId"},
	"MaxEnergyOnInvalidId":              {Component: "TxCtrlr", Variable: "MaxEnergyOnInvalidId"},
	"AuthorizeRemoteTxRequests":         {Component: "AuthCtrlr", Variable: "AuthorizeRemoteStart"},
	"LocalAuthorizeOffline":             {Component: "AuthCtrlr", Variable: "LocalAuthorizeOffline"},
	"LocalPreAuthorize":                 {Component: "AuthCtrlr", Variable: "LocalPreAuthorize"},
	"AllowOfflineTxForUnknownId":        {Component: "AuthCtrlr", Variable: "OfflineTxForUnknownIdEnabled"},
	"AuthorizationKey":                  {Component: "SecurityCtrlr", Variable: "BasicAuthPassword"},
	"SecurityProfile":                   {Component: "SecurityCtrlr", Variable: "SecurityProfile"},
	"CpoName":                           {Component: "SecurityCtrlr", Variable: "OrganizationName"},
	"AdditionalRootCertificateCheck":    {Component: "SecurityCtrlr", Variable: "AdditionalRootCertificateCheck"},
	"CertificateStoreMaxLength":         {Component: "SecurityCtrlr", Variable: "CertificateEntries"},
	"CertificateSignedMaxChainSize":     {Component: "SecurityCtrlr", Variable: "MaxCertificateChainSize"},
}

// readOnly16 are the mapped 1.6 keys that are read-only in 1.6 (the answer to a 2.0.1
// GetVariables does not say).
var readOnly16 = map[string]bool{
	"AdditionalRootCertificateCheck": true,
	"CertificateStoreMaxLength":      true,
	"CertificateSignedMaxChainSize":  true,
}

// writeOnly16 are the mapped keys that cannot be read (GetVariables would be rejected).
var writeOnly16 = map[string]bool{"AuthorizationKey": true}

// deviceKey matches the key form the gateway records 2.0.1 variables under:
// Component[instance]@evse/connector.Variable[instance]/attributeType, where everything but
// Component and Variable is optional.
var deviceKey = regexp.MustCompile(`^([A-Za-z0-9*_=:+|-]{1,50})(?:\[([^\[\]]{1,50})\])?(?:@(\d{1,9})(?:/(\d{1,9}))?)?\.([A-Za-z0-9*_=:+|-]{1,50})(?:\[([^\[\]]{1,50})\])?(?:/(Actual|Target|MinSet|MaxSet))?$`)

// resolveKey201 finds the 2.0.1 variable a configuration key names: a 1.6 key of the
// mapping table, or a device-model key such as "OCPPCommCtrlr.HeartbeatInterval".
func resolveKey201(key string) (variableRef, bool) {
	if ref, ok := keyMapping16[key]; ok {
		return ref, true
	}
	m := deviceKey.FindStringSubmatch(key)
	if m == nil {
		return variableRef{}, false
	}
	ref := variableRef{Component: m[1], ComponentInstance: m[2], Variable: m[5], VariableInstance: m[6], AttributeType: m[7]}
	if m[3] != "" {
		ref.EVSEID, _ = strconv.Atoi(m[3])
		if ref.EVSEID == 0 {
			return variableRef{}, false
		}
	}
	if m[4] != "" {
		ref.ConnectorID, _ = strconv.Atoi(m[4])
	}
	if ref.AttributeType == "Actual" {
		ref.AttributeType = ""
	}
	return ref, true
}

// component and variable are the 2.0.1 JSON shapes of ComponentType and VariableType.
type evseJSON struct {
	ID          int `json:"id"`
	ConnectorID int `json:"connectorId,omitempty"`
}

type componentJSON struct {
	Name     string    `json:"name"`
	Instance string    `json:"instance,omitempty"`
	EVSE     *evseJSON `json:"evse,omitempty"`
}

type variableJSON struct {
	Name     string `json:"name"`
	Instance string `json:"instance,omitempty"`
}

func (r variableRef) component() componentJSON {
	c := componentJSON{Name: r.Component, Instance: r.ComponentInstance}
	if r.EVSEID > 0 {
		c.EVSE = &evseJSON{ID: r.EVSEID, ConnectorID: r.ConnectorID}
	}
	return c
}

func (r variableRef) variable() variableJSON {
	return variableJSON{Name: r.Variable, Instance: r.VariableInstance}
}

// match returns a comparable identity of a variable attribute, to pair results with
// requests (a station need not answer in request order).
func match(c componentJSON, v variableJSON, attributeType string) string {
	if attributeType == "Actual" {
		attributeType = ""
	}
	evse, conn := 0, 0
	if c.EVSE != nil {
		evse, conn = c.EVSE.ID, c.EVSE.ConnectorID
	}
	return c.Name + "\x00" + c.Instance + "\x00" + strconv.Itoa(evse) + "\x00" + strconv.Itoa(conn) + "\x00" +
		v.Name + "\x00" + v.Instance + "\x00" + attributeType
}

func (r variableRef) match() string { return match(r.component(), r.variable(), r.AttributeType) }

func sortStrings(s []string) { slices.Sort(s) }
