package chargestations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/batch"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/locations"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/templates"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the charge-station rules and their transaction boundaries: a station and its
// EVSEs are always written together.
type Service struct {
	db        *sqlx.DB
	store     *Store
	evses     *evse.Store
	locations *locations.Store
	templates *templates.Store
	tariffs   evse.TariffIndex
	passwords *secret.Passwords
	answers   *AnswerCache
	now       func() time.Time
	// creates, when set, commits concurrent creations together (creator.go).
	creates  *batch.Batcher[*creation]
	groupLog *slog.Logger // GroupCreates' log
}

// NewService returns a Service. tariffs checks the tariffs a station refers to; passwords
// makes the stored form of ocpp_password (it is the gateway's too, so that both agree on the
// key); answers may be nil (no cache); now may be nil (time.Now).
func NewService(db *sqlx.DB, store *Store, evses *evse.Store, locs *locations.Store, tpls *templates.Store,
	tariffs evse.TariffIndex, passwords *secret.Passwords, answers *AnswerCache, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if passwords == nil {
		passwords = &secret.Passwords{}
	}
	return &Service{db: db, store: store, evses: evses, locations: locs, templates: tpls, tariffs: tariffs, passwords: passwords,
		answers: answers, now: now}
}

// storePassword makes the stored form of station identity's new ocpp_password (bcrypt: slow on
// purpose, so handlers call it before taking a row lock).
func (s *Service) storePassword(identity, plain string) (secret.Stored, error) {
	return s.passwords.Store(identity, plain)
}

// Get returns a visible station with its EVSEs, as it is now. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, id string) (ChargeStation, error) {
	return s.store.Get(ctx, visible, id)
}

// List returns a page of visible stations with their EVSEs, and the total and next page.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]ChargeStation, paging.Meta, error) {
	return s.store.List(ctx, visible, f, p)
}

// ListEntries returns which stations a list page holds and the version of each one's row,
// with the page's total and cursor (Store.ListEntries).
func (s *Service) ListEntries(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]PageEntry, paging.Meta, error) {
	return s.store.ListEntries(ctx, visible, f, p)
}

// GetMany returns those of stations ids whose network is visible, in no particular order.
func (s *Service) GetMany(ctx context.Context, visible []uuid.UUID, ids []string) ([]ChargeStation, error) {
	return s.store.GetMany(ctx, visible, ids)
}

// Create registers a new station from d (its id is d.Station.ID). Errors: ErrIDTaken,
// apperr.FieldErrors (location_id not visible, tariffs not of the location's network),
// templates.ErrNotFound, evse.ErrUIDTaken.
func (s *Service) Create(ctx context.Context, visible []uuid.UUID, d Draft) (ChargeStation, error) {
	cs, _, err := s.save(ctx, visible, d.Station.ID, true, func(*ChargeStation) (Draft, error) { return d, nil })
	return cs, err
}

// Put creates station id or replaces it, under the station's row lock. build receives the
// current station with its EVSEs (nil when there is none) and returns the draft to store, or
// an error that aborts (a missing or stale etag, invalid fields; when build returns
// apperr.FieldErrors together with a draft naming a location, an invisible location is added
// to them, so one 422 names every bad field). Concurrent Puts of one station run one after
// the other, each on the result of the previous. created tells which happened.
// Errors: as Create, and build's.
func (s *Service) Put(ctx context.Context, visible []uuid.UUID, id string, build func(cur *ChargeStation) (Draft, error)) (ChargeStation, bool, error) {
	return s.save(ctx, visible, id, false, build)
}

func (s *Service) save(ctx context.Context, visible []uuid.UUID, id string, createOnly bool,
	build func(cur *ChargeStation) (Draft, error)) (ChargeStation, bool, error) {
	if createOnly && s.creates != nil {
		c := &creation{visible: visible, id: id, build: build}
		err := s.creates.Write(ctx, c)
		return c.out, err == nil, err
	}
	return s.saveAlone(ctx, visible, id, createOnly, build)
}

// saveAlone is save in a transaction of its own.
func (s *Service) saveAlone(ctx context.Context, visible []uuid.UUID, id string, createOnly bool,
	build func(cur *ChargeStation) (Draft, error)) (out ChargeStation, created bool, err error) {
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) (err error) {
		out, created, err = s.saveIn(ctx, tx, visible, id, createOnly, build)
		return err
	})
	if err == nil {
		s.answers.Forget(id) // after the commit: this node's next read sees the write
	}
	return out, created, err
}

// saveIn is save's work in tx.
func (s *Service) saveIn(ctx context.Context, tx *sqlx.Tx, visible []uuid.UUID, id string, createOnly bool,
	build func(cur *ChargeStation) (Draft, error)) (ChargeStation, bool, error) {
	st, ev := s.store.WithTx(tx), s.evses.WithTx(tx)
	var cur *ChargeStation
	var c ChargeStation
	err := ErrNotFound
	if schema.ValidChargeStationID(id) { // an invalid id (reported by build) is never stored
		c, err = st.GetForUpdate(ctx, visible, id)
	}
	switch {
	case err == nil:
		if createOnly {
			return ChargeStation{}, false, ErrIDTaken
		}
		cur = &c
	case !errors.Is(err, ErrNotFound):
		return ChargeStation{}, false, err
	}

	d, err := build(cur)
	var problems apperr.FieldErrors
	if err != nil && !errors.As(err, &problems) {
		return ChargeStation{}, false, err
	}
	var network uuid.UUID
	if d.Station.LocationID != "" {
		loc, lerr := s.locations.WithTx(tx).Get(ctx, visible, d.Station.LocationID)
		switch {
		case errors.Is(lerr, locations.ErrNotFound):
			problems.Add("location_id", "no such location")
		case lerr != nil:
			return ChargeStation{}, false, lerr
		default:
			network = loc.NetworkID
			// The tariffs it names must be tariffs of that network (they stay until
			// this transaction ends).
			bad, err := evse.CheckTariffRefs(ctx, tx, s.tariffs, network, d.TariffRefs)
			if err != nil {
				return ChargeStation{}, false, err
			}
			problems = evse.AddProblems(problems, bad)
		}
	}
	if len(problems) > 0 {
		return ChargeStation{}, false, problems
	}

	var tpl *templates.Template
	if d.TemplateID != "" {
		t, err := s.templates.WithTx(tx).Get(ctx, visible, d.TemplateID)
		if err != nil {
			return ChargeStation{}, false, err
		}
		tpl = &t
	}
	now := database.Timestamp(s.now())
	next, evses := stationOf(id, network, d, tpl, cur, now)
	var old []evse.EVSE
	if cur == nil {
		err = st.Create(ctx, next)
	} else {
		old = cur.EVSEs
		err = st.Update(ctx, next)
	}
	if err != nil {
		return ChargeStation{}, false, err
	}
	if next.EVSEs, _, err = ev.Replace(ctx, id, old, evses, now); err != nil {
		var taken evse.EVSEIDTakenError
		if errors.As(err, &taken) {
			return ChargeStation{}, false, evseIDProblems(evses, taken)
		}
		return ChargeStation{}, false, err
	}
	return next, cur == nil, nil
}

// stationOf is the station d describes, to be stored at now in network, replacing cur (nil
// when there is none), and its EVSEs: d's, or tpl's when it is copied from a template
// (uids filled in).
func stationOf(id string, network uuid.UUID, d Draft, tpl *templates.Template, cur *ChargeStation, now time.Time) (ChargeStation, []evse.EVSE) {
	evses := d.EVSEs
	if tpl != nil {
		evses = FromTemplate(id, *tpl)
	}
	for i := range evses {
		if evses[i].UID == "" {
			evses[i].UID = evse.GeneratedUID(id, evses[i].SequenceNumber)
		}
	}
	next := d.Station
	next.ID, next.NetworkID = id, network
	next.ETag, next.LastUpdated, next.StationUpdated = uuid.New(), now, now
	if cur != nil {
		next.Created, next.Gateway, next.PasswordHash, next.PasswordVerifier = cur.Created, cur.Gateway, cur.PasswordHash, cur.PasswordVerifier
	} else {
		next.Created, next.Gateway = now, Gateway{OnboardingState: schema.OnboardingPending}
	}
	if d.SetPassword {
		next.PasswordHash, next.PasswordVerifier = d.Password.Hash, d.Password.Verifier
	}
	return next, evses
}

// evseIDProblems names the evses whose evse_id another EVSE has, by their place in the
// write ("evses[1].evse_id").
func evseIDProblems(evses []evse.EVSE, taken evse.EVSEIDTakenError) apperr.FieldErrors {
	var problems apperr.FieldErrors
	for i, e := range evses {
		if slices.Contains(taken.UIDs, e.UID) {
			problems.Add(fmt.Sprintf("evses[%d].evse_id", i), evse.EVSEIDTakenMessage)
		}
	}
	return problems
}

// FromTemplate copies a hardware template's EVSEs and connectors for station id. The copy is
// the station's own: later changes to the template do not reach it.
func FromTemplate(id string, t templates.Template) []evse.EVSE {
	out := make([]evse.EVSE, len(t.EVSETemplates))
	for i, et := range t.EVSETemplates {
		e := evse.EVSE{
			UID:            evse.GeneratedUID(id, et.EVSESequenceNumber),
			SequenceNumber: et.EVSESequenceNumber,
			Capabilities:   append([]schema.Capability(nil), et.Capabilities...),
		}
		for _, ct := range et.ConnectorTemplates {
			c := evse.Connector{ID: ct.ID, Standard: ct.Standard, Format: ct.Format, Internal: ct.Internal,
				PowerType: ct.PowerType, MaxVoltage: ct.MaxVoltage, MaxAmperage: ct.MaxAmperage}
			if ct.MaxElectricPower != nil {
				p := *ct.MaxElectricPower
				c.MaxElectricPower = &p
			}
			e.Connectors = append(e.Connectors, c)
		}
		out[i] = e
	}
	return out
}

// Delete removes a visible station and its EVSEs. Errors: ErrNotFound.
func (s *Service) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	err := s.store.Delete(ctx, visible, id)
	s.answers.Forget(id)
	return err
}

// CommandTarget returns the protocol version of station id's current (or last) OCPP
// connection ("" when it never connected), provided its network is visible: what a charger
// command needs to know of a station. It is read once and then kept in the answer cache (an
// entry without a body), which every change of the station row clears, so commands to a
// station cost no read of it. Errors: ErrNotFound.
func (s *Service) CommandTarget(ctx context.Context, visible []uuid.UUID, id string) (schema.ProtocolVersion, error) {
	if a, ok := s.answers.entry(id); ok {
		if !slices.Contains(visible, a.NetworkID) {
			return "", ErrNotFound
		}
		return a.Protocol, nil
	}
	epoch := s.answers.Epoch(id)
	network, proto, err := s.store.CommandTarget(ctx, visible, id)
	if err != nil {
		return "", err
	}
	s.answers.Keep(id, epoch, CachedAnswer{NetworkID: network, Protocol: proto})
	return proto, nil
}

// Answers is the service's cache of rendered station answers (nil when there is none).
func (s *Service) Answers() *AnswerCache { return s.answers }

// ---- Password rotation (charger command POST /chargers/{id}/password). The command offers
// the new password before it is sent, so that a station that takes it and reconnects at once
// is let in, and confirms or withdraws it by the station's answer; logins settle the rest
// (stationreports). The returned token names the offered password in the later calls.

// OfferPassword lets station identity log in with password from now on, alongside its
// current one. Errors: ErrNotFound.
func (s *Service) OfferPassword(ctx context.Context, identity, password string) (token string, err error) {
	stored, err := s.storePassword(identity, password)
	if err != nil {
		return "", err
	}
	if err := s.store.OfferPassword(ctx, identity, stored.Hash, stored.Verifier); err != nil {
		return "", err
	}
	return stored.Hash, nil
}

// ConfirmPassword makes the offered password the station's current one: the station
// accepted it. The previous one is still accepted until the station logs in with the new
// one. Errors: ErrRotationSuperseded.
func (s *Service) ConfirmPassword(ctx context.Context, identity, token string) error {
	return s.store.ConfirmPassword(ctx, identity, token)
}

// WithdrawPassword forgets the offered password: the station refused it or was not
// connected. Errors: ErrRotationSuperseded.
func (s *Service) WithdrawPassword(ctx context.Context, identity, token string) error {
	return s.store.WithdrawPassword(ctx, identity, token)
}

// ---- Security profile upgrade (charger command POST /chargers/{id}/security-profile; the
// login that completes it is stationreports').

// BeginProfileUpgrade records profile as the station's pending profile. Errors: ErrNotFound;
// a field error on "profile" when the station cannot move to it.
func (s *Service) BeginProfileUpgrade(ctx context.Context, identity string, profile schema.SecurityProfile) error {
	return s.store.BeginProfileUpgrade(ctx, identity, profile)
}

// FailProfileUpgrade records that the station refused the upgrade to profile.
func (s *Service) FailProfileUpgrade(ctx context.Context, identity string, profile schema.SecurityProfile, reason string) error {
	return s.store.FailProfileUpgrade(ctx, identity, profile, reason)
}
