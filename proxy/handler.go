package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves /chargestations/{id}/operators.
type Handler struct{ svc *Service }

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes registers the operator endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/chargestations/:charge_station_id/operators", web.Handle(h.list))
	rg.POST("/chargestations/:charge_station_id/operators", web.Handle(h.create))
	rg.GET("/chargestations/:charge_station_id/operators/:operator_id", web.Handle(h.get))
	rg.PATCH("/chargestations/:charge_station_id/operators/:operator_id", web.Handle(h.patch))
	rg.DELETE("/chargestations/:charge_station_id/operators/:operator_id", web.Handle(h.delete))
}

// operatorBody is an operator as clients write it (POST, and a PATCH merged onto the
// current operator). The read-only fields of a GET are accepted and ignored, so a GET body
// can be edited and sent back.
type operatorBody struct {
	Name     string  `json:"name" validate:"required,max=100"`
	URL      string  `json:"url" validate:"required,max=512"`
	Role     string  `json:"role" validate:"required,oneof=Billing DataAndControl"`
	Identity *string `json:"identity"`
	// Password is write-only: a string sets it, null clears it, absent keeps it.
	Password *string `json:"password" validate:"omitempty,min=1,max=255"`
	Enabled  *bool   `json:"enabled"`

	ID               web.Ignored `json:"id"`
	ChargeStationID  web.Ignored `json:"charge_station_id"`
	HasPassword      web.Ignored `json:"has_password"`
	ConnectionStatus web.Ignored `json:"connection_status"`
	LastError        web.Ignored `json:"last_error"`
	LastConnectedAt  web.Ignored `json:"last_connected_at"`
	Created          web.Ignored `json:"created"`
	LastUpdated      web.Ignored `json:"last_updated"`
}

// operatorResponse is an operator as every response shows it; never the password.
type operatorResponse struct {
	ID               uuid.UUID `json:"id"`
	ChargeStationID  string    `json:"charge_station_id"`
	Name             string    `json:"name"`
	URL              string    `json:"url"`
	Role             Role      `json:"role"`
	Identity         *string   `json:"identity"`
	HasPassword      bool      `json:"has_password"`
	Enabled          bool      `json:"enabled"`
	ConnectionStatus string    `json:"connection_status"`
	LastError        *string   `json:"last_error"`
	LastConnectedAt  *string   `json:"last_connected_at"`
	Created          string    `json:"created"`
	LastUpdated      string    `json:"last_updated"`
}

func toResponse(o Operator) operatorResponse {
	r := operatorResponse{ID: o.ID, ChargeStationID: o.StationID, Name: o.Name, URL: o.URL, Role: o.Role,
		HasPassword: o.HasPassword, Enabled: o.Enabled, ConnectionStatus: o.ConnectionStatus,
		Created: web.FormatTime(o.Created), LastUpdated: web.FormatTime(o.LastUpdated)}
	if o.Identity != "" {
		r.Identity = &o.Identity
	}
	if o.LastError != "" {
		r.LastError = &o.LastError
	}
	if o.LastConnectedAt != nil {
		s := web.FormatTime(*o.LastConnectedAt)
		r.LastConnectedAt = &s
	}
	return r
}

// validIdentity is OCPP's rule for a station identity: 1 to 48 printable ASCII characters
// other than ':', '/', '?', '#' and space.
func validIdentity(id string) bool {
	if len(id) < 1 || len(id) > 48 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if b <= ' ' || b > '~' || b == ':' || b == '/' || b == '?' || b == '#' {
			return false
		}
	}
	return true
}

// rules are the checks tags cannot express.
func (b operatorBody) rules() apperr.FieldErrors {
	var fe apperr.FieldErrors
	if b.URL != "" {
		u, err := url.Parse(b.URL)
		switch {
		case err != nil:
			fe.Add("url", "must be a URL")
		case u.Scheme != "ws" && u.Scheme != "wss":
			fe.Add("url", "must be a ws:// or wss:// URL (the operator's OCPP-J endpoint)")
		case u.Host == "" || u.Hostname() == "":
			fe.Add("url", "must name a host")
		case u.User != nil:
			fe.Add("url", "must not carry credentials: use password")
		case u.Fragment != "" || strings.Contains(b.URL, "#"):
			fe.Add("url", "must not have a fragment")
		}
	}
	if b.Identity != nil && !validIdentity(*b.Identity) {
		fe.Add("identity", "must be 1 to 48 printable ASCII characters without ':', '/', '?', '#' or spaces")
	}
	if b.Password != nil && strings.ContainsAny(*b.Password, "\x00") {
		fe.Add("password", "must not contain NUL")
	}
	return fe
}

func (b operatorBody) write(passwordGiven bool) Write {
	w := Write{Name: b.Name, URL: b.URL, Role: Role(b.Role), Enabled: b.Enabled == nil || *b.Enabled, SetPassword: passwordGiven}
	if b.Identity != nil {
		w.Identity = *b.Identity
	}
	if b.Password != nil {
		w.Password = *b.Password
	}
	return w
}

func bind(raw []byte) (operatorBody, error) {
	var body operatorBody
	err := web.BindWithRules(raw, &body, func() apperr.FieldErrors { return body.rules() })
	return body, err
}

// passwordIn reports whether a body names the password field (null included).
func passwordIn(raw []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, ok := m["password"]
	return ok
}

func operatorID(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("operator_id"))
	if err != nil {
		return uuid.Nil, ErrNotFound // not an id of ours: no such operator
	}
	return id, nil
}

func (h *Handler) list(c *gin.Context) error {
	ops, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"))
	if err != nil {
		return err
	}
	out := make([]operatorResponse, len(ops))
	for i, o := range ops {
		out[i] = toResponse(o)
	}
	web.Respond(c, http.StatusOK, out)
	return nil
}

func (h *Handler) get(c *gin.Context) error {
	id, err := operatorID(c)
	if err != nil {
		return err
	}
	o, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), id)
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, toResponse(o))
	return nil
}

// create adds an operator (201); a second Billing operator is a 409.
func (h *Handler) create(c *gin.Context) error {
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	body, err := bind(raw)
	if err != nil {
		return err
	}
	o, err := h.svc.Create(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), body.write(body.Password != nil))
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusCreated, toResponse(o))
	return nil
}

// patch changes the fields the body names; "password": null removes the password.
func (h *Handler) patch(c *gin.Context) error {
	id, err := operatorID(c)
	if err != nil {
		return err
	}
	raw, err := web.ReadBody(c)
	if err != nil {
		return err
	}
	o, err := h.svc.Update(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), id,
		func(cur Operator) (Write, error) {
			merged, err := web.MergeJSON(toResponse(cur), raw)
			if err != nil {
				return Write{}, err
			}
			body, err := bind(merged)
			if err != nil {
				return Write{}, err
			}
			if !passwordIn(raw) {
				body.Password = nil
			}
			return body.write(passwordIn(raw)), nil
		})
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, toResponse(o))
	return nil
}

func (h *Handler) delete(c *gin.Context) error {
	id, err := operatorID(c)
	if err != nil {
		return err
	}
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), id); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
