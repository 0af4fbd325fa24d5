package simulator

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 100, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64, math.MaxUint64} {
		i := bucketOf(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d (previous %d, %d buckets)", v, i, prev, numBuckets)
		}
		prev = i
		upper := bucketUpper(i)
		if upper < v || float64(upper-v) > 0.032*float64(v)+1 {
			t.Errorf("bucketOf(%d) = %d with upper bound %d: more than 3%% off", v, i, upper)
		}
		if i > 0 && bucketUpper(i-1) >= v {
			t.Errorf("%d fits the bucket below %d", v, i)
		}
	}
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	r := NewRecorder()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 250; i++ {
				r.Observe("Heartbeat", time.Duration(4*(i-1)+w+1)*time.Millisecond, nil) // 1..1000 ms once each
			}
			r.Observe("Heartbeat", time.Second, &CallError{Code: "InternalError"})
			r.Observe("Heartbeat", 0, ErrTimeout)
		}()
	}
	wg.Wait()
	r.Stop()
	f := r.Report().Get("Heartbeat")
	if f.Count != 1000 || f.Errors != 8 || f.ErrorsByCode["InternalError"] != 4 || f.ErrorsByCode["Timeout"] != 4 {
		t.Fatalf("figures %+v", f)
	}
	near := func(name string, got, want time.Duration) {
		if math.Abs(float64(got-want)) > 0.035*float64(want) {
			t.Errorf("%s = %v, want about %v", name, got, want)
		}
	}
	near("p50", f.P50, 500*time.Millisecond)
	near("p90", f.P90, 900*time.Millisecond)
	near("p99", f.P99, 990*time.Millisecond)
	near("mean", f.Mean, 500500*time.Microsecond)
	if f.Min != time.Millisecond || f.Max != time.Second {
		t.Errorf("min %v max %v, want 1ms and 1s", f.Min, f.Max)
	}
	if f.Throughput <= 0 || r.Report().Get("Nothing").Count != 0 {
		t.Errorf("throughput %v", f.Throughput)
	}
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&CallError{Code: "SecurityError"}, "SecurityError"},
		{&HandshakeError{Status: 401}, "HTTP 401"},
		{ErrTimeout, "Timeout"},
		{context.DeadlineExceeded, "Timeout"},
		{ErrNotConnected, "NotConnected"},
		{errors.Join(ErrBootNotAccepted, errors.New("Pending")), "BootNotAccepted"},
		{context.Canceled, "Canceled"},
		{errors.New("connection refused"), "Dial"},
	} {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestLoopbackSpread: a large fleet against a loopback gateway dials from several addresses.
func TestLoopbackSpread(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url   string
		count int
		want  int
	}{
		{"ws://127.0.0.1:9000/ocpp", 50000, 3},
		{"ws://localhost:9000/ocpp", 20001, 2},
		{"ws://127.0.0.1:9000/ocpp", 20000, 0},
		{"ws://10.1.2.3:9000/ocpp", 50000, 0},
	} {
		e, err := newEnv(Config{URL: c.url, Count: c.count})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.srcs) != c.want {
			t.Errorf("%s with %d stations: %d source addresses, want %d", c.url, c.count, len(e.srcs), c.want)
		}
		if c.want > 0 && (e.srcs[0] != netip.MustParseAddr("127.0.0.1") || e.baseURL != "ws://127.0.0.1:9000/ocpp/") {
			t.Errorf("sources %v, base %s", e.srcs, e.baseURL)
		}
	}
	if got := loopbackSources(300)[299]; got != netip.MustParseAddr("127.0.1.44") {
		t.Errorf("source 300 = %s", got)
	}
}
