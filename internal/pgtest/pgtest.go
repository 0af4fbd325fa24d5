// Package pgtest gives each test a fresh, migrated PostgreSQL database, so tests run against a
// real server and can all call t.Parallel().
//
// Which server: EVROAM_TEST_DATABASE_URL when set; else the server on 127.0.0.1:5432 when it
// answers (user postgres); else a throwaway cluster made with initdb/pg_ctl in a temporary
// directory for this test binary. The schema is migrated once into a template database and each
// test's database is created from it (CREATE DATABASE … TEMPLATE), which takes milliseconds.
//
// When no server can be found or started the tests fail if CI is set, and skip otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgcluster"
	"github.com/evroam/evroam/migrations"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
)

var (
	setupOnce sync.Once
	setupErr  error
	adminURL  string // URL of a maintenance database on the chosen server
	template  string // name of the migrated template database
	cluster   *pgcluster.Cluster
	createMu  sync.Mutex // CREATE DATABASE … TEMPLATE fails if two copy the template at once
)

// Main wraps testing.M: it runs the tests and then drops the template database and stops a
// throwaway cluster if one was started. Use it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	teardown()
	os.Exit(code)
}

// URL returns the URL of a fresh, migrated database that is dropped when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("pgtest: no PostgreSQL available (CI is set, so this fails): %v", setupErr)
		}
		tb.Skipf("pgtest: no PostgreSQL available: %v", setupErr)
	}
	name := "evroam_test_" + randomHex(6)
	admin := mustOpen(tb, adminURL)
	defer admin.Close()
	createMu.Lock()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		_, err = admin.Exec(fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, template))
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	createMu.Unlock()
	if err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		admin := mustOpen(tb, adminURL)
		defer admin.Close()
		if _, err := admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(adminURL, name)
}

// New returns an open pool on a fresh, migrated database that is closed and dropped when the
// test ends.
func New(tb testing.TB) *sqlx.DB {
	tb.Helper()
	db := mustOpen(tb, URL(tb))
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustOpen(tb testing.TB, u string) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("postgres", u)
	if err != nil {
		tb.Fatalf("pgtest: open: %v", err)
	}
	return db
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch {
	case os.Getenv("EVROAM_TEST_DATABASE_URL") != "":
		adminURL = os.Getenv("EVROAM_TEST_DATABASE_URL")
		if err := ping(ctx, adminURL); err != nil {
			return fmt.Errorf("EVROAM_TEST_DATABASE_URL does not answer: %w", err)
		}
	case ping(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3") == nil:
		adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	default:
		dir, err := os.MkdirTemp("", "evroam-pgtest-")
		if err != nil {
			return err
		}
		// As root the server runs as the postgres user, which must be able to enter the directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		c, err := pgcluster.New(dir+"/data", 5432)
		if err != nil {
			return err
		}
		if err := c.Start(ctx, true); err != nil {
			return err
		}
		cluster = c
		adminURL = c.URL("postgres")
	}
	template = "evroam_template_" + randomHex(6)
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+template); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	tdb, err := sql.Open("postgres", withDatabase(adminURL, template))
	if err != nil {
		return err
	}
	defer tdb.Close()
	if err := migrations.Up(ctx, tdb); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	return nil
}

func teardown() {
	if template == "" {
		return
	}
	if admin, err := sql.Open("postgres", adminURL); err == nil {
		admin.Exec(`DROP DATABASE IF EXISTS ` + template + ` WITH (FORCE)`)
		admin.Close()
	}
	if cluster != nil {
		cluster.Stop(context.Background())
		os.RemoveAll(strings.TrimSuffix(cluster.DataDir, "/data"))
	}
}

func ping(ctx context.Context, u string) error {
	db, err := sql.Open("postgres", u)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// withDatabase returns u with its database name replaced by name.
func withDatabase(u, name string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" {
		// key=value form
		return u + " dbname=" + name
	}
	parsed.Path = "/" + name
	return parsed.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
