package evse

import (
	"context"
	"errors"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Service holds the rules of changing one EVSE through its own endpoint, and their
// transaction boundaries. (A station's whole EVSE set is written by chargestations, in the
// station's transaction.)
type Service struct {
	db      *sqlx.DB
	store   *Store
	tariffs TariffIndex
	// changed is told, after the commit, the station whose EVSE changed (so that this node's
	// cached answer of it goes); nil: nobody to tell.
	changed func(ids ...string)
	now     func() time.Time
}

// NewService returns a Service. tariffs checks the connectors' tariff_ids; changed and now
// may be nil (no one to tell, time.Now).
func NewService(db *sqlx.DB, store *Store, tariffs TariffIndex, changed func(ids ...string), now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if changed == nil {
		changed = func(...string) {}
	}
	return &Service{db: db, store: store, tariffs: tariffs, changed: changed, now: now}
}

// Get returns EVSE uid of station stationID, when the station's network is visible, and the
// station's etag. Errors: ErrStationNotFound, ErrNotFound.
func (s *Service) Get(ctx context.Context, visible []uuid.UUID, stationID, uid string) (EVSE, uuid.UUID, error) {
	etag, err := s.store.StationETag(ctx, visible, stationID)
	if err != nil {
		return EVSE{}, uuid.Nil, err
	}
	e, err := s.store.Get(ctx, stationID, uid)
	return e, etag, err
}

// Update changes one EVSE through the API. It locks the station's row first (so it runs after
// or before a concurrent station PUT or PATCH, never in between), then calls change with the
// current EVSE and the station's etag; change returns the new writable fields or an error
// that aborts (e.g. a stale etag). When change returns apperr.FieldErrors with the EVSE it
// read, connectors' tariff_ids that are not tariffs of the station's network are added to
// them, so that one 422 names every bad field. uid, station, sequence number and statuses are
// kept. The
// station gets a new etag; the EVSE's and the station's last_updated move when the EVSE
// changed. Returns the stored EVSE and the station's new etag.
// Errors: ErrStationNotFound, ErrNotFound, and change's errors.
func (s *Service) Update(ctx context.Context, visible []uuid.UUID, stationID, uid string,
	change func(cur EVSE, stationETag uuid.UUID) (EVSE, error)) (EVSE, uuid.UUID, error) {
	var out EVSE
	newETag := uuid.New()
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		etag, err := st.StationETagForUpdate(ctx, visible, stationID)
		if err != nil {
			return err
		}
		cur, err := st.GetForUpdate(ctx, stationID, uid)
		if err != nil {
			return err
		}
		next, err := change(cur, etag)
		var problems apperr.FieldErrors
		if err != nil && !errors.As(err, &problems) {
			return err
		}
		network, nerr := st.StationNetwork(ctx, stationID)
		if nerr != nil {
			return nerr
		}
		refs := ConnectorTariffRefs([]EVSE{next}, func(int) string { return "" })
		bad, terr := CheckTariffRefs(ctx, tx, s.tariffs, network, refs)
		if terr != nil {
			return terr
		}
		if problems = AddProblems(problems, bad); len(problems) > 0 {
			return problems
		}
		next.UID, next.ChargeStationID, next.SequenceNumber = cur.UID, cur.ChargeStationID, cur.SequenceNumber
		now := database.Timestamp(s.now())
		next, changed := Stamp(&cur, next, now)
		if changed {
			if err := st.Write(ctx, []EVSE{next}); err != nil {
				return err
			}
		}
		if err := st.TouchStation(ctx, stationID, newETag, changed, now); err != nil {
			return err
		}
		out, err = st.Get(ctx, stationID, uid)
		return err
	})
	var taken EVSEIDTakenError
	switch {
	case err == nil:
		s.changed(stationID)
	case errors.As(err, &taken):
		err = apperr.FieldErrors{{Field: "evse_id", Message: EVSEIDTakenMessage}}
	}
	return out, newETag, err
}
