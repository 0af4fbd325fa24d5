package ocpi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PushConfig tunes the Pusher. Zero values take the defaults.
type PushConfig struct {
	// DatabaseURL, when set, lets the pusher LISTEN for new pushes (the triggers NOTIFY
	// ocpi_deliveries) instead of finding them at the next poll.
	DatabaseURL  string
	HTTPClient   *http.Client  // default: 15 s timeout
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
}

// Pusher sends the pushes the triggers queue in ocpi_deliveries to the partners' Locations
// receivers: a PUT of the Location (as it is when sent) or a PATCH of an EVSE's status. The
// pushes of one partner and location go strictly in queue order; a failed push is retried
// with exponential backoff and holds back the later ones of its location, not those of other
// locations or partners. Consecutive pushes of the same kind and object are sent once (they
// carry the current state anyway). A push is removed only once the partner accepted it, so a
// restart loses none (and may send one twice). One pusher per database is active: it holds an
// advisory lock, and the pushers of other nodes wait for it.
type Pusher struct {
	db     *sqlx.DB
	view   *View
	client *client
	cfg    PushConfig
	log    *slog.Logger
	now    func() time.Time
	stats  PushStats
}

// NewPusher returns a Pusher; start it with Run.
func NewPusher(db *sqlx.DB, view *View, cfg PushConfig) *Pusher {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
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
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Pusher{db: db, view: view, client: &client{http: cfg.HTTPClient}, cfg: cfg, log: log.With("component", "ocpi-pusher"), now: time.Now}
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

// delivery is one queued push, with what is needed to send it.
type delivery struct {
	ID            int64                            `db:"id"`
	PartnerID     string                           `db:"partner_id"`
	Kind          string                           `db:"kind"`
	LocationID    string                           `db:"location_id"`
	EVSEUID       sql.NullString                   `db:"evse_uid"`
	Attempts      int                              `db:"attempts"`
	NextAttemptAt time.Time                        `db:"next_attempt_at"`
	Token         string                           `db:"outbound_token"`
	LocationsURL  string                           `db:"locations_url"`
	PartnerRoles  database.JSON[[]CredentialsRole] `db:"roles"`
}

// round sends the first queued push of every (partner, location) that is due. It returns the
// time the earliest waiting push is due (zero when none waits) and whether any push was
// settled (sent or dropped).
func (p *Pusher) round(ctx context.Context) (time.Time, bool, error) {
	var heads []delivery
	const q = `
	SELECT DISTINCT ON (d.partner_id, d.location_id)
		d.id, d.partner_id, d.kind, d.location_id, d.evse_uid, d.attempts, d.next_attempt_at,
		pt.outbound_token, pt.locations_url, pt.roles
	FROM ocpi_deliveries d
	JOIN ocpi_partners pt ON pt.id = d.partner_id
	WHERE pt.state = 'REGISTERED' AND pt.locations_url IS NOT NULL AND pt.outbound_token IS NOT NULL
	ORDER BY d.partner_id, d.location_id, d.id`
	if err := p.db.SelectContext(ctx, &heads, q); err != nil {
		return time.Time{}, false, fmt.Errorf("read OCPI push queue: %w", database.Translate(err))
	}
	var (
		next       time.Time
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
			done, err := p.deliver(ctx, h)
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
		ID      int64          `db:"id"`
		Kind    string         `db:"kind"`
		EVSEUID sql.NullString `db:"evse_uid"`
	}
	const q = `
	SELECT id, kind, evse_uid FROM ocpi_deliveries
	WHERE partner_id = $1 AND location_id = $2 AND id >= $3
	ORDER BY id`
	if err := p.db.SelectContext(ctx, &group, q, head.PartnerID, head.LocationID, head.ID); err != nil {
		return false, fmt.Errorf("read pushes of location %s: %w", head.LocationID, database.Translate(err))
	}
	ids := []int64{head.ID}
	for _, g := range group[min(1, len(group)):] {
		if g.Kind != head.Kind || g.EVSEUID != head.EVSEUID {
			break
		}
		ids = append(ids, g.ID)
	}

	// The state is read after the queue, so it includes every change queued above.
	loc, err := p.view.Get(ctx, head.LocationID)
	if errors.Is(err, errUnknownLocation) {
		return true, p.settle(ctx, ids) // no longer published: nothing to say
	}
	if err != nil {
		return false, err
	}
	target := p.target(head.LocationsURL, loc.CountryCode, loc.PartyID, loc.ID)
	method, body := http.MethodPut, any(loc)
	if head.Kind == "evse_status" {
		e, ok := loc.FindEVSE(head.EVSEUID.String)
		if !ok {
			return true, p.settle(ctx, ids)
		}
		target += "/" + url.PathEscape(e.UID)
		method, body = http.MethodPatch, evseStatusPatch{Status: string(e.Status), LastUpdated: e.LastUpdated}
	}
	headers := []string{"OCPI-from-country-code", loc.CountryCode, "OCPI-from-party-id", loc.PartyID}
	if roles := head.PartnerRoles.V; len(roles) > 0 {
		headers = append(headers, "OCPI-to-country-code", roles[0].CountryCode, "OCPI-to-party-id", roles[0].PartyID)
	}
	sendErr := p.client.do(ctx, method, target, head.Token, body, nil, headers...)
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
			"partner", head.PartnerID, "location", head.LocationID, "kind", head.Kind, "attempts", attempts, "err", sendErr)
		return true, p.settle(ctx, ids)
	}
	backoff := p.cfg.MinBackoff << min(attempts-1, 20)
	if backoff <= 0 || backoff > p.cfg.MaxBackoff {
		backoff = p.cfg.MaxBackoff
	}
	p.log.Info("OCPI push failed; will retry", "partner", head.PartnerID, "location", head.LocationID,
		"kind", head.Kind, "attempts", attempts, "retry_in", backoff, "err", sendErr)
	const upd = `
	UPDATE ocpi_deliveries
	SET attempts = $2, next_attempt_at = now() + $3 * interval '1 microsecond', last_error = $4
	WHERE id = $1`
	if _, err := p.db.ExecContext(ctx, upd, head.ID, attempts, backoff.Microseconds(), sendErr.Error()); err != nil {
		return false, fmt.Errorf("reschedule push %d: %w", head.ID, database.Translate(err))
	}
	return false, nil
}

// evseStatusPatch is the body of an EVSE status PATCH: OCPI asks every PATCH to carry
// last_updated.
type evseStatusPatch struct {
	Status      string `json:"status"`
	LastUpdated string `json:"last_updated"`
}

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
