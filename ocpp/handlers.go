package ocpp

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// handlerFunc handles one station CALL whose payload has passed schema validation. It
// returns the CALLRESULT payload, or an error: an *rpcError is answered as is, anything
// else as InternalError.
type handlerFunc func(ctx context.Context, c *conn, payload json.RawMessage) (any, error)

var handlers = map[string]map[string]handlerFunc{
	ProtocolOCPP16: {
		"BootNotification":                 boot16,
		"Heartbeat":                        heartbeat,
		"StatusNotification":               status16,
		"MeterValues":                      meterValues16,
		"Authorize":                        authorize16,
		"StartTransaction":                 startTransaction16,
		"StopTransaction":                  stopTransaction16,
		"DataTransfer":                     dataTransfer,
		"FirmwareStatusNotification":       firmwareStatus,
		"DiagnosticsStatusNotification":    diagnosticsStatus,
		"LogStatusNotification":            diagnosticsStatus,
		"SignedFirmwareStatusNotification": empty,
		"SecurityEventNotification":        empty,
		"SignCertificate":                  signCertificate,
	},
	ProtocolOCPP201: {
		"BootNotification":           boot201,
		"Heartbeat":                  heartbeat,
		"StatusNotification":         status201,
		"MeterValues":                meterValues201,
		"Authorize":                  authorize201,
		"TransactionEvent":           transactionEvent201,
		"DataTransfer":               dataTransfer,
		"FirmwareStatusNotification": firmwareStatus,
		"LogStatusNotification":      diagnosticsStatus,
		"SecurityEventNotification":  empty,
		"NotifyEvent":                empty,
		"NotifyReport":               notifyReport201,
		"SignCertificate":            signCertificate,
	},
}

func handlerFor(proto, action string) handlerFunc { return handlers[proto][action] }

// parseTime parses a schema-validated date-time; zero when absent.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func decode(payload json.RawMessage, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return newRPCError(errTypeConstraint, "%v", err)
	}
	return nil
}

func empty(context.Context, *conn, json.RawMessage) (any, error) { return struct{}{}, nil }

// firmwareStatus records a FirmwareStatusNotification of either version (1.6 has no
// requestId) when the registry takes them.
func firmwareStatus(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	rec, ok := c.s.reg.(FirmwareStatusRecorder)
	if !ok {
		return struct{}{}, nil
	}
	var req struct {
		Status    string `json:"status"`
		RequestID *int   `json:"requestId"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	if err := rec.RecordFirmwareStatus(ctx, FirmwareStatus{Identity: c.identity, Status: req.Status, RequestID: req.RequestID,
		At: c.s.cfg.Now()}); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// diagnosticsStatus records a DiagnosticsStatusNotification or LogStatusNotification when
// the registry takes them.
func diagnosticsStatus(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	rec, ok := c.s.reg.(DiagnosticsStatusRecorder)
	if !ok {
		return struct{}{}, nil
	}
	var req struct {
		Status    string `json:"status"`
		RequestID *int   `json:"requestId"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	if err := rec.RecordDiagnosticsStatus(ctx, FirmwareStatus{Identity: c.identity, Status: req.Status, RequestID: req.RequestID,
		At: c.s.cfg.Now()}); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func heartbeat(_ context.Context, c *conn, _ json.RawMessage) (any, error) {
	now := c.s.cfg.Now()
	c.s.heartbeats.add(Heartbeat{Identity: c.identity, At: now})
	return map[string]string{"currentTime": FormatTime(now)}, nil
}

func bootAccepted(ctx context.Context, c *conn, b BootInfo) (any, error) {
	now := c.s.cfg.Now()
	b.At = now
	b.HeartbeatInterval = c.s.cfg.HeartbeatInterval
	b.Connection = c.serial
	if err := c.s.reg.RecordBoot(ctx, c.identity, b); err != nil {
		return nil, err
	}
	c.booted.Store(true)
	fw := b.FirmwareVersion
	if prev := c.firmware.Swap(&fw); !c.configRead.Load() || prev == nil || *prev != fw {
		c.readConfig.Store(true)
	}
	return map[string]any{
		"status":      "Accepted",
		"currentTime": FormatTime(now),
		"interval":    int(c.s.cfg.HeartbeatInterval / time.Second),
	}, nil
}

func boot16(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		ChargePointVendor       string `json:"chargePointVendor"`
		ChargePointModel        string `json:"chargePointModel"`
		ChargePointSerialNumber string `json:"chargePointSerialNumber"`
		ChargeBoxSerialNumber   string `json:"chargeBoxSerialNumber"`
		FirmwareVersion         string `json:"firmwareVersion"`
		ICCID                   string `json:"iccid"`
		IMSI                    string `json:"imsi"`
		MeterType               string `json:"meterType"`
		MeterSerialNumber       string `json:"meterSerialNumber"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	return bootAccepted(ctx, c, BootInfo{
		Vendor:                  req.ChargePointVendor,
		Model:                   req.ChargePointModel,
		ChargePointSerialNumber: req.ChargePointSerialNumber,
		ChargeBoxSerialNumber:   req.ChargeBoxSerialNumber,
		FirmwareVersion:         req.FirmwareVersion,
		ICCID:                   req.ICCID,
		IMSI:                    req.IMSI,
		MeterType:               req.MeterType,
		MeterSerialNumber:       req.MeterSerialNumber,
	})
}

func boot201(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		Reason          string `json:"reason"`
		ChargingStation struct {
			Model           string `json:"model"`
			VendorName      string `json:"vendorName"`
			SerialNumber    string `json:"serialNumber"`
			FirmwareVersion string `json:"firmwareVersion"`
			Modem           struct {
				ICCID string `json:"iccid"`
				IMSI  string `json:"imsi"`
			} `json:"modem"`
		} `json:"chargingStation"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	cs := req.ChargingStation
	return bootAccepted(ctx, c, BootInfo{
		Vendor:                  cs.VendorName,
		Model:                   cs.Model,
		ChargePointSerialNumber: cs.SerialNumber,
		FirmwareVersion:         cs.FirmwareVersion,
		ICCID:                   cs.Modem.ICCID,
		IMSI:                    cs.Modem.IMSI,
		Reason:                  req.Reason,
	})
}

func status16(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		ConnectorID     int    `json:"connectorId"`
		ErrorCode       string `json:"errorCode"`
		Status          string `json:"status"`
		Info            string `json:"info"`
		Timestamp       string `json:"timestamp"`
		VendorID        string `json:"vendorId"`
		VendorErrorCode string `json:"vendorErrorCode"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	err := c.s.reg.RecordStatus(ctx, StatusReport{
		Identity: c.identity, EVSESequence: req.ConnectorID, ConnectorID: req.ConnectorID, OCPPStatus: req.Status, ErrorCode: req.ErrorCode,
		Info: req.Info, VendorID: req.VendorID, VendorErrorCode: req.VendorErrorCode,
		Timestamp: parseTime(req.Timestamp), At: c.s.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func status201(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		Timestamp       string `json:"timestamp"`
		ConnectorStatus string `json:"connectorStatus"`
		EVSEID          int    `json:"evseId"`
		ConnectorID     int    `json:"connectorId"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	err := c.s.reg.RecordStatus(ctx, StatusReport{
		Identity: c.identity, EVSESequence: req.EVSEID, ConnectorID: req.ConnectorID, OCPPStatus: req.ConnectorStatus,
		Timestamp: parseTime(req.Timestamp), At: c.s.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// meterValue16 and meterValue201 are the MeterValue types of each version.
type meterValue16 struct {
	Timestamp    string `json:"timestamp"`
	SampledValue []struct {
		Value     string `json:"value"`
		Context   string `json:"context"`
		Format    string `json:"format"`
		Measurand string `json:"measurand"`
		Phase     string `json:"phase"`
		Location  string `json:"location"`
		Unit      string `json:"unit"`
	} `json:"sampledValue"`
}

type meterValue201 struct {
	Timestamp    string `json:"timestamp"`
	SampledValue []struct {
		Value         json.Number `json:"value"`
		Context       string      `json:"context"`
		Measurand     string      `json:"measurand"`
		Phase         string      `json:"phase"`
		Location      string      `json:"location"`
		UnitOfMeasure *struct {
			Unit       string `json:"unit"`
			Multiplier int    `json:"multiplier"`
		} `json:"unitOfMeasure"`
	} `json:"sampledValue"`
}

// Defaults of a sampled value that leaves them out (OCPP 1.6 §7.43, 2.0.1 SampledValueType).
const (
	defaultMeasurand = "Energy.Active.Import.Register"
	defaultUnit      = "Wh"
)

// sample fills the defaults into s; at is when the meter value arrived, the timestamp of a
// meter value whose own cannot be read.
func sample(s Sample, at time.Time) Sample {
	if s.Measurand == "" {
		s.Measurand = defaultMeasurand
	}
	if s.Unit == "" {
		s.Unit = defaultUnit
	}
	if s.Timestamp.IsZero() {
		s.Timestamp = at
	}
	return s
}

func samples16(mvs []meterValue16, at time.Time) []Sample {
	var out []Sample
	for _, mv := range mvs {
		ts := parseTime(mv.Timestamp)
		for _, sv := range mv.SampledValue {
			out = append(out, sample(Sample{Timestamp: ts, Value: sv.Value, Context: sv.Context, Format: sv.Format,
				Measurand: sv.Measurand, Phase: sv.Phase, Location: sv.Location, Unit: sv.Unit}, at))
		}
	}
	return out
}

func samples201(mvs []meterValue201, at time.Time) []Sample {
	var out []Sample
	for _, mv := range mvs {
		ts := parseTime(mv.Timestamp)
		for _, sv := range mv.SampledValue {
			s := Sample{Timestamp: ts, Value: sv.Value.String(), Context: sv.Context, Measurand: sv.Measurand,
				Phase: sv.Phase, Location: sv.Location}
			if sv.UnitOfMeasure != nil {
				s.Unit, s.Multiplier = sv.UnitOfMeasure.Unit, sv.UnitOfMeasure.Multiplier
			}
			out = append(out, sample(s, at))
		}
	}
	return out
}

// energyWh returns the last Energy.Active.Import.Register sample in Wh.
func energyWh(samples []Sample) *float64 {
	var out *float64
	for _, s := range samples {
		if s.Measurand != defaultMeasurand {
			continue
		}
		if s.Phase != "" {
			continue
		}
		v, err := strconv.ParseFloat(s.Value, 64)
		if err != nil {
			continue
		}
		if strings.EqualFold(s.Unit, "kWh") {
			v *= 1000
		}
		v *= math.Pow10(s.Multiplier)
		out = &v
	}
	return out
}

func meterValues16(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		ConnectorID   int            `json:"connectorId"`
		TransactionID *int           `json:"transactionId"`
		MeterValue    []meterValue16 `json:"meterValue"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	now := c.s.cfg.Now()
	r := MeterValuesReport{Identity: c.identity, EVSESequence: req.ConnectorID, Samples: samples16(req.MeterValue, now), At: now}
	if req.TransactionID != nil {
		r.TransactionID = strconv.Itoa(*req.TransactionID)
	}
	if err := c.s.reg.RecordMeterValues(ctx, r); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func meterValues201(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		EVSEID     int             `json:"evseId"`
		MeterValue []meterValue201 `json:"meterValue"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	now := c.s.cfg.Now()
	r := MeterValuesReport{Identity: c.identity, EVSESequence: req.EVSEID, Samples: samples201(req.MeterValue, now), At: now}
	if err := c.s.reg.RecordMeterValues(ctx, r); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// Authorization: the registry decides (Registry.Authorize); these render its decision in each
// version's shape.

// noAuthorization is the 2.0.1 idToken type of a transaction that needs none (free vend
// configured on the station): there is nothing to look up.
const noAuthorization = "NoAuthorization"

func (c *conn) authorize(ctx context.Context, r AuthorizeRequest) (IDTokenInfo, error) {
	if r.Type == noAuthorization {
		return IDTokenInfo{Status: AuthorizationAccepted}, nil
	}
	r.Identity = c.identity
	return c.s.reg.Authorize(ctx, r)
}

// idTagInfo16 is the 1.6 IdTagInfo of a decision. parentIdTag is an IdToken of at most 20
// characters in 1.6: a longer group id is left out rather than breaking the schema.
func idTagInfo16(i IDTokenInfo) map[string]any {
	out := map[string]any{"status": i.Status}
	if i.GroupID != "" && len(i.GroupID) <= 20 {
		out["parentIdTag"] = i.GroupID
	}
	if i.ExpiryDate != nil {
		out["expiryDate"] = FormatTime(*i.ExpiryDate)
	}
	return out
}

// idTokenInfo201 is the 2.0.1 IdTokenInfoType of a decision; the group is a Central token
// (evroam made it up, no card carries it).
func idTokenInfo201(i IDTokenInfo) map[string]any {
	out := map[string]any{"status": i.Status}
	if i.GroupID != "" && len(i.GroupID) <= 36 {
		out["groupIdToken"] = map[string]string{"idToken": i.GroupID, "type": "Central"}
	}
	if i.ExpiryDate != nil {
		out["cacheExpiryDateTime"] = FormatTime(*i.ExpiryDate)
	}
	return out
}

func authorize16(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		IDTag string `json:"idTag"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	info, err := c.authorize(ctx, AuthorizeRequest{IDToken: req.IDTag, Start: true})
	if err != nil {
		return nil, err
	}
	return map[string]any{"idTagInfo": idTagInfo16(info)}, nil
}

func authorize201(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		IDToken struct {
			IDToken string `json:"idToken"`
			Type    string `json:"type"`
		} `json:"idToken"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	info, err := c.authorize(ctx, AuthorizeRequest{IDToken: req.IDToken.IDToken, Type: req.IDToken.Type, Start: true})
	if err != nil {
		return nil, err
	}
	return map[string]any{"idTokenInfo": idTokenInfo201(info)}, nil
}

func startTransaction16(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		ConnectorID   int    `json:"connectorId"`
		IDTag         string `json:"idTag"`
		MeterStart    int    `json:"meterStart"`
		ReservationID int    `json:"reservationId"`
		Timestamp     string `json:"timestamp"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	// Decided first: a registry that cannot decide fails the CALL before the transaction is
	// recorded, and the station sends it again.
	info, err := c.authorize(ctx, AuthorizeRequest{IDToken: req.IDTag, Start: true, EVSESequence: req.ConnectorID})
	if err != nil {
		return nil, err
	}
	id, err := c.s.reg.StartTransaction(ctx, TransactionStart{
		Identity: c.identity, EVSESequence: req.ConnectorID, IDTag: req.IDTag, MeterStartWh: req.MeterStart,
		ReservationID: req.ReservationID, Timestamp: parseTime(req.Timestamp), At: c.s.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"transactionId": id, "idTagInfo": idTagInfo16(info)}, nil
}

func stopTransaction16(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		TransactionID   int            `json:"transactionId"`
		IDTag           string         `json:"idTag"`
		MeterStop       int            `json:"meterStop"`
		Timestamp       string         `json:"timestamp"`
		Reason          string         `json:"reason"`
		TransactionData []meterValue16 `json:"transactionData"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	if req.Reason == "" {
		req.Reason = "Local" // OCPP 1.6 §6.51: an absent reason means Local
	}
	now := c.s.cfg.Now()
	err := c.s.reg.StopTransaction(ctx, TransactionStop{
		Identity: c.identity, TransactionID: req.TransactionID, IDTag: req.IDTag, MeterStopWh: req.MeterStop,
		Reason: req.Reason, Timestamp: parseTime(req.Timestamp), Samples: samples16(req.TransactionData, now), At: now,
	})
	if err != nil {
		return nil, err
	}
	if req.IDTag == "" {
		return struct{}{}, nil
	}
	info, err := c.authorize(ctx, AuthorizeRequest{IDToken: req.IDTag})
	if err != nil {
		return nil, err
	}
	return map[string]any{"idTagInfo": idTagInfo16(info)}, nil
}

func transactionEvent201(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		EventType       string `json:"eventType"`
		Timestamp       string `json:"timestamp"`
		TriggerReason   string `json:"triggerReason"`
		SeqNo           int    `json:"seqNo"`
		TransactionInfo struct {
			TransactionID string `json:"transactionId"`
			ChargingState string `json:"chargingState"`
			StoppedReason string `json:"stoppedReason"`
		} `json:"transactionInfo"`
		EVSE *struct {
			ID          int `json:"id"`
			ConnectorID int `json:"connectorId"`
		} `json:"evse"`
		IDToken *struct {
			IDToken string `json:"idToken"`
			Type    string `json:"type"`
		} `json:"idToken"`
		MeterValue []meterValue201 `json:"meterValue"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	now := c.s.cfg.Now()
	e := TransactionEvent{
		Identity: c.identity, TransactionID: req.TransactionInfo.TransactionID, EventType: req.EventType,
		TriggerReason: req.TriggerReason, SeqNo: req.SeqNo, ChargingState: req.TransactionInfo.ChargingState,
		StoppedReason: req.TransactionInfo.StoppedReason, Samples: samples201(req.MeterValue, now),
		Timestamp: parseTime(req.Timestamp), At: now,
	}
	if req.EVSE != nil {
		e.EVSESequence, e.ConnectorID = req.EVSE.ID, req.EVSE.ConnectorID
	}
	if req.IDToken != nil {
		e.IDToken, e.IDTokenType = req.IDToken.IDToken, req.IDToken.Type
	}
	e.MeterWh = energyWh(e.Samples)
	var info IDTokenInfo
	if req.IDToken != nil {
		var err error
		if info, err = c.authorize(ctx, AuthorizeRequest{IDToken: req.IDToken.IDToken, Type: req.IDToken.Type,
			Start: req.EventType == "Started", EVSESequence: e.EVSESequence}); err != nil {
			return nil, err
		}
	}
	if err := c.s.reg.RecordTransactionEvent(ctx, e); err != nil {
		return nil, err
	}
	if req.IDToken == nil {
		return struct{}{}, nil
	}
	return map[string]any{"idTokenInfo": idTokenInfo201(info)}, nil
}

// dataTransfer records a station's DataTransfer and answers UnknownVendorId: evroam has no
// vendor extensions.
func dataTransfer(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		VendorID  string          `json:"vendorId"`
		MessageID string          `json:"messageId"`
		Data      json.RawMessage `json:"data"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	const status = "UnknownVendorId"
	err := c.s.reg.RecordDataTransfer(ctx, DataTransfer{
		Identity: c.identity, Direction: DirectionIn, VendorID: req.VendorID, MessageID: req.MessageID,
		Data: req.Data, Status: status, At: c.s.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"status": status}, nil
}

func notifyReport201(ctx context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		ReportData []struct {
			Component         Component `json:"component"`
			Variable          Variable  `json:"variable"`
			VariableAttribute []struct {
				Type       string  `json:"type"`
				Value      *string `json:"value"`
				Mutability string  `json:"mutability"`
			} `json:"variableAttribute"`
		} `json:"reportData"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	var values []ConfigurationValue
	for _, rd := range req.ReportData {
		for _, va := range rd.VariableAttribute {
			v := configValue201(VariableRef{Component: rd.Component, Variable: rd.Variable, AttributeType: va.Type})
			v.Mutability = va.Mutability
			v.ReadOnly = va.Mutability == "ReadOnly"
			if va.Value != nil {
				v.Value, v.HasValue = *va.Value, true
			}
			values = append(values, redactConfig(v))
		}
	}
	if len(values) > 0 {
		if err := c.s.reg.RecordConfiguration(ctx, c.identity, values); err != nil {
			return nil, err
		}
	}
	return struct{}{}, nil
}

// afterCall records what the registry keeps of calls we made: configuration read with
// GetConfiguration/GetVariables or changed with ChangeConfiguration/SetVariables, and
// DataTransfer exchanges.
func (s *Server) afterCall(c *conn, action string, req, res json.RawMessage, callErr error) {
	ctx, cancel := s.registryCtx()
	defer cancel()
	var err error
	switch action {
	case "DataTransfer":
		var rq struct {
			VendorID  string          `json:"vendorId"`
			MessageID string          `json:"messageId"`
			Data      json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(req, &rq)
		d := DataTransfer{Identity: c.identity, Direction: DirectionOut, VendorID: rq.VendorID, MessageID: rq.MessageID,
			Data: rq.Data, At: s.cfg.Now()}
		if callErr == nil || len(res) > 0 {
			var rs struct {
				Status string          `json:"status"`
				Data   json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(res, &rs)
			d.Status, d.ResponseData = rs.Status, rs.Data
		}
		if callErr != nil {
			if ce, ok := callErr.(*CallError); ok {
				d.Error = ce.Code
			} else if callErr == ErrTimeout {
				d.Error = "timeout"
			} else {
				d.Error = callErr.Error()
			}
		}
		err = s.reg.RecordDataTransfer(ctx, d)
	case "GetConfiguration":
		if callErr != nil || c.proto != ProtocolOCPP16 {
			return
		}
		var rs struct {
			ConfigurationKey []struct {
				Key      string  `json:"key"`
				ReadOnly bool    `json:"readonly"`
				Value    *string `json:"value"`
			} `json:"configurationKey"`
			UnknownKey []string `json:"unknownKey"`
		}
		if json.Unmarshal(res, &rs) != nil {
			return
		}
		var values []ConfigurationValue
		for _, k := range rs.ConfigurationKey {
			v := ConfigurationValue{Key: k.Key, ReadOnly: k.ReadOnly}
			if k.Value != nil {
				v.Value, v.HasValue = *k.Value, true
			}
			values = append(values, redactConfig(v))
		}
		for _, k := range rs.UnknownKey {
			values = append(values, ConfigurationValue{Key: k, Unknown: true})
		}
		if len(values) > 0 {
			err = s.reg.RecordConfiguration(ctx, c.identity, values)
		}
	case "GetVariables":
		if callErr != nil || c.proto != ProtocolOCPP201 {
			return
		}
		var rs GetVariablesResponse
		if json.Unmarshal(res, &rs) != nil {
			return
		}
		var values []ConfigurationValue
		for _, r := range rs.GetVariableResult {
			v := configValue201(r.VariableRef)
			v.Unknown = r.AttributeStatus != "Accepted"
			if r.AttributeValue != nil {
				v.Value, v.HasValue = *r.AttributeValue, true
			}
			values = append(values, redactConfig(v))
		}
		if len(values) > 0 {
			err = s.reg.RecordConfiguration(ctx, c.identity, values)
		}
	case "ChangeConfiguration", "SetVariables":
		if callErr != nil {
			return
		}
		if values := s.recordConfigurationChange(c, action, req, res); len(values) > 0 {
			err = s.reg.RecordConfiguration(ctx, c.identity, values)
		}
	default:
		return
	}
	if err != nil {
		s.log.Error("ocpp: record result of "+action, "identity", c.identity, "err", err)
	}
}
