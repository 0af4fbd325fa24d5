// Package pgcluster finds the PostgreSQL server binaries and starts a private cluster in a
// directory of ours. `make run` uses it for the developer database under .data/, and
// internal/pgtest for a throwaway cluster when no server is running. It never touches a
// system cluster.
package pgcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cluster is a PostgreSQL data directory and the socket directory its server listens on.
type Cluster struct {
	DataDir   string // PGDATA
	SocketDir string // unix socket directory (short path: sockets have a 107-byte limit)
	Port      int
	// Settings are extra server settings ("shared_buffers=256MB"), passed as -c at start.
	Settings []string
	bin      string
	osUser   string // the user the server runs as ("" = current user)
}

// ErrNoBinaries means initdb/pg_ctl could not be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL")

// FindBinaries returns the directory holding initdb and pg_ctl: PATH first, then the
// Debian layout /usr/lib/postgresql/<version>/bin (newest version first).
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// New describes a cluster in dataDir; Start creates it if needed. port is the TCP-less
// socket's port number (it names the socket file), so several clusters can share a socket dir.
func New(dataDir string, port int) (*Cluster, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	c := &Cluster{
		DataDir:   abs,
		SocketDir: filepath.Join(os.TempDir(), "evroam-pg-"+hex.EncodeToString(sum[:6])),
		Port:      port,
		bin:       bin,
	}
	// initdb refuses to run as root; run the server as the postgres user then.
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root needs a 'postgres' system user to own the cluster: %w", err)
		}
		c.osUser = "postgres"
	}
	return c, nil
}

// superuser is the database role initdb created.
func (c *Cluster) superuser() string {
	if c.osUser != "" {
		return c.osUser
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "postgres"
}

// URL returns a lib/pq URL for database name on this cluster's socket.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable", c.superuser(), name, c.SocketDir, c.Port)
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.osUser != "" {
		args = append([]string{"-u", c.osUser, "--", path}, args...)
		path = "runuser"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

func (c *Cluster) chown(paths ...string) error {
	if c.osUser == "" {
		return nil
	}
	u, err := user.Lookup(c.osUser)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// Running reports whether the cluster's server is up.
func (c *Cluster) Running(ctx context.Context) bool {
	return c.command(ctx, "pg_ctl", "status", "-D", c.DataDir).Run() == nil
}

// Start initialises the data directory when it is empty and starts the server on the unix
// socket only (no TCP port is taken). fast makes it a throwaway cluster (fsync off).
// Starting a running cluster is a no-op.
func (c *Cluster) Start(ctx context.Context, fast bool) error {
	if err := os.MkdirAll(c.SocketDir, 0o755); err != nil {
		return err
	}
	if err := c.chown(c.SocketDir); err != nil {
		return err
	}
	if !fileExists(filepath.Join(c.DataDir, "PG_VERSION")) {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return err
		}
		if err := c.chown(c.DataDir); err != nil {
			return err
		}
		out, err := c.command(ctx, "initdb", "-D", c.DataDir, "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput()
		if err != nil {
			return fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out)))
		}
	}
	if c.Running(ctx) {
		return nil
	}
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses='' -c max_connections=300", c.SocketDir, c.Port)
	if fast {
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	for _, setting := range c.Settings {
		opts += " -c " + setting
	}
	logFile := filepath.Join(c.DataDir, "server.log")
	out, err := c.command(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.DataDir, "-l", logFile, "-o", opts).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Stop stops the server (fast shutdown).
func (c *Cluster) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := c.command(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", c.DataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
