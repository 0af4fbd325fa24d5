package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps transactions and meter values in PostgreSQL. A Store made by NewStore runs each
// statement on the pool; one made by WithTx runs in the caller's transaction.
type Store struct{ q sqlx.ExtContext }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: tx} }

// MergeMeterValues keeps the latest sample per station, EVSE, measurand and phase.
func (s *Store) MergeMeterValues(ctx context.Context, vs []MeterValue) error {
	if len(vs) == 0 {
		return nil
	}
	n := len(vs)
	st, ms, ph, val, unit := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	evse, at := make([]int64, n), make([]time.Time, n)
	for i, v := range vs {
		st[i], ms[i], ph[i], val[i], unit[i], evse[i], at[i] = v.StationID, v.Measurand, v.Phase, v.Value, v.Unit, int64(v.EVSESequenceNumber), v.SampledAt.UTC()
	}
	const q = `
	INSERT INTO meter_values (charge_station_id, evse_sequence_number, measurand, phase, value, unit, sampled_at)
	SELECT DISTINCT ON (u.st, u.evse, u.ms, u.ph) u.st, u.evse, u.ms, u.ph, u.val, u.unit, u.at
	FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
		AS u(st, evse, ms, ph, val, unit, at)
	JOIN charge_stations c ON c.id = u.st
	ORDER BY u.st, u.evse, u.ms, u.ph, u.at DESC
	ON CONFLICT (charge_station_id, evse_sequence_number, measurand, phase) DO UPDATE SET
		value = EXCLUDED.value, unit = EXCLUDED.unit, sampled_at = EXCLUDED.sampled_at
	WHERE meter_values.sampled_at <= EXCLUDED.sampled_at`
	_, err := s.q.ExecContext(ctx, q, pq.Array(st), pq.Array(evse), pq.Array(ms), pq.Array(ph), pq.Array(val), pq.Array(unit), pq.Array(at))
	if err != nil {
		return fmt.Errorf("merge meter values: %w", database.Translate(err))
	}
	return nil
}

// StartTransaction records a 1.6 transaction start and returns the id the station must use.
func (s *Store) StartTransaction(ctx context.Context, t Transaction) (int, error) {
	const q = `
	INSERT INTO transactions (charge_station_id, transaction_id, evse_sequence_number, id_tag, meter_start_wh, started_at, updated)
	VALUES ($1, nextval('ocpp16_transaction_ids')::text, $2, $3, $4, $5, $6)
	RETURNING transaction_id::int`
	var id int
	err := sqlx.GetContext(ctx, s.q, &id, q, t.StationID, t.EVSESequenceNumber, t.IDTag, t.MeterStartWh, t.StartedAt, t.Updated.UTC())
	if err != nil {
		return 0, fmt.Errorf("start transaction on %s: %w", t.StationID, database.Translate(err))
	}
	return id, nil
}

// UpsertTransaction records a transaction update: fields that are set (non-nil, non-empty)
// overwrite; the rest stay. It serves 1.6 StopTransaction and 2.0.1 TransactionEvent.
func (s *Store) UpsertTransaction(ctx context.Context, t Transaction) error {
	const q = `
	INSERT INTO transactions (charge_station_id, transaction_id, evse_sequence_number, id_tag,
		meter_start_wh, meter_stop_wh, started_at, stopped_at, stop_reason, updated)
	SELECT $1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, NULLIF($9, ''), $10
	WHERE EXISTS (SELECT 1 FROM charge_stations WHERE id = $1)
	ON CONFLICT (charge_station_id, transaction_id) DO UPDATE SET
		evse_sequence_number = COALESCE(NULLIF(EXCLUDED.evse_sequence_number, 0), transactions.evse_sequence_number),
		id_tag = COALESCE(EXCLUDED.id_tag, transactions.id_tag),
		meter_start_wh = COALESCE(transactions.meter_start_wh, EXCLUDED.meter_start_wh),
		meter_stop_wh = COALESCE(EXCLUDED.meter_stop_wh, transactions.meter_stop_wh),
		started_at = COALESCE(transactions.started_at, EXCLUDED.started_at),
		stopped_at = COALESCE(EXCLUDED.stopped_at, transactions.stopped_at),
		stop_reason = COALESCE(EXCLUDED.stop_reason, transactions.stop_reason),
		updated = EXCLUDED.updated`
	_, err := s.q.ExecContext(ctx, q, t.StationID, t.TransactionID, t.EVSESequenceNumber, t.IDTag,
		t.MeterStartWh, t.MeterStopWh, t.StartedAt, t.StoppedAt, t.StopReason, t.Updated.UTC())
	if err != nil {
		return fmt.Errorf("record transaction %s on %s: %w", t.TransactionID, t.StationID, database.Translate(err))
	}
	return nil
}
