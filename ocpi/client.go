package ocpi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// client calls other parties' OCPI endpoints (see Outbound for its limits).
type client struct {
	http      *http.Client
	maxAnswer int64
}

// callError is a failed call to a partner: no answer, an HTTP error, or an OCPI error code.
//
// Its text is ours alone: it names the call, the HTTP status, the OCPI status code and what
// was wrong with the answer, never the answer's bytes. It reaches the partner that made us
// call (the status_message of a credentials answer) and admins (last_error), and a partner
// URL can be any address, so quoting the answer would let a TOKEN_A holder read what evroam
// can reach. The partner's own status_message is kept apart, for the log only.
type callError struct {
	Method, URL string
	HTTP        int    // 0 when there was no HTTP answer
	Code        int    // the OCPI status_code, 0 when there was none
	Problem     string // what went wrong, in our words; "" when HTTP and Code say it all
	// PartnerMessage is the status_message the partner answered (shortened): for the log,
	// never for an answer or a stored error.
	PartnerMessage string
}

func (e *callError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	if e.HTTP != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.HTTP)
		if e.Code != 0 {
			fmt.Fprintf(&b, ", OCPI status %d", e.Code)
		}
		if e.Problem != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Problem)
	return b.String()
}

// permanent reports whether retrying the same call cannot help: the partner understood the
// request and refused it.
func (e *callError) permanent() bool {
	switch {
	case e.HTTP == 0, e.HTTP >= 500, e.HTTP == http.StatusRequestTimeout, e.HTTP == http.StatusTooManyRequests:
		return false
	case e.HTTP >= 400:
		return true
	}
	return e.Code >= 2000 && e.Code < 3000
}

// unknownObject reports whether the partner answered that it does not know the object
// addressed: HTTP 404, or OCPI 2003 (unknown location) or 2001 (invalid or missing
// parameters, which receivers answer for an EVSE or location they do not have).
func (e *callError) unknownObject() bool {
	return e.HTTP == http.StatusNotFound || e.Code == CodeUnknownLocation || e.Code == CodeInvalidParameters
}

// partnerMessage is the status_message a failed call got, for the log ("" when none).
func partnerMessage(err error) string {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.PartnerMessage
	}
	return ""
}

// maxPartnerMessage is how much of a partner's status_message the log keeps.
const maxPartnerMessage = 200

// ocpiStatusCode reports whether n is a status code OCPI defines a class for (1xxx success,
// 2xxx client, 3xxx server, 4xxx hub errors). Any other number is not OCPI, and is not shown.
func ocpiStatusCode(n int) bool { return n >= 1000 && n <= 4999 }

// do sends body (nil for none) with token and decodes the answer's data into out (nil to
// ignore it). headers are extra header name, value pairs. It fails unless the answer is
// HTTP 2xx with an OCPI 1xxx status code, within the size limit.
func (c *client) do(ctx context.Context, method, url, token string, body, out any, headers ...string) error {
	_, err := c.call(ctx, method, url, token, body, out, headers...)
	return err
}

// call is do, returning the answer's headers too (a pull's Link, a CDR POST's Location).
func (c *client) call(ctx context.Context, method, url, token string, body, out any, headers ...string) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, &callError{Method: method, URL: url, Problem: "not a usable URL"}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", encodeToken(token))
	id := uuid.NewString()
	req.Header.Set("X-Request-ID", id)
	req.Header.Set("X-Correlation-ID", id)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &callError{Method: method, URL: url, Problem: transportProblem(ctx, err)}
	}
	defer resp.Body.Close()
	fail := func(code int, problem string) *callError {
		return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Code: code, Problem: problem}
	}
	tooLarge := fmt.Sprintf("the answer is larger than %d bytes", c.maxAnswer)
	if resp.ContentLength > c.maxAnswer {
		return nil, fail(0, tooLarge)
	}
	// One byte more than the limit tells an answer at the limit from a larger one, which is
	// an error: a cut answer must never be parsed as if it were whole.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxAnswer+1))
	if err != nil {
		return nil, fail(0, "reading the answer failed: "+transportProblem(ctx, err))
	}
	if int64(len(raw)) > c.maxAnswer {
		return nil, fail(0, tooLarge)
	}
	var env struct {
		Data          json.RawMessage `json:"data"`
		StatusCode    *int            `json:"status_code"`
		StatusMessage string          `json:"status_message"`
	}
	isOCPI := json.Unmarshal(raw, &env) == nil && env.StatusCode != nil && ocpiStatusCode(*env.StatusCode)
	code := 0
	if isOCPI {
		code = *env.StatusCode
	}
	var ce *callError
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		ce = fail(code, "")
	case !isOCPI:
		ce = fail(0, "the answer is not an OCPI response")
	case code < 1000 || code > 1999:
		ce = fail(code, "")
	case out == nil:
	case len(env.Data) == 0 || string(env.Data) == "null":
		ce = fail(code, "the answer has no data")
	default:
		if err := json.Unmarshal(env.Data, out); err != nil {
			ce = fail(code, "the answer's data is not what OCPI 2.2.1 defines for this call")
		}
	}
	if ce == nil {
		return resp.Header, nil
	}
	if isOCPI && env.StatusMessage != "" {
		msg := strings.ToValidUTF8(env.StatusMessage, "?")
		if len(msg) > maxPartnerMessage {
			msg = msg[:maxPartnerMessage]
			for !utf8.ValidString(msg) {
				msg = msg[:len(msg)-1]
			}
		}
		ce.PartnerMessage = msg
		slog.DebugContext(ctx, "OCPI partner call failed", "err", ce, "partner_message", msg)
	}
	return resp.Header, ce
}
