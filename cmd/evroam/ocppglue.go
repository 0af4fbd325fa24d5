package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/stationlogs"
	"github.com/jmoiron/sqlx"
)

// gatewayRegistry is the OCPP gateway's view of the registry (ocpp.Registry). It is the only
// place that knows both sides: the gateway speaks OCPP, the stores speak registry.
type gatewayRegistry struct {
	db       *sqlx.DB
	stations *chargestations.Store
	evses    *evse.Store
	logs     *stationlogs.Store
	log      *slog.Logger

	// verified remembers, per station, the password hash and the digest of the password that
	// last matched it, so reconnects skip bcrypt's deliberate cost. A changed hash (a new
	// ocpp_password) or another password misses the cache.
	verified sync.Map // identity → verifiedPassword
}

type verifiedPassword struct {
	hash   string
	digest [32]byte
}

var _ ocpp.Registry = (*gatewayRegistry)(nil)

func newGatewayRegistry(db *sqlx.DB, stations *chargestations.Store, evses *evse.Store, logs *stationlogs.Store, log *slog.Logger) *gatewayRegistry {
	return &gatewayRegistry{db: db, stations: stations, evses: evses, logs: logs, log: log}
}

func (g *gatewayRegistry) LookupStation(ctx context.Context, identity string) (ocpp.Station, error) {
	st, err := g.stations.LookupForGateway(ctx, identity)
	if errors.Is(err, chargestations.ErrNotFound) {
		return ocpp.Station{}, ocpp.ErrUnknownStation
	}
	if err != nil {
		return ocpp.Station{}, err
	}
	out := ocpp.Station{Identity: identity, SecurityProfile: int(st.SecurityProfile), HasBootData: st.HasBootData}
	if st.PasswordHash != "" {
		hash := st.PasswordHash
		out.VerifyPassword = func(candidate string) bool { return g.verify(identity, hash, candidate) }
	}
	return out, nil
}

func (g *gatewayRegistry) verify(identity, hash, candidate string) bool {
	digest := sha256.Sum256([]byte(candidate))
	if v, ok := g.verified.Load(identity); ok {
		if vp := v.(verifiedPassword); vp.hash == hash && vp.digest == digest {
			return true
		}
	}
	if !secret.Verify(hash, candidate) {
		return false
	}
	g.verified.Store(identity, verifiedPassword{hash: hash, digest: digest})
	return true
}

func (g *gatewayRegistry) RecordConnect(ctx context.Context, c ocpp.ConnectInfo) error {
	return g.stations.RecordConnect(ctx, c.Identity, chargestations.ConnectInfo{
		ProtocolVersion: schema.ProtocolVersion(c.ProtocolVersion), ClientIPAddress: c.ClientIP,
		Endpoint: c.Endpoint, At: c.At})
}

func (g *gatewayRegistry) RecordDisconnect(ctx context.Context, identity string, at time.Time) error {
	return g.stations.RecordDisconnect(ctx, identity, at)
}

func (g *gatewayRegistry) RecordBoot(ctx context.Context, identity string, b ocpp.BootInfo) error {
	remote := true // it just talked OCPP to us: it can be managed remotely
	return g.stations.RecordBoot(ctx, identity, chargestations.BootInfo{
		ChargePointVendor: b.Vendor, ChargePointModel: b.Model, ChargePointSerialNumber: b.ChargePointSerialNumber,
		ChargeBoxSerialNumber: b.ChargeBoxSerialNumber, FirmwareVersion: b.FirmwareVersion, ICCID: b.ICCID,
		IMSI: b.IMSI, MeterType: b.MeterType, MeterSerialNumber: b.MeterSerialNumber,
		HeartbeatInterval: int(b.HeartbeatInterval / time.Second), RemoteManageable: &remote, At: b.At})
}

func (g *gatewayRegistry) RecordHeartbeats(ctx context.Context, hs []ocpp.Heartbeat) error {
	beats := make(map[string]time.Time, len(hs))
	for _, h := range hs {
		beats[h.Identity] = h.At
	}
	return g.stations.RecordHeartbeats(ctx, beats)
}

// RecordStatus updates the EVSE and appends to the status log in one transaction. A report
// for connector 0 (the whole station) or for an EVSE the registry does not know is logged
// only: the registry's EVSEs are what the operator configured.
func (g *gatewayRegistry) RecordStatus(ctx context.Context, s ocpp.StatusReport) error {
	ocpi := schema.StatusFromOCPP(s.OCPPStatus)
	entry := stationlogs.StatusEntry{StationID: s.Identity, EVSESequenceNumber: s.EVSESequence, ConnectorID: s.ConnectorID,
		OCPPStatus: s.OCPPStatus, ErrorCode: s.ErrorCode, Info: s.Info, VendorErrorCode: s.VendorErrorCode,
		OCPIStatus: string(ocpi), FriendlyStatus: schema.FriendlyStatus(s.OCPPStatus), Created: s.At}
	if !s.Timestamp.IsZero() {
		ts := s.Timestamp
		entry.ReportedAt = &ts
	}
	return database.InTx(ctx, g.db, func(tx *sqlx.Tx) error {
		if s.EVSESequence > 0 {
			err := g.evses.WithTx(tx).SetStatus(ctx, s.Identity, s.EVSESequence, s.OCPPStatus, ocpi, s.At)
			if err != nil && !errors.Is(err, evse.ErrNotFound) {
				return err
			}
		}
		return stationlogs.AppendStatus(ctx, tx, entry)
	})
}

func (g *gatewayRegistry) AppendMessages(ctx context.Context, ms []ocpp.Message) error {
	out := make([]stationlogs.Message, len(ms))
	for i, m := range ms {
		out[i] = stationlogs.Message{StationID: m.Identity, Direction: m.Direction, MessageType: m.MessageType,
			MessageID: m.MessageID, Action: m.Action, Payload: m.Payload, Created: m.At}
	}
	return g.logs.AppendMessages(ctx, out)
}

func (g *gatewayRegistry) RecordMeterValues(ctx context.Context, m ocpp.MeterValuesReport) error {
	out := make([]stationlogs.MeterValue, 0, len(m.Samples))
	for _, s := range m.Samples {
		measurand, unit := s.Measurand, s.Unit
		if measurand == "" {
			measurand = "Energy.Active.Import.Register"
		}
		if unit == "" {
			unit = "Wh"
		}
		at := s.Timestamp
		if at.IsZero() {
			at = m.At
		}
		out = append(out, stationlogs.MeterValue{StationID: m.Identity, EVSESequenceNumber: m.EVSESequence,
			Measurand: measurand, Phase: s.Phase, Value: s.Value, Unit: unit, SampledAt: at})
	}
	return g.logs.MergeMeterValues(ctx, out)
}

func (g *gatewayRegistry) StartTransaction(ctx context.Context, t ocpp.TransactionStart) (int, error) {
	meter := float64(t.MeterStartWh)
	started := t.Timestamp
	return g.logs.StartTransaction(ctx, stationlogs.Transaction{StationID: t.Identity, EVSESequenceNumber: t.EVSESequence,
		IDTag: t.IDTag, MeterStartWh: &meter, StartedAt: &started, Updated: t.At})
}

func (g *gatewayRegistry) StopTransaction(ctx context.Context, t ocpp.TransactionStop) error {
	meter := float64(t.MeterStopWh)
	stopped := t.Timestamp
	reason := t.Reason
	if reason == "" {
		reason = "Local" // OCPP 1.6: an absent reason means Local
	}
	return g.logs.UpsertTransaction(ctx, stationlogs.Transaction{StationID: t.Identity, TransactionID: strconv.Itoa(t.TransactionID),
		IDTag: t.IDTag, MeterStopWh: &meter, StoppedAt: &stopped, StopReason: reason, Updated: t.At})
}

func (g *gatewayRegistry) RecordTransactionEvent(ctx context.Context, e ocpp.TransactionEvent) error {
	tx := stationlogs.Transaction{StationID: e.Identity, TransactionID: e.TransactionID, EVSESequenceNumber: e.EVSESequence,
		IDTag: e.IDToken, Updated: e.At}
	ts := e.Timestamp
	switch e.EventType {
	case "Started":
		tx.StartedAt, tx.MeterStartWh = &ts, e.MeterWh
	case "Ended":
		tx.StoppedAt, tx.MeterStopWh, tx.StopReason = &ts, e.MeterWh, e.StoppedReason
	}
	return g.logs.UpsertTransaction(ctx, tx)
}

func (g *gatewayRegistry) RecordDataTransfer(ctx context.Context, d ocpp.DataTransfer) error {
	return g.logs.AppendDataTransfer(ctx, stationlogs.DataTransfer{StationID: d.Identity, Direction: d.Direction,
		VendorID: d.VendorID, MessageID: d.MessageID, Data: d.Data, Status: d.Status, ResponseData: d.ResponseData,
		Error: d.Error, Created: d.At})
}

func (g *gatewayRegistry) RecordConfiguration(ctx context.Context, identity string, values []ocpp.ConfigurationValue) error {
	now := time.Now()
	out := make([]stationlogs.ConfigurationValue, len(values))
	for i, v := range values {
		out[i] = stationlogs.ConfigurationValue{Key: v.Key, ReadOnly: v.ReadOnly, Unknown: v.Unknown,
			Component: v.Component, Variable: v.Variable, Mutability: v.Mutability, Updated: now}
		if v.HasValue {
			val := v.Value
			out[i].Value = &val
		}
	}
	return g.logs.MergeConfiguration(ctx, identity, out)
}

// ocppHandler serves the OCPP gateway.
func (a *app) ocppHandler() http.Handler { return a.gateway }

// closeGateway closes the gateway's WebSocket connections (http.Server.Shutdown leaves hijacked
// connections open), flushes its batched writes and leaves the cluster.
func (a *app) closeGateway(ctx context.Context) {
	if err := a.node.Close(ctx); err != nil {
		a.log.Warn("closing the OCPP gateway", "err", err)
	}
}
