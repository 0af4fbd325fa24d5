package chargestations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves /chargestations.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the charge-station endpoints on rg (already authenticated). Every route
// below /chargestations/ names the station parameter charge_station_id (gin needs one name
// per path segment).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/chargestations", web.Handle(h.list))
	rg.POST("/chargestations", web.Handle(h.create))
	rg.GET("/chargestations/:charge_station_id", web.Handle(h.get))
	rg.PUT("/chargestations/:charge_station_id", web.Handle(h.put))
	rg.PATCH("/chargestations/:charge_station_id", web.Handle(h.patch))
	rg.DELETE("/chargestations/:charge_station_id", web.Handle(h.delete))
}

// optionalString is a write-only string field that distinguishes absent (Set false) from
// null (Set, Value nil). Anything but a string or null is remembered as Invalid, so that the
// rules report it with the other field errors.
type optionalString struct {
	Set     bool
	Invalid bool
	Value   *string
}

// UnmarshalJSON records the value; it never fails.
func (o *optionalString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		o.Invalid = true
		return nil
	}
	o.Value = &s
	return nil
}

// stationBody is a charge station as clients write it (POST, PUT, and PATCH after merging).
// The read-only fields of a GET are accepted and ignored so that a GET body can be PUT back.
type stationBody struct {
	ChargeStationID   string               `json:"charge_station_id" validate:"required,charge_station_id"`
	LocationID        string               `json:"location_id" validate:"required,max=36"`
	Name              *string              `json:"name" validate:"omitempty,max=255"`
	DeployState       string               `json:"deploy_state" validate:"required,deploy_state"`
	InstallationDate  *string              `json:"installation_date" validate:"omitempty,ocpi_datetime"`
	DefaultTariffID   string               `json:"default_charge_station_tariff_id" validate:"required,max=36"`
	ChargerType       string               `json:"charger_type" validate:"required,charger_type"`
	Capabilities      []schema.Capability  `json:"capabilities" validate:"omitempty,max=100,dive,ocpi_capability"`
	ContactlessType   *string              `json:"contactless_type" validate:"omitempty,contactless_type"`
	TapToStop         *bool                `json:"tap_to_stop"`
	StopOnParking     *bool                `json:"stop_on_parking"`
	DefaultDirections []schema.DisplayText `json:"default_charge_station_directions" validate:"omitempty,max=100,dive"`
	DefaultFloorLevel *string              `json:"default_charge_station_floor_level" validate:"omitempty,max=4"`
	MaintenanceInfo   *string              `json:"maintenance_info" validate:"omitempty,max=2000"`
	Remarks           *string              `json:"remarks" validate:"omitempty,max=2000"`
	SecurityProfile   *int                 `json:"security_profile" validate:"omitempty,security_profile"`
	OCPPPassword      optionalString       `json:"ocpp_password"`
	TemplateID        *string              `json:"charge_station_template_id" validate:"omitempty,min=1,max=64"`
	EVSEs             []evse.Body          `json:"evses" validate:"omitempty,max=100,dive"`
	ETag              string               `json:"etag"`

	// Read-only and derived: accepted, ignored.
	NetworkID               web.Ignored `json:"network_id"`
	Status                  web.Ignored `json:"status"`
	HasFault                web.Ignored `json:"has_fault"`
	HasOCPPPassword         web.Ignored `json:"has_ocpp_password"`
	HeartbeatInterval       web.Ignored `json:"heartbeat_interval"`
	ChargePointVendor       web.Ignored `json:"charge_point_vendor"`
	ChargePointModel        web.Ignored `json:"charge_point_model"`
	ChargePointSerialNumber web.Ignored `json:"charge_point_serial_number"`
	ChargeBoxSerialNumber   web.Ignored `json:"charge_box_serial_number"`
	FirmwareVersion         web.Ignored `json:"firmware_version"`
	ICCID                   web.Ignored `json:"iccid"`
	IMSI                    web.Ignored `json:"imsi"`
	MeterType               web.Ignored `json:"meter_type"`
	MeterSerialNumber       web.Ignored `json:"meter_serial_number"`
	ClientIPAddress         web.Ignored `json:"client_ip_address"`
	RemoteManageable        web.Ignored `json:"remote_manageable"`
	ConnectivityStatus      web.Ignored `json:"connectivity_status"`
	ProtocolVersion         web.Ignored `json:"protocol_version"`
	Endpoint                web.Ignored `json:"endpoint"`
	OnboardingState         web.Ignored `json:"onboarding_state"`
	LastBootAt              web.Ignored `json:"last_boot_at"`
	LastHeartbeatAt         web.Ignored `json:"last_heartbeat_at"`
	LastConnectionAttemptAt web.Ignored `json:"last_connection_attempt_at"`
	LastConnectionError     web.Ignored `json:"last_connection_error"`
	SecurityProfilePending  web.Ignored `json:"security_profile_pending"`
	SecurityProfileError    web.Ignored `json:"security_profile_error"`
	FirmwareUpdateStatus    web.Ignored `json:"firmware_update_status"`
	DiagnosticsStatus       web.Ignored `json:"diagnostics_status"`
	Created                 web.Ignored `json:"created"`
	LastUpdated             web.Ignored `json:"last_updated"`
}

// stationResponse is a charge station as every response shows it. ocpp_password and
// charge_station_template_id are write-only and never appear.
type stationResponse struct {
	ChargeStationID   string                  `json:"charge_station_id"`
	NetworkID         uuid.UUID               `json:"network_id"`
	LocationID        string                  `json:"location_id"`
	Name              *string                 `json:"name"`
	DeployState       schema.DeployState      `json:"deploy_state"`
	InstallationDate  *string                 `json:"installation_date"`
	DefaultTariffID   string                  `json:"default_charge_station_tariff_id"`
	ChargerType       schema.ChargerType      `json:"charger_type"`
	Capabilities      []schema.Capability     `json:"capabilities"`
	ContactlessType   *schema.ContactlessType `json:"contactless_type"`
	TapToStop         *bool                   `json:"tap_to_stop"`
	StopOnParking     *bool                   `json:"stop_on_parking"`
	DefaultDirections []schema.DisplayText    `json:"default_charge_station_directions"`
	DefaultFloorLevel *string                 `json:"default_charge_station_floor_level"`
	MaintenanceInfo   *string                 `json:"maintenance_info"`
	Remarks           *string                 `json:"remarks"`
	SecurityProfile   int                     `json:"security_profile"`
	HasOCPPPassword   bool                    `json:"has_ocpp_password"`
	Status            schema.Status           `json:"status"`
	HasFault          bool                    `json:"has_fault"`
	EVSEs             []evse.Response         `json:"evses"`

	HeartbeatInterval       *int                       `json:"heartbeat_interval"`
	ChargePointVendor       *string                    `json:"charge_point_vendor"`
	ChargePointModel        *string                    `json:"charge_point_model"`
	ChargePointSerialNumber *string                    `json:"charge_point_serial_number"`
	ChargeBoxSerialNumber   *string                    `json:"charge_box_serial_number"`
	FirmwareVersion         *string                    `json:"firmware_version"`
	ICCID                   *string                    `json:"iccid"`
	IMSI                    *string                    `json:"imsi"`
	MeterType               *string                    `json:"meter_type"`
	MeterSerialNumber       *string                    `json:"meter_serial_number"`
	ClientIPAddress         *string                    `json:"client_ip_address"`
	RemoteManageable        *bool                      `json:"remote_manageable"`
	ConnectivityStatus      *schema.ConnectivityStatus `json:"connectivity_status"`
	ProtocolVersion         *schema.ProtocolVersion    `json:"protocol_version"`
	Endpoint                *string                    `json:"endpoint"`
	OnboardingState         schema.OnboardingState     `json:"onboarding_state"`
	LastBootAt              *string                    `json:"last_boot_at"`
	LastHeartbeatAt         *string                    `json:"last_heartbeat_at"`
	LastConnectionAttemptAt *string                    `json:"last_connection_attempt_at"`
	LastConnectionError     *string                    `json:"last_connection_error"`
	SecurityProfilePending  *int                       `json:"security_profile_pending"`
	SecurityProfileError    *string                    `json:"security_profile_error"`
	FirmwareUpdateStatus    *string                    `json:"firmware_update_status"`
	DiagnosticsStatus       *string                    `json:"diagnostics_status"`

	ETag        string `json:"etag"`
	Created     string `json:"created"`
	LastUpdated string `json:"last_updated"`
}

func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := web.FormatTime(*t)
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func toResponse(cs ChargeStation) stationResponse {
	g := cs.Gateway
	return stationResponse{
		ChargeStationID: cs.ID, NetworkID: cs.NetworkID, LocationID: cs.LocationID, Name: cs.Name,
		DeployState: cs.DeployState, InstallationDate: formatTime(cs.InstallationDate),
		DefaultTariffID: cs.DefaultTariffID, ChargerType: cs.ChargerType, Capabilities: nonNil(cs.Capabilities),
		ContactlessType: cs.ContactlessType, TapToStop: cs.TapToStop, StopOnParking: cs.StopOnParking,
		DefaultDirections: nonNil(cs.DefaultDirections), DefaultFloorLevel: cs.DefaultFloorLevel,
		MaintenanceInfo: cs.MaintenanceInfo, Remarks: cs.Remarks, SecurityProfile: int(cs.SecurityProfile),
		HasOCPPPassword: cs.PasswordHash != "", Status: cs.Status(), HasFault: cs.HasFault(), EVSEs: evse.ToResponses(cs.EVSEs),
		HeartbeatInterval: g.HeartbeatInterval, ChargePointVendor: g.ChargePointVendor,
		ChargePointModel: g.ChargePointModel, ChargePointSerialNumber: g.ChargePointSerialNumber,
		ChargeBoxSerialNumber: g.ChargeBoxSerialNumber, FirmwareVersion: g.FirmwareVersion,
		ICCID: g.ICCID, IMSI: g.IMSI, MeterType: g.MeterType, MeterSerialNumber: g.MeterSerialNumber,
		ClientIPAddress: g.ClientIPAddress, RemoteManageable: g.RemoteManageable,
		ConnectivityStatus: g.ConnectivityStatus, ProtocolVersion: g.ProtocolVersion, Endpoint: g.Endpoint,
		OnboardingState: g.OnboardingState, LastBootAt: formatTime(g.LastBootAt),
		LastHeartbeatAt: formatTime(g.LastHeartbeatAt), LastConnectionAttemptAt: formatTime(g.LastConnectionAttemptAt),
		LastConnectionError: g.LastConnectionError, SecurityProfilePending: g.SecurityProfilePending,
		SecurityProfileError: g.SecurityProfileError, FirmwareUpdateStatus: g.FirmwareUpdateStatus,
		DiagnosticsStatus: g.DiagnosticsStatus,
		ETag:              cs.ETag.String(), Created: web.FormatTime(cs.Created), LastUpdated: web.FormatTime(cs.LastUpdated),
	}
}

// OCPP passwords: OCPP 2.0.1 passwordString and the OCPP 1.6 security whitepaper both allow
// 16 to 40 characters.
const (
	minPassword = 16
	maxPassword = 40
)

func validPassword(p string) bool {
	if len(p) < minPassword || len(p) > maxPassword {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < ' ' || p[i] > '~' {
			return false
		}
	}
	return true
}

// hasher makes the stored form of station identity's ocpp_password; PATCH passes one that
// already hashed the patch's password before the row lock was taken.
type hasher func(identity, plain string) (secret.Stored, error)

// bindDraft reads a station body (a POST, a PUT, or a PATCH merged onto the current state)
// and applies every rule, tags and cross-field rules together. id is the station's id for PUT
// and PATCH ("" for POST). The draft is returned with its location_id even when fields are
// invalid, so the service can add an unknown location to the same 422.
func bindDraft(raw []byte, id string, hash hasher) (Draft, stationBody, error) {
	var body stationBody
	var d Draft
	err := web.BindWithRules(raw, &body, func() apperr.FieldErrors { return body.rules(id, &d) })
	d.Station.LocationID = body.LocationID
	d.TariffRefs = body.tariffRefs()
	if err != nil {
		return d, body, err
	}
	if body.OCPPPassword.Set {
		d.SetPassword = true
		if body.OCPPPassword.Value != nil {
			identity := id
			if identity == "" {
				identity = body.ChargeStationID
			}
			stored, err := hash(identity, *body.OCPPPassword.Value)
			if err != nil {
				return d, body, fmt.Errorf("hash ocpp_password: %w", err)
			}
			d.Password = stored
		}
	}
	return d, body, nil
}

// tariffRefs lists the tariff ids the body names, with their JSON paths.
func (b stationBody) tariffRefs() []evse.TariffRef {
	var refs []evse.TariffRef
	if b.DefaultTariffID != "" {
		refs = append(refs, evse.TariffRef{Field: "default_charge_station_tariff_id", ID: b.DefaultTariffID})
	}
	for i, e := range b.EVSEs {
		for j, c := range e.Connectors {
			for k, id := range c.TariffIDs {
				refs = append(refs, evse.TariffRef{Field: fmt.Sprintf("evses[%d].connectors[%d].tariff_ids[%d]", i, j, k), ID: id})
			}
		}
	}
	return refs
}

// rules checks what the tags cannot and fills d from a body that decoded completely.
func (b stationBody) rules(id string, d *Draft) apperr.FieldErrors {
	var problems apperr.FieldErrors
	if id != "" && b.ChargeStationID != "" && b.ChargeStationID != id {
		problems.Add("charge_station_id", "must match the charge_station_id in the path")
	}
	if b.OCPPPassword.Invalid {
		problems.Add("ocpp_password", "must be a string or null")
	} else if v := b.OCPPPassword.Value; v != nil && !validPassword(*v) {
		problems.Add("ocpp_password", fmt.Sprintf("must be %d to %d printable ASCII characters", minPassword, maxPassword))
	}
	switch {
	case b.EVSEs != nil && b.TemplateID != nil:
		problems.Add("evses", "give either evses or charge_station_template_id, not both")
	case b.EVSEs == nil && b.TemplateID == nil:
		problems.Add("evses", "is required when charge_station_template_id is not given (a station needs at least one EVSE)")
	case b.EVSEs != nil && len(b.EVSEs) == 0:
		problems.Add("evses", "must have at least 1 EVSE")
	}

	// EVSEs: each checked on its own, then sequence numbers (1..n, unique; missing ones get the
	// lowest free numbers in order) and uids (unique; generated ones included).
	n := len(b.EVSEs)
	evses := make([]evse.EVSE, n)
	used := map[int]bool{}
	seqProblems := false
	for i, eb := range b.EVSEs {
		path := fmt.Sprintf("evses[%d]", i)
		e, more := eb.ToEVSE(path)
		problems = append(problems, more...)
		if s := eb.EVSESequenceNumber; s != nil {
			switch {
			case *s > n:
				seqProblems = true
				problems.Add(path+".evse_sequence_number", fmt.Sprintf("must be between 1 and %d, the number of EVSEs", n))
			case used[*s]:
				seqProblems = true
				problems.Add(path+".evse_sequence_number", "is used by another EVSE of this station")
			}
			used[*s] = true
		}
		evses[i] = e
	}
	next := 1
	for i, eb := range b.EVSEs {
		if eb.EVSESequenceNumber == nil {
			for used[next] {
				next++
			}
			evses[i].SequenceNumber = next
			used[next] = true
		}
	}
	stationID := b.ChargeStationID
	if id != "" {
		stationID = id
	}
	uids := map[string]bool{}
	for i := range evses {
		generated := evses[i].UID == ""
		if generated {
			evses[i].UID = evse.GeneratedUID(stationID, evses[i].SequenceNumber)
		}
		switch {
		case !uids[evses[i].UID]:
		case !generated:
			problems.Add(fmt.Sprintf("evses[%d].uid", i), "is used by another EVSE of this station")
		case !seqProblems: // else the clash is a consequence of a bad sequence number
			problems.Add(fmt.Sprintf("evses[%d].uid", i), fmt.Sprintf("the generated uid %s is used by another EVSE of this station: give a uid", evses[i].UID))
		}
		uids[evses[i].UID] = true
	}
	// evse_ids are unique among all EVSEs (compared as schema.EVSEIDKey); those of other
	// stations are checked when the write is stored.
	evseIDs := map[string]bool{}
	for i := range evses {
		if evses[i].EVSEID == nil {
			continue
		}
		k := schema.EVSEIDKey(*evses[i].EVSEID)
		if evseIDs[k] {
			problems.Add(fmt.Sprintf("evses[%d].evse_id", i), "is used by another EVSE of this station")
		}
		evseIDs[k] = true
	}
	if len(problems) > 0 {
		return problems
	}

	cs := ChargeStation{
		ID: stationID, LocationID: b.LocationID, Name: b.Name, DeployState: schema.DeployState(b.DeployState),
		DefaultTariffID: b.DefaultTariffID, ChargerType: schema.ChargerType(b.ChargerType),
		Capabilities: b.Capabilities, TapToStop: b.TapToStop, StopOnParking: b.StopOnParking,
		DefaultDirections: b.DefaultDirections, DefaultFloorLevel: b.DefaultFloorLevel,
		MaintenanceInfo: b.MaintenanceInfo, Remarks: b.Remarks, SecurityProfile: schema.DefaultSecurityProfile,
	}
	if b.InstallationDate != nil {
		t, err := schema.ParseDateTime(*b.InstallationDate)
		if err == nil {
			cs.InstallationDate = &t
		}
	}
	if b.ContactlessType != nil {
		ct := schema.ContactlessType(*b.ContactlessType)
		cs.ContactlessType = &ct
	}
	if b.SecurityProfile != nil {
		cs.SecurityProfile = schema.SecurityProfile(*b.SecurityProfile)
	}
	d.Station = cs
	if b.TemplateID != nil {
		d.TemplateID = *b.TemplateID
	} else {
		d.EVSEs = evses
	}
	return nil
}

func respond(c *gin.Context, status int, cs ChargeStation) error {
	resp := toResponse(cs)
	web.SetETag(c, resp.ETag)
	web.Respond(c, status, resp)
	return nil
}

// list answers a page of stations. While the answer cache serves, it reads only which
// stations the page holds and the version of each one's row, takes the answers rendered from
// those versions from the cache, and reads the others in one statement (listFromCache); a
// portal that polls its first page then costs the database a hundred index entries, not a
// hundred documents, and evroam no decoding or encoding.
func (h *Handler) list(c *gin.Context) error {
	p, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	f, err := parseFilter(c)
	if err != nil {
		return err
	}
	visible := web.CurrentPrincipal(c).Networks
	if h.svc.Answers().Serving() {
		if served, err := h.listFromCache(c, visible, f, p); served || err != nil {
			return err
		}
	}
	list, meta, err := h.svc.List(c.Request.Context(), visible, f, p)
	if err != nil {
		return err
	}
	out := make([]stationResponse, len(list))
	for i, cs := range list {
		out[i] = toResponse(cs)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

// listFromCache answers a list page from the answer cache and one read of what it lacks (see
// list). It reports false, having answered nothing, when pageFromCache cannot serve the page
// as found; list then reads it in one statement.
func (h *Handler) listFromCache(c *gin.Context, visible []uuid.UUID, f Filter, p paging.Page) (served bool, err error) {
	ctx := c.Request.Context()
	entries, meta, err := h.svc.ListEntries(ctx, visible, f, p)
	if err != nil {
		return false, err
	}
	bodies, ok, err := pageFromCache(h.svc.Answers(), entries, func(ids []string) ([]ChargeStation, error) {
		return h.svc.GetMany(ctx, visible, ids)
	})
	if !ok || err != nil {
		return false, err
	}
	web.RespondListEncoded(c, p, meta, bodies)
	return true, nil
}

// pageFromCache returns the answers of a page's stations: from the cache when rendered from
// the row version the page found, the others read with fetch (one statement) and kept.
// Every station is then served as of the version the page found, so the page is what one read
// of the database would have answered. A station that changed between the page's read and
// fetch (or went away) would break that: a sync client would get its new version at its old
// place, before a cursor past its new place, and never meet it again. ok is false then.
func pageFromCache(answers *AnswerCache, entries []PageEntry, fetch func(ids []string) ([]ChargeStation, error)) (bodies [][]byte, ok bool, err error) {
	bodies = make([][]byte, len(entries))
	type lacking struct {
		at    int
		epoch uint64 // taken before fetch, for Keep
	}
	var ids []string
	lacks := map[string]lacking{}
	for i, e := range entries {
		if a, ok := answers.LookupVersion(e.ID, e.RowVersion); ok {
			bodies[i] = a.Body
			continue
		}
		ids = append(ids, e.ID)
		lacks[e.ID] = lacking{at: i, epoch: answers.Epoch(e.ID)}
	}
	if len(ids) == 0 {
		return bodies, true, nil
	}
	stations, err := fetch(ids)
	if err != nil || len(stations) != len(ids) {
		return nil, false, err // on no error: one went away, or to a network not visible
	}
	for _, cs := range stations {
		l, asked := lacks[cs.ID]
		if !asked || cs.RowVersion != entries[l.at].RowVersion {
			return nil, false, nil
		}
		a, err := render(cs)
		if err != nil {
			return nil, false, err
		}
		answers.Keep(cs.ID, l.epoch, a)
		bodies[l.at] = a.Body
	}
	return bodies, true, nil
}

func parseFilter(c *gin.Context) (Filter, error) {
	var f Filter
	if v, ok := c.GetQuery("location_id"); ok && v != "" {
		f.LocationID = &v
	}
	if v := c.Query("onboarding_state"); v != "" {
		s := schema.OnboardingState(v)
		if !s.Valid() {
			return f, web.BadQuery("onboarding_state", "must be Pending or Onboarded")
		}
		f.OnboardingState = &s
	}
	if v := c.Query("connectivity_status"); v != "" {
		s := schema.ConnectivityStatus(v)
		if !s.Valid() {
			return f, web.BadQuery("connectivity_status", "must be Online or Offline")
		}
		f.ConnectivityStatus = &s
	}
	if v := c.Query("status"); v != "" {
		s, err := schema.ParseStatus(v)
		if err != nil {
			return f, web.BadQuery("status", "must be an OCPI status such as AVAILABLE or CHARGING")
		}
		f.Status = &s
	}
	if _, ok := c.GetQuery("has_fault"); ok {
		v, err := web.BoolQuery(c, "has_fault")
		if err != nil {
			return f, err
		}
		f.HasFault = &v
	}
	var err error
	f.ExcludeEVSEsModified, err = web.BoolQuery(c, "exclude_evses_modified")
	return f, err
}

// get answers one station, from the answer cache when it has it (see AnswerCache).
func (h *Handler) get(c *gin.Context) error {
	id := c.Param("charge_station_id")
	visible := web.CurrentPrincipal(c).Networks
	answers := h.svc.Answers()
	if a, ok := answers.Lookup(id); ok {
		if !slices.Contains(visible, a.NetworkID) {
			return ErrNotFound
		}
		web.SetETag(c, a.ETag)
		web.RespondEncoded(c, http.StatusOK, a.Body)
		return nil
	}
	epoch := answers.Epoch(id)
	cs, err := h.svc.Get(c.Request.Context(), visible, id)
	if err != nil {
		return err
	}
	a, err := render(cs)
	if err != nil {
		return err
	}
	answers.Keep(id, epoch, a)
	web.SetETag(c, a.ETag)
	web.RespondEncoded(c, http.StatusOK, a.Body)
	return nil
}

// render is station cs's answer, as the answer cache keeps it.
func render(cs ChargeStation) (CachedAnswer, error) {
	resp := toResponse(cs)
	body, err := web.Encode(resp)
	if err != nil {
		return CachedAnswer{}, err
	}
	a := CachedAnswer{NetworkID: cs.NetworkID, ETag: resp.ETag, Body: body, RowVersion: cs.RowVersion}
	if cs.Gateway.ProtocolVersion != nil {
		a.Protocol = *cs.Gateway.ProtocolVersion
	}
	return a, nil
}

// create registers a station; its id is the body's charge_station_id.
func (h *Handler) create(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	d, body, bindErr := bindDraft(raw, "", h.svc.storePassword)
	// Even a body that failed to bind goes to the service, which adds an unknown location_id
	// to its field errors: one 422 names every bad field.
	cs, _, err := h.svc.save(c.Request.Context(), web.CurrentPrincipal(c).Networks, body.ChargeStationID, true,
		func(*ChargeStation) (Draft, error) { return d, bindErr })
	if err != nil {
		return err
	}
	return respond(c, http.StatusCreated, cs)
}

// withPathID returns raw with charge_station_id set to id when the body has none, so that the
// id of a PUT's path is validated like a body's.
func withPathID(raw []byte, id string) ([]byte, error) {
	return web.MergeJSON(map[string]any{"charge_station_id": id}, raw)
}

// put creates the station (201) or replaces it (200, etag required).
func (h *Handler) put(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	id := c.Param("charge_station_id")
	if raw, err = withPathID(raw, id); err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	d, body, bindErr := bindDraft(raw, id, h.svc.storePassword)
	cs, created, err := h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *ChargeStation) (Draft, error) {
		if bindErr != nil {
			return d, bindErr
		}
		if cur != nil {
			if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), true); err != nil {
				return Draft{}, err
			}
		}
		return d, nil
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return respond(c, status, cs)
}

// patch changes only the fields the body names, under the station's row lock; the etag is
// optional. A patch with charge_station_template_id rebuilds the EVSEs from the template.
func (h *Handler) patch(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		keys = nil // MergeJSON reports malformed bodies
	}
	id := c.Param("charge_station_id")
	hash, err := h.preHash(id, keys)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	cs, _, err := h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *ChargeStation) (Draft, error) {
		if cur == nil {
			return Draft{}, ErrNotFound
		}
		current, err := currentState(*cur, keys)
		if err != nil {
			return Draft{}, err
		}
		merged, err := web.MergeJSON(current, raw)
		if err != nil {
			return Draft{}, err
		}
		d, body, err := bindDraft(merged, id, hash)
		if err != nil {
			return d, err
		}
		if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), false); err != nil {
			return Draft{}, err
		}
		return d, nil
	})
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, cs)
}

// currentState is the station as a PUT body would carry it, the base a PATCH is merged onto.
// Its etag is dropped (the patch's own, if any, is what gets checked), and so are its EVSEs
// when the patch asks for a template instead.
func currentState(cur ChargeStation, patchKeys map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(toResponse(cur))
	if err != nil {
		return nil, fmt.Errorf("encode current state: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode current state: %w", err)
	}
	delete(m, "etag")
	if _, tpl := patchKeys["charge_station_template_id"]; tpl {
		if _, evses := patchKeys["evses"]; !evses {
			delete(m, "evses")
		}
	}
	return m, nil
}

// preHash hashes a PATCH's ocpp_password before the row lock is taken (bcrypt is slow on
// purpose) and returns a hasher that hands out that stored form.
func (h *Handler) preHash(id string, keys map[string]json.RawMessage) (hasher, error) {
	var plain string
	if v, ok := keys["ocpp_password"]; !ok || json.Unmarshal(v, &plain) != nil || !validPassword(plain) {
		return h.svc.storePassword, nil
	}
	stored, err := h.svc.storePassword(id, plain)
	if err != nil {
		return nil, fmt.Errorf("hash ocpp_password: %w", err)
	}
	return func(identity, p string) (secret.Stored, error) {
		if p == plain && identity == id {
			return stored, nil
		}
		return h.svc.storePassword(identity, p)
	}, nil
}

func (h *Handler) delete(c *gin.Context) error {
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id")); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
