package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/internal/testca"
)

// TestServeOCPPOverTLS runs `evroam serve` with EVROAM_OCPP_TLS_ADDR: stations created
// through the API with security profiles 2 and 3 connect over wss:// (profile 3 with a
// client certificate of the configured station CA and no password), profile 2 is refused on
// the plain address, and a renewed server certificate is served without a restart.
// tlsServe is `evroam serve` with TLS: a server CA, a station CA that signs station
// certificates, and the addresses it printed.
type tlsServe struct {
	api, ws, wss, key   string
	dir                 string // where the certificate files are
	serverCA, stationCA *testca.CA
	post                func(path, body string)
}

func startTLSServe(t *testing.T) *tlsServe {
	t.Helper()
	dir := t.TempDir()
	serverCA, stationCA := testca.New(t, "server CA"), testca.New(t, "station CA")
	certFile, keyFile := serverCA.Server(t).WriteFiles(t, dir)
	caFile, caKeyFile := stationCA.WriteFiles(t, dir)
	const key = "test-admin-key-0123456789abcdefghij"
	env := map[string]string{"EVROAM_DATABASE_URL": pgtest.URL(t), "EVROAM_HTTP_ADDR": "127.0.0.1:0",
		"EVROAM_OCPP_ADDR": "127.0.0.1:0", "EVROAM_ADMIN_API_KEY": key, "EVROAM_OCPP_TLS_ADDR": "127.0.0.1:0",
		"EVROAM_OCPP_TLS_CERT_FILE": certFile, "EVROAM_OCPP_TLS_KEY_FILE": keyFile, "EVROAM_OCPP_CLIENT_CA_FILE": caFile,
		"EVROAM_OCPP_CA_CERT_FILE": caFile, "EVROAM_OCPP_CA_KEY_FILE": caKeyFile}
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	printed := func(prefix string) string {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, line := range strings.Split(out.String(), "\n") {
				if _, v, ok := strings.Cut(line, prefix); ok {
					return strings.TrimSpace(v)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("serve printed no %q: %q", prefix, out.String())
		return ""
	}
	api := printed("API:  ")
	wss := strings.TrimSuffix(printed("OCPP over TLS: "), "/{charge_station_id}")
	ws := strings.TrimSuffix(printed("OCPP: "), "/{charge_station_id}")

	post := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, api+path, bytes.NewBufferString(body))
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
	}
	post("/tariffs", `{"id": "T", "currency": "EUR", "elements": [{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}]}`)
	post("/locations", `{"id": "TLS-LOC", "name": "TLS site", "address": "Nieuwstraat 1", "city": "Utrecht", "country": "NLD",
		"time_zone": "Europe/Amsterdam", "coordinates": {"latitude": "52.09074", "longitude": "5.12142"}}`)
	return &tlsServe{api: api, ws: ws, wss: wss, key: key, dir: dir, serverCA: serverCA, stationCA: stationCA, post: post}
}

// station creates a station at TLS-LOC; fields are the body's first members.
func (s *tlsServe) station(fields string) {
	s.post("/chargestations", fields+`, "location_id": "TLS-LOC", "deploy_state": "Stock",
		"default_charge_station_tariff_id": "T", "charger_type": "Public", "evses": [{"connectors": [
		{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}]}]}`)
}

func TestServeOCPPOverTLS(t *testing.T) {
	t.Parallel()
	srv := startTLSServe(t)
	api, ws, wss, key, serverCA, stationCA, dir := srv.api, srv.ws, srv.wss, srv.key, srv.serverCA, srv.stationCA, srv.dir
	srv.station(`{"charge_station_id": "TLS-P2", "security_profile": 2, "ocpp_password": "a-long-station-password"`)
	srv.station(`{"charge_station_id": "TLS-P3", "security_profile": 3`)

	trust := &ocpppeer.TLSOptions{CAPEM: string(serverCA.CertPEM)}
	p3 := stationCA.Client(t, "TLS-P3")
	p := ocpppeer.Start(t)
	cases := []struct {
		name string
		opts ocpppeer.ConnectOptions
		want int
	}{
		{"Profile2OverTLS", ocpppeer.ConnectOptions{URL: wss, Identity: "TLS-P2", Password: "a-long-station-password", TLS: trust}, 0},
		{"Profile2Plain", ocpppeer.ConnectOptions{URL: ws, Identity: "TLS-P2", Password: "a-long-station-password"}, 403},
		{"Profile3Certificate", ocpppeer.ConnectOptions{URL: wss, Identity: "TLS-P3",
			TLS: &ocpppeer.TLSOptions{CAPEM: trust.CAPEM, CertPEM: string(p3.CertPEM), KeyPEM: string(p3.KeyPEM)}}, 0},
		{"Profile3WithoutCertificate", ocpppeer.ConnectOptions{URL: wss, Identity: "TLS-P3", TLS: trust}, 401},
	}
	for _, c := range cases {
		c.opts.Protocols = []string{"ocpp2.0.1"}
		_, err := p.Connect(c.opts)
		if c.want == 0 {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			boot := map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "M", "vendorName": "V"}}
			if res, err := p.Call("BootNotification", boot); err != nil || !strings.Contains(string(res), `"Accepted"`) {
				t.Fatalf("%s: BootNotification: %s %v", c.name, res, err)
			}
			p.Close()
			continue
		}
		if pe, ok := err.(*ocpppeer.Error); !ok || pe.HTTPStatus != c.want {
			t.Fatalf("%s: Connect error = %v, want HTTP %d", c.name, err, c.want)
		}
	}

	// A profile 2 station gets a certificate from evroam's station CA (SignCertificate →
	// CertificateSigned), then connects with it as a profile 3 station; its expiry is listed.
	csr, stationKey := testca.CSRWithKey(t, "TLS-P2")
	if _, err := p.Connect(ocpppeer.ConnectOptions{URL: wss, Identity: "TLS-P2", Password: "a-long-station-password",
		TLS: trust, Protocols: []string{"ocpp2.0.1"}}); err != nil {
		t.Fatal(err)
	}
	p.OnCall("CertificateSigned", map[string]any{"status": "Accepted"})
	if res, err := p.Call("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "M", "vendorName": "V"}}); err != nil {
		t.Fatalf("BootNotification: %s %v", res, err)
	}
	if res, err := p.Call("SignCertificate", map[string]any{"csr": csr, "certificateType": "ChargingStationCertificate"}); err != nil || string(res) != `{"status":"Accepted"}` {
		t.Fatalf("SignCertificate: %s %v", res, err)
	}
	var signed struct {
		CertificateChain string `json:"certificateChain"`
	}
	if err := json.Unmarshal(p.WaitReceived("CertificateSigned", 1)[0].Params, &signed); err != nil {
		t.Fatal(err)
	}
	p.Close()
	var listed []struct {
		NotAfter string `json:"not_after"`
		Status   string `json:"status"`
		Subject  string `json:"subject"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(listed) == 0 || listed[0].Status != "Accepted" {
		if time.Now().After(deadline) {
			t.Fatalf("certificate not listed: %+v", listed)
		}
		time.Sleep(50 * time.Millisecond)
		getJSON(t, api+"/chargestations/TLS-P2/certificates", key, &listed)
	}
	if listed[0].NotAfter == "" || !strings.Contains(listed[0].Subject, "TLS-P2") {
		t.Errorf("listed certificate %+v", listed[0])
	}
	patch(t, api+"/chargestations/TLS-P2", key, `{"security_profile": 3}`)
	if _, err := p.Connect(ocpppeer.ConnectOptions{URL: wss, Identity: "TLS-P2", Protocols: []string{"ocpp2.0.1"},
		TLS: &ocpppeer.TLSOptions{CAPEM: trust.CAPEM, CertPEM: signed.CertificateChain, KeyPEM: stationKey}}); err != nil {
		t.Fatalf("profile 3 with the certificate evroam signed: %v", err)
	}
	p.Close()

	// A certificate from another CA replaces the served one: stations that trust only the
	// old CA are refused at the handshake once it is reloaded, those that trust the new one
	// connect. No restart.
	renewedCA := testca.New(t, "renewed server CA")
	renewedCA.Server(t).WriteFiles(t, dir)
	renewed := &ocpppeer.TLSOptions{CAPEM: string(renewedCA.CertPEM), CertPEM: string(p3.CertPEM), KeyPEM: string(p3.KeyPEM)}
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, err := p.Connect(ocpppeer.ConnectOptions{URL: wss, Identity: "TLS-P3", TLS: renewed, Protocols: []string{"ocpp2.0.1"}})
		if err == nil {
			p.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url, key string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		t.Fatal(err)
	}
}

func patch(t *testing.T, url, key, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, url, strings.NewReader(body))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH %s: %d %s", url, resp.StatusCode, b)
	}
}
