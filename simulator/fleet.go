package simulator

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// env is what the stations of one fleet share: the config, the dialers (one per protocol
// and source address), the pacing of new connections and the counters.
type env struct {
	cfg     Config
	baseURL string // the gateway URL with a trailing slash; the identity follows
	srcs    []netip.Addr
	dialers [2][]*websocket.Dialer // [protocol-1][source]
	pacer   *pacer
	stats   stats
	// onDown, when set, is told when a station's connection has ended (Fleet.Run reconnects).
	onDown atomic.Pointer[onDownFunc]
}

func newEnv(cfg Config) (*env, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	srcs := cfg.SourceAddrs
	if len(srcs) == 0 && cfg.Count > loopbackSpreadThreshold && isLoopback(u.Hostname()) {
		srcs = loopbackSources((cfg.Count + loopbackSpreadThreshold - 1) / loopbackSpreadThreshold)
		if u.Hostname() == "localhost" {
			// localhost may resolve to ::1 first, which an IPv4 source address cannot reach.
			u.Host = net.JoinHostPort("127.0.0.1", u.Port())
		}
	}
	e := &env{cfg: cfg, baseURL: strings.TrimRight(u.String(), "/") + "/", srcs: srcs, pacer: newPacer(cfg.ConnectRate, cfg.MaxInFlight)}
	// One write-buffer pool for every connection: a buffer is held only while a frame is
	// written, so an idle connection holds none.
	pool := &sync.Pool{}
	for i, p := range []Protocol{OCPP16, OCPP201} {
		n := max(len(srcs), 1)
		e.dialers[i] = make([]*websocket.Dialer, n)
		for j := range n {
			nd := &net.Dialer{Timeout: cfg.HandshakeTimeout, KeepAlive: -1}
			if len(srcs) > 0 {
				nd.LocalAddr = &net.TCPAddr{IP: srcs[j].AsSlice()}
			}
			e.dialers[i][j] = &websocket.Dialer{
				NetDialContext:   nd.DialContext,
				HandshakeTimeout: cfg.HandshakeTimeout,
				Subprotocols:     []string{p.Subprotocol()},
				ReadBufferSize:   readBufferSize,
				WriteBufferSize:  writeBufferSize,
				WriteBufferPool:  pool,
			}
		}
	}
	return e, nil
}

func (e *env) dialer(p Protocol, src int) *websocket.Dialer { return e.dialers[p-1][src] }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4() && a.IsLoopback()
}

// loopbackSources returns 127.0.0.1 … 127.0.0.n (Linux routes all of 127/8 to lo).
func loopbackSources(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{127, 0, byte((i + 1) >> 8), byte(i + 1)})
	}
	return out
}

// stats are the fleet's counters, updated with atomics from every connection.
type stats struct {
	connected, booted, sessions                                   atomic.Int64 // gauges
	framesIn, framesOut, callsSent, callsAnswered                 atomic.Int64
	callErrors, timeouts, otherErrors, connectFailures, badFrames atomic.Int64
	unmatched, drops, sessionsStarted, peakConnected              atomic.Int64
}

func (st *stats) connectedUp() {
	n := st.connected.Add(1)
	for peak := st.peakConnected.Load(); n > peak && !st.peakConnected.CompareAndSwap(peak, n); peak = st.peakConnected.Load() {
	}
}

func (st *stats) countError(err error) {
	var ce *CallError
	switch {
	case errors.Is(err, context.Canceled):
		// The caller gave up (a run ending); nothing went wrong.
	case errors.As(err, &ce):
		st.callErrors.Add(1)
	case errors.Is(err, ErrTimeout):
		st.timeouts.Add(1)
	default:
		st.otherErrors.Add(1)
	}
}

// Stats is a snapshot of a fleet's counters. Counts are since the fleet was made.
type Stats struct {
	Connected int64 // open connections now
	// PeakConnected is the most connections that were open at once.
	PeakConnected int64
	Booted        int64 // connections with an accepted BootNotification now
	Sessions      int64 // charging sessions running now

	FramesIn, FramesOut int64 // WebSocket messages received and sent
	CallsSent           int64 // CALLs the stations sent
	CallsAnswered       int64 // CALLs of the gateway the stations answered
	CallErrors          int64 // CALLERROR answers to the stations' CALLs
	Timeouts            int64 // CALLs of the stations that got no answer in time
	OtherErrors         int64 // CALLs that failed otherwise (connection lost); cancelled ones are not counted
	ConnectFailures     int64 // dials or upgrades that failed
	BadFrames           int64 // frames from the gateway that could not be decoded
	Unmatched           int64 // answers to no outstanding CALL (late ones)
	Drops               int64 // connections that ended without the station closing them
	SessionsStarted     int64 // charging sessions started since the fleet was made
}

// Errors is the sum of everything that went wrong.
func (s Stats) Errors() int64 {
	return s.CallErrors + s.Timeouts + s.OtherErrors + s.ConnectFailures + s.BadFrames
}

func (st *stats) snapshot() Stats {
	return Stats{
		Connected: st.connected.Load(), PeakConnected: st.peakConnected.Load(), Booted: st.booted.Load(), Sessions: st.sessions.Load(),
		FramesIn: st.framesIn.Load(), FramesOut: st.framesOut.Load(), CallsSent: st.callsSent.Load(),
		CallsAnswered: st.callsAnswered.Load(), CallErrors: st.callErrors.Load(), Timeouts: st.timeouts.Load(),
		OtherErrors: st.otherErrors.Load(), ConnectFailures: st.connectFailures.Load(), BadFrames: st.badFrames.Load(),
		Unmatched: st.unmatched.Load(), Drops: st.drops.Load(), SessionsStarted: st.sessionsStarted.Load(),
	}
}

// pacer paces new connections: at most rate per second (0: no limit) and at most
// maxInFlight being opened at once.
type pacer struct {
	interval time.Duration
	sem      chan struct{}
	mu       sync.Mutex
	next     time.Time
}

func newPacer(rate float64, maxInFlight int) *pacer {
	p := &pacer{sem: make(chan struct{}, maxInFlight)}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// do runs fn when a slot of the rate and one of the in-flight limit are free.
func (p *pacer) do(ctx context.Context, fn func() error) error {
	if p.interval > 0 {
		p.mu.Lock()
		now := time.Now()
		if p.next.Before(now) {
			p.next = now
		}
		at := p.next
		p.next = p.next.Add(p.interval)
		p.mu.Unlock()
		if err := sleep(ctx, time.Until(at)); err != nil {
			return err
		}
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.sem }()
	return fn()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jitter spreads d over [d/2, d) so that stations started together do not stay in step.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Fleet is Config.Count stations sharing one config, dialers and counters: what Run drives
// and what the scenarios measure. Stations are made unconnected.
type Fleet struct {
	env      *env
	stations []*Station
}

// NewFleet makes the stations of cfg (not connected yet). It fails when cfg is invalid.
func NewFleet(cfg Config) (*Fleet, error) {
	e, err := newEnv(cfg)
	if err != nil {
		return nil, err
	}
	f := &Fleet{env: e, stations: make([]*Station, e.cfg.Count)}
	sources := max(len(e.srcs), 1)
	for i := range f.stations {
		f.stations[i] = e.newStation(e.cfg.Identity(i), e.cfg.protocolOf(i), i%sources)
	}
	return f, nil
}

// Config returns the fleet's config, with defaults applied.
func (f *Fleet) Config() Config { return f.env.cfg }

// Stations returns the stations, in identity order.
func (f *Fleet) Stations() []*Station { return f.stations }

// Stats returns a snapshot of the fleet's counters.
func (f *Fleet) Stats() Stats { return f.env.stats.snapshot() }

// Connected returns how many stations have an open connection.
func (f *Fleet) Connected() int { return int(f.env.stats.connected.Load()) }

// SourceAddrs returns the local addresses the fleet dials from (empty: the system's choice).
func (f *Fleet) SourceAddrs() []netip.Addr { return f.env.srcs }

// Close closes every connection (many at once) and waits until they are down.
func (f *Fleet) Close() {
	f.each(func(s *Station) { _ = s.Close() })
}

// each runs fn for every station, with up to 256 at once.
func (f *Fleet) each(fn func(*Station)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, s := range f.stations {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(s)
		}()
	}
	wg.Wait()
}
