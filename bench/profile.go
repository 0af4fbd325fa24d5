package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// profiling: with -profile DIR, every scenario leaves behind a CPU profile of evroam (node A)
// taken while its load runs, and the statements that took the database's time, planning
// included, also those that functions and triggers run (pg_stat_statements), and what
// PostgreSQL's backends were waiting for while the load ran (pg_stat_activity, sampled), so
// that "where did the time go" has an answer per scenario.

// startProfile begins a CPU profile of node n for d, written to dir/name.pprof; the returned
// function waits for it. It does nothing without -profile.
func (e *env) startProfile(name string, n *node, d time.Duration) func() {
	if e.o.profile == "" || n.debug == "" {
		return func() {}
	}
	_, _ = e.db.Exec(`SELECT pg_stat_statements_reset()`)
	done := make(chan struct{})
	waits := e.sampleWaits(d)
	go func() {
		defer close(done)
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", n.debug, max(1, int(d.Seconds())))
		resp, err := http.Get(url)
		if err != nil {
			logf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(e.o.profile, name+".pprof"))
		if err != nil {
			logf("profile %s: %v", name, err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return func() {
		<-done
		e.topStatements(name)
		e.writeWaits(name, <-waits)
	}
}

// waitSample counts what the busy backends of the evroam database were doing at each sample:
// "running" (on the CPU, or waiting for it), or their wait event ("Lock/transactionid",
// "LWLock/WALWrite", "IO/WALSync", ...).
type waitSample struct {
	samples int
	counts  map[string]int
}

// sampleWaits samples pg_stat_activity every 10 ms for d, over a connection of its own;
// the result arrives on the channel when d is over. The samples cost a fraction of a
// percent of the machine.
func (e *env) sampleWaits(d time.Duration) <-chan waitSample {
	out := make(chan waitSample, 1)
	go func() {
		w := waitSample{counts: map[string]int{}}
		defer func() { out <- w }()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		conn, err := e.db.Conn(ctx)
		if err != nil {
			return
		}
		defer conn.Close()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := conn.QueryContext(ctx, `SELECT coalesce(wait_event_type || '/' || wait_event, 'running')
				FROM pg_stat_activity
				WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`)
			if err != nil {
				return
			}
			for rows.Next() {
				var what string
				if rows.Scan(&what) == nil {
					w.counts[what]++
				}
			}
			rows.Close()
			w.samples++
		}
	}()
	return out
}

// writeWaits writes dir/name.waits.txt: each state, and how many backends were in it on
// average over the samples (2.0: two backends at every sample).
func (e *env) writeWaits(name string, w waitSample) {
	if w.samples == 0 {
		return
	}
	whats := slices.SortedFunc(maps.Keys(w.counts), func(a, b string) int { return w.counts[b] - w.counts[a] })
	var b strings.Builder
	fmt.Fprintf(&b, "%d samples of the busy backends, 10 ms apart\n", w.samples)
	for _, what := range whats {
		fmt.Fprintf(&b, "%8.2f backends  %s\n", float64(w.counts[what])/float64(w.samples), what)
	}
	_ = os.WriteFile(filepath.Join(e.o.profile, name+".waits.txt"), []byte(b.String()), 0o644)
}

// heapProfile writes node n's heap profile (after a collection) to dir/name.heap.pprof, with
// -profile: what the memory in use is made of.
func (e *env) heapProfile(name string, n *node) {
	if e.o.profile == "" || n.debug == "" {
		return
	}
	resp, err := http.Get(n.debug + "/debug/pprof/heap?gc=1")
	if err != nil {
		logf("heap profile %s: %v", name, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(e.o.profile, name+".heap.pprof"))
	if err != nil {
		logf("heap profile %s: %v", name, err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// topStatements writes the 25 statements with the most time (execution and planning) since
// the reset.
func (e *env) topStatements(name string) {
	var rows []struct {
		Calls int64   `db:"calls"`
		Rows  int64   `db:"rows"`
		Total float64 `db:"total"`
		Mean  float64 `db:"mean"`
		Max   float64 `db:"max"`
		Plan  float64 `db:"plan"`
		Plans int64   `db:"plans"`
		Top   bool    `db:"toplevel"`
		Query string  `db:"query"`
	}
	// Planning is counted apart (track_planning): a statement planned at every call costs
	// that on top of its execution.
	err := e.db.Select(&rows, `SELECT calls, rows, total_exec_time AS total, mean_exec_time AS mean, max_exec_time AS max,
			total_plan_time AS plan, plans, toplevel, query
		FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 25`)
	if err != nil {
		logf("pg_stat_statements: %v", err)
		return
	}
	var b strings.Builder
	for _, r := range rows {
		q := strings.Join(strings.Fields(r.Query), " ")
		if len(q) > 300 {
			q = q[:300] + "…"
		}
		where := "  "
		if !r.Top {
			where = "↳ " // run by a function or trigger: its time is also its caller's
		}
		// rows: what the statement returned or wrote (a batch statement's rows per call is
		// its batch size).
		fmt.Fprintf(&b, "%10d calls %10d rows %10.0f ms total %8.3f ms mean %8.1f ms max %8.0f ms planning (%d plans) %s%s\n",
			r.Calls, r.Rows, r.Total, r.Mean, r.Max, r.Plan, r.Plans, where, q)
	}
	_ = os.WriteFile(filepath.Join(e.o.profile, name+".statements.txt"), []byte(b.String()), 0o644)
}

// profiled runs load under a profile named name when -profile is set.
func (e *env) profiled(ctx context.Context, name string, d time.Duration, load func()) {
	wait := e.startProfile(name, e.nodes[0], d)
	load()
	wait()
}
