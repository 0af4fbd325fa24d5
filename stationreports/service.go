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
	"log/slog"
	"sync"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/batch"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/jmoiron/sqlx"
)

// Service records station reports.
//
// Reports that thousands of stations send at once (connections, boots, statuses,
// transactions and meter values) are written in batches (package batch, group commit): a
// call waits until its report is committed, but many calls share one transaction. Reports of
// one station keep their order.
// Heartbeats and the message log are batched by the gateway itself.
type Service struct {
	db        *sqlx.DB
	stations  *chargestations.Store
	evses     *evse.Store
	logs      *stationlogs.Store
	sessions  *sessions.Store
	passwords *secret.Passwords
	// changed is told, after the commit, which stations a write changed, so that this
	// node's cached answers of them go (chargestations.AnswerCache); nil: nobody to tell.
	changed func(ids ...string)
	now     func() time.Time
	log     *slog.Logger

	// connections carries connects, disconnects and boots: one batcher, so that a
	// reconnecting station's connect and boot, which come milliseconds apart, usually share
	// a batch and its row is written once (chargestations.Store.RecordConnections).
	connections *batch.Batcher[connectionReport]
	statuses    *batch.Batcher[StatusReport]
	// sessionReports carries transaction starts, reports and meter values (sessionItem).
	sessionReports *batch.Batcher[sessionItem]
	firmware       *batch.Batcher[stationlogs.FirmwareStatus]
	diagnostics    *batch.Batcher[diagnosticsStatus]
	// configurations carries the configuration read from stations (GetConfiguration,
	// GetVariables) and changes they accepted: every station that boots for the first time
	// has its configuration read, all at once in a boot storm.
	configurations *batch.Batcher[stationlogs.StationConfiguration]
	// lookups: the logins' station lookups, many in one statement (a reconnect storm is
	// thousands of logins a second, and one statement each was the storm's most frequent).
	lookups *batch.Batcher[*stationLookup]

	// followers follows the status batches up (statusFollower).
	followers *statusFollower

	// locations maps a station's identity to its location as its last connection found it:
	// status reports are sharded by location (locationOf).
	locations sync.Map
}

// locationOf is the shard key of a station's status and connection reports: its location,
// so that the batches running side by side touch disjoint locations. Each batch's commit
// publishes to OCPI under a lock per location it changed (migration 0016); sharded by station,
// the stations of one location were spread over every shard, and the shards' commits waited
// for each other's location locks. A station's reports all take the same key (the location
// its connection found: a move takes effect at its next connection), so their order is
// kept; a station not looked up on this node is its own key.
func (s *Service) locationOf(identity string) string {
	if l, ok := s.locations.Load(identity); ok {
		return l.(string)
	}
	return identity
}

// diagnosticsStatus is a station's latest log upload status.
type diagnosticsStatus struct{ identity, status string }

// NewService returns a Service; Close stops its batchers. passwords checks station passwords
// (with the key the API stores verifiers with); now may be nil (time.Now).
func NewService(db *sqlx.DB, stations *chargestations.Store, evses *evse.Store, logs *stationlogs.Store,
	sess *sessions.Store, passwords *secret.Passwords, changed func(ids ...string), now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if passwords == nil {
		passwords = &secret.Passwords{}
	}
	if log == nil {
		log = slog.Default()
	}
	if changed == nil {
		changed = func(...string) {}
	}
	s := &Service{db: db, stations: stations, evses: evses, logs: logs, sessions: sess, passwords: passwords,
		changed: changed, now: now, log: log}
	cfg := batch.Config{Shards: 4, MaxBatch: 500}
	// Connections are sharded by location like statuses: a station's first connection
	// turns it Online, which its commit publishes to OCPI under its location's lock, and
	// shards holding stations of the same location waited for each other's locks. Two
	// shards, not four: a batch of connections costs about as much for 7 stations as for 11
	// (2.0 ms), so halving the flushers that share two cores made a reconnect storm's
	// station writes a third cheaper (3.1 -> 2.0 s of PostgreSQL for 10,000 stations) and
	// the storm faster in 6 of 6 alternating runs (docs/performance.md).
	s.connections = batch.New(batch.Config{Shards: 2, MaxBatch: 500},
		func(r connectionReport) string { return s.locationOf(r.identity()) }, s.writeConnections)
	// Status batches take the OCPI stamping lock at commit one after the other, whatever the
	// shard: two shards, each with twice the items per batch, had a lower latency than four at
	// 5,000 reports/s in the bench (p99 median 243 against 428 ms over 7 and 5 runs).
	s.statuses = batch.New(batch.Config{Shards: 2, MaxBatch: 500}, func(r StatusReport) string { return s.locationOf(r.Identity) }, s.writeStatuses)
	s.followers = newStatusFollower(func(ctx context.Context, ids []string) ([]string, error) {
		return s.evses.FollowStatuses(ctx, ids, s.now())
	}, s.evses.SettleFollowUps, s.changed, log)
	s.sessionReports = batch.New(cfg, func(it sessionItem) string { return it.station() }, s.writeSessions)
	s.firmware = batch.New(cfg, func(f stationlogs.FirmwareStatus) string { return f.StationID }, s.writeFirmwareStatuses)
	s.diagnostics = batch.New(cfg, func(d diagnosticsStatus) string { return d.identity }, s.writeDiagnosticsStatuses)
	// An answer carries tens of keys: fewer answers per statement, over fewer shards.
	s.configurations = batch.New(batch.Config{Shards: 2, MaxBatch: 100},
		func(c stationlogs.StationConfiguration) string { return c.StationID }, s.writeConfigurations)
	s.lookups = batch.New(batch.Config{Shards: 2, MaxBatch: 200}, func(l *stationLookup) string { return l.identity }, s.lookUp)
	return s
}

// Close writes what the batchers hold and stops them.
func (s *Service) Close() {
	s.connections.Close()
	s.statuses.Close()
	s.followers.close()
	s.sessionReports.Close()
	s.firmware.Close()
	s.diagnostics.Close()
	s.configurations.Close()
	s.lookups.Close()
}

// stationLookup is one login's station lookup; lookUp fills found.
type stationLookup struct {
	identity string
	found    chargestations.GatewayStation
}

// lookUp looks up the stations of many logins in one statement; an unknown identity is
// that login's chargestations.ErrNotFound.
func (s *Service) lookUp(ctx context.Context, ls []*stationLookup) error {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.identity
	}
	found, err := s.stations.LookupManyForGateway(ctx, ids)
	if err != nil {
		return err
	}
	var missing batch.PerItem
	for i, l := range ls {
		st, ok := found[l.identity]
		if !ok {
			if missing == nil {
				missing = make(batch.PerItem, len(ls))
			}
			missing[i] = chargestations.ErrNotFound
			continue
		}
		l.found = st
	}
	if missing != nil {
		return missing
	}
	return nil
}

// BatchStats are the running counts of the batchers, by name, for metrics.
func (s *Service) BatchStats() map[string]*batch.Stats {
	return map[string]*batch.Stats{"connections": s.connections.Stats(), "statuses": s.statuses.Stats(),
		"sessions": s.sessionReports.Stats(), "firmware_statuses": s.firmware.Stats(),
		"diagnostics_statuses": s.diagnostics.Stats(), "configurations": s.configurations.Stats(),
		"station_lookups": s.lookups.Stats(), "status_followers": &s.followers.stats}
}

// notFound turns the identities a batch write found into each item's outcome.
func notFound[T any](items []T, identity func(T) string, found map[string]bool) error {
	out := make(batch.PerItem, len(items))
	missing := false
	for i, it := range items {
		if !found[identity(it)] {
			out[i], missing = chargestations.ErrNotFound, true
		}
	}
	if missing {
		return out
	}
	return nil
}

// Station is what the gateway needs to admit a station's connection.
type Station struct {
	Identity        string
	SecurityProfile schema.SecurityProfile
	// PendingSecurityProfile is a profile the station is moving to (0: none); a login may
	// meet either.
	PendingSecurityProfile schema.SecurityProfile
	// VerifyPassword reports whether a candidate is the station's OCPP password; nil when no
	// password is set. The stored hash never leaves this package.
	VerifyPassword func(candidates ...string) bool
	// HasBootData: an earlier BootNotification was accepted (its data is on record).
	HasBootData bool
	// FirmwareVersion is the one the last accepted BootNotification gave.
	FirmwareVersion string
	// HasConfiguration: the station's configuration has been read before.
	HasConfiguration bool
	// HasOperators: the station has operators its connection is forwarded to.
	HasOperators bool
}

// LookupStation returns the station with OCPP identity, whatever its network.
// Errors: chargestations.ErrNotFound.
func (s *Service) LookupStation(ctx context.Context, identity string) (Station, error) {
	l := &stationLookup{identity: identity}
	if err := s.lookups.Write(ctx, l); err != nil {
		return Station{}, err
	}
	st := l.found
	s.locations.Store(identity, st.LocationID)
	out := Station{Identity: identity, SecurityProfile: st.SecurityProfile, PendingSecurityProfile: st.PendingSecurityProfile, HasBootData: st.HasBootData,
		FirmwareVersion: st.FirmwareVersion, HasConfiguration: st.HasConfiguration, HasOperators: st.HasOperators}
	if st.PasswordHash != "" || st.OtherPasswordHash != "" {
		current := secret.Stored{Hash: st.PasswordHash, Verifier: st.PasswordVerifier}
		other := secret.Stored{Hash: st.OtherPasswordHash, Verifier: st.OtherPasswordVerifier}
		out.VerifyPassword = func(candidates ...string) bool {
			// During a rotation either password logs in; the login may settle it.
			if s.checkPassword(identity, current, candidates) {
				if other.Hash != "" {
					s.settleRotation(identity, current.Hash)
				}
				return true
			}
			if other.Hash != "" && s.checkPassword(identity, other, candidates) {
				s.settleRotation(identity, other.Hash)
				return true
			}
			return false
		}
	}
	return out, nil
}

// settleRotation tells the store which password a station logged in with during a rotation
// (chargestations.Store.SettleRotation). Rare: once or twice per rotation.
func (s *Service) settleRotation(identity, hash string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.stations.SettleRotation(ctx, identity, hash); err != nil {
		s.log.Warn("settle a station's password rotation", "identity", identity, "err", err)
	}
}

// checkPassword checks a station's password (at most one bcrypt); a check that needed bcrypt
// stores the keyed verifier, so the next one, on any node, does not.
func (s *Service) checkPassword(identity string, stored secret.Stored, candidates []string) bool {
	ok, renew := s.passwords.Check(identity, stored, candidates...)
	if renew != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.stations.SetPasswordVerifier(ctx, identity, stored.Hash, renew); err != nil {
			s.log.Warn("store a station's password verifier", "identity", identity, "err", err)
		}
	}
	return ok
}

// ConnectInfo describes a station's new OCPP connection.
type ConnectInfo struct {
	ProtocolVersion schema.ProtocolVersion
	ClientIPAddress string
	Endpoint        string // the OCPP URL the station connected to (EVROAM_OCPP_PUBLIC_URL)
	At              time.Time
	// UpgradedProfile is the pending security profile the station logged in with (0: it
	// logged in with its current one): the upgrade is complete.
	UpgradedProfile schema.SecurityProfile
}

// RecordConnect marks the station Online with its protocol, address and endpoint, and
// completes a security profile upgrade the login met (rare: one statement of its own).
// Errors: chargestations.ErrNotFound.
func (s *Service) RecordConnect(ctx context.Context, identity string, c ConnectInfo) error {
	if c.UpgradedProfile != 0 {
		if err := s.stations.CompleteProfileUpgrade(ctx, identity, c.UpgradedProfile, c.At); err != nil {
			return err
		}
		s.changed(identity)
	}
	return s.connections.Write(ctx, connectionReport{presence: &chargestations.Presence{Identity: identity, Online: true,
		ProtocolVersion: c.ProtocolVersion, ClientIPAddress: c.ClientIPAddress, Endpoint: c.Endpoint, At: c.At}})
}

// RecordDisconnect marks the station Offline. Errors: chargestations.ErrNotFound.
func (s *Service) RecordDisconnect(ctx context.Context, identity string, at time.Time) error {
	return s.connections.Write(ctx, connectionReport{presence: &chargestations.Presence{Identity: identity, Online: false, At: at}})
}

// connectionReport is a connect or disconnect (presence), or a boot.
type connectionReport struct {
	presence *chargestations.Presence
	boot     *chargestations.Boot
}

func (r connectionReport) identity() string {
	if r.presence != nil {
		return r.presence.Identity
	}
	return r.boot.Identity
}

// writeConnections writes a batch of connects, disconnects and boots with one statement.
func (s *Service) writeConnections(ctx context.Context, rs []connectionReport) error {
	var ps []chargestations.Presence
	var bs []chargestations.Boot
	for _, r := range rs {
		if r.presence != nil {
			ps = append(ps, *r.presence)
		} else {
			bs = append(bs, *r.boot)
		}
	}
	found, err := s.stations.RecordConnections(ctx, ps, bs)
	if err != nil {
		return err
	}
	s.changed(identities(rs, connectionReport.identity)...)
	return notFound(rs, connectionReport.identity, found)
}

// RecordBoot stores the boot data of an accepted BootNotification; the first one onboards the
// station. A station that booted over OCPP can be managed remotely.
// Errors: chargestations.ErrNotFound.
func (s *Service) RecordBoot(ctx context.Context, identity string, b chargestations.BootInfo) error {
	remote := true
	b.RemoteManageable = &remote
	return s.connections.Write(ctx, connectionReport{boot: &chargestations.Boot{Identity: identity, BootInfo: b}})
}

// RecordHeartbeats stores the last heartbeat of many stations (identity → time) at once.
func (s *Service) RecordHeartbeats(ctx context.Context, beats map[string]time.Time) error {
	if err := s.stations.RecordHeartbeats(ctx, beats); err != nil {
		return err
	}
	ids := make([]string, 0, len(beats))
	for id := range beats {
		ids = append(ids, id)
	}
	s.changed(ids...)
	return nil
}

// RecordLoginFailures stores the last refused login of many stations at once.
func (s *Service) RecordLoginFailures(ctx context.Context, fs []chargestations.LoginFailure) error {
	if err := s.stations.RecordLoginFailures(ctx, fs); err != nil {
		return err
	}
	s.changed(identities(fs, func(f chargestations.LoginFailure) string { return f.Identity })...)
	return nil
}

// identities returns the station identity of every item.
func identities[T any](items []T, identity func(T) string) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = identity(it)
	}
	return ids
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
// never disagree (many reports share one transaction; an EVSE's reports keep their order and
// the log keeps every one). The OCPP status is kept raw and mapped to its OCPI and friendly
// status (schema). A report for connector 0 (the whole station) or for an EVSE the registry
// does not know is logged only: the registry's EVSEs are what the operator configured. It
// returns after that commit; the station's row and its OCPI publication follow right after
// (statusFollower).
func (s *Service) RecordStatus(ctx context.Context, r StatusReport) error {
	return s.statuses.Write(ctx, r)
}

// statusWriteAttempts is how often a status batch is written when PostgreSQL breaks a
// deadlock it is part of.
const statusWriteAttempts = 3

func (s *Service) writeStatuses(ctx context.Context, rs []StatusReport) error {
	var changes []evse.StatusChange
	var states []sessions.EVSEState
	entries := make([]stationlogs.StatusEntry, len(rs))
	for i, r := range rs {
		ocpi := schema.StatusFromOCPP(r.OCPPStatus)
		entries[i] = stationlogs.StatusEntry{StationID: r.Identity, EVSESequenceNumber: r.EVSESequence, ConnectorID: r.ConnectorID,
			OCPPStatus: r.OCPPStatus, ErrorCode: r.ErrorCode, Info: r.Info, VendorErrorCode: r.VendorErrorCode,
			OCPIStatus: string(ocpi), FriendlyStatus: schema.FriendlyStatus(r.OCPPStatus), Created: r.At}
		if !r.ReportedAt.IsZero() {
			ts := r.ReportedAt
			entries[i].ReportedAt = &ts
		}
		if r.EVSESequence > 0 {
			changes = append(changes, evse.StatusChange{Identity: r.Identity, SequenceNumber: r.EVSESequence,
				OCPPStatus: r.OCPPStatus, Status: ocpi, At: r.At})
			if _, known := sessions.Charging(r.OCPPStatus); known {
				at := r.ReportedAt
				if at.IsZero() {
					at = r.At
				}
				states = append(states, sessions.EVSEState{StationID: r.Identity, EVSESequenceNumber: r.EVSESequence,
					Status: r.OCPPStatus, At: at})
			}
		}
	}
	var follow []string
	var owed int64 // the record of follow (evse.Store.SetStatuses)
	write := func(tx *sqlx.Tx) error {
		if len(changes) > 0 {
			evses := s.evses.WithTx(tx)
			// The station rows and the OCPI publication follow after the commit, off the
			// stations' reply path (statusFollower).
			evses.DeferStatusFollowers()
			_, changed, record, err := evses.SetStatuses(ctx, changes)
			if err != nil {
				return err
			}
			follow, owed = changed, record
		}
		if err := s.logs.WithTx(tx).AppendStatuses(ctx, entries); err != nil {
			return err
		}
		// A 1.6 session has no charging state of its own: its connector's status is it.
		return s.sessions.WithTx(tx).RecordEVSEStates(ctx, states)
	}
	// The batch locks the station rows only of stations it changes several EVSEs of
	// (evse.Store.SetStatuses). Two batches of one station can still meet while the station
	// moves to another node; PostgreSQL then rolls one back, which is written again rather
	// than answered with an error.
	err := database.InTx(ctx, s.db, write)
	for attempt := 1; attempt < statusWriteAttempts && database.IsDeadlock(err); attempt++ {
		s.log.Warn("statuses: a batch met another writer's locks, writing it again", "reports", len(rs), "err", err)
		follow, owed = nil, 0
		err = database.InTx(ctx, s.db, write)
	}
	if err == nil {
		s.followers.add(owed, follow...)
	}
	return err
}

// StatusFollowersCaughtUp returns when the station rows and the OCPI publication show every
// status this node recorded so far (statusFollower), or ctx ends.
func (s *Service) StatusFollowersCaughtUp(ctx context.Context) error {
	return s.followers.caughtUp(ctx)
}

// FollowLaggingStatuses follows up the stations of every status follow-up on record, as a
// node that stopped between a status batch and its follow-up leaves them (or another node
// has in flight: following a station twice is harmless), and settles those records once it
// has. A node runs it once, when it starts: it reads the few records, not the EVSEs
// (migration 0038). It returns how many stations it found.
func (s *Service) FollowLaggingStatuses(ctx context.Context) (int, error) {
	owed, err := s.evses.OwedFollowUps(ctx)
	if err != nil {
		return 0, err
	}
	stations := map[string]struct{}{}
	for _, o := range owed {
		s.followers.add(o.ID, o.StationIDs...)
		for _, id := range o.StationIDs {
			stations[id] = struct{}{}
		}
	}
	return len(stations), nil
}

// AppendMessages appends frames of any number of stations to the message log, in order, in
// one transaction (COPY).
func (s *Service) AppendMessages(ctx context.Context, ms []stationlogs.Message) error {
	return database.InTx(ctx, s.db, func(tx *sqlx.Tx) error { return s.logs.WithTx(tx).AppendMessages(ctx, ms) })
}

// RecordMeterValues records meter values: the latest sample per station, EVSE, measurand and
// phase, and, when they belong to a transaction (r.TransactionID), that session's timeline.
func (s *Service) RecordMeterValues(ctx context.Context, r sessions.Report) error {
	r.Create = false // meter values never make a session
	return s.sessionReports.Write(ctx, sessionItem{report: &r})
}

// StartTransaction records a 1.6 transaction start and returns the id the station must use
// (OCPP 1.6, where the central system makes transaction ids): a repeated start gets the id
// of the first. Errors: chargestations.ErrNotFound.
func (s *Service) StartTransaction(ctx context.Context, st sessions.Start) (int, error) {
	it := sessionItem{start: &st, id: new(int)}
	if err := s.sessionReports.Write(ctx, it); err != nil {
		return 0, err
	}
	return *it.id, nil
}

// UpdateTransaction records what a station reports of a transaction it has an id for (1.6
// StopTransaction, 2.0.1 TransactionEvent); see sessions.Report for what may create one.
func (s *Service) UpdateTransaction(ctx context.Context, r sessions.Report) error {
	return s.sessionReports.Write(ctx, sessionItem{report: &r})
}

// sessionItem is one write of the sessions batcher: a 1.6 start (whose id comes back in id,
// read after Write returns: the flush has written it by then) or a report.
type sessionItem struct {
	start  *sessions.Start
	report *sessions.Report
	id     *int
}

func (it sessionItem) station() string {
	if it.start != nil {
		return it.start.StationID
	}
	return it.report.StationID
}

// writeSessions writes a batch: the starts in one statement, the reports in another; in one
// transaction when both are there, else as one statement on the pool (a lone frame costs one
// round trip, as it did before sessions were kept).
func (s *Service) writeSessions(ctx context.Context, items []sessionItem) error {
	var starts []sessions.Start
	var reports []sessions.Report
	for _, it := range items {
		if it.start != nil {
			starts = append(starts, *it.start)
		} else {
			reports = append(reports, *it.report)
		}
	}
	var ids []int
	write := func(st *sessions.Store) error {
		var err error
		if ids, err = st.StartTransactions(ctx, starts); err != nil {
			return err
		}
		return st.ApplyReports(ctx, reports)
	}
	var err error
	if len(starts) > 0 && len(reports) > 0 {
		err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error { return write(s.sessions.WithTx(tx)) })
	} else {
		err = write(s.sessions)
	}
	if err != nil {
		return err
	}
	out := make(batch.PerItem, len(items))
	missing, n := false, 0
	for i, it := range items {
		if it.start == nil {
			continue
		}
		*it.id = ids[n]
		if ids[n] == 0 {
			out[i], missing = chargestations.ErrNotFound, true
		}
		n++
	}
	if missing {
		return out
	}
	return nil
}

// RecordTransactionState keeps the transaction running on an EVSE and its 2.0.1 charging
// state, which refines the EVSE's friendly status (evse.EVSE.LiveStatus).
func (s *Service) RecordTransactionState(ctx context.Context, t evse.TransactionState) error {
	if err := s.evses.SetTransactionState(ctx, t); err != nil {
		return err
	}
	s.changed(t.Identity)
	return nil
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
	return s.configurations.Write(ctx, stationlogs.StationConfiguration{StationID: identity, Values: values})
}

func (s *Service) writeConfigurations(ctx context.Context, cs []stationlogs.StationConfiguration) error {
	err := s.logs.MergeConfigurations(ctx, cs)
	if err == nil || len(cs) == 1 || ctx.Err() != nil {
		return err
	}
	// A batch fails as a whole, e.g. when one of its stations is deleted between the check
	// and the insert: each station's values are then merged alone, so that the others' are
	// not lost.
	s.log.Warn("configurations: a batch failed, merging each station alone", "stations", len(cs), "err", err)
	out := make(batch.PerItem, len(cs))
	for i := range cs {
		out[i] = s.logs.MergeConfigurations(ctx, cs[i:i+1])
	}
	return out
}

// RecordCertificate records a certificate the gateway signed for a station and the
// station's answer to it.
func (s *Service) RecordCertificate(ctx context.Context, c stationlogs.Certificate) error {
	return s.logs.AppendCertificate(ctx, c)
}

// RecordFirmwareStatus records a FirmwareStatusNotification: the station's
// firmware_update_status and its firmware history change in one transaction. Like status
// reports they are written in batches, so that a fleet-wide firmware rollout, whose stations
// all report at once, costs a few transactions.
func (s *Service) RecordFirmwareStatus(ctx context.Context, f stationlogs.FirmwareStatus) error {
	return s.firmware.Write(ctx, f)
}

func (s *Service) writeFirmwareStatuses(ctx context.Context, fs []stationlogs.FirmwareStatus) error {
	latest := make(map[string]string, len(fs))
	for _, f := range fs {
		latest[f.StationID] = f.Status // reports of one station keep their order: the last wins
	}
	var found []string
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if found, err = s.stations.WithTx(tx).SetFirmwareUpdateStatuses(ctx, latest); err != nil {
			return err
		}
		return s.logs.WithTx(tx).AppendFirmwareStatuses(ctx, fs)
	})
	if err == nil {
		s.changed(found...)
	}
	return err
}

// RecordDiagnosticsStatus records the status of a station's log upload
// (DiagnosticsStatusNotification, LogStatusNotification) as its diagnostics_status, in
// batches like the other reports.
func (s *Service) RecordDiagnosticsStatus(ctx context.Context, identity, status string) error {
	return s.diagnostics.Write(ctx, diagnosticsStatus{identity: identity, status: status})
}

func (s *Service) writeDiagnosticsStatuses(ctx context.Context, ds []diagnosticsStatus) error {
	latest := make(map[string]string, len(ds))
	for _, d := range ds {
		latest[d.identity] = d.status
	}
	found, err := s.stations.SetDiagnosticsStatuses(ctx, latest)
	if err == nil {
		s.changed(found...)
	}
	return err
}
