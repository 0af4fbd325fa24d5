package stationlogs

import (
	"context"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/jmoiron/sqlx"
)

// PrunedLog is a log kept to a retention: the OCPP message log (EVROAM_MESSAGE_LOG_RETENTION)
// or the status log (EVROAM_STATUS_LOG_RETENTION). Both grow with the traffic (every frame;
// every status report and connectivity change), by millions of rows a day at tens of
// thousands of stations, and both have a bigserial id that grows in the order rows are
// logged, which is what pruning walks.
type PrunedLog int

// The logs kept to a retention.
const (
	MessageLog PrunedLog = iota // ocpp_messages
	StatusLog                   // station_status_log
)

func (l PrunedLog) String() string {
	if l == StatusLog {
		return "status log"
	}
	return "message log"
}

func (l PrunedLog) table() string {
	if l == StatusLog {
		return "station_status_log"
	}
	return "ocpp_messages"
}

// lock is the advisory lock key a pruning chunk of the log takes ("msgprune", "stsprune"),
// so that nodes pruning at the same time do not queue behind each other's deletes: one
// prunes, the others skip the round.
func (l PrunedLog) lock() int64 {
	if l == StatusLog {
		return 0x73747370_72756e65
	}
	return 0x6d736770_72756e65
}

// PruneChunk is how many rows one pruning statement deletes at most: one short transaction
// each, so that pruning a large backlog never holds locks or a snapshot long.
const PruneChunk = 10_000

// Prune looks at the next chunk rows of log by id, after id after, and deletes those logged
// before cutoff. It returns how many it deleted, the last id it looked at (the next chunk's
// after) and whether more may be due: false once the chunk holds a row logged at or after
// cutoff, reaches the end of the log, or another node is pruning.
//
// Rows are found in id order through the primary key, not by their time (the logs have no
// index on created and need none: ids grow in the order rows are logged, and times with
// them up to a batch's few milliseconds). So a round stops at the first chunk that holds a
// row inside the retention; a due row more than a chunk behind it waits for a later round.
func (s *Store) Prune(ctx context.Context, log PrunedLog, cutoff time.Time, after int64, chunk int) (deleted int, last int64, more bool, err error) {
	// The table name is one of two constants (PrunedLog.table), never input.
	q := `
	WITH lock AS (
		SELECT pg_try_advisory_xact_lock($4) AS held
	), head AS (
		SELECT id, created < $1 AS due FROM ` + log.table() + `
		WHERE id > $2 AND (SELECT held FROM lock)
		ORDER BY id LIMIT $3
	), gone AS (
		DELETE FROM ` + log.table() + ` m USING head WHERE m.id = head.id AND head.due RETURNING m.id
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
	if err := sqlx.GetContext(ctx, s.q, &r, q, database.Timestamp(cutoff), after, chunk, log.lock()); err != nil {
		return 0, after, false, fmt.Errorf("prune the %s: %w", log, database.Translate(err))
	}
	return r.Deleted, r.Last, r.AllDue && r.Seen == chunk, nil
}

// PruneBefore deletes every row of log logged before cutoff, chunk after chunk (see Prune),
// and returns how many it deleted.
func (s *Store) PruneBefore(ctx context.Context, log PrunedLog, cutoff time.Time) (int, error) {
	total := 0
	var after int64
	for {
		n, last, more, err := s.Prune(ctx, log, cutoff, after, PruneChunk)
		total += n
		if err != nil || !more {
			return total, err
		}
		after = last
	}
}

// RunRetention keeps log to retention: after first, then every interval, it deletes the rows
// logged more than retention ago, until ctx ends. pruned (may be nil) is told each round's
// count; failures go to logErr and the next round tries again.
func (s *Store) RunRetention(ctx context.Context, log PrunedLog, retention, first, interval time.Duration, now func() time.Time,
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
		n, err := s.PruneBefore(ctx, log, now().Add(-retention))
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
