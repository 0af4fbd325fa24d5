package ocpi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
)

// deliverSession sends head, a session push (and the session pushes right behind it, which
// the one send covers): the session as it is now, as a PUT when the partner does not have it
// yet or when it has ended, else as a PATCH of what changes while it charges (kwh,
// charging_periods, last_updated). PATCHes of one station's sessions to one partner go at
// most once per SessionPatchInterval: an early one waits (without counting as a failure).
func (p *Pusher) deliverSession(ctx context.Context, head delivery) (bool, error) {
	var group []int64
	const q = `SELECT id FROM ocpi_deliveries WHERE partner_id = $1 AND session_id = $2::uuid AND id >= $3 ORDER BY id`
	if err := p.db.SelectContext(ctx, &group, q, head.PartnerID, head.SessionID, head.ID); err != nil {
		return false, fmt.Errorf("read pushes of session %s: %w", head.SessionID, database.Translate(err))
	}
	if len(group) == 0 {
		group = []int64{head.ID}
	}
	r, s, found, err := p.view.session(ctx, head.SessionID)
	if err != nil {
		return false, err
	}
	if !found || r.PartnerID.String() != head.PartnerID {
		return true, p.settle(ctx, group)
	}
	headers := []string{"OCPI-from-country-code", s.CountryCode, "OCPI-from-party-id", s.PartyID}
	if roles := head.PartnerRoles.V; len(roles) > 0 {
		headers = append(headers, "OCPI-to-country-code", roles[0].CountryCode, "OCPI-to-party-id", roles[0].PartyID)
	}
	target := p.target(head.SessionsURL, s.CountryCode, s.PartyID, s.ID)
	put := !r.PutSent || s.Status != "ACTIVE"
	key := head.PartnerID + " " + r.StationID
	if !put {
		p.patchMu.Lock()
		last, seen := p.lastPatch[key]
		p.patchMu.Unlock()
		if wait := p.cfg.SessionPatchInterval - p.now().Sub(last); seen && wait > 0 {
			const upd = `UPDATE ocpi_deliveries SET next_attempt_at = now() + $2 * interval '1 microsecond' WHERE id = $1`
			if _, err := p.db.ExecContext(ctx, upd, head.ID, wait.Microseconds()); err != nil {
				return false, fmt.Errorf("hold back session PATCH: %w", database.Translate(err))
			}
			return false, nil
		}
	}
	var sendErr error
	if put {
		sendErr = p.client.do(ctx, http.MethodPut, target, head.Token, s, nil, headers...)
	} else {
		sendErr = p.client.do(ctx, http.MethodPatch, target, head.Token,
			sessionPatch{KWh: s.KWh, ChargingPeriods: s.ChargingPeriods, LastUpdated: s.LastUpdated}, nil, headers...)
		var ce *callError
		if errors.As(sendErr, &ce) && ce.unknownObject() {
			// The partner lost the session: it gets the whole session.
			sendErr = p.client.do(ctx, http.MethodPut, target, head.Token, s, nil, headers...)
			put = true
		}
	}
	if sendErr == nil {
		if put && !r.PutSent {
			if _, err := p.db.ExecContext(ctx, `UPDATE ocpi_sessions SET put_sent = true WHERE session_id = $1::uuid`, r.ID); err != nil {
				return false, fmt.Errorf("record session PUT: %w", database.Translate(err))
			}
		}
		if !put {
			p.patchMu.Lock()
			p.lastPatch[key] = p.now()
			p.patchMu.Unlock()
		}
	}
	return p.outcome(ctx, head, group, sendErr)
}

// deliverCDR POSTs head's CDR to the partner's CDRs receiver and keeps the Location header it
// answers (the CDR's URL at the partner). A CDR is sent as it was made: it never changes.
func (p *Pusher) deliverCDR(ctx context.Context, head delivery) (bool, error) {
	var row struct {
		Doc         json.RawMessage `db:"doc"`
		LocationURL sql.NullString  `db:"location_url"`
	}
	err := p.db.GetContext(ctx, &row, `SELECT doc, location_url FROM ocpi_cdrs WHERE id = $1`, head.CDRID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && row.LocationURL.Valid {
		return true, p.settle(ctx, []int64{head.ID})
	}
	if err != nil {
		return false, fmt.Errorf("read CDR %s: %w", head.CDRID, database.Translate(err))
	}
	headers := []string{"OCPI-from-country-code", head.CountryCode, "OCPI-from-party-id", head.PartyID}
	if roles := head.PartnerRoles.V; len(roles) > 0 {
		headers = append(headers, "OCPI-to-country-code", roles[0].CountryCode, "OCPI-to-party-id", roles[0].PartyID)
	}
	h, sendErr := p.client.call(ctx, http.MethodPost, strings.TrimRight(head.CDRsURL, "/"), head.Token, row.Doc, nil, headers...)
	if sendErr == nil {
		const q = `UPDATE ocpi_cdrs SET location_url = $2, sent_at = now() WHERE id = $1`
		if _, err := p.db.ExecContext(ctx, q, head.CDRID, h.Get("Location")); err != nil {
			return false, fmt.Errorf("record CDR %s sent: %w", head.CDRID, database.Translate(err))
		}
	}
	return p.outcome(ctx, head, []int64{head.ID}, sendErr)
}

// syncNewPartners pulls the tokens of every registered partner with a Tokens SENDER whose
// tokens were never pulled (just registered), unless its last attempt failed a short while
// ago. It returns when the earliest held-back partner is due.
func (p *Pusher) syncNewPartners(ctx context.Context) time.Time {
	var ids []uuid.UUID
	const q = `SELECT id FROM ocpi_partners WHERE state = 'REGISTERED' AND tokens_url IS NOT NULL AND tokens_synced_at IS NULL`
	if err := p.db.SelectContext(ctx, &ids, q); err != nil {
		if ctx.Err() == nil {
			p.log.Error("OCPI token pull: cannot read partners", "err", err)
		}
		return time.Time{}
	}
	var next time.Time
	for _, id := range ids {
		if at, ok := p.syncAfter[id]; ok && p.now().Before(at) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		pt, err := p.store.get(ctx, id)
		if err != nil {
			continue
		}
		n, err := syncTokens(ctx, p.client, p.cfg.Tokens, p.store, pt, true)
		if err != nil {
			at := p.now().Add(p.cfg.MinBackoff * 8)
			p.syncAfter[id] = at
			p.log.Warn("OCPI token pull failed; will retry", "partner", id, "err", err, "pulled", n)
			continue
		}
		delete(p.syncAfter, id)
		p.log.Info("OCPI tokens pulled", "partner", id, "tokens", n)
	}
	return next
}

// pruneAuthorizations forgets, once an hour, the real-time authorisations older than a day (a
// session takes the reference of one from the last hour).
func (p *Pusher) pruneAuthorizations(ctx context.Context) {
	if p.now().Sub(p.prunedAt) < time.Hour {
		return
	}
	p.prunedAt = p.now()
	if _, err := p.db.ExecContext(ctx, `DELETE FROM ocpi_authorizations WHERE created < now() - interval '1 day'`); err != nil && ctx.Err() == nil {
		p.log.Warn("prune OCPI real-time authorisations", "err", err)
	}
}
