package evse

import (
	"net/http"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Body is an EVSE as clients write it, on its own endpoint and inside a charge station's
// evses. The read-only fields of a response are accepted and ignored, so that a GET body can
// be edited and sent back.
type Body struct {
	UID                 string                      `json:"uid" validate:"omitempty,max=36"`
	EVSEID              *string                     `json:"evse_id" validate:"omitempty,evse_id"`
	EVSESequenceNumber  *int                        `json:"evse_sequence_number" validate:"omitempty,gte=1"`
	Capabilities        []schema.Capability         `json:"capabilities" validate:"omitempty,max=100,dive,ocpi_capability"`
	Connectors          []ConnectorBody             `json:"connectors" validate:"required,min=1,max=16,dive"`
	FloorLevel          *string                     `json:"floor_level" validate:"omitempty,max=4"`
	Coordinates         *schema.GeoLocation         `json:"coordinates"`
	PhysicalReference   *string                     `json:"physical_reference" validate:"omitempty,max=16"`
	Directions          []schema.DisplayText        `json:"directions" validate:"omitempty,max=100,dive"`
	ParkingRestrictions []schema.ParkingRestriction `json:"parking_restrictions" validate:"omitempty,max=100,dive,ocpi_parking_restriction"`
	StatusSchedule      []schema.StatusSchedule     `json:"status_schedule" validate:"omitempty,max=100,dive"`
	ChargeStationID     web.Ignored                 `json:"charge_station_id"`
	Status              web.Ignored                 `json:"status"`
	OCPPStatus          web.Ignored                 `json:"ocpp_status"`
	FriendlyStatus      web.Ignored                 `json:"friendly_status"`
	LastUpdated         web.Ignored                 `json:"last_updated"`
}

// ConnectorBody is a connector as clients write it: standard and format, or internal, or all
// three agreeing.
type ConnectorBody struct {
	ID               string      `json:"id" validate:"required,max=36"`
	Standard         string      `json:"standard"`
	Format           string      `json:"format"`
	Internal         *string     `json:"internal"`
	PowerType        string      `json:"power_type" validate:"required"`
	MaxVoltage       *int        `json:"max_voltage" validate:"required,gt=0"`
	MaxAmperage      *int        `json:"max_amperage" validate:"required,gt=0"`
	MaxElectricPower *int        `json:"max_electric_power" validate:"omitempty,gt=0"`
	TariffIDs        []string    `json:"tariff_ids" validate:"omitempty,max=100,dive,required,max=36"`
	LastUpdated      web.Ignored `json:"last_updated"`
}

// Response is an EVSE as every response shows it.
type Response struct {
	UID                 string                      `json:"uid"`
	ChargeStationID     string                      `json:"charge_station_id"`
	EVSEID              *string                     `json:"evse_id"`
	EVSESequenceNumber  int                         `json:"evse_sequence_number"`
	Status              schema.Status               `json:"status"`
	OCPPStatus          *string                     `json:"ocpp_status"`
	FriendlyStatus      string                      `json:"friendly_status"`
	Capabilities        []schema.Capability         `json:"capabilities"`
	Connectors          []ConnectorResponse         `json:"connectors"`
	FloorLevel          *string                     `json:"floor_level"`
	Coordinates         *schema.GeoLocation         `json:"coordinates"`
	PhysicalReference   *string                     `json:"physical_reference"`
	Directions          []schema.DisplayText        `json:"directions"`
	ParkingRestrictions []schema.ParkingRestriction `json:"parking_restrictions"`
	StatusSchedule      []schema.StatusSchedule     `json:"status_schedule"`
	LastUpdated         string                      `json:"last_updated"`
}

// ConnectorResponse is a connector as responses show it: standard, format and internal always
// present (internal is null when the internal table has no name for the pair).
type ConnectorResponse struct {
	ID               string                    `json:"id"`
	Standard         schema.ConnectorStandard  `json:"standard"`
	Format           schema.ConnectorFormat    `json:"format"`
	Internal         *schema.InternalConnector `json:"internal"`
	PowerType        schema.PowerType          `json:"power_type"`
	MaxVoltage       int                       `json:"max_voltage"`
	MaxAmperage      int                       `json:"max_amperage"`
	MaxElectricPower *int                      `json:"max_electric_power"`
	TariffIDs        []string                  `json:"tariff_ids"`
	LastUpdated      string                    `json:"last_updated"`
}

// ToResponse converts an EVSE to its response form.
func ToResponse(e EVSE) Response {
	conns := make([]ConnectorResponse, len(e.Connectors))
	for i, c := range e.Connectors {
		cr := ConnectorResponse{ID: c.ID, Standard: c.Standard, Format: c.Format, PowerType: c.PowerType,
			MaxVoltage: c.MaxVoltage, MaxAmperage: c.MaxAmperage, MaxElectricPower: c.MaxElectricPower,
			TariffIDs: nonNil(c.TariffIDs), LastUpdated: web.FormatTime(c.LastUpdated)}
		if c.Internal != "" {
			in := c.Internal
			cr.Internal = &in
		}
		conns[i] = cr
	}
	status, friendly := e.LiveStatus()
	return Response{
		UID: e.UID, ChargeStationID: e.ChargeStationID, EVSEID: e.EVSEID, EVSESequenceNumber: e.SequenceNumber,
		Status: status, OCPPStatus: e.OCPPStatus, FriendlyStatus: friendly, Capabilities: nonNil(e.Capabilities), Connectors: conns,
		FloorLevel: e.FloorLevel, Coordinates: e.Coordinates, PhysicalReference: e.PhysicalReference,
		Directions: nonNil(e.Directions), ParkingRestrictions: nonNil(e.ParkingRestrictions),
		StatusSchedule: nonNil(e.StatusSchedule), LastUpdated: web.FormatTime(e.LastUpdated),
	}
}

// ToResponses converts a list of EVSEs.
func ToResponses(es []EVSE) []Response {
	out := make([]Response, len(es))
	for i, e := range es {
		out[i] = ToResponse(e)
	}
	return out
}

// ToEVSE applies the rules that validator tags cannot express to a body whose tags already
// passed (or whose tag failures are reported alongside): each connector's standard, format,
// internal and power_type checked together (schema.ResolveConnector), and connector ids unique
// within the EVSE. path is the body's JSON path ("evses[0]", or "" on the EVSE endpoint); every
// problem is named with its full path. uid and sequence number are copied as given (the
// station decides the missing ones).
func (b Body) ToEVSE(path string) (EVSE, apperr.FieldErrors) {
	var problems apperr.FieldErrors
	e := EVSE{
		UID: b.UID, EVSEID: b.EVSEID, Capabilities: b.Capabilities, FloorLevel: b.FloorLevel,
		Coordinates: b.Coordinates, PhysicalReference: b.PhysicalReference, Directions: b.Directions,
		ParkingRestrictions: b.ParkingRestrictions, StatusSchedule: b.StatusSchedule,
	}
	if b.EVSESequenceNumber != nil {
		e.SequenceNumber = *b.EVSESequenceNumber
	}
	in := make([]schema.ConnectorInput, len(b.Connectors))
	for i, c := range b.Connectors {
		in[i] = schema.ConnectorInput{ID: c.ID, Standard: c.Standard, Format: c.Format, PowerType: c.PowerType}
		if c.Internal != nil {
			in[i].Internal = *c.Internal
		}
	}
	types, bad := schema.ResolveConnectors("connectors", in)
	for _, p := range bad {
		problems.Add(apperr.JoinField(path, p.Field), p.Message)
	}
	for i, c := range b.Connectors {
		conn := Connector{ID: c.ID, Standard: types[i].Standard, Format: types[i].Format, Internal: types[i].Internal,
			PowerType: schema.PowerType(c.PowerType), MaxElectricPower: c.MaxElectricPower, TariffIDs: c.TariffIDs}
		if c.MaxVoltage != nil {
			conn.MaxVoltage = *c.MaxVoltage
		}
		if c.MaxAmperage != nil {
			conn.MaxAmperage = *c.MaxAmperage
		}
		e.Connectors = append(e.Connectors, conn)
	}
	if b.UID != "" && len(b.UID) <= MaxUIDLen && !ValidUID(b.UID) { // (a longer one fails its max tag)
		problems.Add(apperr.JoinField(path, "uid"), "must be printable ASCII without spaces, '/', '?' or '#'")
	}
	return e, problems
}

// ValidUID reports whether s can be an EVSE uid: it appears in URL paths, so printable ASCII
// without spaces, '/', '?' or '#'; and OCPI publishes it, so at most MaxUIDLen characters.
func ValidUID(s string) bool {
	if s == "" || len(s) > MaxUIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '/' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// Handler serves /chargestations/{charge_station_id}/evses/{uid}.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the EVSE endpoints on rg (already authenticated). The station parameter is
// named charge_station_id, as on every /chargestations route (gin needs one name per segment).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/chargestations/:charge_station_id/evses/:uid", web.Handle(h.get))
	rg.PUT("/chargestations/:charge_station_id/evses/:uid", web.Handle(h.put))
	rg.PATCH("/chargestations/:charge_station_id/evses/:uid", web.Handle(h.patch))
}

func respond(c *gin.Context, e EVSE, stationETag uuid.UUID) error {
	// The EVSE is part of its station: the ETag header is the station's.
	web.SetETag(c, stationETag.String())
	web.Respond(c, http.StatusOK, ToResponse(e))
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	e, etag, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), c.Param("uid"))
	if err != nil {
		return err
	}
	return respond(c, e, etag)
}

// bind reads an EVSE body (the whole of a PUT, or a PATCH merged onto the current EVSE) and
// checks it against the EVSE it replaces: tags and rules in one 422. With field errors it
// still returns the EVSE as far as it was read, so that the service adds unknown tariffs to
// the same 422.
func bind(raw []byte, cur EVSE) (EVSE, error) {
	var body Body
	var e EVSE
	err := web.BindWithRules(raw, &body, func() apperr.FieldErrors {
		var problems apperr.FieldErrors
		e, problems = body.ToEVSE("")
		if body.UID != "" && body.UID != cur.UID {
			problems.Add("uid", "must match the uid in the path")
		}
		if body.EVSESequenceNumber != nil && *body.EVSESequenceNumber != cur.SequenceNumber {
			problems.Add("evse_sequence_number", "cannot be changed here: replace the station's evses to renumber them")
		}
		return problems
	})
	return e, err
}

// put replaces the EVSE's writable fields. An If-Match with the station's etag is optional and
// checked when given.
func (h *Handler) put(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	return h.update(c, func(cur EVSE) (EVSE, error) { return bind(raw, cur) })
}

// patch changes only the fields the body names.
func (h *Handler) patch(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	return h.update(c, func(cur EVSE) (EVSE, error) {
		merged, err := web.MergeJSON(ToResponse(cur), raw)
		if err != nil {
			return EVSE{}, err
		}
		return bind(merged, cur)
	})
}

func (h *Handler) update(c *gin.Context, build func(cur EVSE) (EVSE, error)) error {
	e, etag, err := h.svc.Update(c.Request.Context(), web.CurrentPrincipal(c).Networks,
		c.Param("charge_station_id"), c.Param("uid"),
		func(cur EVSE, stationETag uuid.UUID) (EVSE, error) {
			next, err := build(cur)
			if err != nil {
				return next, err
			}
			if err := web.CheckETag(web.RequestETag(c, ""), stationETag.String(), false); err != nil {
				return EVSE{}, err
			}
			return next, nil
		})
	if err != nil {
		return err
	}
	return respond(c, e, etag)
}
