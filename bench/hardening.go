package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The hardening scenarios: the worst body a client may send, and password guessing.

// create-max: creating a station with the most EVSEs and connectors the API takes (100 EVSEs
// of 16 connectors), one at a time: the median of several.
func runCreateMax(ctx context.Context, e *env) ([]result, error) {
	n := e.nodes[0]
	client := httpClient(1)
	connectors := make([]string, 16)
	for i := range connectors {
		connectors[i] = fmt.Sprintf(`{"id": "%d", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}`, i+1)
	}
	evse := `{"connectors": [` + strings.Join(connectors, ",") + `]}`
	evses := strings.TrimSuffix(strings.Repeat(evse+",", 100), ",")
	var took []time.Duration
	var err error
	e.profiled(ctx, "create-max", 5*time.Second, func() {
		for i := range 7 {
			body := fmt.Sprintf(`{"charge_station_id": "MAX-%03d", "location_id": "%s", "deploy_state": "Production",
			"default_charge_station_tariff_id": "TARIFF-AC", "charger_type": "Public", "evses": [%s]}`, i, locationID(i), evses)
			t0 := time.Now()
			status, e := do(ctx, client, http.MethodPost, n.api+"/chargestations", e.adminKey, []byte(body), nil)
			if e != nil || status != http.StatusCreated {
				err = fmt.Errorf("create a station with 100 EVSEs: %d %v", status, e)
				return
			}
			took = append(took, time.Since(t0))
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(took)
	return []result{
		atMost(result{Scenario: "create-max", Figure: "create one station of 100 EVSEs × 16 connectors (median of 7)",
			Value: ms(took[len(took)/2]), Unit: "ms", Target: "≤ 500 ms", Detail: took}, 500),
	}, nil
}

// login-guessing: 200 wrong passwords at once, first all for one station, then one for each
// of 200 stations, from one address, against stations whose password has no verifier yet
// (the worst case: every check would be a bcrypt). The figure is the CPU evroam spends on
// them. It runs last: afterwards the bench's address is blocked for a while.
func runLoginGuessing(ctx context.Context, e *env) ([]result, error) {
	n := e.nodes[0]
	count := min(200, e.small)
	ids := make([]string, count)
	for i := range ids {
		ids[i] = smallStationID(i)
	}
	if _, err := e.db.ExecContext(ctx, `UPDATE charge_stations SET ocpp_password_verifier = NULL WHERE id = ANY($1)`,
		"{"+strings.Join(ids, ",")+"}"); err != nil {
		return nil, err
	}
	guess := func(identities []string) (codes map[int]int, cpu time.Duration, err error) {
		before, err := n.cpuTime()
		if err != nil {
			return nil, 0, err
		}
		var mu sync.Mutex
		codes = map[int]int{}
		var wg sync.WaitGroup
		for i := range 200 {
			id := identities[i%len(identities)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				code := dialWithPassword(ctx, n.ocpp, id, "not-the-password-"+strconv.Itoa(i))
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		after, err := n.cpuTime()
		return codes, after - before, err
	}
	oneCodes, oneCPU, err := guess(ids[:1])
	if err != nil {
		return nil, err
	}
	manyCodes, manyCPU, err := guess(ids)
	if err != nil {
		return nil, err
	}
	return []result{
		atMost(result{Scenario: "login-guessing", Figure: "evroam CPU for 200 parallel wrong passwords of one station",
			Value: oneCPU.Seconds(), Unit: "s", Target: "≤ 2 s", Detail: oneCodes}, 2),
		atMost(result{Scenario: "login-guessing", Figure: fmt.Sprintf("evroam CPU for 200 parallel wrong passwords of %d stations", count),
			Value: manyCPU.Seconds(), Unit: "s", Target: "≤ 2 s", Detail: manyCodes}, 2),
	}, nil
}

// dialWithPassword opens an OCPP connection with HTTP Basic credentials and returns the
// status of the upgrade (101 when accepted).
func dialWithPassword(ctx context.Context, url, identity, password string) int {
	h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(identity+":"+password))}}
	d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}, HandshakeTimeout: time.Minute}
	ws, resp, err := d.DialContext(ctx, url+"/"+identity, h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// cpuTime is the CPU time (user and system) the node's process has used.
func (n *node) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (which may hold spaces) start after its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unreadable /proc stat")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}
