package tariffs

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves /tariffs.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the tariff endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/tariffs", web.Handle(h.list))
	rg.POST("/tariffs", web.Handle(h.create))
	rg.GET("/tariffs/:id", web.Handle(h.get))
	rg.PUT("/tariffs/:id", web.Handle(h.put))
	rg.PATCH("/tariffs/:id", web.Handle(h.patch))
	rg.DELETE("/tariffs/:id", web.Handle(h.delete))
}

// maxID is the longest tariff id: OCPI's CiString(36).
const maxID = 36

// tariffBody is a tariff as clients write it (POST, PUT, and PATCH after merging). The
// read-only fields of a GET are accepted and ignored so that a GET body can be PUT back.
type tariffBody struct {
	ID            string                 `json:"id" validate:"omitempty,path_id=36"`
	NetworkID     *uuid.UUID             `json:"network_id"`
	Currency      string                 `json:"currency" validate:"required,currency"`
	Type          *schema.TariffType     `json:"type" validate:"omitempty,ocpi_tariff_type"`
	AltText       []schema.DisplayText   `json:"tariff_alt_text" validate:"omitempty,max=100,dive"`
	AltURL        *string                `json:"tariff_alt_url" validate:"omitempty,url,max=2048"`
	MinPrice      *schema.Price          `json:"min_price" validate:"omitempty"`
	MaxPrice      *schema.Price          `json:"max_price" validate:"omitempty"`
	Elements      []schema.TariffElement `json:"elements" validate:"required,min=1,max=100,dive"`
	StartDateTime *string                `json:"start_date_time" validate:"omitempty,ocpi_datetime"`
	EndDateTime   *string                `json:"end_date_time" validate:"omitempty,ocpi_datetime"`
	EnergyMix     *schema.EnergyMix      `json:"energy_mix" validate:"omitempty"`
	ETag          string                 `json:"etag"`
	Created       web.Ignored            `json:"created"`
	LastUpdated   web.Ignored            `json:"last_updated"`
}

// tariffResponse is a tariff as every response shows it.
type tariffResponse struct {
	ID            string                 `json:"id"`
	NetworkID     uuid.UUID              `json:"network_id"`
	Currency      string                 `json:"currency"`
	Type          *schema.TariffType     `json:"type"`
	AltText       []schema.DisplayText   `json:"tariff_alt_text"`
	AltURL        *string                `json:"tariff_alt_url"`
	MinPrice      *schema.Price          `json:"min_price"`
	MaxPrice      *schema.Price          `json:"max_price"`
	Elements      []schema.TariffElement `json:"elements"`
	StartDateTime *string                `json:"start_date_time"`
	EndDateTime   *string                `json:"end_date_time"`
	EnergyMix     *schema.EnergyMix      `json:"energy_mix"`
	ETag          string                 `json:"etag"`
	Created       string                 `json:"created"`
	LastUpdated   string                 `json:"last_updated"`
}

func toResponse(t Tariff) tariffResponse {
	alt := t.AltText
	if alt == nil {
		alt = []schema.DisplayText{}
	}
	r := tariffResponse{
		ID: t.ID, NetworkID: t.NetworkID, Currency: t.Currency, Type: t.Type, AltText: alt, AltURL: t.AltURL,
		MinPrice: t.MinPrice, MaxPrice: t.MaxPrice, Elements: t.Elements, EnergyMix: t.EnergyMix,
		ETag: t.ETag.String(), Created: web.FormatTime(t.Created), LastUpdated: web.FormatTime(t.LastUpdated),
	}
	if t.StartDateTime != nil {
		s := web.FormatTime(*t.StartDateTime)
		r.StartDateTime = &s
	}
	if t.EndDateTime != nil {
		s := web.FormatTime(*t.EndDateTime)
		r.EndDateTime = &s
	}
	return r
}

// rules checks what the tags cannot, on a body that decoded completely, and fills t. Every
// problem is named with its JSON path.
func (b tariffBody) rules(t *Tariff) apperr.FieldErrors {
	var problems apperr.FieldErrors
	if b.AltURL != nil && strings.IndexFunc(*b.AltURL, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		// An OCPI URL is a URI: ASCII without spaces (other characters percent-encoded).
		problems.Add("tariff_alt_url", "must be an absolute URL of ASCII characters without spaces (percent-encode the others)")
	}
	if b.MinPrice != nil && b.MaxPrice != nil {
		for _, p := range []struct {
			name     string
			min, max *float64
		}{{"excl_vat", b.MinPrice.ExclVAT, b.MaxPrice.ExclVAT}, {"incl_vat", b.MinPrice.InclVAT, b.MaxPrice.InclVAT}} {
			if p.min != nil && p.max != nil && *p.max < *p.min {
				problems.Add("max_price."+p.name, "must be at least min_price."+p.name)
			}
		}
	}
	for i, e := range b.Elements {
		for _, p := range schema.TariffElementProblems(e) {
			problems.Add(fmt.Sprintf("elements[%d].%s", i, p.Field), p.Message)
		}
	}
	if b.EnergyMix != nil {
		for _, p := range schema.EnergyMixProblems(*b.EnergyMix) {
			problems.Add("energy_mix."+p.Field, p.Message)
		}
	}
	*t = Tariff{ID: b.ID, Currency: b.Currency, Type: b.Type, AltText: b.AltText, AltURL: b.AltURL,
		MinPrice: b.MinPrice, MaxPrice: b.MaxPrice, Elements: b.Elements, EnergyMix: b.EnergyMix}
	// The tags checked the formats; what does not parse is already reported.
	for _, d := range []struct {
		in  *string
		out **time.Time
	}{{b.StartDateTime, &t.StartDateTime}, {b.EndDateTime, &t.EndDateTime}} {
		if d.in == nil {
			continue
		}
		if v, err := schema.ParseDateTime(*d.in); err == nil {
			v = v.Truncate(time.Microsecond) // what timestamptz keeps
			*d.out = &v
		}
	}
	if t.StartDateTime != nil && t.EndDateTime != nil && !t.EndDateTime.After(*t.StartDateTime) {
		problems.Add("end_date_time", "must be after start_date_time")
	}
	return problems
}

// bind reads and checks a tariff body, tags and rules together (one 422 names every bad
// field), and resolves the network it goes in: the body's network_id when the caller sees
// it, else fallback. cur is the tariff being replaced (nil for a new one): its network cannot
// change.
func bind(raw []byte, p auth.Principal, fallback uuid.UUID, cur *Tariff) (tariffBody, Tariff, error) {
	var body tariffBody
	var t Tariff
	err := web.BindWithRules(raw, &body, func() apperr.FieldErrors {
		problems := body.rules(&t)
		t.NetworkID = fallback
		switch n := body.NetworkID; {
		case n == nil:
		case cur != nil && *n != cur.NetworkID:
			problems.Add("network_id", "cannot be changed: a tariff stays in the network it was created in (its OCPI party)")
		case !p.Sees(*n):
			problems.Add("network_id", "no such network")
		default:
			t.NetworkID = *n
		}
		return problems
	})
	return body, t, err
}

func respond(c *gin.Context, status int, t Tariff) error {
	resp := toResponse(t)
	web.SetETag(c, resp.ETag)
	web.Respond(c, status, resp)
	return nil
}

func (h *Handler) list(c *gin.Context) error {
	p, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	ts, meta, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, p)
	if err != nil {
		return err
	}
	out := make([]tariffResponse, len(ts))
	for i, t := range ts {
		out[i] = toResponse(t)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	t, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("id"))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, t)
}

// create makes a tariff with a generated id (a UUID) or the body's id.
func (h *Handler) create(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	body, t, err := bind(raw, p, p.NetworkID, nil)
	if err != nil {
		return err
	}
	id := body.ID
	if id == "" {
		id = uuid.NewString()
	}
	t, _, err = h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *Tariff) (Tariff, error) {
		if cur != nil {
			return Tariff{}, ErrIDTaken
		}
		return t, nil
	})
	if err != nil {
		return err
	}
	return respond(c, http.StatusCreated, t)
}

// put creates the tariff (201) or replaces it (200, etag required).
func (h *Handler) put(c *gin.Context) error {
	id := c.Param("id")
	if !schema.ValidPathID(id, maxID) {
		// The id in the path becomes the tariff's: one its URL could not carry, or longer
		// than OCPI allows, is refused.
		return apperr.FieldErrors{{Field: "id", Message: schema.TagMessage(schema.TagPathID, "36")}}
	}
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	t, created, err := h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *Tariff) (Tariff, error) {
		fallback := p.NetworkID
		if cur != nil {
			fallback = cur.NetworkID
		}
		body, t, err := bind(raw, p, fallback, cur)
		if err != nil {
			return Tariff{}, err
		}
		if body.ID != "" && body.ID != id {
			return Tariff{}, apperr.FieldErrors{{Field: "id", Message: "must match the id in the path"}}
		}
		if cur != nil {
			if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), true); err != nil {
				return Tariff{}, err
			}
		}
		return t, nil
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return respond(c, status, t)
}

// patch changes only the fields the body names (a list replaces the whole list, null clears);
// the etag is optional.
func (h *Handler) patch(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	id := c.Param("id")
	t, _, err := h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *Tariff) (Tariff, error) {
		if cur == nil {
			return Tariff{}, ErrNotFound
		}
		current := toResponse(*cur)
		current.ETag = "" // the patch's own etag (if any) is what gets checked
		merged, err := web.MergeJSON(current, raw)
		if err != nil {
			return Tariff{}, err
		}
		body, t, err := bind(merged, p, cur.NetworkID, cur)
		if err != nil {
			return Tariff{}, err
		}
		if body.ID != cur.ID {
			return Tariff{}, apperr.FieldErrors{{Field: "id", Message: "cannot be changed"}}
		}
		if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), false); err != nil {
			return Tariff{}, err
		}
		return t, nil
	})
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, t)
}

func (h *Handler) delete(c *gin.Context) error {
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("id")); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
