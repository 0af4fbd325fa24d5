package ocpi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
)

// MaxLimit is the largest page of Locations we answer (X-Limit); a larger limit is clamped.
const MaxLimit = 100

// parsePage reads date_from, date_to, offset and limit. A value that cannot be read is an
// HTTP 400 with status 2001.
func parsePage(c *gin.Context) (paging.Page, error) {
	p := paging.Page{Limit: MaxLimit}
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
		p.Limit = min(n, MaxLimit)
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
		*d.dst = &t
	}
	return p, nil
}

func (h *Handler) listLocations(c *gin.Context) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	locs, total, err := h.view.List(c.Request.Context(), p)
	if err != nil {
		return err
	}
	c.Header("X-Total-Count", strconv.Itoa(total))
	c.Header("X-Limit", strconv.Itoa(MaxLimit))
	if next := p.Offset + p.Limit; next < total {
		web.SetNextLink(c, h.baseURL(c.Request), map[string]string{"offset": strconv.Itoa(next), "limit": strconv.Itoa(p.Limit)})
	}
	if locs == nil {
		locs = []Location{}
	}
	respond(c, http.StatusOK, locs)
	return nil
}

func (h *Handler) getLocation(c *gin.Context) error {
	l, err := h.view.Get(c.Request.Context(), c.Param("location_id"))
	if err != nil {
		return err
	}
	respond(c, http.StatusOK, l)
	return nil
}

func (h *Handler) getEVSE(c *gin.Context) error {
	l, err := h.view.Get(c.Request.Context(), c.Param("location_id"))
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
	l, err := h.view.Get(c.Request.Context(), c.Param("location_id"))
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
