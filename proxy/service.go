package proxy

import (
	"context"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/secret"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the rules of operators: isolation by the caller's networks, one Billing
// operator per station, passwords sealed under EVROAM_SECRET_KEY.
type Service struct {
	db    *sqlx.DB
	store *Store
	key   *secret.Key // nil: passwords cannot be set
	now   func() time.Time
}

// NewService returns a Service. key seals and opens operator passwords (nil: a password
// cannot be set, and one on record cannot be opened).
func NewService(db *sqlx.DB, store *Store, key *secret.Key, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, store: store, key: key, now: now}
}

// ErrNoKey is the password field's error when the server has no EVROAM_SECRET_KEY.
var errNoKey = apperr.FieldErrors{{Field: "password", Message: "cannot be stored: the server has no EVROAM_SECRET_KEY to encrypt it with"}}

// List returns a visible station's operators. Errors: ErrStationNotFound.
func (s *Service) List(ctx context.Context, visible []uuid.UUID, station string) ([]Operator, error) {
	if err := s.store.StationVisible(ctx, visible, station, false); err != nil {
		return nil, err
	}
	return s.store.List(ctx, station)
}

// Get returns one operator of a visible station. Errors: ErrStationNotFound, ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, station string, id uuid.UUID) (Operator, error) {
	if err := s.store.StationVisible(ctx, visible, station, false); err != nil {
		return Operator{}, err
	}
	return s.store.Get(ctx, station, id)
}

func (s *Service) seal(w Write, id uuid.UUID, current []byte) ([]byte, error) {
	if !w.SetPassword {
		return current, nil
	}
	if w.Password == "" {
		return nil, nil
	}
	if s.key == nil {
		return nil, errNoKey
	}
	return s.key.Seal(w.Password, id.String()), nil
}

// Create adds an operator to a visible station. Errors: ErrStationNotFound, ErrSecondBilling,
// a FieldErrors for a password without a server key.
func (s *Service) Create(ctx context.Context, visible []uuid.UUID, station string, w Write) (Operator, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	o := Operator{ID: uuid.New(), StationID: station, Name: w.Name, URL: w.URL, Role: w.Role, Identity: w.Identity,
		Enabled: w.Enabled, Created: now, LastUpdated: now}
	sealed, err := s.seal(w, o.ID, nil)
	if err != nil {
		return Operator{}, err
	}
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		if err := st.StationVisible(ctx, visible, station, true); err != nil {
			return err
		}
		return st.Create(ctx, o, sealed)
	})
	if err != nil {
		return Operator{}, err
	}
	return s.store.Get(ctx, station, o.ID)
}

// Update changes an operator under its row lock: change gets the current operator and
// returns what to write. Errors: ErrStationNotFound, ErrNotFound, ErrSecondBilling, and
// change's.
func (s *Service) Update(ctx context.Context, visible []uuid.UUID, station string, id uuid.UUID, change func(Operator) (Write, error)) (Operator, error) {
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		if err := st.StationVisible(ctx, visible, station, true); err != nil {
			return err
		}
		cur, sealed, err := st.Sealed(ctx, station, id)
		if err != nil {
			return err
		}
		w, err := change(cur)
		if err != nil {
			return err
		}
		if sealed, err = s.seal(w, id, sealed); err != nil {
			return err
		}
		o := cur
		o.Name, o.URL, o.Role, o.Identity, o.Enabled = w.Name, w.URL, w.Role, w.Identity, w.Enabled
		o.LastUpdated = s.now().UTC().Truncate(time.Microsecond)
		return st.Update(ctx, o, sealed)
	})
	if err != nil {
		return Operator{}, err
	}
	return s.store.Get(ctx, station, id)
}

// Delete removes an operator of a visible station. Errors: ErrStationNotFound, ErrNotFound.
func (s *Service) Delete(ctx context.Context, visible []uuid.UUID, station string, id uuid.UUID) error {
	if err := s.store.StationVisible(ctx, visible, station, false); err != nil {
		return err
	}
	return s.store.Delete(ctx, station, id)
}

// Links returns the operators of a station with their passwords opened, for the node that
// holds the station's connection (no network check: the gateway asks for its own station).
func (s *Service) Links(ctx context.Context, station string) ([]Link, error) {
	ops, sealed, err := s.store.LinkRows(ctx, station)
	if err != nil {
		return nil, err
	}
	out := make([]Link, len(ops))
	for i, o := range ops {
		l := Link{ID: o.ID, Name: o.Name, URL: o.URL, Role: o.Role, Identity: o.Identity, Enabled: o.Enabled}
		if len(sealed[i]) > 0 {
			if s.key == nil {
				l.PasswordErr = "the password cannot be opened: the server has no EVROAM_SECRET_KEY"
			} else if p, err := s.key.Open(sealed[i], o.ID.String()); err != nil {
				l.PasswordErr = "the password cannot be opened (EVROAM_SECRET_KEY changed?): set it again"
			} else {
				l.Password = p
			}
		}
		out[i] = l
	}
	return out, nil
}

// Store returns the service's store, for the gateway's queue and transaction map.
func (s *Service) Store() *Store { return s.store }
