package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU accounting: the CPU time each party used during a scenario. On two shared cores the
// throughput of a run moves with everything else the machine does (the anchor has measured
// from 5,000 to 42,000 TPS on the same code), while the CPU a fixed piece of work costs moves
// much less: a boot storm of 10,000 stations, run twice, is best compared by the CPU seconds
// PostgreSQL and evroam spent on it. Every scenario's share is printed with its duration and
// kept in the JSON result (cpu).

// cpuUse is the CPU time of the three parties of a run.
type cpuUse struct {
	PostgreSQL    float64 `json:"postgresql_s"`     // the postmaster and its backends, live and exited
	Evroam        float64 `json:"evroam_s"`         // the evroam nodes (a node restarted within the scenario counts from its start)
	LoadGenerator float64 `json:"load_generator_s"` // this process: the simulator and the HTTP loads (pgbench not included)
	// Machine is the CPU every process of the machine used (/proc/stat), these three and
	// whatever else runs: on a shared machine the difference is what the run competed with.
	Machine float64 `json:"machine_s"`
	Wall    float64 `json:"wall_s"`
}

// cpuSample is a snapshot for cpuSince.
type cpuSample struct {
	at     time.Time
	pg     time.Duration
	nodes  map[int]time.Duration // pid → CPU
	loadgn time.Duration
	busy   time.Duration // the whole machine's
}

// sampleCPU takes a snapshot of what each party has used so far.
func (e *env) sampleCPU() cpuSample {
	s := cpuSample{at: time.Now(), nodes: map[int]time.Duration{}}
	s.pg = postgresCPU(filepath.Join(e.dir, "pg"))
	for _, n := range e.nodes {
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		if t, err := n.cpuTime(); err == nil {
			s.nodes[n.cmd.Process.Pid] = t
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.loadgn = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.busy = machineBusy()
	return s
}

// machineBusy is the CPU time all processors have spent on anything but idling (the first
// line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var busy int64
	for i, f := range fields[1:min(len(fields), 9)] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return time.Duration(busy) * time.Second / ticksPerSecond
}

// cpuSince is the CPU each party used from start to now.
func (e *env) cpuSince(start cpuSample) cpuUse {
	end := e.sampleCPU()
	var nodes time.Duration
	for pid, t := range end.nodes {
		nodes += t - start.nodes[pid] // a node started since counts from zero
	}
	return cpuUse{PostgreSQL: (end.pg - start.pg).Seconds(), Evroam: nodes.Seconds(),
		LoadGenerator: (end.loadgn - start.loadgn).Seconds(), Machine: (end.busy - start.busy).Seconds(),
		Wall: end.at.Sub(start.at).Seconds()}
}

func (u cpuUse) String() string {
	return fmt.Sprintf("CPU: PostgreSQL %.1f s, evroam %.1f s, load generator %.1f s; the machine %.1f s of %.1f s wall",
		u.PostgreSQL, u.Evroam, u.LoadGenerator, u.Machine, u.Wall)
}

// postgresCPU is the CPU the cluster in dataDir has used: the postmaster's own, that of the
// backends it has reaped (cutime, cstime) and that of its live children. A backend that ends
// while its siblings are read moves from the live ones into the reaped ones and would count
// twice or not at all, so the reading is taken again until the postmaster's total held still.
func postgresCPU(dataDir string) time.Duration {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return 0
	}
	var total time.Duration
	for range 5 {
		_, _, before := procCPU(pid)
		total = before
		entries, _ := os.ReadDir("/proc")
		for _, ent := range entries {
			child, err := strconv.Atoi(ent.Name())
			if err != nil || child == pid {
				continue
			}
			if t, ppid, _ := procCPU(child); ppid == pid {
				total += t
			}
		}
		if _, _, after := procCPU(pid); after-before < 5*time.Second/ticksPerSecond {
			break // at most a few ticks of the postmaster's own moved meanwhile
		}
	}
	return total
}

// procCPU reads /proc/pid/stat: the process's CPU (user and system), its parent, and its CPU
// plus that of its reaped children.
func procCPU(pid int) (own time.Duration, ppid int, withChildren time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0
	}
	// The fields after the command name (which may hold spaces) start after its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 15 {
		return 0, 0, 0
	}
	ticks := func(i int) time.Duration {
		v, _ := strconv.ParseInt(fields[i], 10, 64)
		return time.Duration(v) * time.Second / ticksPerSecond
	}
	ppid, _ = strconv.Atoi(fields[1])
	own = ticks(11) + ticks(12)
	return own, ppid, own + ticks(13) + ticks(14)
}

// ticksPerSecond is USER_HZ, the unit of /proc's CPU times on Linux.
const ticksPerSecond = 100
