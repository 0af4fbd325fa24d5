package simulator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Actions a scenario records besides the OCPP actions themselves.
const (
	// ActionConnectBoot is ConnectStorm's headline: dial start to the BootNotification answer.
	ActionConnectBoot = "ConnectBoot"
	// ActionReconnect is ReconnectStorm's headline: dial start to the first answer.
	ActionReconnect = "Reconnect"
	// ActionConnect is the dial and WebSocket upgrade alone.
	ActionConnect = "Connect"
	// ActionIdle counts HoldIdle's held connections: still up, or "Dropped".
	ActionIdle = "Idle"
)

// errDropped is how HoldIdle counts a connection that dropped while held.
var errDropped = &CallError{Code: "Dropped"}

// ConnectStorm connects and boots every station of f that is not connected, with at most
// Config.MaxInFlight being opened at once and at most Config.ConnectRate new ones a second,
// and leaves them connected and idle (they answer the gateway's CALLs and send nothing on
// their own). It records ActionConnectBoot (dial start to the BootNotification answer),
// ActionConnect (dial to the completed upgrade) and BootNotification (the CALL alone). A
// failed station is counted by its error code; the error is only ctx's.
func ConnectStorm(ctx context.Context, f *Fleet) (Report, error) {
	rec := NewRecorder()
	err := storm(ctx, f, rec, ActionConnectBoot, func(ctx context.Context, _ int, s *Station) error {
		return bootRecorded(ctx, rec, s)
	})
	rec.Stop()
	return rec.Report(), err
}

func bootRecorded(ctx context.Context, rec *Recorder, s *Station) error {
	start := time.Now()
	_, err := s.Boot(ctx)
	rec.Observe("BootNotification", time.Since(start), err)
	return err
}

// ReconnectStorm is ConnectStorm for stations whose boot data is on record (after a
// ConnectStorm, or a gateway restart): stations still connected are closed first (not
// measured), then every station connects again. With boot they send BootNotification, as a
// station does after a reboot, and ActionReconnect ends at its answer; without, they send a
// Heartbeat and ActionReconnect ends at its answer, the first moment the gateway has
// registered the connection and serves the station (a gateway without the boot data answers
// SecurityError, which is counted).
func ReconnectStorm(ctx context.Context, f *Fleet, boot bool) (Report, error) {
	f.Close()
	rec := NewRecorder()
	err := storm(ctx, f, rec, ActionReconnect, func(ctx context.Context, _ int, s *Station) error {
		start := time.Now()
		var err error
		action := "Heartbeat"
		if boot {
			action = "BootNotification"
			_, err = s.Boot(ctx)
		} else {
			err = s.Heartbeat(ctx)
		}
		rec.Observe(action, time.Since(start), err)
		return err
	})
	rec.Stop()
	return rec.Report(), err
}

// storm opens a connection for every unconnected station and runs first on it, recording
// the whole under headline. It returns ctx's error only when ctx ended before every station
// had its turn.
func storm(ctx context.Context, f *Fleet, rec *Recorder, headline string, first func(ctx context.Context, i int, s *Station) error) error {
	var next, finished atomic.Int64
	var wg sync.WaitGroup
	for range min(f.env.cfg.MaxInFlight, len(f.stations)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(f.stations) || ctx.Err() != nil {
					return
				}
				s := f.stations[i]
				if s.Connected() {
					finished.Add(1)
					continue
				}
				_ = f.env.pacer.do(ctx, func() error {
					start := time.Now()
					err := s.Connect(ctx)
					rec.Observe(ActionConnect, time.Since(start), err)
					if err == nil {
						if err = first(ctx, i, s); err != nil {
							_ = s.Close()
						}
					}
					rec.Observe(headline, time.Since(start), err)
					finished.Add(1)
					return nil
				})
			}
		}()
	}
	wg.Wait()
	// The storm was cut short only if some station never had its turn: a ctx that ends after
	// the last station's turn (a caller that cancels as soon as it sees every station booted)
	// is not an error of the storm.
	if finished.Load() < int64(len(f.stations)) {
		return ctx.Err()
	}
	return nil
}

// LoadAction is the CALL a MessageLoad sends.
type LoadAction int

// Load actions.
const (
	// LoadHeartbeat sends Heartbeat.
	LoadHeartbeat LoadAction = iota + 1
	// LoadStatusNotification sends StatusNotification, alternating connectors 1 and 2 and
	// moving each between Charging (1.6) / Occupied (2.0.1) and Available.
	LoadStatusNotification
	// LoadAuthorize sends Authorize with Config.IDTag.
	LoadAuthorize
	// LoadMeterValues sends MeterValues for connector 1, its register rising.
	LoadMeterValues
)

// String returns the OCPP action.
func (a LoadAction) String() string {
	switch a {
	case LoadHeartbeat:
		return "Heartbeat"
	case LoadStatusNotification:
		return "StatusNotification"
	case LoadAuthorize:
		return "Authorize"
	case LoadMeterValues:
		return "MeterValues"
	}
	return fmt.Sprintf("LoadAction(%d)", int(a))
}

// Load describes a MessageLoad.
type Load struct {
	// Action is what every station sends.
	Action LoadAction
	// Stations is how many of the fleet's connected stations send; 0: all of them.
	Stations int
	// Duration is how long they send. Default 10s.
	Duration time.Duration
	// Rate, when above 0, paces the load: the stations together send Rate messages a second,
	// each station on a schedule of its own (one message every Stations/Rate seconds, the
	// stations' schedules spread evenly over that interval). 0: a closed loop.
	Rate float64
}

// MessageLoad runs a closed loop: each of Load.Stations connected stations sends
// Load.Action back to back, the next CALL as soon as the previous one is answered, for
// Load.Duration. It records the action's latency and its failures by code (a CALLERROR's
// code, "Timeout"); a station whose connection is lost stops. The throughput is over the
// whole load, so the figure is what the gateway sustains with that many stations waiting on
// it. Stations must be connected (and booted) first, e.g. with ConnectStorm.
//
// A closed loop measures throughput, not latency: with N stations always waiting, the mean
// latency is N ÷ throughput whatever the gateway does (1,000 stations at 5,000 msg/s wait
// 200 ms on average). With Load.Rate the load is paced instead, and the latency is what a
// message waits at that rate. A station sends its next message when it is due, or when the
// previous one is answered if that is later (OCPP allows one CALL at a time), and the latency
// counts from when the message was due: a slow answer delays the messages behind it, and
// their wait is counted too (no coordinated omission).
func MessageLoad(ctx context.Context, f *Fleet, load Load) (Report, error) {
	if load.Action < LoadHeartbeat || load.Action > LoadMeterValues {
		return Report{}, fmt.Errorf("simulator: unknown load action %d", load.Action)
	}
	if load.Duration <= 0 {
		load.Duration = 10 * time.Second
	}
	var senders []*Station
	for _, s := range f.stations {
		if load.Stations > 0 && len(senders) == load.Stations {
			break
		}
		if s.Connected() {
			senders = append(senders, s)
		}
	}
	if len(senders) == 0 {
		return Report{}, errors.New("simulator: no connected station to send")
	}
	action := load.Action.String()
	rec := NewRecorder()
	deadline := rec.start.Add(load.Duration)
	var every time.Duration // a station's interval when paced
	if load.Rate > 0 {
		every = time.Duration(float64(len(senders)) / load.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bp := getBuffer()
			defer putBuffer(bp)
			due := rec.start.Add(every * time.Duration(i) / time.Duration(len(senders)))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				start := time.Now()
				if every > 0 {
					if !due.Before(deadline) || !sleepUntil(ctx, due) {
						return
					}
					start = due
					due = due.Add(every)
				}
				*bp = s.loadPayload((*bp)[:0], load.Action)
				_, err := s.call(ctx, action, *bp)
				rec.Observe(action, time.Since(start), err)
				if errors.Is(err, ErrNotConnected) {
					return
				}
			}
		}()
	}
	wg.Wait()
	rec.Stop()
	return rec.Report(), ctx.Err()
}

// loadPayload renders the next payload of a MessageLoad.
func (s *Station) loadPayload(buf []byte, a LoadAction) []byte {
	now := time.Now()
	switch a {
	case LoadStatusNotification:
		s.mu.Lock()
		step := s.loadStep
		s.loadStep++
		s.mu.Unlock()
		c := 1 + int(step%2)
		if c > len(s.connectors) {
			c = 1
		}
		status := "Available"
		if step/2%2 == 0 {
			status = s.chargingStatus()
		}
		return s.appendStatus(buf, c, status, now)
	case LoadAuthorize:
		return s.appendAuthorize(buf, s.env.cfg.IDTag, "ISO14443")
	case LoadMeterValues:
		s.mu.Lock()
		s.connectors[0].meterWh += 10
		wh := s.connectors[0].meterWh
		s.mu.Unlock()
		return s.appendMeterValues(buf, 1, 0, now, wh, 11000)
	}
	return append(buf, "{}"...)
}

// HoldIdle connects and boots every station of f that is not connected (recorded as in
// ConnectStorm) and holds all of them idle until ctx ends: nothing is sent, and each
// connection costs the client its reader goroutine, a 512-byte read buffer and its socket, so
// that what the gateway keeps per connection can be measured meanwhile (Fleet.Stats().Booted
// tells when every station is up). Under ActionIdle each held connection counts as a success
// when it is still up at the end (its "latency" is the time held) and as an error "Dropped"
// when it ended. The stations stay connected when it returns; the error is ctx's if it ended
// before every station was up.
func HoldIdle(ctx context.Context, f *Fleet) (Report, error) {
	rec := NewRecorder()
	held := make([]*link, len(f.stations))
	for i, s := range f.stations {
		held[i] = s.current()
	}
	err := storm(ctx, f, rec, ActionConnectBoot, func(ctx context.Context, i int, s *Station) error {
		held[i] = s.current()
		return bootRecorded(ctx, rec, s)
	})
	if err != nil {
		rec.Stop()
		return rec.Report(), err
	}
	start := time.Now()
	<-ctx.Done()
	holding := time.Since(start)
	for _, l := range held {
		if l == nil {
			continue
		}
		select {
		case <-l.done:
			rec.Observe(ActionIdle, 0, errDropped)
		default:
			rec.Observe(ActionIdle, holding, nil)
		}
	}
	rec.Stop()
	return rec.Report(), nil
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
