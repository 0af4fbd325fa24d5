package ocpi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Outbound bounds the calls evroam makes to partners: the versions and credentials of a
// registration (either way) and the pushes. A partner URL is whatever a TOKEN_A holder or an
// admin key gives, so these calls are treated as requests to an untrusted address: they have
// timeouts, their answers a size limit, and by default they cannot reach the addresses of
// evroam's own network.
type Outbound struct {
	// AllowPrivateAddresses lets partner URLs reach loopback, private, link-local, unspecified
	// and other non-public addresses (EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES). When false such an
	// address is refused as the connection is made, on the address the name resolved to, so
	// neither a name that resolves to an internal address nor one that changes its answer
	// between two look-ups (DNS rebinding) nor a redirect gets through.
	AllowPrivateAddresses bool
	// ConnectTimeout bounds the TCP connect and the TLS handshake; default 5 s.
	ConnectTimeout time.Duration
	// Timeout bounds a whole call, the answer's body included; default 15 s.
	Timeout time.Duration
	// MaxAnswerBytes is the largest answer body accepted; a larger one is an error, never
	// cut and parsed. Default 1 MiB: OCPI answers to what evroam sends are small (versions,
	// endpoints, credentials, an empty push acknowledgement).
	MaxAnswerBytes int64
}

// Defaults of Outbound.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultCallTimeout    = 15 * time.Second
	DefaultMaxAnswerBytes = 1 << 20
)

// maxRedirects is how many redirects a call follows (each one's address is checked anew).
const maxRedirects = 3

func (o Outbound) withDefaults() Outbound {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultCallTimeout
	}
	if o.MaxAnswerBytes <= 0 {
		o.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	return o
}

// newClient returns the client that makes the calls o describes.
func (o Outbound) newClient() *client {
	o = o.withDefaults()
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivateAddresses {
		dialer.Control = refuseNonPublic
	}
	tr := &http.Transport{
		// No proxy from the environment: a proxy resolves the partner's name itself, and the
		// address check above would only ever see the proxy's address.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    o.ConnectTimeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return errTooManyRedirects
			}
			return nil
		},
	}
	return &client{http: hc, maxAnswer: o.MaxAnswerBytes}
}

var (
	errNonPublicAddress = errors.New("address is not public")
	errTooManyRedirects = errors.New("too many redirects")
)

// nonPublic are the ranges refused besides those netip classifies (loopback, private,
// link-local, multicast, unspecified).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, internal in many clouds
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and the broadcast address
	netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
}

// nat64 carries an IPv4 address in its last 32 bits; that address decides.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicAddress reports whether a is an address evroam may call when private addresses are
// not allowed.
func publicAddress(a netip.Addr) bool {
	a = a.Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		return publicAddress(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// refuseNonPublic is the dialer's Control: it runs after name resolution, for each address
// tried, before the connection is made.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !publicAddress(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNonPublicAddress, address)
	}
	return nil
}

// transportProblem says in our own words why a call got no HTTP answer. It never quotes the
// error's text: TLS errors carry the names of the partner's certificate, and the reason is
// all a caller needs.
func transportProblem(ctx context.Context, err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, errNonPublicAddress):
		return "the partner URL leads to a private, loopback, link-local or otherwise non-public address, which evroam does not call (EVROAM_OCPI_ALLOW_PRIVATE_ADDRESSES)"
	case errors.Is(err, errTooManyRedirects):
		return fmt.Sprintf("more than %d redirects", maxRedirects)
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr),
		errors.As(err, &invalidCert), errors.As(err, &recordErr):
		return "TLS handshake failed (certificate not trusted, or not TLS)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	}
	return "the connection failed"
}
