package ocpp

import (
	"sync"
	"sync/atomic"
	"time"
)

// BatchStats are the running counts of one of the gateway's batchers, for metrics.
type BatchStats struct {
	Pending int64 // entries waiting to be written now
	Flushes int64 // registry calls made
	Items   int64 // entries handed to the registry (including those of failed calls)
	Failed  int64 // entries of registry calls that failed
	Dropped int64 // entries refused because too many were waiting (message log only)
}

// BatchStats returns the counts of the gateway's batchers by name: "message_log" (frames for
// Registry.AppendMessages) and "heartbeats" (stations with a heartbeat waiting for
// Registry.RecordHeartbeats).
func (s *Server) BatchStats() map[string]BatchStats {
	return map[string]BatchStats{"message_log": s.messages.stats(), "heartbeats": s.heartbeats.stats()}
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
	kick         chan struct{}
	counts       flushCounts
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
		b.counts.done(n, err)
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
	b.buf = append(failed[:len(failed):len(failed)], b.buf...)
	if over := len(b.buf) - b.s.cfg.MessageLogMaxPending; over > 0 {
		b.buf = b.buf[:b.s.cfg.MessageLogMaxPending]
		b.dropped += over
		b.droppedTotal += int64(over)
	}
}

func (b *messageBatcher) stats() BatchStats {
	b.mu.Lock()
	pending, dropped := len(b.buf), b.droppedTotal
	b.mu.Unlock()
	return BatchStats{Pending: int64(pending), Flushes: b.counts.flushes.Load(), Items: b.counts.items.Load(),
		Failed: b.counts.failed.Load(), Dropped: dropped}
}

// heartbeatBatcher coalesces heartbeats per station and writes them periodically.
type heartbeatBatcher struct {
	s      *Server
	mu     sync.Mutex
	last   map[string]time.Time
	counts flushCounts
}

func newHeartbeatBatcher(s *Server) *heartbeatBatcher {
	return &heartbeatBatcher{s: s, last: map[string]time.Time{}}
}

func (b *heartbeatBatcher) add(identity string, at time.Time) {
	b.mu.Lock()
	b.last[identity] = at
	b.mu.Unlock()
}

func (b *heartbeatBatcher) run() {
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

// flush writes the heartbeats coalesced so far. When the registry fails they are kept (a
// newer heartbeat of the same station, coalesced meanwhile, wins), so nothing is lost while
// the database is away; they are one entry per connected station, so this is bounded.
func (b *heartbeatBatcher) flush() {
	b.mu.Lock()
	if len(b.last) == 0 {
		b.mu.Unlock()
		return
	}
	hs := make([]Heartbeat, 0, len(b.last))
	for id, at := range b.last {
		hs = append(hs, Heartbeat{Identity: id, At: at})
	}
	clear(b.last)
	b.mu.Unlock()
	ctx, cancel := b.s.registryCtx()
	defer cancel()
	err := b.s.reg.RecordHeartbeats(ctx, hs)
	b.counts.done(len(hs), err)
	if err != nil {
		b.s.log.Error("ocpp: record heartbeats; keeping them to try again", "stations", len(hs), "err", err)
		b.mu.Lock()
		for _, h := range hs {
			if at, ok := b.last[h.Identity]; !ok || at.Before(h.At) {
				b.last[h.Identity] = h.At
			}
		}
		b.mu.Unlock()
	}
}

func (b *heartbeatBatcher) stats() BatchStats {
	b.mu.Lock()
	pending := len(b.last)
	b.mu.Unlock()
	return BatchStats{Pending: int64(pending), Flushes: b.counts.flushes.Load(), Items: b.counts.items.Load(),
		Failed: b.counts.failed.Load()}
}
