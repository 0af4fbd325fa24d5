package ocpp

import (
	"sync"
	"time"
)

// messageBatcher collects message-log entries and hands them to Registry.AppendMessages
// in batches, from one goroutine, so entries keep their order.
type messageBatcher struct {
	s       *Server
	mu      sync.Mutex
	buf     []Message
	dropped int
	kick    chan struct{}
}

func newMessageBatcher(s *Server) *messageBatcher {
	return &messageBatcher{s: s, kick: make(chan struct{}, 1)}
}

func (b *messageBatcher) add(m Message) {
	b.mu.Lock()
	if len(b.buf) >= b.s.cfg.MessageLogMaxPending {
		b.dropped++
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

// flush writes everything collected so far; only run calls it.
func (b *messageBatcher) flush() {
	b.mu.Lock()
	batch := b.buf
	b.buf = nil
	dropped := b.dropped
	b.dropped = 0
	b.mu.Unlock()
	if dropped > 0 {
		b.s.log.Warn("ocpp: message log full, frames dropped", "dropped", dropped)
	}
	size := b.s.cfg.MessageLogBatchSize
	for len(batch) > 0 {
		n := min(size, len(batch))
		ctx, cancel := b.s.registryCtx()
		if err := b.s.reg.AppendMessages(ctx, batch[:n]); err != nil {
			b.s.log.Error("ocpp: append message log", "frames", n, "err", err)
		}
		cancel()
		batch = batch[n:]
	}
}

// heartbeatBatcher coalesces heartbeats per station and writes them periodically.
type heartbeatBatcher struct {
	s    *Server
	mu   sync.Mutex
	last map[string]time.Time
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
	if err := b.s.reg.RecordHeartbeats(ctx, hs); err != nil {
		b.s.log.Error("ocpp: record heartbeats", "stations", len(hs), "err", err)
	}
}
