// Package auth holds who is calling the API, independent of HTTP: a Principal is what an API
// key resolves to. Stores and services take the plain values they need from it (the networks
// a caller may see); the HTTP layer (internal/web) puts it on the request.
package auth

import (
	"slices"

	"github.com/google/uuid"
)

// Principal is who is calling: the API key's network and every network below it.
type Principal struct {
	KeyID     uuid.UUID
	NetworkID uuid.UUID
	Networks  []uuid.UUID // NetworkID and its descendants: what the key may see
	Admin     bool
}

// Sees reports whether the principal may see objects of network id.
func (p Principal) Sees(id uuid.UUID) bool { return slices.Contains(p.Networks, id) }
