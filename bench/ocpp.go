package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evroam/evroam/simulator"
)

// The OCPP scenarios share one fleet: the stations of the boot storm stay connected for the
// message loads and the commands, and reconnect after evroam restarts.

// fleetSize is how many stations the storms and commands use.
func (e *env) fleetSize() int { return e.scaled(10_000, 200) }

// fleetFirst is the number of a fleet's first station: the simulator numbers its stations
// from 1 (a FirstNumber of 0 means its default), so the fleet of n stations is BENCH-000001
// to stationID(n), and a load that picks stations of the fleet itself must count from here.
const fleetFirst = 1

func (e *env) stationFleet(n *node, count int) (*simulator.Fleet, error) {
	return simulator.NewFleet(simulator.Config{
		URL: n.ocpp, Count: count, IdentityPrefix: "BENCH-", FirstNumber: fleetFirst, Digits: 6,
		Protocol: simulator.ProtocolMix, Password: stationPassword, Connectors: 2,
		HeartbeatInterval: -1, // the loads send what they measure; no background traffic
		MaxInFlight:       100,
		CallTimeout:       30 * time.Second,
	})
}

// boot-storm: stations that never booted connect and boot for the first time, 100 in flight.
func runBootStorm(ctx context.Context, e *env) ([]result, error) {
	f, err := e.stationFleet(e.nodes[0], e.fleetSize())
	if err != nil {
		return nil, err
	}
	e.fleet = f
	var rep simulator.Report
	e.profiled(ctx, "boot-storm", e.loadDuration(), func() { rep, err = simulator.ConnectStorm(ctx, f) })
	if err != nil {
		return nil, err
	}
	b := rep.Get(simulator.ActionConnectBoot)
	return []result{
		atLeast(result{Scenario: "boot-storm", Figure: fmt.Sprintf("%d new stations connect and boot, 100 in flight", f.Config().Count),
			Value: b.Throughput, Unit: "boots/s", Target: "≥ 1000/s", Detail: rep}, 1000),
		{Scenario: "boot-storm", Figure: "p99 connect+boot", Value: ms(b.P99), Unit: "ms"},
		atMost(result{Scenario: "boot-storm", Figure: "failed boots", Value: float64(b.Errors), Target: "0"}, 0),
	}, nil
}

// ensureFleet connects the shared fleet when an earlier scenario did not (-only).
func (e *env) ensureFleet(ctx context.Context) error {
	if e.fleet != nil && e.fleet.Connected() > 0 {
		return nil
	}
	if e.fleet == nil {
		f, err := e.stationFleet(e.nodes[0], e.fleetSize())
		if err != nil {
			return err
		}
		e.fleet = f
	}
	_, err := simulator.ConnectStorm(ctx, e.fleet)
	return err
}

func messageLoad(ctx context.Context, e *env, name string, action simulator.LoadAction, stations int) (simulator.Figures, error) {
	return pacedLoad(ctx, e, name, action, stations, 0)
}

// pacedLoad is messageLoad at rate messages a second in all (simulator.Load.Rate; 0: a closed
// loop).
func pacedLoad(ctx context.Context, e *env, name string, action simulator.LoadAction, stations int, rate float64) (simulator.Figures, error) {
	if err := e.ensureFleet(ctx); err != nil {
		return simulator.Figures{}, err
	}
	var rep simulator.Report
	var err error
	e.profiled(ctx, name, e.loadDuration(), func() {
		rep, err = simulator.MessageLoad(ctx, e.fleet, simulator.Load{Action: action, Stations: stations, Duration: e.loadDuration(), Rate: rate})
	})
	return rep.Get(action.String()), err
}

// heartbeat: 1,000 stations send Heartbeat back to back.
func runHeartbeats(ctx context.Context, e *env) ([]result, error) {
	n := min(1000, e.fleetSize())
	f, err := messageLoad(ctx, e, "heartbeat", simulator.LoadHeartbeat, n)
	if err != nil {
		return nil, err
	}
	return []result{
		atLeast(result{Scenario: "heartbeat", Figure: fmt.Sprintf("Heartbeat, closed loop from %d stations", n), Value: f.Throughput,
			Unit: "msg/s", Target: "≥ 20,000/s", Detail: f}, 20_000),
		atMost(result{Scenario: "heartbeat", Figure: "errors", Value: float64(f.Errors), Target: "0"}, 0),
	}, nil
}

// status: 1,000 stations send StatusNotification back to back (connectors 1 and 2
// alternating), each a real change of an EVSE and a status-log entry: the rate the gateway
// sustains. Then the same stations send 5,000 a second in all, paced, for the latency at that
// rate, and at half of it. (A closed loop cannot measure latency: with 1,000 stations always waiting, the mean
// latency is 1,000 ÷ the rate, 200 ms at 5,000 msg/s, whatever the gateway does.)
func runStatus(ctx context.Context, e *env) ([]result, error) {
	n := min(1000, e.fleetSize())
	f, err := messageLoad(ctx, e, "status", simulator.LoadStatusNotification, n)
	if err != nil {
		return nil, err
	}
	rate := 5000 * float64(n) / 1000
	// Half the rate first, where a gateway short of the target is not saturated (after a
	// saturated run the database would still be catching up).
	// The gateway's own share of each paced run's latency, from its handler histogram: what
	// the rest of the station's p99 is made of is the sockets, and the time a frame waits
	// to be read on a machine whose two cores the load generator shares.
	node := e.nodes[0]
	handled := readHandlerHistogram(ctx, node, "StatusNotification")
	half, err := pacedLoad(ctx, e, "status-paced-half", simulator.LoadStatusNotification, n, rate/2)
	if err != nil {
		return nil, err
	}
	afterHalf := readHandlerHistogram(ctx, node, "StatusNotification")
	paced, err := pacedLoad(ctx, e, "status-paced", simulator.LoadStatusNotification, n, rate)
	if err != nil {
		return nil, err
	}
	afterPaced := readHandlerHistogram(ctx, node, "StatusNotification")
	return []result{
		atLeast(result{Scenario: "status", Figure: fmt.Sprintf("StatusNotification, closed loop from %d stations", n), Value: f.Throughput,
			Unit: "msg/s", Target: "≥ 5,000/s", Detail: f}, 5000),
		{Scenario: "status", Figure: "p99 latency, closed loop", Value: ms(f.P99), Unit: "ms"},
		{Scenario: "status", Figure: fmt.Sprintf("rate reached, paced at %.0f msg/s", rate), Value: paced.Throughput, Unit: "msg/s", Detail: paced},
		atMost(result{Scenario: "status", Figure: fmt.Sprintf("p99 latency, paced at %.0f msg/s", rate), Value: ms(paced.P99), Unit: "ms", Target: "< 100 ms"}, 100),
		{Scenario: "status", Figure: fmt.Sprintf("p99 latency in the gateway's handler, paced at %.0f msg/s", rate), Value: afterPaced.quantileSince(afterHalf, 0.99), Unit: "ms"},
		{Scenario: "status", Figure: fmt.Sprintf("p99 latency, paced at %.0f msg/s", rate/2), Value: ms(half.P99), Unit: "ms", Detail: half},
		{Scenario: "status", Figure: fmt.Sprintf("p99 latency in the gateway's handler, paced at %.0f msg/s", rate/2), Value: afterHalf.quantileSince(handled, 0.99), Unit: "ms"},
		atMost(result{Scenario: "status", Figure: "CALLERRORs (InternalError and others)", Value: float64(f.Errors + paced.Errors + half.Errors), Target: "0"}, 0),
	}, nil
}

// authorize: 1,000 stations send Authorize back to back with their sessions' token, which
// is registered (Accepted). Each node decides from what it keeps of the tokens (see
// tokens.Authorizer): after the first Authorize of each station, none costs a database
// round trip, so this should run at about heartbeat speed and leave the other stations'
// traffic alone.
func runAuthorize(ctx context.Context, e *env) ([]result, error) {
	if err := e.ensureFleet(ctx); err != nil {
		return nil, err
	}
	tag := e.fleet.Config().IDTag
	body := fmt.Sprintf(`{"uid": %q, "type": "RFID", "contract_id": "NL-EVR-BENCH", "issuer": "bench", "valid": true, "whitelist": "ALLOWED"}`, tag)
	status, err := do(ctx, httpClient(1), http.MethodPost, e.nodes[0].api+"/tokens", e.adminKey, []byte(body), nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated && status != http.StatusConflict {
		return nil, fmt.Errorf("register token %s: HTTP %d", tag, status)
	}
	n := min(1000, e.fleetSize())
	// Warm-up, not measured: each station's first Authorize reads the database (its network
	// and the token); the figures are of the steady state that follows.
	if _, err := simulator.MessageLoad(ctx, e.fleet, simulator.Load{Action: simulator.LoadAuthorize, Stations: n, Duration: time.Second}); err != nil {
		return nil, err
	}
	memBefore, dbBefore := tokenDecisions(ctx, e.nodes[0])
	f, err := messageLoad(ctx, e, "authorize", simulator.LoadAuthorize, n)
	if err != nil {
		return nil, err
	}
	memAfter, dbAfter := tokenDecisions(ctx, e.nodes[0])
	return []result{
		atMost(result{Scenario: "authorize", Figure: fmt.Sprintf("decisions that read the database, of %.0f", (memAfter-memBefore)+(dbAfter-dbBefore)),
			Value: dbAfter - dbBefore, Target: "0 (/metrics: evroam_token_decisions_database_total)"}, 0),
		atLeast(result{Scenario: "authorize", Figure: fmt.Sprintf("Authorize of a known token, closed loop from %d stations", n),
			Value: f.Throughput, Unit: "msg/s", Target: "≥ 20,000/s (as heartbeat)", Detail: f}, 20_000),
		{Scenario: "authorize", Figure: "p50 latency", Value: ms(f.P50), Unit: "ms"},
		{Scenario: "authorize", Figure: "p99 latency", Value: ms(f.P99), Unit: "ms"},
		atMost(result{Scenario: "authorize", Figure: "errors (CALLERRORs)", Value: float64(f.Errors), Target: "0"}, 0),
	}, nil
}

// tokenDecisions reads the node's token decision counters from /metrics (memory, database);
// zeros when they cannot be read.
func tokenDecisions(ctx context.Context, n *node) (memory, database float64) {
	m := metricValues(ctx, n)
	return m["evroam_token_decisions_memory_total"], m["evroam_token_decisions_database_total"]
}

// metricValues reads the node's /metrics: the value of every series without labels, by name;
// empty when they cannot be read.
func metricValues(ctx context.Context, n *node) map[string]float64 {
	values := map[string]float64{}
	metricLines(ctx, n, func(series string, v float64) {
		if !strings.Contains(series, "{") {
			values[series] = v
		}
	})
	return values
}

// metricLines calls fn with every sample of the node's /metrics (series with its labels as
// written, value); none when they cannot be read.
func metricLines(ctx context.Context, n *node, fn func(series string, value float64)) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(n.api, "/api/v1")+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := httpClient(1).Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			fn(line[:i], v)
		}
	}
}

// handlerHistogram is the node's cumulative histogram of one OCPP action's handler durations
// (evroam_ocpp_handler_duration_seconds): observations at or under each bound, in seconds.
// A handler's time runs from the decoded frame to the written answer, so it holds the wait
// for a batch's commit, but not the time the frame waited to be read nor the station's side.
type handlerHistogram map[float64]float64

func readHandlerHistogram(ctx context.Context, n *node, action string) handlerHistogram {
	h := handlerHistogram{}
	prefix, label := "evroam_ocpp_handler_duration_seconds_bucket{", `action="`+action+`"`
	metricLines(ctx, n, func(series string, v float64) {
		if !strings.HasPrefix(series, prefix) || !strings.Contains(series, label) {
			return
		}
		_, le, ok := strings.Cut(series, `le="`)
		if !ok {
			return
		}
		le, _, _ = strings.Cut(le, `"`)
		if bound, err := strconv.ParseFloat(le, 64); err == nil {
			h[bound] = v
		}
	})
	return h
}

// quantileSince is the q-quantile, in milliseconds, of the observations made between before
// and h, interpolated in its bucket as Prometheus's histogram_quantile does; 0 without
// observations, and the highest finite bound when it falls in the last bucket.
func (h handlerHistogram) quantileSince(before handlerHistogram, q float64) float64 {
	bounds := slices.Sorted(maps.Keys(h))
	total := h[math.Inf(1)] - before[math.Inf(1)]
	if total <= 0 || len(bounds) < 2 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		count := h[b] - before[b]
		if count >= rank {
			if math.IsInf(b, 1) {
				return lower * 1000
			}
			return (lower + (b-lower)*(rank-below)/max(count-below, 1e-9)) * 1000
		}
		if !math.IsInf(b, 1) {
			lower, below = b, count
		}
	}
	return lower * 1000
}

// goMemory is what Go's runtime says about the node's memory, from /metrics, in KiB: what the
// resident figure is made of.
func goMemory(ctx context.Context, n *node) map[string]float64 {
	m := metricValues(ctx, n)
	kib := func(name string) float64 { return m[name] / 1024 }
	return map[string]float64{
		"heap_inuse_kib":    kib("go_memstats_heap_inuse_bytes"),
		"heap_idle_kib":     kib("go_memstats_heap_idle_bytes"),
		"heap_released_kib": kib("go_memstats_heap_released_bytes"),
		"stack_inuse_kib":   kib("go_memstats_stack_inuse_bytes"),
		"other_runtime_kib": kib("go_memstats_other_sys_bytes") + kib("go_memstats_mspan_sys_bytes") + kib("go_memstats_gc_sys_bytes"),
		"goroutines":        m["go_goroutines"],
		"next_gc_kib":       kib("go_memstats_next_gc_bytes"),
	}
}

// commands: POST /chargers/{id}/reset for random connected stations, 20 clients, through the
// node that holds them and through another node (forwarded over HTTP: EVROAM_NODE_URL).
func runCommands(ctx context.Context, e *env) ([]result, error) {
	if err := e.ensureFleet(ctx); err != nil {
		return nil, err
	}
	connected := e.fleet.Connected()
	// Each client commands stations of its own (client k: the fleet's k-th, k+20-th, …): a station takes
	// one command at a time (OCPP allows one outstanding CALL per direction), and two clients
	// that picked the same station at once would measure the 409 that rule gives the second.
	const clients = 20
	load := func(n *node) simulator.Figures {
		var slots sync.Map // a client's random source → its slot
		var next atomic.Int64
		return httpLoad(ctx, clients, e.loadDuration(), e.adminKey, http.StatusOK, func(r *rand.Rand) (string, string, []byte) {
			slot, ok := slots.Load(r)
			if !ok {
				slot, _ = slots.LoadOrStore(r, int(next.Add(1)-1))
			}
			station := fleetFirst + slot.(int) + clients*r.IntN(e.fleetSize()/clients)
			return http.MethodPost, n.api + "/chargers/" + stationID(station) + "/reset", []byte(`{"type": "Soft"}`)
		})
	}
	var local simulator.Figures
	e.profiled(ctx, "commands", e.loadDuration(), func() { local = load(e.nodes[0]) })
	if len(e.nodes) < 2 {
		if _, err := e.startNode(ctx, "bench-b", false); err != nil {
			return nil, err
		}
	}
	remote := load(e.nodes[1])
	return []result{
		{Scenario: "commands", Figure: fmt.Sprintf("reset round trips, 20 clients, %d stations connected", connected), Value: local.Throughput, Unit: "req/s", Detail: local},
		atMost(result{Scenario: "commands", Figure: "p99, same node", Value: ms(local.P99), Unit: "ms", Target: "< 20 ms"}, 20),
		{Scenario: "commands", Figure: "reset round trips through another node", Value: remote.Throughput, Unit: "req/s", Detail: remote},
		atMost(result{Scenario: "commands", Figure: "p99, through another node", Value: ms(remote.P99), Unit: "ms", Target: "< 20 ms"}, 20),
		atMost(result{Scenario: "commands", Figure: "errors", Value: float64(local.Errors + remote.Errors), Target: "0"}, 0),
	}, nil
}

// reconnect-storm: evroam restarts; every station of the fleet (boot data on record, its
// password checked once before) reconnects and boots again, as stations do.
func runReconnectStorm(ctx context.Context, e *env) ([]result, error) {
	if err := e.ensureFleet(ctx); err != nil {
		return nil, err
	}
	// Cold, as after a real restart: the warm-up of its answer cache waits for the storm
	// to pass (EVROAM_STATION_CACHE_WARM_AFTER).
	if err := e.restartNode(ctx, 0, false); err != nil {
		return nil, err
	}
	e.fleet.Close()
	f, err := e.stationFleet(e.nodes[0], e.fleetSize())
	if err != nil {
		return nil, err
	}
	e.fleet = f
	var rep simulator.Report
	e.profiled(ctx, "reconnect-storm", e.loadDuration(), func() { rep, err = simulator.ReconnectStorm(ctx, f, true) })
	if err != nil {
		return nil, err
	}
	r := rep.Get(simulator.ActionReconnect)
	return []result{
		atLeast(result{Scenario: "reconnect-storm", Figure: fmt.Sprintf("%d known stations reconnect and boot after a restart", f.Config().Count),
			Value: r.Throughput, Unit: "conn/s", Target: "≥ 3000/s", Detail: rep}, 3000),
		atMost(result{Scenario: "reconnect-storm", Figure: "p99 reconnect+boot", Value: ms(r.P99), Unit: "ms", Target: "< 100 ms"}, 100),
		atMost(result{Scenario: "reconnect-storm", Figure: "failed reconnects", Value: float64(r.Errors), Target: "0"}, 0),
	}, nil
}
