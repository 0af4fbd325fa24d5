// Package batch turns many concurrent small writes into few transactions: group commit.
// Writers hand an item to a Batcher and wait; one flusher goroutine per shard takes every item
// that arrived while its previous flush ran and writes them with one call, then tells each
// writer the outcome. Under light load a write is flushed at once (a batch of one); under
// heavy load batches grow by themselves, so that throughput is bound by what one statement
// can carry rather than by one commit per write, and no writer waits for a timer.
//
// Items are sharded by a key (a station's identity): the items of one key always go to the
// same shard, whose flushes run one after the other, so their order is kept; shards flush in
// parallel, and hold disjoint keys, so their transactions do not touch the same rows.
package batch

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("batch: closed")

// PerItem is a flush outcome that differs per item: a flush returns it (one entry per item,
// nil for the items written) when some items of a batch fail on their own, e.g. a row that
// does not exist, while the others were written.
type PerItem []error

func (p PerItem) Error() string {
	n := 0
	for _, err := range p {
		if err != nil {
			n++
		}
	}
	return fmt.Sprintf("batch: %d of %d items failed", n, len(p))
}

// Config tunes a Batcher. Zero values take the defaults.
type Config struct {
	// Shards is the number of flushers running in parallel. Default 2.
	Shards int
	// MaxBatch caps the items of one flush. Default 1000.
	MaxBatch int
	// MaxPending caps the items waiting per shard; Write blocks beyond it (back-pressure),
	// until its context ends. Default 10 × MaxBatch.
	MaxPending int
	// FlushTimeout bounds one flush. Default 10s.
	FlushTimeout time.Duration
}

// Batcher writes items of type T in batches with Flush.
type Batcher[T any] struct {
	cfg    Config
	flush  func(ctx context.Context, items []T) error
	key    func(T) string
	seed   maphash.Seed
	shards []*shard[T]
	closed atomic.Bool
	stop   chan struct{} // closed by Close
	wg     sync.WaitGroup
	stats  Stats
}

// Stats are a Batcher's running counts, for metrics.
type Stats struct {
	Flushes atomic.Int64 // flushes done
	Items   atomic.Int64 // items written (including failed ones)
	Failed  atomic.Int64 // items whose flush failed
	Pending atomic.Int64 // items waiting now, those of flushes under way included
}

type shard[T any] struct {
	queue chan request[T]
	max   int
}

type request[T any] struct {
	item T
	done chan error // capacity 1
}

// New starts a Batcher. flush writes one batch (in the order items were written within a
// shard) and must be safe to run from several shards at once; key says which shard an item
// belongs to. Each flush gets a context bounded by FlushTimeout.
func New[T any](cfg Config, key func(T) string, flush func(ctx context.Context, items []T) error) *Batcher[T] {
	if cfg.Shards <= 0 {
		cfg.Shards = 2
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 10 * cfg.MaxBatch
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 10 * time.Second
	}
	b := &Batcher[T]{cfg: cfg, flush: flush, key: key, seed: maphash.MakeSeed(), stop: make(chan struct{})}
	for range cfg.Shards {
		s := &shard[T]{queue: make(chan request[T], cfg.MaxPending), max: cfg.MaxBatch}
		b.shards = append(b.shards, s)
		b.wg.Add(1)
		go b.run(s)
	}
	return b
}

// Write hands item to its shard and waits until the batch holding it is written. It returns
// the batch's error, ctx's error if ctx ends first (the item may still be written), or
// ErrClosed.
func (b *Batcher[T]) Write(ctx context.Context, item T) error {
	if b.closed.Load() {
		return ErrClosed
	}
	s := b.shards[maphash.String(b.seed, b.key(item))%uint64(len(b.shards))]
	r := request[T]{item: item, done: make(chan error, 1)}
	b.stats.Pending.Add(1)
	select {
	case s.queue <- r:
	case <-ctx.Done():
		b.stats.Pending.Add(-1)
		return ctx.Err()
	case <-b.stop:
		b.stats.Pending.Add(-1)
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the running counts.
func (b *Batcher[T]) Stats() *Stats { return &b.stats }

// Close stops taking items, writes those already handed over and waits for the flushers.
// (A Write racing with Close may hand its item over after the last flush; it then returns
// when its context ends.)
func (b *Batcher[T]) Close() {
	if b.closed.Swap(true) {
		return
	}
	close(b.stop)
	b.wg.Wait()
}

// run is a shard's flusher: block for one item, take whatever else is waiting (up to
// MaxBatch), flush, answer, repeat.
func (b *Batcher[T]) run(s *shard[T]) {
	defer b.wg.Done()
	reqs := make([]request[T], 0, s.max)
	items := make([]T, 0, s.max)
	for {
		var r request[T]
		select {
		case r = <-s.queue:
		case <-b.stop:
			// Drain what was handed over before Close.
			select {
			case r = <-s.queue:
			default:
				return
			}
		}
		reqs = append(reqs[:0], r)
	more:
		for len(reqs) < s.max {
			select {
			case r := <-s.queue:
				reqs = append(reqs, r)
			default:
				break more
			}
		}
		items = items[:0]
		for _, r := range reqs {
			items = append(items, r.item)
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.FlushTimeout)
		err := b.flush(ctx, items)
		cancel()
		b.stats.Flushes.Add(1)
		// Pending until written: a scrape during the flush sees them waiting, not nowhere.
		b.stats.Pending.Add(-int64(len(reqs)))
		b.stats.Items.Add(int64(len(items)))
		var each PerItem
		switch {
		case errors.As(err, &each) && len(each) == len(reqs):
			for _, e := range each {
				if e != nil {
					b.stats.Failed.Add(1)
				}
			}
		case err != nil:
			b.stats.Failed.Add(int64(len(items)))
		}
		if errors.As(err, &each) && len(each) == len(reqs) {
			for i, r := range reqs {
				r.done <- each[i]
			}
		} else {
			for _, r := range reqs {
				r.done <- err
			}
		}
		clear(reqs)
		clear(items)
	}
}
