package simulator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder records, per action, the latency of successful operations and the failures by
// error code, over a wall-clock window that starts when it is made and ends at Stop. It is
// safe for concurrent use and cheap at high rates: an observation is a few atomic adds into
// fixed log-linear buckets (32 per power of two, so a percentile is within about 3% of the
// true value), and its memory does not grow with the number of observations.
type Recorder struct {
	start time.Time
	end   atomic.Int64 // unix nanoseconds; 0 while running

	mu      sync.RWMutex
	actions map[string]*histogram
}

// NewRecorder returns an empty recorder whose window starts now.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now(), actions: map[string]*histogram{}}
}

// Observe records one operation: its latency when err is nil, else its error code (see
// ErrorCode). Latencies of failed operations are not mixed into the percentiles, and an
// operation its caller cancelled (context.Canceled) is not counted at all: it says nothing
// about the gateway.
func (r *Recorder) Observe(action string, d time.Duration, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	h := r.histogram(action)
	if err != nil {
		h.fail(ErrorCode(err))
		return
	}
	h.add(d)
}

// Stop ends the window; later observations still count but the throughput's window stays.
func (r *Recorder) Stop() { r.end.CompareAndSwap(0, time.Now().UnixNano()) }

func (r *Recorder) histogram(action string) *histogram {
	r.mu.RLock()
	h := r.actions[action]
	r.mu.RUnlock()
	if h != nil {
		return h
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h = r.actions[action]; h == nil {
		h = &histogram{minNanos: math.MaxUint64}
		r.actions[action] = h
	}
	return h
}

// Report returns the figures so far.
func (r *Recorder) Report() Report {
	end := time.Now()
	if n := r.end.Load(); n != 0 {
		end = time.Unix(0, n)
	}
	rep := Report{Window: end.Sub(r.start)}
	r.mu.RLock()
	for name, h := range r.actions {
		rep.Actions = append(rep.Actions, h.figures(name, rep.Window))
	}
	r.mu.RUnlock()
	slices.SortFunc(rep.Actions, func(a, b Figures) int { return strings.Compare(a.Action, b.Action) })
	return rep
}

// Report is what a Recorder measured.
type Report struct {
	Window  time.Duration // the wall-clock window throughputs are computed over
	Actions []Figures     // by action name
}

// Figures are one action's numbers.
type Figures struct {
	// Action is the OCPP action, or a scenario's ActionConnectBoot, ActionReconnect, … .
	Action string
	// Count is the number of successful operations; the latencies are theirs.
	Count uint64
	// Errors is the number of failed ones, and ErrorsByCode splits it by ErrorCode
	// (CALLERROR code, "Timeout", "HTTP 401", …).
	Errors       uint64
	ErrorsByCode map[string]uint64
	// Min, Mean, the percentiles P50, P90 and P99, and Max are latencies of the successful
	// operations; the percentiles are bucket upper bounds (within about 3%).
	Min, Mean time.Duration
	P50, P90  time.Duration
	P99, Max  time.Duration
	// Throughput is successful operations per second over the report's window.
	Throughput float64
}

// Get returns the figures of action (zero when it was never observed).
func (r Report) Get(action string) Figures {
	for _, f := range r.Actions {
		if f.Action == action {
			return f
		}
	}
	return Figures{Action: action}
}

// String renders the report as a table.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %9s %8s %9s %9s %9s %9s %9s %10s  %s\n",
		"action", "count", "errors", "min", "p50", "p90", "p99", "max", "per sec", "errors by code")
	for _, f := range r.Actions {
		var codes []string
		for c, n := range f.ErrorsByCode {
			codes = append(codes, fmt.Sprintf("%s=%d", c, n))
		}
		slices.Sort(codes)
		fmt.Fprintf(&b, "%-20s %9d %8d %9s %9s %9s %9s %9s %10.1f  %s\n", f.Action, f.Count, f.Errors,
			round(f.Min), round(f.P50), round(f.P90), round(f.P99), round(f.Max), f.Throughput, strings.Join(codes, " "))
	}
	fmt.Fprintf(&b, "window %s\n", r.Window.Round(time.Millisecond))
	return b.String()
}

// round keeps three significant digits, enough for a latency table.
func round(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}

// Buckets: values below 64 ns each have their own; above, every power of two is split into
// 32 equal buckets. 1920 buckets cover every uint64.
const (
	subBucketBits = 5
	subBuckets    = 1 << subBucketBits // 32
	numBuckets    = (64 - subBucketBits + 1) * subBuckets
)

func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketUpper is the largest value of bucket i.
func bucketUpper(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i%subBuckets + subBuckets)
	return (mantissa+1)<<shift - 1
}

type histogram struct {
	count    atomic.Uint64
	sumNanos atomic.Uint64
	minNanos uint64 // atomic
	maxNanos atomic.Uint64
	buckets  [numBuckets]atomic.Uint64

	errCount atomic.Uint64
	errMu    sync.Mutex
	errCodes map[string]uint64
}

func (h *histogram) add(d time.Duration) {
	v := uint64(max(d, 0))
	h.buckets[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sumNanos.Add(v)
	for cur := h.maxNanos.Load(); v > cur && !h.maxNanos.CompareAndSwap(cur, v); cur = h.maxNanos.Load() {
	}
	for cur := atomic.LoadUint64(&h.minNanos); v < cur && !atomic.CompareAndSwapUint64(&h.minNanos, cur, v); cur = atomic.LoadUint64(&h.minNanos) {
	}
}

func (h *histogram) fail(code string) {
	h.errCount.Add(1)
	h.errMu.Lock()
	defer h.errMu.Unlock()
	if h.errCodes == nil {
		h.errCodes = map[string]uint64{}
	}
	h.errCodes[code]++
}

func (h *histogram) figures(action string, window time.Duration) Figures {
	f := Figures{Action: action, Errors: h.errCount.Load()}
	h.errMu.Lock()
	if len(h.errCodes) > 0 {
		f.ErrorsByCode = make(map[string]uint64, len(h.errCodes))
		for c, n := range h.errCodes {
			f.ErrorsByCode[c] = n
		}
	}
	h.errMu.Unlock()
	// Copy the buckets first and count from the copy, so the percentiles agree with each
	// other even while observations keep coming.
	var counts [numBuckets]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return f
	}
	f.Count = total
	maxV := h.maxNanos.Load()
	f.Max = time.Duration(maxV)
	f.Min = time.Duration(atomic.LoadUint64(&h.minNanos))
	f.Mean = time.Duration(h.sumNanos.Load() / max(h.count.Load(), 1))
	quantile := func(q float64) time.Duration {
		rank := uint64(math.Ceil(q * float64(total)))
		var seen uint64
		for i, n := range counts {
			seen += n
			if seen >= rank {
				return time.Duration(min(bucketUpper(i), maxV))
			}
		}
		return time.Duration(maxV)
	}
	f.P50, f.P90, f.P99 = quantile(0.50), quantile(0.90), quantile(0.99)
	if window > 0 {
		f.Throughput = float64(total) / window.Seconds()
	}
	return f
}
