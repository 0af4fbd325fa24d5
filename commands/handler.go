package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
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
	cfg       Config
	stations  Stations
	gw        Gateway
	transfers DataTransfers
}

// NewHandler returns the command handlers. stations answers which stations a key may
// command (404 otherwise) and their protocol; gw reaches the stations (a *cluster.Node, so
// that a command reaches its station whichever node holds it); transfers reads the
// DataTransfer history the gateway's Registry records. Mount it with Routes on the
// authenticated /api/v1 group.
func NewHandler(cfg Config, stations Stations, gw Gateway, transfers DataTransfers) *Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Handler{cfg: cfg, stations: stations, gw: gw, transfers: transfers}
}

// Routes registers the command routes on rg, which must run web.RequireAPIKey.
func (h *Handler) Routes(rg *gin.RouterGroup) {
	g := rg.Group("/chargers/:chargeBoxId")
	g.POST("/reset", web.Handle(h.reset))
	g.POST("/unlock", web.Handle(h.unlock))
	g.POST("/cache/clear", web.Handle(h.clearCache))
	g.POST("/trigger", web.Handle(h.trigger))
	g.POST("/availability", web.Handle(h.availability))
	g.POST("/configuration/get", web.Handle(h.getConfiguration))
	g.POST("/configuration/change", web.Handle(h.changeConfiguration))
	g.POST("/firmware/update", web.Handle(h.updateFirmware))
	g.POST("/diagnostics", web.Handle(h.diagnostics))
	g.POST("/data-transfer", web.Handle(h.dataTransfer))
	g.GET("/data-transfer", web.Handle(h.listDataTransfers))
}

// maxBody bounds a command body.
const maxBody = 64 << 10

// prepare binds the body into dst (an absent or empty body counts as {}) and finds the
// station the caller may command.
func (h *Handler) prepare(c *gin.Context, dst any) (Station, error) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxBody+1))
	if err != nil {
		return Station{}, fmt.Errorf("read body: %w", apperr.BadRequest)
	}
	if len(body) > maxBody {
		return Station{}, fmt.Errorf("request body larger than %d bytes: %w", maxBody, apperr.BadRequest)
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
	return h.stations.Station(c.Request.Context(), web.CurrentPrincipal(c), id)
}

// call sends one CALL and maps failures to the command errors (409, 504, 502).
func (h *Handler) call(c *gin.Context, st Station, action string, payload any, result any) error {
	if st.ProtocolVersion == "" {
		return commandError(st.Identity, action, h.cfg.Timeout, ocpp.ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.cfg.Timeout)
	defer cancel()
	res, err := h.gw.Call(ctx, st.Identity, action, payload)
	if err != nil {
		return commandError(st.Identity, action, h.cfg.Timeout, err)
	}
	if err := json.Unmarshal(res, result); err != nil {
		return fmt.Errorf("charge station %s answered %s with an unreadable payload: %w", st.Identity, action, apperr.BadGateway)
	}
	return nil
}

// statusInfo is the optional 2.0.1 detail of a status.
type statusInfo struct {
	ReasonCode     string `json:"reasonCode"`
	AdditionalInfo string `json:"additionalInfo"`
}

type statusResult struct {
	Status     string      `json:"status"`
	StatusInfo *statusInfo `json:"statusInfo"`
}

// withInfo appends a 2.0.1 statusInfo to a message.
func withInfo(msg string, si *statusInfo) string {
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

// ocppTime formats t for OCPP: UTC, at most 3 fractional digits (OCPP 2.0.1 part 2 §2.1.4).
func ocppTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

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

// ---- reset

type resetRequest struct {
	Type   string `json:"type" validate:"required,oneof=Soft Hard"`
	When   string `json:"when" validate:"omitempty,oneof=Immediate OnIdle"`
	EVSEID *int   `json:"evseId" validate:"omitempty,min=1"`
}

func (r *resetRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 {
		if r.When == "OnIdle" {
			fe.Add("when", "OnIdle needs an OCPP 2.0.1 station: OCPP 1.6 resets at once")
		}
		if r.EVSEID != nil {
			fe.Add("evseId", "resetting one EVSE needs an OCPP 2.0.1 station: OCPP 1.6 resets the whole station")
		}
	}
	return fe
}

type resetResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	Type        string `json:"type"`
	When        string `json:"when,omitempty"`
	EVSEID      *int   `json:"evseId,omitempty"`
	Status      string `json:"status"`
}

func (h *Handler) reset(c *gin.Context) error {
	var req resetRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	var action string
	var payload any
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		when := req.When
		if when == "" {
			when = "Immediate"
		}
		p := map[string]any{"type": when}
		if req.EVSEID != nil {
			p["evseId"] = *req.EVSEID
		}
		action, payload = "Reset", p
	default:
		action, payload = "Reset", map[string]any{"type": req.Type}
	}
	var res statusResult
	if err := h.call(c, st, action, payload, &res); err != nil {
		return err
	}
	c.JSON(http.StatusOK, resetResponse{
		Message:     withInfo(req.Type+" reset "+verb(res.Status)+" by charger", res.StatusInfo),
		ChargeBoxID: st.Identity, Type: req.Type, When: req.When, EVSEID: req.EVSEID, Status: apiStatus(res.Status),
	})
	return nil
}

// ---- unlock

type unlockRequest struct {
	ConnectorID *int `json:"connectorId" validate:"required,min=1"`
	EVSEID      *int `json:"evseId" validate:"omitempty,min=1"`
}

func (r *unlockRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 && r.EVSEID != nil {
		fe.Add("evseId", "OCPP 1.6 addresses connectors by connectorId only")
	}
	return fe
}

type unlockResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	ConnectorID int    `json:"connectorId"`
	EVSEID      *int   `json:"evseId,omitempty"`
	Status      string `json:"status"`
}

var unlockMessages = map[string]string{
	"Unlocked":                     "Connector unlocked successfully",
	"UnlockFailed":                 "Charger failed to unlock the connector",
	"NotSupported":                 "Charger does not support unlocking connectors",
	"OngoingAuthorizedTransaction": "Connector not unlocked: an authorized transaction is ongoing",
	"UnknownConnector":             "Charger does not know this connector",
}

func (h *Handler) unlock(c *gin.Context) error {
	var req unlockRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	var payload map[string]any
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		// Without evseId the 1.6 connectorId names the EVSE (contract: evse_sequence_number
		// = 1.6 connectorId = 2.0.1 evseId), whose connector 1 is unlocked.
		if req.EVSEID != nil {
			payload = map[string]any{"evseId": *req.EVSEID, "connectorId": *req.ConnectorID}
		} else {
			payload = map[string]any{"evseId": *req.ConnectorID, "connectorId": 1}
		}
	default:
		payload = map[string]any{"connectorId": *req.ConnectorID}
	}
	var res statusResult
	if err := h.call(c, st, "UnlockConnector", payload, &res); err != nil {
		return err
	}
	msg, ok := unlockMessages[res.Status]
	if !ok {
		msg = "Unlock " + verb(res.Status)
	}
	c.JSON(http.StatusOK, unlockResponse{
		Message: withInfo(msg, res.StatusInfo), ChargeBoxID: st.Identity, ConnectorID: *req.ConnectorID,
		EVSEID: req.EVSEID, Status: apiStatus(res.Status),
	})
	return nil
}

// ---- cache/clear

type clearCacheRequest struct{}

type clearCacheResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	Status      string `json:"status"`
}

func (h *Handler) clearCache(c *gin.Context) error {
	var req clearCacheRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	var res statusResult
	if err := h.call(c, st, "ClearCache", struct{}{}, &res); err != nil {
		return err
	}
	msg := "Cache cleared successfully"
	if res.Status != "Accepted" {
		msg = "Clearing the cache " + verb(res.Status) + " by charger"
	}
	c.JSON(http.StatusOK, clearCacheResponse{Message: withInfo(msg, res.StatusInfo), ChargeBoxID: st.Identity, Status: apiStatus(res.Status)})
	return nil
}

// ---- trigger

type triggerRequest struct {
	RequestedMessage string `json:"requestedMessage" validate:"required,oneof=BootNotification Heartbeat MeterValues StatusNotification DiagnosticsStatusNotification FirmwareStatusNotification"`
	ConnectorID      *int   `json:"connectorId" validate:"omitempty,min=0"`
}

type triggerResponse struct {
	Message          string `json:"message"`
	ChargeBoxID      string `json:"chargeBoxId"`
	RequestedMessage string `json:"requestedMessage"`
	ConnectorID      *int   `json:"connectorId,omitempty"`
	Status           string `json:"status"`
}

func (h *Handler) trigger(c *gin.Context) error {
	var req triggerRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	payload := map[string]any{"requestedMessage": req.RequestedMessage}
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		if req.RequestedMessage == "DiagnosticsStatusNotification" {
			payload["requestedMessage"] = "LogStatusNotification" // its 2.0.1 successor
		}
		if req.ConnectorID != nil && *req.ConnectorID > 0 {
			// The 1.6 connectorId is the 2.0.1 evseId; 0 is the whole station (no evse).
			payload["evse"] = map[string]any{"id": *req.ConnectorID}
		}
	default:
		if req.ConnectorID != nil {
			payload["connectorId"] = *req.ConnectorID
		}
	}
	var res statusResult
	if err := h.call(c, st, "TriggerMessage", payload, &res); err != nil {
		return err
	}
	c.JSON(http.StatusOK, triggerResponse{
		Message:     withInfo(req.RequestedMessage+" trigger "+verb(res.Status)+" by charger", res.StatusInfo),
		ChargeBoxID: st.Identity, RequestedMessage: req.RequestedMessage, ConnectorID: req.ConnectorID,
		Status: apiStatus(res.Status),
	})
	return nil
}

// ---- availability

type availabilityRequest struct {
	ConnectorID *int   `json:"connectorId" validate:"required,min=0"`
	Type        string `json:"type" validate:"required,oneof=Operative Inoperative"`
}

type availabilityResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	ConnectorID int    `json:"connectorId"`
	Type        string `json:"type"`
	Status      string `json:"status"`
}

func (h *Handler) availability(c *gin.Context) error {
	var req availabilityRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	var payload map[string]any
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		payload = map[string]any{"operationalStatus": req.Type}
		if *req.ConnectorID > 0 {
			payload["evse"] = map[string]any{"id": *req.ConnectorID}
		}
	default:
		payload = map[string]any{"connectorId": *req.ConnectorID, "type": req.Type}
	}
	var res statusResult
	if err := h.call(c, st, "ChangeAvailability", payload, &res); err != nil {
		return err
	}
	c.JSON(http.StatusOK, availabilityResponse{
		Message:     withInfo("Availability change "+verb(res.Status)+" by charger", res.StatusInfo),
		ChargeBoxID: st.Identity, ConnectorID: *req.ConnectorID, Type: req.Type, Status: apiStatus(res.Status),
	})
	return nil
}

// ---- configuration/get

type getConfigurationRequest struct {
	Key []string `json:"key" validate:"omitempty,max=100,dive,required,max=120"`
}

func (r *getConfigurationRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 {
		for i, k := range r.Key {
			if len(k) > 50 {
				fe.Add(fmt.Sprintf("key[%d]", i), "must have at most 50 characters (OCPP 1.6)")
			}
		}
	}
	return fe
}

type configurationKey struct {
	Key      string  `json:"key"`
	ReadOnly bool    `json:"readonly"`
	Value    *string `json:"value,omitempty"`
}

type getConfigurationResponse struct {
	ChargeBoxID      string             `json:"chargeBoxId"`
	ConfigurationKey []configurationKey `json:"configurationKey"`
	UnknownKey       []string           `json:"unknownKey"`
}

func (h *Handler) getConfiguration(c *gin.Context) error {
	var req getConfigurationRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	out := getConfigurationResponse{ChargeBoxID: st.Identity, ConfigurationKey: []configurationKey{}, UnknownKey: []string{}}
	if st.ProtocolVersion != ocpp.ProtocolOCPP201 {
		payload := map[string]any{}
		if len(req.Key) > 0 {
			payload["key"] = req.Key
		}
		var res struct {
			ConfigurationKey []configurationKey `json:"configurationKey"`
			UnknownKey       []string           `json:"unknownKey"`
		}
		if err := h.call(c, st, "GetConfiguration", payload, &res); err != nil {
			return err
		}
		out.ConfigurationKey = append(out.ConfigurationKey, res.ConfigurationKey...)
		out.UnknownKey = append(out.UnknownKey, res.UnknownKey...)
		c.JSON(http.StatusOK, out)
		return nil
	}

	// OCPP 2.0.1: GetVariables. The keys asked for are 1.6 keys (translated with the
	// mapping table) or device-model keys ("OCPPCommCtrlr.HeartbeatInterval"); with no
	// keys, every readable 1.6 key of the mapping table is asked for, so the answer has the
	// same shape for both versions. (The whole device model is read after every boot and
	// kept in the stored configuration.)
	keys := req.Key
	all := len(keys) == 0
	if all {
		for k := range keyMapping16 {
			if !writeOnly16[k] {
				keys = append(keys, k)
			}
		}
		sortStrings(keys)
	}
	type item struct {
		key string
		ref variableRef
	}
	var items []item
	var data []map[string]any
	seen := map[string]bool{}
	for _, k := range keys {
		ref, ok := resolveKey201(k)
		if !ok || seen[ref.match()] {
			if !ok {
				out.UnknownKey = append(out.UnknownKey, k)
			}
			continue
		}
		seen[ref.match()] = true
		items = append(items, item{k, ref})
		d := map[string]any{"component": ref.component(), "variable": ref.variable()}
		if ref.AttributeType != "" {
			d["attributeType"] = ref.AttributeType
		}
		data = append(data, d)
	}
	if len(data) == 0 {
		// Nothing the station could be asked about; the station still has to be reachable
		// for the answer to mean anything.
		if st.ProtocolVersion == "" {
			return commandError(st.Identity, "GetVariables", h.cfg.Timeout, ocpp.ErrNotConnected)
		}
		c.JSON(http.StatusOK, out)
		return nil
	}
	var res struct {
		GetVariableResult []struct {
			AttributeStatus string        `json:"attributeStatus"`
			AttributeType   string        `json:"attributeType"`
			AttributeValue  *string       `json:"attributeValue"`
			Component       componentJSON `json:"component"`
			Variable        variableJSON  `json:"variable"`
		} `json:"getVariableResult"`
	}
	if err := h.call(c, st, "GetVariables", map[string]any{"getVariableData": data}, &res); err != nil {
		return err
	}
	results := map[string]int{}
	for i, r := range res.GetVariableResult {
		results[match(r.Component, r.Variable, r.AttributeType)] = i
	}
	for _, it := range items {
		i, ok := results[it.ref.match()]
		if !ok || res.GetVariableResult[i].AttributeStatus != "Accepted" {
			out.UnknownKey = append(out.UnknownKey, it.key)
			continue
		}
		out.ConfigurationKey = append(out.ConfigurationKey, configurationKey{
			Key: it.key, ReadOnly: readOnly16[it.key], Value: res.GetVariableResult[i].AttributeValue,
		})
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// ---- configuration/change

type changeConfigurationRequest struct {
	Key   string  `json:"key" validate:"required,max=120"`
	Value *string `json:"value" validate:"required,max=1000"`
}

func (r *changeConfigurationRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	switch proto {
	case ocpp.ProtocolOCPP16:
		if len(r.Key) > 50 {
			fe.Add("key", "must have at most 50 characters (OCPP 1.6)")
		}
		if r.Value != nil && len(*r.Value) > 500 {
			fe.Add("value", "must have at most 500 characters (OCPP 1.6)")
		}
	case ocpp.ProtocolOCPP201:
		if _, ok := resolveKey201(r.Key); r.Key != "" && !ok {
			fe.Add("key", "is neither an OCPP 1.6 key with a 2.0.1 equivalent nor a device-model key such as OCPPCommCtrlr.HeartbeatInterval")
		}
	}
	return fe
}

type changeConfigurationResponse struct {
	ChargeBoxID string `json:"chargeBoxId"`
	Key         string `json:"key"`
	Value       string `json:"value"`
	Status      string `json:"status"`
	Message     string `json:"message"`
}

var changeMessages = map[string]string{
	"Accepted":       "Configuration changed successfully",
	"RebootRequired": "Configuration changed; it takes effect after a reboot",
	"Rejected":       "Charger rejected the configuration change",
	"NotSupported":   "Charger does not support this configuration key",
}

// setVariableStatus maps a 2.0.1 SetVariableStatusEnumType onto the 1.6 ConfigurationStatus
// the answer uses.
var setVariableStatus = map[string]string{
	"Accepted":                  "Accepted",
	"RebootRequired":            "RebootRequired",
	"Rejected":                  "Rejected",
	"UnknownComponent":          "NotSupported",
	"UnknownVariable":           "NotSupported",
	"NotSupportedAttributeType": "NotSupported",
}

// secretKey reports whether a configuration key holds a password, never echoed back.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	return k == "authorizationkey" || strings.HasSuffix(k, ".basicauthpassword") || strings.Contains(k, ".basicauthpassword/")
}

func (h *Handler) changeConfiguration(c *gin.Context) error {
	var req changeConfigurationRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	value := *req.Value
	var status string
	var info *statusInfo
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		ref, _ := resolveKey201(req.Key) // check made sure it resolves
		d := map[string]any{"component": ref.component(), "variable": ref.variable(), "attributeValue": value}
		if ref.AttributeType != "" {
			d["attributeType"] = ref.AttributeType
		}
		var res struct {
			SetVariableResult []struct {
				AttributeStatus     string      `json:"attributeStatus"`
				AttributeStatusInfo *statusInfo `json:"attributeStatusInfo"`
			} `json:"setVariableResult"`
		}
		if err := h.call(c, st, "SetVariables", map[string]any{"setVariableData": []any{d}}, &res); err != nil {
			return err
		}
		if len(res.SetVariableResult) != 1 {
			return fmt.Errorf("charge station %s answered SetVariables with %d results for one variable: %w",
				st.Identity, len(res.SetVariableResult), apperr.BadGateway)
		}
		r := res.SetVariableResult[0]
		status, info = setVariableStatus[r.AttributeStatus], r.AttributeStatusInfo
		if status == "" {
			status = r.AttributeStatus
		}
	default:
		var res statusResult
		if err := h.call(c, st, "ChangeConfiguration", map[string]any{"key": req.Key, "value": value}, &res); err != nil {
			return err
		}
		status = res.Status
	}
	msg, ok := changeMessages[status]
	if !ok {
		msg = "Configuration change " + verb(status)
	}
	if secretKey(req.Key) {
		value = "***"
	}
	c.JSON(http.StatusOK, changeConfigurationResponse{
		ChargeBoxID: st.Identity, Key: req.Key, Value: value, Status: status, Message: withInfo(msg, info),
	})
	return nil
}

// ---- firmware/update

type updateFirmwareRequest struct {
	Location      string `json:"location" validate:"required,max=512"`
	RetrieveDate  string `json:"retrieveDate" validate:"required"`
	Retries       *int   `json:"retries" validate:"omitempty,min=0"`
	RetryInterval *int   `json:"retryInterval" validate:"omitempty,min=0"`
}

func (r *updateFirmwareRequest) check(string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	checkURL(&fe, "location", r.Location)
	if r.RetrieveDate != "" {
		parseTime(&fe, "retrieveDate", r.RetrieveDate, true)
	}
	return fe
}

type updateFirmwareResponse struct {
	Message      string `json:"message"`
	ChargeBoxID  string `json:"chargeBoxId"`
	Location     string `json:"location"`
	RetrieveDate string `json:"retrieveDate"`
	RequestID    int    `json:"requestId,omitempty"`
	Status       string `json:"status"`
}

var firmwareMessages = map[string]string{
	"AcceptedCanceled":   "Firmware update accepted by charger; the update in progress was canceled",
	"InvalidCertificate": "Firmware update rejected by charger: invalid signing certificate",
	"RevokedCertificate": "Firmware update rejected by charger: revoked signing certificate",
}

func (h *Handler) updateFirmware(c *gin.Context) error {
	var req updateFirmwareRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	retrieve, _ := time.Parse(time.RFC3339Nano, req.RetrieveDate)
	out := updateFirmwareResponse{ChargeBoxID: st.Identity, Location: req.Location, RetrieveDate: req.RetrieveDate}
	var res statusResult
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		out.RequestID = ocpp.NewRequestID()
		p := map[string]any{
			"requestId": out.RequestID,
			"firmware":  map[string]any{"location": req.Location, "retrieveDateTime": ocppTime(retrieve)},
		}
		addRetries(p, req.Retries, req.RetryInterval)
		if err := h.call(c, st, "UpdateFirmware", p, &res); err != nil {
			return err
		}
	default:
		p := map[string]any{"location": req.Location, "retrieveDate": ocppTime(retrieve)}
		addRetries(p, req.Retries, req.RetryInterval)
		if err := h.call(c, st, "UpdateFirmware", p, &res); err != nil {
			return err
		}
		res.Status = "Accepted" // the 1.6 answer is empty: the station took the request
	}
	msg, ok := firmwareMessages[res.Status]
	if !ok {
		msg = "Firmware update " + verb(res.Status) + " by charger"
	}
	out.Message, out.Status = withInfo(msg, res.StatusInfo), apiStatus(res.Status)
	c.JSON(http.StatusOK, out)
	return nil
}

func addRetries(p map[string]any, retries, interval *int) {
	if retries != nil {
		p["retries"] = *retries
	}
	if interval != nil {
		p["retryInterval"] = *interval
	}
}

// ---- diagnostics

type diagnosticsRequest struct {
	Location      string `json:"location" validate:"required,max=512"`
	StartTime     string `json:"startTime"`
	StopTime      string `json:"stopTime"`
	Retries       *int   `json:"retries" validate:"omitempty,min=0"`
	RetryInterval *int   `json:"retryInterval" validate:"omitempty,min=0"`
}

func (r *diagnosticsRequest) check(string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	checkURL(&fe, "location", r.Location)
	start := parseTime(&fe, "startTime", r.StartTime, false)
	stop := parseTime(&fe, "stopTime", r.StopTime, false)
	if !start.IsZero() && !stop.IsZero() && stop.Before(start) {
		fe.Add("stopTime", "must not be before startTime")
	}
	return fe
}

type diagnosticsResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	Location    string `json:"location"`
	FileName    string `json:"fileName,omitempty"`
	RequestID   int    `json:"requestId,omitempty"`
	Status      string `json:"status"`
}

func (h *Handler) diagnostics(c *gin.Context) error {
	var req diagnosticsRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	start, _ := time.Parse(time.RFC3339Nano, req.StartTime)
	stop, _ := time.Parse(time.RFC3339Nano, req.StopTime)
	out := diagnosticsResponse{ChargeBoxID: st.Identity, Location: req.Location}
	var res struct {
		Status     string      `json:"status"`
		StatusInfo *statusInfo `json:"statusInfo"`
		FileName   string      `json:"fileName"` // 1.6
		Filename   string      `json:"filename"` // 2.0.1
	}
	switch st.ProtocolVersion {
	case ocpp.ProtocolOCPP201:
		out.RequestID = ocpp.NewRequestID()
		log := map[string]any{"remoteLocation": req.Location}
		if !start.IsZero() {
			log["oldestTimestamp"] = ocppTime(start)
		}
		if !stop.IsZero() {
			log["latestTimestamp"] = ocppTime(stop)
		}
		p := map[string]any{"log": log, "logType": "DiagnosticsLog", "requestId": out.RequestID}
		addRetries(p, req.Retries, req.RetryInterval)
		if err := h.call(c, st, "GetLog", p, &res); err != nil {
			return err
		}
		out.FileName = res.Filename
	default:
		p := map[string]any{"location": req.Location}
		if !start.IsZero() {
			p["startTime"] = ocppTime(start)
		}
		if !stop.IsZero() {
			p["stopTime"] = ocppTime(stop)
		}
		addRetries(p, req.Retries, req.RetryInterval)
		if err := h.call(c, st, "GetDiagnostics", p, &res); err != nil {
			return err
		}
		out.FileName = res.FileName
		res.Status = "Accepted" // 1.6 answers only the file name, absent when there is nothing to upload
	}
	switch {
	case res.Status == "AcceptedCanceled":
		out.Message = "Diagnostics upload accepted by charger; the upload in progress was canceled"
	case res.Status == "Accepted" && out.FileName == "" && st.ProtocolVersion == ocpp.ProtocolOCPP16:
		out.Message = "Diagnostics request accepted by charger; it has no diagnostic information to upload"
	default:
		out.Message = "Diagnostics upload " + verb(res.Status) + " by charger"
	}
	out.Message, out.Status = withInfo(out.Message, res.StatusInfo), apiStatus(res.Status)
	c.JSON(http.StatusOK, out)
	return nil
}

// ---- data-transfer

type dataTransferRequest struct {
	VendorID  string  `json:"vendorId" validate:"required,max=255"`
	MessageID string  `json:"messageId" validate:"omitempty,max=50"`
	Data      *string `json:"data"`
}

type dataTransferResponse struct {
	Message      string  `json:"message"`
	ChargeBoxID  string  `json:"chargeBoxId"`
	VendorID     string  `json:"vendorId"`
	MessageID    string  `json:"messageId,omitempty"`
	Status       string  `json:"status"`
	ResponseData *string `json:"responseData,omitempty"`
}

var dataTransferMessages = map[string]string{
	"UnknownMessageId": "Charger does not know this messageId",
	"UnknownVendorId":  "Charger does not know this vendorId",
}

func (h *Handler) dataTransfer(c *gin.Context) error {
	var req dataTransferRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	// data is a string in both versions: 2.0.1 allows any JSON, and a JSON string carries
	// the text exactly.
	p := map[string]any{"vendorId": req.VendorID}
	if req.MessageID != "" {
		p["messageId"] = req.MessageID
	}
	if req.Data != nil {
		p["data"] = *req.Data
	}
	var res struct {
		Status     string          `json:"status"`
		StatusInfo *statusInfo     `json:"statusInfo"`
		Data       json.RawMessage `json:"data"`
	}
	if err := h.call(c, st, "DataTransfer", p, &res); err != nil {
		return err
	}
	msg, ok := dataTransferMessages[res.Status]
	if !ok {
		msg = "DataTransfer " + verb(res.Status) + " by charger"
	}
	c.JSON(http.StatusOK, dataTransferResponse{
		Message: withInfo(msg, res.StatusInfo), ChargeBoxID: st.Identity, VendorID: req.VendorID, MessageID: req.MessageID,
		Status: res.Status, ResponseData: dataText(res.Data),
	})
	return nil
}

// dataText turns DataTransfer data (a JSON string in 1.6, any JSON in 2.0.1) into the
// string the API shows: a JSON string's text, or the JSON itself; nil when absent.
func dataText(raw json.RawMessage) *string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		s = buf.String()
	} else {
		s = string(raw)
	}
	return &s
}

// ---- GET data-transfer

const (
	defaultHistoryLimit = 20
	maxHistoryLimit     = 100
)

type dataTransferItem struct {
	ID             string  `json:"id"`
	Direction      string  `json:"direction"`
	VendorID       string  `json:"vendorId"`
	MessageID      string  `json:"messageId,omitempty"`
	Data           *string `json:"data,omitempty"`
	ResponseStatus string  `json:"responseStatus,omitempty"`
	ResponseData   *string `json:"responseData,omitempty"`
	Error          string  `json:"error,omitempty"`
	CreatedAt      string  `json:"createdAt"`
}

type dataTransferList struct {
	ChargeBoxID   string             `json:"chargeBoxId"`
	DataTransfers []dataTransferItem `json:"dataTransfers"`
	Count         int                `json:"count"`
}

func (h *Handler) listDataTransfers(c *gin.Context) error {
	limit := defaultHistoryLimit
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return web.BadQuery("limit", "must be a positive whole number")
		}
		limit = min(n, maxHistoryLimit)
	}
	st, err := h.station(c)
	if err != nil {
		return err
	}
	list, err := h.transfers.ListDataTransfers(c.Request.Context(), web.CurrentPrincipal(c), st.Identity, limit)
	if err != nil {
		return err
	}
	out := dataTransferList{ChargeBoxID: st.Identity, DataTransfers: make([]dataTransferItem, 0, len(list)), Count: len(list)}
	for _, d := range list {
		dir := "outgoing"
		if d.Direction == ocpp.DirectionIn {
			dir = "incoming"
		}
		out.DataTransfers = append(out.DataTransfers, dataTransferItem{
			ID: "dt_" + strconv.FormatInt(d.ID, 10), Direction: dir, VendorID: d.VendorID, MessageID: d.MessageID,
			Data: dataText(d.Data), ResponseStatus: d.Status, ResponseData: dataText(d.ResponseData), Error: d.Error,
			CreatedAt: d.At.UTC().Format("2006-01-02T15:04:05.000Z"),
		})
	}
	c.JSON(http.StatusOK, out)
	return nil
}
