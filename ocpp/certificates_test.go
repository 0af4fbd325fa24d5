package ocpp_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/stationca"
	"github.com/evroam/evroam/internal/testca"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
)

// TestSignCertificate: a station's CSR is signed by the configured station CA and the chain
// comes back in CertificateSigned, for both versions; CSRs for another name, V2G certificates
// and a gateway without a CA are Rejected and nothing is sent.
func TestSignCertificate(t *testing.T) {
	ca := testca.New(t, "station CA")
	certFile, keyFile := ca.WriteFiles(t, t.TempDir())
	signer, err := stationca.Load(certFile, keyFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ocpp.Config{CSRSigner: signer})
			e.reg.AddStation("CP-1", 0, "", true)
			p := ocpppeer.Start(t)
			p.OnCall("CertificateSigned", map[string]any{"status": "Accepted"})
			e.connect(t, p, v, "CP-1", "")
			p.MustCall("BootNotification", v.boot)

			req := map[string]any{"csr": testca.CSR(t, "CP-1")}
			if v.name == "ocpp2.0.1" {
				req["certificateType"] = "ChargingStationCertificate"
			}
			if res := string(p.MustCall("SignCertificate", req)); res != `{"status":"Accepted"}` {
				t.Fatalf("SignCertificate = %s, want Accepted", res)
			}
			var signed struct {
				CertificateChain string `json:"certificateChain"`
				CertificateType  string `json:"certificateType"`
			}
			if err := json.Unmarshal(p.WaitReceived("CertificateSigned", 1)[0].Params, &signed); err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode([]byte(signed.CertificateChain))
			if block == nil || len(rest) == 0 {
				t.Fatalf("certificateChain %q: want the station's certificate and the CA", signed.CertificateChain)
			}
			leaf, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("signed certificate does not verify for client auth: %v", err)
			}
			if leaf.Subject.CommonName != "CP-1" {
				t.Errorf("signed CN %q", leaf.Subject.CommonName)
			}
			if v.name == "ocpp2.0.1" && signed.CertificateType != "ChargingStationCertificate" {
				t.Errorf("certificateType %q", signed.CertificateType)
			}
			e.reg.Wait(t, waitTimeout, "certificate recorded", func(r *ocpptest.Registry) bool { return len(r.Certificates) == 1 })
			e.reg.Do(func(r *ocpptest.Registry) {
				c := r.Certificates[0]
				if c.Status != "Accepted" || !c.NotAfter.Equal(leaf.NotAfter) || c.SerialNumber != leaf.SerialNumber.Text(16) {
					t.Errorf("recorded %+v, want Accepted with the leaf's serial and expiry", c)
				}
			})

			// Refused: another station's name, a V2G certificate (2.0.1).
			bad := []map[string]any{{"csr": testca.CSR(t, "CP-2")}, {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}}
			if v.name == "ocpp2.0.1" {
				bad = append(bad, map[string]any{"csr": testca.CSR(t, "CP-1"), "certificateType": "V2GCertificate"})
			}
			for _, b := range bad {
				if res := string(p.MustCall("SignCertificate", b)); res != `{"status":"Rejected"}` {
					t.Errorf("SignCertificate %v = %s, want Rejected", b["certificateType"], res)
				}
			}
			p.MustCall("Heartbeat", map[string]any{}) // after the refusals' answers
			if n := len(p.Received("CertificateSigned")); n != 1 {
				t.Errorf("%d CertificateSigned, want only the one for the good CSR", n)
			}
		})
	}
	t.Run("NoCA", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ocpp.Config{})
		e.reg.AddStation("CP-1", 0, "", true)
		p := ocpppeer.Start(t)
		e.connect(t, p, versions[0], "CP-1", "")
		p.MustCall("BootNotification", versions[0].boot)
		if res := string(p.MustCall("SignCertificate", map[string]any{"csr": testca.CSR(t, "CP-1")})); res != `{"status":"Rejected"}` {
			t.Errorf("SignCertificate without a CA = %s, want Rejected", res)
		}
	})
}
