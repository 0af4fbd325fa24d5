package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/pgcluster"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/simulator"
	"github.com/jmoiron/sqlx"
)

// env is everything the scenarios share: the database, the evroam processes and their keys.
type env struct {
	o        options
	dir      string
	cluster  *pgcluster.Cluster
	dbURL    string
	db       *sqlx.DB
	adminKey string
	smallKey string // an API key of the small sub-network
	secret   string // EVROAM_SECRET_KEY
	nodes    []*node
	fleet    *simulator.Fleet // the OCPP scenarios' connected stations
	stations int              // stations in the root network
	small    int              // stations in the small network
	nodeEnv  []string         // more environment for the nodes launched from now on
}

// node is one running evroam serve process.
type node struct {
	id      string
	cmd     *exec.Cmd
	api     string // http://127.0.0.1:port/api/v1
	base    string // http://127.0.0.1:port
	ocpp    string // ws://127.0.0.1:port/ocpp
	debug   string // http://127.0.0.1:port of the profiler, with -profile
	logFile *os.File

	apiPort, ocppPort int
	warm              bool // its answer cache was warmed at its start (launch)
}

// scaled returns n × BENCH_SCALE, at least min.
func (e *env) scaled(n int, min int) int { return max(int(float64(n)*e.o.scale), min) }

func setUp(ctx context.Context, o options) (*env, error) {
	e := &env{o: o}
	var err error
	if e.dir, err = os.MkdirTemp("", "evroam-bench-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(e.dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.evroam); err != nil {
		return nil, fmt.Errorf("evroam binary %s: %w (make bench builds it)", o.evroam, err)
	}
	raiseFileLimit()

	// PostgreSQL: a private cluster, settings of a small production server. Durability is
	// the default (fsync on, synchronous commit), so write figures include real commits.
	if e.cluster, err = pgcluster.New(filepath.Join(e.dir, "pg"), 5432); err != nil {
		return nil, err
	}
	e.cluster.Settings = []string{"shared_buffers=512MB", "max_connections=400", "max_wal_size=4GB",
		"checkpoint_timeout=30min", "wal_level=minimal", "max_wal_senders=0",
		"shared_preload_libraries=pg_stat_statements",
		// every autovacuum run in the server log, to tell whether one fell into a scenario
		"log_autovacuum_min_duration=0", "log_line_prefix=%m "}
	if o.profile != "" {
		// Where the time goes, statement by statement: also those run by functions and
		// triggers, and the time spent planning each. Not in figures' runs: it costs a little
		// on every statement.
		e.cluster.Settings = append(e.cluster.Settings, "pg_stat_statements.track=all", "pg_stat_statements.track_planning=on")
	}
	logf("starting PostgreSQL in %s", e.dir)
	if err := e.cluster.Start(ctx, false); err != nil {
		return nil, err
	}
	admin, err := database.Open(ctx, e.cluster.URL("postgres"))
	if err != nil {
		return nil, err
	}
	_, err = admin.ExecContext(ctx, `CREATE DATABASE evroam`)
	admin.Close()
	if err != nil {
		return nil, err
	}
	e.dbURL = e.cluster.URL("evroam")
	if e.db, err = database.Open(ctx, e.dbURL); err != nil {
		return nil, err
	}
	if _, err := e.db.ExecContext(ctx, `CREATE EXTENSION pg_stat_statements`); err != nil {
		return nil, err
	}
	e.adminKey = "evr_admin_" + randomHex(20)
	e.secret = randomHex(32)
	cmd := exec.CommandContext(ctx, o.evroam, "migrate")
	cmd.Env = append(os.Environ(), "EVROAM_DATABASE_URL="+e.dbURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("evroam migrate: %w: %s", err, out)
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO networks (id, name, country_code, party_id, created, last_updated)
		VALUES (gen_random_uuid(), 'root', 'NL', 'EVR', now(), now())`); err != nil {
		return nil, err
	}

	e.stations = e.scaled(100_000, 1000)
	e.small = e.scaled(1_000, 100)
	hash, err := secret.Hash(stationPassword)
	if err != nil {
		return nil, err
	}
	logf("seeding %d stations (+%d in a small network)", e.stations, e.small)
	key, err := secret.ParseKey(e.secret)
	if err != nil {
		return nil, err
	}
	if err := seed(ctx, e.db, e.stations, e.small, hash, key); err != nil {
		return nil, err
	}
	if _, err := e.startNode(ctx, "bench-a", true); err != nil {
		return nil, err
	}
	if e.smallKey, err = e.createKey(ctx, smallNetworkParty); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) tearDown() {
	if e.fleet != nil {
		e.fleet.Close()
	}
	for _, n := range e.nodes {
		n.stop()
	}
	if e.db != nil {
		e.db.Close()
	}
	if e.cluster != nil {
		_ = e.cluster.Stop(context.Background())
	}
	if !e.o.keep {
		os.RemoveAll(e.dir)
	}
}

// settle vacuums and analyzes the database between two scenarios, as the seed does before the
// first. A scenario that writes (creations, status reports, boots) leaves tables past
// autovacuum's thresholds, and autovacuum, which looks once a minute, works through them
// during a later scenario: in a full run of 1 December without this (server log,
// log_autovacuum_min_duration=0) it vacuumed and analyzed the OCPI tables, evses and
// charge_stations for 5 s in the middle of the create scenario, and for 17 s across the
// authorize and commands scenarios. Each scenario's figures are then its own.
func (e *env) settle(ctx context.Context) error {
	start := time.Now()
	if _, err := e.db.ExecContext(ctx, `VACUUM (ANALYZE)`); err != nil {
		return fmt.Errorf("vacuum between scenarios: %w", err)
	}
	logf("vacuumed and analyzed in %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// restartNode stops node i and starts it again on the same addresses: what stations see of
// a restart. With warm, it returns once the node's answer cache is warm (launch).
func (e *env) restartNode(ctx context.Context, i int, warm bool) error {
	old := e.nodes[i]
	old.stop()
	n, err := e.launch(ctx, old.id, old.apiPort, old.ocppPort, warm)
	if err != nil {
		return err
	}
	e.nodes[i] = n
	return nil
}

// startNode starts an evroam serve process on free ports and waits until it is healthy, and
// with warm until its answer cache is warm (launch).
func (e *env) startNode(ctx context.Context, id string, warm bool) (*node, error) {
	n, err := e.launch(ctx, id, freePort(), freePort(), warm)
	if err != nil {
		return nil, err
	}
	e.nodes = append(e.nodes, n)
	return n, nil
}

// launch starts an evroam serve process and waits until it is healthy. With warm, the node
// warms its answer cache at once (in production it waits a minute, for the reconnect storm a
// start brings to pass: EVROAM_STATION_CACHE_WARM_AFTER) and launch waits until that is
// done, so that no scenario runs beside it; without, the node does not warm its cache: the
// storms and the memory figure measure a node that has just started. A node logs at its
// default level, as in production: an access line per request included.
func (e *env) launch(ctx context.Context, id string, apiPort, ocppPort int, warm bool) (*node, error) {
	logFile, err := os.OpenFile(filepath.Join(e.dir, id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	n := &node{id: id, logFile: logFile, apiPort: apiPort, ocppPort: ocppPort, warm: warm,
		base: fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		api:  fmt.Sprintf("http://127.0.0.1:%d/api/v1", apiPort),
		ocpp: fmt.Sprintf("ws://127.0.0.1:%d/ocpp", ocppPort)}
	n.cmd = exec.Command(e.o.evroam, "serve")
	n.cmd.Env = append(os.Environ(),
		"EVROAM_DATABASE_URL="+e.dbURL,
		"EVROAM_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(apiPort),
		"EVROAM_OCPP_ADDR=127.0.0.1:"+strconv.Itoa(ocppPort),
		"EVROAM_ADMIN_API_KEY="+e.adminKey,
		"EVROAM_SECRET_KEY="+e.secret,
		"EVROAM_NODE_ID="+id,
		fmt.Sprintf("EVROAM_NODE_URL=http://127.0.0.1:%d", apiPort),
		"EVROAM_HEARTBEAT_INTERVAL=3600s",
		"EVROAM_STATION_CACHE_WARM_AFTER="+map[bool]string{true: "0s", false: "off"}[warm],
	)
	n.cmd.Env = append(n.cmd.Env, e.nodeEnv...)
	// The debug address serves the profiles of -profile and lets idle-memory ask for a
	// collection.
	debugPort := freePort()
	n.debug = fmt.Sprintf("http://127.0.0.1:%d", debugPort)
	n.cmd.Env = append(n.cmd.Env, fmt.Sprintf("EVROAM_DEBUG_ADDR=127.0.0.1:%d", debugPort))
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(n.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if !warm {
					return n, nil
				}
				return n, n.waitWarm(ctx)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("evroam node %s did not become healthy (log: %s)", id, logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitWarm waits until node n has warmed its answer cache (its first warm-up is counted in
// /metrics).
func (n *node) waitWarm(ctx context.Context) error {
	start := time.Now()
	for time.Since(start) < 5*time.Minute {
		if metricValues(ctx, n)["evroam_station_answer_cache_warm_ups_total"] >= 1 {
			logf("node %s: answer cache warm after %s (%.0f stations)", n.id, time.Since(start).Round(100*time.Millisecond),
				metricValues(ctx, n)["evroam_station_answer_cache_warmed_stations_total"])
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("evroam node %s did not warm its answer cache within 5 minutes", n.id)
}

func (n *node) stop() {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
		}
	}
	n.logFile.Close()
}

// rssKiB is the node's resident memory.
func (n *node) rssKiB() (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no VmRSS")
}

// settledRSS has node n collect its garbage (Go's profiler endpoint does, with gc=1) and
// returns its resident size once the runtime has given back what it no longer needs. Go's
// background scavenger returns freed pages gradually, a little at a time, so a reading is
// taken every second and the size counts as settled when it moved by less than 1 % over the
// last three seconds (a pause of one second between two releases fooled a two-reading
// check: 124.7 against 106.7 MiB for the same 5,000 stations), or after 60 s.
func (n *node) settledRSS(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.debug+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	first, err := n.rssKiB()
	if err != nil {
		return 0, err
	}
	readings := []int{first}
	for range 60 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
		now, err := n.rssKiB()
		if err != nil {
			return 0, err
		}
		readings = append(readings, now)
		if k := len(readings); k >= 4 && math.Abs(float64(now-readings[k-4])) < 0.01*float64(now) {
			return now, nil
		}
	}
	return readings[len(readings)-1], nil
}

// createKey makes an API key for the network with party partyID, as `evroam apikey create`.
func (e *env) createKey(ctx context.Context, partyID string) (string, error) {
	var id string
	if err := e.db.GetContext(ctx, &id, `SELECT id FROM networks WHERE party_id = $1`, partyID); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, e.o.evroam, "apikey", "create", "--network", id, "--name", "bench")
	cmd.Env = append(os.Environ(), "EVROAM_DATABASE_URL="+e.dbURL)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("evroam apikey create: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// pgbenchSelect runs `pgbench -S` (one indexed SELECT per transaction) with clients
// connections for d on the evroam database, after `pgbench -i` once: the anchor of the
// read figures. It returns transactions per second.
func (e *env) pgbenchSelect(ctx context.Context, clients int, d time.Duration) (float64, error) {
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		bin, ferr := pgcluster.FindBinaries()
		if ferr != nil {
			return 0, ferr
		}
		pgbench = filepath.Join(bin, "pgbench")
	}
	conn := []string{"-h", e.cluster.SocketDir, "-p", strconv.Itoa(e.cluster.Port), "-U", pgUser(e.cluster.URL("evroam")), "evroam"}
	var initialised bool
	_ = e.db.GetContext(ctx, &initialised, `SELECT to_regclass('pgbench_accounts') IS NOT NULL`)
	if !initialised {
		out, err := exec.CommandContext(ctx, pgbench, append([]string{"-i", "-s", "10", "-q"}, conn...)...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("pgbench -i: %w: %s", err, out)
		}
	}
	args := append([]string{"-S", "-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(int(d.Seconds()))}, conn...)
	out, err := exec.CommandContext(ctx, pgbench, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench -S: %w: %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench -S: no tps in %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func pgUser(url string) string {
	u := strings.TrimPrefix(url, "postgres://")
	u, _, _ = strings.Cut(u, "@")
	return u
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// raiseFileLimit lifts RLIMIT_NOFILE to its hard limit: tens of thousands of connections
// need as many descriptors (the evroam processes inherit it).
func raiseFileLimit() { _, _ = simulator.RaiseFileLimit() }

// fileLimit is this process's open-file limit (the evroam processes inherit it).
func fileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 1024
	}
	return l.Cur
}
