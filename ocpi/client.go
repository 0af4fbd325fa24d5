package ocpi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// client calls other parties' OCPI endpoints.
type client struct {
	http *http.Client
}

// callError is a failed call to a partner: no answer, an HTTP error, or an OCPI error code.
type callError struct {
	Method, URL string
	HTTP        int // 0 when there was no HTTP answer
	Code        int // the OCPI status_code, 0 when there was none
	Msg         string
}

func (e *callError) Error() string {
	switch {
	case e.HTTP == 0:
		return fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Msg)
	case e.Code != 0:
		return fmt.Sprintf("%s %s: HTTP %d, OCPI status %d: %s", e.Method, e.URL, e.HTTP, e.Code, e.Msg)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.HTTP, e.Msg)
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

// maxAnswer bounds what we read of a partner's answer.
const maxAnswer = 16 << 20

// do sends body (nil for none) with token and decodes the answer's data into out (nil to
// ignore it). headers are extra header name, value pairs. It fails unless the answer is
// HTTP 2xx with an OCPI 1xxx status code.
func (c *client) do(ctx context.Context, method, url, token string, body, out any, headers ...string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return &callError{Method: method, URL: url, Msg: err.Error()}
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
		return &callError{Method: method, URL: url, Msg: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Msg: "read answer: " + err.Error()}
	}
	var env struct {
		Data          json.RawMessage `json:"data"`
		StatusCode    int             `json:"status_code"`
		StatusMessage string          `json:"status_message"`
	}
	decErr := json.Unmarshal(raw, &env)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := env.StatusMessage
		if msg == "" {
			msg = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		}
		return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Code: env.StatusCode, Msg: msg}
	}
	if decErr != nil {
		return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Msg: "answer is not an OCPI response: " + decErr.Error()}
	}
	if env.StatusCode < 1000 || env.StatusCode > 1999 {
		return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Code: env.StatusCode, Msg: env.StatusMessage}
	}
	if out != nil {
		if len(env.Data) == 0 || string(env.Data) == "null" {
			return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Code: env.StatusCode, Msg: "answer has no data"}
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			return &callError{Method: method, URL: url, HTTP: resp.StatusCode, Code: env.StatusCode, Msg: "unexpected data: " + err.Error()}
		}
	}
	return nil
}
