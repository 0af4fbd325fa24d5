// Package stationca signs charge stations' certificate signing requests with a CA the
// operator configures (EVROAM_OCPP_CA_CERT_FILE, EVROAM_OCPP_CA_KEY_FILE): the OCPP
// certificate-signing use cases (1.6 security extension A02/A03, 2.0.1 A02/A03), where a
// station makes its own key pair and gets back a certificate it then presents as its TLS
// client certificate (security profile 3).
//
// The OCPP security whitepaper prefers that a CSMS forward CSRs to a separate CA; running
// the CA in evroam is for operators whose CA is theirs anyway. Which CSRs may be signed (the
// subject CN must be the station's identity) is decided by the gateway (package ocpp)
// before Sign is asked.
package stationca

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// DefaultValidity is how long a signed station certificate is valid when Load is given 0.
const DefaultValidity = 365 * 24 * time.Hour

// CA signs station certificates.
type CA struct {
	cert     *x509.Certificate
	chain    []byte // PEM of the CA's certificate file (the CA and any intermediates above it)
	key      crypto.Signer
	validity time.Duration
	now      func() time.Time
}

// Load reads the CA certificate (PEM, the signing CA first, then any intermediates) and its
// private key.
func Load(certFile, keyFile string, validity time.Duration) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("station CA %s, %s: %w", certFile, keyFile, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("station CA %s: %w", certFile, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("station CA %s: the certificate is not a CA allowed to sign certificates", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("station CA %s: the key cannot sign", keyFile)
	}
	var chain []byte
	for _, der := range pair.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if validity <= 0 {
		validity = DefaultValidity
	}
	return &CA{cert: cert, chain: chain, key: key, validity: validity, now: time.Now}, nil
}

// Sign issues a client certificate for the CSR's key and subject, valid for the CA's
// validity (never past the CA's own expiry). chainPEM is the new certificate followed by the
// CA's chain, as CertificateSigned carries it.
func (ca *CA) Sign(csr *x509.CertificateRequest) (chainPEM string, leaf *x509.Certificate, err error) {
	if err := csr.CheckSignature(); err != nil {
		return "", nil, fmt.Errorf("the CSR's signature does not verify: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", nil, err
	}
	now := ca.now()
	notAfter := now.Add(ca.validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !notAfter.After(now) {
		return "", nil, errors.New("the station CA has expired")
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      csr.Subject,
		NotBefore:    now.Add(-5 * time.Minute), // stations' clocks drift
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return "", nil, fmt.Errorf("sign: %w", err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(ca.chain), leaf, nil
}
