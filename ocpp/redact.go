package ocpp

import (
	"bytes"
	"encoding/json"
	"strings"
)

// redacted replaces secret values in the message log and in recorded configuration.
const redacted = "***"

// secretNames are the 1.6 configuration keys and 2.0.1 variable names holding secrets, in
// lower case.
var secretNames = []string{
	"authorizationkey",  // 1.6 Basic-auth password (security whitepaper)
	"basicauthpassword", // 2.0.1 SecurityCtrlr.BasicAuthPassword
}

// IsSecretKey reports whether a configuration key or variable name holds a secret, whose
// value is never logged, stored or echoed: a 1.6 key or a 2.0.1 variable name
// (AuthorizationKey, BasicAuthPassword, in any case), or a device-model key whose
// variable is one, with any instance or attribute type (SecurityCtrlr.BasicAuthPassword,
// SecurityCtrlr.BasicAuthPassword/Target). The device-model form is recognised by its
// text, not parsed, so that a key outside the VariableRef grammar is judged the same way.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, name := range secretNames {
		if k == name || strings.HasSuffix(k, "."+name) || strings.Contains(k, "."+name+"[") || strings.Contains(k, "."+name+"/") {
			return true
		}
	}
	return false
}

// redactActions are the actions whose requests or results can carry secrets. Payloads of
// other actions are logged untouched, without being parsed.
var redactActions = map[string]bool{
	"ChangeConfiguration": true, // 1.6 request {key, value}
	"GetConfiguration":    true, // 1.6 result configurationKey[].{key, value}
	"SetVariables":        true, // 2.0.1 request setVariableData[].{variable.name, attributeValue}
	"GetVariables":        true, // 2.0.1 result getVariableResult[].{variable.name, attributeValue}
	"NotifyReport":        true, // 2.0.1 request reportData[].{variable.name, variableAttribute[].value}
	"SetNetworkProfile":   true, // 2.0.1 request connectionData.{apn.apnPassword, apn.simPin, vpn.password, vpn.key}
}

// redact returns payload with passwords and keys replaced by "***". isCall says whether
// payload is the action's request (else its result).
func redact(action string, isCall bool, payload json.RawMessage) json.RawMessage {
	if !redactActions[action] || len(payload) == 0 {
		return payload
	}
	if action != "SetNetworkProfile" && !mayNameSecret(payload) {
		return payload // a boot's whole configuration is logged without being parsed
	}
	var v map[string]any
	if json.Unmarshal(payload, &v) != nil {
		return payload
	}
	changed := false
	set := func(m map[string]any, field string) {
		if _, ok := m[field]; ok {
			m[field] = redacted
			changed = true
		}
	}
	eachObject := func(list any, fn func(map[string]any)) {
		items, _ := list.([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				fn(m)
			}
		}
	}
	variableIsSecret := func(m map[string]any) bool {
		vr, _ := m["variable"].(map[string]any)
		name, _ := vr["name"].(string)
		return IsSecretKey(name)
	}
	switch {
	case action == "ChangeConfiguration" && isCall:
		if k, _ := v["key"].(string); IsSecretKey(k) {
			set(v, "value")
		}
	case action == "GetConfiguration" && !isCall:
		eachObject(v["configurationKey"], func(m map[string]any) {
			if k, _ := m["key"].(string); IsSecretKey(k) {
				set(m, "value")
			}
		})
	case action == "SetVariables" && isCall:
		eachObject(v["setVariableData"], func(m map[string]any) {
			if variableIsSecret(m) {
				set(m, "attributeValue")
			}
		})
	case action == "GetVariables" && !isCall:
		eachObject(v["getVariableResult"], func(m map[string]any) {
			if variableIsSecret(m) {
				set(m, "attributeValue")
			}
		})
	case action == "NotifyReport" && isCall:
		eachObject(v["reportData"], func(m map[string]any) {
			if variableIsSecret(m) {
				eachObject(m["variableAttribute"], func(a map[string]any) { set(a, "value") })
			}
		})
	case action == "SetNetworkProfile" && isCall:
		cd, _ := v["connectionData"].(map[string]any)
		if apn, ok := cd["apn"].(map[string]any); ok {
			set(apn, "apnPassword")
			set(apn, "simPin")
		}
		if vpn, ok := cd["vpn"].(map[string]any); ok {
			set(vpn, "password")
			set(vpn, "key")
		}
	}
	if !changed {
		return payload
	}
	out, err := json.Marshal(v)
	if err != nil {
		return payload
	}
	return out
}

// mayNameSecret reports whether payload may name a secret configuration key or variable:
// it holds one of secretNames in any case, or a \u escape, behind which a name can hide.
// Without either, a payload of the key-based actions has nothing to redact. The text is
// lower-cased as IsSecretKey lower-cases keys (Unicode rules, so a Kelvin sign counts as k
// in both).
func mayNameSecret(payload []byte) bool {
	if bytes.Contains(payload, []byte(`\u`)) {
		return true
	}
	lower := bytes.ToLower(payload)
	for _, name := range secretNames {
		if bytes.Contains(lower, []byte(name)) {
			return true
		}
	}
	return false
}

// redactConfig hides the value of a secret configuration key or variable.
func redactConfig(v ConfigurationValue) ConfigurationValue {
	if v.HasValue && (IsSecretKey(v.Key) || IsSecretKey(v.Variable)) {
		v.Value = redacted
	}
	return v
}
