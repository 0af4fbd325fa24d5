package locations

import (
	"context"
	"net/http"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// EVSELister reads the EVSEs of the charge stations at a location, for the real-time
// GET /locations/{id}; evse.Store implements it, and the EVSEs are rendered in evse's own
// response form.
type EVSELister interface {
	ByLocation(ctx context.Context, locationID string) ([]evse.EVSE, error)
}

// Handler serves /locations.
type Handler struct {
	svc   *Service
	evses EVSELister
}

// NewHandler returns a Handler.
func NewHandler(svc *Service, evses EVSELister) *Handler { return &Handler{svc: svc, evses: evses} }

// Routes registers the location endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/locations", web.Handle(h.list))
	rg.POST("/locations", web.Handle(h.create))
	rg.GET("/locations/:id", web.Handle(h.get))
	rg.PUT("/locations/:id", web.Handle(h.put))
	rg.PATCH("/locations/:id", web.Handle(h.patch))
	rg.DELETE("/locations/:id", web.Handle(h.delete))
}

// locationBody is the location as clients write it (POST, PUT, and PATCH after merging). The
// read-only fields of a GET are accepted and ignored so that a GET body can be PUT back.
type locationBody struct {
	ID                 string                  `json:"id" validate:"omitempty,path_id=36"`
	NetworkID          *uuid.UUID              `json:"network_id"`
	Name               string                  `json:"name" validate:"required,max=255"`
	Address            string                  `json:"address" validate:"required,max=45"`
	City               string                  `json:"city" validate:"required,max=45"`
	PostalCode         *string                 `json:"postal_code" validate:"omitempty,max=10"`
	State              *string                 `json:"state" validate:"omitempty,max=20"`
	Country            string                  `json:"country" validate:"required,country_alpha3"`
	Coordinates        *schema.GeoLocation     `json:"coordinates" validate:"required"`
	TimeZone           string                  `json:"time_zone" validate:"required,time_zone"`
	ParkingType        *schema.ParkingType     `json:"parking_type" validate:"omitempty,ocpi_parking_type"`
	Facilities         []schema.Facility       `json:"facilities" validate:"omitempty,max=100,dive,ocpi_facility"`
	OpeningTimes       *schema.Hours           `json:"opening_times"`
	Directions         []schema.DisplayText    `json:"directions" validate:"omitempty,max=100,dive"`
	Operator           *schema.BusinessDetails `json:"operator"`
	Suboperator        *schema.BusinessDetails `json:"suboperator"`
	Owner              *schema.BusinessDetails `json:"owner"`
	ChargingWhenClosed *bool                   `json:"charging_when_closed"`
	Publish            *bool                   `json:"publish"`
	ETag               string                  `json:"etag"`
	EVSEs              web.Ignored             `json:"evses"`
	Created            web.Ignored             `json:"created"`
	LastUpdated        web.Ignored             `json:"last_updated"`
}

// locationResponse is the location as a GET returns it.
type locationResponse struct {
	ID                 string                  `json:"id"`
	NetworkID          uuid.UUID               `json:"network_id"`
	Name               string                  `json:"name"`
	Address            string                  `json:"address"`
	City               string                  `json:"city"`
	PostalCode         *string                 `json:"postal_code"`
	State              *string                 `json:"state"`
	Country            string                  `json:"country"`
	Coordinates        schema.GeoLocation      `json:"coordinates"`
	TimeZone           string                  `json:"time_zone"`
	ParkingType        *schema.ParkingType     `json:"parking_type"`
	Facilities         []schema.Facility       `json:"facilities"`
	OpeningTimes       *schema.Hours           `json:"opening_times"`
	Directions         []schema.DisplayText    `json:"directions"`
	Operator           *schema.BusinessDetails `json:"operator"`
	Suboperator        *schema.BusinessDetails `json:"suboperator"`
	Owner              *schema.BusinessDetails `json:"owner"`
	ChargingWhenClosed *bool                   `json:"charging_when_closed"`
	Publish            bool                    `json:"publish"`
	EVSEs              *[]evse.Response        `json:"evses,omitempty"` // absent with exclude_evses=true
	ETag               string                  `json:"etag"`
	Created            string                  `json:"created"`
	LastUpdated        string                  `json:"last_updated"`
}

func toResponse(l Location) locationResponse {
	facilities := l.Facilities
	if facilities == nil {
		facilities = []schema.Facility{}
	}
	directions := l.Directions
	if directions == nil {
		directions = []schema.DisplayText{}
	}
	return locationResponse{
		ID: l.ID, NetworkID: l.NetworkID, Name: l.Name, Address: l.Address, City: l.City,
		PostalCode: l.PostalCode, State: l.State, Country: l.Country, Coordinates: l.Coordinates,
		TimeZone: l.TimeZone, ParkingType: l.ParkingType, Facilities: facilities,
		OpeningTimes: l.OpeningTimes, Directions: directions, Operator: l.Operator,
		Suboperator: l.Suboperator, Owner: l.Owner, ChargingWhenClosed: l.ChargingWhenClosed,
		Publish: l.Publish, ETag: l.ETag.String(),
		Created: web.FormatTime(l.Created), LastUpdated: web.FormatTime(l.LastUpdated),
	}
}

// toLocation turns a validated body into a Location owned by network. Optional fields that
// the body leaves out are cleared (PUT replaces); publish defaults to true.
func (b locationBody) toLocation(network uuid.UUID) Location {
	publish := true
	if b.Publish != nil {
		publish = *b.Publish
	}
	return Location{
		ID: b.ID, NetworkID: network, Name: b.Name, Address: b.Address, City: b.City,
		PostalCode: b.PostalCode, State: b.State, Country: b.Country, Coordinates: *b.Coordinates,
		TimeZone: b.TimeZone, ParkingType: b.ParkingType, Facilities: b.Facilities,
		OpeningTimes: b.OpeningTimes, Directions: b.Directions, Operator: b.Operator,
		Suboperator: b.Suboperator, Owner: b.Owner, ChargingWhenClosed: b.ChargingWhenClosed,
		Publish: publish,
	}
}

// network resolves the network a write puts the location in: the body's network_id when the
// caller can see it, else fallback.
func network(p auth.Principal, requested *uuid.UUID, fallback uuid.UUID) (uuid.UUID, error) {
	if requested == nil {
		return fallback, nil
	}
	if !p.Sees(*requested) {
		return uuid.Nil, apperr.FieldErrors{{Field: "network_id", Message: "no such network"}}
	}
	return *requested, nil
}

func (h *Handler) list(c *gin.Context) error {
	p, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	locs, meta, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, p)
	if err != nil {
		return err
	}
	out := make([]locationResponse, len(locs))
	for i, l := range locs {
		out[i] = toResponse(l)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

func (h *Handler) respond(c *gin.Context, status int, l Location) error {
	resp := toResponse(l)
	exclude, err := web.BoolQuery(c, "exclude_evses")
	if err != nil {
		return err
	}
	if !exclude {
		es, err := h.evses.ByLocation(c.Request.Context(), l.ID)
		if err != nil {
			return err
		}
		evses := evse.ToResponses(es)
		resp.EVSEs = &evses
	}
	web.SetETag(c, resp.ETag)
	web.Respond(c, status, resp)
	return nil
}

func (h *Handler) create(c *gin.Context) error {
	var body locationBody
	if err := web.Bind(c, &body); err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	net, err := network(p, body.NetworkID, p.NetworkID)
	if err != nil {
		return err
	}
	l := body.toLocation(net)
	if l.ID == "" {
		l.ID = uuid.NewString()
	}
	l, err = h.svc.Create(c.Request.Context(), l)
	if err != nil {
		return err
	}
	return h.respond(c, http.StatusCreated, l)
}

func (h *Handler) get(c *gin.Context) error {
	l, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("id"))
	if err != nil {
		return err
	}
	return h.respond(c, http.StatusOK, l)
}

// put replaces a location; the etag is required.
func (h *Handler) put(c *gin.Context) error {
	var body locationBody
	if err := web.Bind(c, &body); err != nil {
		return err
	}
	if body.ID != "" && body.ID != c.Param("id") {
		return apperr.FieldErrors{{Field: "id", Message: "must match the id in the path"}}
	}
	return h.update(c, func(cur Location) (locationBody, error) { return body, nil }, true)
}

// patch changes only the fields the body names; the etag is optional.
func (h *Handler) patch(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	return h.update(c, func(cur Location) (locationBody, error) {
		var body locationBody
		current := toResponse(cur)
		current.ETag = "" // the patch's own etag (if any) is what gets checked
		if err := web.MergePatch(current, raw, &body); err != nil {
			return body, err
		}
		if body.ID != cur.ID {
			return body, apperr.FieldErrors{{Field: "id", Message: "cannot be changed"}}
		}
		return body, nil
	}, false)
}

// update runs a PUT or PATCH: under the location's row lock it builds the new body from the
// current state, checks the etag against the current one and writes.
func (h *Handler) update(c *gin.Context, build func(cur Location) (locationBody, error), etagRequired bool) error {
	p := web.CurrentPrincipal(c)
	l, err := h.svc.Update(c.Request.Context(), p.Networks, c.Param("id"), func(cur Location) (Location, error) {
		body, err := build(cur)
		if err != nil {
			return Location{}, err
		}
		if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), etagRequired); err != nil {
			return Location{}, err
		}
		net, err := network(p, body.NetworkID, cur.NetworkID)
		if err != nil {
			return Location{}, err
		}
		return body.toLocation(net), nil
	})
	if err != nil {
		return err
	}
	return h.respond(c, http.StatusOK, l)
}

func (h *Handler) delete(c *gin.Context) error {
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("id")); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
