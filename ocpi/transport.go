package ocpi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// OCPI 2.2.1 status codes (status_codes.asciidoc).
const (
	CodeSuccess             = 1000
	CodeClientError         = 2000
	CodeInvalidParameters   = 2001
	CodeNotEnoughInfo       = 2002
	CodeUnknownLocation     = 2003
	CodeServerError         = 3000
	CodeUnableToUseAPI      = 3001
	CodeUnsupportedVersion  = 3002
	CodeNoMatchingEndpoints = 3003
)

// envelope is the body of every OCPI response. data is left out where OCPI has nothing to
// return (errors, DELETE).
type envelope struct {
	Data          any    `json:"data,omitempty"`
	StatusCode    int    `json:"status_code"`
	StatusMessage string `json:"status_message,omitempty"`
	Timestamp     string `json:"timestamp"`
}

// Error is an OCPI error: the HTTP status and the OCPI status code it is answered with.
type Error struct {
	HTTP    int
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

func ocpiError(httpStatus, code int, msg string) *Error {
	return &Error{HTTP: httpStatus, Code: code, Message: msg}
}

// nowFunc is the clock of envelope timestamps.
var nowFunc = time.Now

func respond(c *gin.Context, httpStatus int, data any) {
	c.JSON(httpStatus, envelope{Data: data, StatusCode: CodeSuccess, StatusMessage: "Success", Timestamp: schema.FormatDateTime(nowFunc())})
}

// errUnavailable is the answer while the database does not answer: HTTP 503 with 3000, as
// the REST API answers, so that a partner retries later instead of reporting a fault.
var errUnavailable = ocpiError(http.StatusServiceUnavailable, CodeServerError, "service unavailable: try again later")

// writeError answers err: an *Error as it says; an error of kind apperr.Unavailable (the
// database cannot be reached) as HTTP 503 with 3000; anything else as HTTP 500 with 3000.
// Only an *Error's message reaches the partner: the details of the others go to the log.
func writeError(c *gin.Context, err error) {
	var oe *Error
	status := apperr.Status(err)
	if errors.As(err, &oe) {
		status = oe.HTTP
	} else if status != http.StatusServiceUnavailable {
		status = http.StatusInternalServerError
	}
	if web.AbortIfClientGone(c, status, err) {
		return
	}
	if oe == nil {
		slog.ErrorContext(c.Request.Context(), "OCPI request failed", "method", c.Request.Method,
			"path", c.Request.URL.Path, "request_id", c.Writer.Header().Get("X-Request-ID"), "status", status, "err", err)
		oe = ocpiError(http.StatusInternalServerError, CodeServerError, "internal server error")
		if status == http.StatusServiceUnavailable {
			oe = errUnavailable
		}
	}
	if oe.HTTP == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Token realm="ocpi"`)
	}
	c.AbortWithStatusJSON(oe.HTTP, envelope{StatusCode: oe.Code, StatusMessage: oe.Message, Timestamp: schema.FormatDateTime(nowFunc())})
}

// handle adapts an OCPI handler that returns an error.
func handle(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			writeError(c, err)
		}
	}
}

// Routing headers (transport_and_format: message routing). A response carries the request's
// "from" as its "to" and the other way round.
var routingSwaps = [][2]string{
	{"OCPI-from-country-code", "OCPI-to-country-code"},
	{"OCPI-from-party-id", "OCPI-to-party-id"},
}

// messageHeaders echoes X-Request-ID and X-Correlation-ID (making them up when a request has
// none, so that every response carries both) and swaps the routing headers. The X-Request-ID
// is the one the access log has (web.RequestLog) when the engine runs it.
func messageHeaders(c *gin.Context) {
	for _, h := range []string{"X-Request-ID", "X-Correlation-ID"} {
		v := c.GetHeader(h)
		if id := web.RequestID(c.Request.Context()); h == "X-Request-ID" && id != "" {
			v = id
		}
		if v == "" {
			v = uuid.NewString()
		}
		c.Header(h, v)
	}
	for _, pair := range routingSwaps {
		from, to := c.GetHeader(pair[0]), c.GetHeader(pair[1])
		if from != "" {
			c.Header(pair[1], from)
		}
		if to != "" {
			c.Header(pair[0], to)
		}
	}
	c.Next()
}

const callerKey = "ocpi.caller"

// authenticate resolves the Authorization token to a partner. Missing or unknown tokens are
// refused with HTTP 401. configuration is true for the versions and credentials modules, the
// only ones a TOKEN_A (and a partner still registering) may use.
func (h *Handler) authenticate(configuration bool) gin.HandlerFunc {
	return authenticateWith(h.store, configuration)
}

// authenticateWith is Handler.authenticate over store (the Commands module's routes use it too).
func authenticateWith(store *Store, configuration bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		cands := tokenCandidates(c.GetHeader("Authorization"))
		if len(cands) == 0 {
			writeError(c, ocpiError(http.StatusUnauthorized, CodeClientError, "missing Authorization header: send Authorization: Token <base64 of your credentials token>"))
			return
		}
		who, ok, err := store.Authenticate(c.Request.Context(), cands)
		if err != nil {
			writeError(c, err)
			return
		}
		if !ok {
			writeError(c, ocpiError(http.StatusUnauthorized, CodeClientError, "unknown credentials token"))
			return
		}
		if !configuration && (who.TokenA || who.Partner.State != StateRegistered) {
			writeError(c, ocpiError(http.StatusUnauthorized, CodeClientError, "this token may only be used for the versions and credentials modules: register first"))
			return
		}
		c.Set(callerKey, who)
		c.Next()
	}
}

func currentCaller(c *gin.Context) caller { return c.MustGet(callerKey).(caller) }
