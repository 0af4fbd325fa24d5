package tokens

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// The statuses of a Decision (OCPP's AuthorizationStatus values).
const (
	StatusAccepted = "Accepted"
	StatusBlocked  = "Blocked"
	StatusExpired  = "Expired"
	StatusInvalid  = "Invalid"
)

// Decision is what a station is told about an id token it presents.
type Decision struct {
	Status     string // StatusAccepted, StatusBlocked, StatusExpired or StatusInvalid
	GroupID    string // the token's group_id; "" when none (or the token is unknown)
	ExpiryDate *time.Time
	// Roaming is set when the token is a roaming partner's (package ocpi): the decision may
	// then be the partner's (real-time authorisation, by its whitelist).
	Roaming *Roaming
}

// Roaming is what deciding on a roaming partner's token with its eMSP needs.
type Roaming struct {
	PartnerID uuid.UUID
	TokenID   string // the token's internal id
	UID       string // as the partner gave it (the station may present it in another case)
	Type      string
	Whitelist string // ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER
}

// ErrUnknownStation: the station presenting a token is not registered.
var ErrUnknownStation = errNoStation

// Authorizer decides on the id tokens stations present, from the tokens of each station's
// network (see the package documentation for the rules).
//
// An Authorize storm must not become a storm of queries, and Authorize sits on the OCPP hot
// path of every station: so each node keeps the facts it read, per station its network and
// per network its accept_unknown_tokens setting and the tokens presented so far (known or
// not: a card nobody registered is asked about again and again). Repeated tokens are
// decided in memory; expiry is checked at each decision, against the clock.
//
// It rests on the same three rules as chargestations.AnswerCache:
//
//   - Every change of tokens, of a network's setting or of a station's network is notified
//     by PostgreSQL at commit on channel tokens_changed (migration 0022); every node listens
//     (ListenForChanges) and forgets the networks (or stations) named.
//   - This node's own token writes forget at once (ForgetNetworks, the Service's hook).
//   - Facts read from the database are kept only when no change was heard while they were
//     read (an epoch), so a read that raced a change never leaves stale facts behind.
//
// While the listener is not connected, nothing is kept and every decision reads the
// database.
type Authorizer struct {
	store   *Store
	now     func() time.Time
	enabled atomic.Bool
	max     int // tokens kept per network; past it, the network's tokens are dropped

	mu           sync.RWMutex
	stationEpoch uint64
	networkEpoch uint64
	stations     map[string]uuid.UUID
	networks     map[uuid.UUID]*networkFacts

	hits, misses atomic.Int64
}

type networkFacts struct {
	acceptUnknown bool
	tokens        map[string]tokenFacts // by the id token as presented
}

// tokenFacts is a matching token, or found false for an id token the network does not know.
type tokenFacts struct {
	found   bool
	valid   bool
	groupID string
	expiry  *time.Time
	roaming *Roaming // nil for a network's own token
}

// NewAuthorizer returns an Authorizer over store; now may be nil (time.Now). It keeps
// nothing until ListenForChanges listens (or Enable is called, for tests that write through
// this node only).
func NewAuthorizer(store *Store, now func() time.Time) *Authorizer {
	if now == nil {
		now = time.Now
	}
	return &Authorizer{store: store, now: now, max: 100_000,
		stations: map[string]uuid.UUID{}, networks: map[uuid.UUID]*networkFacts{}}
}

// Authorize decides on idToken presented at station identity. Errors: ErrUnknownStation,
// database errors (only when the facts are not kept).
func (a *Authorizer) Authorize(ctx context.Context, identity, idToken string) (Decision, error) {
	if a.enabled.Load() {
		a.mu.RLock()
		net, okStation := a.stations[identity]
		nf := a.networks[net]
		var tf tokenFacts
		okToken := false
		if okStation && nf != nil {
			tf, okToken = nf.tokens[idToken]
		}
		accept := nf != nil && nf.acceptUnknown
		a.mu.RUnlock()
		if okToken {
			a.hits.Add(1)
			return a.decide(tf, accept), nil
		}
	}
	a.misses.Add(1)
	a.mu.RLock()
	se, ne := a.stationEpoch, a.networkEpoch
	a.mu.RUnlock()
	f, err := a.store.authorizationFacts(ctx, identity, idToken)
	if err != nil {
		return Decision{}, err
	}
	tf := tokenFacts{found: f.Found, valid: f.Valid.Bool, groupID: f.GroupID.String}
	if f.Found && f.PartnerID.Valid {
		tf.roaming = &Roaming{PartnerID: f.PartnerID.UUID, TokenID: f.TokenID.String, UID: f.UID.String,
			Type: f.Type.String, Whitelist: f.Whitelist.String}
	}
	if f.ExpiryDate.Valid {
		t := f.ExpiryDate.Time.UTC()
		tf.expiry = &t
	}
	if a.enabled.Load() {
		a.keep(identity, idToken, f.NetworkID, f.AcceptUnknown, tf, se, ne)
	}
	return a.decide(tf, f.AcceptUnknown), nil
}

func (a *Authorizer) keep(identity, idToken string, net uuid.UUID, accept bool, tf tokenFacts, se, ne uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stationEpoch == se {
		a.stations[identity] = net
	}
	if a.networkEpoch != ne {
		return
	}
	nf := a.networks[net]
	if nf == nil || len(nf.tokens) >= a.max {
		nf = &networkFacts{acceptUnknown: accept, tokens: map[string]tokenFacts{}}
		a.networks[net] = nf
	}
	nf.tokens[idToken] = tf
}

func (a *Authorizer) decide(tf tokenFacts, acceptUnknown bool) Decision {
	switch {
	case !tf.found && acceptUnknown:
		return Decision{Status: StatusAccepted}
	case !tf.found:
		return Decision{Status: StatusInvalid}
	}
	d := Decision{GroupID: tf.groupID, ExpiryDate: tf.expiry, Roaming: tf.roaming}
	switch {
	case !tf.valid:
		d.Status = StatusBlocked
	case tf.expiry != nil && !a.now().Before(*tf.expiry):
		d.Status = StatusExpired
	default:
		d.Status = StatusAccepted
	}
	return d
}

// ForgetNetworks drops what is kept of the networks' tokens and settings (they changed).
func (a *Authorizer) ForgetNetworks(ids ...uuid.UUID) {
	if a == nil || len(ids) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.networkEpoch++
	for _, id := range ids {
		delete(a.networks, id)
	}
}

// ForgetStations drops the kept networks of stations (they moved to another network).
func (a *Authorizer) ForgetStations(ids ...string) {
	if a == nil || len(ids) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stationEpoch++
	for _, id := range ids {
		delete(a.stations, id)
	}
}

func (a *Authorizer) forgetAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stationEpoch++
	a.networkEpoch++
	clear(a.stations)
	clear(a.networks)
}

// Enable makes the Authorizer keep what it reads without listening for changes: for a
// single process whose every write goes through ForgetNetworks (tests).
func (a *Authorizer) Enable() { a.enabled.Store(true) }

// Stats are the decisions made from kept facts (hits) and from the database (misses).
func (a *Authorizer) Stats() (hits, misses int64) { return a.hits.Load(), a.misses.Load() }

// changesChannel is the channel migration 0022's triggers notify.
const changesChannel = "tokens_changed"

// ListenForChanges keeps a connection to the database at dbURL listening for token changes
// until ctx ends, and forgets what they name. The Authorizer keeps facts only while the
// connection is up.
func (a *Authorizer) ListenForChanges(ctx context.Context, dbURL string, log *slog.Logger) {
	events := make(chan pq.ListenerEventType, 4)
	l := pq.NewListener(dbURL, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		if ev != pq.ListenerEventConnected && ev != pq.ListenerEventReconnected {
			a.enabled.Store(false)
			a.forgetAll()
			if err != nil {
				log.Warn("token authorizer: change listener lost its connection; deciding from the database", "err", err)
			}
		}
		select {
		case events <- ev:
		default:
		}
	})
	defer l.Close()
	if err := l.Listen(changesChannel); err != nil {
		log.Error("token authorizer: listen for changes; every decision reads the database", "err", err)
		return
	}
	a.forgetAll()
	a.enabled.Store(true)
	for {
		select {
		case <-ctx.Done():
			a.enabled.Store(false)
			return
		case ev := <-events:
			if ev == pq.ListenerEventReconnected {
				a.forgetAll()
				a.enabled.Store(true)
			}
		case n := <-l.Notify:
			if n == nil {
				continue
			}
			a.apply(n.Extra)
		}
	}
}

// apply forgets what a notification names: network ids, and "station:<id>" for stations
// that moved, one per line.
func (a *Authorizer) apply(payload string) {
	var nets []uuid.UUID
	var stations []string
	for _, line := range strings.Split(payload, "\n") {
		if id, ok := strings.CutPrefix(line, "station:"); ok {
			stations = append(stations, id)
			continue
		}
		if id, err := uuid.Parse(line); err == nil {
			nets = append(nets, id)
		}
	}
	a.ForgetNetworks(nets...)
	a.ForgetStations(stations...)
}

// IsUnknownStation reports whether err says the station is not registered.
func IsUnknownStation(err error) bool { return errors.Is(err, errNoStation) }
