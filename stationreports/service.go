// Package stationreports records what charge stations report over OCPP into the registry:
// connections, boot data, heartbeats, statuses, the message log, meter values, transactions,
// data transfers and configuration. It owns the rules of turning a report into registry
// data (an OCPP status becomes an OCPI status and a friendly one; a booted station is
// remotely manageable; a status report changes the EVSE and the status log together) and the
// transactions that span stores. It speaks the registry's types, not OCPP's: cmd/evroam maps
// the gateway's reports onto this service, so neither side imports the other.
//
// None of these writes changes an etag: they record what a station reports, not changes made
// through the API.
package stationreports

import (
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/jmoiron/sqlx"
)

// Service records station reports.
type Service struct {
	db       *sqlx.DB
	stations *chargestations.Store
	evses    *evse.Store
	logs     *stationlogs.Store
	sessions *sessions.Store
	now      func() time.Time
	// passwords remembers successful password checks, so that a reconnect storm does not pay
	// bcrypt for every station again.
	passwords secret.Verifier
}

// NewService returns a Service. now may be nil (time.Now).
func NewService(db *sqlx.DB, stations *chargestations.Store, evses *evse.Store, logs *stationlogs.Store,
	sess *sessions.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, stations: stations, evses: evses, logs: logs, sessions: sess, now: now}
}

// Station is what the gateway needs to admit a station's connection.
type Station struct {
	Identity        string
	SecurityProfile schema.SecurityProfile
	// VerifyPassword reports whether a candidate is the station's OCPP password; nil when no
	// password is set. The stored hash never leaves this package.
	VerifyPassword func(candidate string) bool
	// HasBootData: an earlier BootNotification was accepted (its data is on record).
	HasBootData bool
}

// LookupStation returns the station with OCPP identity, whatever its network.
// Errors: chargestations.ErrNotFound.
func (s *Service) LookupStation(ctx context.Context, identity string) (Station, error) {
	st, err := s.stations.LookupForGateway(ctx, identity)
	if err != nil {
		return Station{}, err
	}
	out := Station{Identity: identity, SecurityProfile: st.SecurityProfile, HasBootData: st.HasBootData}
	if st.PasswordHash != "" {
		hash := st.PasswordHash
		out.VerifyPassword = func(candidate string) bool { return s.passwords.Verify(identity, hash, candidate) }
	}
	return out, nil
}

// RecordConnect marks the station Online with its protocol, address and endpoint.
// Errors: chargestations.ErrNotFound.
func (s *Service) RecordConnect(ctx context.Context, identity string, c chargestations.ConnectInfo) error {
	return s.stations.RecordConnect(ctx, identity, c)
}

// RecordDisconnect marks the station Offline. Errors: chargestations.ErrNotFound.
func (s *Service) RecordDisconnect(ctx context.Context, identity string, at time.Time) error {
	return s.stations.RecordDisconnect(ctx, identity, at)
}

// RecordBoot stores the boot data of an accepted BootNotification; the first one onboards the
// station. A station that booted over OCPP can be managed remotely.
// Errors: chargestations.ErrNotFound.
func (s *Service) RecordBoot(ctx context.Context, identity string, b chargestations.BootInfo) error {
	remote := true
	b.RemoteManageable = &remote
	return s.stations.RecordBoot(ctx, identity, b)
}

// RecordHeartbeats stores the last heartbeat of many stations (identity → time) at once.
func (s *Service) RecordHeartbeats(ctx context.Context, beats map[string]time.Time) error {
	return s.stations.RecordHeartbeats(ctx, beats)
}

// StatusReport is one status a station reported for one of its EVSEs (or the whole station).
type StatusReport struct {
	Identity string
	// EVSESequence is the EVSE's evse_sequence_number (1.6 connectorId, 2.0.1 evseId); 0 is
	// the whole station.
	EVSESequence    int
	ConnectorID     int    // 2.0.1 connector within the EVSE; 0 for 1.6
	OCPPStatus      string // as the station sent it
	ErrorCode       string
	Info            string
	VendorErrorCode string
	ReportedAt      time.Time // the station's own timestamp; zero when it sent none
	At              time.Time // when it was received
}

// RecordStatus updates the EVSE and appends to the status log in one transaction, so the two
// never disagree. The OCPP status is kept raw and mapped to its OCPI and friendly status
// (schema). A report for connector 0 (the whole station) or for an EVSE the registry does not
// know is logged only: the registry's EVSEs are what the operator configured.
func (s *Service) RecordStatus(ctx context.Context, r StatusReport) error {
	ocpi := schema.StatusFromOCPP(r.OCPPStatus)
	entry := stationlogs.StatusEntry{StationID: r.Identity, EVSESequenceNumber: r.EVSESequence, ConnectorID: r.ConnectorID,
		OCPPStatus: r.OCPPStatus, ErrorCode: r.ErrorCode, Info: r.Info, VendorErrorCode: r.VendorErrorCode,
		OCPIStatus: string(ocpi), FriendlyStatus: schema.FriendlyStatus(r.OCPPStatus), Created: r.At}
	if !r.ReportedAt.IsZero() {
		ts := r.ReportedAt
		entry.ReportedAt = &ts
	}
	return database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if r.EVSESequence > 0 {
			err := s.evses.WithTx(tx).SetStatus(ctx, r.Identity, r.EVSESequence, r.OCPPStatus, ocpi, r.At)
			if err != nil && !errors.Is(err, evse.ErrNotFound) {
				return err
			}
		}
		return s.logs.WithTx(tx).AppendStatus(ctx, entry)
	})
}

// AppendMessages appends frames of any number of stations to the message log, in order.
func (s *Service) AppendMessages(ctx context.Context, ms []stationlogs.Message) error {
	return s.logs.AppendMessages(ctx, ms)
}

// RecordMeterValues keeps the latest sample per station, EVSE, measurand and phase.
func (s *Service) RecordMeterValues(ctx context.Context, vs []sessions.MeterValue) error {
	return s.sessions.MergeMeterValues(ctx, vs)
}

// StartTransaction records a transaction start and returns the id the station must use
// (OCPP 1.6, where the central system makes transaction ids).
func (s *Service) StartTransaction(ctx context.Context, t sessions.Transaction) (int, error) {
	return s.sessions.StartTransaction(ctx, t)
}

// UpdateTransaction records what a station reports of a transaction it already has an id
// for (1.6 StopTransaction, 2.0.1 TransactionEvent): the fields set overwrite, the rest stay.
func (s *Service) UpdateTransaction(ctx context.Context, t sessions.Transaction) error {
	return s.sessions.UpsertTransaction(ctx, t)
}

// RecordDataTransfer stores one DataTransfer exchange, in either direction.
func (s *Service) RecordDataTransfer(ctx context.Context, d stationlogs.DataTransfer) error {
	return s.logs.AppendDataTransfer(ctx, d)
}

// RecordConfiguration merges configuration values read from (or accepted by) a station,
// stamped with the time they were recorded.
func (s *Service) RecordConfiguration(ctx context.Context, identity string, values []stationlogs.ConfigurationValue) error {
	now := s.now()
	for i := range values {
		values[i].Updated = now
	}
	return s.logs.MergeConfiguration(ctx, identity, values)
}
