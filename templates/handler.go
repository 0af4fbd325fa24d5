package templates

import (
	"fmt"
	"net/http"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves /templates.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the template endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/templates", web.Handle(h.list))
	rg.POST("/templates", web.Handle(h.create))
	rg.GET("/templates/:template_id", web.Handle(h.get))
	rg.PUT("/templates/:template_id", web.Handle(h.put))
	rg.DELETE("/templates/:template_id", web.Handle(h.delete))
}

// templateBody is a template as clients write it.
type templateBody struct {
	TemplateID    string             `json:"template_id" validate:"omitempty,path_id=64"`
	Name          string             `json:"name" validate:"required,max=255"`
	NetworkID     *uuid.UUID         `json:"network_id"`
	EVSETemplates []evseTemplateBody `json:"evse_templates" validate:"required,min=1,max=100,dive"`
	ETag          string             `json:"etag"`
	Created       web.Ignored        `json:"created"`
	LastUpdated   web.Ignored        `json:"last_updated"`
}

type evseTemplateBody struct {
	EVSESequenceNumber int                     `json:"evse_sequence_number" validate:"required,gte=1"`
	Capabilities       []schema.Capability     `json:"capabilities" validate:"omitempty,max=100,dive,ocpi_capability"`
	ConnectorTemplates []connectorTemplateBody `json:"connector_templates" validate:"required,min=1,max=16,dive"`
}

// connectorTemplateBody carries standard+format or internal (or all three, agreeing).
type connectorTemplateBody struct {
	ID               string `json:"id" validate:"required,max=36"`
	Standard         string `json:"standard"`
	Format           string `json:"format"`
	Internal         string `json:"internal"`
	PowerType        string `json:"power_type" validate:"required"`
	MaxVoltage       *int   `json:"max_voltage" validate:"required,gt=0"`
	MaxAmperage      *int   `json:"max_amperage" validate:"required,gt=0"`
	MaxElectricPower *int   `json:"max_electric_power" validate:"omitempty,gt=0"`
}

type templateResponse struct {
	TemplateID    string         `json:"template_id"`
	Name          string         `json:"name"`
	NetworkID     uuid.UUID      `json:"network_id"`
	EVSETemplates []EVSETemplate `json:"evse_templates"`
	ETag          string         `json:"etag"`
	Created       string         `json:"created"`
	LastUpdated   string         `json:"last_updated"`
}

func toResponse(t Template) templateResponse {
	evses := t.EVSETemplates
	for i := range evses {
		if evses[i].Capabilities == nil {
			evses[i].Capabilities = []schema.Capability{}
		}
	}
	return templateResponse{TemplateID: t.ID, Name: t.Name, NetworkID: t.NetworkID, EVSETemplates: evses,
		ETag: t.ETag.String(), Created: web.FormatTime(t.Created), LastUpdated: web.FormatTime(t.LastUpdated)}
}

// toTemplate applies the rules the validator tags cannot express: connector types resolved
// and checked together, sequence numbers unique per template and connector ids unique per
// EVSE. Every problem is reported with its JSON path.
func (b templateBody) toTemplate(network uuid.UUID) (Template, apperr.FieldErrors) {
	var problems apperr.FieldErrors
	t := Template{ID: b.TemplateID, Name: b.Name, NetworkID: network}
	seqs := map[int]bool{}
	for i, e := range b.EVSETemplates {
		path := fmt.Sprintf("evse_templates[%d]", i)
		if seqs[e.EVSESequenceNumber] {
			problems.Add(path+".evse_sequence_number", "is used by another EVSE of this template")
		}
		seqs[e.EVSESequenceNumber] = true
		et := EVSETemplate{EVSESequenceNumber: e.EVSESequenceNumber, Capabilities: e.Capabilities}
		in := make([]schema.ConnectorInput, len(e.ConnectorTemplates))
		for j, c := range e.ConnectorTemplates {
			in[j] = schema.ConnectorInput{ID: c.ID, Standard: c.Standard, Format: c.Format, PowerType: c.PowerType, Internal: c.Internal}
		}
		types, bad := schema.ResolveConnectors("connector_templates", in)
		for _, p := range bad {
			problems.Add(path+"."+p.Field, p.Message)
		}
		for j, c := range e.ConnectorTemplates {
			ct := ConnectorTemplate{ID: c.ID, Standard: types[j].Standard, Format: types[j].Format, Internal: types[j].Internal,
				PowerType: schema.PowerType(c.PowerType), MaxElectricPower: c.MaxElectricPower}
			if c.MaxVoltage != nil {
				ct.MaxVoltage = *c.MaxVoltage
			}
			if c.MaxAmperage != nil {
				ct.MaxAmperage = *c.MaxAmperage
			}
			et.ConnectorTemplates = append(et.ConnectorTemplates, ct)
		}
		t.EVSETemplates = append(t.EVSETemplates, et)
	}
	return t, problems
}

// bind reads and checks a template body: tag validation and the cross-field rules together
// (web.BindWithRules), so one 422 names every bad field.
func bind(c *gin.Context, network func(*uuid.UUID) (uuid.UUID, error)) (templateBody, Template, error) {
	raw, err := web.ReadBody(c)
	if err != nil {
		return templateBody{}, Template{}, err
	}
	var body templateBody
	var t Template
	err = web.BindWithRules(raw, &body, func() apperr.FieldErrors {
		var problems apperr.FieldErrors
		net, nerr := network(body.NetworkID)
		if nerr != nil {
			problems.Add("network_id", "no such network")
		}
		var rules apperr.FieldErrors
		t, rules = body.toTemplate(net)
		return append(problems, rules...)
	})
	return body, t, err
}

func (h *Handler) network(p auth.Principal, fallback uuid.UUID) func(*uuid.UUID) (uuid.UUID, error) {
	return func(req *uuid.UUID) (uuid.UUID, error) {
		if req == nil {
			return fallback, nil
		}
		if !p.Sees(*req) {
			return uuid.Nil, apperr.NotFound
		}
		return *req, nil
	}
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
	out := make([]templateResponse, len(ts))
	for i, t := range ts {
		out[i] = toResponse(t)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	t, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("template_id"))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, t)
}

func respond(c *gin.Context, status int, t Template) error {
	resp := toResponse(t)
	web.SetETag(c, resp.ETag)
	web.Respond(c, status, resp)
	return nil
}

// create makes a template with a generated id (or the body's template_id).
func (h *Handler) create(c *gin.Context) error {
	p := web.CurrentPrincipal(c)
	body, t, err := bind(c, h.network(p, p.NetworkID))
	if err != nil {
		return err
	}
	id := body.TemplateID
	if id == "" {
		id = uuid.NewString()
	}
	t, _, err = h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *Template) (Template, error) {
		if cur != nil {
			return Template{}, ErrIDTaken
		}
		return t, nil
	})
	if err != nil {
		return err
	}
	return respond(c, http.StatusCreated, t)
}

// put creates the template (201) or replaces it (200, etag required).
func (h *Handler) put(c *gin.Context) error {
	p := web.CurrentPrincipal(c)
	id := c.Param("template_id")
	if !schema.ValidPathID(id, 64) {
		// The id in the path becomes the template's: one its URL could not carry is refused.
		return apperr.FieldErrors{{Field: "template_id", Message: schema.TagMessage(schema.TagPathID, "64")}}
	}
	var body templateBody
	var t Template
	t, created, err := h.svc.Put(c.Request.Context(), p.Networks, id, func(cur *Template) (Template, error) {
		fallback := p.NetworkID
		if cur != nil {
			fallback = cur.NetworkID
		}
		var err error
		if body, t, err = bind(c, h.network(p, fallback)); err != nil {
			return Template{}, err
		}
		if body.TemplateID != "" && body.TemplateID != id {
			return Template{}, apperr.FieldErrors{{Field: "template_id", Message: "must match the id in the path"}}
		}
		if cur != nil {
			if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), true); err != nil {
				return Template{}, err
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

func (h *Handler) delete(c *gin.Context) error {
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("template_id")); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
