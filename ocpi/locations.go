package ocpi

import (
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
)

// MaxLimit is the largest page of Locations we answer by default (X-Limit; Config can lower
// it); a larger limit is clamped. A full pull of 10,000 locations is then 10 pages.
const MaxLimit = 1000

// defaultLimit is the page size when a request names none.
const defaultLimit = 100

// pullPage is a page request of the Locations list.
type pullPage struct {
	paging.Page
	// After, when not 0, is the position (copy seq) after which the page starts: the cursor
	// our next-page Link carries next to its offset, used while the request's offset is the
	// one the cursor was made for.
	After int64
}

// parsePage reads date_from, date_to, offset, limit and our cursor (after). A value that
// cannot be read is an HTTP 400 with status 2001. Dates are compared at the precision of the
// published last_updated: milliseconds.
func (h *Handler) parsePage(c *gin.Context) (pullPage, error) {
	p := pullPage{Page: paging.Page{Limit: min(defaultLimit, h.maxLimit)}}
	if s := c.Query("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "offset must be a whole number >= 0")
		}
		p.Offset = n
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, ocpiError(http.StatusBadRequest, CodeInvalidParameters, "limit must be a whole number >= 1")
		}
		p.Limit = min(n, h.maxLimit)
	}
	for _, d := range []struct {
		name string
		dst  **time.Time
	}{{"date_from", &p.DateFrom}, {"date_to", &p.DateTo}} {
		s := c.Query(d.name)
		if s == "" {
			continue
		}
		t, err := web.ParseTime(s)
		if err != nil {
			return p, ocpiError(http.StatusBadRequest, CodeInvalidParameters, d.name+" must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z")
		}
		t = t.Truncate(time.Millisecond)
		*d.dst = &t
	}
	if offset, seq, ok := parseCursor(c.Query("after")); ok && offset == p.Offset {
		p.After = seq
	}
	return p, nil
}

// cursor is the opaque form of a next-page position: base64url of "<offset>.<seq>".
func cursor(offset int, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + "." + strconv.FormatInt(seq, 10)))
}

// parseCursor reads a cursor; ok is false for anything else (which is then ignored: the
// offset decides).
func parseCursor(s string) (offset int, seq int64, ok bool) {
	if s == "" {
		return 0, 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, 0, false
	}
	o, q, found := strings.Cut(string(b), ".")
	offset, err1 := strconv.Atoi(o)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if !found || err1 != nil || err2 != nil || offset < 0 || seq <= 0 {
		return 0, 0, false
	}
	return offset, seq, true
}

// listLocations is the pull: the copies in the caller's scope, in the order they were made
// (a change never moves a location, so a pull walking the pages while things change misses
// none and meets none twice). The next-page Link keeps the filters and carries, besides the
// offset OCPI defines, a cursor that lets the next page start where this one ended.
func (h *Handler) listLocations(c *gin.Context) error {
	p, err := h.parsePage(c)
	if err != nil {
		return err
	}
	page, err := h.view.List(c.Request.Context(), currentCaller(c).Partner.NetworkID, p.Page, p.After)
	if err != nil {
		return err
	}
	c.Header("X-Total-Count", strconv.Itoa(page.Total))
	c.Header("X-Limit", strconv.Itoa(h.maxLimit))
	// Whether more follow is asked of the list itself, not worked out from the total: when a
	// date_to window loses locations already pulled, the total shrinks but the cursor still
	// knows where the next page starts.
	// An offset so large that the next one would pass the largest int gets no Link (there is
	// no page after it to point at), rather than a wrapped, negative offset.
	if page.More && p.Offset <= math.MaxInt-len(page.Locations) {
		next := p.Offset + len(page.Locations)
		web.SetNextLink(c, h.baseURL(c.Request), map[string]string{
			"offset": strconv.Itoa(next), "limit": strconv.Itoa(p.Limit), "after": cursor(next, page.LastSeq)})
	}
	locs := page.Locations
	if locs == nil {
		locs = []Location{}
	}
	respond(c, http.StatusOK, locs)
	return nil
}

func (h *Handler) getLocation(c *gin.Context) error {
	l, err := h.view.Get(c.Request.Context(), currentCaller(c).Partner.NetworkID, c.Param("location_id"))
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, l)
	return nil
}

func (h *Handler) getEVSE(c *gin.Context) error {
	l, err := h.view.Get(c.Request.Context(), currentCaller(c).Partner.NetworkID, c.Param("location_id"))
	if err != nil {
		return err
	}
	e, ok := l.FindEVSE(c.Param("evse_uid"))
	if !ok {
		return errUnknownLocation
	}
	respond(c, http.StatusOK, e)
	return nil
}

func (h *Handler) getConnector(c *gin.Context) error {
	l, err := h.view.Get(c.Request.Context(), currentCaller(c).Partner.NetworkID, c.Param("location_id"))
	if err != nil {
		return err
	}
	e, ok := l.FindEVSE(c.Param("evse_uid"))
	if !ok {
		return errUnknownLocation
	}
	conn, ok := e.FindConnector(c.Param("connector_id"))
	if !ok {
		return errUnknownLocation
	}
	respond(c, http.StatusOK, conn)
	return nil
}

// listTariffs is the Tariffs pull: the tariffs of the caller's scope, in the order they were
// created (a change never moves a tariff; a deleted one is gone, and a pull that walks the
// pages by their Link meets every other tariff once). Paging, date filters and headers are
// the Locations pull's.
func (h *Handler) listTariffs(c *gin.Context) error {
	p, err := h.parsePage(c)
	if err != nil {
		return err
	}
	page, err := h.view.Tariffs(c.Request.Context(), currentCaller(c).Partner.NetworkID, p.Page, p.After)
	if err != nil {
		return err
	}
	c.Header("X-Total-Count", strconv.Itoa(page.Total))
	c.Header("X-Limit", strconv.Itoa(h.maxLimit))
	if page.More {
		next := p.Offset + len(page.Tariffs)
		web.SetNextLink(c, h.baseURL(c.Request), map[string]string{
			"offset": strconv.Itoa(next), "limit": strconv.Itoa(p.Limit), "after": cursor(next, page.LastSeq)})
	}
	respond(c, http.StatusOK, page.Tariffs)
	return nil
}
