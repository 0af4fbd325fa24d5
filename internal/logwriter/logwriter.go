// Package logwriter buffers a process's log output, so that a log line costs a copy rather
// than a system call.
//
// evroam writes one access line per HTTP request and a line per station that connects or
// goes away. slog's handlers write each record with one write(2) while holding the handler's
// lock, and on the small virtual machines evroam is measured on a system call costs tens of
// microseconds: at ten thousand requests a second that is a quarter of a core, and every
// request of the node queues for the lock behind the one in the kernel. A Writer keeps the
// lines in memory and writes them out together: at least every Interval, at once when
// MaxBuffered bytes are waiting, and when a record at or above the level given to Handler
// was logged (so that warnings and errors are out when they happen, before a crash that
// would lose what is buffered). Lines keep their order.
//
// What a crash can lose is the lines of the last Interval below that level; Close writes
// out the rest when the process stops.
package logwriter

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer is a buffered, goroutine-safe io.Writer in front of out. Make it with New.
type Writer struct {
	out         io.Writer
	maxBuffered int

	mu     sync.Mutex // guards buf, spare and closed
	buf    []byte     // lines waiting to be written
	spare  []byte     // the buffer being (or last) written out, reused
	closed bool

	flushMu sync.Mutex // one write to out at a time, in order
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// New starts a Writer that writes to out at least every interval and whenever maxBuffered
// bytes are waiting. A writer whose waiting lines reach four times maxBuffered (out is slow)
// writes them out itself, so memory stays bounded and a slow out slows the loggers as it did
// without the buffer.
func New(out io.Writer, interval time.Duration, maxBuffered int) *Writer {
	w := &Writer{out: out, maxBuffered: maxBuffered, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go w.run(interval)
	return w
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			return
		}
		_ = w.Flush()
	}
}

// Write keeps a copy of p (one log record, as slog hands it over) to be written out later.
// After Close it writes p through at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.flushMu.Lock()
		defer w.flushMu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	n := len(w.buf)
	w.mu.Unlock()
	switch {
	case n >= 4*w.maxBuffered:
		if err := w.Flush(); err != nil {
			return 0, err
		}
	case n >= w.maxBuffered:
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes out every line written so far.
func (w *Writer) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	b := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	if len(b) == 0 {
		w.mu.Lock()
		w.spare = b
		w.mu.Unlock()
		return nil
	}
	_, err := w.out.Write(b)
	w.mu.Lock()
	w.spare = b[:0]
	w.mu.Unlock()
	return err
}

// Close writes out what is waiting and stops the Writer; later writes go straight to out.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.stopped
	return w.Flush()
}

// Handler returns h, which must write to w, made to write w out after each record at level
// or above.
func Handler(h slog.Handler, w *Writer, level slog.Leveler) slog.Handler {
	return flushing{Handler: h, w: w, level: level}
}

type flushing struct {
	slog.Handler
	w     *Writer
	level slog.Leveler
}

func (h flushing) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level.Level() {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushing) WithAttrs(as []slog.Attr) slog.Handler {
	return flushing{Handler: h.Handler.WithAttrs(as), w: h.w, level: h.level}
}

func (h flushing) WithGroup(name string) slog.Handler {
	return flushing{Handler: h.Handler.WithGroup(name), w: h.w, level: h.level}
}
