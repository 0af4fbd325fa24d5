package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/cluster"
	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/internal/stationca"
	"github.com/evroam/evroam/internal/tlsfiles"
	"github.com/evroam/evroam/migrations"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/ocpi"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/proxy"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/stationreports"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// app is the wired service: the database, the registry, the HTTP engine and this node's
// OCPP gateway.
type app struct {
	cfg     config
	log     *slog.Logger
	db      *sqlx.DB
	api     *gin.Engine
	node    *cluster.Node
	gateway *ocpp.Server            // node.Server(): this node's OCPP endpoint
	reports *stationreports.Service // its batchers are closed after the gateway
	// stations commits concurrent station creations together; closed after the API stopped.
	stations *chargestations.Service
	pusher   *ocpi.Pusher // run by serve
	// ocpiCommands sends the results of partners' commands; Close waits for those in flight.
	ocpiCommands *ocpi.Commands
	metrics      *metrics
	answers      *chargestations.AnswerCache // the station answer cache (Serving once it listens)
	// tls serves the gateway on EVROAM_OCPP_TLS_ADDR and keeps the station CAs (nil when
	// neither is configured).
	tls *tlsfiles.Server
	// stopListening ends the station answer cache's change listener; listening is done when
	// it returns.
	stopListening context.CancelFunc
	listening     chan struct{}
}

// newApp opens the database, applies migrations, makes sure the root network (and the admin
// key, when configured) exists, and builds the HTTP engine.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	var tlsFiles *tlsfiles.Server
	if cfg.OCPPTLSAddr != "" || cfg.OCPPClientCAFile != "" {
		var err error
		tlsFiles, err = tlsfiles.New(tlsfiles.Files{CertFile: cfg.OCPPTLSCertFile, KeyFile: cfg.OCPPTLSKeyFile,
			ClientCAFile: cfg.OCPPClientCAFile}, log)
		if err != nil {
			return nil, fmt.Errorf("OCPP TLS files: %w", err)
		}
	}
	var clientCAs func() *x509.CertPool
	if tlsFiles != nil && cfg.OCPPClientCAFile != "" {
		clientCAs = tlsFiles.ClientCAs
	}
	var signer ocpp.CSRSigner
	if cfg.OCPPCACertFile != "" {
		ca, err := stationca.Load(cfg.OCPPCACertFile, cfg.OCPPCAKeyFile, cfg.OCPPCertValidity)
		if err != nil {
			return nil, err
		}
		signer = ca
	}
	proxyTLS, err := proxyTLSConfig(cfg.ProxyCAFile)
	if err != nil {
		return nil, err
	}
	db, err := database.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, db.DB); err != nil {
		db.Close()
		return nil, err
	}
	nets := networks.NewStore(db)
	root, err := nets.EnsureRoot(ctx, "root", cfg.CountryCode, cfg.PartyID)
	if err != nil {
		db.Close()
		return nil, err
	}
	if cfg.AdminAPIKey != "" {
		if err := nets.EnsureKey(ctx, root.ID, cfg.AdminAPIKey, "EVROAM_ADMIN_API_KEY", true); err != nil {
			db.Close()
			return nil, err
		}
	}
	if cfg.SecretKey == nil {
		log.Warn("EVROAM_SECRET_KEY is not set: every station password check after a start costs bcrypt, and 1.6 stations must send their password in the form it was set")
	}
	answers := chargestations.NewAnswerCache(cfg.StationCacheBytes)
	reg := newRegistry(db, nets, &secret.Passwords{Key: cfg.SecretKey}, answers, log)
	outbound := ocpi.Outbound{AllowPrivateAddresses: cfg.OCPIAllowPrivateAddresses}
	if cfg.OCPIAllowPrivateAddresses {
		log.Warn("EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES is on: OCPI partner URLs may lead into this host's own network")
	}
	h := newHandlers(reg, log, ocpi.Config{PublicURL: cfg.PublicURL, Outbound: outbound, Tokens: reg.tokens})
	m := newMetrics()
	// The node owns this process's OCPP gateway and routes charger commands to whichever
	// node holds a station (package cluster).
	node, err := cluster.Start(ctx, cluster.Config{NodeID: cfg.NodeID, DatabaseURL: cfg.DatabaseURL, DefaultTimeout: cfg.CommandTimeout,
		ReconnectGrace: cfg.ReconnectGrace, ObserveCall: m.observeCommand, CallURL: cfg.NodeURL, CallKey: cfg.SecretKey},
		db, gatewayRegistry{reports: reg.reports, tokens: ocpi.NewAuthorizer(db, reg.authorizer, ocpi.AuthorizerConfig{
			Timeout: cfg.OCPIAuthorizeTimeout, Outbound: outbound, Log: log})}, ocpp.Config{
			HeartbeatInterval: cfg.HeartbeatInterval,
			PingInterval:      pingInterval(cfg.OCPPPingInterval),
			PublicURL:         cfg.OCPPPublicURL,
			CallTimeout:       cfg.CommandTimeout,
			TrustedProxies:    cfg.TrustedProxies,
			ClientCAs:         clientCAs,
			CSRSigner:         signer,
			Observer:          ocppObserver{m},
			// The OCPP proxy: each station's operators get their links on the node that
			// holds the station.
			Proxy:             proxyRegistry{reg.operators},
			ProxyReconnectMax: cfg.ProxyReconnectMax,
			ProxyTLS:          proxyTLS,
		}, log)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("join the cluster: %w", err)
	}
	reserved := &commandReservations{svc: reg.reservations}
	h.commands = commands.NewHandler(commands.Config{Timeout: cfg.CommandTimeout, SecureURL: cfg.OCPPTLSPublicURL}, commands.Deps{
		Stations: commandStations{reg.stations}, Gateway: node, Transfers: commandTransfers{reg.logStore},
		Passwords: commandPasswords{reg.stations}, Profiles: commandProfiles{reg.stations},
		Files:        commandFiles{firmware: reg.firmware, signer: reg.signer, publicURL: cfg.PublicURL},
		Certificates: commandCertificates{reg.reports},
		Reservations: reserved,
	})
	// The OCPI Commands receiver sends partners' commands through the charger commands.
	h.ocpiCommands = ocpi.NewCommands(ocpi.NewStore(db), ocpi.NewView(db),
		ocpiStations{commands: h.commands, reservations: reg.reservations},
		ocpi.CommandsConfig{StationTimeout: cfg.CommandTimeout, Outbound: outbound, Tokens: reg.tokens, Log: log})
	reserved.ocpi = h.ocpiCommands
	// OCPI pushes to partners: a background worker on its own connections (serve runs it),
	// so the API and the gateway never wait for a partner.
	pusher := ocpi.NewPusher(db, ocpi.NewView(db), ocpi.PushConfig{DatabaseURL: cfg.DatabaseURL, PublicURL: cfg.PublicURL, Outbound: outbound, Log: log,
		SessionPatchInterval: cfg.OCPISessionPatchInterval, Tokens: reg.tokens})
	m.registry.MustRegister(&snapshots{db: db.DB, gateway: node.Server(), node: node, reports: reg.reports, creates: reg.stations.CreateStats(), pusher: pusher, answers: answers, tokens: reg.authorizer, log: log})
	h.metrics = m
	h.nodeCalls = node.CallHandler()
	// The station answer cache listens for station changes from here on (it serves nothing
	// until it listens), in tests as in `serve`; so does the token authorizer, for token
	// changes.
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		var wg sync.WaitGroup
		wg.Go(func() { reg.authorizer.ListenForChanges(listenCtx, cfg.DatabaseURL, log) })
		// Operator changes made through any node reach the links of the node holding the
		// station.
		gw := node.Server()
		wg.Go(func() { proxy.Listen(listenCtx, cfg.DatabaseURL, log, gw.ReloadOperators, gw.ReloadAllOperators) })
		answers.ListenForChanges(listenCtx, cfg.DatabaseURL, log)
		wg.Wait()
	}()
	if cfg.StationCacheWarm {
		// Each time the station answer cache starts serving (at the start, and after the
		// database came back: it was emptied), every station's answer is read into it once
		// the reconnect storm a start brings has passed (hence the delay), so that partners'
		// reads are served from memory (chargestations/warm.go).
		go func() {
			for {
				select {
				case <-answers.Servings():
				case <-listenCtx.Done():
					return
				}
				wait := time.NewTimer(cfg.StationCacheWarmAfter)
				select {
				case <-wait.C:
				case <-listenCtx.Done():
					wait.Stop()
					return
				}
				start := time.Now()
				n, err := reg.stations.WarmAnswers(listenCtx)
				switch {
				case listenCtx.Err() != nil:
					return
				case err != nil:
					log.Warn("warming the station answer cache", "stations", n, "err", err)
				default:
					log.Info("station answer cache warmed", "stations", n, "took", time.Since(start).Round(time.Millisecond).String())
				}
			}
		}()
	}
	// Status reports this node or another wrote while their follow-up (the station rows and
	// the OCPI publication) was still pending when it stopped are followed up now: they are
	// on record until followed (migration 0038), so this reads a few rows, not every EVSE.
	go func() {
		n, err := reg.reports.FollowLaggingStatuses(listenCtx)
		switch {
		case listenCtx.Err() != nil:
		case err != nil:
			log.Warn("finding the status reports left without their follow-up", "err", err)
		case n > 0:
			log.Info("following up the status reports owed on record (left by a stopped node, or in flight on another)", "stations", n)
		}
	}()
	// Reservations whose expiry passed end, and free their EVSEs, whether or not their station
	// reported it.
	go reg.reservations.RunExpiry(listenCtx, cfg.ReservationSweep, func(err error) { log.Warn("expiring reservations", "err", err) })
	// The logs that grow with the traffic are pruned to their retention. The first round
	// waits a little: a node starts into its stations' reconnect storm, and a backlog of due
	// rows (retention turned on, a node down for a while) can wait until that is over.
	for _, kept := range []struct {
		log       stationlogs.PrunedLog
		retention time.Duration
		pruned    prometheus.Counter
	}{
		{stationlogs.MessageLog, cfg.MessageLogRetention, m.messagesPruned},
		{stationlogs.StatusLog, cfg.StatusLogRetention, m.statusesPruned},
	} {
		if kept.retention <= 0 {
			continue
		}
		every := logPruneInterval(kept.retention)
		go reg.logStore.RunRetention(listenCtx, kept.log, kept.retention, min(every, time.Minute), every, nil,
			func(n int) {
				kept.pruned.Add(float64(n))
				if n > 0 {
					log.Info(kept.log.String()+" pruned", "rows", n, "retention", kept.retention.String())
				}
			},
			func(err error) { log.Warn("pruning the "+kept.log.String(), "err", err) })
	}
	return &app{cfg: cfg, log: log, db: db, api: newAPI(h), node: node, gateway: node.Server(), reports: reg.reports, stations: reg.stations,
		ocpiCommands: h.ocpiCommands, pusher: pusher, metrics: m, answers: answers, tls: tlsFiles, stopListening: stopListening, listening: listening}, nil
}

// Close stops the gateway and the node (when serve did not already) and closes the database.
func (a *app) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.closeNode(ctx)
	a.ocpiCommands.Close()
	a.stations.Close()
	a.stopListening()
	<-a.listening
	a.db.Close()
}

// closeNode leaves the cluster: it closes this node's OCPP gateway with its WebSocket
// connections (http.Server.Shutdown leaves hijacked connections open), flushes the gateway's
// batched writes and stops routing commands.
func (a *app) closeNode(ctx context.Context) {
	if err := a.node.Close(ctx); err != nil {
		a.log.Warn("closing the cluster node", "err", err)
	}
	a.reports.Close() // after the gateway: its last disconnects go through the batchers
}

// serve runs the API and the OCPP gateway until ctx ends, then shuts both down gracefully.
func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	apiLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on EVROAM_HTTP_ADDR: %w", err)
	}
	defer apiLn.Close()
	ocppLn, err := net.Listen("tcp", cfg.OCPPAddr)
	if err != nil {
		return fmt.Errorf("listen on EVROAM_OCPP_ADDR: %w", err)
	}
	defer ocppLn.Close()
	var ocppTLSLn net.Listener
	if cfg.OCPPTLSAddr != "" {
		if ocppTLSLn, err = net.Listen("tcp", cfg.OCPPTLSAddr); err != nil {
			return fmt.Errorf("listen on EVROAM_OCPP_TLS_ADDR: %w", err)
		}
		defer ocppTLSLn.Close()
	}
	if ocppTLSLn != nil && cfg.OCPPTLSPublicURL == "" {
		// The URL a 2.0.1 station is given when its security profile is raised.
		cfg.OCPPTLSPublicURL = "wss://" + publicHost(ocppTLSLn.Addr().String()) + "/ocpp"
	}
	if cfg.publicURLDefaulted {
		// The default names the address actually bound (":0" picks a port).
		cfg.OCPPPublicURL = "ws://" + publicHost(ocppLn.Addr().String()) + "/ocpp"
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()

	// Timeouts: a client that sends its headers or body too slowly, or keeps an idle
	// connection forever, cannot hold a connection and its goroutine. No write timeout: an
	// export streams for as long as it takes. The OCPP server bounds the handshake only: a
	// read deadline would outlive the upgrade on the hijacked connection and cut stations
	// off (the gateway has its own liveness: pings and OfflineAfter).
	apiSrv := &http.Server{Handler: a.api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	ocppSrv := &http.Server{Handler: a.gateway, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	fmt.Fprintf(stdout, "evroam %s is up\n  API:  http://%s/api/v1\n  OCPP: %s/{charge_station_id}\n",
		cfg.NodeID, publicHost(apiLn.Addr().String()), cfg.OCPPPublicURL)
	// The TLS listener serves the same gateway; the TLS layer verifies client certificates
	// against the station CAs, the gateway checks what each security profile needs.
	var ocppTLSSrv *http.Server
	if ocppTLSLn != nil {
		ocppTLSSrv = &http.Server{Handler: a.gateway, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			TLSConfig: a.tls.Config(), ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		fmt.Fprintf(stdout, "  OCPP over TLS: wss://%s/ocpp/{charge_station_id}\n", publicHost(ocppTLSLn.Addr().String()))
	}

	g, gctx := errgroup.WithContext(ctx)
	if cfg.DebugAddr != "" {
		// The profiler stays off the API's address: it must never be reachable by partners.
		dbg := &http.Server{Addr: cfg.DebugAddr, Handler: debugHandler(a.metrics.handler), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error { return ignoreClosed(dbg.ListenAndServe()) })
		g.Go(func() error { <-gctx.Done(); return dbg.Close() })
	}
	g.Go(func() error { return ignoreClosed(apiSrv.Serve(apiLn)) })
	g.Go(func() error { return ignoreClosed(ocppSrv.Serve(ocppLn)) })
	if ocppTLSSrv != nil {
		g.Go(func() error { return ignoreClosed(ocppTLSSrv.ServeTLS(ocppTLSLn, "", "")) })
	}
	g.Go(func() error { return a.pusher.Run(gctx) }) // stops when the shutdown starts
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		a.closeNode(sctx)
		errs := []error{apiSrv.Shutdown(sctx), ocppSrv.Shutdown(sctx)}
		if ocppTLSSrv != nil {
			errs = append(errs, ocppTLSSrv.Shutdown(sctx))
		}
		return errors.Join(errs...)
	})
	return g.Wait()
}

// proxyTLSConfig is the TLS configuration of wss:// operator links: the system's CAs, and
// those of caFile when set (nil: Go's defaults).
func proxyTLSConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("EVROAM_PROXY_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("EVROAM_PROXY_CA_FILE: no PEM certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// debugHandler serves Go's profiler (net/http/pprof) and the metrics for EVROAM_DEBUG_ADDR:
// an address that can be kept private while the API is public.
func debugHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// logPruneInterval is how often a log is pruned: a tenth of its retention, at least every
// hour and at most every second, so a row outlives its retention by a tenth at most (an hour
// with the defaults of 30 and 90 days).
func logPruneInterval(retention time.Duration) time.Duration {
	return min(max(retention/10, time.Second), time.Hour)
}

// pingInterval is EVROAM_OCPP_PING_INTERVAL as ocpp.Config takes it: 0 (no pings) is
// negative there, where 0 means the default.
func pingInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
