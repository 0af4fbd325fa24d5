package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/evroam/evroam/simulator"
)

// scenario is one measured situation; it returns the rows of the table it fills.
type scenario struct {
	name string
	run  func(ctx context.Context, e *env) ([]result, error)
}

// scenarios run in this order; the anchor first, as the others are ratios of it.
var scenarios = []scenario{
	{"anchor", runAnchor},
	{"station-get", runStationGet},
	{"station-list", runStationList},
	{"sync-rest", runSyncREST},
	{"sync-ocpi", runSyncOCPI},
	{"session-export", runSessionExport},
	{"create", runCreate},
	{"boot-storm", runBootStorm},
	{"heartbeat", runHeartbeats},
	{"status", runStatus},
	{"authorize", runAuthorize},
	{"commands", runCommands},
	{"reconnect-storm", runReconnectStorm},
	{"idle-memory", runIdleMemory},
	{"create-max", runCreateMax},
	{"login-guessing", runLoginGuessing}, // last: it leaves the bench's address blocked for a while
}

// loadDuration is how long each closed-loop load runs.
func (e *env) loadDuration() time.Duration {
	return time.Duration(max(3, int(10*e.o.scale+0.5))) * time.Second
}

var anchorTPS float64

// anchor measures pgbench -S with 50 clients: one indexed primary-key SELECT per
// transaction on the same PostgreSQL, the most a read request could hope for.
func runAnchor(ctx context.Context, e *env) ([]result, error) {
	tps, err := e.pgbenchSelect(ctx, 50, e.loadDuration())
	if err != nil {
		return nil, err
	}
	anchorTPS = tps
	return []result{{Scenario: "anchor", Figure: "pgbench -S, 50 clients", Value: tps, Unit: "TPS"}}, nil
}

func (e *env) anchor(ctx context.Context) (float64, error) {
	if anchorTPS == 0 {
		if _, err := runAnchor(ctx, e); err != nil {
			return 0, err
		}
	}
	return anchorTPS, nil
}

// station-get: GET one station (with its EVSEs) by a random id, 50 clients, on a node whose
// answer cache is warm (as a node is from a minute after its start on:
// EVROAM_STATION_CACHE_WARM_AFTER); then on a node just restarted without the warm-up, where
// nearly every request is the first read of its station (for the record: the target is the
// warm node's).
func runStationGet(ctx context.Context, e *env) ([]result, error) {
	anchor, err := e.anchor(ctx)
	if err != nil {
		return nil, err
	}
	load := func(name string) simulator.Figures {
		n := e.nodes[0]
		var f simulator.Figures
		e.profiled(ctx, name, e.loadDuration(), func() {
			f = httpLoad(ctx, 50, e.loadDuration(), e.adminKey, http.StatusOK, func(r *rand.Rand) (string, string, []byte) {
				return http.MethodGet, n.api + "/chargestations/" + stationID(r.IntN(e.stations)), nil
			})
		})
		return f
	}
	warm := load("station-get")
	if err := e.restartNode(ctx, 0, false); err != nil {
		return nil, err
	}
	cold := load("station-get-first-reads")
	if err := e.restartNode(ctx, 0, true); err != nil {
		return nil, err
	}
	return []result{
		ratioAtLeast(result{Scenario: "station-get", Figure: "GET one station, 50 clients, answer cache warm", Value: warm.Throughput, Unit: "req/s",
			Target: "≥ 0.6 × pgbench -S", Detail: warm}, anchor, 0.6),
		atMost(result{Scenario: "station-get", Figure: "p99 latency", Value: ms(warm.P99), Unit: "ms", Target: "< 20 ms"}, 20),
		atMost(result{Scenario: "station-get", Figure: "errors", Value: float64(warm.Errors + cold.Errors), Unit: "", Target: "0"}, 0),
		ratioOnly(result{Scenario: "station-get", Figure: "GET one station just after a restart (first reads)", Value: cold.Throughput,
			Unit: "req/s", Detail: cold}, anchor),
		{Scenario: "station-get", Figure: "p99 latency, first reads", Value: ms(cold.P99), Unit: "ms"},
	}, nil
}

// station-list: the first page (limit 100) of the whole network's list, 50 clients; the same
// for a network of 1/100 the size, whose page must cost the same.
func runStationList(ctx context.Context, e *env) ([]result, error) {
	anchor, err := e.anchor(ctx)
	if err != nil {
		return nil, err
	}
	n := e.nodes[0]
	check := func(key string, want int) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.api+"/chargestations?limit=100", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Total-Count"); got != strconv.Itoa(want) {
			return fmt.Errorf("X-Total-Count = %s, want %d", got, want)
		}
		return nil
	}
	// The root network's key sees the small network too (it is below the root).
	if err := check(e.adminKey, e.stations+e.small); err != nil {
		return nil, err
	}
	if err := check(e.smallKey, e.small); err != nil {
		return nil, err
	}
	var big simulator.Figures
	e.profiled(ctx, "station-list", e.loadDuration(), func() {
		big = httpLoad(ctx, 50, e.loadDuration(), e.adminKey, http.StatusOK, func(*rand.Rand) (string, string, []byte) {
			return http.MethodGet, n.api + "/chargestations?limit=100", nil
		})
	})
	small := httpLoad(ctx, 50, e.loadDuration(), e.smallKey, http.StatusOK, func(*rand.Rand) (string, string, []byte) {
		return http.MethodGet, n.api + "/chargestations?limit=100", nil
	})
	growth := big.Throughput / small.Throughput
	return []result{
		ratioAtLeast(result{Scenario: "station-list", Figure: fmt.Sprintf("list page (limit 100) of %d stations, 50 clients", e.stations+e.small),
			Value: big.Throughput, Unit: "pages/s", Target: "≥ 0.25 × pgbench -S", Detail: big}, anchor, 0.25),
		{Scenario: "station-list", Figure: "p99 latency", Value: ms(big.P99), Unit: "ms"},
		atLeast(result{Scenario: "station-list", Figure: fmt.Sprintf("page rate at %d ÷ at %d stations", e.stations+e.small, e.small),
			Value: growth, Unit: "", Target: "≥ 0.8 (cost does not grow)", Detail: small}, 0.8),
		atMost(result{Scenario: "station-list", Figure: "errors", Value: float64(big.Errors + small.Errors), Target: "0"}, 0),
	}, nil
}

// sync-rest: a full sync of every station over REST with limit=1000, following Link; then
// the same with a date_from before every change (a partner resyncing from an old checkpoint),
// whose pages must not each count the whole window for X-Total-Count.
func runSyncREST(ctx context.Context, e *env) ([]result, error) {
	n := e.nodes[0]
	want := e.stations + e.small
	var out []result
	for _, s := range []struct{ figure, query string }{
		{"full sync of %d stations (limit=1000)", ""},
		{"full sync of %d stations from an old date_from (limit=1000)", "&date_from=2000-01-01T00:00:00Z"},
	} {
		t0 := time.Now()
		items, pages, err := follow(ctx, httpClient(1), n.api+"/chargestations?limit=1000"+s.query, "X-API-Key", e.adminKey)
		if err != nil {
			return nil, err
		}
		secs := time.Since(t0).Seconds()
		r := atMost(result{Scenario: "sync-rest", Figure: fmt.Sprintf(s.figure, want), Value: secs, Unit: "s",
			Target: fmt.Sprintf("≤ %.0f s", 10*e.o.scale), Detail: map[string]int{"items": items, "pages": pages}}, 10*e.o.scale)
		if items != want {
			r.Note = fmt.Sprintf("saw %d stations, want %d", items, want)
			f := false
			r.Pass = &f
		}
		out = append(out, r)
	}
	return out, nil
}

// sync-ocpi: a partner's full pull of the Locations module, and of the Tariffs module, with
// the largest page we allow.
func runSyncOCPI(ctx context.Context, e *env) ([]result, error) {
	n := e.nodes[0]
	token := "bench-ocpi-token-" + randomHex(8)
	sum := sha256.Sum256([]byte(token))
	_, err := e.db.ExecContext(ctx, `INSERT INTO ocpi_partners (id, network_id, name, initiator, state, inbound_token_hash,
		outbound_token, version, created, last_updated)
		VALUES (gen_random_uuid(), (SELECT id FROM networks WHERE parent_id IS NULL), 'bench eMSP', 'partner', 'REGISTERED', $1,
			'unused', '2.2.1', now(), now())`, sum[:])
	if err != nil {
		return nil, err
	}
	auth := "Token " + base64.StdEncoding.EncodeToString([]byte(token))
	want := (e.stations+stationsPerLocation-1)/stationsPerLocation + (e.small+stationsPerLocation-1)/stationsPerLocation
	var out []result
	// A full pull, then one from a date_from before every change (a partner resyncing from
	// an old checkpoint), whose pages must not each count the whole window.
	for _, pull := range []struct{ figure, query string }{
		{"full OCPI Locations pull (%d locations, %d stations)", ""},
		{"OCPI Locations pull from an old date_from (%d locations, %d stations)", "&date_from=2000-01-01T00:00:00Z"},
	} {
		t0 := time.Now()
		items, pages, err := follow(ctx, httpClient(1), n.base+"/ocpi/2.2.1/locations?limit=1000"+pull.query, "Authorization", auth)
		if err != nil {
			return nil, err
		}
		secs := time.Since(t0).Seconds()
		r := atMost(result{Scenario: "sync-ocpi", Figure: fmt.Sprintf(pull.figure, want, e.stations+e.small),
			Value: secs, Unit: "s", Target: fmt.Sprintf("≤ %.0f s", 10*e.o.scale), Detail: map[string]int{"items": items, "pages": pages}}, 10*e.o.scale)
		if items != want {
			r.Note = fmt.Sprintf("saw %d locations, want %d", items, want)
			f := false
			r.Pass = &f
		}
		out = append(out, r)
	}

	// The same partner's full pull of the Tariffs module (issue 13 item 7).
	t0 := time.Now()
	items, pages, err := follow(ctx, httpClient(1), n.base+"/ocpi/2.2.1/tariffs?limit=1000", "Authorization", auth)
	if err != nil {
		return nil, err
	}
	secs := time.Since(t0).Seconds()
	rt := atMost(result{Scenario: "sync-ocpi", Figure: fmt.Sprintf("full OCPI Tariffs pull (%d tariffs)", benchTariffs),
		Value: secs, Unit: "s", Target: fmt.Sprintf("≤ %.0f s", 1*e.o.scale), Detail: map[string]int{"items": items, "pages": pages}}, 1*e.o.scale)
	if items != benchTariffs {
		rt.Note = fmt.Sprintf("saw %d tariffs, want %d", items, benchTariffs)
		f := false
		rt.Pass = &f
	}
	return append(out, rt), nil
}

// create: stations created through the API by 16 clients, each from a two-EVSE template at
// an existing location (no password: bcrypt's deliberate cost is measured where it matters,
// at the gateway).
func runCreate(ctx context.Context, e *env) ([]result, error) {
	n := e.nodes[0]
	client := httpClient(1)
	tpl := `{"name": "bench AC", "evse_templates": [
		{"evse_sequence_number": 1, "capabilities": ["RFID_READER"], "connector_templates": [{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32, "max_electric_power": 22000}]},
		{"evse_sequence_number": 2, "capabilities": ["RFID_READER"], "connector_templates": [{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32, "max_electric_power": 22000}]}]}`
	if status, err := do(ctx, client, http.MethodPut, n.api+"/templates/bench-ac", e.adminKey, []byte(tpl), nil); err != nil || status >= 300 {
		return nil, fmt.Errorf("PUT template: %d %v", status, err)
	}
	var seq atomic.Int64
	var stations simulator.Figures
	e.profiled(ctx, "create", e.loadDuration(), func() {
		stations = httpLoad(ctx, 16, e.loadDuration(), e.adminKey, http.StatusCreated, func(r *rand.Rand) (string, string, []byte) {
			i := seq.Add(1)
			body := fmt.Sprintf(`{"charge_station_id": "NEW-%07d", "location_id": "%s", "deploy_state": "Production",
			"default_charge_station_tariff_id": "TARIFF-AC", "charger_type": "Public", "charge_station_template_id": "bench-ac"}`,
				i, locationID(r.IntN(e.stations/stationsPerLocation)))
			return http.MethodPost, n.api + "/chargestations", []byte(body)
		})
	})
	var lseq atomic.Int64
	locations := httpLoad(ctx, 16, e.loadDuration(), e.adminKey, http.StatusCreated, func(r *rand.Rand) (string, string, []byte) {
		i := lseq.Add(1)
		body := fmt.Sprintf(`{"id": "NEWLOC-%07d", "name": "New site %d", "address": "Nieuwstraat 1", "city": "Utrecht",
			"country": "NLD", "time_zone": "Europe/Amsterdam", "coordinates": {"latitude": "52.09074", "longitude": "5.12142"}}`, i, i)
		return http.MethodPost, n.api + "/locations", []byte(body)
	})
	return []result{
		atLeast(result{Scenario: "create", Figure: "stations created through the API, 16 clients", Value: stations.Throughput, Unit: "stations/s",
			Target: "≥ 1000/s", Detail: stations}, 1000),
		atMost(result{Scenario: "create", Figure: "errors", Value: float64(stations.Errors), Target: "0"}, 0),
		{Scenario: "create", Figure: "locations created through the API, 16 clients", Value: locations.Throughput, Unit: "locations/s", Detail: locations},
	}, nil
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
