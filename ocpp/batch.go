package ocpp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// BatchStats are the running counts of one of the gateway's batchers, for metrics.
type BatchStats struct {
	Pending int64 // entries waiting to be written now, those being written included
	Flushes int64 // registry calls made
	Items   int64 // entries handed to the registry (including those of failed calls)
	Failed  int64 // entries of registry calls that failed
	Dropped int64 // entries refused because too many were waiting (message log only)
}

// BatchStats returns the counts of the gateway's batchers by name: "message_log" (frames for
// Registry.AppendMessages), "heartbeats" (stations with a heartbeat waiting for
// Registry.RecordHeartbeats) and "login_failures" (stations with a refused login waiting for
// Registry.RecordLoginFailures).
func (s *Server) BatchStats() map[string]BatchStats {
	return map[string]BatchStats{"message_log": s.messages.stats(), "heartbeats": s.heartbeats.stats(),
		"login_failures": s.loginFailures.stats()}
}

// flushCounts are a batcher's counts that its flusher keeps.
type flushCounts struct {
	flushes, items, failed atomic.Int64
}

func (f *flushCounts) done(items int, err error) {
	f.flushes.Add(1)
	f.items.Add(int64(items))
	if err != nil {
		f.failed.Add(int64(items))
	}
}

// messageBatcher collects message-log entries and hands them to Registry.AppendMessages
// in batches, from one goroutine, so entries keep their order. A batch the registry fails to
// take (the database is away) is kept and offered again at the next flush, ahead of newer
// frames; at most Config.MessageLogMaxPending frames are held, and the newest beyond that
// are dropped, counted and logged.
type messageBatcher struct {
	s            *Server
	mu           sync.Mutex
	buf          []Message
	dropped      int   // since the last flush, for its warning
	droppedTotal int64 // since the start, for metrics
	// writing counts the frames of the flush under way not yet handed back by the registry:
	// they are still pending for metrics, which would otherwise see them nowhere.
	writing int
	kick    chan struct{}
	// counts changes under mu, with writing, so that stats sees each frame once.
	counts flushCounts
}

func newMessageBatcher(s *Server) *messageBatcher {
	return &messageBatcher{s: s, kick: make(chan struct{}, 1)}
}

func (b *messageBatcher) add(m Message) {
	b.mu.Lock()
	if len(b.buf) >= b.s.cfg.MessageLogMaxPending {
		b.dropped++
		b.droppedTotal++
		b.mu.Unlock()
		return
	}
	b.buf = append(b.buf, m)
	full := len(b.buf) >= b.s.cfg.MessageLogBatchSize
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *messageBatcher) run() {
	defer b.s.bg.Done()
	t := time.NewTicker(b.s.cfg.MessageLogFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.s.ctx.Done():
			b.flush()
			return
		case <-t.C:
		case <-b.kick:
		}
		b.flush()
	}
}

// flush writes everything collected so far; only run calls it. When the registry fails, the
// frames not written go back to the front of the buffer, to be tried again at the next flush.
func (b *messageBatcher) flush() {
	b.mu.Lock()
	batch := b.buf
	b.buf = nil
	b.writing = len(batch)
	dropped := b.dropped
	b.dropped = 0
	b.mu.Unlock()
	if dropped > 0 {
		b.s.log.Warn("ocpp: message log full, frames dropped", "dropped", dropped, "max_pending", b.s.cfg.MessageLogMaxPending)
	}
	size := b.s.cfg.MessageLogBatchSize
	for len(batch) > 0 {
		n := min(size, len(batch))
		ctx, cancel := b.s.registryCtx()
		err := b.s.reg.AppendMessages(ctx, batch[:n])
		cancel()
		b.mu.Lock()
		b.writing -= n
		b.counts.done(n, err)
		b.mu.Unlock()
		if err != nil {
			b.s.log.Error("ocpp: append message log; keeping the frames to try again", "frames", len(batch), "err", err)
			b.requeue(batch)
			return
		}
		batch = batch[n:]
	}
}

// requeue puts frames that could not be written back in front of those that arrived since,
// keeping at most MessageLogMaxPending: the newest beyond are dropped and counted.
func (b *messageBatcher) requeue(failed []Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writing = 0
	b.buf = append(failed[:len(failed):len(failed)], b.buf...)
	if over := len(b.buf) - b.s.cfg.MessageLogMaxPending; over > 0 {
		b.buf = b.buf[:b.s.cfg.MessageLogMaxPending]
		b.dropped += over
		b.droppedTotal += int64(over)
	}
}

func (b *messageBatcher) stats() BatchStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BatchStats{Pending: int64(len(b.buf) + b.writing), Flushes: b.counts.flushes.Load(), Items: b.counts.items.Load(),
		Failed: b.counts.failed.Load(), Dropped: b.droppedTotal}
}

// latestBatcher coalesces entries per station (the newest wins) and writes them
// periodically, every HeartbeatFlushInterval: heartbeats and login failures, which may come
// many times a minute per station but of which only the last matters.
type latestBatcher[T any] struct {
	s     *Server
	name  string
	write func(context.Context, []T) error
	key   func(T) string
	newer func(a, b T) bool
	mu    sync.Mutex
	last  map[string]T
	// writing counts the entries of the flush under way, pending for metrics until the
	// registry answers; counts changes under mu with it, so that stats sees each entry once.
	writing int
	counts  flushCounts
	// dropped counts entries refused because latestBatcherMax stations were waiting: only
	// reachable for entries of stations that may not exist (login failures of made-up
	// identities), as each connected station holds one entry at most.
	dropped atomic.Int64
}

// latestBatcherMax bounds the stations a latestBatcher holds.
const latestBatcherMax = 200_000

func newLatestBatcher[T any](s *Server, name string, write func(context.Context, []T) error, key func(T) string, newer func(a, b T) bool) *latestBatcher[T] {
	return &latestBatcher[T]{s: s, name: name, write: write, key: key, newer: newer, last: map[string]T{}}
}

func (b *latestBatcher[T]) add(e T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addLocked(e)
}

func (b *latestBatcher[T]) addLocked(e T) {
	k := b.key(e)
	if prev, ok := b.last[k]; ok {
		if !b.newer(prev, e) {
			b.last[k] = e
		}
		return
	}
	if len(b.last) >= latestBatcherMax {
		b.dropped.Add(1)
		return
	}
	b.last[k] = e
}

func (b *latestBatcher[T]) run() {
	defer b.s.bg.Done()
	t := time.NewTicker(b.s.cfg.HeartbeatFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.s.ctx.Done():
			b.flush()
			return
		case <-t.C:
			b.flush()
		}
	}
}

// flush writes the entries coalesced so far. When the registry fails they are kept (a newer
// entry of the same station, coalesced meanwhile, wins), so nothing is lost while the
// database is away; they are one entry per station, so this is bounded.
func (b *latestBatcher[T]) flush() {
	b.mu.Lock()
	if len(b.last) == 0 {
		b.mu.Unlock()
		return
	}
	es := make([]T, 0, len(b.last))
	for _, e := range b.last {
		es = append(es, e)
	}
	clear(b.last)
	b.writing = len(es)
	b.mu.Unlock()
	ctx, cancel := b.s.registryCtx()
	defer cancel()
	err := b.write(ctx, es)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writing = 0
	b.counts.done(len(es), err)
	if err != nil {
		b.s.log.Error("ocpp: record "+b.name+"; keeping them to try again", "stations", len(es), "err", err)
		for _, e := range es {
			b.addLocked(e)
		}
	}
}

func (b *latestBatcher[T]) stats() BatchStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BatchStats{Pending: int64(len(b.last) + b.writing), Flushes: b.counts.flushes.Load(), Items: b.counts.items.Load(),
		Failed: b.counts.failed.Load(), Dropped: b.dropped.Load()}
}
