// Package commandstest has fakes for tests of code built on package commands: a
// map-backed commands.Stations and a web.Authenticator with fixed keys. It is a test
// helper: production code must not import it.
package commandstest

import (
	"context"
	"fmt"
	"sync"

	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/google/uuid"
)

// Stations is a map-backed commands.Stations.
type Stations struct {
	mu sync.Mutex
	m  map[string]station
}

type station struct {
	network  uuid.UUID
	protocol string
}

// Add registers identity in network, speaking protocol (ocpp.ProtocolOCPP16 or
// ocpp.ProtocolOCPP201; "" for a station that never connected).
func (s *Stations) Add(identity string, network uuid.UUID, protocol string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]station{}
	}
	s.m[identity] = station{network, protocol}
}

// Station implements commands.Stations.
func (s *Stations) Station(_ context.Context, p auth.Principal, identity string) (commands.Station, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[identity]
	if !ok || !p.Sees(st.network) {
		return commands.Station{}, fmt.Errorf("charge station %s %w", identity, apperr.NotFound)
	}
	return commands.Station{Identity: identity, ProtocolVersion: st.protocol}, nil
}

var _ commands.Stations = (*Stations)(nil)

// Authenticator is a web.Authenticator: each key sees exactly its network.
type Authenticator map[string]uuid.UUID

// Authenticate implements web.Authenticator.
func (a Authenticator) Authenticate(_ context.Context, key string) (auth.Principal, error) {
	n, ok := a[key]
	if !ok {
		return auth.Principal{}, fmt.Errorf("unknown API key: %w", apperr.Unauthorized)
	}
	return auth.Principal{NetworkID: n, Networks: []uuid.UUID{n}}, nil
}

// DataTransfers is a commands.DataTransfers over the exchanges an ocpptest.Registry
// recorded: ids count from 1 in recording order, and the newest comes first.
type DataTransfers struct {
	Registry *ocpptest.Registry
}

// ListDataTransfers implements commands.DataTransfers.
func (d DataTransfers) ListDataTransfers(_ context.Context, _ auth.Principal, identity string, limit int) ([]commands.DataTransfer, error) {
	var out []commands.DataTransfer
	d.Registry.Do(func(r *ocpptest.Registry) {
		for i := len(r.DataTransfers) - 1; i >= 0 && len(out) < limit; i-- {
			if r.DataTransfers[i].Identity == identity {
				out = append(out, commands.DataTransfer{ID: int64(i + 1), DataTransfer: r.DataTransfers[i]})
			}
		}
	})
	return out, nil
}

var _ commands.DataTransfers = DataTransfers{}
