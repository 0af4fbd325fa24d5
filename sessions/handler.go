package sessions

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves the read-only session endpoints.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the session endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/sessions", web.Handle(h.list))
	rg.GET("/sessions/export", web.Handle(h.export))
	rg.GET("/sessions/:session_id", web.Handle(h.get))
	rg.GET("/chargestations/:charge_station_id/sessions", web.Handle(h.listOfStation))
}

type tokenResponse struct {
	UID  string  `json:"uid"`
	Type *string `json:"type"`
}

type sessionResponse struct {
	ID                 string         `json:"id"`
	ChargeStationID    string         `json:"charge_station_id"`
	EVSESequenceNumber int            `json:"evse_sequence_number"`
	ConnectorID        *int           `json:"connector_id"`
	LocationID         string         `json:"location_id"`
	Token              *tokenResponse `json:"token"`
	Start              *string        `json:"start"`
	End                *string        `json:"end"`
	MeterStart         *float64       `json:"meter_start"`
	MeterStop          *float64       `json:"meter_stop"`
	EnergyKWh          *float64       `json:"energy_kwh"`
	DurationS          int            `json:"duration_s"`
	ChargingS          int            `json:"charging_s"`
	IdleS              int            `json:"idle_s"`
	MaxPowerW          *float64       `json:"max_power_w"`
	StopReason         *string        `json:"stop_reason"`
	Status             Status         `json:"status"`
	TransactionID      string         `json:"transaction_id"`
	LastUpdated        string         `json:"last_updated"`
}

type meterValueResponse struct {
	Timestamp  string   `json:"timestamp"`
	EnergyWh   *float64 `json:"energy_wh"`
	PowerW     *float64 `json:"power_w"`
	CurrentA   *float64 `json:"current_a"`
	SoCPercent *float64 `json:"soc_percent"`
}

type sessionDetailResponse struct {
	sessionResponse
	MeterValues []meterValueResponse `json:"meter_values"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := web.FormatTime(*t)
	return &s
}

func toResponse(s Session, now time.Time) sessionResponse {
	d, c, i := s.Times(now)
	out := sessionResponse{ID: s.ID, ChargeStationID: s.StationID, EVSESequenceNumber: s.EVSESequenceNumber,
		ConnectorID: s.ConnectorID, LocationID: s.LocationID, Start: formatTime(s.Start), End: formatTime(s.End),
		MeterStart: s.MeterStartWh, MeterStop: s.MeterStopWh, EnergyKWh: s.EnergyKWh(), DurationS: d, ChargingS: c, IdleS: i,
		MaxPowerW: s.MaxPowerW, StopReason: optional(s.StopReason), Status: s.Status, TransactionID: s.TransactionID,
		LastUpdated: web.FormatTime(s.LastUpdated)}
	if s.TokenUID != "" {
		out.Token = &tokenResponse{UID: s.TokenUID, Type: optional(s.TokenType)}
	}
	return out
}

// parseQuery reads the paging and the filters, and names every bad parameter in one 400.
func parseQuery(c *gin.Context) (Filter, paging.Page, error) {
	var problems apperr.FieldErrors
	p, err := web.ParsePage(c)
	if err != nil {
		var fe apperr.FieldErrors
		if !errors.As(err, &fe) {
			return Filter{}, p, err
		}
		problems = append(problems, fe...)
	}
	if p.After != nil && !slices.ContainsFunc(problems, func(fe apperr.FieldError) bool { return fe.Field == "after" }) {
		if _, err := uuid.Parse(p.After.ID); err != nil {
			problems.Add("after", paging.ErrBadCursor.Error())
		}
	}
	var f Filter
	for _, q := range []struct {
		name string
		dst  **string
	}{{"charge_station_id", &f.StationID}, {"location_id", &f.LocationID}, {"token_uid", &f.TokenUID}} {
		if v := c.Query(q.name); v != "" {
			*q.dst = &v
		}
	}
	if v := c.Query("status"); v != "" {
		s := Status(v)
		if !s.Valid() {
			problems.Add("status", "must be ACTIVE, COMPLETED or INVALID")
		}
		f.Status = &s
	}
	for _, d := range []struct {
		name string
		dst  **time.Time
	}{{"started_from", &f.StartedFrom}, {"started_to", &f.StartedTo}} {
		if v := c.Query(d.name); v != "" {
			t, err := web.ParseTime(v)
			if err != nil {
				problems.Add(d.name, "must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
				continue
			}
			*d.dst = &t
		}
	}
	if len(problems) > 0 {
		// BadRequest: a query that cannot be read is a 400, listing every bad parameter.
		return f, p, fmt.Errorf("invalid query: %w", errors.Join(problems, apperr.BadRequest))
	}
	return f, p, nil
}

func (h *Handler) list(c *gin.Context) error {
	f, p, err := parseQuery(c)
	if err != nil {
		return err
	}
	list, meta, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, f, p)
	if err != nil {
		return err
	}
	return h.respondList(c, p, meta, list)
}

func (h *Handler) listOfStation(c *gin.Context) error {
	f, p, err := parseQuery(c)
	if err != nil {
		return err
	}
	list, meta, err := h.svc.ListOfStation(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), f, p)
	if err != nil {
		return err
	}
	return h.respondList(c, p, meta, list)
}

func (h *Handler) respondList(c *gin.Context, p paging.Page, meta paging.Meta, list []Session) error {
	now := h.svc.Now()
	out := make([]sessionResponse, len(list))
	for i, s := range list {
		out[i] = toResponse(s, now)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	s, timeline, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("session_id"))
	if err != nil {
		return err
	}
	out := sessionDetailResponse{sessionResponse: toResponse(s, h.svc.Now()), MeterValues: make([]meterValueResponse, len(timeline))}
	for i, p := range timeline {
		out.MeterValues[i] = meterValueResponse{Timestamp: web.FormatTime(p.SampledAt), EnergyWh: p.EnergyWh, PowerW: p.PowerW,
			CurrentA: p.CurrentA, SoCPercent: p.SoCPercent}
	}
	web.Respond(c, http.StatusOK, out)
	return nil
}

// csvHeader is the header row of the export, one column per field of a session.
var csvHeader = []string{"id", "charge_station_id", "evse_sequence_number", "connector_id", "location_id", "token_uid",
	"token_type", "start", "end", "meter_start_wh", "meter_stop_wh", "energy_kwh", "duration_s", "charging_s", "idle_s",
	"max_power_w", "stop_reason", "status", "transaction_id", "last_updated"}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return web.FormatTime(*t)
}

func csvNumber(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

func csvRecord(s Session, now time.Time, rec []string) []string {
	d, ch, idle := s.Times(now)
	conn, kwh := "", ""
	if s.ConnectorID != nil {
		conn = strconv.Itoa(*s.ConnectorID)
	}
	if e := s.EnergyKWh(); e != nil {
		kwh = strconv.FormatFloat(*e, 'f', 3, 64)
	}
	return append(rec[:0], s.ID, s.StationID, strconv.Itoa(s.EVSESequenceNumber), conn, s.LocationID, s.TokenUID,
		s.TokenType, csvTime(s.Start), csvTime(s.End), csvNumber(s.MeterStartWh), csvNumber(s.MeterStopWh), kwh,
		strconv.Itoa(d), strconv.Itoa(ch), strconv.Itoa(idle), csvNumber(s.MaxPowerW), s.StopReason, string(s.Status),
		s.TransactionID, web.FormatTime(s.LastUpdated))
}

// export streams the matching sessions as CSV (RFC 4180: a header row, CRLF line ends, fields
// quoted when they need it), a batch at a time as the database hands them over: memory does
// not grow with the number of sessions. The filters are the list's; offset and limit do not
// apply. An error before the first row is answered as usual; one after it has begun cuts the
// connection, so that a client never takes a truncated file for a whole one.
func (h *Handler) export(c *gin.Context) error {
	f, p, err := parseQuery(c)
	if err != nil {
		return err
	}
	now := h.svc.Now()
	var w *csv.Writer
	rec := make([]string, 0, len(csvHeader))
	err = h.svc.Export(c.Request.Context(), web.CurrentPrincipal(c).Networks, f, p, func(batch []Session) error {
		if w == nil {
			w = startCSV(c)
		}
		for _, s := range batch {
			rec = csvRecord(s, now, rec)
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		w.Flush()
		c.Writer.Flush()
		return w.Error()
	})
	if err != nil && w != nil {
		abort(c, err)
		return nil
	}
	if err != nil {
		return err
	}
	if w == nil { // no session matched: the header alone
		w = startCSV(c)
	}
	w.Flush()
	return w.Error()
}

func startCSV(c *gin.Context) *csv.Writer {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="sessions.csv"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	_ = w.Write(csvHeader)
	return w
}

// abort ends an export that failed after its first bytes: the status is sent already, so
// the only honest signal left is to close the connection before the end of the body.
func abort(c *gin.Context, err error) {
	ctx := c.Request.Context()
	if ctx.Err() == nil {
		web.Logger(ctx).ErrorContext(ctx, "session export failed after it began", "request_id", web.RequestID(ctx), "err", err)
	}
	// gin refuses to hijack once the body is under way; the server's own writer does not.
	var w http.ResponseWriter = c.Writer
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}
