package simulator

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Protocol is the OCPP version a simulated station speaks.
type Protocol uint8

// Protocols. ProtocolMix is a fleet setting only: stations with an even index speak 1.6, odd
// ones 2.0.1.
const (
	OCPP16 Protocol = iota + 1
	OCPP201
	ProtocolMix
)

// Subprotocol returns the WebSocket subprotocol token of p ("ocpp1.6", "ocpp2.0.1").
func (p Protocol) Subprotocol() string {
	switch p {
	case OCPP16:
		return "ocpp1.6"
	case OCPP201:
		return "ocpp2.0.1"
	}
	return ""
}

// String returns the flag spelling: "1.6", "2.0.1" or "mix".
func (p Protocol) String() string {
	switch p {
	case OCPP16:
		return "1.6"
	case OCPP201:
		return "2.0.1"
	case ProtocolMix:
		return "mix"
	}
	return "unset"
}

// Set parses the flag spelling (also "ocpp1.6" and "ocpp2.0.1"), so a *Protocol is a flag.Value.
func (p *Protocol) Set(s string) error {
	switch strings.TrimPrefix(strings.ToLower(s), "ocpp") {
	case "1.6", "16":
		*p = OCPP16
	case "2.0.1", "201":
		*p = OCPP201
	case "mix":
		*p = ProtocolMix
	default:
		return fmt.Errorf("protocol %q: want 1.6, 2.0.1 or mix", s)
	}
	return nil
}

// Config describes a fleet of simulated stations and what they do. The zero value of every
// field but URL takes the default documented on it (applied by NewFleet and NewStation).
type Config struct {
	// URL is the gateway's OCPP endpoint without the identity, e.g. ws://127.0.0.1:9000/ocpp.
	URL string
	// Count is the number of stations. Default 1.
	Count int
	// IdentityPrefix, FirstNumber and Digits make station i's identity: the prefix, then
	// FirstNumber+i zero-padded to Digits digits ("SIM-00001"). Defaults "SIM-", 1 and 5.
	IdentityPrefix string
	FirstNumber    int
	Digits         int
	// Protocol is OCPP16, OCPP201 or ProtocolMix. Default OCPP16.
	Protocol Protocol
	// Password, when set, is sent as HTTP Basic auth (user = identity), as security
	// profile 1 stations do.
	Password string

	// Connectors is the number of EVSEs, one connector each (the 1.6 connectorId is the
	// 2.0.1 evseId). Default 2.
	Connectors int
	// Vendor, Model and FirmwareVersion go into BootNotification. Defaults "evroam",
	// "Simulator", "1.0.0". The serial number is made from the identity.
	Vendor, Model, FirmwareVersion string
	// IDTag is the token of the sessions a station starts on its own. Default "SIMTAG01".
	IDTag string

	// HeartbeatInterval overrides the interval the BootNotification answer gives; negative
	// turns heartbeats off. Only Station.Run and Fleet.Run send heartbeats.
	HeartbeatInterval time.Duration
	// StatusInterval, when positive, makes a station flip one idle connector between
	// Available and Preparing (1.6) / Occupied (2.0.1) this often, as a car that plugs in and
	// leaves without charging.
	StatusInterval time.Duration
	// SessionInterval, when positive, makes a station start a charging session on a free
	// connector this often. Sessions last SessionDuration (default 2m) and send meter values
	// every MeterValuesInterval (default 30s).
	SessionInterval     time.Duration
	SessionDuration     time.Duration
	MeterValuesInterval time.Duration

	// Reconnect makes Run reconnect a dropped connection after a backoff that starts at
	// ReconnectMin (default 1s) and doubles up to ReconnectMax (default 1m), with jitter.
	// Leave it off for benchmarks that count connections.
	Reconnect    bool
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// BootOnReconnect makes Run send BootNotification on every connection, as a station does
	// after a reboot; otherwise only the first connection boots (OCPP says a reconnect needs
	// none) unless the gateway asks for one with TriggerMessage.
	BootOnReconnect bool

	// ConnectRate caps new connections per second over the fleet (0: no cap) and
	// MaxInFlight the connections being opened at once, dial to BootNotification answer
	// (default 100).
	ConnectRate float64
	MaxInFlight int
	// SourceAddrs are the local addresses connections are dialled from, round robin. Empty:
	// the system's choice, except that a fleet of more than 20,000 stations against a
	// loopback gateway spreads over 127.0.0.1, 127.0.0.2, … (one source address has only
	// about 28,000 ephemeral ports towards one destination).
	SourceAddrs []netip.Addr

	// CallTimeout bounds each CALL a station sends when the caller's context has no earlier
	// deadline (default 30s); HandshakeTimeout bounds the dial and WebSocket handshake
	// (default 30s).
	CallTimeout      time.Duration
	HandshakeTimeout time.Duration

	// Handler answers the CALLs the gateway sends. Default DefaultHandler, the simulated
	// charge station.
	Handler Handler
	// Recorder, when set, records the latency of every CALL the stations send, by action.
	Recorder *Recorder

	// The rest is for Run (the CLI) only.

	// Duration stops Run after this long; 0 runs until its context ends.
	Duration time.Duration
	// ProgressInterval is how often Run writes a progress line when its output is not a
	// terminal (default 10s); on a terminal it rewrites one line twice a second.
	ProgressInterval time.Duration
	// Create makes Run create the stations through the REST API first; see CreateConfig.
	Create CreateConfig
}

// CreateConfig says how Run creates stations through evroam's REST API before connecting
// them (`evroam simulate --create`).
type CreateConfig struct {
	// Enabled turns creation on.
	Enabled bool
	// APIURL is the REST API base, e.g. http://localhost:8080/api/v1, and APIKey a key of the
	// network the stations go into.
	APIURL string
	APIKey string
	// LocationID is the location of the new stations; empty: one location is created.
	LocationID string
	// TemplateID is the hardware template of the new stations; empty: an AC template with
	// Connectors EVSEs, "evroam-sim-ac-<n>", is created unless it exists.
	TemplateID string
	// TariffID is the default_charge_station_tariff_id. Default "SIM-TARIFF"; created unless
	// it exists.
	TariffID string
	// Workers is how many stations are created at once. Default 8.
	Workers int
}

// loopbackSpreadThreshold is how many connections one source address gets before a fleet
// against a loopback gateway spreads over more addresses: below the ~28,000 ephemeral ports
// Linux has by default, with room for the TIME_WAIT sockets of earlier runs.
const loopbackSpreadThreshold = 20000

func (c Config) withDefaults() Config {
	if c.Count <= 0 {
		c.Count = 1
	}
	if c.IdentityPrefix == "" {
		c.IdentityPrefix = "SIM-"
	}
	if c.FirstNumber == 0 {
		c.FirstNumber = 1
	}
	if c.Digits <= 0 {
		c.Digits = 5
	}
	if c.Protocol == 0 {
		c.Protocol = OCPP16
	}
	if c.Connectors <= 0 {
		c.Connectors = 2
	}
	if c.Vendor == "" {
		c.Vendor = "evroam"
	}
	if c.Model == "" {
		c.Model = "Simulator"
	}
	if c.FirmwareVersion == "" {
		c.FirmwareVersion = "1.0.0"
	}
	if c.IDTag == "" {
		c.IDTag = "SIMTAG01"
	}
	if c.SessionDuration <= 0 {
		c.SessionDuration = 2 * time.Minute
	}
	if c.MeterValuesInterval <= 0 {
		c.MeterValuesInterval = 30 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = max(time.Minute, c.ReconnectMin)
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 100
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.Handler == nil {
		c.Handler = DefaultHandler
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 10 * time.Second
	}
	if c.Create.TariffID == "" {
		c.Create.TariffID = "SIM-TARIFF"
	}
	if c.Create.Workers <= 0 {
		c.Create.Workers = 8
	}
	return c
}

// validate reports every problem of a defaulted config at once.
func (c Config) validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		errs = append(errs, fmt.Errorf("gateway URL %q: want ws://host:port/path or wss://…", c.URL))
	}
	if c.Protocol > ProtocolMix {
		errs = append(errs, fmt.Errorf("unknown protocol %d", c.Protocol))
	}
	if c.Connectors > 100 {
		errs = append(errs, errors.New("at most 100 connectors per station"))
	}
	if c.FirstNumber < 0 {
		errs = append(errs, errors.New("the first station number must not be negative"))
	}
	last := c.Identity(c.Count - 1)
	if len(last) > 48 || strings.ContainsAny(c.IdentityPrefix, ":/?# ") {
		errs = append(errs, fmt.Errorf("identity %q: at most 48 characters, without ':', '/', '?', '#' or space", last))
	}
	if c.Create.Enabled && (c.Create.APIURL == "" || c.Create.APIKey == "") {
		errs = append(errs, errors.New("creating stations needs the API URL and an API key"))
	}
	return errors.Join(errs...)
}

// Identity returns the identity of station i (0-based) of the fleet.
func (c Config) Identity(i int) string {
	c = c.withDefaults()
	n := strconv.Itoa(c.FirstNumber + i)
	if pad := c.Digits - len(n); pad > 0 {
		n = strings.Repeat("0", pad) + n
	}
	return c.IdentityPrefix + n
}

// protocolOf returns the protocol of station i.
func (c Config) protocolOf(i int) Protocol {
	if c.Protocol == ProtocolMix {
		if i%2 == 0 {
			return OCPP16
		}
		return OCPP201
	}
	return c.Protocol
}

// RegisterFlags defines the `evroam simulate` flags on fs, writing into c. Defaults are
// c's current values.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	if c.URL == "" {
		c.URL = "ws://localhost:9000/ocpp"
	}
	if c.Protocol == 0 {
		c.Protocol = OCPP16
	}
	d := c.withDefaults()
	fs.StringVar(&c.URL, "url", c.URL, "gateway URL without the identity")
	fs.IntVar(&c.Count, "count", d.Count, "number of stations")
	fs.StringVar(&c.IdentityPrefix, "prefix", d.IdentityPrefix, "identity prefix")
	fs.IntVar(&c.FirstNumber, "first", d.FirstNumber, "number of the first station")
	fs.IntVar(&c.Digits, "digits", d.Digits, "identity numbers are zero-padded to this many digits")
	fs.Var(&c.Protocol, "protocol", "OCPP version: 1.6, 2.0.1 or mix (alternating)")
	fs.StringVar(&c.Password, "password", c.Password, "OCPP password (HTTP Basic auth, security profile 1); empty: none")
	fs.IntVar(&c.Connectors, "connectors", d.Connectors, "EVSEs per station, one connector each")
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", c.HeartbeatInterval,
		"heartbeat interval; 0: the one the BootNotification answer gives; negative: no heartbeats")
	fs.DurationVar(&c.StatusInterval, "status-interval", c.StatusInterval, "flip an idle connector's status this often (0: never)")
	fs.DurationVar(&c.SessionInterval, "session-interval", c.SessionInterval, "start a charging session this often (0: never)")
	fs.DurationVar(&c.SessionDuration, "session-duration", d.SessionDuration, "length of a charging session")
	fs.DurationVar(&c.MeterValuesInterval, "meter-interval", d.MeterValuesInterval, "meter values interval during a session")
	fs.BoolVar(&c.Reconnect, "reconnect", c.Reconnect, "reconnect dropped connections with backoff")
	fs.DurationVar(&c.ReconnectMin, "reconnect-min", d.ReconnectMin, "first reconnect backoff")
	fs.DurationVar(&c.ReconnectMax, "reconnect-max", d.ReconnectMax, "longest reconnect backoff")
	fs.BoolVar(&c.BootOnReconnect, "boot-on-reconnect", c.BootOnReconnect, "send BootNotification on every reconnect, as after a reboot")
	fs.Float64Var(&c.ConnectRate, "connect-rate", c.ConnectRate, "new connections per second (0: no limit)")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", d.MaxInFlight, "connections being opened at once (dial to boot answer)")
	fs.Func("source-addrs", "comma-separated local addresses to dial from (default: spread over 127.0.0.x above 20000 loopback connections)",
		func(s string) error {
			c.SourceAddrs = nil
			for _, part := range strings.Split(s, ",") {
				a, err := netip.ParseAddr(strings.TrimSpace(part))
				if err != nil {
					return err
				}
				c.SourceAddrs = append(c.SourceAddrs, a)
			}
			return nil
		})
	fs.DurationVar(&c.CallTimeout, "call-timeout", d.CallTimeout, "how long a station waits for an answer")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "stop after this long (0: run until interrupted)")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", d.ProgressInterval, "progress line interval when the output is not a terminal")
	fs.BoolVar(&c.Create.Enabled, "create", c.Create.Enabled, "create the stations through the REST API first (409: reuse)")
	fs.StringVar(&c.Create.APIURL, "api-url", "http://localhost:8080/api/v1", "REST API base URL, for --create")
	fs.StringVar(&c.Create.APIKey, "api-key", c.Create.APIKey, "REST API key, for --create")
	fs.StringVar(&c.Create.LocationID, "location", c.Create.LocationID, "location of created stations (default: create one)")
	fs.StringVar(&c.Create.TemplateID, "template", c.Create.TemplateID, "template of created stations (default: create an AC template)")
	fs.StringVar(&c.Create.TariffID, "tariff", d.Create.TariffID, "default tariff id of created stations")
}
