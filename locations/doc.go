// Package locations owns charging locations: the OCPI 2.2.1 Location fields plus the network
// that owns each one, its etag and timestamps. Store knows the SQL; Service holds the rules
// (the etag rules of PUT and PATCH under a row lock, a location in use cannot be deleted) and
// opens the transactions; Handler serves /api/v1/locations. The stations that block a
// deletion are reached through StationIndex, handed to NewService (chargestations builds on
// this package, so it cannot be imported here); the EVSEs shown inside a location are read
// from package evse and rendered in its response form.
package locations
