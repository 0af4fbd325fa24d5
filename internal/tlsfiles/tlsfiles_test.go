package tlsfiles_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/testca"
	"github.com/evroam/evroam/internal/tlsfiles"
)

// serve runs a TLS listener with the server's config that completes handshakes.
func serve(t *testing.T, s *tlsfiles.Server) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// served returns the serial of the certificate the server presents.
func served(t *testing.T, addr string, roots *x509.CertPool, client *tls.Certificate) (string, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	if client != nil {
		// Sent whatever CAs the server names (Go's client would leave out a certificate of
		// a CA the server did not ask for, as a station with the wrong certificate may not).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return client, nil }
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// TLS 1.3 reports a refused client certificate on the first read.
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return "", err
		}
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

func TestReloadsReplacedFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "test CA")
	first := ca.Server(t)
	certFile, keyFile := first.WriteFiles(t, dir)
	s, err := tlsfiles.New(tlsfiles.Files{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	if got, err := served(t, addr, ca.Pool(), nil); err != nil || got != first.Cert.SerialNumber.String() {
		t.Fatalf("first certificate: serial %s, %v", got, err)
	}

	// A renewed certificate is served without a restart.
	second := ca.Server(t)
	second.WriteFiles(t, dir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := served(t, addr, ca.Pool(), nil)
		if err == nil && got == second.Cert.SerialNumber.String() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served: serial %s, %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A broken replacement (key of another certificate) keeps the last good one in use.
	third := ca.Server(t)
	testca.WriteFile(t, certFile, third.CertPEM)
	time.Sleep(1100 * time.Millisecond) // past the once-a-second check
	if got, err := served(t, addr, ca.Pool(), nil); err != nil || got != second.Cert.SerialNumber.String() {
		t.Fatalf("after a mismatched key file: serial %s, %v; want the previous certificate", got, err)
	}
}

func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "server CA")
	stations := testca.New(t, "station CA")
	certFile, keyFile := ca.Server(t).WriteFiles(t, dir)
	caFile := filepath.Join(dir, "clients.pem")
	testca.WriteFile(t, caFile, stations.CertPEM)
	s, err := tlsfiles.New(tlsfiles.Files{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	good := stations.Client(t, "CP-1").TLS(t)
	if _, err := served(t, addr, ca.Pool(), &good); err != nil {
		t.Errorf("client certificate of the station CA refused: %v", err)
	}
	if _, err := served(t, addr, ca.Pool(), nil); err != nil {
		t.Errorf("no client certificate refused (profiles 1 and 2 need none): %v", err)
	}
	foreign := testca.New(t, "other CA").Client(t, "CP-1").TLS(t)
	if _, err := served(t, addr, ca.Pool(), &foreign); err == nil {
		t.Error("client certificate of another CA accepted")
	}
}

func TestNewNamesTheBadFile(t *testing.T) {
	dir := t.TempDir()
	_, err := tlsfiles.New(tlsfiles.Files{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: filepath.Join(dir, "key.pem")},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("err = %v, want it to name missing.pem", err)
	}
}
