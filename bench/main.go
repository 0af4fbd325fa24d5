// Command bench is `make bench`: it measures evroam at a real CPO's size on this machine and
// prints each figure next to its target. It starts a private PostgreSQL (as make test does),
// loads a data set (100,000 stations in 10,000 locations at BENCH_SCALE=1), starts evroam
// serve as its own process, and runs each scenario against it: HTTP load from this process,
// OCPP load from the station simulator (package simulator), and pgbench as the anchor that
// turns throughput into a ratio ("0.7 × pgbench -S"), fair on any machine because both run
// in the same run on the same database. It writes the table as JSON under bench/results/.
//
//	go run ./bench [-evroam bin/evroam] [-only name,name] [-out bench/results]
//
// BENCH_SCALE (default 1) shrinks the data set and the loads for a quick run (0.1 takes
// about a minute). Benchmarks never run in make test.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}

type options struct {
	evroam  string
	only    map[string]bool
	out     string
	scale   float64
	keep    bool
	profile string // directory for CPU profiles and top statements per scenario
}

func run(ctx context.Context) error {
	var o options
	var only string
	flag.StringVar(&o.evroam, "evroam", "bin/evroam", "the evroam binary to measure")
	flag.StringVar(&only, "only", "", "comma-separated scenario names to run (default: all)")
	flag.StringVar(&o.out, "out", "bench/results", "directory for the JSON result")
	flag.BoolVar(&o.keep, "keep", false, "leave the PostgreSQL data directory behind")
	flag.StringVar(&o.profile, "profile", "", "directory for a CPU profile of evroam and the top SQL statements of each scenario")
	flag.Parse()
	o.scale = 1
	if s := os.Getenv("BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 || v > 1 {
			return fmt.Errorf("BENCH_SCALE=%q: want a number in (0, 1]", s)
		}
		o.scale = v
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			o.only[strings.TrimSpace(n)] = true
		}
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	env, err := setUp(ctx, o)
	if err != nil {
		return err
	}
	defer env.tearDown()

	var results []result
	cpu := map[string]cpuUse{}
	for _, sc := range scenarios {
		if o.only != nil && !o.only[sc.name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		logf("scenario %s (%s)", sc.name, time.Now().UTC().Format("15:04:05"))
		t0 := time.Now()
		cpu0 := env.sampleCPU()
		rs, err := sc.run(ctx, env)
		if err != nil {
			rs = append(rs, result{Scenario: sc.name, Figure: "error", Note: err.Error()})
			logf("scenario %s failed: %v", sc.name, err)
		}
		used := env.cpuSince(cpu0)
		cpu[sc.name] = used
		logf("scenario %s took %s (%s)", sc.name, time.Since(t0).Round(time.Second), used)
		results = append(results, rs...)
		if err := env.settle(ctx); err != nil {
			return err
		}
	}
	report := report{Started: start.UTC(), Seconds: time.Since(start).Seconds(), Scale: o.scale, Machine: machine(),
		Results: results, CPU: cpu}
	report.print(os.Stdout)
	return report.save(o.out)
}

// result is one row of the table: a figure measured by a scenario, with its target.
type result struct {
	Scenario string   `json:"scenario"`
	Figure   string   `json:"figure"`
	Value    float64  `json:"value"`
	Unit     string   `json:"unit"`
	Target   string   `json:"target,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"` // value ÷ the anchor, when the target is a ratio
	Pass     *bool    `json:"pass,omitempty"`  // nil: no target
	Note     string   `json:"note,omitempty"`
	Detail   any      `json:"detail,omitempty"`
}

// atLeast and atMost make a result with a pass/fail against a bound.
func atLeast(r result, bound float64) result {
	ok := r.Value >= bound
	r.Pass = &ok
	return r
}

func atMost(r result, bound float64) result {
	ok := r.Value <= bound
	r.Pass = &ok
	return r
}

// ratioAtLeast compares value ÷ anchor with a bound and records the ratio.
func ratioAtLeast(r result, anchor, bound float64) result {
	v := r.Value / anchor
	r.Ratio = &v
	ok := v >= bound
	r.Pass = &ok
	return r
}

// ratioOnly records value ÷ anchor of a figure that has no target of its own.
func ratioOnly(r result, anchor float64) result {
	v := r.Value / anchor
	r.Ratio = &v
	return r
}

type report struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Scale   float64   `json:"scale"`
	Machine string    `json:"machine"`
	Results []result  `json:"results"`
	// CPU is what each party used per scenario, setup included (cpu.go).
	CPU map[string]cpuUse `json:"cpu"`
}

func (r report) print(w *os.File) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tfigure\tvalue\ttarget\tratio\tresult\n")
	for _, x := range r.Results {
		ratio, pass := "", ""
		if x.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *x.Ratio)
		}
		if x.Pass != nil {
			pass = "FAIL"
			if *x.Pass {
				pass = "pass"
			}
		}
		val := fmt.Sprintf("%.4g %s", x.Value, x.Unit)
		if x.Figure == "error" {
			val = x.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Scenario, x.Figure, val, x.Target, ratio, pass)
	}
	tw.Flush()
	fmt.Fprintf(w, "scale %.2f, %s, %.0f s in all\n", r.Scale, r.Machine, r.Seconds)
}

func (r report) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(dir, r.Started.Format("20060102-150405")+".json")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", name)
	return nil
}

func machine() string {
	cpus := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpus = strings.Count(string(b), "processor\t:")
	}
	return fmt.Sprintf("%d CPUs", cpus)
}
