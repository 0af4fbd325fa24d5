package pgtest

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of the test database server. Cut makes the database
// unreachable (open connections are closed and new ones refused) and Restore brings it back,
// which is how tests show that evroam answers 503 while PostgreSQL is away and recovers alone.
type Proxy struct {
	ln     net.Listener
	target func() (net.Conn, error)

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// NewProxy starts a proxy to the server behind dbURL and returns the proxy and dbURL rewritten
// to go through it.
func NewProxy(tb testing.TB, dbURL string) (*Proxy, string) {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse %q: %v", dbURL, err)
	}
	var network, addr string
	q := u.Query()
	if h := q.Get("host"); strings.HasPrefix(h, "/") {
		port := q.Get("port")
		if port == "" {
			port = "5432"
		}
		network, addr = "unix", filepath.Join(h, ".s.PGSQL."+port)
	} else {
		network, addr = "tcp", u.Host
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgtest: proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, conns: map[net.Conn]bool{}, target: func() (net.Conn, error) { return net.Dial(network, addr) }}
	go p.serve()
	tb.Cleanup(func() { ln.Close(); p.Cut() })

	q.Del("host")
	q.Del("port")
	u.Host = ln.Addr().String()
	u.RawQuery = q.Encode()
	return p, u.String()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(client net.Conn) {
	server, err := p.target()
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(server, client); done <- struct{}{} }()
	go func() { io.Copy(client, server); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// Cut closes every proxied connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}
