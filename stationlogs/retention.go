package stationlogs

import (
	"context"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/jmoiron/sqlx"
)

// pruneLock is the advisory lock key a pruning chunk takes ("msgprune"), so that nodes
// pruning at the same time do not queue behind each other's deletes: one prunes, the others
// skip the round.
const pruneLock = 0x6d736770_72756e65

// MessagePruneChunk is how many frames one pruning statement deletes at most: one short
// transaction each, so that pruning a large backlog never holds locks or a snapshot long.
const MessagePruneChunk = 10_000

// PruneMessages looks at the next chunk frames of the message log by id, after id after, and
// deletes those logged before cutoff. It returns how many it deleted, the last id it looked
// at (the next chunk's after) and whether more may be due: false once the chunk holds a frame
// logged at or after cutoff, reaches the end of the log, or another node is pruning.
//
// Frames are found in id order through the primary key, not by their time (the log has no
// index on created and needs none: ids grow in the order frames are logged, and times with
// them up to a batch's few milliseconds). So a round stops at the first chunk that holds a
// frame inside the retention; a due frame more than a chunk behind it waits for a later round.
func (s *Store) PruneMessages(ctx context.Context, cutoff time.Time, after int64, chunk int) (deleted int, last int64, more bool, err error) {
	const q = `
	WITH lock AS (
		SELECT pg_try_advisory_xact_lock($4) AS held
	), head AS (
		SELECT id, created < $1 AS due FROM ocpp_messages
		WHERE id > $2 AND (SELECT held FROM lock)
		ORDER BY id LIMIT $3
	), gone AS (
		DELETE FROM ocpp_messages m USING head WHERE m.id = head.id AND head.due RETURNING m.id
	)
	SELECT (SELECT count(*) FROM gone) AS deleted,
		(SELECT count(*) FROM head) AS seen,
		coalesce((SELECT bool_and(due) FROM head), false) AS all_due,
		coalesce((SELECT max(id) FROM head), $2) AS last`
	var r struct {
		Deleted int   `db:"deleted"`
		Seen    int   `db:"seen"`
		AllDue  bool  `db:"all_due"`
		Last    int64 `db:"last"`
	}
	if err := sqlx.GetContext(ctx, s.q, &r, q, database.Timestamp(cutoff), after, chunk, pruneLock); err != nil {
		return 0, after, false, fmt.Errorf("prune the message log: %w", database.Translate(err))
	}
	return r.Deleted, r.Last, r.AllDue && r.Seen == chunk, nil
}

// PruneMessagesBefore deletes every frame of the message log logged before cutoff, chunk
// after chunk (see PruneMessages), and returns how many it deleted.
func (s *Store) PruneMessagesBefore(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	var after int64
	for {
		n, last, more, err := s.PruneMessages(ctx, cutoff, after, MessagePruneChunk)
		total += n
		if err != nil || !more {
			return total, err
		}
		after = last
	}
}

// RunMessageRetention keeps the message log to retention: after first, then every interval,
// it deletes the frames logged more than retention ago, until ctx ends. pruned (may be nil)
// is told each round's count; failures go to logErr and the next round tries again.
func (s *Store) RunMessageRetention(ctx context.Context, retention, first, interval time.Duration, now func() time.Time,
	pruned func(int), logErr func(error)) {
	if now == nil {
		now = time.Now
	}
	wait := time.NewTimer(first)
	select {
	case <-ctx.Done():
		wait.Stop()
		return
	case <-wait.C:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.PruneMessagesBefore(ctx, now().Add(-retention))
		if err != nil && ctx.Err() == nil {
			logErr(err)
		}
		if pruned != nil {
			pruned(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
