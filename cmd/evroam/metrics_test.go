package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/pgtest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricFamilies is one scrape, parsed.
type metricFamilies map[string]*dto.MetricFamily

// scrape GETs url's /metrics without an API key, as Prometheus does, and parses the text
// format.
func scrape(t *testing.T, url string) metricFamilies {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s/metrics: %d %s, want 200 text/plain", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", url, err)
	}
	return fams
}

// value is the value of the series of family name whose labels include want: a counter's or
// a gauge's value, a histogram's count. ok is false when there is no such series.
func (m metricFamilies) value(name string, want map[string]string) (v float64, ok bool) {
	fam := m[name]
	if fam == nil {
		return 0, false
	}
series:
	for _, s := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		}
		return s.GetUntyped().GetValue(), true
	}
	return 0, false
}

// labelValues lists the values a label takes in a family.
func (m metricFamilies) labelValues(name, label string) []string {
	var out []string
	for _, s := range m[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	sort.Strings(out)
	return out
}

// series names a series for messages: name{k="v",…}.
func series(name string, labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// metricCheck is a series and how its value must compare.
type metricCheck struct {
	name   string
	labels map[string]string
	op     string // "==" or ">="
	want   float64
}

func (m metricFamilies) check(t *testing.T, node string, checks []metricCheck) {
	t.Helper()
	for _, c := range checks {
		got, ok := m.value(c.name, c.labels)
		switch {
		case !ok:
			t.Errorf("%s: no series %s", node, series(c.name, c.labels))
		case c.op == "==" && got != c.want, c.op == ">=" && got < c.want:
			t.Errorf("%s: %s = %v, want %s %v", node, series(c.name, c.labels), got, c.op, c.want)
		}
	}
}

func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestMetrics runs two whole nodes on one database, a 1.6 station on node A and a 2.0.1
// station on node B, sends API requests, OCPP traffic and charger commands (one to A's
// station, one forwarded to B's) through node A, and checks that the series move.
func TestMetrics(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	a, apiA := startNode(t, dbURL, "metrics-a")
	b, apiB := startNode(t, dbURL, "metrics-b")
	gwA, gwB := httptest.NewServer(a.gateway), httptest.NewServer(b.gateway)
	t.Cleanup(gwA.Close)
	t.Cleanup(gwB.Close)
	e := &e2e{t: t, app: a, api: apiA.URL}
	e.station("MET-A", "", 0)
	e.station("MET-B", "", 0)

	// API traffic: a read, an unknown station, a route that does not exist, no key.
	e.must("GET", "/api/v1/chargestations/MET-A", nil, 200, nil)
	e.must("GET", "/api/v1/chargestations/MET-NOBODY", nil, 404, nil)
	e.must("GET", "/no/such/route/MET-A", nil, 404, nil)
	resp, err := http.Get(apiA.URL + "/api/v1/locations")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// OCPP traffic on A: a Heartbeat before the boot (SecurityError), the boot, a heartbeat
	// and a status.
	pA := ocpppeer.Start(t)
	pA.OnCall("Reset", map[string]any{"status": "Accepted"})
	pA.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{}})
	pA.MustConnect(ocpppeer.ConnectOptions{URL: "ws" + strings.TrimPrefix(gwA.URL, "http") + "/ocpp", Identity: "MET-A", Protocols: []string{"ocpp1.6"}})
	if _, err := pA.Call("Heartbeat", map[string]any{}); err == nil {
		t.Fatal("a Heartbeat before the boot was accepted; want SecurityError")
	}
	pA.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	pA.MustCall("Heartbeat", map[string]any{})
	pA.MustCall("StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Available"})

	pB := ocppeerStart201(t, "ws"+strings.TrimPrefix(gwB.URL, "http")+"/ocpp", "MET-B")

	// Commands through A: one to A's own station, one forwarded to B's.
	e.must("POST", "/api/v1/chargers/MET-A/reset", map[string]string{"type": "Soft"}, 200, nil)
	e.must("POST", "/api/v1/chargers/MET-B/reset", map[string]string{"type": "Soft"}, 200, nil)
	pB.WaitReceived("Reset", 1)

	mA := scrape(t, apiA.URL)
	mA.check(t, "node A", []metricCheck{
		{"evroam_http_requests_total", l("route", "/api/v1/chargestations/:charge_station_id", "method", "GET", "status", "200"), "==", 1},
		{"evroam_http_requests_total", l("route", "/api/v1/chargestations/:charge_station_id", "method", "GET", "status", "404"), "==", 1},
		{"evroam_http_requests_total", l("route", "/api/v1/chargestations", "method", "POST", "status", "201"), "==", 2},
		{"evroam_http_requests_total", l("route", "unmatched", "method", "GET", "status", "404"), "==", 1},
		{"evroam_http_requests_total", l("route", "/api/v1/locations", "method", "GET", "status", "401"), "==", 1},
		{"evroam_http_requests_total", l("route", "/api/v1/chargers/:chargeBoxId/reset", "method", "POST", "status", "200"), "==", 2},
		{"evroam_http_request_duration_seconds", l("route", "/api/v1/chargers/:chargeBoxId/reset", "method", "POST"), "==", 2},

		{"evroam_ocpp_connected_stations", l("protocol", "Ocpp16"), "==", 1},
		{"evroam_ocpp_connected_stations", l("protocol", "Ocpp201"), "==", 0},
		{"evroam_ocpp_messages_total", l("action", "BootNotification", "direction", "in", "message_type", "CALL"), "==", 1},
		{"evroam_ocpp_messages_total", l("action", "BootNotification", "direction", "out", "message_type", "CALLRESULT"), "==", 1},
		{"evroam_ocpp_messages_total", l("action", "Heartbeat", "direction", "in", "message_type", "CALL"), "==", 2},
		{"evroam_ocpp_messages_total", l("action", "Heartbeat", "direction", "out", "message_type", "CALLERROR"), "==", 1},
		{"evroam_ocpp_messages_total", l("action", "Reset", "direction", "out", "message_type", "CALL"), "==", 1},
		{"evroam_ocpp_messages_total", l("action", "Reset", "direction", "in", "message_type", "CALLRESULT"), "==", 1},
		{"evroam_ocpp_call_errors_sent_total", l("action", "Heartbeat", "code", "SecurityError"), "==", 1},
		{"evroam_ocpp_handler_duration_seconds", l("action", "BootNotification"), "==", 1},
		{"evroam_ocpp_handler_duration_seconds", l("action", "StatusNotification"), "==", 1},

		{"evroam_command_duration_seconds", l("action", "Reset", "route", "local", "outcome", "ok"), "==", 1},
		{"evroam_command_duration_seconds", l("action", "Reset", "route", "forwarded", "outcome", "ok"), "==", 1},

		{"evroam_db_open_connections", nil, ">=", 1},
		{"evroam_db_in_use_connections", nil, ">=", 0},
		{"evroam_db_idle_connections", nil, ">=", 0},
		{"evroam_db_max_open_connections", nil, ">=", 0},
		{"evroam_db_waits_total", nil, ">=", 0},
		{"evroam_db_wait_seconds_total", nil, ">=", 0},

		{"evroam_batch_items_total", l("batcher", "connections"), ">=", 2}, // the connect and the boot
		{"evroam_batch_items_total", l("batcher", "statuses"), "==", 1},
		{"evroam_batch_items_total", l("batcher", "station_sessions"), ">=", 1},
		{"evroam_batch_failed_items_total", l("batcher", "connections"), "==", 0},
		{"evroam_batch_pending_items", l("batcher", "heartbeats"), ">=", 0},
		{"evroam_batch_dropped_items_total", l("batcher", "message_log"), "==", 0},

		{"evroam_ocpi_push_queue_length", nil, "==", 0},
		{"evroam_ocpi_pushes_sent_total", nil, "==", 0},
		{"evroam_ocpi_push_failures_total", nil, "==", 0},
		{"go_goroutines", nil, ">=", 1},
	})
	// The gateway's own batchers flush on timers: what they hold is pending or written.
	for _, name := range []string{"message_log", "heartbeats"} {
		pending, _ := mA.value("evroam_batch_pending_items", l("batcher", name))
		items, _ := mA.value("evroam_batch_items_total", l("batcher", name))
		if pending+items < 1 {
			t.Errorf("node A: batcher %s: %v pending and %v written, want the traffic in one of them", name, pending, items)
		}
	}
	// Routes are patterns, never paths with ids.
	for _, route := range mA.labelValues("evroam_http_requests_total", "route") {
		if strings.Contains(route, "MET-") {
			t.Errorf("node A: route label %q holds a raw path", route)
		}
	}

	mB := scrape(t, apiB.URL)
	mB.check(t, "node B", []metricCheck{
		{"evroam_ocpp_connected_stations", l("protocol", "Ocpp201"), "==", 1},
		{"evroam_ocpp_connected_stations", l("protocol", "Ocpp16"), "==", 0},
		{"evroam_ocpp_messages_total", l("action", "Reset", "direction", "out", "message_type", "CALL"), "==", 1},
		{"evroam_ocpp_messages_total", l("action", "BootNotification", "direction", "in", "message_type", "CALL"), "==", 1},
	})
	if _, ok := mB.value("evroam_command_duration_seconds", nil); ok {
		t.Error("node B: a command round trip is counted on the node that only served it")
	}

	// A's scrape shows up in the next one; the station's close in the connected gauge.
	pA.Close()
	eventually(t, "station A counted as gone", func() error {
		m := scrape(t, apiA.URL)
		if v, _ := m.value("evroam_ocpp_connected_stations", l("protocol", "Ocpp16")); v != 0 {
			return fmt.Errorf("evroam_ocpp_connected_stations{protocol=Ocpp16} = %v", v)
		}
		if v, _ := m.value("evroam_http_requests_total", l("route", "/metrics", "method", "GET", "status", "200")); v < 1 {
			return fmt.Errorf("the scrapes are not counted: %v", v)
		}
		return nil
	})

	// EVROAM_DEBUG_ADDR serves the same registry.
	dbg := httptest.NewServer(debugHandler(a.metrics.handler))
	t.Cleanup(dbg.Close)
	mDebug := scrape(t, dbg.URL)
	if v, ok := mDebug.value("evroam_command_duration_seconds", l("route", "forwarded")); !ok || v != 1 {
		t.Errorf("debug address: forwarded command count %v (%v), want 1", v, ok)
	}
}

// ocppeerStart201 connects a booted 2.0.1 station that accepts Reset.
func ocppeerStart201(t *testing.T, url, identity string) *ocpppeer.Peer {
	t.Helper()
	p := ocpppeer.Start(t)
	p.OnCall("Reset", map[string]any{"status": "Accepted"})
	p.MustConnect(ocpppeer.ConnectOptions{URL: url, Identity: identity, Protocols: []string{"ocpp2.0.1"}})
	p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"vendorName": "Alfen", "model": "Eve"}})
	return p
}
