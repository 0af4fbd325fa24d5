package reservations

import (
	"context"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the reservation rules and their transactions.
type Service struct {
	db    *sqlx.DB
	store *Store
	// changed is told, after the commit, which stations' EVSEs a write changed (the station
	// answer cache forgets them).
	changed func(stations ...string)
	now     func() time.Time
}

// NewService returns a Service. changed and now may be nil.
func NewService(db *sqlx.DB, store *Store, changed func(stations ...string), now func() time.Time) *Service {
	if changed == nil {
		changed = func(...string) {}
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, store: store, changed: changed, now: now}
}

// Record keeps r, which its station accepted, as ACTIVE (replacing the station's reservation
// with the same id, and the partner's with the same OCPI reservation_id) and marks its EVSE
// RESERVED if it reads AVAILABLE. Errors: ErrNotFound (no such station).
func (s *Service) Record(ctx context.Context, r Reservation) error {
	now := s.now()
	r.LastUpdated = now
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		if err := st.lockStation(ctx, r.StationID); err != nil {
			return err
		}
		if err := st.upsert(ctx, r); err != nil {
			return err
		}
		if r.Expiry.After(now) {
			return st.markReserved(ctx, r.StationID, r.EVSESequenceNumber, now)
		}
		return nil
	})
	if err == nil {
		s.changed(r.StationID)
	}
	return err
}

// Cancel ends the ACTIVE reservation id of station (its cancellation was accepted by the
// station) and frees its EVSE. ok is false when no such reservation was active.
func (s *Service) Cancel(ctx context.Context, station string, id int) (ok bool, err error) {
	return s.end(ctx, station, id, StatusCancelled)
}

func (s *Service) end(ctx context.Context, station string, id int, status Status) (ok bool, err error) {
	now := s.now()
	err = database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		if err := st.lockStation(ctx, station); err != nil {
			return err
		}
		var evse int
		if evse, ok, err = st.setStatus(ctx, station, id, status, now); err != nil || !ok {
			return err
		}
		_, err := st.free(ctx, station, evse, now)
		return err
	})
	if err == nil && ok {
		s.changed(station)
	}
	return ok, err
}

// Expire ends the ACTIVE reservations whose expiry has passed, whether or not their station
// reported it, and frees their EVSEs. It returns how many ended.
func (s *Service) Expire(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.store.due(ctx, s.now(), 100)
		if err != nil {
			return n, err
		}
		for _, r := range due {
			ok, err := s.end(ctx, r.StationID, r.ID, StatusExpired)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}

// RunExpiry calls Expire every interval until ctx ends. Failures are passed to logErr.
func (s *Service) RunExpiry(ctx context.Context, interval time.Duration, logErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			logErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Get returns reservation id of station. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, station string, id int) (Reservation, error) {
	return s.store.Get(ctx, station, id)
}

// GetByOCPI returns partner's reservation with OCPI reservation_id id. Errors: ErrNotFound.
func (s *Service) GetByOCPI(ctx context.Context, partner uuid.UUID, id string) (Reservation, error) {
	return s.store.GetByOCPI(ctx, partner, id)
}
