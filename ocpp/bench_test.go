package ocpp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// nopRegistry accepts every identity with security profile 0 and boot data on record, and
// stores nothing, so benchmarks measure the gateway alone.
type nopRegistry struct{}

func (nopRegistry) LookupStation(_ context.Context, id string) (Station, error) {
	return Station{Identity: id, HasBootData: true}, nil
}
func (nopRegistry) RecordConnect(context.Context, ConnectInfo) error                { return nil }
func (nopRegistry) RecordDisconnect(context.Context, string, time.Time) error       { return nil }
func (nopRegistry) RecordBoot(context.Context, string, BootInfo) error              { return nil }
func (nopRegistry) RecordHeartbeats(context.Context, []Heartbeat) error             { return nil }
func (nopRegistry) RecordLoginFailures(context.Context, []LoginFailure) error       { return nil }
func (nopRegistry) RecordStatus(context.Context, StatusReport) error                { return nil }
func (nopRegistry) AppendMessages(context.Context, []Message) error                 { return nil }
func (nopRegistry) RecordMeterValues(context.Context, MeterValuesReport) error      { return nil }
func (nopRegistry) StartTransaction(context.Context, TransactionStart) (int, error) { return 1, nil }
func (nopRegistry) StopTransaction(context.Context, TransactionStop) error          { return nil }
func (nopRegistry) RecordTransactionEvent(context.Context, TransactionEvent) error  { return nil }
func (nopRegistry) RecordDataTransfer(context.Context, DataTransfer) error          { return nil }
func (nopRegistry) RecordConfiguration(context.Context, string, []ConfigurationValue) error {
	return nil
}
func (nopRegistry) Authorize(context.Context, AuthorizeRequest) (IDTokenInfo, error) {
	return IDTokenInfo{Status: AuthorizationAccepted}, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkIdleConnections opens b.N real loopback WebSocket connections (capped by
// EVROAM_BENCH_MAX_CONNS, default 5000, because each needs two file descriptors) and
// reports the memory the process holds per idle connection, after GC: heap in use plus
// goroutine stacks. The client side is raw TCP sockets without goroutines or buffers, so
// the figure is the gateway's cost plus a few hundred bytes of client socket. Run e.g.
//
//	go test ./ocpp -run XXX -bench IdleConnections -benchtime 5000x
func BenchmarkIdleConnections(b *testing.B) {
	maxConns := 5000
	if v, err := strconv.Atoi(os.Getenv("EVROAM_BENCH_MAX_CONNS")); err == nil && v > 0 {
		maxConns = v
	}
	n := min(b.N, maxConns)
	srv := NewServer(Config{PingInterval: -1}, nopRegistry{}, discardLogger())
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Close(ctx)
	}()
	addr := hs.Listener.Addr().String()

	// Warm up: one connection, so that lazily built state (schemas, pools) is not counted.
	warm := dialRaw(b, addr, "WARM")
	defer warm.Close()
	waitConnected(b, srv, 1)

	before, stackBefore := memInUse()
	goroutinesBefore := runtime.NumGoroutine()
	b.ResetTimer()
	conns := make([]net.Conn, 0, n)
	for i := range n {
		conns = append(conns, dialRaw(b, addr, "CP-"+strconv.Itoa(i)))
	}
	waitConnected(b, srv, n+1)
	b.StopTimer()
	after, stackAfter := memInUse()
	goroutines := runtime.NumGoroutine() - goroutinesBefore
	b.ReportMetric(float64(after-before)/float64(n), "bytes/conn")
	b.ReportMetric(float64(stackAfter-stackBefore)/float64(n), "stack-bytes/conn")
	b.ReportMetric(float64(goroutines)/float64(n), "goroutines/conn")
	for _, c := range conns {
		c.Close()
	}
}

// memInUse is the heap and stack in use after a collection, and the stack part of it.
func memInUse() (all, stack int64) {
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse), int64(ms.StackInuse)
}

func waitConnected(b *testing.B, srv *Server, n int) {
	deadline := time.Now().Add(time.Minute)
	for srv.Connected() < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d connections registered", srv.Connected(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Let the connection goroutines reach their blocking read.
	time.Sleep(100 * time.Millisecond)
}

var handshakeBuf = make([]byte, 4096)

// dialRaw opens a WebSocket with a hand-written handshake and keeps only the socket.
func dialRaw(b *testing.B, addr, identity string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(c, "GET /ocpp/%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n",
		identity, addr)
	got := 0
	for !bytes.Contains(handshakeBuf[:got], []byte("\r\n\r\n")) {
		m, err := c.Read(handshakeBuf[got:])
		if err != nil {
			b.Fatal(err)
		}
		got += m
	}
	if !bytes.HasPrefix(handshakeBuf[:got], []byte("HTTP/1.1 101")) {
		b.Fatalf("handshake: %s", handshakeBuf[:got])
	}
	return c
}

// stubWS is a wsConn that discards writes.
type stubWS struct{ n int }

func (w *stubWS) ReadMessage() (int, []byte, error)         { return 0, nil, io.EOF }
func (w *stubWS) WriteMessage(_ int, data []byte) error     { w.n += len(data); return nil }
func (w *stubWS) WriteControl(int, []byte, time.Time) error { return nil }
func (w *stubWS) SetWriteDeadline(time.Time) error          { return nil }
func (w *stubWS) Close() error                              { return nil }

// BenchmarkDispatch measures one station CALL from frame bytes to the written answer:
// decode, schema validation of the request, the handler (against a no-op registry),
// schema validation of our response, encoding and message-log entries. Each case runs
// without an Observer and with one whose instruments are atomic adds (what a Prometheus
// counter's Inc is), which shows what metrics add to the hot path.
func BenchmarkDispatch(b *testing.B) {
	cases := []struct {
		name, proto, frame string
	}{
		{"Heartbeat16", ProtocolOCPP16, `[2,"b1","Heartbeat",{}]`},
		{"StatusNotification16", ProtocolOCPP16, `[2,"b2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2025-01-02T03:04:05.000Z"}]`},
		{"MeterValues16", ProtocolOCPP16, `[2,"b3","MeterValues",{"connectorId":1,"transactionId":5,"meterValue":[{"timestamp":"2025-01-02T03:04:05Z","sampledValue":[{"value":"1500","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"16.1","measurand":"Current.Import","phase":"L1","unit":"A"}]}]}]`},
		{"BootNotification201", ProtocolOCPP201, `[2,"b4","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V","serialNumber":"S","firmwareVersion":"1.0","modem":{"iccid":"1","imsi":"2"}}}]`},
		{"TransactionEvent201", ProtocolOCPP201, `[2,"b5","TransactionEvent",{"eventType":"Updated","timestamp":"2025-01-02T03:04:05Z","triggerReason":"MeterValuePeriodic","seqNo":3,"transactionInfo":{"transactionId":"tx-1","chargingState":"Charging"},"meterValue":[{"timestamp":"2025-01-02T03:04:05Z","sampledValue":[{"value":1500.5,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"Wh"}}]}]}]`},
	}
	for _, observed := range []bool{false, true} {
		cfg := Config{MessageLogBatchSize: 1 << 20, MessageLogMaxPending: 1 << 20}
		if observed {
			cfg.Observer = atomicObserver{}
		}
		srv := NewServer(cfg, nopRegistry{}, discardLogger())
		defer func() { _ = srv.Close(context.Background()) }()
		for _, tc := range cases {
			b.Run(fmt.Sprintf("%s/observer=%t", tc.name, observed), func(b *testing.B) {
				ws := &stubWS{}
				c := &conn{s: srv, ws: ws, identity: "BENCH", proto: tc.proto, val: srv.validators[tc.proto],
					callSem: make(chan struct{}, 1), done: make(chan struct{})}
				c.booted.Store(true)
				frame := []byte(tc.frame)
				c.handleFrame(frame) // compile the schemas and resolve the instruments outside the timing
				if !json.Valid(frame) || ws.n == 0 {
					b.Fatal("no answer written")
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					c.handleFrame(frame)
				}
			})
		}
	}
}

// atomicObserver hands out instruments that are one atomic add each.
type atomicObserver struct{}

type atomicInstrument struct{ n atomic.Uint64 }

func (a *atomicInstrument) Inc()            { a.n.Add(1) }
func (a *atomicInstrument) Observe(float64) { a.n.Add(1) }

func (atomicObserver) Frames(string, string, string) Counter { return &atomicInstrument{} }
func (atomicObserver) HandlerDuration(string) Histogram      { return &atomicInstrument{} }
func (atomicObserver) CallErrorsSent(string, string) Counter { return &atomicInstrument{} }

// BenchmarkObserverPerCall measures what an Observer adds to one station CALL, alone: the
// CALL in, the CALLRESULT out and the handler's duration (a clock read, lookups, atomic
// loads and three atomic adds). BenchmarkDispatch is too noisy to show a difference this
// small.
func BenchmarkObserverPerCall(b *testing.B) {
	vs, err := loadValidators()
	if err != nil {
		b.Fatal(err)
	}
	o := newObserver(atomicObserver{}, schemaActions(vs))
	perCall := func() {
		start := time.Now()
		o.frame("StatusNotification", false, typeCall)
		o.frame("StatusNotification", true, typeCallResult)
		o.handled("StatusNotification", start)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			perCall()
		}
	})
	// Every goroutine on the same instruments: the cache line of each counter moves between
	// cores, as it does when many connections report the same action.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				perCall()
			}
		})
	})
}
