package commands

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
)

// configuration/get and configuration/change. The API speaks OCPP 1.6 configuration
// keys; for a 2.0.1 station a key is a 1.6 key of the mapping table or a device-model key
// (ocpp.VariableForKey).

// ---- configuration/get

type getConfigurationRequest struct {
	Key []string `json:"key" validate:"omitempty,max=100,dive,required,max=120"`
}

func (r *getConfigurationRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 {
		for i, k := range r.Key {
			if len(k) > 50 {
				fe.Add(fmt.Sprintf("key[%d]", i), "must have at most 50 characters (OCPP 1.6)")
			}
		}
	}
	return fe
}

type configurationKey struct {
	Key      string  `json:"key"`
	ReadOnly bool    `json:"readonly"`
	Value    *string `json:"value,omitempty"`
}

type getConfigurationResponse struct {
	ChargeBoxID      string             `json:"chargeBoxId"`
	ConfigurationKey []configurationKey `json:"configurationKey"`
	UnknownKey       []string           `json:"unknownKey"`
}

// configurationAnswer is a configuration read in the shape of the 1.6
// GetConfiguration answer, which the API keeps for both versions.
type configurationAnswer struct {
	ConfigurationKey []configurationKey `json:"configurationKey"`
	UnknownKey       []string           `json:"unknownKey"`
}

// getConfiguration16 is the OCPP 1.6 GetConfiguration payload; no keys asks for all.
type getConfiguration16 struct {
	Key []string `json:"key,omitempty"`
}

var getConfigurationCommand = command[getConfigurationRequest, configurationAnswer, getConfigurationResponse]{
	path: "configuration/get",
	ocpp16: func(r *getConfigurationRequest) outgoing[configurationAnswer] {
		return send[configurationAnswer]("GetConfiguration", getConfiguration16{Key: r.Key})
	},
	ocpp201: getVariables,
	respond: func(st Station, _ *getConfigurationRequest, a configurationAnswer) getConfigurationResponse {
		// Lists are never null in the answer.
		return getConfigurationResponse{
			ChargeBoxID:      st.Identity,
			ConfigurationKey: append([]configurationKey{}, a.ConfigurationKey...),
			UnknownKey:       append([]string{}, a.UnknownKey...),
		}
	},
}

// getVariables reads configuration keys from a 2.0.1 station with GetVariables. The keys
// are 1.6 keys (translated with the mapping table) or device-model keys
// ("OCPPCommCtrlr.HeartbeatInterval"); with no keys, every readable 1.6 key of the
// mapping table is asked for, so the answer has the same shape for both versions. (The
// whole device model is read after every boot and kept in the stored configuration.)
// Keys that name no variable are unknown without asking; when no key names one there is
// nothing to ask and no CALL is sent. A station takes at most ItemsPerMessageGetVariables
// variables per GetVariables (some only a handful): when more than one is asked, that limit
// is read first and the variables are asked in batches of it.
func getVariables(r *getConfigurationRequest) outgoing[configurationAnswer] {
	keys := r.Key
	if len(keys) == 0 {
		for _, k := range ocpp.Keys16() {
			if !k.WriteOnly {
				keys = append(keys, k.Name)
			}
		}
	}
	type asked struct {
		key string
		ref ocpp.VariableRef
	}
	var ans configurationAnswer
	var items []asked
	var data []ocpp.VariableRef
	seen := map[string]bool{}
	for _, k := range keys {
		ref, ok := ocpp.VariableForKey(k)
		if !ok {
			ans.UnknownKey = append(ans.UnknownKey, k)
			continue
		}
		if seen[ref.Key()] {
			continue // a variable asked for under two names is answered under the first
		}
		seen[ref.Key()] = true
		items = append(items, asked{k, ref})
		data = append(data, ref)
	}
	if len(data) == 0 {
		return answered(ans)
	}
	return outgoing[configurationAnswer]{action: "GetVariables", run: func(call caller) (configurationAnswer, error) {
		per := len(data)
		if per > 1 {
			per = min(per, itemsPerGetVariables(call))
		}
		var res ocpp.GetVariablesResponse
		for start := 0; start < len(data); start += per {
			var part ocpp.GetVariablesResponse
			req := ocpp.GetVariablesRequest{GetVariableData: data[start:min(start+per, len(data))]}
			if err := call("GetVariables", req, &part); err != nil {
				return ans, err
			}
			res.GetVariableResult = append(res.GetVariableResult, part.GetVariableResult...)
		}
		for _, it := range items {
			result, ok := res.Result(it.ref)
			if !ok || result.AttributeStatus != "Accepted" {
				ans.UnknownKey = append(ans.UnknownKey, it.key)
				continue
			}
			k16, _ := ocpp.LookupKey16(it.key)
			ans.ConfigurationKey = append(ans.ConfigurationKey, configurationKey{
				Key: it.key, ReadOnly: k16.ReadOnly, Value: result.AttributeValue,
			})
		}
		return ans, nil
	}}
}

// itemsPerMessageGetVariables is the device-model variable that says how many variables a
// station takes in one GetVariables (required of every 2.0.1 station, OCPP 2.0.1 B06).
var itemsPerMessageGetVariables = ocpp.VariableRef{
	Component: ocpp.Component{Name: "DeviceDataCtrlr"},
	Variable:  ocpp.Variable{Name: "ItemsPerMessage", Instance: "GetVariables"},
}

// itemsPerGetVariables asks the station how many variables one GetVariables may carry. It
// is asked each time rather than taken from the stored device model, which may predate a
// firmware change. A station that does not say (an error, a value that is no positive
// number) is asked everything in one request, as before.
func itemsPerGetVariables(call caller) int {
	var res ocpp.GetVariablesResponse
	err := call("GetVariables", ocpp.GetVariablesRequest{GetVariableData: []ocpp.VariableRef{itemsPerMessageGetVariables}}, &res)
	if err != nil {
		return math.MaxInt
	}
	r, ok := res.Result(itemsPerMessageGetVariables)
	if !ok || r.AttributeStatus != "Accepted" || r.AttributeValue == nil {
		return math.MaxInt
	}
	n, err := strconv.Atoi(strings.TrimSpace(*r.AttributeValue))
	if err != nil || n < 1 {
		return math.MaxInt
	}
	return n
}

// ---- configuration/change

type changeConfigurationRequest struct {
	Key   string  `json:"key" validate:"required,max=120"`
	Value *string `json:"value" validate:"required,max=1000"`
}

func (r *changeConfigurationRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	switch proto {
	case ocpp.ProtocolOCPP16:
		if len(r.Key) > 50 {
			fe.Add("key", "must have at most 50 characters (OCPP 1.6)")
		}
		if r.Value != nil && len(*r.Value) > 500 {
			fe.Add("value", "must have at most 500 characters (OCPP 1.6)")
		}
	case ocpp.ProtocolOCPP201:
		if _, ok := ocpp.VariableForKey(r.Key); r.Key != "" && !ok {
			fe.Add("key", "is neither an OCPP 1.6 key with a 2.0.1 equivalent nor a device-model key such as OCPPCommCtrlr.HeartbeatInterval")
		}
	}
	return fe
}

type changeConfigurationResponse struct {
	ChargeBoxID string `json:"chargeBoxId"`
	Key         string `json:"key"`
	Value       string `json:"value"`
	Status      string `json:"status"`
	Message     string `json:"message"`
}

var changeMessages = map[string]string{
	"Accepted":       "Configuration changed successfully",
	"RebootRequired": "Configuration changed; it takes effect after a reboot",
	"Rejected":       "Charger rejected the configuration change",
	"NotSupported":   "Charger does not support this configuration key",
}

// setVariableStatus maps a 2.0.1 SetVariableStatusEnumType onto the 1.6 ConfigurationStatus
// the answer uses.
var setVariableStatus = map[string]string{
	"Accepted":                  "Accepted",
	"RebootRequired":            "RebootRequired",
	"Rejected":                  "Rejected",
	"UnknownComponent":          "NotSupported",
	"UnknownVariable":           "NotSupported",
	"NotSupportedAttributeType": "NotSupported",
}

// changeConfiguration16 is the OCPP 1.6 ChangeConfiguration payload.
type changeConfiguration16 struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

var changeConfigurationCommand = command[changeConfigurationRequest, ocpp.StatusResponse, changeConfigurationResponse]{
	path: "configuration/change",
	ocpp16: func(r *changeConfigurationRequest) outgoing[ocpp.StatusResponse] {
		return statusCall("ChangeConfiguration", changeConfiguration16{Key: r.Key, Value: *r.Value})
	},
	ocpp201: func(r *changeConfigurationRequest) outgoing[ocpp.StatusResponse] {
		ref, _ := ocpp.VariableForKey(r.Key) // check made sure it resolves
		p := ocpp.SetVariablesRequest{SetVariableData: []ocpp.SetVariableData{{VariableRef: ref, AttributeValue: *r.Value}}}
		return sendAs("SetVariables", p, func(res ocpp.SetVariablesResponse) (ocpp.StatusResponse, error) {
			if len(res.SetVariableResult) != 1 {
				return ocpp.StatusResponse{}, fmt.Errorf("with %d results for one variable", len(res.SetVariableResult))
			}
			result := res.SetVariableResult[0]
			status := setVariableStatus[result.AttributeStatus]
			if status == "" {
				status = result.AttributeStatus
			}
			return ocpp.StatusResponse{Status: status, StatusInfo: result.AttributeStatusInfo}, nil
		})
	},
	respond: func(st Station, r *changeConfigurationRequest, a ocpp.StatusResponse) changeConfigurationResponse {
		msg, ok := changeMessages[a.Status]
		if !ok {
			msg = "Configuration change " + verb(a.Status)
		}
		value := *r.Value
		if ocpp.IsSecretKey(r.Key) {
			value = "***" // a password is never echoed back
		}
		return changeConfigurationResponse{
			ChargeBoxID: st.Identity, Key: r.Key, Value: value, Status: a.Status, Message: withInfo(msg, a.StatusInfo),
		}
	},
}
