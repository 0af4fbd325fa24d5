package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/paging"
	"github.com/gin-gonic/gin"
)

// ParsePage reads offset, limit, date_from and date_to. A limit above MaxLimit is clamped;
// a value that cannot be read is a 400 naming the parameter.
func ParsePage(c *gin.Context) (paging.Page, error) {
	p := paging.Page{Limit: paging.DefaultLimit}
	var problems apperr.FieldErrors
	if s := c.Query("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			problems.Add("offset", "must be a whole number >= 0")
		}
		p.Offset = n
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			problems.Add("limit", "must be a whole number >= 1")
		}
		p.Limit = min(n, paging.MaxLimit)
	}
	if s := c.Query("after"); s != "" {
		cur, err := paging.ParseCursor(s)
		if err != nil {
			problems.Add("after", err.Error())
		}
		p.After = &cur
	}
	for _, d := range []struct {
		name string
		dst  **time.Time
	}{{"date_from", &p.DateFrom}, {"date_to", &p.DateTo}} {
		if s := c.Query(d.name); s != "" {
			t, err := ParseTime(s)
			if err != nil {
				problems.Add(d.name, "must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
				continue
			}
			*d.dst = &t
		}
	}
	if len(problems) > 0 {
		return p, fmt.Errorf("invalid query: %w", badQuery(problems))
	}
	return p, nil
}

// badQuery makes field errors of a query string a 400 (the request cannot be read) rather
// than a 422, while still listing every bad parameter.
func badQuery(fe apperr.FieldErrors) error { return queryErrors{fe} }

type queryErrors struct{ apperr.FieldErrors }

func (q queryErrors) Unwrap() []error { return []error{q.FieldErrors, apperr.BadRequest} }
func (q queryErrors) Error() string   { return q.FieldErrors.Error() }

// BadQuery returns an error (HTTP 400) naming a query parameter that cannot be read.
func BadQuery(param, msg string) error {
	return badQuery(apperr.FieldErrors{{Field: param, Message: msg}})
}

// ParseTime reads an RFC 3339 timestamp; a missing zone (allowed by OCPI) means UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// FormatTime writes t as UTC RFC 3339 with Z, the form of every timestamp we answer.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// RespondList writes a page of a list: the envelope plus X-Total-Count, X-Limit and, when more
// remain, Link rel="next": the same URL with every filter kept, the limit, and the position
// after this page's last item (after=…, which replaces offset, so that every page of a long
// sync costs the same).
func RespondList(c *gin.Context, p paging.Page, m paging.Meta, data any) {
	setListHeaders(c, p, m)
	Respond(c, http.StatusOK, data)
}

// setListHeaders sets a page's X-Total-Count, X-Limit and, when more follow, Link.
func setListHeaders(c *gin.Context, p paging.Page, m paging.Meta) {
	c.Header("X-Total-Count", strconv.Itoa(m.Total))
	c.Header("X-Limit", strconv.Itoa(paging.MaxLimit))
	if m.Next != nil {
		SetNextLink(c, "", map[string]string{"after": m.Next.String(), "limit": strconv.Itoa(p.Limit), "offset": ""})
	}
}

// RespondListEncoded is RespondList for items already JSON (each from Encode, e.g. kept in a
// cache): it writes them as the data array, copied once, into the envelope's buffer.
func RespondListEncoded(c *gin.Context, p paging.Page, m paging.Meta, items [][]byte) {
	setListHeaders(c, p, m)
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	respondEnvelope(c, http.StatusOK, n, func(b []byte) []byte {
		b = append(b, '[')
		for i, it := range items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, it...)
		}
		return append(b, ']')
	})
}

// SetNextLink sets the `Link: <…>; rel="next"` header of a paged answer (REST lists, logs
// and OCPI alike): the request's own URL under base, with the query parameters in set
// replaced (an empty value removes one) and every other one kept. An empty base is the
// request's (BaseURL).
func SetNextLink(c *gin.Context, base string, set map[string]string) {
	r := c.Request
	if base == "" {
		base = BaseURL(r)
	}
	q := r.URL.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	c.Header("Link", "<"+strings.TrimRight(base, "/")+r.URL.EscapedPath()+"?"+q.Encode()+`>; rel="next"`)
}

// BaseURL is the scheme and host a client reached us at: the scheme of X-Forwarded-Proto
// when a proxy in front of us set it, else https for TLS and http otherwise; the host of the
// request.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
	} else if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// BoolQuery reads a true/false query parameter (absent = false).
func BoolQuery(c *gin.Context, name string) (bool, error) {
	s := c.Query(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, BadQuery(name, "must be true or false")
	}
	return b, nil
}
