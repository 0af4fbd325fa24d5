package main

import (
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/testca"
)

// TestInstalledCertificatesAreListed: a CA certificate installed through the API is on record
// for the station with its expiry and the station's answer, next to the ones evroam signs.
func TestInstalledCertificatesAreListed(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("CS-ROOT", "station-password-123", 1)
	p := ocpppeer.Start(t)
	p.OnCall("InstallCertificate", map[string]any{"status": "Accepted"})
	p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "CS-ROOT", Password: "station-password-123", Protocols: []string{"ocpp2.0.1"}})
	p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "M", "vendorName": "V"}})
	root := testca.New(t, "Example CPO Root")
	e.must("POST", "/api/v1/chargers/CS-ROOT/certificates", map[string]any{"certificateType": "CSMSRootCertificate",
		"certificate": string(root.CertPEM)}, 200, nil)
	var listed []struct {
		CertificateType string `json:"certificate_type"`
		Subject         string `json:"subject"`
		NotAfter        string `json:"not_after"`
		Status          string `json:"status"`
	}
	e.must("GET", "/api/v1/chargestations/CS-ROOT/certificates", nil, 200, &listed)
	if len(listed) != 1 || listed[0].CertificateType != "CSMSRootCertificate" || listed[0].Status != "Accepted" ||
		!strings.Contains(listed[0].Subject, "Example CPO Root") || listed[0].NotAfter != root.Cert.NotAfter.UTC().Format(time.RFC3339Nano) &&
		listed[0].NotAfter != root.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("listed %+v, want the installed root with its expiry %s", listed, root.Cert.NotAfter.UTC())
	}
}
