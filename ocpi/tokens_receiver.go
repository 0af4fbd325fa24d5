package ocpi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
)

// CodeUnknownToken is OCPI 2.2.1's status code for a token the receiver does not know.
const CodeUnknownToken = 2004

// Token is the OCPI 2.2.1 Token object: a token of a partner's driver.
type Token struct {
	CountryCode        string                 `json:"country_code"`
	PartyID            string                 `json:"party_id"`
	UID                string                 `json:"uid"`
	Type               string                 `json:"type"`
	ContractID         string                 `json:"contract_id"`
	VisualNumber       *string                `json:"visual_number,omitempty"`
	Issuer             string                 `json:"issuer"`
	GroupID            *string                `json:"group_id,omitempty"`
	Valid              bool                   `json:"valid"`
	Whitelist          string                 `json:"whitelist"`
	Language           *string                `json:"language,omitempty"`
	DefaultProfileType *string                `json:"default_profile_type,omitempty"`
	EnergyContract     *tokens.EnergyContract `json:"energy_contract,omitempty"`
	LastUpdated        string                 `json:"last_updated"`
}

// tokenBody is a Token (PUT) or a TokenPatch (PATCH) as a partner sends it: pointers tell
// absent fields, the tags are the official schema's limits.
type tokenBody struct {
	CountryCode        *string             `json:"country_code" validate:"omitempty,len=2,alpha"`
	PartyID            *string             `json:"party_id" validate:"omitempty,len=3,printascii"`
	UID                *string             `json:"uid" validate:"omitempty,min=1,max=36"`
	Type               *string             `json:"type" validate:"omitempty,oneof=AD_HOC_USER APP_USER OTHER RFID"`
	ContractID         *string             `json:"contract_id" validate:"omitempty,max=36"`
	VisualNumber       *string             `json:"visual_number" validate:"omitempty,max=64"`
	Issuer             *string             `json:"issuer" validate:"omitempty,max=64"`
	GroupID            *string             `json:"group_id" validate:"omitempty,max=36"`
	Valid              *bool               `json:"valid"`
	Whitelist          *string             `json:"whitelist" validate:"omitempty,oneof=ALWAYS ALLOWED ALLOWED_OFFLINE NEVER"`
	Language           *string             `json:"language" validate:"omitempty,len=2"`
	DefaultProfileType *string             `json:"default_profile_type" validate:"omitempty,oneof=CHEAP FAST GREEN REGULAR"`
	EnergyContract     *energyContractBody `json:"energy_contract"`
	LastUpdated        *string             `json:"last_updated"`
	rawFields          map[string]struct{} // the fields the body carried
}

type energyContractBody struct {
	SupplierName *string `json:"supplier_name" validate:"required,max=64"`
	ContractID   *string `json:"contract_id" validate:"omitempty,max=64"`
}

// badRequest is an OCPI 2001 answered with HTTP 400.
func badRequest(msg string) *Error {
	return ocpiError(http.StatusBadRequest, CodeInvalidParameters, msg)
}

// readTokenBody reads a Token (full: every required field) or a TokenPatch, and names every
// bad field in one 400 with status 2001.
func readTokenBody(c *gin.Context, k tokens.RoamingKey, full bool) (tokenBody, error) {
	var b tokenBody
	raw, err := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	if err != nil {
		return b, badRequest("cannot read the request body")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return b, badRequest("the body must be a JSON object: " + err.Error())
	}
	var problems []string
	// A value of the wrong JSON type is named (and left out); the rest is still read and
	// checked, so that one answer names every bad field.
	for name, v := range fields {
		var probe tokenBody
		one, _ := json.Marshal(map[string]json.RawMessage{name: v})
		if err := json.Unmarshal(one, &probe); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				problems = append(problems, name+" must be a JSON "+te.Type.Kind().String())
				delete(fields, name)
			}
		}
	}
	clean, _ := json.Marshal(fields)
	if err := json.NewDecoder(bytes.NewReader(clean)).Decode(&b); err != nil {
		return b, badRequest("invalid Token object: " + err.Error())
	}
	b.rawFields = map[string]struct{}{}
	for k := range fields {
		b.rawFields[k] = struct{}{}
	}
	if err := web.Validate(&b); err != nil {
		var fe apperr.FieldErrors
		if !errors.As(err, &fe) {
			return b, err
		}
		for _, f := range fe {
			problems = append(problems, f.Field+" "+f.Message)
		}
	}
	required := map[string]bool{"last_updated": b.LastUpdated == nil}
	if full {
		required["country_code"] = b.CountryCode == nil
		required["party_id"] = b.PartyID == nil
		required["uid"] = b.UID == nil
		required["type"] = b.Type == nil
		required["contract_id"] = b.ContractID == nil
		required["issuer"] = b.Issuer == nil
		required["valid"] = b.Valid == nil
		required["whitelist"] = b.Whitelist == nil
	}
	for _, name := range []string{"country_code", "party_id", "uid", "type", "contract_id", "issuer", "valid", "whitelist", "last_updated"} {
		if required[name] {
			problems = append(problems, name+" is required")
		}
	}
	if b.LastUpdated != nil {
		if _, err := web.ParseTime(*b.LastUpdated); err != nil {
			problems = append(problems, "last_updated must be an RFC 3339 date-time")
		}
	}
	problems = append(problems, b.addressProblems(k)...)
	if len(problems) > 0 {
		return b, badRequest("invalid Token object: " + strings.Join(problems, "; "))
	}
	return b, nil
}

// tokenKey reads the token's address: the path's party, which must be one the caller's
// credentials named, its uid and ?type= (RFID when absent).
func tokenKey(c *gin.Context) (tokens.RoamingKey, error) {
	who := currentCaller(c)
	k := tokens.RoamingKey{PartnerID: who.Partner.ID, CountryCode: strings.ToUpper(c.Param("country_code")),
		PartyID: strings.ToUpper(c.Param("party_id")), UID: c.Param("uid"), Type: c.DefaultQuery("type", tokens.TypeRFID)}
	switch k.Type {
	case tokens.TypeRFID, tokens.TypeAppUser, tokens.TypeAdHocUser, tokens.TypeOther:
	default:
		return k, badRequest("type must be one of AD_HOC_USER, APP_USER, OTHER, RFID")
	}
	if len(k.UID) == 0 || len(k.UID) > 36 {
		return k, badRequest("uid must have 1 to 36 characters")
	}
	for _, r := range who.Partner.Roles {
		if strings.EqualFold(r.CountryCode, k.CountryCode) && strings.EqualFold(r.PartyID, k.PartyID) {
			return k, nil
		}
	}
	return k, badRequest("country_code/party_id " + k.CountryCode + "/" + k.PartyID + " is not a party of your credentials")
}

// addressProblems: fields of the body that name the token must be the path's.
func (b tokenBody) addressProblems(k tokens.RoamingKey) []string {
	var problems []string
	if b.CountryCode != nil && !strings.EqualFold(*b.CountryCode, k.CountryCode) {
		problems = append(problems, "country_code differs from the path's")
	}
	if b.PartyID != nil && !strings.EqualFold(*b.PartyID, k.PartyID) {
		problems = append(problems, "party_id differs from the path's")
	}
	if b.UID != nil && *b.UID != k.UID {
		problems = append(problems, "uid differs from the path's")
	}
	if b.Type != nil && *b.Type != k.Type {
		problems = append(problems, "type differs from the path's ?type= (RFID when absent)")
	}
	return problems
}

// apply copies the fields the body carries onto t.
func (b tokenBody) apply(t *tokens.RoamingToken) {
	if b.ContractID != nil {
		t.ContractID = *b.ContractID
	}
	if _, ok := b.rawFields["visual_number"]; ok {
		t.VisualNumber = b.VisualNumber
	}
	if b.Issuer != nil {
		t.Issuer = *b.Issuer
	}
	if _, ok := b.rawFields["group_id"]; ok {
		t.GroupID = b.GroupID
	}
	if b.Valid != nil {
		t.Valid = *b.Valid
	}
	if b.Whitelist != nil {
		t.Whitelist = *b.Whitelist
	}
	if _, ok := b.rawFields["language"]; ok {
		t.Language = b.Language
	}
	if _, ok := b.rawFields["default_profile_type"]; ok {
		t.DefaultProfileType = b.DefaultProfileType
	}
	if _, ok := b.rawFields["energy_contract"]; ok {
		t.EnergyContract = nil
		if b.EnergyContract != nil {
			t.EnergyContract = &tokens.EnergyContract{SupplierName: *b.EnergyContract.SupplierName, ContractID: b.EnergyContract.ContractID}
		}
	}
	if b.LastUpdated != nil {
		at, _ := web.ParseTime(*b.LastUpdated)
		t.LastUpdated = at
	}
}

// toOCPIToken renders a stored roaming token.
func toOCPIToken(t tokens.RoamingToken) Token {
	return Token{CountryCode: t.CountryCode, PartyID: t.PartyID, UID: t.UID, Type: t.Type, ContractID: t.ContractID,
		VisualNumber: t.VisualNumber, Issuer: t.Issuer, GroupID: t.GroupID, Valid: t.Valid, Whitelist: t.Whitelist,
		Language: t.Language, DefaultProfileType: t.DefaultProfileType, EnergyContract: t.EnergyContract,
		LastUpdated: formatDateTime(t.LastUpdated)}
}

// fromOCPIToken is a partner's token as evroam stores it (a pull's page).
func fromOCPIToken(p Partner, t Token) (tokens.RoamingToken, error) {
	at, err := web.ParseTime(t.LastUpdated)
	if err != nil {
		return tokens.RoamingToken{}, err
	}
	return tokens.RoamingToken{
		Token: tokens.Token{NetworkID: p.NetworkID, UID: t.UID, Type: t.Type, ContractID: t.ContractID,
			VisualNumber: t.VisualNumber, Issuer: t.Issuer, GroupID: t.GroupID, Valid: t.Valid, Whitelist: t.Whitelist,
			Language: t.Language, DefaultProfileType: t.DefaultProfileType, LastUpdated: at},
		PartnerID: p.ID, CountryCode: strings.ToUpper(t.CountryCode), PartyID: strings.ToUpper(t.PartyID),
		EnergyContract: t.EnergyContract,
	}, nil
}

func (h *Handler) tokensReady() error {
	if h.tokens == nil {
		return ocpiError(http.StatusNotImplemented, CodeServerError, "the Tokens module is not available")
	}
	return nil
}

// getToken answers evroam's copy of a partner's token.
func (h *Handler) getToken(c *gin.Context) error {
	if err := h.tokensReady(); err != nil {
		return err
	}
	k, err := tokenKey(c)
	if err != nil {
		return err
	}
	t, err := h.tokens.GetRoaming(c.Request.Context(), k)
	if errors.Is(err, tokens.ErrNotFound) {
		return ocpiError(http.StatusNotFound, CodeUnknownToken, "unknown token")
	}
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, toOCPIToken(t))
	return nil
}

// putToken stores a partner's token as it sends it (creating or replacing it).
func (h *Handler) putToken(c *gin.Context) error {
	if err := h.tokensReady(); err != nil {
		return err
	}
	k, err := tokenKey(c)
	if err != nil {
		return err
	}
	b, err := readTokenBody(c, k, true)
	if err != nil {
		return err
	}
	who := currentCaller(c)
	t := tokens.RoamingToken{Token: tokens.Token{NetworkID: who.Partner.NetworkID, UID: k.UID, Type: k.Type},
		PartnerID: k.PartnerID, CountryCode: k.CountryCode, PartyID: k.PartyID}
	b.apply(&t)
	if err := h.tokens.PutRoaming(c.Request.Context(), []tokens.RoamingToken{t}); err != nil {
		return err
	}
	respond(c, http.StatusOK, nil)
	return nil
}

// patchToken changes the fields of a partner's token that the body carries.
func (h *Handler) patchToken(c *gin.Context) error {
	if err := h.tokensReady(); err != nil {
		return err
	}
	k, err := tokenKey(c)
	if err != nil {
		return err
	}
	b, err := readTokenBody(c, k, false)
	if err != nil {
		return err
	}
	_, err = h.tokens.PatchRoaming(c.Request.Context(), k, func(t *tokens.RoamingToken) error {
		b.apply(t)
		return nil
	})
	if errors.Is(err, tokens.ErrNotFound) {
		return ocpiError(http.StatusNotFound, CodeUnknownToken, "unknown token: PUT it first")
	}
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, nil)
	return nil
}
