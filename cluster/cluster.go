package cluster

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evroam/evroam/internal/batch"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/ocpp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Config describes this node.
type Config struct {
	// NodeID names this node (EVROAM_NODE_ID). Default: host name + "-" + pid. Two live
	// nodes must not share one.
	NodeID string
	// DatabaseURL is the PostgreSQL URL; the node opens one extra connection to it for
	// LISTEN.
	DatabaseURL string
	// DefaultTimeout bounds a forwarded call whose context has no deadline. Default 30s.
	DefaultTimeout time.Duration
	// SweepInterval is how often forwarded calls abandoned by a dead caller are deleted.
	// Default 1 minute.
	SweepInterval time.Duration
	// ReconnectGrace is how long a station whose node shut down (or restarted after a
	// crash) stays online waiting to reconnect before it is recorded as disconnected.
	// Default 90s.
	ReconnectGrace time.Duration
	// ObserveCall, when set, is told of every Call when it returns, for metrics: the action,
	// where the call went (RouteLocal, RouteForwarded, or RouteNone when no node held the
	// station or the owner could not be found), how long it took and its error.
	ObserveCall func(action, route string, took time.Duration, err error)
	// CallURL is where other nodes reach this node's CallHandler (EVROAM_NODE_URL, e.g.
	// http://10.0.0.5:8080): with it, commands for the stations held here come straight over
	// HTTP instead of through the database (direct.go). Empty: through the database only.
	CallURL string
	// CallKey signs and checks the calls nodes hand each other over HTTP
	// (EVROAM_SECRET_KEY); required with CallURL, and the same on every node.
	CallKey *secret.Key
}

// Where a Call went, for Config.ObserveCall.
const (
	RouteLocal     = "local"     // this node's gateway holds the station
	RouteForwarded = "forwarded" // sent to the node that holds it, through the database
	RouteDirect    = "direct"    // sent to the node that holds it, over HTTP (Config.CallURL)
	RouteNone      = "none"      // not sent: no node holds the station, or finding it failed
)

// Local is the gateway whose stations this node holds; *ocpp.Server implements it.
type Local interface {
	Call(ctx context.Context, identity, action string, payload any) (json.RawMessage, error)
	ProtocolOf(identity string) (string, bool)
	// Supersede closes the connection numbered connection (ocpp.ConnectInfo.Connection)
	// without recording a disconnect: the station connected through another node.
	Supersede(identity string, connection uint64) bool
}

// Node routes charger commands to whichever node holds a station. See the package doc.
type Node struct {
	cfg      Config
	db       *sqlx.DB
	prepared sqlx.ExtContext // db, with the statements of every command prepared once
	log      *slog.Logger
	channel  string

	listener *pq.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// sessionWrites writes station_sessions in batches (group commit): a reconnect storm of
	// thousands of stations costs a few transactions, not one per connection.
	sessionWrites *batch.Batcher[sessionWrite]

	calls *http.Client // to other nodes' CallHandler
	seen  seenCalls    // ids of the calls CallHandler served

	mu       sync.Mutex
	local    Local
	server   *ocpp.Server           // set by Start, closed by Close
	inner    ocpp.Registry          // what Registry wraps: told of disconnects found by sweepLeft
	sessions map[string]heldSession // the stations this node holds
	// sessionsChanged is closed, and replaced, whenever sessions changes (sessionsChange):
	// what awaitClaim waits on for a claim not registered yet.
	sessionsChanged chan struct{}
	waiters         map[uuid.UUID]chan struct{}
	closed          bool
}

// Start is the constructor cmd/evroam calls: it joins the cluster as cfg.NodeID, creates
// the node's OCPP gateway over reg (wrapped so that connects and disconnects are recorded
// in station_sessions) and starts serving commands forwarded by other nodes. Serve
// n.Server() at /ocpp/, give n to commands.NewHandler as its Gateway, and call n.Close on
// shutdown (it closes the gateway too).
func Start(ctx context.Context, cfg Config, db *sqlx.DB, reg ocpp.Registry, ocppCfg ocpp.Config, log *slog.Logger) (*Node, error) {
	n, err := New(ctx, cfg, db, log)
	if err != nil {
		return nil, err
	}
	srv := ocpp.NewServer(ocppCfg, n.Registry(reg), log)
	n.mu.Lock()
	n.server = srv
	n.mu.Unlock()
	n.Attach(srv)
	return n, nil
}

// New joins the cluster without a gateway: it deletes session rows left under this node
// id, starts listening for forwarded commands and returns. Attach the gateway (built over
// n.Registry) before stations connect. Start does all of this.
func New(ctx context.Context, cfg Config, db *sqlx.DB, log *slog.Logger) (*Node, error) {
	if cfg.NodeID == "" {
		host, _ := os.Hostname()
		cfg.NodeID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if cfg.DatabaseURL == "" {
		return nil, errors.New("cluster: Config.DatabaseURL is required for LISTEN")
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 30 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.ReconnectGrace <= 0 {
		cfg.ReconnectGrace = 90 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.CallURL != "" && cfg.CallKey == nil {
		return nil, errors.New("cluster: Config.CallKey (EVROAM_SECRET_KEY) is required with a call URL")
	}
	cfg.CallURL = strings.TrimSuffix(cfg.CallURL, "/")
	n := &Node{calls: newCallClient(),
		cfg: cfg, db: db, prepared: database.Prepared(db), log: log.With("node", cfg.NodeID), channel: channelOf(cfg.NodeID),
		sessions: map[string]heldSession{}, sessionsChanged: make(chan struct{}), waiters: map[uuid.UUID]chan struct{}{},
	}
	// Sessions left under this node id by an earlier run (one that crashed, or shut down
	// just now) are left: their stations get ReconnectGrace to come back before they are
	// recorded as disconnected.
	const q = `UPDATE station_sessions SET left_at = now() WHERE node_id = $1 AND left_at IS NULL`
	if _, err := db.ExecContext(ctx, q, cfg.NodeID); err != nil {
		return nil, fmt.Errorf("cluster: leave stale sessions of %s: %w", cfg.NodeID, err)
	}
	reg := `DELETE FROM cluster_nodes WHERE node_id = $1`
	args := []any{cfg.NodeID}
	if cfg.CallURL != "" {
		reg = `INSERT INTO cluster_nodes (node_id, call_url) VALUES ($1, $2)
			ON CONFLICT (node_id) DO UPDATE SET call_url = EXCLUDED.call_url, started_at = now()`
		args = append(args, cfg.CallURL)
	}
	if _, err := db.ExecContext(ctx, reg, args...); err != nil {
		return nil, fmt.Errorf("cluster: register %s: %w", cfg.NodeID, err)
	}

	n.listener = pq.NewListener(cfg.DatabaseURL, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			n.log.Warn("cluster: listener", "event", ev, "err", err)
		}
	})
	listened := make(chan error, 1)
	go func() { listened <- n.listener.Listen(n.channel) }()
	select {
	case err := <-listened:
		if err != nil {
			n.listener.Close()
			return nil, fmt.Errorf("cluster: listen on %s: %w", n.channel, err)
		}
	case <-ctx.Done():
		n.listener.Close()
		return nil, fmt.Errorf("cluster: listen on %s: %w", n.channel, ctx.Err())
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.sessionWrites = batch.New(batch.Config{Shards: 2, MaxBatch: 500}, func(w sessionWrite) string { return w.identity }, n.writeSessions)
	n.wg.Add(1)
	go n.loop()
	return n, nil
}

// channelOf is a node's NOTIFY channel: a short, valid identifier whatever the node id.
func channelOf(nodeID string) string {
	sum := sha256.Sum256([]byte(nodeID))
	return "evroam_node_" + hex.EncodeToString(sum[:8])
}

// ID returns this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Server returns the gateway made by Start (nil after New).
func (n *Node) Server() *ocpp.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.server
}

// Attach sets the gateway whose stations this node holds.
func (n *Node) Attach(l Local) {
	n.mu.Lock()
	n.local = l
	n.mu.Unlock()
	// Requests that arrived before there was a gateway to serve them.
	n.serveUnclaimed()
}

func (n *Node) localGateway() Local {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.local
}

// Close stops the gateway made by Start (recording its stations' disconnects, which
// deletes their session rows), then stops serving forwarded commands.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	srv := n.server
	n.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close(ctx)
	}
	n.sessionWrites.Close() // after the gateway: its last disconnects release their rows
	if n.cfg.CallURL != "" {
		// Callers go through the database from now on (and find no station here).
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if _, derr := n.db.ExecContext(dctx, `DELETE FROM cluster_nodes WHERE node_id = $1`, n.cfg.NodeID); derr != nil {
			n.log.Warn("cluster: unregister", "err", derr)
		}
		dcancel()
	}
	n.cancel()
	n.listener.Close()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	return err
}

// ---- station sessions

// Registry wraps reg so that this node records in station_sessions which stations it
// holds: a row on connect, deleted on disconnect.
func (n *Node) Registry(reg ocpp.Registry) ocpp.Registry {
	n.mu.Lock()
	n.inner = reg
	n.mu.Unlock()
	return sessionRegistry{reg, n}
}

// wrapped is the registry Registry wrapped (nil before it is called).
func (n *Node) wrapped() ocpp.Registry {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inner
}

type sessionRegistry struct {
	ocpp.Registry
	n *Node
}

// RecordConnect claims the station for this node, then records the connect with the wrapped
// registry: once the registry shows the station Online, a command sent to any node finds
// this one (see "Claimed before recorded" in doc.go).
func (r sessionRegistry) RecordConnect(ctx context.Context, c ocpp.ConnectInfo) error {
	claimErr := r.n.claim(ctx, c)
	return errors.Join(claimErr, r.Registry.RecordConnect(ctx, c))
}

// RecordBoot waits until the claim of the station's connection is committed, then records the
// boot with the wrapped registry, so that the station's BootNotification is answered (and the
// registry shows it booted) only once a command sent to any node reaches it.
func (r sessionRegistry) RecordBoot(ctx context.Context, identity string, b ocpp.BootInfo) error {
	if err := r.n.awaitClaim(ctx, identity, b.Connection); err != nil {
		return err
	}
	return r.Registry.RecordBoot(ctx, identity, b)
}

func (r sessionRegistry) RecordDisconnect(ctx context.Context, identity string, at time.Time) error {
	return errors.Join(r.n.release(ctx, identity), r.Registry.RecordDisconnect(ctx, identity, at))
}

// RecordLeft marks the station's session left (the gateway shuts down): the wrapped registry
// is not told, so the station stays online for Config.ReconnectGrace; see sweepLeft.
func (r sessionRegistry) RecordLeft(ctx context.Context, identity string, at time.Time) error {
	return r.n.leave(ctx, identity, at)
}

// RecordCertificate passes the certificates the gateway signs on to the wrapped registry, when
// it records them (ocpp.CertificateRecorder).
func (r sessionRegistry) RecordCertificate(ctx context.Context, identity string, c ocpp.SignedCertificate) error {
	if rec, ok := r.Registry.(ocpp.CertificateRecorder); ok {
		return rec.RecordCertificate(ctx, identity, c)
	}
	return nil
}

// RecordFirmwareStatus passes FirmwareStatusNotifications on to the wrapped registry, when it
// records them (ocpp.FirmwareStatusRecorder).
func (r sessionRegistry) RecordFirmwareStatus(ctx context.Context, f ocpp.FirmwareStatus) error {
	if rec, ok := r.Registry.(ocpp.FirmwareStatusRecorder); ok {
		return rec.RecordFirmwareStatus(ctx, f)
	}
	return nil
}

// RecordDiagnosticsStatus passes log upload statuses on to the wrapped registry, when it
// records them (ocpp.DiagnosticsStatusRecorder).
func (r sessionRegistry) RecordDiagnosticsStatus(ctx context.Context, f ocpp.FirmwareStatus) error {
	if rec, ok := r.Registry.(ocpp.DiagnosticsStatusRecorder); ok {
		return rec.RecordDiagnosticsStatus(ctx, f)
	}
	return nil
}

// heldSession is a station this node holds: the session id of its station_sessions row and
// the gateway's number for the connection.
type heldSession struct {
	id         uuid.UUID
	connection uint64
	at         time.Time // when the station connected
	// claimed is closed once the claim's write has ended, committed or failed.
	claimed chan struct{}
}

// sessionWrite is a station_sessions change: a claim (this node holds the station now), a
// release of the session id (its connection ended) or a leave (it ended because this node
// shuts down).
type sessionWrite struct {
	identity string
	claim    bool
	leave    bool
	session  uuid.UUID
	protocol string
	at       time.Time
}

func (n *Node) claim(ctx context.Context, c ocpp.ConnectInfo) error {
	sid := uuid.New()
	at := c.At
	if at.IsZero() {
		at = time.Now()
	}
	claimed := make(chan struct{})
	defer close(claimed)
	n.mu.Lock()
	n.sessions[c.Identity] = heldSession{id: sid, connection: c.Connection, at: at, claimed: claimed}
	n.sessionsChange()
	n.mu.Unlock()
	if err := n.sessionWrites.Write(ctx, sessionWrite{identity: c.Identity, claim: true, session: sid, protocol: c.ProtocolVersion, at: at.UTC()}); err != nil {
		return fmt.Errorf("cluster: record session of %s: %w", c.Identity, err)
	}
	return nil
}

// sessionsChange wakes those waiting for a change of n.sessions (awaitClaim). n.mu is held.
func (n *Node) sessionsChange() {
	close(n.sessionsChanged)
	n.sessionsChanged = make(chan struct{})
}

// awaitClaim waits until the claim of the station's connection numbered connection
// (ocpp.ConnectInfo.Connection) to this node has been written, committed or failed (a claim
// that failed is not waited for again: the connect reports that failure).
//
// The gateway records a connect in a goroutine of its own, after the connection it replaces
// has recorded its end, so a BootNotification may arrive before that goroutine has
// registered the claim (RecordConnect): the boot then waits for the registration too, as
// long as the station is connected here and no later connection took its place. Without
// this, a boot answered in that moment left a command sent through another node without an
// owner to find (409). connection 0 (not known) waits only for a claim registered already.
func (n *Node) awaitClaim(ctx context.Context, identity string, connection uint64) error {
	for {
		n.mu.Lock()
		held, ok := n.sessions[identity]
		changed := n.sessionsChanged
		l := n.local
		n.mu.Unlock()
		switch {
		case ok && (connection == 0 || held.connection == connection):
			if held.claimed == nil {
				return nil
			}
			select {
			case <-held.claimed:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("cluster: wait for the claim of %s: %w", identity, ctx.Err())
			}
		case connection == 0, ok && held.connection > connection:
			return nil // nothing registered to wait for, or a later connection took the station's place
		}
		if l == nil {
			return nil
		}
		if _, here := l.ProtocolOf(identity); !here {
			return nil // the connection is gone
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("cluster: wait for the claim of %s: %w", identity, ctx.Err())
		}
	}
}

func (n *Node) release(ctx context.Context, identity string) error {
	n.mu.Lock()
	held, ok := n.sessions[identity]
	delete(n.sessions, identity)
	n.sessionsChange()
	n.mu.Unlock()
	if !ok {
		return nil
	}
	if err := n.sessionWrites.Write(ctx, sessionWrite{identity: identity, session: held.id}); err != nil {
		return fmt.Errorf("cluster: delete session of %s: %w", identity, err)
	}
	return nil
}

func (n *Node) leave(ctx context.Context, identity string, at time.Time) error {
	n.mu.Lock()
	held, ok := n.sessions[identity]
	delete(n.sessions, identity)
	n.sessionsChange()
	n.mu.Unlock()
	if !ok {
		return nil
	}
	if err := n.sessionWrites.Write(ctx, sessionWrite{identity: identity, leave: true, session: held.id, at: at.UTC()}); err != nil {
		return fmt.Errorf("cluster: leave session of %s: %w", identity, err)
	}
	return nil
}

// writeSessions applies a batch of session changes in one statement: per station the last
// change counts (a claim upserts the row, the newest connection winning, and clears a leave;
// a release deletes the row and a leave marks it, only if it is still that session's).
func (n *Node) writeSessions(ctx context.Context, ws []sessionWrite) error {
	last := map[string]sessionWrite{}
	for _, w := range ws {
		last[w.identity] = w
	}
	var claimIDs, claimProtos, releaseIDs, leaveIDs []string
	var claimSessions, releaseSessions, leaveSessions []string
	var claimAts, leaveAts []time.Time
	for id, w := range last {
		switch {
		case w.claim:
			claimIDs, claimSessions, claimProtos, claimAts = append(claimIDs, id), append(claimSessions, w.session.String()),
				append(claimProtos, w.protocol), append(claimAts, w.at)
		case w.leave:
			leaveIDs, leaveSessions, leaveAts = append(leaveIDs, id), append(leaveSessions, w.session.String()), append(leaveAts, w.at)
		default:
			releaseIDs, releaseSessions = append(releaseIDs, id), append(releaseSessions, w.session.String())
		}
	}
	// One function (migration 0034), so that its plan is made once per connection rather
	// than at every call.
	_, err := n.prepared.ExecContext(ctx, `SELECT cluster_write_sessions($1, $2::text[], $3::uuid[], $4::text[],
		$5::timestamptz[], $6::text[], $7::uuid[], $8::text[], $9::uuid[], $10::timestamptz[])`,
		n.cfg.NodeID, pq.Array(claimIDs), pq.Array(claimSessions), pq.Array(claimProtos),
		pq.Array(claimAts), pq.Array(releaseIDs), pq.Array(releaseSessions), pq.Array(leaveIDs), pq.Array(leaveSessions), pq.Array(leaveAts))
	return err
}

// sweepLeft records as disconnected, with the wrapped registry, the stations whose session
// was left more than ReconnectGrace ago and that did not come back (a reconnect claims the
// row and clears left_at), then deletes those rows unless they were claimed meanwhile. Any
// node may sweep; two that sweep at once record a disconnect twice, which changes nothing.
// The disconnect carries the time the session was left: a station that reconnects while it
// is being recorded stays online (the registry ignores a disconnect older than the current
// connection).
func (n *Node) sweepLeft(ctx context.Context) {
	reg := n.wrapped()
	if reg == nil {
		return
	}
	var rows []struct {
		ID     string    `db:"charge_station_id"`
		LeftAt time.Time `db:"left_at"`
	}
	const q = `
	SELECT charge_station_id, left_at FROM station_sessions
	WHERE left_at < now() - make_interval(secs => $1)
	ORDER BY charge_station_id LIMIT 10000`
	if err := sqlx.SelectContext(ctx, n.db, &rows, q, n.cfg.ReconnectGrace.Seconds()); err != nil || len(rows) == 0 {
		if err != nil && ctx.Err() == nil {
			n.log.Warn("cluster: sweep left sessions", "err", err)
		}
		return
	}
	ids, ats := make([]string, len(rows)), make([]time.Time, len(rows))
	var wg sync.WaitGroup
	var failed atomic.Bool
	for i, r := range rows {
		ids[i], ats[i] = r.ID, r.LeftAt
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := reg.RecordDisconnect(ctx, r.ID, r.LeftAt); err != nil {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return // the rows stay; the next sweep records them again
	}
	const del = `
	DELETE FROM station_sessions s USING unnest($1::text[], $2::timestamptz[]) AS u(id, left_at)
	WHERE s.charge_station_id = u.id AND s.left_at = u.left_at`
	if _, err := n.db.ExecContext(ctx, del, pq.Array(ids), pq.Array(ats)); err != nil && ctx.Err() == nil {
		n.log.Warn("cluster: delete swept sessions", "err", err)
		return
	}
	n.log.Info("cluster: stations that did not reconnect after their node left are offline", "stations", len(rows))
}

// ---- calls

// SessionBatchStats are the running counts of the batcher that writes station_sessions, for
// metrics.
func (n *Node) SessionBatchStats() *batch.Stats { return n.sessionWrites.Stats() }

// Call sends a CALL to a station connected to any node and returns its answer, with the
// errors of ocpp.Server.Call (ErrNotConnected, ErrTimeout, *CallError, ErrInvalidPayload,
// ErrInvalidResponse). ctx's deadline bounds the whole exchange.
//
// A station this node holds is called through the local gateway without reading anything.
// Otherwise the station_sessions row decides where the call goes, even when this node has a
// connection of the station too (see "A station that moved" in the package doc). Without a
// row (its connect is being recorded, or the database does not answer) a local connection
// is used.
func (n *Node) Call(ctx context.Context, identity, action string, payload any) (json.RawMessage, error) {
	if n.cfg.ObserveCall == nil {
		res, _, err := n.call(ctx, identity, action, payload)
		return res, err
	}
	start := time.Now()
	res, route, err := n.call(ctx, identity, action, payload)
	n.cfg.ObserveCall(action, route, time.Since(start), err)
	return res, err
}

// ProtocolOf returns the protocol version of the station's connection to this node's
// gateway, and false when it is not connected here. It reads nothing.
func (n *Node) ProtocolOf(identity string) (string, bool) {
	if l := n.localGateway(); l != nil {
		return l.ProtocolOf(identity)
	}
	return "", false
}

// ConnectedProtocol returns the protocol version of the station's current connection, on
// this node or another; false when it is connected nowhere (or that cannot be read).
func (n *Node) ConnectedProtocol(ctx context.Context, identity string) (string, bool) {
	if l := n.localGateway(); l != nil {
		if proto, ok := l.ProtocolOf(identity); ok {
			return proto, true
		}
	}
	var proto string
	err := sqlx.GetContext(ctx, n.prepared, &proto,
		`SELECT protocol_version FROM station_sessions WHERE charge_station_id = $1 AND left_at IS NULL`, identity)
	return proto, err == nil
}

// call is Call, and says where the call went.
func (n *Node) call(ctx context.Context, identity, action string, payload any) (json.RawMessage, string, error) {
	l := n.localGateway()
	localOK := false
	if l != nil {
		_, localOK = l.ProtocolOf(identity)
	}
	if localOK && n.holds(identity) {
		// This node holds the station, and no other node claimed it since (that claim would
		// have dropped it here): no need to read the row.
		res, err := l.Call(ctx, identity, action, payload)
		return res, RouteLocal, err
	}
	var row struct {
		Owner string `db:"node_id"`
		URL   string `db:"call_url"`
	}
	err := sqlx.GetContext(ctx, n.prepared, &row, `
		SELECT s.node_id, coalesce(c.call_url, '') AS call_url
		FROM station_sessions s LEFT JOIN cluster_nodes c ON c.node_id = s.node_id
		WHERE s.charge_station_id = $1 AND s.left_at IS NULL`, identity)
	owner := row.Owner
	switch {
	case err == nil && owner != n.cfg.NodeID:
		if row.URL != "" && n.cfg.CallKey != nil {
			res, err := n.forwardDirect(ctx, row.URL, identity, action, payload)
			if !errors.Is(err, errUnreached) {
				return res, RouteDirect, err
			}
			n.log.Warn("cluster: owner not reached over HTTP; forwarding through the database", "owner", owner, "err", err)
		}
		res, err := n.forward(ctx, owner, identity, action, payload)
		return res, RouteForwarded, err
	case localOK:
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			n.log.Warn("cluster: find the node of a station; using the local connection", "identity", identity, "err", err)
		}
		res, err := l.Call(ctx, identity, action, payload)
		return res, RouteLocal, err
	case err == nil, errors.Is(err, sql.ErrNoRows):
		return nil, RouteNone, ocpp.ErrNotConnected // no row, or our row but the connection is gone
	case ctx.Err() != nil:
		return nil, RouteNone, ctxErr(ctx)
	}
	return nil, RouteNone, fmt.Errorf("cluster: find the node of %s: %w", identity, err)
}

// holds reports whether this node holds the station: its connection here was claimed, and
// no other node has claimed the station since.
func (n *Node) holds(identity string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.sessions[identity]
	return ok
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ocpp.ErrTimeout
	}
	return ctx.Err()
}

// Error kinds of a forwarded call's answer.
const (
	kindNotConnected    = "not_connected"
	kindTimeout         = "timeout"
	kindCallError       = "call_error"
	kindInvalidPayload  = "invalid_payload"
	kindInvalidResponse = "invalid_response"
	kindOther           = "error"
)

func (n *Node) forward(ctx context.Context, owner, identity, action string, payload any) (json.RawMessage, error) {
	raw, err := encodePayload(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ocpp.ErrInvalidPayload, err)
	}
	timeout := n.cfg.DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if timeout < time.Millisecond {
		return nil, ocpp.ErrTimeout
	}

	id := uuid.New()
	wake := make(chan struct{}, 1)
	n.mu.Lock()
	n.waiters[id] = wake
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.waiters, id)
		n.mu.Unlock()
	}()

	const insert = `
	WITH req AS (
		INSERT INTO command_calls (id, charge_station_id, caller_node, target_node, action, payload, timeout_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id
	)
	SELECT pg_notify($8, 'req:' || id) FROM req`
	if _, err := n.db.ExecContext(ctx, insert, id, identity, n.cfg.NodeID, owner, action, string(raw),
		timeout.Milliseconds(), channelOf(owner)); err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, fmt.Errorf("cluster: forward %s to %s: %w", action, owner, err)
	}

	for {
		select {
		case <-wake:
			res, done, err := n.collect(ctx, id)
			if done {
				return res, err
			}
		case <-ctx.Done():
			// Give up; the owner finds the row gone and drops its answer.
			_, _ = n.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM command_calls WHERE id = $1`, id)
			return nil, ctxErr(ctx)
		}
	}
}

// collect takes the answer of a forwarded call, if it is there.
func (n *Node) collect(ctx context.Context, id uuid.UUID) (json.RawMessage, bool, error) {
	const q = `
	DELETE FROM command_calls
	WHERE id = $1 AND answered_at IS NOT NULL
	RETURNING result, error_kind, error_code, error_message, error_details`
	var row struct {
		Result  sql.NullString `db:"result"`
		Kind    sql.NullString `db:"error_kind"`
		Code    sql.NullString `db:"error_code"`
		Message sql.NullString `db:"error_message"`
		Details sql.NullString `db:"error_details"`
	}
	err := n.db.GetContext(ctx, &row, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil // not answered yet (a wake-up after a reconnect)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, true, ctxErr(ctx)
		}
		return nil, true, fmt.Errorf("cluster: read answer: %w", err)
	}
	a := answer{Kind: row.Kind.String, Code: row.Code.String, Message: row.Message.String}
	if row.Result.Valid {
		a.Result = json.RawMessage(row.Result.String)
	}
	if row.Details.Valid {
		a.Details = json.RawMessage(row.Details.String)
	}
	res, err := a.outcome()
	return res, true, err
}

func encodePayload(payload any) (json.RawMessage, error) {
	switch p := payload.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		if len(p) == 0 {
			return json.RawMessage("{}"), nil
		}
		return p, nil
	case []byte:
		if len(p) == 0 {
			return json.RawMessage("{}"), nil
		}
		return p, nil
	}
	return json.Marshal(payload)
}

// ---- serving forwarded calls

func (n *Node) loop() {
	defer n.wg.Done()
	sweep := time.NewTicker(n.cfg.SweepInterval)
	defer sweep.Stop()
	sweepLeft := time.NewTicker(max(n.cfg.ReconnectGrace/3, 10*time.Millisecond))
	defer sweepLeft.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case nt, ok := <-n.listener.Notify:
			if !ok {
				return
			}
			if nt == nil {
				// The listener reconnected: notifications may have been lost.
				n.serveUnclaimed()
				n.wakeAll()
				n.dropSuperseded()
				continue
			}
			kind, idText, _ := strings.Cut(nt.Extra, ":")
			if kind == "drop" {
				sidText, identity, _ := strings.Cut(idText, ":")
				if sid, err := uuid.Parse(sidText); err == nil {
					n.drop(identity, sid)
				} else {
					n.log.Warn("cluster: unreadable notification", "payload", nt.Extra)
				}
				continue
			}
			id, err := uuid.Parse(idText)
			if err != nil {
				n.log.Warn("cluster: unreadable notification", "payload", nt.Extra)
				continue
			}
			switch kind {
			case "req":
				n.wg.Add(1)
				go func() { defer n.wg.Done(); n.serve(id) }()
			case "res":
				n.wake(id)
			}
		case <-sweepLeft.C:
			n.sweepLeft(n.ctx)
		case <-sweep.C:
			const q = `
			DELETE FROM command_calls
			WHERE created_at < now() - make_interval(secs => timeout_ms / 1000.0) - interval '5 minutes'`
			if _, err := n.db.ExecContext(n.ctx, q); err != nil && n.ctx.Err() == nil {
				n.log.Warn("cluster: sweep abandoned calls", "err", err)
			}
		}
	}
}

// drop lets go of a station another node claimed (a "drop" notification, sent by the
// claiming statement): if this node still holds the station under that session, the gateway
// closes the connection, without recording a disconnect, and commands sent here go to the
// new owner. A session of another id is a newer connection here, and stays.
func (n *Node) drop(identity string, session uuid.UUID) {
	n.mu.Lock()
	held, ok := n.sessions[identity]
	if ok && held.id == session {
		delete(n.sessions, identity)
		n.sessionsChange()
	}
	l := n.local
	n.mu.Unlock()
	if ok && held.id == session && l != nil {
		l.Supersede(identity, held.connection)
	}
}

// dropSuperseded drops the stations this node holds whose row another node claimed with a
// later connection: the listener was away, and their "drop" notifications may have been
// lost.
func (n *Node) dropSuperseded() {
	if n.ctx == nil || n.ctx.Err() != nil {
		return
	}
	n.mu.Lock()
	held := maps.Clone(n.sessions)
	n.mu.Unlock()
	var rows []struct {
		Identity    string    `db:"charge_station_id"`
		ConnectedAt time.Time `db:"connected_at"`
	}
	const q = `
	SELECT charge_station_id, connected_at FROM station_sessions
	WHERE charge_station_id = ANY($1) AND node_id <> $2 AND left_at IS NULL`
	if err := n.db.SelectContext(n.ctx, &rows, q, pq.Array(slices.Collect(maps.Keys(held))), n.cfg.NodeID); err != nil {
		if n.ctx.Err() == nil {
			n.log.Warn("cluster: look for stations claimed elsewhere", "err", err)
		}
		return
	}
	for _, r := range rows {
		if h := held[r.Identity]; r.ConnectedAt.After(h.at) {
			n.drop(r.Identity, h.id)
		}
	}
}

func (n *Node) wake(id uuid.UUID) {
	n.mu.Lock()
	ch := n.waiters[id]
	n.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (n *Node) wakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ch := range n.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// serveUnclaimed serves the requests addressed to this node that nobody claimed.
func (n *Node) serveUnclaimed() {
	if n.ctx == nil || n.ctx.Err() != nil {
		return
	}
	var ids []uuid.UUID
	const q = `SELECT id FROM command_calls WHERE target_node = $1 AND picked_at IS NULL`
	if err := n.db.SelectContext(n.ctx, &ids, q, n.cfg.NodeID); err != nil {
		if n.ctx.Err() == nil {
			n.log.Warn("cluster: look for unclaimed calls", "err", err)
		}
		return
	}
	for _, id := range ids {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.serve(id) }()
	}
}

// serve runs one forwarded call on this node's gateway and writes back the answer.
func (n *Node) serve(id uuid.UUID) {
	const claim = `
	UPDATE command_calls SET picked_at = now()
	WHERE id = $1 AND target_node = $2 AND picked_at IS NULL
	RETURNING charge_station_id, caller_node, action, payload,
		GREATEST(timeout_ms - (EXTRACT(EPOCH FROM clock_timestamp() - created_at) * 1000)::integer, 0) AS remaining_ms`
	var req struct {
		Identity    string `db:"charge_station_id"`
		Caller      string `db:"caller_node"`
		Action      string `db:"action"`
		Payload     string `db:"payload"`
		RemainingMS int64  `db:"remaining_ms"`
	}
	err := n.db.GetContext(n.ctx, &req, claim, id, n.cfg.NodeID)
	if errors.Is(err, sql.ErrNoRows) {
		return // claimed already, or the caller gave up
	}
	if err != nil {
		if n.ctx.Err() == nil {
			n.log.Warn("cluster: claim forwarded call", "id", id, "err", err)
		}
		return
	}
	if req.RemainingMS <= 0 {
		return // the caller has given up already
	}

	ctx, cancel := context.WithTimeout(n.ctx, time.Duration(req.RemainingMS)*time.Millisecond)
	var res json.RawMessage
	err = ocpp.ErrNotConnected
	if l := n.localGateway(); l != nil {
		res, err = l.Call(ctx, req.Identity, req.Action, json.RawMessage(req.Payload))
	}
	cancel()

	a := answerOf(res, err)
	var result, details any
	if a.Result != nil {
		result = string(a.Result)
	}
	if a.Details != nil {
		details = string(a.Details)
	}
	const answerRow = `
	WITH ans AS (
		UPDATE command_calls SET
			answered_at = now(), result = $2, error_kind = $3, error_code = $4, error_message = $5, error_details = $6
		WHERE id = $1
		RETURNING id
	)
	SELECT pg_notify($7, 'res:' || id) FROM ans`
	// Not n.ctx: a node shutting down still delivers the answers it has.
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	if _, err := n.db.ExecContext(actx, answerRow, id, result, nullIfEmpty(a.Kind), nullIfEmpty(a.Code), nullIfEmpty(a.Message),
		details, channelOf(req.Caller)); err != nil {
		n.log.Warn("cluster: answer forwarded call", "id", id, "err", err)
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
