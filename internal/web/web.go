// Package web holds the HTTP conventions every registry endpoint shares (contract §2): the
// response envelope, the one place errors are written, strict request binding that names every
// bad field, list pagination headers, etag checks and API-key authentication. Feature packages
// write handlers as func(*gin.Context) error and wrap them with Handle.
package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/gin-gonic/gin"
	gojson "github.com/goccy/go-json"
)

// Envelope is the body of every registry response, success or error.
type Envelope struct {
	Data          any                `json:"data"`
	StatusCode    int                `json:"status_code"`
	StatusMessage string             `json:"status_message"`
	Timestamp     string             `json:"timestamp"`
	Errors        apperr.FieldErrors `json:"errors,omitempty"`
	// ErrorsOmitted counts the bad fields left out of Errors: an answer names at most
	// MaxErrors, so a body with 100,000 bad items gets a small answer, not a huge one.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
}

// MaxErrors is how many bad fields an error answer names at most.
const MaxErrors = 100

// Now is the clock used for envelope timestamps.
var Now = time.Now

func timestamp() string { return Now().UTC().Format(time.RFC3339) }

// Respond writes data in the success envelope with the given HTTP status.
func Respond(c *gin.Context, status int, data any) {
	b, err := Encode(data)
	if err != nil {
		WriteError(c, err)
		return
	}
	RespondEncoded(c, status, b)
}

// Encode is the JSON of data as Respond writes it, for answers kept ready-made (a cache).
// goccy/go-json writes what encoding/json writes (HTML characters escaped too) at a fraction of
// the CPU; every read answer goes through here.
func Encode(data any) ([]byte, error) {
	b, err := gojson.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	return b, nil
}

// RespondEncoded writes the success envelope around data, already JSON (from Encode). With the
// length known the answer goes out in one write, not chunked.
func RespondEncoded(c *gin.Context, status int, data []byte) {
	respondEnvelope(c, status, len(data), func(b []byte) []byte { return append(b, data...) })
}

// respondEnvelope writes the success envelope around the n bytes of JSON that appendData
// appends, built in one buffer.
func respondEnvelope(c *gin.Context, status, n int, appendData func([]byte) []byte) {
	head := `{"data":`
	tail := `,"status_code":` + strconv.Itoa(apperr.CodeSuccess) + `,"status_message":"Success","timestamp":"` + timestamp() + `"}`
	size := len(head) + n + len(tail)
	buf, _ := envelopes.Get().(*[]byte)
	if buf == nil || cap(*buf) < size {
		b := make([]byte, 0, size)
		buf = &b
	}
	b := append(appendData(append((*buf)[:0], head...)), tail...)
	c.Header("Content-Length", strconv.Itoa(len(b)))
	c.Data(status, "application/json; charset=utf-8", b) // written out before it returns
	if cap(b) <= maxPooledEnvelope {
		*buf = b[:0]
		envelopes.Put(buf)
	}
}

// envelopes keeps the buffers answers are built in, for the next answer. A list page is about
// 100 KB; in a fresh buffer the copy into it cost a sixth of evroam's CPU in the list
// scenario of the bench (the page faults of touching new memory), many times the copy itself.
var envelopes sync.Pool // of *[]byte

// maxPooledEnvelope is the largest buffer envelopes keeps: a page of 1,000 stations (a sync)
// is about 1 MB, and rarer larger answers are not worth keeping.
const maxPooledEnvelope = 2 << 20

// NoContent answers 204 (a DELETE that worked).
func NoContent(c *gin.Context) { c.Status(http.StatusNoContent) }

// Handle adapts a handler that returns an error into a gin handler; a non-nil error is
// written with WriteError.
func Handle(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			WriteError(c, err)
		}
	}
}

// WriteError writes err as an error envelope: the HTTP status and OCPI code of its kind, and
// for validation errors the list of bad fields. A 5xx never shows internals: its message is
// generic and the full error goes to the log with the request id. A request whose client went
// away is not answered and not logged as an error (AbortIfClientGone).
func WriteError(c *gin.Context, err error) {
	status := apperr.Status(err)
	if AbortIfClientGone(c, status, err) {
		return
	}
	env := Envelope{StatusCode: apperr.Code(err), StatusMessage: apperr.Message(err), Timestamp: timestamp()}
	var fe apperr.FieldErrors
	if errors.As(err, &fe) {
		env.Errors = fe
		env.StatusMessage = "invalid or missing parameters"
		if len(fe) > MaxErrors {
			env.Errors, env.ErrorsOmitted = fe[:MaxErrors], len(fe)-MaxErrors
			env.StatusMessage = fmt.Sprintf("invalid or missing parameters (the first %d of %d bad fields are named)", MaxErrors, len(fe))
		}
	}
	if status >= 500 {
		ctx := c.Request.Context()
		logger(ctx).ErrorContext(ctx, "request failed",
			"method", c.Request.Method, "path", c.Request.URL.Path,
			"request_id", RequestID(ctx), "status", status, "err", err)
		switch status {
		case http.StatusServiceUnavailable:
			env.StatusMessage = "service unavailable: the database does not answer, try again later"
		case http.StatusGatewayTimeout, http.StatusBadGateway:
			// these carry the station's own words, not ours: keep the message
		default:
			env.StatusMessage = "internal server error"
		}
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Token realm="evroam"`)
	}
	c.AbortWithStatusJSON(status, env)
}

// NotFoundHandler answers unknown routes in the envelope.
func NotFoundHandler(c *gin.Context) {
	WriteError(c, errors.Join(errors.New("no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path), apperr.NotFound))
}

// MethodNotAllowedHandler answers a known path with an unsupported method in the envelope.
func MethodNotAllowedHandler(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusMethodNotAllowed, Envelope{StatusCode: apperr.CodeClientError,
		StatusMessage: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path, Timestamp: timestamp()})
}

// FieldErrorJSON is how a field error appears in a response body (for clients and tests).
type FieldErrorJSON = apperr.FieldError
