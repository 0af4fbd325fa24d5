package stationlogs

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
)

// Handler serves the read-only station logs.
type Handler struct{ store *Store }

// NewHandler returns a Handler on store.
func NewHandler(store *Store) *Handler { return &Handler{store: store} }

// Routes registers the log endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/chargestations/:charge_station_id/messages", web.Handle(h.messages))
	rg.GET("/chargestations/:charge_station_id/status-log", web.Handle(h.statusLog))
	rg.GET("/chargestations/:charge_station_id/configuration", web.Handle(h.configuration))
	rg.GET("/chargestations/:charge_station_id/certificates", web.Handle(h.certificates))
	rg.GET("/chargestations/:charge_station_id/firmware-history", web.Handle(h.firmwareHistory))
}

type firmwareStatusResponse struct {
	ID        int64  `json:"id"`
	Status    string `json:"status"`
	RequestID *int   `json:"request_id"`
	Created   string `json:"created"`
}

// firmwareHistory: every FirmwareStatusNotification the station sent, newest first.
func (h *Handler) firmwareHistory(c *gin.Context) error {
	limit, before, err := cursor(c)
	if err != nil {
		return err
	}
	fs, err := h.store.FirmwareHistory(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), limit, before)
	if err != nil {
		return err
	}
	out := make([]firmwareStatusResponse, len(fs))
	var last int64
	for i, f := range fs {
		out[i] = firmwareStatusResponse{ID: f.ID, Status: f.Status, RequestID: f.RequestID, Created: web.FormatTime(f.Created)}
		last = f.ID
	}
	respondPage(c, limit, last, len(fs), out)
	return nil
}

// Paging of the logs: newest first, limit (default 100, max 1000) and before (an entry id:
// only older entries). The Link header points at the next, older page.
func cursor(c *gin.Context) (limit int, before int64, err error) {
	limit = paging.DefaultLimit
	if s := c.Query("limit"); s != "" {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 {
			return 0, 0, web.BadQuery("limit", "must be a whole number >= 1")
		}
		limit = min(n, paging.MaxLimit)
	}
	if s := c.Query("before"); s != "" {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 1 {
			return 0, 0, web.BadQuery("before", "must be the id of a log entry")
		}
		before = n
	}
	return limit, before, nil
}

func respondPage(c *gin.Context, limit int, lastID int64, n int, data any) {
	c.Header("X-Limit", strconv.Itoa(paging.MaxLimit))
	if n == limit && lastID > 0 {
		web.SetNextLink(c, "", map[string]string{"before": strconv.FormatInt(lastID, 10), "limit": strconv.Itoa(limit)})
	}
	web.Respond(c, http.StatusOK, data)
}

type messageResponse struct {
	ID          int64           `json:"id"`
	Direction   string          `json:"direction"`
	MessageType string          `json:"message_type"`
	MessageID   string          `json:"message_id"`
	Action      *string         `json:"action"`
	Payload     json.RawMessage `json:"payload"`
	// Operator names the operator of a frame forwarded over an OCPP proxy link; absent for
	// the station's own frames.
	Operator string `json:"operator,omitempty"`
	Created  string `json:"created"`
}

func (h *Handler) messages(c *gin.Context) error {
	limit, before, err := cursor(c)
	if err != nil {
		return err
	}
	ms, err := h.store.Messages(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), limit, before)
	if err != nil {
		return err
	}
	out := make([]messageResponse, len(ms))
	var last int64
	for i, m := range ms {
		out[i] = messageResponse{ID: m.ID, Direction: m.Direction, MessageType: m.MessageType, MessageID: m.MessageID,
			Payload: m.Payload, Operator: m.Operator, Created: web.FormatTime(m.Created)}
		if m.Action != "" {
			a := m.Action
			out[i].Action = &a
		}
		if len(out[i].Payload) == 0 {
			out[i].Payload = json.RawMessage("null")
		}
		last = m.ID
	}
	respondPage(c, limit, last, len(ms), out)
	return nil
}

type statusResponse struct {
	ID                 int64   `json:"id"`
	EVSESequenceNumber int     `json:"evse_sequence_number"`
	ConnectorID        int     `json:"connector_id"`
	OCPPStatus         string  `json:"ocpp_status"`
	ErrorCode          *string `json:"error_code"`
	Info               *string `json:"info"`
	VendorErrorCode    *string `json:"vendor_error_code"`
	Status             string  `json:"status"`
	FriendlyStatus     string  `json:"friendly_status"`
	ReportedAt         *string `json:"reported_at"`
	Created            string  `json:"created"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *Handler) statusLog(c *gin.Context) error {
	limit, before, err := cursor(c)
	if err != nil {
		return err
	}
	es, err := h.store.StatusLog(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), limit, before)
	if err != nil {
		return err
	}
	out := make([]statusResponse, len(es))
	var last int64
	for i, e := range es {
		out[i] = statusResponse{ID: e.ID, EVSESequenceNumber: e.EVSESequenceNumber, ConnectorID: e.ConnectorID,
			OCPPStatus: e.OCPPStatus, ErrorCode: optional(e.ErrorCode), Info: optional(e.Info),
			VendorErrorCode: optional(e.VendorErrorCode), Status: e.OCPIStatus, FriendlyStatus: e.FriendlyStatus,
			Created: web.FormatTime(e.Created)}
		if e.ReportedAt != nil {
			s := web.FormatTime(*e.ReportedAt)
			out[i].ReportedAt = &s
		}
		last = e.ID
	}
	respondPage(c, limit, last, len(es), out)
	return nil
}

type configurationResponse struct {
	Key        string  `json:"key"`
	Value      *string `json:"value"`
	ReadOnly   bool    `json:"readonly"`
	Unknown    bool    `json:"unknown,omitempty"`
	Component  *string `json:"component,omitempty"`
	Variable   *string `json:"variable,omitempty"`
	Mutability *string `json:"mutability,omitempty"`
	Updated    string  `json:"updated"`
}

func (h *Handler) configuration(c *gin.Context) error {
	vs, err := h.store.Configuration(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"))
	if err != nil {
		return err
	}
	out := make([]configurationResponse, len(vs))
	for i, v := range vs {
		out[i] = configurationResponse{Key: v.Key, Value: v.Value, ReadOnly: v.ReadOnly, Unknown: v.Unknown,
			Component: optional(v.Component), Variable: optional(v.Variable), Mutability: optional(v.Mutability),
			Updated: web.FormatTime(v.Updated)}
	}
	web.Respond(c, http.StatusOK, out)
	return nil
}

type certificateResponse struct {
	ID              int64  `json:"id"`
	CertificateType string `json:"certificate_type"`
	SerialNumber    string `json:"serial_number"`
	Subject         string `json:"subject"`
	Issuer          string `json:"issuer"`
	NotBefore       string `json:"not_before"`
	NotAfter        string `json:"not_after"`
	Status          string `json:"status"`
	Created         string `json:"created"`
}

// certificates lists the station's certificates on record, newest first: those evroam signed
// for it (certificate_type ChargingStationCertificate; the newest the station Accepted is the
// one it presents now, until not_after) and the CA certificates installed on it through the
// API (their type, e.g. CSMSRootCertificate), each with the station's answer.
func (h *Handler) certificates(c *gin.Context) error {
	limit, before, err := cursor(c)
	if err != nil {
		return err
	}
	cs, err := h.store.Certificates(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), limit, before)
	if err != nil {
		return err
	}
	out := make([]certificateResponse, len(cs))
	var last int64
	for i, x := range cs {
		out[i] = certificateResponse{ID: x.ID, CertificateType: x.CertificateType, SerialNumber: x.SerialNumber, Subject: x.Subject,
			Issuer: x.Issuer, NotBefore: web.FormatTime(x.NotBefore), NotAfter: web.FormatTime(x.NotAfter), Status: x.Status,
			Created: web.FormatTime(x.Created)}
		last = x.ID
	}
	respondPage(c, limit, last, len(out), out)
	return nil
}
