// Package paging holds the paging and sync window of a list request (contract §2), independent
// of HTTP, so that stores take it as a plain value. internal/web reads it from a query string.
package paging

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Page limits (contract §2).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is the paging and sync window of a list request.
type Page struct {
	Offset   int
	Limit    int
	DateFrom *time.Time // inclusive
	DateTo   *time.Time // exclusive
	// After, when set, starts the page after this row of the list's order instead of at
	// Offset: the next-page Link carries it, so that a client paging through a large list
	// costs the database the same on every page, and a row that changes while the client
	// pages (moving to the end of the order) is met again rather than skipped.
	After *Cursor
}

// Meta is what a list answer says besides its items.
type Meta struct {
	Total int     // every match of the filters (X-Total-Count)
	Next  *Cursor // where the next page starts; nil on the last page
}

// Cursor is a position in a list ordered by (last_updated, id): the sort key of the last row
// of a page.
type Cursor struct {
	Updated time.Time
	ID      string
}

// String is the cursor's opaque form for a URL: base64url of "<unix microseconds>:<id>".
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Updated.UnixMicro(), 10) + ":" + c.ID))
}

// ErrBadCursor is returned by ParseCursor for text that is not a cursor this service made.
var ErrBadCursor = errors.New("not a cursor of this list (follow the Link header)")

// ParseCursor reads a cursor from its String form.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	us, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{Updated: time.UnixMicro(n).UTC(), ID: id}, nil
}
