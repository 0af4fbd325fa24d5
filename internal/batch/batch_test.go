package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

type item struct {
	key string
	n   int
}

// TestOrderPerKeyAndGrowingBatches: 64 keys × 50 writes, a writer per key; every item is
// flushed once, the items of a key in the order they were written, and while flushes are
// slow the batches grow to the writers waiting instead of costing one flush per item.
func TestOrderPerKeyAndGrowingBatches(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]int{}
	var sizes []int
	b := New(Config{Shards: 2, MaxBatch: 200}, func(it item) string { return it.key }, func(ctx context.Context, items []item) error {
		time.Sleep(2 * time.Millisecond) // a commit
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(items))
		for _, it := range items {
			seen[it.key] = append(seen[it.key], it.n)
		}
		return nil
	})
	defer b.Close()
	var wg sync.WaitGroup
	for k := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				if err := b.Write(t.Context(), item{fmt.Sprint("key", k), n}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for k, ns := range seen {
		if len(ns) != 50 || !slices.IsSorted(ns) {
			t.Errorf("%s: %d items, in order: %v", k, len(ns), slices.IsSorted(ns))
		}
	}
	if len(seen) != 64 {
		t.Errorf("%d keys flushed, want 64", len(seen))
	}
	if len(sizes) > 3200/8 {
		t.Errorf("%d flushes for 3200 items: batches do not grow under load", len(sizes))
	}
	if got := b.Stats().Items.Load(); got != 3200 {
		t.Errorf("Stats().Items = %d", got)
	}
}

// TestFlushErrorReachesEveryWriterOfTheBatch and only them.
func TestFlushErrorReachesEveryWriterOfTheBatch(t *testing.T) {
	boom := errors.New("database down")
	b := New(Config{Shards: 1}, func(it item) string { return it.key }, func(ctx context.Context, items []item) error {
		for _, it := range items {
			if it.n < 0 {
				return boom
			}
		}
		return nil
	})
	defer b.Close()
	if err := b.Write(t.Context(), item{"a", -1}); !errors.Is(err, boom) {
		t.Errorf("Write of a failing batch = %v", err)
	}
	if err := b.Write(t.Context(), item{"a", 1}); err != nil {
		t.Errorf("next Write = %v", err)
	}
	if got := b.Stats().Failed.Load(); got != 1 {
		t.Errorf("Stats().Failed = %d", got)
	}
}

// TestBackPressureAndClose: a full shard makes Write wait until its context ends; Close
// writes what was handed over and later writes get ErrClosed.
func TestBackPressureAndClose(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var written int
	b := New(Config{Shards: 1, MaxBatch: 1, MaxPending: 1}, func(it item) string { return it.key }, func(ctx context.Context, items []item) error {
		<-release
		mu.Lock()
		written += len(items)
		mu.Unlock()
		return nil
	})
	go b.Write(context.Background(), item{"a", 1}) // taken by the flusher, which blocks
	go b.Write(context.Background(), item{"a", 2}) // fills the queue
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := b.Write(ctx, item{"a", 3}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write to a full shard = %v, want the context's deadline", err)
	}
	close(release)
	b.Close()
	if written != 2 {
		t.Errorf("Close wrote %d items, want the 2 handed over", written)
	}
	if err := b.Write(t.Context(), item{"a", 4}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
}

// TestPerItemOutcome: a flush that fails some items tells each writer its own outcome.
func TestPerItemOutcome(t *testing.T) {
	missing := errors.New("no such row")
	b := New(Config{Shards: 1}, func(it item) string { return it.key }, func(ctx context.Context, items []item) error {
		out := make(PerItem, len(items))
		for i, it := range items {
			if it.n%2 == 1 {
				out[i] = missing
			}
		}
		return out
	})
	defer b.Close()
	var wg sync.WaitGroup
	for n := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.Write(t.Context(), item{"k", n})
			if n%2 == 1 && !errors.Is(err, missing) || n%2 == 0 && err != nil {
				t.Errorf("item %d: err = %v", n, err)
			}
		}()
	}
	wg.Wait()
}

// TestStatsCountItemsBeingWritten: an item whose flush has not returned yet is pending, not
// missing from both counts (a metrics scrape during a slow flush saw neither); once written it
// is counted as written, once.
func TestStatsCountItemsBeingWritten(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	b := New(Config{Shards: 1}, func(it item) string { return it.key }, func(ctx context.Context, items []item) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	defer b.Close()
	written := make(chan error)
	go func() { written <- b.Write(t.Context(), item{"a", 1}) }()
	<-entered
	if p, n := b.Stats().Pending.Load(), b.Stats().Items.Load(); p != 1 || n != 0 {
		t.Errorf("during the flush: %d pending and %d written, want 1 and 0", p, n)
	}
	close(release)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if p, n := b.Stats().Pending.Load(), b.Stats().Items.Load(); p != 0 || n != 1 {
		t.Errorf("after the flush: %d pending and %d written, want 0 and 1", p, n)
	}
}
