package simulator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrConnectionLost is returned by Station.Run when the connection dropped and
// Config.Reconnect is off.
var ErrConnectionLost = errors.New("simulator: connection lost")

// Run keeps the station connected and doing what its config says until ctx ends: it
// connects, sends BootNotification (on the first connection, after a Reset, or always with
// Config.BootOnReconnect), a StatusNotification per connector, then heartbeats, status
// flips and sessions as configured, and reconnects with backoff when the connection drops
// and Config.Reconnect is set. It returns nil when ctx ends, else the error that stopped it.
func (s *Station) Run(ctx context.Context) error {
	s.setRunning(ctx)
	defer s.setRunning(nil)
	defer s.Close()
	for {
		err := s.up(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if l := s.current(); err == nil && l != nil {
			s.online(ctx)
			select {
			case <-ctx.Done():
				return nil
			case <-l.done:
			}
			if s.rebootDue() {
				continue
			}
			err = fmt.Errorf("%w: %v", ErrConnectionLost, l.err)
		}
		if !s.env.cfg.Reconnect {
			return err
		}
		if sleep(ctx, s.nextBackoff()) != nil {
			return nil
		}
	}
}

func (s *Station) setRunning(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runCtx = ctx
	s.backoff = 0
}

func (s *Station) rebootDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rebootReason != ""
}

// nextBackoff returns how long to wait before the next attempt: from ReconnectMin doubling
// to ReconnectMax, with jitter so that a fleet dropped at once does not come back at once.
func (s *Station) nextBackoff() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := &s.env.cfg
	switch {
	case s.backoff == 0:
		s.backoff = cfg.ReconnectMin
	case s.backoff < cfg.ReconnectMax:
		s.backoff = min(2*s.backoff, cfg.ReconnectMax)
	}
	return jitter(s.backoff)
}

// up connects and, when due, boots, within the fleet's connection pacing.
func (s *Station) up(ctx context.Context) error {
	return s.env.pacer.do(ctx, func() error {
		s.mu.Lock()
		reason := s.rebootReason
		s.rebootReason = ""
		boot := !s.everBooted || reason != "" || s.env.cfg.BootOnReconnect
		s.mu.Unlock()
		if reason == "" {
			reason = "PowerUp"
		}
		if err := s.Connect(ctx); err != nil {
			return err
		}
		if boot {
			if _, err := s.boot(ctx, reason); err != nil {
				_ = s.Close()
				return err
			}
		}
		s.mu.Lock()
		s.backoff = 0
		s.mu.Unlock()
		return nil
	})
}

// online is what a station does on a fresh connection: report every connector, then start
// the configured behaviours as timers of this connection.
func (s *Station) online(ctx context.Context) {
	l := s.current()
	if l == nil {
		return
	}
	s.sendAllStatuses(ctx)
	cfg := &s.env.cfg
	if hb := s.HeartbeatInterval(); hb > 0 {
		l.every(jitter(hb), s.HeartbeatInterval, func() { _ = s.Heartbeat(ctx) })
	}
	if d := cfg.StatusInterval; d > 0 {
		l.every(jitter(d), func() time.Duration { return d }, func() { s.flipStatus(ctx) })
	}
	if d := cfg.SessionInterval; d > 0 {
		l.every(jitter(d), func() time.Duration { return d }, func() { s.startOwnSession(ctx) })
	}
}

// Run keeps every station connected and busy (see Station.Run) until ctx ends, then closes
// them all. New connections are opened by Config.MaxInFlight workers at up to
// Config.ConnectRate per second; a dropped station is queued again after its backoff when
// Config.Reconnect is set. Each station costs its connection's reader goroutine and a few
// timers, not a goroutine of its own. Run returns an error only when no station could
// connect at all.
func (f *Fleet) Run(ctx context.Context) error {
	e := f.env
	queue := make(chan *Station, len(f.stations))
	var lastErr atomic.Value
	var everUp atomic.Bool
	enqueue := func(s *Station) {
		s.mu.Lock()
		if s.queued || ctx.Err() != nil {
			s.mu.Unlock()
			return
		}
		s.queued = true
		s.mu.Unlock()
		queue <- s // never blocks: each station is queued at most once
	}
	retry := func(s *Station) {
		if !e.cfg.Reconnect || ctx.Err() != nil {
			return
		}
		time.AfterFunc(s.nextBackoff(), func() { enqueue(s) })
	}
	e.onDown.Store(&onDownFunc{fn: func(s *Station) {
		if ctx.Err() != nil {
			return
		}
		if s.rebootDue() {
			enqueue(s)
			return
		}
		retry(s)
	}})
	defer e.onDown.Store(nil)

	for _, s := range f.stations {
		s.setRunning(ctx)
		if !s.Connected() {
			enqueue(s)
		}
	}
	var workers sync.WaitGroup
	for range e.cfg.MaxInFlight {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for {
				var s *Station
				select {
				case <-ctx.Done():
					return
				case s = <-queue:
				}
				s.mu.Lock()
				s.queued = false
				s.mu.Unlock()
				if err := s.up(ctx); err != nil {
					if ctx.Err() == nil {
						lastErr.Store(fmt.Sprintf("%s: %v", s.identity, err))
						retry(s)
					}
					continue
				}
				everUp.Store(true)
				go s.online(ctx)
			}
		}()
	}
	<-ctx.Done()
	workers.Wait()
	e.onDown.Store(nil)
	f.Close()
	for _, s := range f.stations {
		s.setRunning(nil)
	}
	if !everUp.Load() {
		if msg, ok := lastErr.Load().(string); ok {
			return fmt.Errorf("simulator: no station could connect; last error: %s", msg)
		}
	}
	return nil
}

// onDownFunc wraps the fleet's reconnect hook for an atomic.Pointer.
type onDownFunc struct{ fn func(*Station) }
