package main

import (
	"context"
	"net/http"
)

// ocppHandler serves the OCPP gateway; until the gateway lands it answers 404 to every path.
func (a *app) ocppHandler() http.Handler { return http.NotFoundHandler() }

// closeGateway closes the gateway's WebSocket connections, which http.Server.Shutdown leaves open.
func (a *app) closeGateway(ctx context.Context) {}
