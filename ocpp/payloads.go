package ocpp

import "time"

// Shapes of OCPP payloads that the gateway and the callers of Server.Call both read or
// write, so that each is spelled once.

// FormatTime formats t for an OCPP payload: UTC, RFC 3339, whole seconds when t has no
// fraction ("2026-02-10T14:00:00Z"), else exactly 3 fractional digits, truncated
// ("2026-02-10T14:00:00.123Z"). OCPP 2.0.1 part 2 §2.1.4 allows at most 3 digits; 1.6
// stations read both forms.
func FormatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// StatusInfo is the 2.0.1 StatusInfoType: why a station answered as it did.
type StatusInfo struct {
	ReasonCode     string `json:"reasonCode"`
	AdditionalInfo string `json:"additionalInfo,omitempty"`
}

// StatusResponse is the answer of most CALLs in both versions: a status and, in 2.0.1, an
// optional statusInfo.
type StatusResponse struct {
	Status     string      `json:"status"`
	StatusInfo *StatusInfo `json:"statusInfo,omitempty"`
}

// GetVariablesRequest is the 2.0.1 GetVariablesRequest.
type GetVariablesRequest struct {
	GetVariableData []VariableRef `json:"getVariableData"`
}

// GetVariablesResponse is the 2.0.1 GetVariablesResponse.
type GetVariablesResponse struct {
	GetVariableResult []GetVariableResult `json:"getVariableResult"`
}

// GetVariableResult is the 2.0.1 GetVariableResultType: one variable attribute asked for,
// its status and, when Accepted, its value.
type GetVariableResult struct {
	VariableRef
	AttributeStatus     string      `json:"attributeStatus"`
	AttributeStatusInfo *StatusInfo `json:"attributeStatusInfo,omitempty"`
	AttributeValue      *string     `json:"attributeValue,omitempty"`
}

// Result returns the result about ref. Results are paired with requests by component,
// variable and attribute type (Actual and none being the same), not by position: a
// station need not answer in request order. Should a station answer twice about one
// attribute, the last answer counts.
func (r GetVariablesResponse) Result(ref VariableRef) (GetVariableResult, bool) {
	want := ref.identity()
	for i := len(r.GetVariableResult) - 1; i >= 0; i-- {
		if r.GetVariableResult[i].identity() == want {
			return r.GetVariableResult[i], true
		}
	}
	return GetVariableResult{}, false
}

// SetVariablesRequest is the 2.0.1 SetVariablesRequest.
type SetVariablesRequest struct {
	SetVariableData []SetVariableData `json:"setVariableData"`
}

// SetVariableData is the 2.0.1 SetVariableDataType: one variable attribute and the value
// to set.
type SetVariableData struct {
	VariableRef
	AttributeValue string `json:"attributeValue"`
}

// SetVariablesResponse is the 2.0.1 SetVariablesResponse.
type SetVariablesResponse struct {
	SetVariableResult []SetVariableResult `json:"setVariableResult"`
}

// SetVariableResult is the 2.0.1 SetVariableResultType: whether one variable attribute
// was set.
type SetVariableResult struct {
	VariableRef
	AttributeStatus     string      `json:"attributeStatus"`
	AttributeStatusInfo *StatusInfo `json:"attributeStatusInfo,omitempty"`
}
