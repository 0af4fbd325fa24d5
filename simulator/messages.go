package simulator

import (
	"encoding/json"
	"strconv"
	"time"
)

// The payloads a station sends. The ones a load runs back to back (Heartbeat,
// StatusNotification, Authorize, MeterValues) are appended by hand into a pooled buffer;
// the rest go through encoding/json. Every one must pass the gateway's schema check, which
// the tests assert.

// appendTime renders t as OCPP wants it: UTC, RFC 3339, at most 3 fractional digits (2.0.1
// part 2 §2.1.4; valid for 1.6 too).
func appendTime(buf []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(buf, "2006-01-02T15:04:05.000Z")
}

func ocppTime(t time.Time) string { return string(appendTime(nil, t)) }

// truncate cuts s to n bytes: the schemas cap vendor (20 in 1.6), model and serial lengths.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// serialNumber is the identity's tail: serial numbers are at most 25 characters, and the tail
// holds the station's number.
func (s *Station) serialNumber() string {
	id := s.identity
	if len(id) > 25 {
		id = id[len(id)-25:]
	}
	return id
}

func (s *Station) bootPayload(reason string) []byte {
	cfg := &s.env.cfg
	var v any
	if s.proto == OCPP16 {
		v = struct {
			Vendor   string `json:"chargePointVendor"`
			Model    string `json:"chargePointModel"`
			Serial   string `json:"chargePointSerialNumber"`
			Firmware string `json:"firmwareVersion"`
		}{truncate(cfg.Vendor, 20), truncate(cfg.Model, 20), s.serialNumber(), truncate(cfg.FirmwareVersion, 50)}
	} else {
		type chargingStation struct {
			Model    string `json:"model"`
			Vendor   string `json:"vendorName"`
			Serial   string `json:"serialNumber"`
			Firmware string `json:"firmwareVersion"`
		}
		v = struct {
			Reason          string          `json:"reason"`
			ChargingStation chargingStation `json:"chargingStation"`
		}{reason, chargingStation{truncate(cfg.Model, 20), truncate(cfg.Vendor, 50), s.serialNumber(), truncate(cfg.FirmwareVersion, 50)}}
	}
	b, _ := json.Marshal(v)
	return b
}

// appendStatus renders a StatusNotification for connector c (the 1.6 connectorId, the 2.0.1
// evseId with connector 1). status is in the station's protocol's vocabulary.
func (s *Station) appendStatus(buf []byte, c int, status string, at time.Time) []byte {
	if s.proto == OCPP16 {
		buf = append(buf, `{"connectorId":`...)
		buf = strconv.AppendInt(buf, int64(c), 10)
		buf = append(buf, `,"errorCode":"NoError","status":`...)
		buf = appendJSONString(buf, status)
		buf = append(buf, `,"timestamp":"`...)
		buf = appendTime(buf, at)
		return append(buf, `"}`...)
	}
	buf = append(buf, `{"timestamp":"`...)
	buf = appendTime(buf, at)
	buf = append(buf, `","connectorStatus":`...)
	buf = appendJSONString(buf, status)
	buf = append(buf, `,"evseId":`...)
	buf = strconv.AppendInt(buf, int64(c), 10)
	return append(buf, `,"connectorId":1}`...)
}

// appendAuthorize renders an Authorize for idTag (2.0.1: an ISO14443 idToken).
func (s *Station) appendAuthorize(buf []byte, idTag, idType string) []byte {
	if s.proto == OCPP16 {
		buf = append(buf, `{"idTag":`...)
		buf = appendJSONString(buf, truncate(idTag, 20))
		return append(buf, '}')
	}
	buf = append(buf, `{"idToken":{"idToken":`...)
	buf = appendJSONString(buf, truncate(idTag, 36))
	buf = append(buf, `,"type":`...)
	buf = appendJSONString(buf, idType)
	return append(buf, `}}`...)
}

// appendMeterValue renders one MeterValue: the energy register and the active power, with
// the version's value type (a string in 1.6, a number in 2.0.1).
func (s *Station) appendMeterValue(buf []byte, at time.Time, wh, watts int64, context string) []byte {
	buf = append(buf, `{"timestamp":"`...)
	buf = appendTime(buf, at)
	buf = append(buf, `","sampledValue":[`...)
	sample := func(buf []byte, v int64, measurand, unit string) []byte {
		buf = append(buf, `{"value":`...)
		if s.proto == OCPP16 {
			buf = append(buf, '"')
			buf = strconv.AppendInt(buf, v, 10)
			buf = append(buf, '"')
		} else {
			buf = strconv.AppendInt(buf, v, 10)
		}
		buf = append(buf, `,"context":"`...)
		buf = append(buf, context...)
		buf = append(buf, `","measurand":"`...)
		buf = append(buf, measurand...)
		if s.proto == OCPP16 {
			buf = append(buf, `","location":"Outlet","unit":"`...)
			buf = append(buf, unit...)
			return append(buf, `"}`...)
		}
		buf = append(buf, `","location":"Outlet","unitOfMeasure":{"unit":"`...)
		buf = append(buf, unit...)
		return append(buf, `"}}`...)
	}
	buf = sample(buf, wh, "Energy.Active.Import.Register", "Wh")
	if watts >= 0 {
		buf = append(buf, ',')
		buf = sample(buf, watts, "Power.Active.Import", "W")
	}
	return append(buf, `]}`...)
}

// appendMeterValues renders a MeterValues request for connector c; txID16 > 0 ties a 1.6
// one to its transaction (2.0.1 sends transaction meter values in TransactionEvent).
func (s *Station) appendMeterValues(buf []byte, c int, txID16 int, at time.Time, wh, watts int64) []byte {
	if s.proto == OCPP16 {
		buf = append(buf, `{"connectorId":`...)
		buf = strconv.AppendInt(buf, int64(c), 10)
		if txID16 > 0 {
			buf = append(buf, `,"transactionId":`...)
			buf = strconv.AppendInt(buf, int64(txID16), 10)
		}
	} else {
		buf = append(buf, `{"evseId":`...)
		buf = strconv.AppendInt(buf, int64(c), 10)
	}
	buf = append(buf, `,"meterValue":[`...)
	context := "Sample.Periodic"
	if txID16 == 0 && s.proto == OCPP16 {
		context = "Trigger"
	}
	buf = s.appendMeterValue(buf, at, wh, watts, context)
	return append(buf, `]}`...)
}

// transactionEvent is a 2.0.1 TransactionEventRequest.
type transactionEvent struct {
	EventType       string            `json:"eventType"`
	Timestamp       string            `json:"timestamp"`
	TriggerReason   string            `json:"triggerReason"`
	SeqNo           int               `json:"seqNo"`
	TransactionInfo transactionInfo   `json:"transactionInfo"`
	EVSE            *evseRef          `json:"evse,omitempty"`
	IDToken         *idToken          `json:"idToken,omitempty"`
	MeterValue      []json.RawMessage `json:"meterValue,omitempty"`
}

type transactionInfo struct {
	TransactionID string `json:"transactionId"`
	ChargingState string `json:"chargingState,omitempty"`
	StoppedReason string `json:"stoppedReason,omitempty"`
	RemoteStartID *int   `json:"remoteStartId,omitempty"`
}

type evseRef struct {
	ID          int `json:"id"`
	ConnectorID int `json:"connectorId,omitempty"`
}

type idToken struct {
	IDToken string `json:"idToken"`
	Type    string `json:"type"`
}
