package reservations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Store keeps reservations. A Store made by NewStore runs each statement on the pool; one made
// by WithTx runs in the caller's transaction.
type Store struct{ q sqlx.ExtContext }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type row struct {
	StationID          string         `db:"charge_station_id"`
	ID                 int            `db:"reservation_id"`
	EVSESequenceNumber int            `db:"evse_sequence_number"`
	IDTag              string         `db:"id_tag"`
	Expiry             time.Time      `db:"expiry"`
	Status             string         `db:"status"`
	OCPIPartnerID      *uuid.UUID     `db:"ocpi_partner_id"`
	OCPIReservationID  sql.NullString `db:"ocpi_reservation_id"`
	OCPIResponseURL    sql.NullString `db:"ocpi_response_url"`
	Created            time.Time      `db:"created"`
	LastUpdated        time.Time      `db:"last_updated"`
}

const columns = `charge_station_id, reservation_id, evse_sequence_number, id_tag, expiry, status,
	ocpi_partner_id, ocpi_reservation_id, ocpi_response_url, created, last_updated`

func (r row) toReservation() Reservation {
	return Reservation{StationID: r.StationID, ID: r.ID, EVSESequenceNumber: r.EVSESequenceNumber, IDTag: r.IDTag,
		Expiry: r.Expiry.UTC(), Status: Status(r.Status), OCPIPartnerID: r.OCPIPartnerID,
		OCPIReservationID: r.OCPIReservationID.String, OCPIResponseURL: r.OCPIResponseURL.String, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC()}
}

// lockStation locks the station's row, as every writer of a station's EVSEs does first (in id
// order), so that marking its EVSEs cannot deadlock with another writer of them (the gateway's
// status writes rely on it: evse.Store.SetStatuses).
func (s *Store) lockStation(ctx context.Context, id string) error {
	var got string
	err := sqlx.GetContext(ctx, s.q, &got, `SELECT id FROM charge_stations WHERE id = $1 FOR NO KEY UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("charge station %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock charge station %s: %w", id, database.Translate(err))
	}
	return nil
}

// upsert records r as ACTIVE: a new reservation, or the replacement of the station's
// reservation with the same id (OCPP ReserveNow with a known id replaces it) or of the
// partner's reservation with the same OCPI reservation_id.
func (s *Store) upsert(ctx context.Context, r Reservation) error {
	if r.OCPIPartnerID != nil {
		// The partner's earlier reservation under this reservation_id goes (it may have been
		// made on another station).
		const del = `DELETE FROM reservations WHERE ocpi_partner_id = $1 AND ocpi_reservation_id = $2
			AND NOT (charge_station_id = $3 AND reservation_id = $4)`
		if _, err := s.q.ExecContext(ctx, del, r.OCPIPartnerID, r.OCPIReservationID, r.StationID, r.ID); err != nil {
			return fmt.Errorf("replace reservation %s: %w", r.OCPIReservationID, database.Translate(err))
		}
	}
	const q = `
	INSERT INTO reservations (` + columns + `)
	VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7, $9, $8, $8)
	ON CONFLICT (charge_station_id, reservation_id) DO UPDATE SET
		evse_sequence_number = EXCLUDED.evse_sequence_number, id_tag = EXCLUDED.id_tag, expiry = EXCLUDED.expiry,
		status = 'ACTIVE', ocpi_partner_id = EXCLUDED.ocpi_partner_id, ocpi_reservation_id = EXCLUDED.ocpi_reservation_id,
		ocpi_response_url = EXCLUDED.ocpi_response_url, last_updated = EXCLUDED.last_updated`
	ocpiID := sql.NullString{String: r.OCPIReservationID, Valid: r.OCPIPartnerID != nil}
	if _, err := s.q.ExecContext(ctx, q, r.StationID, r.ID, r.EVSESequenceNumber, r.IDTag, database.Timestamp(r.Expiry),
		r.OCPIPartnerID, ocpiID, database.Timestamp(r.LastUpdated), sql.NullString{String: r.OCPIResponseURL, Valid: r.OCPIResponseURL != ""}); err != nil {
		return fmt.Errorf("record reservation %d of %s: %w", r.ID, r.StationID, database.Translate(err))
	}
	return nil
}

// setStatus ends the ACTIVE reservation id of station with status. ok is false when there was
// no such active reservation.
func (s *Store) setStatus(ctx context.Context, station string, id int, status Status, at time.Time) (int, bool, error) {
	var evse int
	const q = `
	UPDATE reservations SET status = $3, last_updated = $4
	WHERE charge_station_id = $1 AND reservation_id = $2 AND status = 'ACTIVE'
	RETURNING evse_sequence_number`
	err := sqlx.GetContext(ctx, s.q, &evse, q, station, id, status, database.Timestamp(at))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("end reservation %d of %s: %w", id, station, database.Translate(err))
	}
	return evse, true, nil
}

// markReserved makes the EVSE read RESERVED if it reads AVAILABLE now.
func (s *Store) markReserved(ctx context.Context, station string, evse int, at time.Time) error {
	const q = `UPDATE evses SET status = 'RESERVED', last_updated = $3
	WHERE charge_station_id = $1 AND evse_sequence_number = $2 AND status = 'AVAILABLE'`
	if _, err := s.q.ExecContext(ctx, q, station, evse, database.Timestamp(at)); err != nil {
		return fmt.Errorf("mark EVSE %d of %s reserved: %w", evse, station, database.Translate(err))
	}
	return nil
}

// free makes a RESERVED EVSE that no reservation holds any more read what its station last
// reported: AVAILABLE when that was Available or Reserved (the reservation is over, whether or
// not the station said so) or nothing. (The EVSE trigger keeps it RESERVED if another active
// reservation holds it.) It reports whether the EVSE changed.
func (s *Store) free(ctx context.Context, station string, evse int, at time.Time) (bool, error) {
	const q = `UPDATE evses SET status = 'AVAILABLE', last_updated = $3
	WHERE charge_station_id = $1 AND evse_sequence_number = $2 AND status = 'RESERVED'
		AND (ocpp_status IS NULL OR ocpp_status IN ('Available', 'Reserved'))`
	res, err := s.q.ExecContext(ctx, q, station, evse, database.Timestamp(at))
	if err != nil {
		return false, fmt.Errorf("free EVSE %d of %s: %w", evse, station, database.Translate(err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// GetByOCPI returns partner's reservation with OCPI reservation_id id. Errors: ErrNotFound.
func (s *Store) GetByOCPI(ctx context.Context, partner uuid.UUID, id string) (Reservation, error) {
	var r row
	err := sqlx.GetContext(ctx, s.q, &r, `SELECT `+columns+` FROM reservations
		WHERE ocpi_partner_id = $1 AND ocpi_reservation_id = $2`, partner, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Reservation{}, ErrNotFound
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("get reservation %s: %w", id, database.Translate(err))
	}
	return r.toReservation(), nil
}

// Get returns reservation id of station. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, station string, id int) (Reservation, error) {
	var r row
	err := sqlx.GetContext(ctx, s.q, &r, `SELECT `+columns+` FROM reservations
		WHERE charge_station_id = $1 AND reservation_id = $2`, station, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Reservation{}, ErrNotFound
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("get reservation %d of %s: %w", id, station, database.Translate(err))
	}
	return r.toReservation(), nil
}

// due returns up to limit ACTIVE reservations whose expiry is not after now, oldest first.
func (s *Store) due(ctx context.Context, now time.Time, limit int) ([]Reservation, error) {
	var rows []row
	err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT `+columns+` FROM reservations
		WHERE status = 'ACTIVE' AND expiry <= $1 ORDER BY expiry LIMIT $2`, database.Timestamp(now), limit)
	if err != nil {
		return nil, fmt.Errorf("find expired reservations: %w", database.Translate(err))
	}
	out := make([]Reservation, len(rows))
	for i, r := range rows {
		out[i] = r.toReservation()
	}
	return out, nil
}
