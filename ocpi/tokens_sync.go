package ocpi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"log/slog"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
)

// tokenPullLimit is the page size evroam asks a partner's Tokens SENDER for (it may answer
// less).
const tokenPullLimit = 1000

// maxTokenPages bounds one pull: a SENDER whose Link never ends cannot keep evroam busy.
const maxTokenPages = 10_000

var linkNext = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// syncTokens pulls partner pt's tokens from its Tokens SENDER and stores them: every token
// when full (or when it was never pulled), else those changed since the last pull began
// (date_from). It follows the pages' Link headers. A token that breaks the Token schema, or
// is not of a party of the partner's credentials, is left out (and counted in the log). It
// returns how many tokens it stored.
func syncTokens(ctx context.Context, c *client, svc *tokens.Service, store *Store, pt Partner, full bool) (int, error) {
	if pt.State != StateRegistered || pt.TokensURL == "" {
		return 0, errors.New("the partner has no Tokens SENDER endpoint")
	}
	started := time.Now()
	var since sql.NullTime
	if !full {
		var err error
		if since, err = store.tokensSyncedAt(ctx, pt.ID); err != nil {
			return 0, err
		}
	}
	q := url.Values{"offset": {"0"}, "limit": {strconv.Itoa(tokenPullLimit)}}
	if since.Valid {
		q.Set("date_from", formatDateTime(since.Time))
	}
	next := strings.TrimRight(pt.TokensURL, "/") + "?" + q.Encode()
	parties := map[string]bool{}
	for _, r := range pt.Roles {
		parties[partyKey(r.CountryCode, r.PartyID)] = true
	}
	stored, skipped := 0, 0
	for page := 0; next != "" && page < maxTokenPages; page++ {
		var got []Token
		h, err := c.call(ctx, http.MethodGet, next, pt.OutboundToken, nil, &got)
		if err != nil {
			return stored, err
		}
		batch := make([]tokens.RoamingToken, 0, len(got))
		seen := map[tokens.RoamingKey]bool{}
		for _, t := range got {
			if problem := checkPulledToken(t); problem != "" || !parties[partyKey(t.CountryCode, t.PartyID)] {
				skipped++
				continue
			}
			rt, err := fromOCPIToken(pt, t)
			if err != nil {
				skipped++
				continue
			}
			k := tokens.RoamingKey{PartnerID: pt.ID, CountryCode: rt.CountryCode, PartyID: rt.PartyID, UID: rt.UID, Type: rt.Type}
			if seen[k] {
				continue
			}
			seen[k] = true
			batch = append(batch, rt)
		}
		if err := svc.PutRoaming(ctx, batch); err != nil {
			return stored, err
		}
		stored += len(batch)
		next = ""
		if m := linkNext.FindStringSubmatch(h.Get("Link")); m != nil && len(got) > 0 {
			next = m[1]
		}
	}
	if skipped > 0 {
		slog.WarnContext(ctx, "OCPI token pull left out tokens that break the Token schema or name a party not in the partner's credentials",
			"partner", pt.ID, "skipped", skipped)
	}
	if err := store.setTokensSynced(ctx, pt.ID, started); err != nil {
		return stored, err
	}
	return stored, nil
}

// checkPulledToken names what makes t break the official Token schema ("" when nothing).
func checkPulledToken(t Token) string {
	switch {
	case len(t.CountryCode) != 2, len(t.PartyID) != 3:
		return "country_code/party_id"
	case t.UID == "" || len(t.UID) > 36:
		return "uid"
	case t.ContractID == "" || len(t.ContractID) > 36:
		return "contract_id"
	case len(t.Issuer) > 64:
		return "issuer"
	}
	switch t.Type {
	case tokens.TypeRFID, tokens.TypeAppUser, tokens.TypeAdHocUser, tokens.TypeOther:
	default:
		return "type"
	}
	switch t.Whitelist {
	case "ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER":
	default:
		return "whitelist"
	}
	if _, err := web.ParseTime(t.LastUpdated); err != nil {
		return "last_updated"
	}
	return ""
}

// tokensSyncedAt is when the last complete pull of partner id's tokens began (NULL: never).
func (s *Store) tokensSyncedAt(ctx context.Context, id any) (sql.NullTime, error) {
	var t sql.NullTime
	if err := s.q.QueryRowxContext(ctx, `SELECT tokens_synced_at FROM ocpi_partners WHERE id = $1`, id).Scan(&t); err != nil {
		return t, fmt.Errorf("read token pull time: %w", database.Translate(err))
	}
	return t, nil
}

func (s *Store) setTokensSynced(ctx context.Context, id any, at time.Time) error {
	if _, err := s.q.ExecContext(ctx, `UPDATE ocpi_partners SET tokens_synced_at = $2 WHERE id = $1`, id, database.Timestamp(at)); err != nil {
		return fmt.Errorf("record token pull: %w", database.Translate(err))
	}
	return nil
}

// syncResponse is the answer of POST /api/v1/ocpi/partners/{id}/tokens/sync.
type syncResponse struct {
	Pulled int  `json:"pulled"`
	Full   bool `json:"full"`
}

// syncPartnerTokens pulls a partner's tokens now: changed since the last pull, or all of them
// with ?full=true (or when they were never pulled). 409 when the partner is not registered or
// has no Tokens SENDER; 502 when the partner's pull fails.
func (h *Handler) syncPartnerTokens(c *gin.Context) error {
	id, err := partnerID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	p, err := h.store.Get(ctx, web.CurrentPrincipal(c).Networks, id)
	if err != nil {
		return err
	}
	if h.tokens == nil {
		return fmt.Errorf("the Tokens module is not available: %w", apperr.Unavailable)
	}
	if p.State != StateRegistered || p.TokensURL == "" {
		return fmt.Errorf("the partner is not registered with a Tokens SENDER endpoint: %w", apperr.Conflict)
	}
	full := c.Query("full") == "true"
	n, err := syncTokens(ctx, h.client, h.tokens, h.store, p, full)
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) {
			return fmt.Errorf("pulling the partner's tokens failed after %d tokens: %s: %w", n, ce.Error(), apperr.BadGateway)
		}
		return err
	}
	web.Respond(c, http.StatusOK, syncResponse{Pulled: n, Full: full})
	return nil
}
