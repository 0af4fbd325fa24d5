package networks

import (
	"net/http"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves /networks.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the network endpoints on rg (already authenticated). Creating and
// changing networks needs an admin key, as managing networks is an account admin's task.
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/networks", web.Handle(h.list))
	rg.POST("/networks", web.RequireAdmin, web.Handle(h.create))
	rg.GET("/networks/:id", web.Handle(h.get))
	rg.PATCH("/networks/:id", web.RequireAdmin, web.Handle(h.patch))
}

type networkResponse struct {
	ID          uuid.UUID  `json:"id"`
	Name        string     `json:"name"`
	CountryCode string     `json:"country_code"`
	PartyID     string     `json:"party_id"`
	ParentID    *uuid.UUID `json:"parent_id"`
	// AcceptUnknownTokens: the network's stations accept id tokens it does not know.
	AcceptUnknownTokens bool   `json:"accept_unknown_tokens"`
	Created             string `json:"created"`
	LastUpdated         string `json:"last_updated"`
}

func toResponse(n Network) networkResponse {
	return networkResponse{ID: n.ID, Name: n.Name, CountryCode: n.CountryCode, PartyID: n.PartyID,
		ParentID: n.ParentID, AcceptUnknownTokens: n.AcceptUnknownTokens, Created: web.FormatTime(n.Created),
		LastUpdated: web.FormatTime(n.LastUpdated)}
}

// networkRequest is the body of POST and (merged) PATCH. parent_id is set on create only.
type networkRequest struct {
	ID          web.Ignored `json:"id"`
	Name        string      `json:"name" validate:"required,max=255"`
	CountryCode string      `json:"country_code" validate:"required,country_alpha2"`
	PartyID     string      `json:"party_id" validate:"required,party_id"`
	ParentID    *uuid.UUID  `json:"parent_id"`
	// AcceptUnknownTokens defaults to false (unknown tokens are refused).
	AcceptUnknownTokens *bool       `json:"accept_unknown_tokens"`
	Created             web.Ignored `json:"created"`
	LastUpdated         web.Ignored `json:"last_updated"`
}

func (h *Handler) list(c *gin.Context) error {
	p, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	nets, meta, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, p)
	if err != nil {
		return err
	}
	out := make([]networkResponse, len(nets))
	for i, n := range nets {
		out[i] = toResponse(n)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

func (h *Handler) create(c *gin.Context) error {
	var req networkRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	pr := web.CurrentPrincipal(c)
	parent := pr.NetworkID
	if req.ParentID != nil {
		if !pr.Sees(*req.ParentID) {
			return apperr.FieldErrors{{Field: "parent_id", Message: "no such network"}}
		}
		parent = *req.ParentID
	}
	n, err := h.svc.Create(c.Request.Context(), Network{Name: req.Name, CountryCode: req.CountryCode, PartyID: req.PartyID, ParentID: &parent,
		AcceptUnknownTokens: req.AcceptUnknownTokens != nil && *req.AcceptUnknownTokens})
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusCreated, toResponse(n))
	return nil
}

func parseID(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, ErrNotFound
	}
	return id, nil
}

func (h *Handler) get(c *gin.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	n, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, id)
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, toResponse(n))
	return nil
}

func (h *Handler) patch(c *gin.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	visible := web.CurrentPrincipal(c).Networks
	cur, err := h.svc.Get(c.Request.Context(), visible, id)
	if err != nil {
		return err
	}
	body, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	var req networkRequest
	if err := web.MergePatch(toResponse(cur), body, &req); err != nil {
		return err
	}
	if !sameParent(req.ParentID, cur.ParentID) {
		return apperr.FieldErrors{{Field: "parent_id", Message: "cannot be changed"}}
	}
	n, err := h.svc.Update(c.Request.Context(), visible, Network{ID: id, Name: req.Name, CountryCode: req.CountryCode, PartyID: req.PartyID,
		AcceptUnknownTokens: req.AcceptUnknownTokens != nil && *req.AcceptUnknownTokens})
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, toResponse(n))
	return nil
}

func sameParent(a, b *uuid.UUID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
