package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/ocpi"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/stationreports"
)

// gatewayRegistry is the OCPP gateway's view of the registry (ocpp.Registry). It only maps
// types: the gateway speaks OCPP, stationreports speaks registry and holds the rules.
type gatewayRegistry struct {
	reports *stationreports.Service
	tokens  *ocpi.Authorizer // the network's own tokens and roaming partners' tokens
}

var (
	_ ocpp.Registry                  = gatewayRegistry{}
	_ ocpp.FirmwareStatusRecorder    = gatewayRegistry{}
	_ ocpp.DiagnosticsStatusRecorder = gatewayRegistry{}
)

func (g gatewayRegistry) LookupStation(ctx context.Context, identity string) (ocpp.Station, error) {
	st, err := g.reports.LookupStation(ctx, identity)
	if errors.Is(err, chargestations.ErrNotFound) {
		return ocpp.Station{}, ocpp.ErrUnknownStation
	}
	if err != nil {
		return ocpp.Station{}, err
	}
	return ocpp.Station{Identity: st.Identity, SecurityProfile: int(st.SecurityProfile),
		PendingSecurityProfile: int(st.PendingSecurityProfile), VerifyPassword: st.VerifyPassword, HasBootData: st.HasBootData, FirmwareVersion: st.FirmwareVersion,
		HasConfiguration: st.HasConfiguration, HasOperators: st.HasOperators}, nil
}

func (g gatewayRegistry) RecordConnect(ctx context.Context, c ocpp.ConnectInfo) error {
	return g.reports.RecordConnect(ctx, c.Identity, stationreports.ConnectInfo{
		ProtocolVersion: schema.ProtocolVersion(c.ProtocolVersion), ClientIPAddress: c.ClientIP,
		Endpoint: c.Endpoint, At: c.At, UpgradedProfile: schema.SecurityProfile(c.UpgradedProfile)})
}

func (g gatewayRegistry) RecordDisconnect(ctx context.Context, identity string, at time.Time) error {
	return g.reports.RecordDisconnect(ctx, identity, at)
}

func (g gatewayRegistry) RecordBoot(ctx context.Context, identity string, b ocpp.BootInfo) error {
	return g.reports.RecordBoot(ctx, identity, chargestations.BootInfo{
		ChargePointVendor: b.Vendor, ChargePointModel: b.Model, ChargePointSerialNumber: b.ChargePointSerialNumber,
		ChargeBoxSerialNumber: b.ChargeBoxSerialNumber, FirmwareVersion: b.FirmwareVersion, ICCID: b.ICCID,
		IMSI: b.IMSI, MeterType: b.MeterType, MeterSerialNumber: b.MeterSerialNumber,
		HeartbeatInterval: int(b.HeartbeatInterval / time.Second), At: b.At})
}

func (g gatewayRegistry) RecordHeartbeats(ctx context.Context, hs []ocpp.Heartbeat) error {
	beats := make(map[string]time.Time, len(hs))
	for _, h := range hs {
		beats[h.Identity] = h.At
	}
	return g.reports.RecordHeartbeats(ctx, beats)
}

func (g gatewayRegistry) RecordLoginFailures(ctx context.Context, fs []ocpp.LoginFailure) error {
	out := make([]chargestations.LoginFailure, len(fs))
	for i, f := range fs {
		out[i] = chargestations.LoginFailure{Identity: f.Identity, Reason: f.Reason, At: f.At}
	}
	return g.reports.RecordLoginFailures(ctx, out)
}

func (g gatewayRegistry) RecordStatus(ctx context.Context, s ocpp.StatusReport) error {
	return g.reports.RecordStatus(ctx, stationreports.StatusReport{Identity: s.Identity, EVSESequence: s.EVSESequence,
		ConnectorID: s.ConnectorID, OCPPStatus: s.OCPPStatus, ErrorCode: s.ErrorCode, Info: s.Info,
		VendorErrorCode: s.VendorErrorCode, ReportedAt: s.Timestamp, At: s.At})
}

func (g gatewayRegistry) AppendMessages(ctx context.Context, ms []ocpp.Message) error {
	out := make([]stationlogs.Message, len(ms))
	for i, m := range ms {
		out[i] = stationlogs.Message{StationID: m.Identity, Direction: m.Direction, MessageType: m.MessageType,
			MessageID: m.MessageID, Action: m.Action, Payload: m.Payload, Operator: m.Operator, Created: m.At}
	}
	return g.reports.AppendMessages(ctx, out)
}

func samples(ss []ocpp.Sample) []sessions.Sample {
	out := make([]sessions.Sample, len(ss))
	for i, s := range ss {
		out[i] = sessions.Sample{Timestamp: s.Timestamp, Value: s.Value, Measurand: s.Measurand, Phase: s.Phase,
			Unit: s.Unit, Multiplier: s.Multiplier}
	}
	return out
}

// orReceived is the station's timestamp, or when the frame arrived if it sent none.
func orReceived(ts, at time.Time) time.Time {
	if ts.IsZero() {
		return at
	}
	return ts
}

func (g gatewayRegistry) RecordMeterValues(ctx context.Context, m ocpp.MeterValuesReport) error {
	return g.reports.RecordMeterValues(ctx, sessions.Report{StationID: m.Identity, TransactionID: m.TransactionID,
		EVSESequenceNumber: m.EVSESequence, Samples: samples(m.Samples), Timestamp: m.At, At: m.At})
}

// In OCPP 1.6 a connectorId is an EVSE with one connector: sessions of 1.6 stations are on
// connector 1 of their EVSE.
const connector16 = 1

func (g gatewayRegistry) StartTransaction(ctx context.Context, t ocpp.TransactionStart) (int, error) {
	id, err := g.reports.StartTransaction(ctx, sessions.Start{StationID: t.Identity, EVSESequenceNumber: t.EVSESequence,
		ConnectorID: connector16, IDTag: t.IDTag, MeterStartWh: float64(t.MeterStartWh), Timestamp: orReceived(t.Timestamp, t.At), At: t.At})
	if errors.Is(err, chargestations.ErrNotFound) {
		return 0, ocpp.ErrUnknownStation
	}
	return id, err
}

// A 1.6 StopTransaction for a transaction evroam does not know is still accepted (the station
// would resend it forever) and kept as an INVALID session.
func (g gatewayRegistry) StopTransaction(ctx context.Context, t ocpp.TransactionStop) error {
	meter := float64(t.MeterStopWh)
	stopped := orReceived(t.Timestamp, t.At)
	r := sessions.Report{StationID: t.Identity, TransactionID: strconv.Itoa(t.TransactionID), Create: true, InvalidIfNew: true,
		MeterStopWh: &meter, StoppedAt: &stopped, StopReason: t.Reason, Timestamp: stopped, Samples: samples(t.Samples), At: t.At}
	if t.IDTag != "" {
		r.StopTokenUID, r.TokenType = t.IDTag, sessions.TokenTypeRFID
	}
	return g.reports.UpdateTransaction(ctx, r)
}

func (g gatewayRegistry) RecordTransactionEvent(ctx context.Context, e ocpp.TransactionEvent) error {
	ts := orReceived(e.Timestamp, e.At)
	r := sessions.Report{StationID: e.Identity, TransactionID: e.TransactionID, EVSESequenceNumber: e.EVSESequence,
		ConnectorID: e.ConnectorID, TokenUID: e.IDToken, TokenType: sessions.TokenType(e.IDTokenType), Create: true,
		ChargingState: e.ChargingState, Timestamp: ts, Samples: samples(e.Samples), At: e.At}
	switch e.EventType {
	case "Started":
		r.StartedAt, r.MeterStartWh = &ts, e.MeterWh
	case "Ended":
		r.StoppedAt, r.MeterStopWh, r.StopReason = &ts, e.MeterWh, e.StoppedReason
		// The idToken of an Ended event is the one that stopped the transaction.
		r.TokenUID, r.StopTokenUID = "", e.IDToken
		if r.StopReason == "" {
			r.StopReason = "Local" // OCPP 2.0.1: stoppedReason may only be left out when it is Local
		}
	}
	if err := g.reports.UpdateTransaction(ctx, r); err != nil {
		return err
	}
	// The EVSE's live status follows the transaction's charging state. Most events are
	// periodic meter values that say nothing of it: they cost no second write.
	if e.ChargingState == "" && e.EventType != "Started" && e.EventType != "Ended" {
		return nil
	}
	return g.reports.RecordTransactionState(ctx, evse.TransactionState{Identity: e.Identity, SequenceNumber: e.EVSESequence,
		TransactionID: e.TransactionID, ChargingState: e.ChargingState, Ended: e.EventType == "Ended", At: e.At})
}

func (g gatewayRegistry) RecordDataTransfer(ctx context.Context, d ocpp.DataTransfer) error {
	return g.reports.RecordDataTransfer(ctx, stationlogs.DataTransfer{StationID: d.Identity, Direction: d.Direction,
		VendorID: d.VendorID, MessageID: d.MessageID, Data: d.Data, Status: d.Status, ResponseData: d.ResponseData,
		Error: d.Error, Created: d.At})
}

// RecordFirmwareStatus implements ocpp.FirmwareStatusRecorder.
func (g gatewayRegistry) RecordFirmwareStatus(ctx context.Context, f ocpp.FirmwareStatus) error {
	return g.reports.RecordFirmwareStatus(ctx, stationlogs.FirmwareStatus{StationID: f.Identity, Status: f.Status,
		RequestID: f.RequestID, Created: f.At})
}

// RecordDiagnosticsStatus implements ocpp.DiagnosticsStatusRecorder.
func (g gatewayRegistry) RecordDiagnosticsStatus(ctx context.Context, f ocpp.FirmwareStatus) error {
	return g.reports.RecordDiagnosticsStatus(ctx, f.Identity, f.Status)
}

func (g gatewayRegistry) RecordConfiguration(ctx context.Context, identity string, values []ocpp.ConfigurationValue) error {
	out := make([]stationlogs.ConfigurationValue, len(values))
	for i, v := range values {
		out[i] = stationlogs.ConfigurationValue{Key: v.Key, ReadOnly: v.ReadOnly, Unknown: v.Unknown,
			Component: v.Component, Variable: v.Variable, Mutability: v.Mutability}
		if v.HasValue {
			val := v.Value
			out[i].Value = &val
		}
	}
	return g.reports.RecordConfiguration(ctx, identity, out)
}

// RecordCertificate implements ocpp.CertificateRecorder: the certificates the gateway signs go
// to the station's certificate log.
func (g gatewayRegistry) RecordCertificate(ctx context.Context, identity string, c ocpp.SignedCertificate) error {
	return g.reports.RecordCertificate(ctx, stationlogs.Certificate{StationID: identity, CertificateType: "ChargingStationCertificate",
		SerialNumber: c.SerialNumber, Subject: c.Subject, Issuer: c.Issuer, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		Status: c.Status, Created: c.At})
}

func (g gatewayRegistry) Authorize(ctx context.Context, r ocpp.AuthorizeRequest) (ocpp.IDTokenInfo, error) {
	d, err := g.tokens.Authorize(ctx, r.Identity, r.IDToken, r.Start, r.EVSESequence)
	if err != nil {
		return ocpp.IDTokenInfo{}, err
	}
	return ocpp.IDTokenInfo{Status: d.Status, GroupID: d.GroupID, ExpiryDate: d.ExpiryDate}, nil
}
