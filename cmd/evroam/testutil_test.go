package main

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/ocpi"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// routeTable serves the route table (newAPI) over a fresh database with a root network, and
// returns the server, an admin API key of the root network and the network store.
func routeTable(t *testing.T, ocpiCfg ocpi.Config) (*httptest.Server, string, *networks.Store, networks.Network) {
	t.Helper()
	db := pgtest.New(t)
	nets := networks.NewStore(db)
	root, err := nets.EnsureRoot(t.Context(), "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := nets.CreateKey(t.Context(), root.ID, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newAPI(newHandlers(newRegistry(db, nets, &secret.Passwords{}, nil, slog.New(slog.DiscardHandler)), slog.New(slog.DiscardHandler), ocpiCfg)))
	t.Cleanup(srv.Close)
	return srv, admin, nets, root
}
