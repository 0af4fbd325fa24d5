package ocpi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// AdminRoutes registers the partner administration on v1 (authenticated /api/v1): admin API
// keys only. A partner belongs to the network of the key that creates it; a key sees, and may
// delete, the partners of its network and of the networks below it (others are a 404).
func (h *Handler) AdminRoutes(v1 *gin.RouterGroup) {
	g := v1.Group("/ocpi/partners", web.RequireAdmin)
	g.GET("", web.Handle(h.listPartners))
	g.POST("", web.Handle(h.createPartner))
	g.GET("/:id", web.Handle(h.getPartner))
	g.DELETE("/:id", web.Handle(h.deletePartner))
	g.POST("/:id/tokens/sync", web.Handle(h.syncPartnerTokens))
	g.POST("/:id/cdrs/:cdr_id/correct", web.Handle(h.correctCDR))
}

// partnerBody creates a partner: name alone invites a partner to register with us (the answer
// carries the TOKEN_A and our versions URL to hand over); name, versions_url and token_a (the
// partner's own) make evroam register with the partner.
type partnerBody struct {
	Name        string  `json:"name" validate:"required,max=100"`
	VersionsURL *string `json:"versions_url" validate:"omitempty,max=255,url"`
	TokenA      *string `json:"token_a" validate:"omitempty,max=64,printascii,excludes= "`
}

type roleResponse struct {
	Role        string `json:"role"`
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	Name        string `json:"name"`
}

// partnerResponse is a partner as the admin API shows it. token_a and versions_url are the
// inputs of the handshake: for an invited partner our TOKEN_A (only in the answer to its
// creation) and our versions URL; for a partner we registered with, its versions URL.
type partnerResponse struct {
	ID                 uuid.UUID      `json:"id"`
	NetworkID          uuid.UUID      `json:"network_id"`
	Name               string         `json:"name"`
	Initiator          Initiator      `json:"initiator"`
	State              State          `json:"state"`
	TokenA             string         `json:"token_a,omitempty"`
	VersionsURL        string         `json:"versions_url"`
	OurVersionsURL     string         `json:"our_versions_url"`
	PartnerVersionsURL *string        `json:"partner_versions_url"`
	Version            *string        `json:"version"`
	Roles              []roleResponse `json:"roles"`
	Endpoints          []Endpoint     `json:"endpoints"`
	LocationsReceiver  *string        `json:"locations_receiver"`
	// ModulesUsed are the partner's modules evroam uses (partnerModules) that it offers.
	ModulesUsed      []moduleUse `json:"modules_used"`
	TariffsReceiver  *string     `json:"tariffs_receiver"`
	TokensSender     *string     `json:"tokens_sender"`
	SessionsReceiver *string     `json:"sessions_receiver"`
	CDRsReceiver     *string     `json:"cdrs_receiver"`
	LastError        *string     `json:"last_error"`
	Created          string      `json:"created"`
	LastUpdated      string      `json:"last_updated"`
}

// moduleUse is one of the partner's modules that evroam uses.
type moduleUse struct {
	Identifier string `json:"identifier"`
	Role       string `json:"role"`
	URL        string `json:"url"`
	Use        string `json:"use"`
}

// modulesUsed returns the partner's endpoints that evroam uses, in partnerModules order.
func modulesUsed(endpoints []Endpoint) []moduleUse {
	out := []moduleUse{}
	for _, m := range partnerModules {
		for _, e := range endpoints {
			if e.Identifier == m.identifier && (m.role == "" || e.Role == m.role) {
				out = append(out, moduleUse{Identifier: e.Identifier, Role: e.Role, URL: e.URL, Use: m.use})
				break
			}
		}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *Handler) toPartnerResponse(r *http.Request, p Partner) partnerResponse {
	out := partnerResponse{
		ID: p.ID, NetworkID: p.NetworkID, Name: p.Name, Initiator: p.Initiator, State: p.State,
		OurVersionsURL: h.versionsURL(r), PartnerVersionsURL: optional(p.PartnerVersionsURL),
		Version: optional(p.Version), Roles: []roleResponse{}, Endpoints: p.Endpoints, ModulesUsed: modulesUsed(p.Endpoints),
		LocationsReceiver: optional(p.LocationsURL), TariffsReceiver: optional(p.TariffsURL),
		TokensSender: optional(p.TokensURL), SessionsReceiver: optional(p.SessionsURL), CDRsReceiver: optional(p.CDRsURL), LastError: optional(p.LastError),
		Created: web.FormatTime(p.Created), LastUpdated: web.FormatTime(p.LastUpdated),
	}
	out.VersionsURL = out.OurVersionsURL
	if p.Initiator == InitiatorEvroam {
		out.VersionsURL = p.PartnerVersionsURL
	}
	if out.Endpoints == nil {
		out.Endpoints = []Endpoint{}
	}
	for _, role := range p.Roles {
		out.Roles = append(out.Roles, roleResponse{Role: role.Role, CountryCode: role.CountryCode, PartyID: role.PartyID, Name: role.BusinessDetails.Name})
	}
	return out
}

func (h *Handler) createPartner(c *gin.Context) error {
	var body partnerBody
	if err := web.Bind(c, &body); err != nil {
		return err
	}
	ctx := c.Request.Context()
	network := web.CurrentPrincipal(c).NetworkID
	switch {
	case body.VersionsURL == nil && body.TokenA == nil:
		p, tokenA, err := h.store.CreateInvited(ctx, network, body.Name)
		if err != nil {
			return err
		}
		resp := h.toPartnerResponse(c.Request, p)
		resp.TokenA = tokenA
		web.Respond(c, http.StatusCreated, resp)
		return nil
	case body.VersionsURL == nil || body.TokenA == nil:
		return apperr.FieldErrors{{Field: "versions_url", Message: "versions_url and token_a go together: give both to register with a partner, neither to invite one"}}
	}
	p, err := h.registerWith(ctx, c.Request, network, body.Name, *body.VersionsURL, *body.TokenA)
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusCreated, h.toPartnerResponse(c.Request, p))
	return nil
}

// registerWith is the client side of the handshake: with the partner's TOKEN_A we read its
// endpoints, POST our credentials (carrying a new TOKEN_B for it to call us with) and keep the
// TOKEN_C it answers. A failure leaves the partner in state FAILED with the reason and is a
// 502 carrying the OCPI code of the problem (3001, 3002 or 3003).
func (h *Handler) registerWith(ctx context.Context, r *http.Request, network uuid.UUID, name, versionsURL, tokenA string) (Partner, error) {
	p, tokenB, err := h.store.CreateInviting(ctx, network, name, versionsURL)
	if err != nil {
		return Partner{}, err
	}
	fail := func(code int, reason string) (Partner, error) {
		if err := h.store.setFailed(context.WithoutCancel(ctx), p.ID, reason); err != nil {
			slog.ErrorContext(ctx, "record failed OCPI registration", "partner", p.ID, "err", err)
		}
		return Partner{}, apperr.WithCode(fmt.Errorf("registration with the partner failed (partner %s is kept in state FAILED): %s: %w", p.ID, reason, apperr.BadGateway), code)
	}
	details, err := h.discover(ctx, versionsURL, tokenA)
	if err != nil {
		var oe *Error
		errors.As(err, &oe)
		return fail(oe.Code, oe.Message)
	}
	ours, err := h.ourCredentials(ctx, r, network, tokenB)
	if err != nil {
		return Partner{}, err
	}
	var theirs Credentials
	credsURL := endpointURL(details.Endpoints, "credentials", "")
	if err := h.client.do(ctx, http.MethodPost, credsURL, tokenA, ours, &theirs); err != nil {
		return fail(CodeUnableToUseAPI, "POST credentials: "+err.Error())
	}
	if err := web.Validate(&theirs); err != nil {
		return fail(CodeUnableToUseAPI, "the partner answered invalid credentials: "+err.Error())
	}
	if theirs.URL != versionsURL {
		// The partner moved its versions endpoint: read its endpoints again, with TOKEN_C.
		if details, err = h.discover(ctx, theirs.URL, theirs.Token); err != nil {
			var oe *Error
			errors.As(err, &oe)
			return fail(oe.Code, oe.Message)
		}
	}
	reg := registration{
		InboundToken: tokenB, OutboundToken: theirs.Token, PartnerVersionsURL: theirs.URL, Version: Version,
		Endpoints: details.Endpoints, Roles: theirs.Roles,
		Announced: parties(ours.Roles), OurVersionsURL: ours.URL,
	}
	if err := h.store.setRegistered(ctx, p.ID, StatePending, "inbound_token_hash", hashToken(tokenB), reg); err != nil {
		if errors.Is(err, errStateChanged) {
			return Partner{}, fmt.Errorf("partner %s changed during its registration: %w", p.ID, apperr.Conflict)
		}
		return Partner{}, err
	}
	return h.store.get(ctx, p.ID)
}

func (h *Handler) listPartners(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	ps, meta, err := h.store.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, page)
	if err != nil {
		return err
	}
	out := make([]partnerResponse, len(ps))
	for i, p := range ps {
		out[i] = h.toPartnerResponse(c.Request, p)
	}
	web.RespondList(c, page, meta, out)
	return nil
}

func partnerID(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, ErrPartnerNotFound
	}
	return id, nil
}

func (h *Handler) getPartner(c *gin.Context) error {
	id, err := partnerID(c)
	if err != nil {
		return err
	}
	p, err := h.store.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, id)
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, h.toPartnerResponse(c.Request, p))
	return nil
}

// deletePartner ends the connection: a registered partner is told with DELETE on its
// credentials endpoint (best effort: it may be gone already), then the partner, its tokens
// and its queued pushes are removed.
func (h *Handler) deletePartner(c *gin.Context) error {
	id, err := partnerID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	visible := web.CurrentPrincipal(c).Networks
	p, err := h.store.Get(ctx, visible, id)
	if err != nil {
		return err
	}
	if p.State == StateRegistered && p.OutboundToken != "" {
		if u := endpointURL(p.Endpoints, "credentials", ""); u != "" {
			if err := h.client.do(ctx, http.MethodDelete, u, p.OutboundToken, nil, nil); err != nil {
				slog.WarnContext(ctx, "OCPI partner did not accept our unregistration", "partner", p.ID, "err", err)
			}
		}
	}
	if err := h.store.Delete(ctx, visible, id); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
