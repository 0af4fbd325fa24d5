package tokens

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

// Handler serves /tokens.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the token endpoints on rg (already authenticated). A token is addressed
// by its uid; ?network_id= picks the network when the key sees several that have the uid.
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/tokens", web.Handle(h.list))
	rg.POST("/tokens", web.Handle(h.create))
	rg.POST("/tokens/bulk", web.Handle(h.bulk))
	rg.GET("/tokens/:uid", web.Handle(h.get))
	rg.PUT("/tokens/:uid", web.Handle(h.put))
	rg.PATCH("/tokens/:uid", web.Handle(h.patch))
	rg.DELETE("/tokens/:uid", web.Handle(h.delete))
}

// maxUID is OCPI's length of a Token uid (CiString(36)).
const maxUID = 36

// tokenBody is a token as clients write it (POST, PUT, a PATCH merged onto the current
// token, and each token of a bulk upsert). The read-only fields of a GET are accepted and
// ignored, so that a GET body can be PUT back.
type tokenBody struct {
	UID                string      `json:"uid"`
	Type               string      `json:"type" validate:"required,oneof=AD_HOC_USER APP_USER OTHER RFID"`
	ContractID         string      `json:"contract_id" validate:"required,max=36"`
	VisualNumber       *string     `json:"visual_number" validate:"omitempty,max=64"`
	Issuer             string      `json:"issuer" validate:"required,max=64"`
	GroupID            *string     `json:"group_id" validate:"omitempty,min=1,max=36"`
	Valid              *bool       `json:"valid" validate:"required"`
	Whitelist          string      `json:"whitelist" validate:"required,oneof=ALWAYS ALLOWED ALLOWED_OFFLINE NEVER"`
	Language           *string     `json:"language" validate:"omitempty,len=2,lowercase,alpha"`
	DefaultProfileType *string     `json:"default_profile_type" validate:"omitempty,oneof=CHEAP FAST GREEN REGULAR"`
	ExpiryDate         *string     `json:"expiry_date" validate:"omitempty,ocpi_datetime"`
	NetworkID          *uuid.UUID  `json:"network_id"`
	ETag               string      `json:"etag"`
	Created            web.Ignored `json:"created"`
	LastUpdated        web.Ignored `json:"last_updated"`
}

// tokenResponse is a token as every response shows it.
type tokenResponse struct {
	UID                string    `json:"uid"`
	Type               string    `json:"type"`
	ContractID         string    `json:"contract_id"`
	VisualNumber       *string   `json:"visual_number"`
	Issuer             string    `json:"issuer"`
	GroupID            *string   `json:"group_id"`
	Valid              bool      `json:"valid"`
	Whitelist          string    `json:"whitelist"`
	Language           *string   `json:"language"`
	DefaultProfileType *string   `json:"default_profile_type"`
	ExpiryDate         *string   `json:"expiry_date"`
	NetworkID          uuid.UUID `json:"network_id"`
	ETag               string    `json:"etag"`
	Created            string    `json:"created"`
	LastUpdated        string    `json:"last_updated"`
}

func toResponse(t Token) tokenResponse {
	r := tokenResponse{UID: t.UID, Type: t.Type, ContractID: t.ContractID, VisualNumber: t.VisualNumber,
		Issuer: t.Issuer, GroupID: t.GroupID, Valid: t.Valid, Whitelist: t.Whitelist, Language: t.Language,
		DefaultProfileType: t.DefaultProfileType, NetworkID: t.NetworkID, ETag: t.ETag.String(),
		Created: web.FormatTime(t.Created), LastUpdated: web.FormatTime(t.LastUpdated)}
	if t.ExpiryDate != nil {
		s := web.FormatTime(*t.ExpiryDate)
		r.ExpiryDate = &s
	}
	return r
}

// rules checks what the tags cannot: the uid (required, and one a URL path carries as it
// is), and the network (one the key sees). path prefixes every field name ("tokens[3]" in a
// bulk body); p is the caller and fallback the network of a token that names none.
func (b tokenBody) rules(path string, p auth.Principal, fallback uuid.UUID) (Token, apperr.FieldErrors) {
	var problems apperr.FieldErrors
	if !schema.ValidPathID(b.UID, maxUID) {
		problems.Add(apperr.JoinField(path, "uid"), fmt.Sprintf("is required: 1 to %d characters, letters, digits and - . _ ~ only", maxUID))
	}
	net := fallback
	if b.NetworkID != nil {
		if !p.Sees(*b.NetworkID) {
			problems.Add(apperr.JoinField(path, "network_id"), "no such network")
		}
		net = *b.NetworkID
	}
	t := Token{NetworkID: net, UID: b.UID, Type: b.Type, ContractID: b.ContractID, VisualNumber: b.VisualNumber,
		Issuer: b.Issuer, GroupID: b.GroupID, Whitelist: b.Whitelist, Language: b.Language,
		DefaultProfileType: b.DefaultProfileType}
	if b.Valid != nil {
		t.Valid = *b.Valid
	}
	if b.ExpiryDate != nil {
		if d, err := schema.ParseDateTime(*b.ExpiryDate); err == nil {
			d = d.UTC()
			t.ExpiryDate = &d
		}
	}
	return t, problems
}

// bind reads and checks one token body: tags and rules together, so one 422 names every bad
// field.
func bind(raw []byte, p auth.Principal, fallback uuid.UUID) (tokenBody, Token, error) {
	var body tokenBody
	var t Token
	err := web.BindWithRules(raw, &body, func() apperr.FieldErrors {
		var problems apperr.FieldErrors
		t, problems = body.rules("", p, fallback)
		return problems
	})
	return body, t, err
}

// networkQuery reads ?network_id=, which picks the network of the token a path names. A
// network the key cannot see is one with no tokens (404 follows).
func networkQuery(c *gin.Context) (*uuid.UUID, error) {
	v := c.Query("network_id")
	if v == "" {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, web.BadQuery("network_id", "must be a network id (UUID)")
	}
	return &id, nil
}

func respond(c *gin.Context, status int, t Token) error {
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
	var f Filter
	if f.NetworkID, err = networkQuery(c); err != nil {
		return err
	}
	if v := c.Query("type"); v != "" {
		switch v {
		case TypeRFID, TypeAppUser, TypeAdHocUser, TypeOther:
		default:
			return web.BadQuery("type", "must be RFID, APP_USER, AD_HOC_USER or OTHER")
		}
		f.Type = &v
	}
	ts, meta, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, f, p)
	if err != nil {
		return err
	}
	out := make([]tokenResponse, len(ts))
	for i, t := range ts {
		out[i] = toResponse(t)
	}
	web.RespondList(c, p, meta, out)
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	net, err := networkQuery(c)
	if err != nil {
		return err
	}
	t, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("uid"), net)
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, t)
}

// create makes a token in the body's network_id, else the key's own network; a uid the
// network already has is a 409.
func (h *Handler) create(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	body, t, err := bind(raw, p, p.NetworkID)
	if err != nil {
		return err
	}
	net := t.NetworkID
	t, _, err = h.svc.Put(c.Request.Context(), []uuid.UUID{net}, body.UID, &net, func(cur *Token) (Token, error) {
		if cur != nil {
			return Token{}, ErrUIDTaken
		}
		return t, nil
	})
	if err != nil {
		return err
	}
	return respond(c, http.StatusCreated, t)
}

// withPathUID returns raw with uid set to the path's when the body has none.
func withPathUID(raw []byte, uid string) ([]byte, error) {
	return web.MergeJSON(map[string]any{"uid": uid}, raw)
}

// checkUID refuses a body whose uid names another token than the path.
func checkUID(body tokenBody, pathUID string) error {
	if MatchUID(body.Type, body.UID) != MatchUID(body.Type, pathUID) {
		return apperr.FieldErrors{{Field: "uid", Message: "must match the uid in the path"}}
	}
	return nil
}

// put creates the token (201, in ?network_id= or the body's network_id, else the key's own
// network) or replaces it (200, etag required).
func (h *Handler) put(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	uid := c.Param("uid")
	if raw, err = withPathUID(raw, uid); err != nil {
		return err
	}
	net, err := networkQuery(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	t, created, err := h.svc.Put(c.Request.Context(), p.Networks, uid, net, func(cur *Token) (Token, error) {
		fallback := p.NetworkID
		switch {
		case cur != nil:
			fallback = cur.NetworkID
		case net != nil:
			fallback = *net
		}
		body, t, err := bind(raw, p, fallback)
		if err != nil {
			return Token{}, err
		}
		if err := checkUID(body, uid); err != nil {
			return Token{}, err
		}
		if cur != nil {
			if body.NetworkID != nil && *body.NetworkID != cur.NetworkID {
				return Token{}, apperr.FieldErrors{{Field: "network_id", Message: "cannot be changed: delete the token and create it in the other network"}}
			}
			if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), true); err != nil {
				return Token{}, err
			}
		} else if !p.Sees(t.NetworkID) {
			return Token{}, ErrNotFound
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

// patch changes only the fields the body names, under the token's row lock; the etag is
// optional.
func (h *Handler) patch(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	uid := c.Param("uid")
	net, err := networkQuery(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	t, _, err := h.svc.Put(c.Request.Context(), p.Networks, uid, net, func(cur *Token) (Token, error) {
		if cur == nil {
			return Token{}, ErrNotFound
		}
		current := toResponse(*cur)
		current.ETag = "" // the patch's own etag, if any, is what gets checked
		merged, err := web.MergeJSON(current, raw)
		if err != nil {
			return Token{}, err
		}
		body, t, err := bind(merged, p, cur.NetworkID)
		if err != nil {
			return Token{}, err
		}
		if err := checkUID(body, cur.UID); err != nil {
			return Token{}, err
		}
		if body.NetworkID != nil && *body.NetworkID != cur.NetworkID {
			return Token{}, apperr.FieldErrors{{Field: "network_id", Message: "cannot be changed: delete the token and create it in the other network"}}
		}
		if err := web.CheckETag(web.RequestETag(c, body.ETag), cur.ETag.String(), false); err != nil {
			return Token{}, err
		}
		return t, nil
	})
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, t)
}

func (h *Handler) delete(c *gin.Context) error {
	net, err := networkQuery(c)
	if err != nil {
		return err
	}
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("uid"), net); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}

// bulkBody is an import: up to MaxBulk tokens, each created or replaced.
type bulkBody struct {
	Tokens []tokenBody `json:"tokens" validate:"required,min=1,max=1000,dive"`
}

type bulkResponse struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// bulk creates or replaces up to MaxBulk tokens in one statement, each in its network_id or
// the key's own network, matched by uid as everywhere. Etags are not checked (an import
// is authoritative); every bad field of every token is named in one 422, and nothing is
// written then.
func (h *Handler) bulk(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	p := web.CurrentPrincipal(c)
	var body bulkBody
	var ts []Token
	err = web.BindWithRules(raw, &body, func() apperr.FieldErrors {
		var problems apperr.FieldErrors
		type key struct {
			net uuid.UUID
			uid string
		}
		seen := map[key]int{}
		ts = make([]Token, len(body.Tokens))
		for i, b := range body.Tokens {
			path := fmt.Sprintf("tokens[%d]", i)
			var more apperr.FieldErrors
			ts[i], more = b.rules(path, p, p.NetworkID)
			problems = append(problems, more...)
			if b.ETag != "" {
				problems.Add(path+".etag", "is not taken by a bulk upsert (an import replaces tokens whatever their version)")
			}
			k := key{ts[i].NetworkID, MatchUID(b.Type, b.UID)}
			if j, dup := seen[k]; dup && b.UID != "" {
				problems.Add(path+".uid", fmt.Sprintf("names the same token as tokens[%d]", j))
			}
			seen[k] = i
		}
		return problems
	})
	if err != nil {
		return err
	}
	res, err := h.svc.Upsert(c.Request.Context(), ts)
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, bulkResponse{Created: res.Created, Updated: res.Updated})
	return nil
}
