package ocpp

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"time"
)

// Station certificates (ocpp.md §4.6; 1.6 security extension and 2.0.1 A02/A03).
//
// A station makes a key pair and sends SignCertificate{csr}. The gateway answers Accepted
// when it can sign: a CSRSigner is configured, the CSR parses and its signature verifies,
// its subject CN is the station's identity (the security whitepaper's rule, and the name
// profile 3 checks at login), and, for 2.0.1, it asks for a ChargingStationCertificate (V2G
// certificates come from the V2G PKI, not from evroam). Otherwise Rejected. Once the answer
// is on the wire the gateway sends CertificateSigned{certificateChain} with the signed chain,
// and tells the registry (CertificateRecorder) what it signed and what the station answered,
// so that the certificate's expiry is on record per station.

// CSRSigner signs a station's certificate signing request; *stationca.CA implements it.
type CSRSigner interface {
	Sign(csr *x509.CertificateRequest) (chainPEM string, leaf *x509.Certificate, err error)
}

// CertificateRecorder is an optional extension of Registry: a registry that implements it
// is told of every certificate the gateway signed for a station, with the station's answer
// to CertificateSigned.
type CertificateRecorder interface {
	RecordCertificate(ctx context.Context, identity string, c SignedCertificate) error
}

// SignedCertificate is a certificate the gateway signed for a station.
type SignedCertificate struct {
	SerialNumber string // hex, lower case
	Subject      string
	Issuer       string
	NotBefore    time.Time
	NotAfter     time.Time
	// Status is the station's answer to CertificateSigned: Accepted or Rejected, or
	// NoAnswer when none came (the error is logged).
	Status string
	At     time.Time
}

// signedChain is a chain waiting to be sent once the SignCertificate answer is written.
type signedChain struct {
	pem  string
	leaf *x509.Certificate
}

var (
	errNoSigner        = errors.New("no station CA is configured")
	errCSRUnreadable   = errors.New("the CSR is not a PEM certificate request")
	errCSRName         = errors.New("the CSR's subject CN is not the station's identity")
	errCertificateType = errors.New("only a ChargingStationCertificate is signed here")
)

func signCertificate(_ context.Context, c *conn, payload json.RawMessage) (any, error) {
	var req struct {
		CSR             string `json:"csr"`
		CertificateType string `json:"certificateType"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	chain, err := c.sign(req.CSR, req.CertificateType)
	if err != nil {
		c.s.log.Warn("ocpp: SignCertificate rejected", "identity", c.identity, "reason", err.Error())
		return map[string]string{"status": "Rejected"}, nil
	}
	c.pendingChain.Store(chain)
	return map[string]string{"status": "Accepted"}, nil
}

func (c *conn) sign(csrPEM, certificateType string) (*signedChain, error) {
	if c.s.cfg.CSRSigner == nil {
		return nil, errNoSigner
	}
	if certificateType != "" && certificateType != "ChargingStationCertificate" {
		return nil, errCertificateType
	}
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, errCSRUnreadable
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, errCSRUnreadable
	}
	if csr.Subject.CommonName != c.identity {
		return nil, errCSRName
	}
	chain, leaf, err := c.s.cfg.CSRSigner.Sign(csr)
	if err != nil {
		return nil, err
	}
	return &signedChain{pem: chain, leaf: leaf}, nil
}

// sendCertificateSigned sends the chain signed for the station's SignCertificate and records
// the outcome.
func (c *conn) sendCertificateSigned(chain *signedChain) {
	payload := map[string]string{"certificateChain": chain.pem}
	if c.proto == ProtocolOCPP201 {
		payload["certificateType"] = "ChargingStationCertificate"
	}
	rec := SignedCertificate{SerialNumber: chain.leaf.SerialNumber.Text(16), Subject: chain.leaf.Subject.String(),
		Issuer: chain.leaf.Issuer.String(), NotBefore: chain.leaf.NotBefore.UTC(), NotAfter: chain.leaf.NotAfter.UTC(), Status: "NoAnswer"}
	raw, err := c.s.Call(c.s.ctx, c.identity, "CertificateSigned", payload)
	if err != nil {
		c.s.log.Warn("ocpp: CertificateSigned", "identity", c.identity, "err", err)
	} else {
		var ans struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(raw, &ans) == nil && ans.Status != "" {
			rec.Status = ans.Status
		}
	}
	rec.At = c.s.cfg.Now()
	if r, ok := c.s.reg.(CertificateRecorder); ok {
		ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.RegistryTimeout)
		defer cancel()
		if err := r.RecordCertificate(ctx, c.identity, rec); err != nil {
			c.s.log.Error("ocpp: record a signed certificate", "identity", c.identity, "err", err)
		}
	}
}
