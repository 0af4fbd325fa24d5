package ocpp

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// What a connection's transport proves, for the security profiles (ocpp.md, security
// whitepaper): profile 1 is HTTP Basic on any connection; profile 2 is HTTP Basic over TLS;
// profile 3 is TLS with a client certificate whose subject CN is the station's identity.
//
// TLS either ends at evroam (EVROAM_OCPP_TLS_ADDR: the TLS layer has verified any client
// certificate against Config.ClientCAs) or at a proxy in front of it. A proxy is believed
// only when the connection comes from one of Config.TrustedProxies; it then says the
// station's connection was TLS with X-Forwarded-Proto (https or wss) and passes the
// station's certificate in the Client-Cert header of RFC 9440 (the DER certificate in
// base64 between colons), with intermediates in Client-Cert-Chain. evroam verifies a
// forwarded certificate against Config.ClientCAs itself. From any other address these
// headers are ignored, so a station cannot claim TLS or a certificate it does not have.

var (
	errPlainConnection = errors.New("the station's security profile needs TLS and the connection is plain")
	errCertNotTrusted  = errors.New("the client certificate does not chain to a configured station CA")
	errCertName        = errors.New("the client certificate's subject CN is not the station's identity")
)

// transport is what a request's connection proves.
type transport struct {
	secure bool
	// cert is the station's verified client certificate (nil: none); certErr says why a
	// certificate that was presented could not be used.
	cert    *x509.Certificate
	certErr error
}

func (s *Server) transportOf(r *http.Request) transport {
	if r.TLS != nil {
		t := transport{secure: true}
		if len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			t.cert = r.TLS.VerifiedChains[0][0]
		}
		return t
	}
	if !s.fromTrustedProxy(r) {
		return transport{}
	}
	t := transport{secure: lastValue(r.Header.Values("X-Forwarded-Proto")) == "https" ||
		lastValue(r.Header.Values("X-Forwarded-Proto")) == "wss"}
	if t.secure && r.Header.Get("Client-Cert") != "" {
		t.cert, t.certErr = s.verifyForwarded(r)
	}
	return t
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && s.trusted(addr)
}

// verifyForwarded parses the Client-Cert and Client-Cert-Chain headers (RFC 9440) and
// verifies the certificate for client authentication against the station CAs.
func (s *Server) verifyForwarded(r *http.Request) (*x509.Certificate, error) {
	cert, err := parseByteSequence(r.Header.Get("Client-Cert"))
	if err != nil {
		return nil, errCertNotTrusted
	}
	var roots *x509.CertPool
	if s.cfg.ClientCAs != nil {
		roots = s.cfg.ClientCAs()
	}
	if roots == nil {
		return nil, errCertNotTrusted
	}
	inter := x509.NewCertPool()
	for _, v := range r.Header.Values("Client-Cert-Chain") {
		for _, item := range strings.Split(v, ",") {
			if c, err := parseByteSequence(item); err == nil {
				inter.AddCert(c)
			}
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, errCertNotTrusted
	}
	return cert, nil
}

// parseByteSequence reads one RFC 8941 byte sequence (":base64:") holding a DER certificate.
func parseByteSequence(v string) (*x509.Certificate, error) {
	v = strings.TrimSpace(v)
	if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
		return nil, errors.New("not a byte sequence")
	}
	der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	parts := strings.Split(values[len(values)-1], ",")
	return strings.ToLower(strings.TrimSpace(parts[len(parts)-1]))
}
