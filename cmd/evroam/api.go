package main

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/cluster"
	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/firmware"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/locations"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/ocpi"
	"github.com/evroam/evroam/proxy"
	"github.com/evroam/evroam/reservations"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/stationreports"
	"github.com/evroam/evroam/tariffs"
	"github.com/evroam/evroam/templates"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
)

//go:embed openapi.json
var openAPIDocument []byte

// registry is the registry side of evroam: the stores and services that the REST API, the
// OCPI interface and the OCPP gateway share. Built once per process.
type registry struct {
	db        *sqlx.DB
	networks  *networks.Service
	locations *locations.Service
	templates *templates.Service
	tariffs   *tariffs.Service
	stations  *chargestations.Service
	evses     *evse.Service
	tokens    *tokens.Service
	// authorizer decides on the id tokens stations present (the gateway's Authorize).
	authorizer *tokens.Authorizer
	// Stores read directly by a handler or the gateway glue.
	stationStore *chargestations.Store
	evseStore    *evse.Store
	logStore     *stationlogs.Store
	sessions     *sessions.Service
	// reports records what stations report over OCPP (the gateway's writes).
	reports *stationreports.Service
	// Files: firmware images, and the signed URLs stations fetch files at (signed with
	// EVROAM_SECRET_KEY; without it no URL is made or accepted).
	fileStore *files.Store
	signer    *files.Signer
	firmware  *firmware.Service
	// reservations keeps the reservations stations accepted (EVSEs read RESERVED).
	reservations *reservations.Service
	// operators: the OCPP proxy's operators of each station (package proxy).
	operators *proxy.Service
}

// newRegistry builds the registry. passwords makes and checks station passwords (with
// EVROAM_SECRET_KEY when configured).
//
// answers caches rendered station answers (nil: none); every writer of stations tells it what
// changed.
func newRegistry(db *sqlx.DB, nets *networks.Store, passwords *secret.Passwords, answers *chargestations.AnswerCache, log *slog.Logger) registry {
	locStore := locations.NewStore(db)
	tplStore := templates.NewStore(db)
	evseStore := evse.NewStore(db)
	csStore := chargestations.NewStore(db)
	logStore := stationlogs.NewStore(db)
	tariffSvc := tariffs.NewService(db, tariffs.NewStore(db), nil)
	tokStore := tokens.NewStore(db)
	authorizer := tokens.NewAuthorizer(tokStore, nil)
	sessStore := sessions.NewStore(db)
	fileStore := files.NewStore(db)
	stations := chargestations.NewService(db, csStore, evseStore, locStore, tplStore, tariffSvc, passwords, answers, nil)
	stations.GroupCreates(log) // closed by the app after the API stopped
	return registry{
		db:           db,
		networks:     networks.NewService(nets, nil),
		locations:    locations.NewService(db, locStore, csStore, nil),
		templates:    templates.NewService(db, tplStore, nil),
		tariffs:      tariffSvc,
		stations:     stations,
		evses:        evse.NewService(db, evseStore, tariffSvc, answers.Forget, nil),
		tokens:       tokens.NewService(db, tokStore, authorizer.ForgetNetworks, nil),
		authorizer:   authorizer,
		stationStore: csStore,
		evseStore:    evseStore,
		logStore:     logStore,
		sessions:     sessions.NewService(db, sessStore, nil),
		reports:      stationreports.NewService(db, csStore, evseStore, logStore, sessStore, passwords, answers.Forget, nil, log),
		fileStore:    fileStore,
		signer:       files.NewSigner(passwords.Key, nil),
		firmware:     firmware.NewService(db, firmware.NewStore(db), fileStore, nil),
		reservations: reservations.NewService(db, reservations.NewStore(db), answers.Forget, nil),
		operators:    proxy.NewService(db, proxy.NewStore(db), passwords.Key, nil),
	}
}

// handlers are what the route table mounts.
type handlers struct {
	db        *sqlx.DB // for /healthz
	log       *slog.Logger
	auth      web.Authenticator
	networks  *networks.Handler
	locations *locations.Handler
	templates *templates.Handler
	tariffs   *tariffs.Handler
	stations  *chargestations.Handler
	evses     *evse.Handler
	logs      *stationlogs.Handler
	tokens    *tokens.Handler
	sessions  *sessions.Handler
	firmware  *firmware.Handler
	files     *files.Handler
	operators *proxy.Handler
	ocpi      *ocpi.Handler
	commands  *commands.Handler // nil without a gateway (route-table tests)
	// ocpiCommands is the OCPI Commands receiver: nil without a gateway (route-table tests).
	ocpiCommands *ocpi.Commands
	metrics      *metrics     // nil without a gateway (route-table tests): no /metrics
	nodeCalls    http.Handler // commands other nodes forward (cluster.Node.CallHandler); nil in route-table tests
}

func newHandlers(reg registry, log *slog.Logger, ocpiCfg ocpi.Config) handlers {
	return handlers{
		db:        reg.db,
		log:       log,
		auth:      reg.networks,
		networks:  networks.NewHandler(reg.networks),
		locations: locations.NewHandler(reg.locations, reg.evseStore),
		templates: templates.NewHandler(reg.templates),
		tariffs:   tariffs.NewHandler(reg.tariffs),
		stations:  chargestations.NewHandler(reg.stations),
		evses:     evse.NewHandler(reg.evses),
		logs:      stationlogs.NewHandler(reg.logStore),
		tokens:    tokens.NewHandler(reg.tokens),
		sessions:  sessions.NewHandler(reg.sessions),
		firmware:  firmware.NewHandler(reg.firmware, firmware.Config{}),
		files:     files.NewHandler(reg.db, reg.fileStore, reg.signer),
		operators: proxy.NewHandler(reg.operators),
		ocpi:      ocpi.NewHandler(ocpi.NewStore(reg.db), ocpi.NewView(reg.db), ocpiCfg),
	}
}

// newAPI builds the HTTP engine: the whole route table is here.
func newAPI(d handlers) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var observe func(web.Completed)
	if d.metrics != nil {
		observe = d.metrics.observeHTTP
	}
	// First: the access line and the request id cover every request, a panicking one too.
	r.Use(web.RequestLog(d.log, observe))
	r.Use(gin.CustomRecovery(func(c *gin.Context, err any) {
		ctx := c.Request.Context()
		d.log.ErrorContext(ctx, "panic in handler", "path", c.Request.URL.Path, "request_id", web.RequestID(ctx), "panic", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, web.Envelope{StatusCode: 3000, StatusMessage: "internal server error", Timestamp: time.Now().UTC().Format(time.RFC3339)})
	}))
	r.HandleMethodNotAllowed = true
	r.NoRoute(web.NotFoundHandler)
	r.NoMethod(web.MethodNotAllowedHandler)

	r.GET("/healthz", health(d.db))
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIDocument) })
	if d.metrics != nil {
		// Without an API key, as Prometheus scrapes; an operator whose API is public
		// restricts /metrics at the proxy, or scrapes EVROAM_DEBUG_ADDR instead.
		r.GET("/metrics", gin.WrapH(d.metrics.handler))
	}
	if d.nodeCalls != nil {
		// Signed by the calling node (EVROAM_SECRET_KEY), not by an API key.
		r.POST(cluster.CallPath, gin.WrapH(d.nodeCalls))
	}

	v1 := r.Group("/api/v1", web.RequireAPIKey(d.auth), web.StorableInput)
	d.networks.Routes(v1)
	d.locations.Routes(v1)
	d.templates.Routes(v1)
	d.tariffs.Routes(v1)
	d.stations.Routes(v1)
	d.evses.Routes(v1)
	d.logs.Routes(v1)
	d.tokens.Routes(v1)
	d.sessions.Routes(v1)
	d.firmware.Routes(v1)
	d.files.Routes(v1)
	d.operators.Routes(v1)
	if d.commands != nil {
		d.commands.Routes(v1)
	}
	d.ocpi.AdminRoutes(v1)

	d.ocpi.Routes(r) // /ocpi/…: OCPI's own token authentication, not API keys
	if d.ocpiCommands != nil {
		d.ocpiCommands.Routes(r)
	}
	// /files/…: what stations download (firmware) and upload (log files), without an API
	// key: each URL carries its own expiring signature.
	d.files.PublicRoutes(r.Group("", web.StorableInput))
	return r
}

// health answers 200 when the process is up and the database answers, 503 otherwise.
func health(db *sqlx.DB) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "down"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok", "database": "up"})
	}
}
