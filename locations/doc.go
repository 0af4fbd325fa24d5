// Package locations owns charging locations: the OCPI 2.2.1 Location fields plus the network
// that owns each one, its etag and timestamps. It stores them, enforces the etag rules of PUT
// and PATCH under a row lock, and serves /api/v1/locations. The EVSEs shown inside a location
// and the stations that block its deletion belong to other packages; they are reached through
// the small interfaces declared in handler.go, so this package imports none of them.
package locations
