package main

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/locations"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/ocpi"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/templates"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
)

//go:embed openapi.json
var openAPIDocument []byte

// apiDeps are the handlers the route table mounts.
type apiDeps struct {
	db        *sqlx.DB
	log       *slog.Logger
	networks  *networks.Store
	networksH *networks.Handler
	locations *locations.Handler
	templates *templates.Handler
	stations  *chargestations.Handler
	evses     *evse.Handler
	ocpi      *ocpi.Handler
	// For the OCPP gateway (cmd/evroam/ocppglue.go): its writes never change an etag.
	stationStore *chargestations.Store
	evseStore    *evse.Store
	logStore     *stationlogs.Store
	logs         *stationlogs.Handler
	commands     *commands.Handler // set once the cluster node exists (newApp)
}

func newDeps(db *sqlx.DB, nets *networks.Store, log *slog.Logger, ocpiCfg ocpi.Config) apiDeps {
	locStore := locations.NewStore(db)
	locStore.SetStationIndex(chargestations.StationIDsAt)
	tplStore := templates.NewStore(db)
	evseStore := evse.NewStore(db)
	evseH := evse.NewHandler(evseStore)
	csStore := chargestations.NewStore(db)
	logStore := stationlogs.NewStore(db)
	csSvc := chargestations.NewService(db, csStore, evseStore, locStore, tplStore, nil)
	return apiDeps{
		db:           db,
		log:          log,
		networks:     nets,
		networksH:    networks.NewHandler(nets),
		locations:    locations.NewHandler(locStore, evseH),
		templates:    templates.NewHandler(tplStore),
		stations:     chargestations.NewHandler(csSvc),
		evses:        evseH,
		stationStore: csStore,
		evseStore:    evseStore,
		logStore:     logStore,
		logs:         stationlogs.NewHandler(logStore),
		ocpi:         ocpi.NewHandler(ocpi.NewStore(db), ocpi.NewView(db), ocpiCfg),
	}
}

// newAPI builds the HTTP engine: the whole route table is here.
func newAPI(d apiDeps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.CustomRecovery(func(c *gin.Context, err any) {
		d.log.Error("panic in handler", "path", c.Request.URL.Path, "panic", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, web.Envelope{StatusCode: 3000, StatusMessage: "internal server error", Timestamp: time.Now().UTC().Format(time.RFC3339)})
	}))
	r.HandleMethodNotAllowed = true
	r.NoRoute(web.NotFoundHandler)
	r.NoMethod(web.MethodNotAllowedHandler)

	r.GET("/healthz", health(d.db))
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIDocument) })

	v1 := r.Group("/api/v1", web.RequireAPIKey(d.networks))
	d.networksH.Routes(v1)
	d.locations.Routes(v1)
	d.templates.Routes(v1)
	d.stations.Routes(v1)
	d.evses.Routes(v1)
	d.logs.Routes(v1)
	if d.commands != nil {
		d.commands.Routes(v1)
	}
	d.ocpi.AdminRoutes(v1)

	d.ocpi.Routes(r) // /ocpi/…: OCPI's own token authentication, not API keys
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
