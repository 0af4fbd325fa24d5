package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/schema"
)

// config is everything evroam serve needs, from EVROAM_* variables and then flags.
type config struct {
	DatabaseURL       string `json:"-"` // secret: never printed
	HTTPAddr          string
	OCPPAddr          string
	AdminAPIKey       string      `json:"-"`
	SecretKey         *secret.Key `json:"-"` // EVROAM_SECRET_KEY; nil when not set
	OCPPPublicURL     string
	PublicURL         string // EVROAM_PUBLIC_URL: base URL partners reach the HTTP API at (OCPI)
	DebugAddr         string // EVROAM_DEBUG_ADDR: Go's profiler (/debug/pprof) on its own address; off when empty
	HeartbeatInterval time.Duration
	CommandTimeout    time.Duration
	NodeID            string
	// NodeURL (EVROAM_NODE_URL) is where the other nodes reach this node's HTTP address
	// (e.g. http://10.0.0.5:8080): commands for stations held here then come straight
	// over HTTP instead of through the database (cluster.Config.CallURL). Needs
	// EVROAM_SECRET_KEY, the same on every node.
	NodeURL         string
	CountryCode     string
	PartyID         string
	ShutdownTimeout time.Duration
	// TrustedProxies (EVROAM_TRUSTED_PROXIES) may set X-Forwarded-For on the OCPP address:
	// behind a load balancer the station's address (recorded, and counted by the login
	// guard) is then the one the balancer saw, not the balancer's.
	TrustedProxies []netip.Prefix
	// ReconnectGrace (EVROAM_RECONNECT_GRACE): how long the stations of a node that shut
	// down stay online waiting to reconnect (cluster.Config.ReconnectGrace).
	ReconnectGrace time.Duration
	// ProxyReconnectMax (EVROAM_PROXY_RECONNECT_MAX): the longest wait between attempts of an
	// OCPP proxy link to an operator (the wait doubles from 1s, with jitter).
	ProxyReconnectMax time.Duration
	// ProxyCAFile (EVROAM_PROXY_CA_FILE): PEM certificates of CAs trusted for wss:// operator
	// links besides the system's (operators with a private CA).
	ProxyCAFile string
	// OCPP over TLS: OCPPTLSAddr (EVROAM_OCPP_TLS_ADDR) serves the gateway with the
	// certificate in OCPPTLSCertFile and OCPPTLSKeyFile; OCPPClientCAFile holds the CAs of
	// station client certificates (security profile 3), also for certificates a trusted
	// proxy forwards. The files are read again when they change (package tlsfiles).
	OCPPTLSAddr      string
	OCPPTLSCertFile  string
	OCPPTLSKeyFile   string
	OCPPClientCAFile string
	// OCPPTLSPublicURL (EVROAM_OCPP_TLS_PUBLIC_URL) is the wss:// URL stations reach the
	// gateway at over TLS, given to 2.0.1 stations whose security profile is raised; default
	// wss://<host of EVROAM_OCPP_TLS_ADDR>/ocpp.
	OCPPTLSPublicURL string
	// OCPPCACertFile and OCPPCAKeyFile (EVROAM_OCPP_CA_CERT_FILE, EVROAM_OCPP_CA_KEY_FILE) are
	// the CA that signs stations' certificate requests (SignCertificate); off when unset.
	// OCPPCertValidity (EVROAM_OCPP_CERT_VALIDITY) is how long a signed certificate lasts.
	OCPPCACertFile   string
	OCPPCAKeyFile    string
	OCPPCertValidity time.Duration
	// StationCacheBytes (EVROAM_STATION_CACHE_MB) bounds the cache of rendered station
	// answers and of the stations charger commands find (chargestations.AnswerCache); 0
	// turns it off.
	StationCacheBytes int
	// StationCacheWarmAfter (EVROAM_STATION_CACHE_WARM_AFTER) is how long after its start a
	// node reads every station into that cache (chargestations.Service.WarmAnswers), so that
	// reads after a restart do not all go to the database; StationCacheWarm is false when it
	// is "off".
	StationCacheWarmAfter time.Duration
	StationCacheWarm      bool
	// OCPIAllowPrivateAddresses (EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES) lets partner URLs lead
	// to loopback, private and link-local addresses (ocpi.Outbound). Off by default: a partner
	// URL comes from outside (a TOKEN_A holder's credentials, a sub-network's admin), and
	// evroam must not become its way into the operator's own network.
	OCPIAllowPrivateAddresses bool
	// ReservationSweep (EVROAM_RESERVATION_SWEEP) is how often reservations whose expiry
	// passed are ended and their EVSEs freed (reservations.Service.Expire).
	ReservationSweep time.Duration
	// OCPIAuthorizeTimeout (EVROAM_OCPI_AUTHORIZE_TIMEOUT) bounds a real-time authorisation
	// of a roaming token at its eMSP (ocpi.Authorizer); the station waits for it.
	OCPIAuthorizeTimeout time.Duration
	// OCPPPingInterval (EVROAM_OCPP_PING_INTERVAL) is how often the gateway pings stations and
	// the OCPP proxy's operators (ocpp.Config.PingInterval); 0 sends no pings.
	OCPPPingInterval time.Duration
	// MessageLogRetention (EVROAM_MESSAGE_LOG_RETENTION) is how long the message log keeps a
	// frame; 0 keeps every frame. Every frame in and out is logged, heartbeats too: 10,000
	// stations at a 300 s heartbeat alone log about 5.8 million rows a day.
	MessageLogRetention time.Duration
	// StatusLogRetention (EVROAM_STATUS_LOG_RETENTION) is how long the status log keeps an
	// entry; 0 keeps every entry. Every status report and connectivity change is logged:
	// 10,000 stations reporting a change a minute log about 14 million rows a day.
	StatusLogRetention time.Duration
	// OCPISessionPatchInterval (EVROAM_OCPI_SESSION_PATCH_INTERVAL) is the least time between
	// two PATCHes of a station's running roaming sessions to a partner.
	OCPISessionPatchInterval time.Duration

	publicURLDefaulted bool // OCPPPublicURL was derived from OCPPAddr, not configured
}

// loadConfig reads the environment, then flags of the same meaning, and validates the result.
// Every problem is reported at once, with the variable's name.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	env := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	host, _ := os.Hostname()
	cfg := config{
		DatabaseURL:   env("EVROAM_DATABASE_URL", ""),
		HTTPAddr:      env("EVROAM_HTTP_ADDR", ":8080"),
		OCPPAddr:      env("EVROAM_OCPP_ADDR", ":9000"),
		AdminAPIKey:   env("EVROAM_ADMIN_API_KEY", ""),
		OCPPPublicURL: env("EVROAM_OCPP_PUBLIC_URL", ""),
		PublicURL:     env("EVROAM_PUBLIC_URL", ""),
		DebugAddr:     env("EVROAM_DEBUG_ADDR", ""),
		NodeID:        env("EVROAM_NODE_ID", fmt.Sprintf("%s-%d", host, os.Getpid())),
		NodeURL:       env("EVROAM_NODE_URL", ""),
		CountryCode:   env("EVROAM_COUNTRY_CODE", "NL"),
		PartyID:       env("EVROAM_PARTY_ID", "EVR"),

		OCPPTLSAddr:      env("EVROAM_OCPP_TLS_ADDR", ""),
		OCPPTLSCertFile:  env("EVROAM_OCPP_TLS_CERT_FILE", ""),
		OCPPTLSKeyFile:   env("EVROAM_OCPP_TLS_KEY_FILE", ""),
		OCPPClientCAFile: env("EVROAM_OCPP_CLIENT_CA_FILE", ""),
		OCPPTLSPublicURL: env("EVROAM_OCPP_TLS_PUBLIC_URL", ""),
		OCPPCACertFile:   env("EVROAM_OCPP_CA_CERT_FILE", ""),
		OCPPCAKeyFile:    env("EVROAM_OCPP_CA_KEY_FILE", ""),
		ProxyCAFile:      env("EVROAM_PROXY_CA_FILE", ""),
	}
	var problems []string
	duration := func(key, def string) time.Duration {
		s := env(key, def)
		d, err := time.ParseDuration(s)
		if err != nil {
			// a bare number is seconds
			if n, err2 := strconv.Atoi(s); err2 == nil {
				return time.Duration(n) * time.Second
			}
			problems = append(problems, fmt.Sprintf("%s=%q is not a duration (e.g. 300s, 5m)", key, s))
		}
		return d
	}
	cfg.HeartbeatInterval = duration("EVROAM_HEARTBEAT_INTERVAL", "300s")
	cfg.CommandTimeout = duration("EVROAM_COMMAND_TIMEOUT", "30s")
	cfg.ShutdownTimeout = duration("EVROAM_SHUTDOWN_TIMEOUT", "15s")
	cfg.ReconnectGrace = duration("EVROAM_RECONNECT_GRACE", "90s")
	cfg.ProxyReconnectMax = duration("EVROAM_PROXY_RECONNECT_MAX", "60s")
	cfg.OCPPCertValidity = duration("EVROAM_OCPP_CERT_VALIDITY", "8760h")
	cfg.ReservationSweep = duration("EVROAM_RESERVATION_SWEEP", "30s")
	cfg.OCPIAuthorizeTimeout = duration("EVROAM_OCPI_AUTHORIZE_TIMEOUT", "5s")
	cfg.OCPISessionPatchInterval = duration("EVROAM_OCPI_SESSION_PATCH_INTERVAL", "60s")
	cfg.OCPPPingInterval = duration("EVROAM_OCPP_PING_INTERVAL", "60s")
	if cfg.OCPPPingInterval < 0 {
		problems = append(problems, "EVROAM_OCPP_PING_INTERVAL must be 0 (no pings) or above")
	}
	cfg.MessageLogRetention = duration("EVROAM_MESSAGE_LOG_RETENTION", "720h")
	if cfg.MessageLogRetention < 0 {
		problems = append(problems, "EVROAM_MESSAGE_LOG_RETENTION must be 0 (keep every frame) or above")
	}
	cfg.StatusLogRetention = duration("EVROAM_STATUS_LOG_RETENTION", "2160h")
	if cfg.StatusLogRetention < 0 {
		problems = append(problems, "EVROAM_STATUS_LOG_RETENTION must be 0 (keep every entry) or above")
	}
	if cfg.OCPIAuthorizeTimeout <= 0 || cfg.OCPIAuthorizeTimeout > time.Minute {
		problems = append(problems, "EVROAM_OCPI_AUTHORIZE_TIMEOUT must be above 0 and at most 1m")
	}
	if cfg.OCPISessionPatchInterval <= 0 {
		problems = append(problems, "EVROAM_OCPI_SESSION_PATCH_INTERVAL must be above 0")
	}
	if (cfg.OCPPCACertFile == "") != (cfg.OCPPCAKeyFile == "") {
		problems = append(problems, "EVROAM_OCPP_CA_CERT_FILE and EVROAM_OCPP_CA_KEY_FILE go together")
	}
	if mb, err := strconv.Atoi(env("EVROAM_STATION_CACHE_MB", "256")); err != nil || mb < 0 {
		problems = append(problems, fmt.Sprintf("EVROAM_STATION_CACHE_MB=%q is not a number of megabytes >= 0", env("EVROAM_STATION_CACHE_MB", "")))
	} else {
		cfg.StationCacheBytes = mb << 20
	}
	if w := env("EVROAM_STATION_CACHE_WARM_AFTER", "1m"); w != "off" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("EVROAM_STATION_CACHE_WARM_AFTER=%q must be a duration of 0 (at once) or more (e.g. 1m), or off", w))
		}
		cfg.StationCacheWarm, cfg.StationCacheWarmAfter = true, d
	}
	allowPrivate := env("EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES", "false")
	if b, err := strconv.ParseBool(allowPrivate); err != nil {
		problems = append(problems, fmt.Sprintf("EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES=%q must be true or false", allowPrivate))
	} else {
		cfg.OCPIAllowPrivateAddresses = b
	}
	for _, p := range strings.Split(env("EVROAM_TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			a, err2 := netip.ParseAddr(p)
			if err2 != nil {
				problems = append(problems, fmt.Sprintf("EVROAM_TRUSTED_PROXIES: %q is not an address or CIDR prefix (e.g. 10.0.0.0/8)", p))
				continue
			}
			prefix = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix.Masked())
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL (EVROAM_DATABASE_URL)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "REST API, OCPI and health address (EVROAM_HTTP_ADDR)")
	fs.StringVar(&cfg.OCPPAddr, "ocpp-addr", cfg.OCPPAddr, "OCPP WebSocket address (EVROAM_OCPP_ADDR)")
	fs.StringVar(&cfg.OCPPPublicURL, "ocpp-public-url", cfg.OCPPPublicURL, "OCPP URL shown to operators (EVROAM_OCPP_PUBLIC_URL)")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base URL OCPI partners reach the HTTP API at, e.g. https://cpo.example.com (EVROAM_PUBLIC_URL)")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "this node's name (EVROAM_NODE_ID)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", cfg.HeartbeatInterval, "heartbeat interval for stations (EVROAM_HEARTBEAT_INTERVAL)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}

	if cfg.DatabaseURL == "" {
		problems = append(problems, "EVROAM_DATABASE_URL is required (make run starts a local PostgreSQL and sets it)")
	}
	addrs := []struct{ key, val string }{{"EVROAM_HTTP_ADDR", cfg.HTTPAddr}, {"EVROAM_OCPP_ADDR", cfg.OCPPAddr}}
	if cfg.DebugAddr != "" {
		addrs = append(addrs, struct{ key, val string }{"EVROAM_DEBUG_ADDR", cfg.DebugAddr})
	}
	if u := cfg.OCPPTLSPublicURL; u != "" && !strings.HasPrefix(u, "wss://") {
		problems = append(problems, fmt.Sprintf("EVROAM_OCPP_TLS_PUBLIC_URL=%q must be a wss:// URL", u))
	}
	if cfg.OCPPTLSAddr != "" {
		addrs = append(addrs, struct{ key, val string }{"EVROAM_OCPP_TLS_ADDR", cfg.OCPPTLSAddr})
		if cfg.OCPPTLSCertFile == "" || cfg.OCPPTLSKeyFile == "" {
			problems = append(problems, "EVROAM_OCPP_TLS_ADDR needs EVROAM_OCPP_TLS_CERT_FILE and EVROAM_OCPP_TLS_KEY_FILE")
		}
	} else if cfg.OCPPTLSCertFile != "" || cfg.OCPPTLSKeyFile != "" {
		problems = append(problems, "EVROAM_OCPP_TLS_CERT_FILE and EVROAM_OCPP_TLS_KEY_FILE are used with EVROAM_OCPP_TLS_ADDR, which is not set")
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a.val); err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q is not host:port (e.g. :8080)", a.key, a.val))
		}
	}
	if k := env("EVROAM_SECRET_KEY", ""); k != "" {
		key, err := secret.ParseKey(k)
		if err != nil {
			problems = append(problems, "EVROAM_SECRET_KEY: "+err.Error())
		}
		cfg.SecretKey = key
	}
	if u := cfg.NodeURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			problems = append(problems, fmt.Sprintf("EVROAM_NODE_URL=%q must be an http:// or https:// URL", u))
		}
		if cfg.SecretKey == nil {
			problems = append(problems, "EVROAM_NODE_URL needs EVROAM_SECRET_KEY (the same on every node): it signs the calls nodes hand each other")
		}
	}
	if cfg.AdminAPIKey != "" && len(cfg.AdminAPIKey) < networks.MinKeyLength {
		problems = append(problems, fmt.Sprintf("EVROAM_ADMIN_API_KEY must have at least %d characters", networks.MinKeyLength))
	}
	if cfg.HeartbeatInterval < time.Second {
		problems = append(problems, "EVROAM_HEARTBEAT_INTERVAL must be at least 1s")
	}
	if cfg.CommandTimeout <= 0 {
		problems = append(problems, "EVROAM_COMMAND_TIMEOUT must be positive")
	}
	if cfg.ReservationSweep < time.Second {
		problems = append(problems, "EVROAM_RESERVATION_SWEEP must be at least 1s")
	}
	if !schema.ValidCountryAlpha2(cfg.CountryCode) {
		problems = append(problems, fmt.Sprintf("EVROAM_COUNTRY_CODE=%q must be an ISO 3166 alpha-2 code such as NL", cfg.CountryCode))
	}
	if !schema.ValidPartyID(cfg.PartyID) {
		problems = append(problems, fmt.Sprintf("EVROAM_PARTY_ID=%q must be 3 upper-case letters or digits", cfg.PartyID))
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("EVROAM_PUBLIC_URL=%q must be an http(s) URL such as https://cpo.example.com", cfg.PublicURL))
		}
	}
	if cfg.OCPPPublicURL == "" {
		cfg.OCPPPublicURL = "ws://" + publicHost(cfg.OCPPAddr) + "/ocpp"
		cfg.publicURLDefaulted = true
	}
	if len(problems) > 0 {
		return cfg, errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	return cfg, nil
}

// publicHost turns a listen address into one a client can dial (":9000" → "localhost:9000").
func publicHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
