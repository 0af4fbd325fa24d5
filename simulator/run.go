package simulator

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// Run is `evroam simulate`: it raises the open-file limit, creates the stations through the
// REST API when cfg.Create.Enabled, then runs the fleet (Fleet.Run) until ctx ends or
// cfg.Duration passes, showing progress on out, and finally prints the latency of every
// CALL the stations sent, by action.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if limit, err := RaiseFileLimit(); err != nil {
		fmt.Fprintf(out, "could not raise the open-file limit: %v\n", err)
	} else if need := uint64(cfg.Count) + 64; limit < need {
		fmt.Fprintf(out, "warning: open-file limit %d is below the %d this run needs\n", limit, need)
	}
	if cfg.Create.Enabled {
		if err := CreateStations(ctx, cfg, out); err != nil {
			return err
		}
	}
	if cfg.Recorder == nil {
		cfg.Recorder = NewRecorder() // its window starts now, after the creation
	}
	f, err := NewFleet(cfg)
	if err != nil {
		return err
	}
	if cfg.Duration > 0 {
		// Cancel rather than a deadline: calls still on their way when the time is up end
		// as cancelled, not as timeouts of the gateway.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := time.AfterFunc(cfg.Duration, cancel)
		defer stop.Stop()
	}
	fmt.Fprintf(out, "simulating %d stations (OCPP %s) against %s\n", cfg.Count, cfg.Protocol, cfg.URL)
	if srcs := f.SourceAddrs(); len(srcs) > 1 {
		fmt.Fprintf(out, "dialling from %d source addresses, %s to %s\n", len(srcs), srcs[0], srcs[len(srcs)-1])
	}

	p := newProgress(out, f, isTerminal(out), cfg.ProgressInterval)
	stop := p.start()
	runErr := f.Run(ctx)
	stop()
	cfg.Recorder.Stop()
	fmt.Fprintln(out, cfg.Recorder.Report())
	return runErr
}

// isTerminal reports whether w is a character device (a terminal), where progress is one
// line rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress writes the fleet's state: on a terminal one line rewritten with \r twice a
// second, elsewhere one line per interval.
type progress struct {
	out      io.Writer
	f        *Fleet
	tty      bool
	interval time.Duration
	last     Stats
	lastAt   time.Time
}

func newProgress(out io.Writer, f *Fleet, tty bool, interval time.Duration) *progress {
	if tty {
		interval = 500 * time.Millisecond
	}
	return &progress{out: out, f: f, tty: tty, interval: interval, lastAt: time.Now()}
}

// start begins writing; the returned func writes a last line and stops.
func (p *progress) start() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.write(false)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if p.tty {
			fmt.Fprintln(p.out)
		}
		p.write(true)
	}
}

func (p *progress) write(final bool) {
	now := time.Now()
	s := p.f.Stats()
	if final {
		// The fleet is closed by now: sum up instead of showing zero connections.
		fmt.Fprintf(p.out, "done: at most %d of %d connected; %d CALLs sent, %d answered; %d sessions; %d errors (%d CALLERROR, %d timeouts, %d failed connects); %d drops\n",
			s.PeakConnected, p.f.Config().Count, s.CallsSent, s.CallsAnswered, s.SessionsStarted, s.Errors(), s.CallErrors, s.Timeouts,
			s.ConnectFailures, s.Drops)
		return
	}
	secs := now.Sub(p.lastAt).Seconds()
	msgs := float64(s.FramesIn+s.FramesOut-p.last.FramesIn-p.last.FramesOut) / max(secs, 1e-9)
	p.last, p.lastAt = s, now
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	line := fmt.Sprintf("%s connected %d/%d  booted %d  msg/s %.0f  sessions %d  errors %d  drops %d  heap %d MiB",
		now.Format("15:04:05"), s.Connected, p.f.Config().Count, s.Booted, msgs, s.Sessions, s.Errors(), s.Drops,
		ms.HeapInuse>>20)
	if p.tty {
		fmt.Fprintf(p.out, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(p.out, line)
}
