package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// idle-memory: evroam's resident memory per connected idle station, at 50,000 stations.
//
// One process holds at most as many connections as its open-file limit allows, and the hard
// limit cannot always be raised (20,000 on the machine the bench was written on). So the
// stations are spread over as many evroam nodes as they need, each holding at most the limit
// less 2,000 (its database pool, listeners and log files), and are simulated by as many
// `evroam simulate` processes, one per node, for the same reason on the client side. The
// figure is the growth of all nodes' resident memory divided by all connected stations: what
// a node keeps of the stations held by other nodes (the cluster's view of who holds whom)
// is counted too.
func runIdleMemory(ctx context.Context, e *env) ([]result, error) {
	if e.fleet != nil {
		e.fleet.Close()
		e.fleet = nil
	}
	count := min(e.scaled(50_000, 1000), e.stations)
	limit := int(fileLimit())
	perProcess := limit - 2000
	nodes := (count + perProcess - 1) / perProcess
	for len(e.nodes) < nodes {
		if _, err := e.startNode(ctx, fmt.Sprintf("bench-%c", 'a'+len(e.nodes)), false); err != nil {
			return nil, err
		}
	}
	// Without a warmed answer cache: the figure is what connections cost. The gateway pings
	// every station every EVROAM_OCPP_PING_INTERVAL (a minute by default), and an idle
	// station's cost is what it keeps after that too (a ping once left a second goroutine per
	// station behind: ocpp/idleread.go), so these nodes ping more often and the figure is
	// taken once every station has been pinged since it connected.
	const pingInterval = 15 * time.Second
	e.nodeEnv = []string{fmt.Sprintf("EVROAM_OCPP_PING_INTERVAL=%s", pingInterval)}
	defer func() { e.nodeEnv = nil }()
	for i := range nodes {
		if err := e.restartNode(ctx, i, false); err != nil {
			return nil, err
		}
	}
	before := make([]int, nodes)
	goBefore := make([]map[string]float64, nodes)
	for i := range nodes {
		var err error
		if before[i], err = e.nodes[i].rssKiB(); err != nil {
			return nil, err
		}
		goBefore[i] = goMemory(ctx, e.nodes[i])
	}
	e.heapProfile("idle-memory-before", e.nodes[0])

	start := time.Now()
	sims := make([]*simulation, nodes)
	defer func() {
		for _, s := range sims {
			if s != nil {
				s.stop()
			}
		}
	}()
	first := fleetFirst
	for i := range nodes {
		n := count / nodes
		if i < count%nodes {
			n++
		}
		var err error
		if sims[i], err = e.simulate(e.nodes[i], fmt.Sprintf("idle-memory-%d", i), first, n); err != nil {
			return nil, err
		}
		first += n
	}
	for _, s := range sims {
		if err := s.waitBooted(ctx, 5*time.Minute); err != nil {
			return nil, err
		}
	}
	storm := time.Since(start)
	// A station that booted for the first time has its configuration read right after its
	// boot (ocpp/configuration.go), and the answers are written in batches: right after the
	// storm a node may still hold tens of thousands of goroutines of that work (seen: 1.6 per
	// station instead of 1.0, and 14.7 instead of 11.5 KiB). The figure is of idle stations,
	// so it waits for the work to drain first.
	quiet, err := e.waitQuiet(ctx, e.nodes[:nodes], 3*time.Minute)
	if err != nil {
		return nil, err
	}
	// The sweep that pings runs at least every ping interval, so by two intervals after the
	// last connect every station has been pinged and has answered.
	select {
	case <-time.After(time.Until(start.Add(storm + 2*pingInterval))):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if _, err := e.waitQuiet(ctx, e.nodes[:nodes], time.Minute); err != nil {
		return nil, err
	}
	afterStorm := make([]int, nodes)
	for i := range nodes {
		var err error
		if afterStorm[i], err = e.nodes[i].rssKiB(); err != nil {
			return nil, err
		}
	}
	// Right after the storm the heap still holds the boots' garbage: Go collects when the heap
	// has doubled, or after two minutes at the latest, and then gives what it no longer needs
	// back to the system. The figure is the idle state, so each node is asked for the
	// collection it would make by itself within two minutes, and the resident size is read
	// once it has settled (the storm's figure is kept in the details).
	after := make([]int, nodes)
	growth, connected := 0, 0
	goPerStation := map[string]float64{}
	for i := range nodes {
		var err error
		if after[i], err = e.nodes[i].settledRSS(ctx); err != nil {
			return nil, err
		}
		growth += after[i] - before[i]
		for k, v := range goMemory(ctx, e.nodes[i]) {
			goPerStation[k] += v - goBefore[i][k]
		}
	}
	errors, drops := 0, 0
	for _, s := range sims {
		connected += s.connectedNow()
		se, sd := s.troubles()
		errors, drops = errors+se, drops+sd
	}
	if connected == 0 {
		return nil, fmt.Errorf("idle-memory: no station stayed connected")
	}
	for k := range goPerStation {
		goPerStation[k] /= float64(connected)
	}
	logf("idle-memory: %d stations on %d nodes connected and booted in %s, quiet %s later; per station (Go's view): %v",
		connected, nodes, storm.Round(100*time.Millisecond), quiet.Round(100*time.Millisecond), goPerStation)
	e.heapProfile("idle-memory", e.nodes[0])
	per := float64(growth) / float64(connected)
	note := ""
	if nodes > 1 {
		note = fmt.Sprintf("over %d nodes of at most %d stations each: one process's open-file limit here is %d", nodes, perProcess, limit)
	}
	return []result{
		atMost(result{Scenario: "idle-memory", Figure: fmt.Sprintf("resident memory per idle station, %d connected", connected),
			Value: per, Unit: "KiB", Target: "≤ 16 KiB", Note: note, Detail: map[string]any{"nodes": nodes, "rss_before_kib": before,
				"rss_after_storm_kib": afterStorm, "rss_after_kib": after, "go_per_station": goPerStation,
				"storm_s": storm.Seconds(), "quiet_after_storm_s": quiet.Seconds(),
				"simulator_errors": errors, "simulator_drops": drops}}, 16),
	}, nil
}

// waitQuiet waits until the nodes' goroutines have stopped falling: three readings half a
// second apart within 0.5 % of each other. It returns how long that took.
func (e *env) waitQuiet(ctx context.Context, nodes []*node, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	goroutines := func() float64 {
		sum := 0.0
		for _, n := range nodes {
			sum += metricValues(ctx, n)["go_goroutines"]
		}
		return sum
	}
	readings := []float64{goroutines()}
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		readings = append(readings, goroutines())
		if k := len(readings); k >= 3 {
			lo, hi := min(readings[k-3], readings[k-2], readings[k-1]), max(readings[k-3], readings[k-2], readings[k-1])
			if hi-lo <= 0.005*hi {
				return time.Since(start), nil
			}
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("the nodes' goroutines did not settle within %s (last %.0f)", timeout, readings[len(readings)-1])
		}
	}
}

// simulation is an `evroam simulate` process: count idle stations (no heartbeats) of the
// bench's fleet, from number first, connected to node n. Its progress lines tell how many are
// connected and booted.
type simulation struct {
	cmd   *exec.Cmd
	count int
	log   string
	exit  chan struct{}

	mu                               sync.Mutex
	connected, booted, errors, drops int
	changed                          chan struct{} // closed and replaced at every progress line
}

func (e *env) simulate(n *node, name string, first, count int) (*simulation, error) {
	s := &simulation{count: count, log: filepath.Join(e.dir, name+".log"), exit: make(chan struct{}), changed: make(chan struct{})}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(e.o.evroam, "simulate", "--url", n.ocpp, "--count", strconv.Itoa(count),
		"--prefix", "BENCH-", "--first", strconv.Itoa(first), "--digits", "6", "--protocol", "mix",
		"--password", stationPassword, "--connectors", "2", "--heartbeat-interval", "-1s",
		"--max-in-flight", "100", "--call-timeout", "30s", "--progress-interval", "500ms",
		// A station whose connect failed or that was dropped in the storm tries again, as a
		// real one does, rather than leaving the scenario waiting for it; the errors and
		// drops are in the result's details. It boots again on its new connection: the
		// simulator counts a station booted per connection, and the scenario waits for every
		// station booted (a dropped station that only reconnected was never counted again,
		// and the scenario failed after its five minutes).
		"--reconnect", "--boot-on-reconnect")
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	s.cmd.Stderr = logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		defer close(s.exit)
		defer logFile.Close()
		s.follow(io.TeeReader(out, logFile))
		_ = s.cmd.Wait()
	}()
	return s, nil
}

// follow reads the progress lines ("15:04:05 connected 120/200  booted 118  msg/s …").
func (s *simulation) follow(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[1] != "connected" || f[3] != "booted" {
			continue
		}
		now, _, _ := strings.Cut(f[2], "/")
		c, err1 := strconv.Atoi(now)
		b, err2 := strconv.Atoi(f[4])
		if err1 != nil || err2 != nil {
			continue
		}
		s.mu.Lock()
		s.connected, s.booted = c, b
		for i := 5; i+1 < len(f); i++ {
			switch f[i] {
			case "errors":
				s.errors, _ = strconv.Atoi(f[i+1])
			case "drops":
				s.drops, _ = strconv.Atoi(f[i+1])
			}
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

func (s *simulation) connectedNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// troubles is the simulation's errors and drops so far (its progress line's).
func (s *simulation) troubles() (errors, drops int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errors, s.drops
}

// waitBooted waits until every station of s is connected and booted.
func (s *simulation) waitBooted(ctx context.Context, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		booted := s.booted
		done := s.connected == s.count && booted == s.count
		changed := s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-s.exit:
			return fmt.Errorf("evroam simulate ended before its %d stations booted (log: %s)", s.count, s.log)
		case <-deadline:
			return fmt.Errorf("evroam simulate: %d of %d stations booted after %s (log: %s)", booted, s.count, timeout, s.log)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop interrupts the simulation (its stations close their connections) and waits for it.
func (s *simulation) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
}
