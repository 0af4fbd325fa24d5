package web

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// StatusClientClosedRequest is the status a request is logged and counted with when its
// client went away before the answer (nginx's 499). Nothing is written for it: there is
// nobody to read it.
const StatusClientClosedRequest = 499

// maxRequestIDLen bounds an X-Request-ID taken from a request, so that a client cannot fill
// the log with it.
const maxRequestIDLen = 200

type requestKey struct{}

// requestInfo is what RequestLog puts in a request's context.
type requestInfo struct {
	id  string
	log *slog.Logger
}

// RequestID returns the id RequestLog gave the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// logger is the logger RequestLog was given, so that a request's error lines go where its
// access line goes; slog's default outside RequestLog.
func logger(ctx context.Context) *slog.Logger {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok && ri.log != nil {
		return ri.log
	}
	return slog.Default()
}

// Logger is the logger of the request ctx belongs to (see logger), for handlers that log an
// error they cannot answer with (a stream already under way).
func Logger(ctx context.Context) *slog.Logger { return logger(ctx) }

// Completed is a finished request as RequestLog hands it to its observer.
type Completed struct {
	Method string
	// Route is the route pattern (gin's FullPath, e.g. /api/v1/chargestations/:id), never
	// the path with its ids; "" when no route matched.
	Route    string
	Status   int // StatusClientClosedRequest when the client went away first
	Duration time.Duration
}

// RequestLog is the HTTP engine's first middleware. It gives every request an id: the
// X-Request-ID it came with when that is 1 to 200 printable ASCII characters, else a new
// UUID. The id goes on the response's X-Request-ID and into the request's context
// (RequestID), where WriteError's log line and OCPI's X-Request-ID find it. When the request
// is done it writes one line at Info to log (method, route, path, status, duration, bytes
// written, client address, request id) and calls observe, when not nil (metrics).
//
// The client address is the peer's (gin's RemoteIP), not X-Forwarded-For: behind a proxy it
// is the proxy's.
func RequestLog(log *slog.Logger, observe func(Completed)) gin.HandlerFunc {
	if log == nil {
		log = slog.Default()
	}
	return func(c *gin.Context) {
		start := time.Now()
		id := c.GetHeader("X-Request-ID")
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Header("X-Request-ID", id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestKey{}, &requestInfo{id: id, log: log}))

		c.Next()

		done := Completed{Method: c.Request.Method, Route: c.FullPath(), Status: c.Writer.Status(), Duration: time.Since(start)}
		msg := "request"
		if done.Status == StatusClientClosedRequest {
			msg = "request cancelled: the client went away"
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, msg,
			slog.String("method", done.Method),
			slog.String("route", done.Route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", done.Status),
			slog.Duration("duration", done.Duration),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client", c.RemoteIP()),
			slog.String("request_id", id))
		if observe != nil {
			observe(done)
		}
	}
}

// validRequestID reports whether a client's X-Request-ID may be kept as the request's id:
// 1 to 200 printable ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// AbortIfClientGone ends a request whose client went away without answering it, and reports
// whether it did. status is the answer the caller was about to write for err. The client is
// gone when the request's context was cancelled (net/http cancels it when the connection
// closes); the request then counts as cancelled when err is a server error (a query or a
// charger command cut short by the cancellation fails as one) or a cancellation itself, but
// not when it is the request's own fault (a 4xx). It records StatusClientClosedRequest for
// the access log and the metrics, logs err at Debug and writes no body. WriteError calls it
// first; any other place that writes errors should too (OCPI's does).
func AbortIfClientGone(c *gin.Context, status int, err error) bool {
	ctx := c.Request.Context()
	if !errors.Is(ctx.Err(), context.Canceled) || (status < 500 && !errors.Is(err, context.Canceled)) {
		return false
	}
	logger(ctx).DebugContext(ctx, "request cancelled by the client", "method", c.Request.Method,
		"path", c.Request.URL.Path, "request_id", RequestID(ctx), "err", err)
	c.Status(StatusClientClosedRequest)
	c.Abort()
	return true
}
