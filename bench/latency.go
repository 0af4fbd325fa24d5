package main

import (
	"math"
	"sort"
	"sync"
	"time"
)

// recorder collects latencies of many goroutines cheaply: each worker appends to its own
// slice (no lock on the hot path), and figures are computed once at the end.
type recorder struct {
	mu      sync.Mutex
	samples [][]time.Duration
	errors  map[string]int
	start   time.Time
	end     time.Time
}

func newRecorder() *recorder { return &recorder{errors: map[string]int{}} }

// worker returns a per-goroutine sink.
func (r *recorder) worker() *workerRecorder {
	w := &workerRecorder{r: r, lat: make([]time.Duration, 0, 4096)}
	return w
}

type workerRecorder struct {
	r   *recorder
	lat []time.Duration
}

func (w *workerRecorder) ok(d time.Duration) { w.lat = append(w.lat, d) }

func (w *workerRecorder) fail(kind string) {
	w.r.mu.Lock()
	w.r.errors[kind]++
	w.r.mu.Unlock()
}

func (w *workerRecorder) done() {
	w.r.mu.Lock()
	w.r.samples = append(w.r.samples, w.lat)
	w.r.mu.Unlock()
}

// figures are what a load run measured.
type figures struct {
	Count    int            `json:"count"`
	Errors   map[string]int `json:"errors,omitempty"`
	Seconds  float64        `json:"seconds"`
	PerSec   float64        `json:"per_second"`
	P50Ms    float64        `json:"p50_ms"`
	P99Ms    float64        `json:"p99_ms"`
	MaxMs    float64        `json:"max_ms"`
	ErrTotal int            `json:"error_total"`
}

func (r *recorder) figures() figures {
	var all []time.Duration
	for _, s := range r.samples {
		all = append(all, s...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	f := figures{Count: len(all), Errors: r.errors, Seconds: r.end.Sub(r.start).Seconds()}
	for _, n := range r.errors {
		f.ErrTotal += n
	}
	if f.Seconds > 0 {
		f.PerSec = float64(f.Count) / f.Seconds
	}
	q := func(p float64) float64 {
		if len(all) == 0 {
			return math.NaN()
		}
		i := int(math.Ceil(p*float64(len(all)))) - 1
		return float64(all[max(i, 0)]) / float64(time.Millisecond)
	}
	f.P50Ms, f.P99Ms = q(0.50), q(0.99)
	if len(all) > 0 {
		f.MaxMs = float64(all[len(all)-1]) / float64(time.Millisecond)
	}
	return f
}
