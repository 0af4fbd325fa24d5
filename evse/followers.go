package evse

import (
	"context"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// An EVSE's status has two followers, derived from it: its station's row (the EVSE document,
// has_fault and last_updated, which GET, the list pages and sync read) and its OCPI
// publication. Every write of an EVSE updates both in its own transaction, by triggers,
// except where the writer defers them (DeferStatusFollowers): the OCPP gateway's status
// batches, whose stations then wait for their answer only for the EVSE rows and the status
// log. The gateway follows up with FollowStatuses right after its commit (migration 0035).
// What it owes is on record until it has (OwedFollowUps, migration 0038), so that a node that
// stops before it followed up leaves its debt to the next node that starts.

// DeferStatusFollowers makes the Store's SetStatuses leave the followers of the EVSEs it
// updates alone, and every EVSE update of its transaction after it; the caller must call
// FollowStatuses for the stations it changed once the transaction has committed. It is for
// the status reports of the gateway, whose EVSE updates change statuses and nothing else.
// s must be a Store made by WithTx. It sends nothing: SetStatuses sets
// evroam.status_followers in its own statement, which saves a status batch a round trip
// (on a loaded machine each one is a chance to wait for a CPU; docs/performance.md).
func (s *Store) DeferStatusFollowers() {
	s.followersDeferred = true
}

// FollowStatuses brings the followers of the given stations' EVSE statuses up to date: the
// OCPI publication takes the statuses that changed, in one transaction (it locks no station
// row), then the station rows whose EVSE document changed are rewritten with last_updated at
// least at, in another. In that order a station whose OCPI copies lag (the node stopped in
// between) has a lagging row too, which is what StatusFollowersBehind looks for. A row that
// another transaction holds (a batch of connections, a PUT) is not waited for: its station is
// returned, to be followed again. A station that no longer exists is skipped.
func (s *Store) FollowStatuses(ctx context.Context, stationIDs []string, at time.Time) (skipped []string, err error) {
	ids := pq.Array(stationIDs)
	if _, err := s.q.ExecContext(ctx, `SELECT evse_status_publish($1)`, ids); err != nil {
		return nil, fmt.Errorf("publish the statuses of %d stations: %w", len(stationIDs), database.Translate(err))
	}
	if err := sqlx.SelectContext(ctx, s.q, &skipped, `SELECT evse_status_follow($1, $2)`, ids, database.Timestamp(at)); err != nil {
		return nil, fmt.Errorf("follow the statuses of %d stations: %w", len(stationIDs), database.Translate(err))
	}
	return skipped, nil
}

// OwedFollowUp is a status batch's record of the stations it left to a follow-up
// (SetStatuses with the followers deferred), until SettleFollowUps deletes it.
type OwedFollowUp struct {
	ID         int64          `db:"id"`
	StationIDs pq.StringArray `db:"station_ids"`
}

// OwedFollowUps returns every follow-up on record, whichever node owes it: what a node that
// starts follows (those of a node that stopped before it followed its batches up are
// among them). The records are few: a node deletes its own as soon as it followed them.
func (s *Store) OwedFollowUps(ctx context.Context) ([]OwedFollowUp, error) {
	var owed []OwedFollowUp
	if err := sqlx.SelectContext(ctx, s.q, &owed, `SELECT id, station_ids FROM evse_status_follow_ups_owed ORDER BY id`); err != nil {
		return nil, fmt.Errorf("read the owed status follow-ups: %w", database.Translate(err))
	}
	return owed, nil
}

// SettleFollowUps deletes the records of follow-ups done: each of their stations was followed
// after the record was read or written.
func (s *Store) SettleFollowUps(ctx context.Context, ids []int64) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM evse_status_follow_ups_owed WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
		return fmt.Errorf("settle %d status follow-ups: %w", len(ids), database.Translate(err))
	}
	return nil
}

// StatusFollowersBehind returns the stations whose followers lag their EVSEs' statuses:
// those a node deferred and did not follow before it stopped. It reads every EVSE (about two
// seconds of PostgreSQL for 200,000, five on a busy machine), so a node that starts reads the
// owed follow-ups instead (OwedFollowUps); this is the check that nothing lags.
func (s *Store) StatusFollowersBehind(ctx context.Context) ([]string, error) {
	var ids []string
	if err := sqlx.SelectContext(ctx, s.q, &ids, `SELECT evse_status_followers_behind()`); err != nil {
		return nil, fmt.Errorf("find the stations whose status followers lag: %w", database.Translate(err))
	}
	return ids, nil
}
