// Command evroam is the evroam charge-point-operator back office: the registry REST API, the
// OCPI interface and the OCPP gateway in one process.
//
//	evroam serve                                      run the service (migrates first)
//	evroam migrate                                    apply pending migrations and exit
//	evroam apikey create --network ID [--name N] [--admin]   print a new API key
//	evroam localdb --dir DIR [--stop]                 start (or reuse) a private PostgreSQL, print its URL; or stop it
//	evroam simulate [flags]                           simulated charge stations against a gateway (package simulator)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/logwriter"
	"github.com/evroam/evroam/internal/pgcluster"
	"github.com/evroam/evroam/migrations"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/simulator"
	"github.com/google/uuid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "evroam: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage:
  evroam serve [flags]        run the REST API, OCPI and the OCPP gateway (migrates first)
  evroam migrate              apply pending database migrations and exit
  evroam apikey create --network ID [--name NAME] [--admin]
                              print a new API key for a network
  evroam localdb --dir DIR [--stop]
                              start (or reuse) a private PostgreSQL under DIR and print its URL;
                              --stop stops it
  evroam simulate [--url ws://localhost:9000/ocpp] [--count N] [--protocol 1.6|2.0.1|mix]
                  [--password P] [--create --api-url URL --api-key KEY] [flags]
                              run N simulated charge stations against an OCPP gateway
                              (evroam simulate -h lists every flag)
Configuration comes from EVROAM_* environment variables; see README.md.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(getenv("EVROAM_LOG_LEVEL"))); err != nil && getenv("EVROAM_LOG_LEVEL") != "" {
		return fmt.Errorf("EVROAM_LOG_LEVEL=%q: want debug, info, warn or error", getenv("EVROAM_LOG_LEVEL"))
	}
	// The log is buffered (an access line per request would otherwise cost a system call
	// under the handler's lock); warnings and errors are written out at once.
	logOut := logwriter.New(stderr, 100*time.Millisecond, 64<<10)
	defer logOut.Close()
	log := slog.New(logwriter.Handler(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}), logOut, slog.LevelWarn))
	slog.SetDefault(log)
	switch args[0] {
	case "serve":
		cfg, err := loadConfig(args[1:], getenv)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		cfg, err := loadConfig(nil, getenv)
		if err != nil {
			return err
		}
		db, err := database.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := migrations.Up(ctx, db.DB); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "database at migration %d\n", migrations.Latest())
		return nil
	case "apikey":
		return apikey(ctx, args[1:], getenv, stdout)
	case "localdb":
		return localdb(ctx, args[1:], stdout)
	case "simulate":
		return simulate(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func apikey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: evroam apikey create --network ID [--name NAME] [--admin]")
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	network := fs.String("network", "", "network id (UUID), or \"root\"")
	name := fs.String("name", "", "a name for the key")
	admin := fs.Bool("admin", false, "the key may manage networks and OCPI partners")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(nil, getenv)
	if err != nil {
		return err
	}
	db, err := database.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrations.Up(ctx, db.DB); err != nil {
		return err
	}
	store := networks.NewStore(db)
	var id uuid.UUID
	switch *network {
	case "":
		return errors.New("--network is required (a network id, or root)")
	case "root":
		root, err := store.EnsureRoot(ctx, "root", cfg.CountryCode, cfg.PartyID)
		if err != nil {
			return err
		}
		id = root.ID
	default:
		if id, err = uuid.Parse(*network); err != nil {
			return fmt.Errorf("--network %q is not a network id", *network)
		}
	}
	key, err := store.CreateKey(ctx, id, *name, *admin)
	if errors.Is(err, networks.ErrNotFound) {
		return fmt.Errorf("no network %s", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	return nil
}

// simulate is `evroam simulate`: the flags fill a simulator.Config, and the package does the rest.
func simulate(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg simulator.Config
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return simulator.Run(ctx, cfg, stdout)
}

// localdb starts the developer database of `make run`: a private cluster whose data lives in
// dir. It prints the URL to use as EVROAM_DATABASE_URL. With --stop it stops that cluster
// instead (`make stop`), and does nothing when none is running.
func localdb(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("localdb", flag.ContinueOnError)
	dir := fs.String("dir", ".data/postgres", "data directory")
	stop := fs.Bool("stop", false, "stop the server instead (make stop); nothing to do when it is not running")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stop {
		if _, err := os.Stat(filepath.Join(*dir, "PG_VERSION")); err != nil {
			return nil // no cluster there, so none running
		}
	}
	c, err := pgcluster.New(*dir, 5432)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if *stop {
		if !c.Running(ctx) {
			return nil
		}
		if err := c.Stop(ctx); err != nil {
			return err
		}
		os.Remove(c.SocketDir) // empty now; Start makes it again
		fmt.Fprintf(stdout, "stopped the PostgreSQL server of %s\n", *dir)
		return nil
	}
	if err := c.Start(ctx, false); err != nil {
		return err
	}
	db, err := database.Open(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'evroam')`); err != nil {
		return err
	}
	if !exists {
		if _, err := db.ExecContext(ctx, `CREATE DATABASE evroam`); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, c.URL("evroam"))
	return nil
}
