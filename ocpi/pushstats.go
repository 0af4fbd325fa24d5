package ocpi

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/evroam/evroam/internal/database"
)

// PushStats are a Pusher's running counts, for metrics.
type PushStats struct {
	Sent    atomic.Int64 // pushes a partner accepted (a run of identical pushes sent as one counts once)
	Failed  atomic.Int64 // attempts that failed: the partner refused, answered an error or did not answer
	Dropped atomic.Int64 // pushes given up after PushConfig.MaxRejections refusals
}

// Stats returns the pusher's running counts.
func (p *Pusher) Stats() *PushStats { return &p.stats }

// Queued returns how many pushes wait in the queue (ocpi_deliveries), for every partner and
// whichever node pushes them. It counts the table: bound ctx, the queue of a partner that has
// been down for long can be large.
func (p *Pusher) Queued(ctx context.Context) (int64, error) {
	var n int64
	if err := p.db.GetContext(ctx, &n, `SELECT count(*) FROM ocpi_deliveries`); err != nil {
		return 0, fmt.Errorf("count queued OCPI pushes: %w", database.Translate(err))
	}
	return n, nil
}
