package ocpp_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/testca"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
)

// tlsEnv is the gateway behind its own TLS listener (as EVROAM_OCPP_TLS_ADDR serves it) and
// behind a plain listener at the same time, with a server CA and a station CA made for the
// test.
type tlsEnv struct {
	reg        *ocpptest.Registry
	wss, ws    string
	server     *testca.CA
	stations   *testca.CA
	serverPair testca.Pair
}

func newTLSEnv(t *testing.T, trustLoopbackProxy bool) *tlsEnv {
	t.Helper()
	e := &tlsEnv{reg: ocpptest.New(), server: testca.New(t, "server CA"), stations: testca.New(t, "station CA")}
	e.serverPair = e.server.Server(t)
	// Every refusal below counts as a failed login: no blocks within the test.
	cfg := ocpp.Config{ValidateOwnAnswers: true, ClientCAs: e.stations.Pool,
		LoginFailuresPerIdentity: 1000, LoginFailuresPerAddress: 1000}
	if trustLoopbackProxy {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	srv := ocpp.NewServer(cfg, e.reg, testLogger())
	secure := httptest.NewUnstartedServer(srv)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{e.serverPair.TLS(t)},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: e.stations.Pool()}
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	secure.StartTLS()
	plain := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Close(ctx)
		secure.Close()
		plain.Close()
	})
	e.wss = "wss" + strings.TrimPrefix(secure.URL, "https") + "/ocpp"
	e.ws = "ws" + strings.TrimPrefix(plain.URL, "http") + "/ocpp"
	e.reg.AddStation("P1", 1, "password-one", true)
	e.reg.AddStation("P2", 2, "password-two", true)
	e.reg.AddStation("P3", 3, "", true)
	return e
}

func (e *tlsEnv) trustServer() *ocpppeer.TLSOptions {
	return &ocpppeer.TLSOptions{CAPEM: string(e.server.CertPEM)}
}

func withClientCert(o *ocpppeer.TLSOptions, p testca.Pair) *ocpppeer.TLSOptions {
	c := *o
	c.CertPEM, c.KeyPEM = string(p.CertPEM), string(p.KeyPEM)
	return &c
}

// clientCertHeader is the station's certificate as a proxy forwards it (RFC 9440).
func clientCertHeader(p testca.Pair) string {
	return ":" + base64.StdEncoding.EncodeToString(p.Cert.Raw) + ":"
}

type admission struct {
	name string
	opts ocpppeer.ConnectOptions
	// want is the HTTP status of the refusal, 0 for an accepted connection, -1 for a TLS
	// handshake the server ends (no HTTP answer at all).
	want int
}

// runAdmissions runs the cases one after the other (a second connection of an identity
// would replace the first); accepted ones with both protocols, refusals (decided before the
// protocol matters) with 1.6.
func runAdmissions(t *testing.T, tests []admission) {
	t.Helper()
	p := ocpppeer.Start(t) // one station process, connecting again for each case
	for _, test := range tests {
		protos := []string{"ocpp1.6", "ocpp2.0.1"}
		if test.want != 0 {
			protos = protos[:1]
		}
		for _, proto := range protos {
			t.Run(test.name+"/"+proto, func(t *testing.T) {
				opts := test.opts
				opts.Protocols = []string{proto}
				_, err := p.Connect(opts)
				switch {
				case test.want == 0:
					if err != nil {
						t.Fatalf("Connect: %v", err)
					}
					// a working session, strict both ways
					if _, err := p.Call("Heartbeat", nil); err != nil {
						t.Fatalf("Heartbeat: %v", err)
					}
					p.Close()
				case test.want < 0:
					pe, ok := err.(*ocpppeer.Error)
					if err == nil || (ok && pe.HTTPStatus != 0) {
						t.Fatalf("Connect error = %v, want the TLS handshake to fail", err)
					}
				default:
					pe, ok := err.(*ocpppeer.Error)
					if !ok || pe.HTTPStatus != test.want {
						t.Fatalf("Connect error = %v, want HTTP %d", err, test.want)
					}
				}
			})
		}
	}
}

// TestSecurityProfilesOverTLS: evroam's own TLS listener. Profile 1 works on either
// listener, profile 2 needs TLS, profile 3 needs a client certificate of the station CA
// whose CN is the station's identity, and no password.
func TestSecurityProfilesOverTLS(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t, false)
	trust := e.trustServer()
	runAdmissions(t, []admission{
		{"Profile1Plain", ocpppeer.ConnectOptions{URL: e.ws, Identity: "P1", Password: "password-one"}, 0},
		{"Profile1TLS", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P1", Password: "password-one", TLS: trust}, 0},
		{"Profile2TLS", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P2", Password: "password-two", TLS: trust}, 0},
		{"Profile2Plain", ocpppeer.ConnectOptions{URL: e.ws, Identity: "P2", Password: "password-two"}, 403},
		{"Profile2TLSWrongPassword", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P2", Password: "guess", TLS: trust}, 401},
		{"Profile3Cert", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P3", TLS: withClientCert(trust, e.stations.Client(t, "P3"))}, 0},
		{"Profile3NoCert", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P3", TLS: trust}, 401},
		{"Profile3PasswordInsteadOfCert", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P3", Password: "anything", TLS: trust}, 401},
		{"Profile3WrongCN", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P3", TLS: withClientCert(trust, e.stations.Client(t, "P2"))}, 401},
		{"Profile3UntrustedChain", ocpppeer.ConnectOptions{URL: e.wss, Identity: "P3",
			TLS: withClientCert(trust, testca.New(t, "rogue CA").Client(t, "P3"))}, -1},
		{"Profile3Plain", ocpppeer.ConnectOptions{URL: e.ws, Identity: "P3"}, 403},
	})
}

// TestSecurityProfilesBehindProxy: a TLS-terminating proxy in front of the plain listener.
// From a trusted proxy, X-Forwarded-Proto and Client-Cert are believed (a forwarded
// certificate is still verified here); from any other address they are ignored.
func TestSecurityProfilesBehindProxy(t *testing.T) {
	t.Parallel()
	trusted := newTLSEnv(t, true)
	untrusted := newTLSEnv(t, false)
	tlsHeaders := func(extra map[string]string) map[string]string {
		h := map[string]string{"X-Forwarded-Proto": "https"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	p3 := trusted.stations.Client(t, "P3")
	runAdmissions(t, []admission{
		{"TrustedProfile2", ocpppeer.ConnectOptions{URL: trusted.ws, Identity: "P2", Password: "password-two", Headers: tlsHeaders(nil)}, 0},
		{"TrustedProfile2NotTLS", ocpppeer.ConnectOptions{URL: trusted.ws, Identity: "P2", Password: "password-two",
			Headers: map[string]string{"X-Forwarded-Proto": "http"}}, 403},
		{"TrustedProfile3", ocpppeer.ConnectOptions{URL: trusted.ws, Identity: "P3",
			Headers: tlsHeaders(map[string]string{"Client-Cert": clientCertHeader(p3)})}, 0},
		{"TrustedProfile3WrongCN", ocpppeer.ConnectOptions{URL: trusted.ws, Identity: "P3",
			Headers: tlsHeaders(map[string]string{"Client-Cert": clientCertHeader(trusted.stations.Client(t, "P1"))})}, 401},
		{"TrustedProfile3ForeignCA", ocpppeer.ConnectOptions{URL: trusted.ws, Identity: "P3",
			Headers: tlsHeaders(map[string]string{"Client-Cert": clientCertHeader(testca.New(t, "rogue CA").Client(t, "P3"))})}, 401},
		{"TrustedProfile3Garbage", ocpppeer.ConnectOptions{URL: trusted.ws, Identity: "P3",
			Headers: tlsHeaders(map[string]string{"Client-Cert": ":bm90IGEgY2VydGlmaWNhdGU=:"})}, 401},
		{"ForgedProfile2", ocpppeer.ConnectOptions{URL: untrusted.ws, Identity: "P2", Password: "password-two", Headers: tlsHeaders(nil)}, 403},
		{"ForgedProfile3", ocpppeer.ConnectOptions{URL: untrusted.ws, Identity: "P3",
			Headers: tlsHeaders(map[string]string{"Client-Cert": clientCertHeader(untrusted.stations.Client(t, "P3"))})}, 403},
	})
}
