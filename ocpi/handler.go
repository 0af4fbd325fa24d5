package ocpi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Config is what the OCPI interface needs from the service's configuration.
type Config struct {
	// PublicURL is the base URL partners reach evroam at (EVROAM_PUBLIC_URL, e.g.
	// https://cpo.example.com). Empty: taken from each request (scheme, or
	// X-Forwarded-Proto, and Host).
	PublicURL string
	// Outbound bounds the calls to partners of a registration (timeouts, answer size, which
	// addresses may be called).
	Outbound Outbound
	// LocationsPageLimit is the largest page of Locations answered (X-Limit); 0 or more than
	// MaxLimit means MaxLimit.
	LocationsPageLimit int
	// Tokens keeps the tokens partners push (Tokens RECEIVER) and evroam pulls; nil: the
	// Tokens module answers 501 (route-table tests).
	Tokens *tokens.Service
}

// Handler serves the OCPI endpoints under /ocpi and the partner administration under
// /api/v1/ocpi/partners.
type Handler struct {
	store     *Store
	view      *View
	client    *client
	publicURL string
	maxLimit  int
	tokens    *tokens.Service
}

// NewHandler returns a Handler.
func NewHandler(store *Store, view *View, cfg Config) *Handler {
	limit := cfg.LocationsPageLimit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	return &Handler{store: store, view: view, client: cfg.Outbound.newClient(), publicURL: strings.TrimRight(cfg.PublicURL, "/"), maxLimit: limit, tokens: cfg.Tokens}
}

// Routes registers the OCPI endpoints on r: /ocpi/versions, /ocpi/2.2.1,
// /ocpi/2.2.1/credentials, the Locations sender /ocpi/2.2.1/locations/… and the Tariffs
// sender /ocpi/2.2.1/tariffs. (The Commands receiver is Commands.Routes: it needs the
// charge stations, which are wired later.)
func (h *Handler) Routes(r gin.IRouter) {
	g := r.Group("/ocpi", messageHeaders)
	conf := g.Group("", h.authenticate(true))
	conf.GET("/versions", handle(h.versions))
	conf.GET("/"+Version, handle(h.versionDetails))
	conf.GET("/"+Version+"/credentials", handle(h.getCredentials))
	conf.POST("/"+Version+"/credentials", handle(h.postCredentials))
	conf.PUT("/"+Version+"/credentials", handle(h.putCredentials))
	conf.DELETE("/"+Version+"/credentials", handle(h.deleteCredentials))
	conf.PATCH("/"+Version+"/credentials", handle(func(*gin.Context) error {
		return ocpiError(http.StatusMethodNotAllowed, CodeClientError, "the credentials module has no PATCH: use PUT")
	}))

	fn := g.Group("/"+Version, h.authenticate(false))
	fn.GET("/locations", handle(h.listLocations))
	fn.GET("/locations/:location_id", handle(h.getLocation))
	fn.GET("/locations/:location_id/:evse_uid", handle(h.getEVSE))
	fn.GET("/locations/:location_id/:evse_uid/:connector_id", handle(h.getConnector))
	// Tariffs SENDER: OCPI 2.2.1 defines only the list for it (no single-object GET).
	fn.GET("/tariffs", handle(h.listTariffs))
	// Tokens RECEIVER: the partner's own tokens, under the parties of its credentials.
	fn.GET("/tokens/:country_code/:party_id/:uid", handle(h.getToken))
	fn.PUT("/tokens/:country_code/:party_id/:uid", handle(h.putToken))
	fn.PATCH("/tokens/:country_code/:party_id/:uid", handle(h.patchToken))
	// Sessions and CDRs SENDER: the partner's roaming sessions and their CDRs, nobody else's.
	fn.GET("/sessions", handle(h.listSessions))
	fn.GET("/cdrs", handle(h.listCDRs))
}

// baseURL is evroam's public base URL: the configured one, else the request's.
func (h *Handler) baseURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	return web.BaseURL(r)
}

func (h *Handler) versionsURL(r *http.Request) string { return h.baseURL(r) + "/ocpi/versions" }

func (h *Handler) versions(c *gin.Context) error {
	respond(c, http.StatusOK, []VersionInfo{{Version: Version, URL: h.baseURL(c.Request) + "/ocpi/" + Version}})
	return nil
}

func (h *Handler) versionDetails(c *gin.Context) error {
	base := h.baseURL(c.Request) + "/ocpi/" + Version
	endpoints := make([]Endpoint, len(ourModules))
	for i, m := range ourModules {
		endpoints[i] = Endpoint{Identifier: m.identifier, Role: m.role, URL: base + "/" + m.identifier}
	}
	respond(c, http.StatusOK, VersionDetails{Version: Version, Endpoints: endpoints})
	return nil
}

// ourModules are the modules evroam offers partners under /ocpi/2.2.1/<identifier>, with the
// role it plays in each: the version details list them. A new module is one line here.
var ourModules = []struct{ identifier, role string }{
	{"credentials", RoleSender},
	{"locations", RoleSender},
	{"tariffs", RoleSender},
	{"tokens", RoleReceiver},
	{"sessions", RoleSender},
	{"cdrs", RoleSender},
	{"commands", RoleReceiver},
}

// partnerModules are the partner's modules evroam uses, with the role the partner plays in
// each and what for: the partner admin API shows those the partner offers (modules_used). A
// new module is one line here.
var partnerModules = []struct{ identifier, role, use string }{
	{"credentials", "", "registration and credentials updates"},
	{"locations", RoleReceiver, "pushes of Location and EVSE changes"},
	{"tariffs", RoleReceiver, "pushes of tariff changes"},
	{"tokens", RoleSender, "token pulls (after the registration and on demand)"},
	{"sessions", RoleReceiver, "pushes of the sessions of the partner's tokens"},
	{"cdrs", RoleReceiver, "CDRs of the completed sessions of the partner's tokens"},
	{"commands", RoleSender, "command results (POSTed to the response_url of each command it sends)"},
}

// ourCredentials is the Credentials object a partner of network uses to reach us with token:
// its roles are the parties of the partner's scope.
func (h *Handler) ourCredentials(ctx context.Context, r *http.Request, network uuid.UUID, token string) (Credentials, error) {
	roles, err := h.store.ourRoles(ctx, network)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Token: token, URL: h.versionsURL(r), Roles: roles}, nil
}

func (h *Handler) getCredentials(c *gin.Context) error {
	who := currentCaller(c)
	creds, err := h.ourCredentials(c.Request.Context(), c.Request, who.Partner.NetworkID, who.Token)
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, creds)
	return nil
}

// bindCredentials reads a Credentials body. A body that is not JSON is an HTTP 400; a JSON
// body with missing or invalid fields is answered HTTP 200 with status 2001, as OCPI wants
// for requests that reached the OCPI layer. Unknown fields are tolerated.
func bindCredentials(c *gin.Context) (Credentials, error) {
	var creds Credentials
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	if err != nil {
		return creds, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "cannot read the request body")
	}
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return creds, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "the body is not valid JSON: "+err.Error())
	}
	if _, ok := probe.(map[string]any); !ok {
		return creds, ocpiError(http.StatusOK, CodeInvalidParameters, "the body must be a Credentials object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&creds); err != nil {
		return creds, ocpiError(http.StatusOK, CodeInvalidParameters, "invalid Credentials object: "+err.Error())
	}
	if err := web.Validate(&creds); err != nil {
		var fe apperr.FieldErrors
		if errors.As(err, &fe) {
			parts := make([]string, len(fe))
			for i, f := range fe {
				parts[i] = f.Field + " " + f.Message
			}
			return creds, ocpiError(http.StatusOK, CodeInvalidParameters, "invalid Credentials object: "+strings.Join(parts, "; "))
		}
		return creds, err
	}
	return creds, nil
}

// discover reads a party's versions and 2.2.1 details with token, as registration needs:
// 3001 when its API cannot be used, 3002 when it has no 2.2.1, 3003 when it lacks the
// credentials module. The *Error has HTTP 200 (the answer to a credentials call).
func (h *Handler) discover(ctx context.Context, versionsURL, token string) (VersionDetails, error) {
	return discover(ctx, h.client, versionsURL, token)
}

// discover is Handler.discover with client c.
func discover(ctx context.Context, c *client, versionsURL, token string) (VersionDetails, error) {
	var versions []VersionInfo
	if err := c.do(ctx, http.MethodGet, versionsURL, token, nil, &versions); err != nil {
		return VersionDetails{}, ocpiError(http.StatusOK, CodeUnableToUseAPI, "unable to use your API: "+err.Error())
	}
	detailsURL := ""
	for _, v := range versions {
		if v.Version == Version {
			detailsURL = v.URL
		}
	}
	if detailsURL == "" {
		return VersionDetails{}, ocpiError(http.StatusOK, CodeUnsupportedVersion, fmt.Sprintf("no common OCPI version: evroam supports %s only", Version))
	}
	var details VersionDetails
	if err := c.do(ctx, http.MethodGet, detailsURL, token, nil, &details); err != nil {
		return VersionDetails{}, ocpiError(http.StatusOK, CodeUnableToUseAPI, "unable to use your API: "+err.Error())
	}
	if endpointURL(details.Endpoints, "credentials", "") == "" {
		return VersionDetails{}, ocpiError(http.StatusOK, CodeNoMatchingEndpoints, "your version details list no credentials endpoint")
	}
	return details, nil
}

// endpointURL returns the URL of module in endpoints, with role when role is not empty.
func endpointURL(endpoints []Endpoint, module, role string) string {
	for _, e := range endpoints {
		if e.Identifier == module && (role == "" || e.Role == role) {
			return e.URL
		}
	}
	return ""
}

var (
	errAlreadyRegistered = ocpiError(http.StatusMethodNotAllowed, CodeClientError, "already registered: use PUT to update the credentials")
	errNotRegistered     = ocpiError(http.StatusMethodNotAllowed, CodeClientError, "not registered: use POST with your TOKEN_A to register")
)

// postCredentials is a partner registering with the TOKEN_A we issued.
func (h *Handler) postCredentials(c *gin.Context) error {
	who := currentCaller(c)
	if !who.TokenA {
		return errAlreadyRegistered
	}
	return h.exchange(c, who, StatePending, "token_a_hash")
}

// putCredentials is a registered partner updating its credentials: its token, version or
// endpoints. We fetch its endpoints again and issue a new token.
func (h *Handler) putCredentials(c *gin.Context) error {
	who := currentCaller(c)
	if who.TokenA || who.Partner.State != StateRegistered {
		return errNotRegistered
	}
	return h.exchange(c, who, StateRegistered, "inbound_token_hash")
}

// exchange is the server side of POST and PUT credentials: store the partner's token, fetch
// its endpoints with it, issue a new token for it and answer our credentials.
func (h *Handler) exchange(c *gin.Context, who caller, from State, matchColumn string) error {
	creds, err := bindCredentials(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	details, err := h.discover(ctx, creds.URL, creds.Token)
	if err != nil {
		return err
	}
	out, err := h.ourCredentials(ctx, c.Request, who.Partner.NetworkID, newToken())
	if err != nil {
		return err
	}
	reg := registration{
		InboundToken: out.Token, OutboundToken: creds.Token, PartnerVersionsURL: creds.URL, Version: Version,
		Endpoints: details.Endpoints, Roles: creds.Roles,
		Announced: parties(out.Roles), OurVersionsURL: out.URL,
	}
	err = h.store.setRegistered(ctx, who.Partner.ID, from, matchColumn, hashToken(who.Token), reg)
	if errors.Is(err, errStateChanged) {
		if from == StatePending {
			return errAlreadyRegistered
		}
		return errNotRegistered
	}
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, out)
	return nil
}

// deleteCredentials is a partner unregistering: every token it has is forgotten and its
// pending pushes are dropped.
func (h *Handler) deleteCredentials(c *gin.Context) error {
	who := currentCaller(c)
	if who.TokenA || who.Partner.State != StateRegistered {
		return errNotRegistered
	}
	err := h.store.setUnregistered(c.Request.Context(), who.Partner.ID, hashToken(who.Token))
	if errors.Is(err, errStateChanged) {
		return errNotRegistered
	}
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, nil)
	return nil
}
