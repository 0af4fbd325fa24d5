package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// session-export: GET /api/v1/sessions/export of every session, 1,000,000 at BENCH_SCALE=1,
// seeded by SQL (completed sessions spread over the stations), read by one client as fast as
// it can take them. Figures: rows per second, and evroam's resident memory while it streams,
// sampled every 10 ms, over what it held before: the export must not grow with its size.
func runSessionExport(ctx context.Context, e *env) ([]result, error) {
	n := e.nodes[0]
	count := e.scaled(1_000_000, 10_000)
	t0 := time.Now()
	for _, step := range []struct {
		q    string
		args []any
	}{
		{sessionsSQL, []any{count, e.stations, time.Now().UTC()}},
		{`VACUUM (ANALYZE) transactions`, nil}, // not left to autovacuum during the next scenarios
	} {
		if _, err := e.db.ExecContext(ctx, step.q, step.args...); err != nil {
			return nil, fmt.Errorf("seed sessions: %w", err)
		}
	}
	logf("seeded %d sessions in %s", count, time.Since(t0).Round(time.Millisecond))

	before, err := n.rssKiB()
	if err != nil {
		return nil, err
	}
	var peak atomic.Int64
	peak.Store(int64(before))
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if v, err := n.rssKiB(); err == nil && int64(v) > peak.Load() {
					peak.Store(int64(v))
				}
			}
		}
	}()
	rows, secs, err := readExport(ctx, n.api+"/sessions/export", e.adminKey)
	close(done)
	<-sampled
	if err != nil {
		return nil, err
	}
	growthMiB := float64(peak.Load()-int64(before)) / 1024
	r := atLeast(result{Scenario: "session-export", Figure: fmt.Sprintf("CSV export of %d sessions", count), Value: float64(rows) / secs,
		Unit: "rows/s", Target: "≥ 16667 rows/s (a million in a minute)", Detail: map[string]any{"rows": rows, "seconds": secs}}, 16667)
	if rows != count {
		r.Note = fmt.Sprintf("got %d rows, want %d", rows, count)
		f := false
		r.Pass = &f
	}
	return []result{r,
		atMost(result{Scenario: "session-export", Figure: "evroam resident memory growth while exporting (peak − before)", Value: growthMiB,
			Unit: "MiB", Target: "≤ 64 MiB (constant in the number of rows)",
			Detail: map[string]any{"rss_before_kib": before, "rss_peak_kib": peak.Load()}}, 64),
	}, nil
}

// readExport reads a CSV export to its end and counts its rows (the header aside). Sessions
// hold no line breaks in their fields, so a line is a row.
func readExport(ctx context.Context, url, key string) (rows int, secs float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("X-API-Key", key)
	t0 := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("export: HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			if !strings.HasPrefix(sc.Text(), "id,charge_station_id,") {
				return 0, 0, fmt.Errorf("export: header %q", sc.Text())
			}
			continue
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		return rows, 0, fmt.Errorf("export cut off after %d rows: %w", rows, err)
	}
	return rows, time.Since(t0).Seconds(), nil
}

// sessionsSQL seeds $1 completed 1.6 sessions over the first $2 stations (BENCH-000000 …),
// ending before $3, each with its energy, times and power.
const sessionsSQL = `
INSERT INTO transactions (charge_station_id, transaction_id, network_id, location_id, evse_sequence_number,
	connector_id, id_tag, id_token_type, meter_start_wh, meter_stop_wh, started_at, stopped_at, stop_reason,
	max_power_w, last_energy_wh, last_energy_at, status, csms_made_id, updated)
SELECT c.id, 'bench-' || g, c.network_id, c.location_id, 1 + g % 2, 1, 'TAG' || lpad((g % 50000)::text, 8, '0'), 'RFID',
	g * 10.0, g * 10.0 + 1000 + g % 40000, s.start, s.start + make_interval(secs => 600 + g % 7200), 'EVDisconnected',
	3700 + g % 18300, g * 10.0 + 1000 + g % 40000, s.start + make_interval(secs => 600 + g % 7200), 'COMPLETED', false,
	s.start + make_interval(secs => 601 + g % 7200)
FROM generate_series(0, $1 - 1) AS g
CROSS JOIN LATERAL (SELECT $3::timestamptz - make_interval(secs => g * 30 + 8000) AS start) AS s
JOIN charge_stations c ON c.id = 'BENCH-' || lpad((g % $2)::text, 6, '0')`
