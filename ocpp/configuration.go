package ocpp

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
)

// Reading and tracking a station's configuration.
//
// After an accepted BootNotification the gateway reads the station's whole configuration,
// once the BootNotification answer is on the wire, when none is on record
// (Station.HasConfiguration) or the firmware version changed; a station that reconnects and
// boots again with the same firmware keeps the configuration on record:
//   - OCPP 1.6: GetConfiguration with no keys; the answer is recorded by afterCall.
//   - OCPP 2.0.1: GetBaseReport(FullInventory); the report arrives in NotifyReport parts,
//     each recorded by notifyReport201.
//
// A successful ChangeConfiguration (1.6) or SetVariables (2.0.1) sent with Server.Call is
// recorded too (recordConfigurationChange), so the stored configuration follows what
// evroam changed without waiting for the next full read.

// afterAnswer runs after the gateway has written its CALLRESULT to a station's CALL.
func (c *conn) afterAnswer(action string) {
	if action == "BootNotification" && c.booted.Load() && c.readConfig.Swap(false) {
		c.configRead.Store(true)
		go c.readConfiguration()
	}
	if action == "SignCertificate" {
		if chain := c.pendingChain.Swap(nil); chain != nil {
			go c.sendCertificateSigned(chain)
		}
	}
}

// readConfiguration asks the station for its whole configuration. Errors are only logged:
// a station that does not support it keeps the configuration it had on record.
func (c *conn) readConfiguration() {
	var action string
	var payload any
	switch c.proto {
	case ProtocolOCPP16:
		action, payload = "GetConfiguration", struct{}{}
	case ProtocolOCPP201:
		action, payload = "GetBaseReport", map[string]any{"requestId": NewRequestID(), "reportBase": "FullInventory"}
	default:
		return
	}
	_, err := c.s.Call(c.s.ctx, c.identity, action, payload)
	if err != nil && !errors.Is(err, ErrNotConnected) {
		c.s.log.Info("ocpp: read configuration after boot", "identity", c.identity, "action", action, "err", err)
	}
}

// NewRequestID returns a fresh requestId for the 2.0.1 messages that carry one
// (GetBaseReport, UpdateFirmware, GetLog): a random positive 31-bit integer.
func NewRequestID() int { return 1 + rand.IntN(1<<31-2) }

// recordConfigurationChange records the values a station accepted through
// ChangeConfiguration (1.6) or SetVariables (2.0.1). Rejected and unknown ones are not.
func (s *Server) recordConfigurationChange(c *conn, action string, req, res json.RawMessage) []ConfigurationValue {
	switch {
	case action == "ChangeConfiguration" && c.proto == ProtocolOCPP16:
		var rq struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		}
		var rs struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(req, &rq) != nil || json.Unmarshal(res, &rs) != nil {
			return nil
		}
		if rs.Status != "Accepted" && rs.Status != "RebootRequired" {
			return nil
		}
		return []ConfigurationValue{redactConfig(ConfigurationValue{Key: rq.Key, Value: rq.Value, HasValue: true})}
	case action == "SetVariables" && c.proto == ProtocolOCPP201:
		var rq SetVariablesRequest
		var rs SetVariablesResponse
		if json.Unmarshal(req, &rq) != nil || json.Unmarshal(res, &rs) != nil {
			return nil
		}
		sent := map[string]string{}
		for _, d := range rq.SetVariableData {
			sent[d.Key()] = d.AttributeValue
		}
		var values []ConfigurationValue
		for _, r := range rs.SetVariableResult {
			if r.AttributeStatus != "Accepted" && r.AttributeStatus != "RebootRequired" {
				continue
			}
			v := configValue201(r.VariableRef)
			value, ok := sent[v.Key]
			if !ok {
				continue // an answer about something we did not set
			}
			v.Value, v.HasValue = value, true
			v.Mutability = "ReadWrite"
			if IsSecretKey(v.Variable) {
				v.Mutability = "WriteOnly"
			}
			values = append(values, redactConfig(v))
		}
		return values
	}
	return nil
}
