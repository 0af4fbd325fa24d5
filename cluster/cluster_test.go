package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/cluster"
	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/commands/commandstest"
	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	waitTimeout = 20 * time.Second
	apiKey      = "cluster-test-key"
)

var network = uuid.MustParse("6f1c1c8e-3b5e-4a43-9d2c-5d6a6c9a0b01")

func testLogger() *slog.Logger {
	if os.Getenv("EVROAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// cluster is one database shared by the nodes of a test.
type testCluster struct {
	url      string
	db       *sqlx.DB
	stations *commandstest.Stations
	grace    time.Duration // ReconnectGrace of the nodes started from now on (0: the default)
	// listenURL: the nodes started from now on listen for notifications through this URL
	// (a pgtest.Proxy), not the database's.
	listenURL string
	// callKey: the nodes started from now on take calls over HTTP (Config.CallURL), signed
	// with this key; nil: through the database only.
	callKey *secret.Key
	routes  chan string // every Call's route (Config.ObserveCall)
}

func newCluster(t *testing.T) *testCluster {
	t.Helper()
	u := pgtest.URL(t)
	db, err := sqlx.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &testCluster{url: u, db: db, stations: &commandstest.Stations{}, routes: make(chan string, 1000)}
}

// testNode is one evroam node: a cluster.Node with its gateway, and an HTTP API.
type testNode struct {
	node    *cluster.Node
	reg     *ocpptest.Registry
	ocppURL string
	apiURL  string
	stop    func()
}

func (c *testCluster) start(t *testing.T, id string, cmdTimeout time.Duration) *testNode {
	t.Helper()
	reg := ocpptest.New()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	apiSrv := httptest.NewUnstartedServer(nil)
	listenURL := c.url
	if c.listenURL != "" {
		listenURL = c.listenURL
	}
	cfg := cluster.Config{NodeID: id, DatabaseURL: listenURL, ReconnectGrace: c.grace,
		ObserveCall: func(_, route string, _ time.Duration, _ error) {
			select {
			case c.routes <- route:
			default:
			}
		}}
	if c.callKey != nil {
		cfg.CallURL, cfg.CallKey = "http://"+apiSrv.Listener.Addr().String(), c.callKey
	}
	n, err := cluster.Start(ctx, cfg, c.db, reg, ocpp.Config{MessageLogFlushInterval: 20 * time.Millisecond}, testLogger())
	if err != nil {
		t.Fatalf("start node %s: %v", id, err)
	}
	ocppSrv := httptest.NewServer(n.Server())

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST(cluster.CallPath, gin.WrapH(n.CallHandler()))
	v1 := r.Group("/api/v1", web.RequireAPIKey(commandstest.Authenticator{apiKey: network}))
	commands.NewHandler(commands.Config{Timeout: cmdTimeout}, commands.Deps{Stations: c.stations, Gateway: n,
		Transfers: commandstest.DataTransfers{Registry: reg}}).Routes(v1)
	apiSrv.Config.Handler = r
	apiSrv.Start()

	tn := &testNode{node: n, reg: reg, ocppURL: "ws" + strings.TrimPrefix(ocppSrv.URL, "http") + "/ocpp", apiURL: apiSrv.URL + "/api/v1"}
	stopped := false
	tn.stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("close node %s: %v", id, err)
		}
		ocppSrv.Close()
		apiSrv.Close()
	}
	t.Cleanup(tn.stop)
	return tn
}

// addStation registers identity (boot data on record) on every given node's registry.
func (c *testCluster) addStation(identity, protocol string, nodes ...*testNode) {
	c.stations.Add(identity, network, protocol)
	for _, n := range nodes {
		n.reg.AddStation(identity, 0, "", true)
	}
}

func connect(t *testing.T, p *ocpppeer.Peer, url, identity, subprotocol string) {
	t.Helper()
	if got := p.MustConnect(ocpppeer.ConnectOptions{URL: url, Identity: identity, Protocols: []string{subprotocol}}); got != subprotocol {
		t.Fatalf("negotiated %q, want %q", got, subprotocol)
	}
}

func post(t *testing.T, n *testNode, identity, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.apiURL+"/chargers/"+identity+"/"+path, strings.NewReader(body))
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST %s: body %q: %v", path, b, err)
	}
	return res.StatusCode, m
}

// sessionOwner returns the node holding identity according to station_sessions ("" if none;
// a session its node left is none).
func (c *testCluster) sessionOwner(t *testing.T, identity string) string {
	t.Helper()
	var owner string
	err := c.db.Get(&owner, `SELECT node_id FROM station_sessions WHERE charge_station_id = $1 AND left_at IS NULL`, identity)
	if err != nil && !strings.Contains(err.Error(), "no rows") {
		t.Fatal(err)
	}
	return owner
}

func waitOwner(t *testing.T, c *testCluster, identity, want string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for c.sessionOwner(t, identity) != want {
		if time.Now().After(deadline) {
			t.Fatalf("station_sessions: %s owned by %q, want %q", identity, c.sessionOwner(t, identity), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCommandThroughOtherNode: the station is on node B, the command goes to node A's API.
// Then node B stops, the station reconnects to node A, and the next command works.
func TestCommandThroughOtherNode(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		subprotocol, proto string
		direct             bool // the nodes take calls over HTTP
	}{{"ocpp1.6", ocpp.ProtocolOCPP16, false}, {"ocpp2.0.1", ocpp.ProtocolOCPP201, false},
		{"ocpp1.6", ocpp.ProtocolOCPP16, true}, {"ocpp2.0.1", ocpp.ProtocolOCPP201, true}} {
		name := v.subprotocol + "/database"
		if v.direct {
			name = v.subprotocol + "/http"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			wantRoute := cluster.RouteForwarded
			if v.direct {
				c.callKey = testKey(t)
				wantRoute = cluster.RouteDirect
			}
			a := c.start(t, "node-a", 10*time.Second)
			b := c.start(t, "node-b", 10*time.Second)
			c.addStation("CP-X", v.proto, a, b)

			p := ocpppeer.Start(t)
			p.OnCall("Reset", map[string]any{"status": "Accepted"})
			connect(t, p, b.ocppURL, "CP-X", v.subprotocol)
			waitOwner(t, c, "CP-X", "node-b")

			status, body := post(t, a, "CP-X", "reset", `{"type": "Soft"}`)
			if status != http.StatusOK || body["status"] != "accepted" || body["message"] != "Soft reset accepted by charger" {
				t.Fatalf("reset through node A: %d %v", status, body)
			}
			if n := len(p.WaitReceived("Reset", 1)); n != 1 {
				t.Fatalf("station got %d Reset CALLs, want 1", n)
			}
			if route := <-c.routes; route != wantRoute {
				t.Errorf("the reset went %q, want %q", route, wantRoute)
			}
			// Node B, which holds the socket, logged the command.
			b.reg.Wait(t, waitTimeout, "Reset in node B's message log", func(r *ocpptest.Registry) bool {
				for _, m := range r.Messages {
					if m.Action == "Reset" && m.MessageType == ocpp.MessageTypeCallResult {
						return true
					}
				}
				return false
			})

			// Payloads beyond NOTIFY's 8000 bytes, both ways.
			big := strings.Repeat("x", 20000)
			p.OnCall("DataTransfer", map[string]any{"status": "Accepted", "data": strings.Repeat("y", 30000)})
			status, body = post(t, a, "CP-X", "data-transfer", `{"vendorId": "V", "data": "`+big+`"}`)
			if status != http.StatusOK || body["status"] != "Accepted" || body["responseData"] != strings.Repeat("y", 30000) {
				t.Fatalf("big data transfer through node A: %d %.200v", status, body)
			}
			var params struct {
				Data string `json:"data"`
			}
			_ = json.Unmarshal(p.WaitReceived("DataTransfer", 1)[0].Params, &params)
			if params.Data != big {
				t.Errorf("station got data of %d bytes, want %d", len(params.Data), len(big))
			}

			// Station errors cross nodes with their code and description.
			p.OnCallError("ClearCache", "InternalError", "cache is on fire")
			status, body = post(t, a, "CP-X", "cache/clear", ``)
			if msg, _ := body["status_message"].(string); status != http.StatusBadGateway ||
				!strings.Contains(msg, "InternalError") || !strings.Contains(msg, "cache is on fire") {
				t.Errorf("CALLERROR through node A: %d %v", status, body)
			}

			// Node B stops; the station reconnects to node A.
			b.stop()
			p.WaitClosed()
			waitOwner(t, c, "CP-X", "")
			if status, body := post(t, a, "CP-X", "reset", `{"type": "Hard"}`); status != http.StatusConflict {
				t.Errorf("reset while the station is nowhere: %d %v, want 409", status, body)
			}
			p.Close()
			connect(t, p, a.ocppURL, "CP-X", v.subprotocol)
			waitOwner(t, c, "CP-X", "node-a")
			status, body = post(t, a, "CP-X", "reset", `{"type": "Hard"}`)
			if status != http.StatusOK || body["message"] != "Hard reset accepted by charger" {
				t.Fatalf("reset after the station moved to node A: %d %v", status, body)
			}
			if n := len(p.WaitReceived("Reset", 2)); n != 2 {
				t.Errorf("station got %d Reset CALLs, want 2", n)
			}
		})
	}
}

// TestDeadNode: a row left by a node that died sends commands nowhere (504 after the
// timeout); once the station reconnects to a live node its row is overwritten and
// commands work again.
func TestDeadNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "node-a", 400*time.Millisecond)
	c.addStation("CP-D", ocpp.ProtocolOCPP16, a)
	_, err := c.db.Exec(`INSERT INTO station_sessions (charge_station_id, node_id, session_id, protocol_version, connected_at)
		VALUES ('CP-D', 'node-dead', $1, 'Ocpp16', now() - interval '1 hour')`, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status, body := post(t, a, "CP-D", "reset", `{"type": "Soft"}`)
	if status != http.StatusGatewayTimeout {
		t.Fatalf("command to a dead node: %d %v, want 504", status, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("504 after %v with a 400ms timeout", d)
	}
	var left int
	if err := c.db.Get(&left, `SELECT count(*) FROM command_calls`); err != nil || left != 0 {
		t.Errorf("%d forwarded calls left behind (err %v)", left, err)
	}

	p := ocpppeer.Start(t)
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	connect(t, p, a.ocppURL, "CP-D", "ocpp1.6")
	waitOwner(t, c, "CP-D", "node-a")
	if status, body := post(t, a, "CP-D", "reset", `{"type": "Soft"}`); status != http.StatusOK {
		t.Fatalf("command after reconnecting to a live node: %d %v", status, body)
	}
}

// TestSilentStationOnOtherNode: the owner's gateway times out; the caller answers 504.
func TestSilentStationOnOtherNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "node-a", 500*time.Millisecond)
	b := c.start(t, "node-b", 500*time.Millisecond)
	c.addStation("CP-S", ocpp.ProtocolOCPP201, a, b)
	p := ocpppeer.Start(t)
	p.OnCallNever("UnlockConnector")
	connect(t, p, b.ocppURL, "CP-S", "ocpp2.0.1")
	waitOwner(t, c, "CP-S", "node-b")
	status, body := post(t, a, "CP-S", "unlock", `{"connectorId": 1}`)
	if status != http.StatusGatewayTimeout {
		t.Fatalf("silent station on node B: %d %v, want 504", status, body)
	}
	p.WaitReceived("UnlockConnector", 1)
}

// TestSessionRows: connect writes the owner, a second connection elsewhere takes it over and
// the node holding the older connection closes it without recording a disconnect (the station
// is online, through the other node).
func TestSessionRows(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "node-a", time.Second)
	b := c.start(t, "node-b", time.Second)
	c.addStation("CP-R", ocpp.ProtocolOCPP16, a, b)

	p1 := ocpppeer.Start(t)
	connect(t, p1, a.ocppURL, "CP-R", "ocpp1.6")
	waitOwner(t, c, "CP-R", "node-a")
	p1.OnCall("ClearCache", map[string]any{"status": "Accepted"})
	if status, body := post(t, a, "CP-R", "cache/clear", ``); status != http.StatusOK {
		t.Fatalf("cache/clear through node A: %d %v", status, body)
	}
	p1.WaitReceived("ClearCache", 1)
	if route := <-c.routes; route != cluster.RouteLocal {
		t.Errorf("the command to a station of node A went %q, want %q", route, cluster.RouteLocal)
	}

	p2 := ocpppeer.Start(t) // the same station, reconnecting through another node
	connect(t, p2, b.ocppURL, "CP-R", "ocpp1.6")
	waitOwner(t, c, "CP-R", "node-b")
	// Node A hears of the claim and closes the older socket, which the station had not.
	p1.WaitClosed()

	// The newest connection gets the commands, also those sent through node A.
	p2.OnCall("ClearCache", map[string]any{"status": "Accepted"})
	if status, body := post(t, a, "CP-R", "cache/clear", ``); status != http.StatusOK {
		t.Fatalf("cache/clear through node A: %d %v", status, body)
	}
	p2.WaitReceived("ClearCache", 1)
	if n := len(p1.Received("ClearCache")); n != 1 {
		t.Errorf("the older connection on node A got %d ClearCache CALLs, want the first one only", n)
	}
	if route := <-c.routes; route != cluster.RouteDirect && route != cluster.RouteForwarded {
		t.Errorf("the command after the station moved went %q, want it forwarded to node B", route)
	}
	// The closed socket is not a disconnect: the station is connected, to node B.
	if owner := c.sessionOwner(t, "CP-R"); owner != "node-b" {
		t.Errorf("after the old connection closed: owner %q, want node-b", owner)
	}
	a.reg.Do(func(r *ocpptest.Registry) {
		if len(r.Disconnects) != 0 {
			t.Errorf("node A recorded %v: the closing of the superseded connection is not a disconnect", r.Disconnects)
		}
	})
	p2.Close()
	waitOwner(t, c, "CP-R", "")

	// A node restarted after a crash leaves the rows of its earlier run: their stations are
	// held nowhere, and once the grace is over they are recorded as disconnected.
	if _, err := c.db.Exec(`INSERT INTO station_sessions (charge_station_id, node_id, session_id, protocol_version, connected_at)
		VALUES ('CP-OLD', 'node-c', $1, 'Ocpp16', now())`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	c.grace = 300 * time.Millisecond
	nc := c.start(t, "node-c", time.Second)
	if owner := c.sessionOwner(t, "CP-OLD"); owner != "" {
		t.Errorf("node-c restarted but its stale row still holds the station (owner %q)", owner)
	}
	nc.reg.Wait(t, waitTimeout, "the disconnect of CP-OLD after the grace", func(r *ocpptest.Registry) bool {
		return slices.ContainsFunc(r.Disconnects, func(d ocpptest.Disconnect) bool { return d.Identity == "CP-OLD" })
	})
	deadline := time.Now().Add(waitTimeout)
	for {
		var rows int
		if err := c.db.Get(&rows, `SELECT count(*) FROM station_sessions WHERE charge_station_id = 'CP-OLD'`); err != nil {
			t.Fatal(err)
		}
		if rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the swept session of CP-OLD is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBootWaitsForItsConnectionsClaim: the gateway records a connect on a goroutine of its
// own, after the connection it replaces has recorded its own connect, so a station's
// BootNotification can arrive before its connection's claim is even registered. The boot is
// not answered until that claim is committed: once it is, a command sent through any node
// finds the connection the station booted on.
func TestBootWaitsForItsConnectionsClaim(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "node-a", time.Second)
	c.addStation("CP-B", ocpp.ProtocolOCPP16, a)
	session := func() string {
		t.Helper()
		var id string
		if err := c.db.Get(&id, `SELECT session_id::text FROM station_sessions WHERE charge_station_id = 'CP-B'`); err != nil {
			t.Fatal(err)
		}
		return id
	}

	// The first connection is claimed, and then recorded slowly: the connection that replaces
	// it records its connect, and makes its claim, only after that.
	entered, release := a.reg.Stall("RecordConnect")
	defer release()
	p1 := ocpppeer.Start(t)
	connect(t, p1, a.ocppURL, "CP-B", "ocpp1.6")
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatal("the first connect was never recorded")
	}
	waitOwner(t, c, "CP-B", "node-a")
	first := session()

	p2 := ocpppeer.Start(t)
	connect(t, p2, a.ocppURL, "CP-B", "ocpp1.6")
	booted := make(chan error, 1)
	go func() {
		_, err := p2.Call("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
		booted <- err
	}()
	select {
	case err := <-booted:
		t.Fatalf("the boot was answered (%v) before its connection was claimed", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	select {
	case err := <-booted:
		if err != nil {
			t.Fatalf("boot: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the boot was never answered")
	}
	if got := session(); got == first {
		t.Errorf("when the boot was answered the station's session was still the first connection's (%s)", first)
	}
	p2.OnCall("ClearCache", map[string]any{"status": "Accepted"})
	if status, body := post(t, a, "CP-B", "cache/clear", ``); status != http.StatusOK {
		t.Fatalf("cache/clear right after the boot: %d %v", status, body)
	}
}

// TestCommandRightAfterAFirstBoot: a station's first connection is claimed, its boot
// answered, and its connect not recorded yet (the registry records it on its own time): the
// registry knows no protocol of the station. A command sent through another node right then
// takes the protocol from the claim's row and reaches the station.
func TestCommandRightAfterAFirstBoot(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "node-a", time.Second)
	b := c.start(t, "node-b", time.Second)
	c.addStation("CP-FIRST", "", a, b) // never connected: no protocol on record

	entered, release := b.reg.Stall("RecordConnect")
	defer release()
	p := ocpppeer.Start(t)
	connect(t, p, b.ocppURL, "CP-FIRST", "ocpp1.6")
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatal("the connect was never recorded")
	}
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	p.OnCall("ClearCache", map[string]any{"status": "Accepted"})
	if status, body := post(t, a, "CP-FIRST", "cache/clear", ``); status != http.StatusOK {
		t.Fatalf("cache/clear through node A right after the first boot: %d %v", status, body)
	}
	p.WaitReceived("ClearCache", 1)
}

// TestSupersededWhileListenerAway: a node whose listener was away when another node claimed
// its station (the "drop" notification was lost) finds out once it listens again, and closes
// the older connection.
func TestSupersededWhileListenerAway(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	proxy, u := pgtest.NewProxy(t, c.url)
	c.listenURL = u
	a := c.start(t, "node-a", time.Second)
	c.listenURL = ""
	b := c.start(t, "node-b", time.Second)
	c.addStation("CP-L", ocpp.ProtocolOCPP201, a, b)

	p1 := ocpppeer.Start(t)
	connect(t, p1, a.ocppURL, "CP-L", "ocpp2.0.1")
	waitOwner(t, c, "CP-L", "node-a")

	proxy.Cut()
	p2 := ocpppeer.Start(t)
	connect(t, p2, b.ocppURL, "CP-L", "ocpp2.0.1")
	waitOwner(t, c, "CP-L", "node-b")
	proxy.Restore()
	p1.WaitClosed()
	a.reg.Do(func(r *ocpptest.Registry) {
		if len(r.Disconnects) != 0 {
			t.Errorf("node A recorded %v: the closing of the superseded connection is not a disconnect", r.Disconnects)
		}
	})
	if n := len(p2.Events("close")); n != 0 {
		t.Error("the newer connection, on node B, was closed")
	}
}

// TestRestartDoesNotFlapStations: a node that shuts down does not record its stations'
// disconnects; a station that reconnects within the grace (here through another node) is
// never recorded offline, and one that does not come back is, once the grace is over.
func TestRestartDoesNotFlapStations(t *testing.T) {
	c := newCluster(t)
	c.grace = 2 * time.Second
	a := c.start(t, "node-a", time.Second)
	b := c.start(t, "node-b", time.Second)
	c.addStation("CP-BACK", ocpp.ProtocolOCPP16, a, b)
	c.addStation("CP-GONE", ocpp.ProtocolOCPP16, a, b)
	back, gone := ocpppeer.Start(t), ocpppeer.Start(t)
	connect(t, back, b.ocppURL, "CP-BACK", "ocpp1.6")
	connect(t, gone, b.ocppURL, "CP-GONE", "ocpp1.6")
	waitOwner(t, c, "CP-BACK", "node-b")
	waitOwner(t, c, "CP-GONE", "node-b")

	b.stop()
	back.WaitClosed()
	gone.WaitClosed()
	b.reg.Do(func(r *ocpptest.Registry) {
		if len(r.Disconnects) != 0 {
			t.Errorf("node-b recorded %d disconnects at shutdown, want none: %+v", len(r.Disconnects), r.Disconnects)
		}
	})
	back.Close()
	connect(t, back, a.ocppURL, "CP-BACK", "ocpp1.6")
	waitOwner(t, c, "CP-BACK", "node-a")

	a.reg.Wait(t, waitTimeout, "CP-GONE recorded offline after the grace", func(r *ocpptest.Registry) bool {
		return slices.ContainsFunc(r.Disconnects, func(d ocpptest.Disconnect) bool { return d.Identity == "CP-GONE" })
	})
	a.reg.Do(func(r *ocpptest.Registry) {
		if slices.ContainsFunc(r.Disconnects, func(d ocpptest.Disconnect) bool { return d.Identity == "CP-BACK" }) {
			t.Errorf("CP-BACK came back within the grace but was recorded offline: %+v", r.Disconnects)
		}
	})
	if owner := c.sessionOwner(t, "CP-BACK"); owner != "node-a" {
		t.Errorf("CP-BACK owner %q, want node-a", owner)
	}
}

func testKey(t *testing.T) *secret.Key {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	k, err := secret.ParseKey(hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestUnreachableCallURLFallsBack: when the owner's call URL does not take the call (nothing
// listens there, or the owner has another key and refuses the signature), the call goes
// through the database and still reaches the station, once.
func TestUnreachableCallURLFallsBack(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.callKey = testKey(t)
	a := c.start(t, "node-a", 10*time.Second)
	c.callKey = testKey(t) // node B signs and checks with another key
	b := c.start(t, "node-b", 10*time.Second)
	c.addStation("CP-F", ocpp.ProtocolOCPP16, a, b)
	p := ocpppeer.Start(t)
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	connect(t, p, b.ocppURL, "CP-F", "ocpp1.6")
	waitOwner(t, c, "CP-F", "node-b")

	if status, body := post(t, a, "CP-F", "reset", `{"type": "Soft"}`); status != http.StatusOK {
		t.Fatalf("reset with a key node B refuses: %d %v", status, body)
	}
	if route := <-c.routes; route != cluster.RouteForwarded {
		t.Errorf("the reset went %q, want %q (through the database)", route, cluster.RouteForwarded)
	}

	// Nothing listens at node B's URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := c.db.Exec(`UPDATE cluster_nodes SET call_url = $1 WHERE node_id = 'node-b'`, closed); err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, a, "CP-F", "reset", `{"type": "Hard"}`); status != http.StatusOK {
		t.Fatalf("reset with nothing at node B's URL: %d %v", status, body)
	}
	if route := <-c.routes; route != cluster.RouteForwarded {
		t.Errorf("the reset went %q, want %q (through the database)", route, cluster.RouteForwarded)
	}
	if n := len(p.WaitReceived("Reset", 2)); n != 2 {
		t.Errorf("station got %d Reset CALLs, want 2", n)
	}
}

// TestCallHandlerRefusesForgeries: the node-to-node endpoint runs only calls signed with the
// cluster's key, less than a minute old, and each only once.
func TestCallHandlerRefusesForgeries(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.callKey = testKey(t)
	b := c.start(t, "node-b", 10*time.Second)
	c.addStation("CP-G", ocpp.ProtocolOCPP16, b)
	p := ocpppeer.Start(t)
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	connect(t, p, b.ocppURL, "CP-G", "ocpp1.6")
	waitOwner(t, c, "CP-G", "node-b")

	url := strings.TrimSuffix(b.apiURL, "/api/v1") + cluster.CallPath
	send := func(body []byte, key *secret.Key) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("X-Evroam-Node-Signature", hex.EncodeToString(key.SignNodeCall(body)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	call := func(sentAt time.Time) []byte {
		b, _ := json.Marshal(map[string]any{"id": uuid.New(), "identity": "CP-G", "action": "Reset",
			"payload": map[string]any{"type": "Soft"}, "timeout_ms": 5000, "sent_at": sentAt})
		return b
	}

	good := call(time.Now())
	if status, body := send(good, c.callKey); status != http.StatusOK || !strings.Contains(body, `"Accepted"`) {
		t.Fatalf("a signed call: %d %s", status, body)
	}
	if status, _ := send(good, c.callKey); status != http.StatusConflict {
		t.Errorf("the same call again: %d, want 409", status)
	}
	if status, _ := send(call(time.Now()), testKey(t)); status != http.StatusUnauthorized {
		t.Errorf("a call signed with another key: %d, want 401", status)
	}
	if status, _ := send(call(time.Now().Add(-2*time.Minute)), c.callKey); status != http.StatusUnauthorized {
		t.Errorf("a call two minutes old: %d, want 401", status)
	}
	if n := len(p.WaitReceived("Reset", 1)); n != 1 {
		t.Errorf("station got %d Reset CALLs, want 1 (only the first signed call runs)", n)
	}
}
