package ocpi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/tokens"
	"github.com/jmoiron/sqlx"
)

// AuthorizationInfo is the OCPI 2.2.1 AuthorizationInfo an eMSP answers a real-time
// authorisation with.
type AuthorizationInfo struct {
	Allowed                string              `json:"allowed"`
	Token                  Token               `json:"token"`
	Location               *LocationReferences `json:"location,omitempty"`
	AuthorizationReference *string             `json:"authorization_reference,omitempty"`
}

// LocationReferences is where a token asks to charge.
type LocationReferences struct {
	LocationID string   `json:"location_id"`
	EVSEUIDs   []string `json:"evse_uids,omitempty"`
}

// AuthorizerConfig tunes the Authorizer.
type AuthorizerConfig struct {
	// Timeout bounds a real-time authorisation (EVROAM_OCPI_AUTHORIZE_TIMEOUT); default 5 s.
	// A station waits for it, so it must stay well below the station's own call timeout.
	Timeout  time.Duration
	Outbound Outbound
	Log      *slog.Logger
}

// Authorizer decides on the id tokens stations present, roaming tokens included:
//
//   - A network's own token, or a roaming token whitelisted ALWAYS or ALLOWED, is decided from
//     the stored token (tokens.Authorizer: no database round trip for a token seen before).
//   - A roaming token whitelisted ALLOWED_OFFLINE or NEVER that asks to begin charging is
//     authorised in real time by its eMSP: POST {tokens}/{uid}/authorize?type= with the
//     location (and EVSE) it is presented at. The AuthorizationInfo's allowed decides
//     (ALLOWED → Accepted, BLOCKED → Blocked, EXPIRED → Expired, NO_CREDIT and NOT_ALLOWED →
//     Invalid), and its authorization_reference goes into the session it starts. When the
//     eMSP does not answer within the timeout (or fails), ALLOWED_OFFLINE decides from the
//     stored token and NEVER refuses.
//   - A stored token that is blocked or expired is refused without asking.
type Authorizer struct {
	tokens  *tokens.Authorizer
	db      *sqlx.DB
	client  *client
	timeout time.Duration
	log     *slog.Logger
}

// NewAuthorizer returns an Authorizer over the token Authorizer t.
func NewAuthorizer(db *sqlx.DB, t *tokens.Authorizer, cfg AuthorizerConfig) *Authorizer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	out := cfg.Outbound
	if out.Timeout <= 0 || out.Timeout > cfg.Timeout {
		out.Timeout = cfg.Timeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Authorizer{tokens: t, db: db, client: out.newClient(), timeout: cfg.Timeout, log: log}
}

// Authorize decides on idToken presented at station identity (see Authorizer). start says
// whether the token asks to begin charging; evseSeq is the EVSE it is presented at (0: not
// known).
func (a *Authorizer) Authorize(ctx context.Context, identity, idToken string, start bool, evseSeq int) (tokens.Decision, error) {
	d, err := a.tokens.Authorize(ctx, identity, idToken)
	if err != nil || d.Roaming == nil || !start || d.Status != tokens.StatusAccepted {
		return d, err
	}
	switch d.Roaming.Whitelist {
	case "ALLOWED_OFFLINE", "NEVER":
	default:
		return d, nil
	}
	return a.realTime(ctx, identity, evseSeq, d)
}

// partnerTarget is what a real-time authorisation needs of the token's partner and station.
type partnerTarget struct {
	TokensURL  sql.NullString                   `db:"tokens_url"`
	Token      sql.NullString                   `db:"outbound_token"`
	State      string                           `db:"state"`
	LocationID string                           `db:"location_id"`
	EVSEUID    sql.NullString                   `db:"evse_uid"`
	Roles      database.JSON[[]CredentialsRole] `db:"roles"`
}

func (a *Authorizer) realTime(ctx context.Context, identity string, evseSeq int, d tokens.Decision) (tokens.Decision, error) {
	r := d.Roaming
	var t partnerTarget
	const q = `
	SELECT pt.tokens_url, pt.outbound_token, pt.state, pt.roles, cs.location_id, e.uid AS evse_uid
	FROM ocpi_partners pt, charge_stations cs
	LEFT JOIN evses e ON e.charge_station_id = cs.id AND e.evse_sequence_number = $3
	WHERE pt.id = $1 AND cs.id = $2`
	if err := a.db.GetContext(ctx, &t, q, r.PartnerID, identity, evseSeq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return a.unanswered(d), nil
		}
		return tokens.Decision{}, fmt.Errorf("read the partner of a roaming token: %w", database.Translate(err))
	}
	if t.State != string(StateRegistered) || !t.TokensURL.Valid || !t.Token.Valid {
		a.record(ctx, r, identity, t.LocationID, "", "")
		return a.unanswered(d), nil
	}
	refs := LocationReferences{LocationID: t.LocationID}
	if t.EVSEUID.Valid {
		refs.EVSEUIDs = []string{t.EVSEUID.String}
	}
	target := strings.TrimRight(t.TokensURL.String, "/") + "/" + url.PathEscape(r.UID) + "/authorize?type=" + url.QueryEscape(r.Type)
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var info AuthorizationInfo
	var headers []string
	if roles := t.Roles.V; len(roles) > 0 {
		headers = []string{"OCPI-to-country-code", roles[0].CountryCode, "OCPI-to-party-id", roles[0].PartyID}
	}
	err := a.client.do(cctx, http.MethodPost, target, t.Token.String, refs, &info, headers...)
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) && ce.Code == CodeUnknownToken {
			a.record(ctx, r, identity, t.LocationID, "NOT_ALLOWED", "")
			return tokens.Decision{Status: tokens.StatusInvalid, Roaming: r}, nil
		}
		a.log.WarnContext(ctx, "OCPI real-time authorisation got no answer; the token's whitelist decides",
			"partner", r.PartnerID, "whitelist", r.Whitelist, "err", err)
		a.record(ctx, r, identity, t.LocationID, "", "")
		return a.unanswered(d), nil
	}
	ref := ""
	if info.AuthorizationReference != nil {
		ref = *info.AuthorizationReference
	}
	a.record(ctx, r, identity, t.LocationID, info.Allowed, ref)
	out := tokens.Decision{GroupID: d.GroupID, ExpiryDate: d.ExpiryDate, Roaming: r}
	switch info.Allowed {
	case "ALLOWED":
		out.Status = tokens.StatusAccepted
	case "BLOCKED":
		out.Status = tokens.StatusBlocked
	case "EXPIRED":
		out.Status = tokens.StatusExpired
	default: // NO_CREDIT, NOT_ALLOWED, anything else
		out.Status = tokens.StatusInvalid
	}
	return out, nil
}

// unanswered is the decision when the eMSP could not be asked or did not answer in time:
// ALLOWED_OFFLINE decides from the stored token, NEVER refuses.
func (a *Authorizer) unanswered(d tokens.Decision) tokens.Decision {
	if d.Roaming.Whitelist == "NEVER" {
		return tokens.Decision{Status: tokens.StatusInvalid, Roaming: d.Roaming}
	}
	return d
}

// record keeps a real-time authorisation (allowed "" when there was no answer), so that the
// session the token starts takes its authorization_reference. A failure to record is logged:
// the station's answer must not wait for it.
func (a *Authorizer) record(ctx context.Context, r *tokens.Roaming, identity, locationID, allowed, ref string) {
	const q = `
	INSERT INTO ocpi_authorizations (partner_id, token_id, charge_station_id, location_id, allowed, authorization_reference)
	VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''))`
	if _, err := a.db.ExecContext(context.WithoutCancel(ctx), q, r.PartnerID, r.TokenID, identity, locationID, allowed, ref); err != nil {
		a.log.ErrorContext(ctx, "record an OCPI real-time authorisation", "partner", r.PartnerID, "err", err)
	}
}
