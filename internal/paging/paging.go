// Package paging holds the paging and sync window of a list request (contract §2), independent
// of HTTP, so that stores take it as a plain value. internal/web reads it from a query string.
package paging

import "time"

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
}
