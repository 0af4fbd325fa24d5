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
	"sync"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/tokens"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PushConfig tunes the Pusher. Zero values take the defaults.
type PushConfig struct {
	// DatabaseURL, when set, lets the pusher LISTEN for new pushes (the triggers NOTIFY
	// ocpi_deliveries) instead of finding them at the next poll.
	DatabaseURL string
	// PublicURL is evroam's public base URL (EVROAM_PUBLIC_URL): our versions URL in a
	// credentials update is built from it for partners registered before the versions URL
	// we gave them was kept.
	PublicURL    string
	Outbound     Outbound      // timeouts, answer size and addresses of the calls to partners
	PollInterval time.Duration // default 5 s: how often the queue is looked at without a notification
	MinBackoff   time.Duration // default 2 s: wait after the first failure, doubled on each further one
	MaxBackoff   time.Duration // default 10 min
	// MaxRejections is how often a push the partner refuses outright (HTTP 4xx, OCPI 2xxx) is
	// retried before it is dropped, so that one bad object cannot hold back its location for
	// ever (the partner can always resync by GET). Default 5. Pushes that fail because the
	// partner is down or answers 5xx are retried without end.
	MaxRejections int
	Log           *slog.Logger
	Workers       int // locations pushed in parallel; default 8
	// SessionPatchInterval is the least time between two PATCHes of running sessions of one
	// station to one partner (EVROAM_OCPI_SESSION_PATCH_INTERVAL); default 1 minute. The PUTs
	// of a session's start and end are never held back.
	SessionPatchInterval time.Duration
	// Tokens stores the tokens pulled from partners' Tokens SENDER after their registration;
	// nil: no pull.
	Tokens *tokens.Service
}

// Pusher sends the pushes the triggers queue in ocpi_deliveries to the partners' Locations
// and Tariffs receivers: a PUT of the Location (the copy it names, as it is when sent, under
// the copy's party, so a retired copy goes under its old party) or a PATCH of an EVSE's
// status; a PUT of a Tariff (as it is when sent) or its DELETE (under the party the tariff
// had when it was deleted; "unknown object" counts as done). A PATCH
// the receiver answers "unknown object" (HTTP 404, OCPI 2001 or 2003) is followed at once by
// a PUT of the whole Location. The pushes of one partner and location go strictly in queue
// order; a failed push is retried with exponential backoff and holds back the later ones of
// its location, not those of other locations or partners. Consecutive pushes of the same kind
// and object are sent once (they carry the current state anyway). A push is removed only once
// the partner accepted it, so a restart loses none (and may send one twice); copies are never
// deleted, so a push is never dropped because its location was deleted or moved. The pushes
// of one partner and tariff go in queue order too, apart from those of locations.
//
// Pushes go only under the parties our credentials named to the partner. When the partner's
// scope gains a party (a network was added, or changed its party), the Pusher first updates
// our credentials at the partner (PUT to its credentials endpoint, with the roles of its
// scope), and the pushes under the new party wait until that is done; pushes still waiting
// under a party the update would drop go first.
//
// One pusher per database is active: it holds an advisory lock, and the pushers of other
// nodes wait for it.
type Pusher struct {
	db     *sqlx.DB
	view   *View
	store  *Store
	client *client
	cfg    PushConfig
	log    *slog.Logger
	now    func() time.Time
	stats  PushStats

	// announceAfter holds back the next credentials update of a partner whose last one
	// failed (in memory: after a restart it is tried at once).
	announceAfter map[uuid.UUID]announceBackoff

	// lastPatch is when a session PATCH last went to a partner for a station ("partner
	// station"), for SessionPatchInterval (in memory: after a restart one PATCH may come
	// early).
	patchMu   sync.Mutex
	lastPatch map[string]time.Time
	// syncAfter holds back the next initial token pull of a partner whose last one failed.
	syncAfter map[uuid.UUID]time.Time
	// prunedAt is when real-time authorisations were last pruned.
	prunedAt time.Time
}

type announceBackoff struct {
	at       time.Time
	failures int
}

// NewPusher returns a Pusher; start it with Run.
func NewPusher(db *sqlx.DB, view *View, cfg PushConfig) *Pusher {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.MaxRejections <= 0 {
		cfg.MaxRejections = 5
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.SessionPatchInterval <= 0 {
		cfg.SessionPatchInterval = time.Minute
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Pusher{db: db, view: view, store: NewStore(db), client: cfg.Outbound.newClient(), cfg: cfg,
		log: log.With("component", "ocpi-pusher"), now: time.Now, announceAfter: map[uuid.UUID]announceBackoff{},
		lastPatch: map[string]time.Time{}, syncAfter: map[uuid.UUID]time.Time{}}
}

// pusherLock is the advisory lock key of the active pusher ("ocpipush").
const pusherLock = 0x6f637069_70757368

// Run pushes until ctx ends; it then returns nil once the pushes in flight have ended.
func (p *Pusher) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	if p.cfg.DatabaseURL != "" {
		l := pq.NewListener(p.cfg.DatabaseURL, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
			if err != nil {
				p.log.Warn("LISTEN connection problem; polling meanwhile", "err", err)
			}
		})
		defer l.Close()
		if err := l.Listen("ocpi_deliveries"); err != nil {
			p.log.Warn("cannot LISTEN for OCPI pushes; polling only", "err", err)
		} else {
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-l.Notify:
						select {
						case wake <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}
	conn, err := p.lead(ctx, wake)
	if err != nil || conn == nil {
		return err
	}
	defer func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, pusherLock)
		conn.Close()
	}()
	p.log.Info("OCPI pusher started")
	for {
		next, progressed, err := p.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.Error("OCPI push round failed", "err", err)
		}
		if progressed {
			continue
		}
		wait := p.cfg.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// lead waits until this pusher holds the advisory lock, on a connection of its own. It
// returns nil when ctx ends first.
func (p *Pusher) lead(ctx context.Context, wake <-chan struct{}) (*sql.Conn, error) {
	for {
		conn, err := p.db.Conn(ctx)
		if err == nil {
			var ok bool
			if err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, pusherLock).Scan(&ok); err == nil && ok {
				return conn, nil
			}
			conn.Close()
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if err != nil {
			p.log.Warn("OCPI pusher cannot reach the database", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(p.cfg.PollInterval):
		case <-wake:
		}
	}
}

// delivery is one queued push, with what is needed to send it: of a location copy
// (LocationSeq, LocationID), or of a tariff (TariffID, and the party it was queued under).
type delivery struct {
	ID            int64                            `db:"id"`
	PartnerID     string                           `db:"partner_id"`
	Kind          string                           `db:"kind"`
	LocationSeq   int64                            `db:"location_seq"`
	LocationID    string                           `db:"location_id"`
	EVSEUID       sql.NullString                   `db:"evse_uid"`
	TariffID      string                           `db:"tariff_id"`
	SessionID     string                           `db:"session_id"`
	CDRID         string                           `db:"cdr_id"`
	SessionsURL   string                           `db:"sessions_url"`
	CDRsURL       string                           `db:"cdrs_url"`
	CountryCode   string                           `db:"country_code"`
	PartyID       string                           `db:"party_id"`
	Attempts      int                              `db:"attempts"`
	NextAttemptAt time.Time                        `db:"next_attempt_at"`
	Token         string                           `db:"outbound_token"`
	LocationsURL  string                           `db:"locations_url"`
	TariffsURL    string                           `db:"tariffs_url"`
	PartnerRoles  database.JSON[[]CredentialsRole] `db:"roles"`
	Party         string                           `db:"party"`
	// Announced: our credentials named the copy's party to the partner. Current: the party
	// is one of the partner's scope now (when not announced, an update of our credentials
	// will name it).
	Announced bool `db:"announced"`
	Current   bool `db:"current"`
}

// round updates our credentials where a partner's scope gained or lost parties, then sends
// the first queued push of every (partner, location) and (partner, tariff) that is due. It returns the time the
// earliest waiting push is due (zero when none waits) and whether any push was settled
// (sent or dropped).
func (p *Pusher) round(ctx context.Context) (time.Time, bool, error) {
	next := p.announce(ctx)
	if p.cfg.Tokens != nil {
		if due := p.syncNewPartners(ctx); !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	if _, err := p.makeCDRs(ctx); err != nil && ctx.Err() == nil {
		p.log.Error("making CDRs failed", "err", err)
	}
	p.pruneAuthorizations(ctx)
	var heads []delivery
	// A location push goes under its copy's party, a tariff push under the party it was
	// queued under (location_id is NULL for tariff pushes and tariff_id for location pushes,
	// so each object is a queue of its own). Each session is a queue of its own too; the
	// CDRs of a partner are one queue, sent strictly in the order they were made (a credit
	// CDR before the CDR that replaces it).
	const q = `
	SELECT DISTINCT ON (d.partner_id, d.location_id, d.tariff_id, d.session_id, d.cdr_id IS NOT NULL)
		d.id, d.partner_id, d.kind, coalesce(d.location_seq, 0) AS location_seq,
		coalesce(d.location_id, '') AS location_id, d.evse_uid, coalesce(d.tariff_id, '') AS tariff_id,
		coalesce(d.session_id::text, '') AS session_id, coalesce(d.cdr_id, '') AS cdr_id,
		coalesce(pt.sessions_url, '') AS sessions_url, coalesce(pt.cdrs_url, '') AS cdrs_url,
		x.country_code, x.party_id, d.attempts, d.next_attempt_at,
		pt.outbound_token, coalesce(pt.locations_url, '') AS locations_url,
		coalesce(pt.tariffs_url, '') AS tariffs_url, pt.roles,
		upper(x.country_code || '*' || x.party_id) AS party,
		upper(x.country_code || '*' || x.party_id) = ANY(pt.announced_parties) AS announced,
		EXISTS (
			SELECT 1
			FROM ocpi_network_scope s
			JOIN networks n ON n.id = s.network_id
			WHERE s.ancestor_id = pt.network_id AND n.country_code = x.country_code AND n.party_id = x.party_id) AS current
	FROM ocpi_deliveries d
	JOIN ocpi_partners pt ON pt.id = d.partner_id
	LEFT JOIN ocpi_locations c ON c.seq = d.location_seq
	CROSS JOIN LATERAL (SELECT coalesce(c.country_code, d.country_code) AS country_code,
		coalesce(c.party_id, d.party_id) AS party_id) x
	WHERE pt.state = 'REGISTERED' AND pt.outbound_token IS NOT NULL
		AND ((d.location_seq IS NOT NULL AND pt.locations_url IS NOT NULL)
			OR (d.tariff_id IS NOT NULL AND pt.tariffs_url IS NOT NULL)
			OR (d.session_id IS NOT NULL AND pt.sessions_url IS NOT NULL)
			OR (d.cdr_id IS NOT NULL AND pt.cdrs_url IS NOT NULL))
	ORDER BY d.partner_id, d.location_id, d.tariff_id, d.session_id, d.cdr_id IS NOT NULL, d.id`
	if err := p.db.SelectContext(ctx, &heads, q); err != nil {
		return time.Time{}, false, fmt.Errorf("read OCPI push queue: %w", database.Translate(err))
	}
	var (
		mu         sync.Mutex
		progressed bool
		wg         sync.WaitGroup
		sem        = make(chan struct{}, p.cfg.Workers)
	)
	dbNow, err := p.dbNow(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, h := range heads {
		if !h.Announced && h.Current {
			continue // waits for the credentials update that names its party (announce)
		}
		if h.NextAttemptAt.After(dbNow) {
			due := p.now().Add(h.NextAttemptAt.Sub(dbNow))
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(h delivery) {
			defer func() { <-sem; wg.Done() }()
			var done bool
			var err error
			if !h.Announced {
				// The party is neither named in our credentials nor ours any more (it changed
				// before the partner was told of it): the partner cannot take a push under it.
				p.log.Warn("OCPI push under a party the partner was never told of; dropped",
					"partner", h.PartnerID, "location", h.LocationID, "tariff", h.TariffID, "party", h.Party)
				done, err = true, p.settle(ctx, []int64{h.ID})
			} else if h.TariffID != "" {
				done, err = p.deliverTariff(ctx, h)
			} else if h.SessionID != "" {
				done, err = p.deliverSession(ctx, h)
			} else if h.CDRID != "" {
				done, err = p.deliverCDR(ctx, h)
			} else {
				done, err = p.deliver(ctx, h)
			}
			if err != nil && ctx.Err() == nil {
				p.log.Error("OCPI push bookkeeping failed", "delivery", h.ID, "err", err)
			}
			if done {
				mu.Lock()
				progressed = true
				mu.Unlock()
			}
		}(h)
	}
	wg.Wait()
	if progressed {
		next = time.Time{}
	}
	return next, progressed, nil
}

// announce updates our credentials at every registered partner whose scope's parties are not
// the ones our credentials named (see Pusher), unless its last attempt failed a short while
// ago. It returns when the earliest held-back partner is due (zero when none is).
func (p *Pusher) announce(ctx context.Context) time.Time {
	partners, current, err := p.store.staleAnnouncements(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("OCPI credentials updates: cannot read partners", "err", err)
		}
		return time.Time{}
	}
	var next time.Time
	now := p.now()
	for i, pt := range partners {
		if b, ok := p.announceAfter[pt.ID]; ok && now.Before(b.at) {
			if next.IsZero() || b.at.Before(next) {
				next = b.at
			}
			continue
		}
		err := p.updateCredentials(ctx, pt)
		if ctx.Err() != nil {
			return time.Time{}
		}
		if err == nil {
			delete(p.announceAfter, pt.ID)
			p.log.Info("OCPI credentials updated at the partner", "partner", pt.ID, "parties", current[i])
			continue
		}
		b := p.announceAfter[pt.ID]
		b.failures++
		backoff := p.cfg.MinBackoff << min(b.failures-1, 20)
		if backoff <= 0 || backoff > p.cfg.MaxBackoff {
			backoff = p.cfg.MaxBackoff
		}
		b.at = now.Add(backoff)
		p.announceAfter[pt.ID] = b
		if next.IsZero() || b.at.Before(next) {
			next = b.at
		}
		p.log.Warn("OCPI credentials update failed; pushes under new parties wait", "partner", pt.ID,
			"retry_in", backoff, "err", err)
	}
	return next
}

// updateCredentials sends our credentials, with the roles of partner pt's scope and a new
// token for it, to its credentials endpoint (PUT), and keeps what it answers: its new token
// for us, its roles and, if it moved its versions URL, its endpoints.
func (p *Pusher) updateCredentials(ctx context.Context, pt Partner) error {
	credsURL := endpointURL(pt.Endpoints, "credentials", "")
	if credsURL == "" {
		return errors.New("the partner lists no credentials endpoint")
	}
	ourURL := pt.OurVersionsURL
	if ourURL == "" && p.cfg.PublicURL != "" {
		ourURL = strings.TrimRight(p.cfg.PublicURL, "/") + "/ocpi/versions"
	}
	if ourURL == "" {
		return errors.New("our versions URL is unknown: set EVROAM_PUBLIC_URL")
	}
	roles, err := p.store.ourRoles(ctx, pt.NetworkID)
	if err != nil {
		return err
	}
	token := newToken()
	if err := p.store.offerToken(ctx, pt.ID, hashToken(token)); err != nil {
		return err
	}
	fail := func(err error) error {
		if werr := p.store.withdrawToken(context.WithoutCancel(ctx), pt.ID, hashToken(token), "credentials update: "+err.Error()); werr != nil {
			p.log.Error("withdraw the token of a failed OCPI credentials update", "partner", pt.ID, "err", werr)
		}
		return err
	}
	var theirs Credentials
	if err := p.client.do(ctx, http.MethodPut, credsURL, pt.OutboundToken, Credentials{Token: token, URL: ourURL, Roles: roles}, &theirs); err != nil {
		return fail(err)
	}
	if err := web.Validate(&theirs); err != nil {
		return fail(fmt.Errorf("the partner answered invalid credentials: %w", err))
	}
	endpoints := pt.Endpoints
	if theirs.URL != pt.PartnerVersionsURL {
		details, err := discover(ctx, p.client, theirs.URL, theirs.Token)
		if err != nil {
			return fail(err)
		}
		endpoints = details.Endpoints
	}
	reg := registration{
		InboundToken: token, OutboundToken: theirs.Token, PartnerVersionsURL: theirs.URL, Version: Version,
		Endpoints: endpoints, Roles: theirs.Roles, Announced: parties(roles), OurVersionsURL: ourURL,
	}
	if err := p.store.setRegistered(ctx, pt.ID, StateRegistered, "next_inbound_token_hash", hashToken(token), reg); err != nil {
		return fmt.Errorf("record the credentials update: %w", err)
	}
	return nil
}

func (p *Pusher) dbNow(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := p.db.GetContext(ctx, &t, `SELECT now()`); err != nil {
		return time.Time{}, fmt.Errorf("read database clock: %w", database.Translate(err))
	}
	return t, nil
}

// deliver sends head (and the identical pushes right behind it). It reports whether the push
// was settled: accepted by the partner, or dropped.
func (p *Pusher) deliver(ctx context.Context, head delivery) (bool, error) {
	// The run of identical pushes that this one send covers.
	var group []struct {
		ID          int64          `db:"id"`
		Kind        string         `db:"kind"`
		LocationSeq int64          `db:"location_seq"`
		EVSEUID     sql.NullString `db:"evse_uid"`
	}
	const q = `
	SELECT id, kind, location_seq, evse_uid FROM ocpi_deliveries
	WHERE partner_id = $1 AND location_id = $2 AND id >= $3
	ORDER BY id`
	if err := p.db.SelectContext(ctx, &group, q, head.PartnerID, head.LocationID, head.ID); err != nil {
		return false, fmt.Errorf("read pushes of location %s: %w", head.LocationID, database.Translate(err))
	}
	ids := []int64{head.ID}
	for _, g := range group[min(1, len(group)):] {
		if g.Kind != head.Kind || g.LocationSeq != head.LocationSeq || g.EVSEUID != head.EVSEUID {
			break
		}
		ids = append(ids, g.ID)
	}

	// The state is read after the queue, so it includes every change queued above.
	loc, err := p.view.copy(ctx, head.LocationSeq)
	if errors.Is(err, errUnknownLocation) {
		return true, p.settle(ctx, ids) // cannot happen: copies are never deleted
	}
	if err != nil {
		return false, err
	}
	headers := []string{"OCPI-from-country-code", loc.CountryCode, "OCPI-from-party-id", loc.PartyID}
	if roles := head.PartnerRoles.V; len(roles) > 0 {
		headers = append(headers, "OCPI-to-country-code", roles[0].CountryCode, "OCPI-to-party-id", roles[0].PartyID)
	}
	locTarget := p.target(head.LocationsURL, loc.CountryCode, loc.PartyID, loc.ID)
	var sendErr error
	if e, ok := loc.FindEVSE(head.EVSEUID.String); head.Kind == "evse_status" && ok {
		patch := evseStatusPatch{Status: string(e.Status), LastUpdated: e.LastUpdated}
		sendErr = p.client.do(ctx, http.MethodPatch, locTarget+"/"+url.PathEscape(e.UID), head.Token, patch, nil, headers...)
		var ce *callError
		if errors.As(sendErr, &ce) && ce.unknownObject() {
			// The receiver does not know the location or the EVSE (it missed a PUT, or lost
			// its data): it gets the whole location instead. The PATCH is neither retried
			// nor counted as refused.
			p.log.Info("OCPI partner does not know the location of a PATCH; sending it whole",
				"partner", head.PartnerID, "location", head.LocationID, "err", sendErr)
			if err := p.becomePut(ctx, head.ID); err != nil {
				return false, err
			}
			head.Kind, head.EVSEUID = "location", sql.NullString{}
			sendErr = p.client.do(ctx, http.MethodPut, locTarget, head.Token, loc, nil, headers...)
		}
	} else {
		sendErr = p.client.do(ctx, http.MethodPut, locTarget, head.Token, loc, nil, headers...)
	}
	return p.outcome(ctx, head, ids, sendErr)
}

// outcome settles the pushes ids (head and the identical ones behind it) that one send
// covered: removed when the partner accepted them, or refused them once too often;
// otherwise head waits for its next attempt, with exponential backoff.
func (p *Pusher) outcome(ctx context.Context, head delivery, ids []int64, sendErr error) (bool, error) {
	if sendErr == nil {
		p.stats.Sent.Add(1)
		return true, p.settle(ctx, ids)
	}
	if ctx.Err() != nil {
		return false, nil // shutting down: the push stays queued
	}
	p.stats.Failed.Add(1)
	attempts := head.Attempts + 1
	var ce *callError
	if errors.As(sendErr, &ce) && ce.permanent() && attempts >= p.cfg.MaxRejections {
		p.stats.Dropped.Add(1)
		p.log.Warn("OCPI partner keeps refusing a push; dropped (the partner can resync by GET)",
			"partner", head.PartnerID, "location", head.LocationID, "tariff", head.TariffID, "kind", head.Kind,
			"attempts", attempts, "err", sendErr, "partner_message", partnerMessage(sendErr))
		return true, p.settle(ctx, ids)
	}
	backoff := p.cfg.MinBackoff << min(attempts-1, 20)
	if backoff <= 0 || backoff > p.cfg.MaxBackoff {
		backoff = p.cfg.MaxBackoff
	}
	p.log.Info("OCPI push failed; will retry", "partner", head.PartnerID, "location", head.LocationID,
		"tariff", head.TariffID, "kind", head.Kind, "attempts", attempts, "retry_in", backoff, "err", sendErr,
		"partner_message", partnerMessage(sendErr))
	const upd = `
	UPDATE ocpi_deliveries
	SET attempts = $2, next_attempt_at = now() + $3 * interval '1 microsecond', last_error = $4
	WHERE id = $1`
	if _, err := p.db.ExecContext(ctx, upd, head.ID, attempts, backoff.Microseconds(), sendErr.Error()); err != nil {
		return false, fmt.Errorf("reschedule push %d: %w", head.ID, database.Translate(err))
	}
	return false, nil
}

// deliverTariff sends head, a tariff push (and the identical pushes right behind it): a PUT of
// the tariff as it is now, or a DELETE. It reports whether the push was settled.
func (p *Pusher) deliverTariff(ctx context.Context, head delivery) (bool, error) {
	var group []struct {
		ID   int64  `db:"id"`
		Kind string `db:"kind"`
	}
	const q = `
	SELECT id, kind FROM ocpi_deliveries
	WHERE partner_id = $1 AND tariff_id = $2 AND id >= $3
	ORDER BY id`
	if err := p.db.SelectContext(ctx, &group, q, head.PartnerID, head.TariffID, head.ID); err != nil {
		return false, fmt.Errorf("read pushes of tariff %s: %w", head.TariffID, database.Translate(err))
	}
	ids := []int64{head.ID}
	for _, g := range group[min(1, len(group)):] {
		if g.Kind != head.Kind {
			break
		}
		ids = append(ids, g.ID)
	}
	headers := []string{"OCPI-from-country-code", head.CountryCode, "OCPI-from-party-id", head.PartyID}
	if roles := head.PartnerRoles.V; len(roles) > 0 {
		headers = append(headers, "OCPI-to-country-code", roles[0].CountryCode, "OCPI-to-party-id", roles[0].PartyID)
	}
	var sendErr error
	switch head.Kind {
	case "tariff":
		// The state is read after the queue, so it includes every change queued above.
		t, found, err := p.view.tariff(ctx, head.TariffID)
		if err != nil {
			return false, err
		}
		if !found {
			// Deleted since: its DELETE is queued behind this push, which has nothing to send.
			return true, p.settle(ctx, ids)
		}
		if t.CountryCode != head.CountryCode || t.PartyID != head.PartyID {
			// Its network changed party since: that change queued a DELETE under the old
			// party and a PUT under the new one, behind this push, which is obsolete.
			return true, p.settle(ctx, ids)
		}
		target := p.target(head.TariffsURL, t.CountryCode, t.PartyID, t.ID)
		sendErr = p.client.do(ctx, http.MethodPut, target, head.Token, t, nil, headers...)
	case "tariff_delete":
		target := p.target(head.TariffsURL, head.CountryCode, head.PartyID, head.TariffID)
		sendErr = p.client.do(ctx, http.MethodDelete, target, head.Token, nil, nil, headers...)
		var ce *callError
		if errors.As(sendErr, &ce) && ce.unknownObject() {
			sendErr = nil // the partner does not have it: what the DELETE wanted
		}
	default:
		p.log.Error("OCPI push of an unknown kind; dropped", "delivery", head.ID, "kind", head.Kind)
		return true, p.settle(ctx, ids)
	}
	return p.outcome(ctx, head, ids, sendErr)
}

// becomePut turns queued push id (an EVSE PATCH) into a PUT of its location, so that if the
// PUT fails too, it is the PUT that is retried.
func (p *Pusher) becomePut(ctx context.Context, id int64) error {
	const q = `UPDATE ocpi_deliveries SET kind = 'location', evse_uid = NULL WHERE id = $1`
	if _, err := p.db.ExecContext(ctx, q, id); err != nil {
		return fmt.Errorf("turn push %d into a PUT: %w", id, database.Translate(err))
	}
	return nil
}

// evseStatusPatch is the body of an EVSE status PATCH: OCPI asks every PATCH to carry
// last_updated.
type evseStatusPatch struct {
	Status      string `json:"status"`
	LastUpdated string `json:"last_updated"`
}

// target is the URL of an object in a partner's receiver: base/{country_code}/{party_id}/{id}.
func (p *Pusher) target(base, countryCode, partyID, locationID string) string {
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + "/" + url.PathEscape(countryCode) + "/" + url.PathEscape(partyID) + "/" + url.PathEscape(locationID)
}

func (p *Pusher) settle(ctx context.Context, ids []int64) error {
	if _, err := p.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM ocpi_deliveries WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
		return fmt.Errorf("remove sent pushes: %w", database.Translate(err))
	}
	return nil
}
