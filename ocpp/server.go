package ocpp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol tokens, newest first: the order we prefer.
const (
	subprotocol201 = "ocpp2.0.1"
	subprotocol16  = "ocpp1.6"
)

var subprotocols = []struct{ token, version string }{
	{subprotocol201, ProtocolOCPP201},
	{subprotocol16, ProtocolOCPP16},
}

// pathPrefix is where the gateway serves stations: /ocpp/{identity}.
const pathPrefix = "/ocpp/"

// Config tunes the gateway. Zero values take the documented defaults.
type Config struct {
	// HeartbeatInterval is handed to stations in BootNotification. Default 300s.
	HeartbeatInterval time.Duration
	// OfflineAfter closes a connection that sent nothing (no frame, ping or pong) for this
	// long. Default 2 × HeartbeatInterval.
	OfflineAfter time.Duration
	// PublicURL is the gateway URL recorded as a station's endpoint, e.g.
	// "wss://ocpp.example.com/ocpp". Default: ws(s)://<request host>/ocpp.
	PublicURL string
	// CallTimeout bounds each CALL evroam sends to a station. Default 30s.
	CallTimeout time.Duration
	// PingInterval is how often the server pings each station, and each operator of the
	// OCPP proxy (an operator link that hears nothing, not even a pong, for two intervals is
	// dialled again). Default 60s; negative disables pings.
	PingInterval time.Duration
	// RegistryTimeout bounds each Registry call. Default 10s.
	RegistryTimeout time.Duration
	// WriteTimeout bounds each frame write. Default 10s.
	WriteTimeout time.Duration
	// MaxMessageSize is the largest frame accepted. Default 1 MiB.
	MaxMessageSize int64
	// MessageLogFlushInterval and MessageLogBatchSize control the message-log batcher:
	// frames are flushed every interval or as soon as a batch is full. Defaults 1s and 500.
	MessageLogFlushInterval time.Duration
	MessageLogBatchSize     int
	// MessageLogMaxPending caps frames held while the registry is slow; newer frames are
	// dropped (and counted in the log) beyond it. Default 100000.
	MessageLogMaxPending int
	// HeartbeatFlushInterval is how often coalesced heartbeats are written. Default 5s.
	HeartbeatFlushInterval time.Duration
	// ValidateOwnAnswers checks every answer the gateway gives against the OCPP schema before
	// it is sent (an answer that fails is a bug: the station gets InternalError instead). The
	// answers are built from typed payloads whose schemas the tests check, and strict peers
	// in the tests validate every answer they receive, so this is for tests and debugging:
	// it costs a JSON parse and a schema walk per message. Stations' own CALLs and answers
	// are always validated.
	ValidateOwnAnswers bool
	// BootTriggerDelay is how long a station without boot data on record may take to send
	// its BootNotification by itself before it is asked with TriggerMessage. Default 5s.
	BootTriggerDelay time.Duration
	// TrustedProxies may set X-Forwarded-For; the client IP is then the right-most address
	// that is not a trusted proxy. They may also say that the station's connection was TLS
	// (X-Forwarded-Proto) and pass its client certificate (Client-Cert, RFC 9440): see
	// transport.go.
	TrustedProxies []netip.Prefix
	// ClientCAs returns the CAs that sign station client certificates (security profile 3),
	// as currently configured; nil when none are. evroam's own TLS listener verifies
	// certificates against the same CAs during the handshake.
	ClientCAs func() *x509.CertPool
	// CSRSigner, when set, signs the certificates stations ask for with SignCertificate;
	// without it SignCertificate is answered Rejected (certificates.go).
	CSRSigner CSRSigner
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// LoginFailuresPerIdentity and LoginFailuresPerAddress are how many failed logins an
	// identity, and a client address, may have within 15 minutes before each further failure
	// blocks it (answered 429 at the upgrade) for a time that doubles from 1s up to
	// LoginBackoffMax. Defaults 5, 20 and 5 minutes.
	LoginFailuresPerIdentity int
	LoginFailuresPerAddress  int
	LoginBackoffMax          time.Duration
	// Observer, when set, counts frames, handler latency and the CALLERRORs the gateway
	// answers, for metrics (see Observer).
	Observer Observer
	// Proxy, when set, forwards each station's connection to its operators (proxy.go).
	Proxy ProxyRegistry
	// ProxyTLS is the TLS configuration of wss:// operator links (nil: the system's roots).
	ProxyTLS *tls.Config
	// ProxyReconnectMin and ProxyReconnectMax bound the backoff between attempts of a link
	// (doubling, with jitter). Defaults 1s and 60s.
	ProxyReconnectMin, ProxyReconnectMax time.Duration
	// ProxyAnswerTimeout is how long a station's Authorize or transaction message waits for
	// the Billing operator's answer before evroam answers. Default 5s.
	ProxyAnswerTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 300 * time.Second
	}
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = 2 * c.HeartbeatInterval
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 60 * time.Second
	}
	if c.RegistryTimeout <= 0 {
		c.RegistryTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.MessageLogFlushInterval <= 0 {
		c.MessageLogFlushInterval = time.Second
	}
	if c.MessageLogBatchSize <= 0 {
		c.MessageLogBatchSize = 500
	}
	if c.MessageLogMaxPending <= 0 {
		c.MessageLogMaxPending = 100000
	}
	if c.HeartbeatFlushInterval <= 0 {
		c.HeartbeatFlushInterval = 5 * time.Second
	}
	if c.BootTriggerDelay <= 0 {
		c.BootTriggerDelay = 5 * time.Second
	}
	if c.LoginFailuresPerIdentity <= 0 {
		c.LoginFailuresPerIdentity = 5
	}
	if c.LoginFailuresPerAddress <= 0 {
		c.LoginFailuresPerAddress = 20
	}
	if c.LoginBackoffMax <= 0 {
		c.LoginBackoffMax = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ProxyReconnectMin <= 0 {
		c.ProxyReconnectMin = time.Second
	}
	if c.ProxyReconnectMax < c.ProxyReconnectMin {
		c.ProxyReconnectMax = max(60*time.Second, c.ProxyReconnectMin)
	}
	if c.ProxyAnswerTimeout <= 0 {
		c.ProxyAnswerTimeout = 5 * time.Second
	}
	return c
}

// Server is the OCPP 1.6J / 2.0.1 WebSocket gateway. It is an http.Handler for
// /ocpp/{identity}.
type Server struct {
	cfg        Config
	reg        Registry
	log        *slog.Logger
	validators map[string]*validator
	upgrader   websocket.Upgrader

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	bg     sync.WaitGroup // background goroutines
	connWG sync.WaitGroup // connection goroutines
	// proxyWG: stations' operator links being closed (they record their last status)
	proxyWG sync.WaitGroup

	mu        sync.Mutex
	conns     map[string]*conn
	serials   atomic.Uint64  // the last connection number given (conn.serial)
	connected map[string]int // len(conns) by protocol version, for ConnectedByProtocol
	// upgrading: stations whose handshake is being answered. The station may see the 101 and
	// be commanded through the API before this node has taken its connection into conns; a
	// Call in that moment waits for it instead of answering ErrNotConnected.
	upgrading map[string]*upgrade
	closed    bool
	// shuttingDown: Close is closing the connections (their ends go to LeaveRecorder).
	shuttingDown atomic.Bool

	obs *observer // nil without Config.Observer

	handlers      *handlerPool // where frames are read and handled (conn.aside)
	messages      *messageBatcher
	heartbeats    *latestBatcher[Heartbeat]
	loginFailures *latestBatcher[LoginFailure]
	logins        *loginGuard

	// Test hooks (nil outside tests): after the 101 went out, before the connection is taken
	// in; and when a Call starts waiting for a handshake.
	testHookUpgraded, testHookAwaitUpgrade func(identity string)
}

// NewServer returns a gateway backed by reg. It starts background goroutines (the
// sweeper that pings and drops silent stations, and the log and heartbeat flushers);
// Close stops them.
func NewServer(cfg Config, reg Registry, log *slog.Logger) *Server {
	if reg == nil {
		panic("ocpp: NewServer needs a Registry")
	}
	if log == nil {
		log = slog.Default()
	}
	vs, err := loadValidators()
	if err != nil {
		// The schemas are embedded; failing to load them is a build defect.
		panic(err)
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		reg:        reg,
		log:        log,
		validators: vs,
		ctx:        ctx,
		cancel:     cancel,
		conns:      map[string]*conn{},
		connected:  map[string]int{},
		upgrading:  map[string]*upgrade{},
		obs:        newObserver(cfg.Observer, schemaActions(vs)),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			// Pooled write buffers keep an idle connection small: the write buffer is only
			// held while a frame is being written. The read buffer is the one idleHijacker
			// makes (readBufferSize), taken over because ReadBufferSize is 0.
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
			// Stations are not browsers; they send no Origin, or one we cannot predict.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	s.handlers = newHandlerPool(10 * time.Second)
	s.messages = newMessageBatcher(s)
	s.heartbeats = newLatestBatcher(s, "heartbeats", reg.RecordHeartbeats,
		func(h Heartbeat) string { return h.Identity }, func(a, b Heartbeat) bool { return a.At.After(b.At) })
	s.loginFailures = newLatestBatcher(s, "login failures", reg.RecordLoginFailures,
		func(f LoginFailure) string { return f.Identity }, func(a, b LoginFailure) bool { return a.At.After(b.At) })
	s.logins = newLoginGuard(cfg)
	s.bg.Add(4)
	go s.messages.run()
	go s.heartbeats.run()
	go s.loginFailures.run()
	go s.sweep()
	return s
}

// ServeHTTP upgrades /ocpp/{identity}: unknown station 404, bad credentials 401, then the
// WebSocket handshake with the newest common subprotocol (none in common: the handshake
// completes without one and the socket is closed at once).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	identity, ok := identityFromPath(r.URL)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}

	clientIP := s.clientIP(r)
	token, version := chooseSubprotocol(websocket.Subprotocols(r))
	st, ok := s.login(w, r, identity, clientIP, version)
	if !ok {
		return
	}

	var hdr http.Header
	if token != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {token}}
	}
	var up *upgrade
	if token != "" {
		up = s.beginUpgrade(identity, version)
		defer s.endUpgrade(identity, up) // when the connection is not taken in
	}
	hj := &idleHijacker{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(hj, r, hdr)
	if err != nil {
		// The upgrader has answered with an HTTP error already.
		s.log.Info("ocpp: upgrade failed", "identity", identity, "err", err)
		return
	}
	if token == "" {
		s.log.Info("ocpp: no common subprotocol", "identity", identity, "offered", websocket.Subprotocols(r))
		deadline := time.Now().Add(time.Second)
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseProtocolError, "no supported OCPP subprotocol"), deadline)
		_ = ws.Close()
		return
	}

	if s.testHookUpgraded != nil {
		s.testHookUpgraded(identity)
	}
	c := newConn(s, ws, identity, version, st)
	c.idle = hj.conn
	endpoint := s.endpoint(r)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	prev := s.conns[identity]
	s.conns[identity] = c
	s.connected[c.proto]++
	if prev != nil {
		s.connected[prev.proto]-- // replaced in conns: its finish will not find itself there
	}
	s.connWG.Add(1)
	s.mu.Unlock()
	s.endUpgrade(identity, up)

	if prev != nil {
		s.log.Info("ocpp: new connection replaces the old one", "identity", identity)
		prev.replaced.Store(true)
		prev.closeWith(websocket.ClosePolicyViolation, "replaced by a new connection")
	}
	// The handler returns and net/http's goroutine for this request ends; the connection
	// lives on in a goroutine of its own, with a small stack.
	c.start(prev, clientIP, endpoint)
}

// identityFromPath returns the identity of /ocpp/{identity}, percent-decoded and checked.
func identityFromPath(u *url.URL) (string, bool) {
	p := u.EscapedPath()
	if !strings.HasPrefix(p, pathPrefix) {
		return "", false
	}
	seg := p[len(pathPrefix):]
	if seg == "" || strings.Contains(seg, "/") {
		return "", false
	}
	id, err := url.PathUnescape(seg)
	if err != nil || !ValidIdentity(id) {
		return "", false
	}
	return id, true
}

// ValidIdentity reports whether id is a valid charge station identity: 1 to 48 printable
// ASCII characters other than ':', '/', '?', '#' and space.
func ValidIdentity(id string) bool {
	if len(id) < 1 || len(id) > 48 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if b <= ' ' || b > '~' || b == ':' || b == '/' || b == '?' || b == '#' {
			return false
		}
	}
	return true
}

// chooseSubprotocol picks the newest version the client offers.
func chooseSubprotocol(offered []string) (token, version string) {
	for _, sp := range subprotocols {
		for _, o := range offered {
			if o == sp.token {
				return sp.token, sp.version
			}
		}
	}
	return "", ""
}

// authorize checks the station's security profile. version is the subprotocol that will
// be negotiated ("" if none): the 1.6 hex/plain password tolerance applies to 1.6 only.
// login checks a station's credentials before the upgrade and answers the refusals: 429
// while the identity or address is blocked for failed logins (see loginGuard), 404 for an
// unknown station, 401 for wrong credentials, 503 when the registry does not answer. Every
// refusal is logged with identity, address and reason, and recorded as the station's
// last_connection_error (Registry.RecordLoginFailures, coalesced per station). A profile 2
// or 3 station on a plain connection is answered 403.
func (s *Server) login(w http.ResponseWriter, r *http.Request, identity, clientIP, version string) (Station, bool) {
	now := s.cfg.Now()
	if wait, err := s.logins.begin(identity, clientIP, now); err != nil {
		s.refuseLogin(identity, clientIP, now, err)
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return Station{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RegistryTimeout)
	st, err := s.reg.LookupStation(ctx, identity)
	cancel()
	if err != nil && !errors.Is(err, ErrUnknownStation) {
		s.logins.end(identity, clientIP, s.cfg.Now(), nil)
		s.log.Error("ocpp: look up station", "identity", identity, "err", err)
		http.Error(w, "registry unavailable", http.StatusServiceUnavailable)
		return Station{}, false
	}
	if err == nil {
		st.upgraded, err = s.admit(r, identity, st, version)
	} else {
		err = errUnknownStation
	}
	now = s.cfg.Now()
	s.logins.end(identity, clientIP, now, err)
	switch {
	case err == nil:
		return st, true
	case errors.Is(err, errUnknownStation):
		s.log.Warn("ocpp: login refused", "identity", identity, "address", clientIP, "reason", err.Error())
		http.NotFound(w, r)
	case errors.Is(err, errPlainConnection):
		// Credentials would not help: the station must connect over TLS (wss://).
		s.refuseLogin(identity, clientIP, now, err)
		http.Error(w, err.Error(), http.StatusForbidden)
	default:
		s.refuseLogin(identity, clientIP, now, err)
		w.Header().Set("WWW-Authenticate", `Basic realm="evroam"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}
	return Station{}, false
}

func (s *Server) refuseLogin(identity, clientIP string, at time.Time, reason error) {
	s.log.Warn("ocpp: login refused", "identity", identity, "address", clientIP, "reason", reason.Error())
	s.loginFailures.add(LoginFailure{Identity: identity, Address: clientIP, Reason: reason.Error(), At: at})
}

// admit checks the station's credentials: those of its pending profile first, when it is
// being moved to a higher one (upgraded is then that profile), else those of its current
// profile. The error is the current profile's refusal.
func (s *Server) admit(r *http.Request, identity string, st Station, version string) (upgraded int, err error) {
	if st.PendingSecurityProfile > st.SecurityProfile && s.authorize(r, identity, st, st.PendingSecurityProfile, version) == nil {
		return st.PendingSecurityProfile, nil
	}
	return 0, s.authorize(r, identity, st, st.SecurityProfile, version)
}

// authorize checks the credentials of security profile profile; the error says why they are
// refused.
func (s *Server) authorize(r *http.Request, identity string, st Station, profile int, version string) error {
	switch profile {
	case 0:
		return nil
	case 1, 2:
		if profile == 2 && !s.transportOf(r).secure {
			return errPlainConnection
		}
		user, pass, ok := r.BasicAuth()
		switch {
		case !ok || pass == "":
			return errNoCredentials
		case user != identity:
			return errWrongUser
		case st.VerifyPassword == nil:
			return errNoPasswordOnFile
		}
		candidates := []string{pass}
		if version != ProtocolOCPP201 { // 2.0.1 passwords are plain UTF-8 (ocpp.md §4.2)
			candidates = append(candidates, passwordVariants16(pass)...)
		}
		if !st.VerifyPassword(candidates...) {
			return errWrongPassword
		}
		return nil
	case 3:
		// TLS client certificate (see transport.go); no password is needed.
		t := s.transportOf(r)
		switch {
		case !t.secure:
			return errPlainConnection
		case t.certErr != nil:
			return t.certErr
		case t.cert == nil:
			return errNoClientCert
		case t.cert.Subject.CommonName != identity:
			return errCertName
		}
		return nil
	}
	return fmt.Errorf("unknown security profile %d", profile)
}

// passwordVariants16 returns the other forms under which a 1.6 station's password may be
// on record (ocpp.md §4.2 and the Zaptec note): a 1.6 AuthorizationKey is hex on the OCPP
// channel and raw bytes in the Basic header, but stations and operators mix the two.
//   - 32 to 40 hex digits, even length: also try the decoded bytes.
//   - up to 20 bytes: also try the hex text, lower and upper case (the key was entered in
//     its hex form, the station sends the bytes).
func passwordVariants16(pass string) []string {
	var out []string
	if n := len(pass); n >= 32 && n <= 40 && n%2 == 0 {
		if b, err := hex.DecodeString(pass); err == nil {
			out = append(out, string(b))
		}
	}
	if len(pass) <= 20 {
		lower := hex.EncodeToString([]byte(pass))
		out = append(out, lower)
		if upper := strings.ToUpper(lower); upper != lower {
			out = append(out, upper)
		}
	}
	return out
}

func (s *Server) endpoint(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + strings.TrimSuffix(pathPrefix, "/")
}

func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	xff := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(xff) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(xff[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ProtocolOf returns the protocol version (ProtocolOCPP16 or ProtocolOCPP201) of the
// station's connection to this server, and false when it is not connected here.
func (s *Server) ProtocolOf(identity string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conns[identity]; c != nil {
		return c.proto, true
	}
	if u := s.upgrading[identity]; u != nil {
		return u.proto, true // a Call waits for the connection
	}
	return "", false
}

// Supersede closes the station's connection numbered connection (ConnectInfo.Connection),
// because the station holds a newer connection elsewhere: through another node of a
// cluster, which recorded it. As for a connection replaced by a newer one on this server,
// its end is not recorded (the station is not disconnected: it is connected elsewhere), and
// commands no longer reach it. A connection of another number is left alone: the station
// may have come back here since. It reports whether that connection was here.
func (s *Server) Supersede(identity string, connection uint64) bool {
	s.mu.Lock()
	c := s.conns[identity]
	if c == nil || c.serial != connection {
		s.mu.Unlock()
		return false
	}
	delete(s.conns, identity)
	s.connected[c.proto]--
	s.mu.Unlock()
	s.log.Info("ocpp: the station connected elsewhere; closing its connection here", "identity", identity)
	c.replaced.Store(true)
	c.closeWith(websocket.ClosePolicyViolation, "replaced by a newer connection")
	return true
}

// Connected returns how many stations are connected to this server.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ConnectedByProtocol returns how many stations are connected to this server per protocol
// version (ProtocolOCPP16, ProtocolOCPP201; both present, zero when none). It is counted as
// stations come and go, so asking costs nothing whatever the number of stations.
func (s *Server) ConnectedByProtocol() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]int{
		ProtocolOCPP16:  s.connected[ProtocolOCPP16],
		ProtocolOCPP201: s.connected[ProtocolOCPP201],
	}
}

func (s *Server) connOf(identity string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[identity]
}

// upgrade is a station's handshake being answered; done closes once its connection is
// taken in (or the handshake failed).
type upgrade struct {
	proto string
	done  chan struct{}
	once  sync.Once
}

func (s *Server) beginUpgrade(identity, proto string) *upgrade {
	u := &upgrade{proto: proto, done: make(chan struct{})}
	s.mu.Lock()
	s.upgrading[identity] = u // a newer handshake of the same station is the one to wait for
	s.mu.Unlock()
	return u
}

// endUpgrade ends u; it may be called more than once.
func (s *Server) endUpgrade(identity string, u *upgrade) {
	if u == nil {
		return
	}
	s.mu.Lock()
	if s.upgrading[identity] == u {
		delete(s.upgrading, identity)
	}
	s.mu.Unlock()
	u.once.Do(func() { close(u.done) })
}

// connOrUpgrade returns the station's connection; when its handshake is being answered, it
// waits (at most until ctx ends) for the connection to be taken in.
func (s *Server) connOrUpgrade(ctx context.Context, identity string) *conn {
	s.mu.Lock()
	c, u := s.conns[identity], s.upgrading[identity]
	s.mu.Unlock()
	if c != nil || u == nil {
		return c
	}
	if s.testHookAwaitUpgrade != nil {
		s.testHookAwaitUpgrade(identity)
	}
	select {
	case <-u.done:
		return s.connOf(identity)
	case <-ctx.Done():
		return nil
	}
}

// Close stops accepting stations, closes every connection (recording their ends: with
// RecordLeft when the registry is a LeaveRecorder, else RecordDisconnect), flushes the heartbeat and message-log batchers and stops the background
// goroutines. http.Server.Shutdown does not close hijacked connections, so call Close too
// (e.g. from RegisterOnShutdown). It returns ctx.Err() if ctx ends first.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.shuttingDown.Store(true)
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		s.proxyWG.Wait() // the links' last frames and statuses are recorded before the flush
		s.cancel()       // stops the sweeper and the batchers, which flush once more
		s.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}

// registryCtx bounds one registry call. It is not tied to Close, so that disconnects and
// final flushes are still recorded during shutdown.
func (s *Server) registryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.RegistryTimeout)
}

// sweep pings stations and closes those that have been silent for OfflineAfter. One
// goroutine does this for all connections, so an idle connection costs no timer.
func (s *Server) sweep() {
	defer s.bg.Done()
	tick := s.cfg.OfflineAfter / 4
	if s.cfg.PingInterval > 0 && s.cfg.PingInterval < tick {
		tick = s.cfg.PingInterval
	}
	tick = max(tick, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var snapshot []*conn
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := s.cfg.Now()
		s.logins.prune(now)
		snapshot = snapshot[:0]
		s.mu.Lock()
		for _, c := range s.conns {
			snapshot = append(snapshot, c)
		}
		s.mu.Unlock()
		var pings sync.WaitGroup
		sem := make(chan struct{}, 16) // bound concurrent pings so one stuck socket cannot stall the sweep
		for _, c := range snapshot {
			seen := time.Unix(0, c.lastSeen.Load())
			if now.Sub(seen) > s.cfg.OfflineAfter {
				s.log.Info("ocpp: station silent, closing", "identity", c.identity, "last_seen", seen)
				c.closeWith(websocket.CloseGoingAway, "silent for too long")
				continue
			}
			if s.cfg.PingInterval > 0 && now.Sub(time.Unix(0, c.lastPing.Load())) >= s.cfg.PingInterval {
				c.lastPing.Store(now.UnixNano())
				sem <- struct{}{}
				pings.Add(1)
				go func() {
					defer func() { <-sem; pings.Done() }()
					_ = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout))
				}()
			}
		}
		pings.Wait()
		clear(snapshot)
	}
}
