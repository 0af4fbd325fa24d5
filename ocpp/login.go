package ocpp

import (
	"errors"
	"net/netip"
	"sync"
	"time"
)

// Reasons a login is refused. Their text is what the station's last_connection_error shows
// and what the log line says; none carries the password.
var (
	errUnknownStation   = errors.New("unknown station")
	errNoCredentials    = errors.New("no HTTP Basic credentials sent")
	errWrongUser        = errors.New("the Basic user name is not the station's identity")
	errNoPasswordOnFile = errors.New("no OCPP password is set for the station")
	errWrongPassword    = errors.New("wrong password")
	errNoClientCert     = errors.New("no verified TLS client certificate")
	errTooManyFailures  = errors.New("too many failed logins, retry later")
	errTooManyAttempts  = errors.New("too many logins at once")
)

// loginGuard slows down password guessing. Failed logins are counted per identity and per
// client address (an IPv6 address by its /64, which one host usually holds whole). Past a
// number of failures, each further failure blocks the identity (or address) for a time that
// doubles, from one second up to Config.LoginBackoffMax; while blocked, logins are answered
// 429 at the upgrade, before the registry is asked or a password checked. Failures are
// forgotten after loginForgetAfter without one; a successful login forgets its identity's.
//
// Logins also run one at a time per identity (a station opens one connection; parallel
// guesses are not a station), and a few at a time from an address that has failed logins not
// yet forgotten, so a burst of guesses cannot keep the cores busy with password checks. An
// address without failures has no such cap: a thousand stations behind one NAT, or a proxy
// not declared in TrustedProxies, reconnect after a restart as fast as they come.
//
// The guard is per node: behind a load balancer an attacker gets each node's allowance.
type loginGuard struct {
	perIdentity, perAddress int
	maxBackoff              time.Duration

	mu         sync.Mutex
	identities map[string]*loginRecord
	addresses  map[string]*loginRecord
}

// loginRecord is the state of one identity or address.
type loginRecord struct {
	failures int
	last     time.Time // last failure
	until    time.Time // blocked until
	inFlight int       // logins being checked now
}

const (
	// loginForgetAfter: failures older than this no longer count.
	loginForgetAfter = 15 * time.Minute
	// loginsInFlightPerAddress bounds concurrent logins from an address that has failed
	// logins.
	loginsInFlightPerAddress = 8
	// loginRecordsMax bounds the guard's memory; past it, records that block nothing are
	// dropped first.
	loginRecordsMax = 100_000
)

func newLoginGuard(cfg Config) *loginGuard {
	return &loginGuard{
		perIdentity: cfg.LoginFailuresPerIdentity, perAddress: cfg.LoginFailuresPerAddress,
		maxBackoff: cfg.LoginBackoffMax,
		identities: map[string]*loginRecord{}, addresses: map[string]*loginRecord{},
	}
}

// addressKey is the unit an address is counted by: an IPv4 address, or an IPv6 /64.
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// begin starts a login of identity from address. It returns a refusal and how long to wait
// when the identity or address is blocked, or has too many logins in flight; otherwise the
// login counts as in flight until end.
func (g *loginGuard) begin(identity, address string, now time.Time) (retryAfter time.Duration, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, addr := g.record(g.identities, identity, now), g.record(g.addresses, addressKey(address), now)
	wait := max(id.until.Sub(now), addr.until.Sub(now))
	if wait > 0 {
		return wait, errTooManyFailures
	}
	suspect := addr.failures > 0 && now.Sub(addr.last) <= loginForgetAfter
	if id.inFlight >= 1 || (suspect && addr.inFlight >= loginsInFlightPerAddress) {
		return time.Second, errTooManyAttempts
	}
	id.inFlight++
	addr.inFlight++
	return 0, nil
}

// end finishes a login begun with begin: ok forgets the identity's failures; a failure
// counts against the address, and against the identity unless it is unknown (guessing
// identities is the address's doing).
func (g *loginGuard) end(identity, address string, now time.Time, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, addr := g.record(g.identities, identity, now), g.record(g.addresses, addressKey(address), now)
	id.inFlight--
	addr.inFlight--
	switch {
	case err == nil:
		id.failures, id.until = 0, time.Time{}
	case errors.Is(err, errUnknownStation):
		g.fail(addr, g.perAddress, now)
	default:
		g.fail(id, g.perIdentity, now)
		g.fail(addr, g.perAddress, now)
	}
}

func (g *loginGuard) fail(r *loginRecord, allowed int, now time.Time) {
	if now.Sub(r.last) > loginForgetAfter {
		r.failures = 0
	}
	r.failures++
	r.last = now
	if over := r.failures - allowed; over > 0 {
		r.until = now.Add(min(time.Second<<min(over-1, 30), g.maxBackoff))
	}
}

// record returns the record of key, made if missing.
func (g *loginGuard) record(m map[string]*loginRecord, key string, now time.Time) *loginRecord {
	r := m[key]
	if r == nil {
		if len(m) >= loginRecordsMax {
			g.pruneMap(m, now, true)
		}
		r = &loginRecord{}
		m[key] = r
	}
	return r
}

// prune drops records that no longer matter; the sweeper calls it.
func (g *loginGuard) prune(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneMap(g.identities, now, false)
	g.pruneMap(g.addresses, now, false)
}

// pruneMap drops records with nothing in flight, not blocking and with forgotten failures;
// with hard, also those whose failures are not yet forgotten but block nothing now.
func (g *loginGuard) pruneMap(m map[string]*loginRecord, now time.Time, hard bool) {
	for k, r := range m {
		if r.inFlight > 0 || now.Before(r.until) {
			continue
		}
		if hard || now.Sub(r.last) > loginForgetAfter {
			delete(m, k)
		}
	}
}
