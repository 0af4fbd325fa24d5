package commands

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
)

// certificates: the CA certificates installed on a station (OCPP 1.6 security extension and
// 2.0.1): POST installs one (InstallCertificate), GET lists them
// (GetInstalledCertificateIds), DELETE removes one (DeleteCertificate).
//
// Certificate types are 2.0.1's names; the 1.6 security extension knows two of them, under
// another name for one: CSMSRootCertificate is 1.6's CentralSystemRootCertificate (either
// name is accepted for both versions), ManufacturerRootCertificate is the same.
// V2GRootCertificate and MORootCertificate exist in 2.0.1 only.

var certificateTypes16 = map[string]string{
	"CSMSRootCertificate":          "CentralSystemRootCertificate",
	"CentralSystemRootCertificate": "CentralSystemRootCertificate",
	"ManufacturerRootCertificate":  "ManufacturerRootCertificate",
}

var certificateTypes201 = map[string]string{
	"CSMSRootCertificate":          "CSMSRootCertificate",
	"CentralSystemRootCertificate": "CSMSRootCertificate",
	"ManufacturerRootCertificate":  "ManufacturerRootCertificate",
	"V2GRootCertificate":           "V2GRootCertificate",
	"MORootCertificate":            "MORootCertificate",
}

func checkCertificateType(fe *apperr.FieldErrors, field, t, proto string, required bool) {
	switch {
	case t == "" && required:
		fe.Add(field, "is required for an OCPP 1.6 station")
	case t == "":
	case proto == ocpp.ProtocolOCPP16 && certificateTypes16[t] == "":
		if certificateTypes201[t] != "" {
			fe.Add(field, t+" needs an OCPP 2.0.1 station")
		} else {
			fe.Add(field, "must be CSMSRootCertificate, ManufacturerRootCertificate, V2GRootCertificate or MORootCertificate")
		}
	case certificateTypes201[t] == "":
		fe.Add(field, "must be CSMSRootCertificate, ManufacturerRootCertificate, V2GRootCertificate or MORootCertificate")
	}
}

func wireCertificateType(proto, t string) string {
	if proto == ocpp.ProtocolOCPP201 {
		return certificateTypes201[t]
	}
	return certificateTypes16[t]
}

// Certificates records the CA certificates installed on stations through the API, so that
// their expiry is on record per station. cmd/evroam implements it over the station logs.
type Certificates interface {
	RecordInstalled(ctx context.Context, identity string, c InstalledCertificate) error
}

// InstalledCertificate is a CA certificate sent with InstallCertificate, and the station's
// answer.
type InstalledCertificate struct {
	CertificateType string // as sent: 1.6 or 2.0.1 name
	SerialNumber    string // hex
	Subject         string
	Issuer          string
	NotBefore       time.Time
	NotAfter        time.Time
	Status          string // Accepted, Rejected, Failed
}

// ---- install

type installCertificateRequest struct {
	CertificateType string `json:"certificateType" validate:"required"`
	Certificate     string `json:"certificate" validate:"required,max=5500"`
	proto           string
	parsed          *x509.Certificate
}

func (r *installCertificateRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	r.proto = proto
	if r.CertificateType != "" {
		checkCertificateType(&fe, "certificateType", r.CertificateType, proto, true)
	}
	if r.Certificate != "" {
		block, rest := pem.Decode([]byte(r.Certificate))
		if block != nil && block.Type == "CERTIFICATE" {
			r.parsed, _ = x509.ParseCertificate(block.Bytes)
		}
		switch {
		case r.parsed == nil:
			fe.Add("certificate", "must be one X.509 certificate in PEM")
		case hasPEM(rest):
			fe.Add("certificate", "must be one certificate, not a chain")
		case !r.parsed.IsCA:
			fe.Add("certificate", "must be a CA certificate (a root the station is to trust)")
		}
	}
	return fe
}

func hasPEM(b []byte) bool { block, _ := pem.Decode(b); return block != nil }

type installCertificate struct {
	CertificateType string `json:"certificateType"`
	Certificate     string `json:"certificate"`
}

type installCertificateResponse struct {
	ChargeBoxID     string `json:"chargeBoxId"`
	CertificateType string `json:"certificateType"`
	Subject         string `json:"subject"`
	NotAfter        string `json:"notAfter"`
	Status          string `json:"status"`
	Message         string `json:"message"`
}

func installCall(r *installCertificateRequest) outgoing[ocpp.StatusResponse] {
	return statusCall("InstallCertificate", installCertificate{CertificateType: wireCertificateType(r.proto, r.CertificateType), Certificate: r.Certificate})
}

var installCertificateCommand = command[installCertificateRequest, ocpp.StatusResponse, installCertificateResponse]{
	path:    "certificates",
	ocpp16:  installCall,
	ocpp201: installCall,
	after: func(ctx context.Context, h *Handler, st Station, r *installCertificateRequest, a ocpp.StatusResponse) error {
		if h.Certificates == nil {
			return errors.New("commands: no Certificates configured")
		}
		c := r.parsed
		return h.Certificates.RecordInstalled(ctx, st.Identity, InstalledCertificate{
			CertificateType: wireCertificateType(r.proto, r.CertificateType), SerialNumber: c.SerialNumber.Text(16),
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
			Status: a.Status})
	},
	respond: func(st Station, r *installCertificateRequest, a ocpp.StatusResponse) installCertificateResponse {
		return installCertificateResponse{ChargeBoxID: st.Identity, CertificateType: wireCertificateType(r.proto, r.CertificateType),
			Subject: r.parsed.Subject.String(), NotAfter: ocpp.FormatTime(r.parsed.NotAfter), Status: a.Status,
			Message: withInfo("Certificate installation "+verb(a.Status), a.StatusInfo)}
	},
}

// ---- list

type listCertificatesRequest struct {
	CertificateType string `json:"certificateType"`
	proto           string
}

func (r *listCertificatesRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	r.proto = proto
	checkCertificateType(&fe, "certificateType", r.CertificateType, proto, proto == ocpp.ProtocolOCPP16)
	return fe
}

// CertificateHashData identifies an installed certificate, as both versions name it.
type CertificateHashData struct {
	HashAlgorithm  string `json:"hashAlgorithm"`
	IssuerNameHash string `json:"issuerNameHash"`
	IssuerKeyHash  string `json:"issuerKeyHash"`
	SerialNumber   string `json:"serialNumber"`
}

type installedCertificate struct {
	CertificateType string `json:"certificateType"`
	CertificateHashData
}

type installedCertificates struct {
	Status       string                 `json:"status"`
	Certificates []installedCertificate `json:"certificates"`
	StatusInfo   *ocpp.StatusInfo       `json:"-"`
}

type listCertificatesResponse struct {
	ChargeBoxID  string                 `json:"chargeBoxId"`
	Status       string                 `json:"status"`
	Certificates []installedCertificate `json:"certificates"`
}

var listCertificatesCommand = command[listCertificatesRequest, installedCertificates, listCertificatesResponse]{
	path:   "certificates",
	method: http.MethodGet,
	ocpp16: func(r *listCertificatesRequest) outgoing[installedCertificates] {
		t := wireCertificateType(r.proto, r.CertificateType)
		return sendAs("GetInstalledCertificateIds", map[string]string{"certificateType": t}, func(w struct {
			Status              string                `json:"status"`
			CertificateHashData []CertificateHashData `json:"certificateHashData"`
		}) (installedCertificates, error) {
			out := installedCertificates{Status: w.Status}
			for _, h := range w.CertificateHashData {
				out.Certificates = append(out.Certificates, installedCertificate{CertificateType: t, CertificateHashData: h})
			}
			return out, nil
		})
	},
	ocpp201: func(r *listCertificatesRequest) outgoing[installedCertificates] {
		payload := map[string]any{}
		if r.CertificateType != "" {
			payload["certificateType"] = []string{wireCertificateType(r.proto, r.CertificateType)}
		}
		return sendAs("GetInstalledCertificateIds", payload, func(w struct {
			Status string `json:"status"`
			Chain  []struct {
				CertificateType     string              `json:"certificateType"`
				CertificateHashData CertificateHashData `json:"certificateHashData"`
			} `json:"certificateHashDataChain"`
			StatusInfo *ocpp.StatusInfo `json:"statusInfo"`
		}) (installedCertificates, error) {
			out := installedCertificates{Status: w.Status, StatusInfo: w.StatusInfo}
			for _, c := range w.Chain {
				out.Certificates = append(out.Certificates, installedCertificate{CertificateType: c.CertificateType, CertificateHashData: c.CertificateHashData})
			}
			return out, nil
		})
	},
	respond: func(st Station, _ *listCertificatesRequest, a installedCertificates) listCertificatesResponse {
		return listCertificatesResponse{ChargeBoxID: st.Identity, Status: a.Status,
			Certificates: append([]installedCertificate{}, a.Certificates...)}
	},
}

// ---- delete

type deleteCertificateRequest struct {
	HashAlgorithm  string `json:"hashAlgorithm" validate:"required,oneof=SHA256 SHA384 SHA512"`
	IssuerNameHash string `json:"issuerNameHash" validate:"required,max=128,hexadecimal"`
	IssuerKeyHash  string `json:"issuerKeyHash" validate:"required,max=128,hexadecimal"`
	SerialNumber   string `json:"serialNumber" validate:"required,max=40,hexadecimal"`
}

type deleteCertificateResponse struct {
	ChargeBoxID  string `json:"chargeBoxId"`
	SerialNumber string `json:"serialNumber"`
	Status       string `json:"status"`
	Message      string `json:"message"`
}

func deleteCall(r *deleteCertificateRequest) outgoing[ocpp.StatusResponse] {
	return statusCall("DeleteCertificate", map[string]CertificateHashData{"certificateHashData": {
		HashAlgorithm: r.HashAlgorithm, IssuerNameHash: r.IssuerNameHash, IssuerKeyHash: r.IssuerKeyHash, SerialNumber: r.SerialNumber}})
}

var deleteCertificateCommand = command[deleteCertificateRequest, ocpp.StatusResponse, deleteCertificateResponse]{
	path:    "certificates",
	method:  http.MethodDelete,
	ocpp16:  deleteCall,
	ocpp201: deleteCall,
	respond: func(st Station, r *deleteCertificateRequest, a ocpp.StatusResponse) deleteCertificateResponse {
		return deleteCertificateResponse{ChargeBoxID: st.Identity, SerialNumber: r.SerialNumber, Status: a.Status,
			Message: withInfo("Certificate deletion "+verb(a.Status), a.StatusInfo)}
	},
}
