package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpp"
	"github.com/gin-gonic/gin"
)

// Handler serves the charger commands under /chargers/:chargeBoxId/.
type Handler struct {
	cfg Config
	Deps
}

// Deps is what the command handlers work with; cmd/evroam wires it.
type Deps struct {
	// Stations answers which stations a key may command (404 otherwise) and their protocol.
	Stations Stations
	// Gateway reaches the stations (a *cluster.Node, so that a command reaches its station
	// whichever node holds it).
	Gateway Gateway
	// Transfers reads the DataTransfer history the gateway's Registry records.
	Transfers DataTransfers
	// Passwords keeps the passwords a password rotation offers; Profiles the security
	// profile upgrades; Files the URLs of evroam's file store (firmware/update with
	// firmwareId, diagnostics without location); Certificates the CA certificates installed
	// on stations. A command whose dependency is nil answers 500.
	Passwords    Passwords
	Profiles     Profiles
	Files        Files
	Certificates Certificates
	// Reservations records the reservations stations accepted and the cancellations.
	Reservations Reservations
}

// NewHandler returns the command handlers. Mount it with Routes on the authenticated
// /api/v1 group.
func NewHandler(cfg Config, d Deps) *Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Handler{cfg: cfg, Deps: d}
}

// Routes registers the command routes on rg, which must run web.RequireAPIKey: a POST for
// every command of the table, and the DataTransfer history.
func (h *Handler) Routes(rg *gin.RouterGroup) {
	g := rg.Group("/chargers/:chargeBoxId")
	for _, cmd := range table {
		g.Handle(methodOf(cmd), "/"+cmd.route(), web.Handle(func(c *gin.Context) error { return cmd.serve(h, c) }))
	}
	g.GET("/data-transfer", web.Handle(h.listDataTransfers))
}

// maxBody bounds a command body.
const maxBody = 64 << 10

// prepare binds the body into dst (an absent or empty body counts as {}) and finds the
// station the caller may command.
func (h *Handler) prepare(c *gin.Context, dst any) (Station, error) {
	body, err := web.ReadBodyLimit(c, maxBody)
	if err != nil {
		return Station{}, err
	}
	if m := c.Request.Method; m == http.MethodGet || m == http.MethodDelete {
		// The request is in the query string: bound like a body of string fields.
		q := map[string]string{}
		for k, v := range c.Request.URL.Query() {
			q[k] = v[len(v)-1]
		}
		body, _ = json.Marshal(q)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	// Every bad field is reported at once: those of the body's shape and validator tags,
	// and those that depend on the station's protocol version (so the station is looked up
	// first; an unknown station is a 404 whatever the body).
	var problems apperr.FieldErrors
	if err := web.BindJSON(body, dst); err != nil && !errors.As(err, &problems) {
		return Station{}, err
	}
	st, err := h.station(c)
	if err != nil {
		return Station{}, err
	}
	if v, ok := dst.(checker); ok {
		problems = append(problems, v.check(st.ProtocolVersion)...)
	}
	return st, problems.Err()
}

// checker is a request with rules beyond validator tags. proto is the station's protocol
// version ("" when it never connected).
type checker interface {
	check(proto string) apperr.FieldErrors
}

func (h *Handler) station(c *gin.Context) (Station, error) {
	id := c.Param("chargeBoxId")
	if !ocpp.ValidIdentity(id) {
		return Station{}, fmt.Errorf("charge station %s %w", id, apperr.NotFound)
	}
	st, err := h.Stations.Station(c.Request.Context(), web.CurrentPrincipal(c), id)
	if err != nil {
		return st, err
	}
	// The registry's protocol is the last recorded connection's; the gateway knows the current
	// one of a station connected to this node (a station just connected may not be recorded
	// yet). Of a station held by another node the registry's is taken: its connection is
	// recorded within milliseconds, as is the row that routes commands to it, and reading
	// that node's would cost every forwarded command a database read. A station whose first
	// connection is not recorded yet has none in the registry: the row that routes commands
	// says it (it is committed before the station's boot is answered, cluster/doc.go), read
	// only then.
	if g, ok := h.Gateway.(localProtocols); ok {
		if proto, ok := g.ProtocolOf(id); ok {
			st.ProtocolVersion = proto
		}
	}
	if st.ProtocolVersion == "" {
		if g, ok := h.Gateway.(connectedProtocols); ok {
			if proto, ok := g.ConnectedProtocol(c.Request.Context(), id); ok {
				st.ProtocolVersion = proto
			}
		}
	}
	return st, nil
}

// localProtocols is a Gateway that knows the protocol of the stations connected to this node
// (*cluster.Node, *ocpp.Server).
type localProtocols interface {
	ProtocolOf(identity string) (string, bool)
}

// connectedProtocols is a Gateway that knows the protocol of a station's current connection
// (*cluster.Node).
type connectedProtocols interface {
	ConnectedProtocol(ctx context.Context, identity string) (string, bool)
}

// withInfo appends a 2.0.1 statusInfo to a message.
func withInfo(msg string, si *ocpp.StatusInfo) string {
	if si == nil || si.ReasonCode == "" {
		return msg
	}
	if si.AdditionalInfo != "" {
		return msg + " (" + si.ReasonCode + ": " + si.AdditionalInfo + ")"
	}
	return msg + " (" + si.ReasonCode + ")"
}

// words splits a status into lower-case words: "NotImplemented" → ["not", "implemented"].
func words(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			out = append(out, strings.ToLower(s[start:i]))
			start = i
		}
	}
	if start < len(s) {
		out = append(out, strings.ToLower(s[start:]))
	}
	return out
}

// apiStatus is the lower-case status of the answers that use one: "accepted",
// "unlock_failed", "not_implemented".
func apiStatus(s string) string { return strings.Join(words(s), "_") }

// verb is a status as words in a sentence: "accepted", "not implemented".
func verb(s string) string { return strings.Join(words(s), " ") }

// parseTime checks an RFC 3339 timestamp field.
func parseTime(fe *apperr.FieldErrors, field, s string, required bool) time.Time {
	if s == "" {
		if required {
			fe.Add(field, "is required")
		}
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		fe.Add(field, "must be an RFC 3339 date-time such as 2026-02-10T14:00:00Z")
	}
	return t
}

// checkedTime is a timestamp field that parseTime has checked; zero when it is empty.
func checkedTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// optionalTime is an optional timestamp field as an OCPP payload writes it: "" when the
// field is empty (or the zero time), so that omitempty leaves it out.
func optionalTime(s string) string {
	t := checkedTime(s)
	if t.IsZero() {
		return ""
	}
	return ocpp.FormatTime(t)
}

// checkURL checks a location the station downloads from or uploads to.
func checkURL(fe *apperr.FieldErrors, field, s string) {
	if s == "" {
		return // required is reported by the validator
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		fe.Add(field, "must be an absolute URL")
		return
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ftp", "ftps", "sftp":
	default:
		fe.Add(field, "must be an http, https, ftp, ftps or sftp URL")
	}
}
