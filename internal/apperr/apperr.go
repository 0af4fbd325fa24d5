// Package apperr defines the kinds of error the registry reports and how each maps onto an
// HTTP status and an OCPI-style status code. Feature packages wrap a kind
// (fmt.Errorf("location %w", apperr.NotFound)) so that callers can test either the specific
// error or the generic kind with errors.Is, and the HTTP layer needs only this table.
package apperr

import (
	"errors"
	"net/http"
	"strings"
)

// Error kinds. Their text is what the client reads after the feature's own prefix.
var (
	// NotFound: the object does not exist, or belongs to a network the caller cannot see.
	NotFound = errors.New("not found")
	// Conflict: the write clashes with existing data (duplicate id, object still in use).
	Conflict = errors.New("conflict")
	// Invalid: the request is well-formed JSON but breaks the rules (HTTP 422).
	Invalid = errors.New("invalid")
	// BadRequest: the request cannot be read at all: malformed JSON or query (HTTP 400).
	BadRequest = errors.New("bad request")
	// TooLarge: the request body is larger than the endpoint takes (HTTP 413).
	TooLarge = errors.New("request body too large")
	// UnsupportedMediaType: the body is of a type the endpoint does not take (HTTP 415).
	UnsupportedMediaType = errors.New("unsupported media type")
	// Unauthorized: no credentials, or credentials that match nothing.
	Unauthorized = errors.New("unauthorized")
	// Forbidden: the caller is known but lacks the right (e.g. a non-admin key on admin routes).
	Forbidden = errors.New("forbidden")
	// PreconditionRequired: a PUT that must carry an etag did not.
	PreconditionRequired = errors.New("etag required")
	// PreconditionFailed: the etag given is not the object's current one.
	PreconditionFailed = errors.New("etag does not match the current version")
	// Unavailable: a dependency (the database) does not answer; retrying later may work.
	Unavailable = errors.New("service unavailable")
	// Timeout: a dependency (a charge station) did not answer in time.
	Timeout = errors.New("timeout")
	// BadGateway: a dependency answered with an error of its own.
	BadGateway = errors.New("bad gateway")
)

// OCPI-style status codes used in every response envelope.
const (
	CodeSuccess         = 1000
	CodeClientError     = 2000
	CodeInvalidParams   = 2001
	CodeUnknownLocation = 2003
	CodeServerError     = 3000
)

var table = []struct {
	kind   error
	status int
	code   int
}{
	{NotFound, http.StatusNotFound, CodeClientError},
	{Conflict, http.StatusConflict, CodeClientError},
	// BadRequest before Invalid: query errors are both (they list fields, yet the request
	// cannot be read), and they are a 400.
	{BadRequest, http.StatusBadRequest, CodeInvalidParams},
	{Invalid, http.StatusUnprocessableEntity, CodeInvalidParams},
	{TooLarge, http.StatusRequestEntityTooLarge, CodeClientError},
	{UnsupportedMediaType, http.StatusUnsupportedMediaType, CodeClientError},
	{Unauthorized, http.StatusUnauthorized, CodeClientError},
	{Forbidden, http.StatusForbidden, CodeClientError},
	{PreconditionRequired, http.StatusPreconditionRequired, CodeClientError},
	{PreconditionFailed, http.StatusPreconditionFailed, CodeClientError},
	{Unavailable, http.StatusServiceUnavailable, CodeServerError},
	{Timeout, http.StatusGatewayTimeout, CodeServerError},
	{BadGateway, http.StatusBadGateway, CodeServerError},
}

// Status returns the HTTP status for err: the first kind in the table that err wraps, else 500.
func Status(err error) int {
	for _, e := range table {
		if errors.Is(err, e.kind) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// Code returns the OCPI-style status code for err. A specific error can carry its own code
// (see WithCode), e.g. 2003 for an unknown location.
func Code(err error) int {
	var c interface{ StatusCode() int }
	if errors.As(err, &c) {
		return c.StatusCode()
	}
	for _, e := range table {
		if errors.Is(err, e.kind) {
			return e.code
		}
	}
	return CodeServerError
}

type coded struct {
	error
	code int
}

func (c coded) StatusCode() int { return c.code }
func (c coded) Unwrap() error   { return c.error }

// WithCode attaches an OCPI status code to err without changing its kind.
func WithCode(err error, code int) error { return coded{err, code} }

// Message is err's text for a client: without the trailing kind that wrapping adds
// ("malformed JSON: …: bad request" reads "malformed JSON: …").
func Message(err error) string {
	msg := err.Error()
	for _, e := range table {
		if errors.Is(err, e.kind) {
			if m := strings.TrimSuffix(msg, ": "+e.kind.Error()); m != "" {
				return m
			}
		}
	}
	return msg
}

// FieldError is one invalid field of a request: Field is the JSON path
// ("evses[0].connectors[1].standard"), Message says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// FieldErrors lists every invalid field of a request. It is an Invalid error (HTTP 422).
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, f := range fe {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid fields: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(fe, Invalid) true.
func (fe FieldErrors) Unwrap() error { return Invalid }

// Add appends a field error; handy for rule checks that collect every problem.
func (fe *FieldErrors) Add(field, message string) {
	*fe = append(*fe, FieldError{Field: field, Message: message})
}

// Err returns fe as an error, or nil when it is empty.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// JoinField joins JSON path parts: JoinField("evses[0]", "uid") == "evses[0].uid".
func JoinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}
