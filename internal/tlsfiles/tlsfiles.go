// Package tlsfiles serves TLS from certificate files that operators replace while the
// server runs (a renewed certificate, a CA bundle with a new station CA): the files are
// read at start, where a problem stops the start, and read again on a handshake after they
// changed, so that no restart is needed.
//
// A change is noticed by the files' modification time and size, looked at no more than
// once a second. A replacement that cannot be loaded (a key that does not match, a file
// half written) is logged and the previous certificates stay in use until the files load
// again.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of a TLS server.
type Files struct {
	// CertFile is the server certificate chain, KeyFile its private key.
	CertFile, KeyFile string
	// ClientCAFile, when set, holds the CA certificates that sign client certificates.
	// Clients may then present a certificate; one that does not chain to these CAs fails the
	// handshake. Whether a certificate is required is the application's decision (an OCPP
	// station needs one for security profile 3 only).
	ClientCAFile string
}

// Server holds the loaded files and reloads them when they change.
type Server struct {
	files Files
	log   *slog.Logger
	now   func() time.Time

	mu        sync.Mutex
	checked   time.Time
	stamps    []stamp
	cert      *tls.Certificate
	clientCAs *x509.CertPool
}

type stamp struct {
	mod  time.Time
	size int64
}

// New loads the files; an error names the file that could not be used.
func New(files Files, log *slog.Logger) (*Server, error) {
	if (files.CertFile == "") != (files.KeyFile == "") || (files.CertFile == "" && files.ClientCAFile == "") {
		return nil, errors.New("tlsfiles: a certificate file with its key file, or a client CA file, is needed")
	}
	s := &Server{files: files, log: log, now: time.Now}
	stamps, err := s.stat()
	if err != nil {
		return nil, err
	}
	if err := s.load(stamps); err != nil {
		return nil, err
	}
	s.checked = s.now()
	return s, nil
}

// Serves reports whether a server certificate is configured (without one, only the client
// CAs are kept, for certificates a TLS-terminating proxy forwards).
func (s *Server) Serves() bool { return s.files.CertFile != "" }

// Config returns the TLS configuration of a server; every handshake uses the files as they
// are then. It needs a server certificate (Serves).
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, cas := s.current()
			c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}}
			if cas != nil {
				c.ClientAuth = tls.VerifyClientCertIfGiven
				c.ClientCAs = cas
			}
			return c, nil
		},
	}
}

// ClientCAs returns the CAs of client certificates as currently loaded (nil without a
// ClientCAFile).
func (s *Server) ClientCAs() *x509.CertPool {
	_, cas := s.current()
	return cas
}

func (s *Server) current() (*tls.Certificate, *x509.CertPool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.checked) >= time.Second {
		s.checked = now
		if stamps, err := s.stat(); err != nil {
			s.log.Error("tls: certificate files", "err", err)
		} else if changed(stamps, s.stamps) {
			if err := s.load(stamps); err != nil {
				s.log.Error("tls: reloading certificate files; the previous ones stay in use", "err", err)
			} else {
				s.log.Info("tls: certificate files reloaded", "cert", s.files.CertFile)
			}
		}
	}
	return s.cert, s.clientCAs
}

func (s *Server) paths() []string {
	var p []string
	if s.files.CertFile != "" {
		p = append(p, s.files.CertFile, s.files.KeyFile)
	}
	if s.files.ClientCAFile != "" {
		p = append(p, s.files.ClientCAFile)
	}
	return p
}

func (s *Server) stat() ([]stamp, error) {
	var out []stamp
	for _, p := range s.paths() {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("tlsfiles: %w", err)
		}
		out = append(out, stamp{fi.ModTime(), fi.Size()})
	}
	return out, nil
}

func changed(a, b []stamp) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		if !a[i].mod.Equal(b[i].mod) || a[i].size != b[i].size {
			return true
		}
	}
	return false
}

// load reads the files; the caller holds mu (or has not shared s yet). A failed load keeps
// the stamps unchanged, so the next check tries again.
func (s *Server) load(stamps []stamp) error {
	var cert *tls.Certificate
	if s.files.CertFile != "" {
		c, err := tls.LoadX509KeyPair(s.files.CertFile, s.files.KeyFile)
		if err != nil {
			return fmt.Errorf("tlsfiles: %s, %s: %w", s.files.CertFile, s.files.KeyFile, err)
		}
		cert = &c
	}
	var cas *x509.CertPool
	if s.files.ClientCAFile != "" {
		pem, err := os.ReadFile(s.files.ClientCAFile)
		if err != nil {
			return fmt.Errorf("tlsfiles: %w", err)
		}
		cas = x509.NewCertPool()
		if !cas.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tlsfiles: %s holds no PEM certificate", s.files.ClientCAFile)
		}
	}
	s.cert, s.clientCAs, s.stamps = cert, cas, stamps
	return nil
}
