package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/testca"
)

// uploadFirmware uploads content raw with the fields in query and returns the firmware id.
func (e *e2e) uploadFirmware(query string, content []byte) string {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.api+"/api/v1/firmware?"+query, bytes.NewReader(content))
	req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var env struct{ Data struct{ ID string } }
	if res.StatusCode != 201 || json.Unmarshal(b, &env) != nil || env.Data.ID == "" {
		e.t.Fatalf("upload firmware: %d %s", res.StatusCode, b)
	}
	return env.Data.ID
}

// TestFirmwareUpdateFromTheStore: firmware/update {"firmwareId"} against strict stations of
// both versions: each receives a signed URL of the uploaded image under the API's URL, which
// serves the image without an API key; a 2.0.1 station also gets the signing certificate and
// signature. Unknown firmware, or a location next to a firmwareId, is a 422 and sends nothing.
func TestFirmwareUpdateFromTheStore(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	image := bytes.Repeat([]byte("evroam firmware "), 4096)
	cert := string(testca.New(t, "firmware signer").CertPEM)
	plain := e.uploadFirmware("vendor=Alfen&model=Eve&version=6.2.0", image)
	signed := e.uploadFirmware("vendor=Alfen&model=Eve&version=6.3.0&signature=c2lnbmF0dXJl&signing_certificate="+url.QueryEscape(cert), image)

	fetch := func(location string) {
		t.Helper()
		if !strings.HasPrefix(location, e.api+"/files/") {
			t.Fatalf("location %q is not a file URL under the API's URL %s", location, e.api)
		}
		res, err := http.Get(location) // no API key: the URL is the authority
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(got, image) {
			t.Errorf("the station's download: %d, %d bytes, want 200 and the %d-byte image", res.StatusCode, len(got), len(image))
		}
	}
	connect := func(id, proto string) *ocpppeer.Peer {
		t.Helper()
		e.station(id, "firmware-test-pass", 1)
		p := ocpppeer.Start(t)
		p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: "firmware-test-pass", Protocols: []string{proto}})
		if proto == "ocpp2.0.1" {
			p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "Eve", "vendorName": "Alfen"}})
		} else {
			p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
		}
		return p
	}

	t.Run("OCPP16", func(t *testing.T) {
		p := connect("FW-16", "ocpp1.6")
		p.OnCall("UpdateFirmware", map[string]any{})
		var a struct{ FirmwareID, Location, RetrieveDate, Status string }
		e.must("POST", "/api/v1/chargers/FW-16/firmware/update", map[string]any{"firmwareId": plain, "retries": 2}, 200, &a)
		var got struct {
			Location     string `json:"location"`
			RetrieveDate string `json:"retrieveDate"`
			Retries      int    `json:"retries"`
		}
		json.Unmarshal(p.WaitReceived("UpdateFirmware", 1)[0].Params, &got)
		if a.Status != "accepted" || a.FirmwareID != plain || a.Location != got.Location || got.Retries != 2 {
			t.Errorf("answer %+v, station received %+v", a, got)
		}
		if at, err := time.Parse(time.RFC3339, got.RetrieveDate); err != nil || time.Since(at) > time.Minute {
			t.Errorf("retrieveDate %q, want now", got.RetrieveDate)
		}
		fetch(got.Location)

		// The station reports its progress: the station shows the latest status, its
		// firmware history every report.
		for _, st := range []string{"Downloading", "Downloaded", "Installing", "Installed"} {
			p.MustCall("FirmwareStatusNotification", map[string]any{"status": st})
		}
		e.waitFirmwareStatus("FW-16", "Installed", []string{"Installed", "Installing", "Downloaded", "Downloading"}, 0)
	})

	t.Run("OCPP201Signed", func(t *testing.T) {
		p := connect("FW-201", "ocpp2.0.1")
		p.OnCall("UpdateFirmware", map[string]any{"status": "Accepted"})
		e.must("POST", "/api/v1/chargers/FW-201/firmware/update",
			map[string]any{"firmwareId": signed, "retrieveDate": "2030-01-02T03:04:05Z"}, 200, nil)
		var got struct {
			RequestID int `json:"requestId"`
			Firmware  struct {
				Location, RetrieveDateTime, SigningCertificate, Signature string
			} `json:"firmware"`
		}
		json.Unmarshal(p.WaitReceived("UpdateFirmware", 1)[0].Params, &got)
		fw := got.Firmware
		if fw.RetrieveDateTime != "2030-01-02T03:04:05Z" || fw.SigningCertificate != cert || fw.Signature != "c2lnbmF0dXJl" {
			t.Errorf("station received %+v, want the retrieve date, certificate and signature", fw)
		}
		fetch(fw.Location)
		// The URL lasts until a day after the retrieve date, no longer.
		u, _ := url.Parse(fw.Location)
		if exp := u.Query().Get("expires"); exp != "1893639845" {
			t.Errorf("expires=%s, want 2030-01-03T03:04:05Z (1893639845)", exp)
		}

		p.MustCall("FirmwareStatusNotification", map[string]any{"status": "Downloading", "requestId": got.RequestID})
		p.MustCall("FirmwareStatusNotification", map[string]any{"status": "InvalidSignature", "requestId": got.RequestID})
		e.waitFirmwareStatus("FW-201", "InvalidSignature", []string{"InvalidSignature", "Downloading"}, got.RequestID)
	})

	t.Run("Refused", func(t *testing.T) {
		p := connect("FW-BAD", "ocpp1.6")
		for body, want := range map[string]string{
			`{"firmwareId": "6b1d5f4e-0000-4000-8000-000000000000"}`:             `"firmwareId"`,
			`{"firmwareId": "nope"}`:                                             `"firmwareId"`,
			`{"firmwareId": "` + plain + `", "location": "https://x.example/f"}`: `"location"`,
		} {
			var v any
			json.Unmarshal([]byte(body), &v)
			code, data := e.do("POST", "/api/v1/chargers/FW-BAD/firmware/update", v)
			if code != 422 || !strings.Contains(string(data), want) {
				t.Errorf("%s: %d %s, want 422 naming %s", body, code, data, want)
			}
		}
		if got := p.Received("UpdateFirmware"); len(got) != 0 {
			t.Errorf("refused requests reached the station: %d UpdateFirmware", len(got))
		}
	})
}

// waitFirmwareStatus waits until station id shows firmware_update_status want and its
// firmware history holds history (newest first), each with requestID (0: none).
func (e *e2e) waitFirmwareStatus(id, want string, history []string, requestID int) {
	e.t.Helper()
	eventually(e.t, id+" firmware status", func() error {
		var st struct {
			FirmwareUpdateStatus *string `json:"firmware_update_status"`
		}
		e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &st)
		if st.FirmwareUpdateStatus == nil || *st.FirmwareUpdateStatus != want {
			return fmt.Errorf("firmware_update_status %v, want %s", st.FirmwareUpdateStatus, want)
		}
		return nil
	})
	var got []struct {
		Status    string `json:"status"`
		RequestID *int   `json:"request_id"`
		Created   string `json:"created"`
	}
	e.must("GET", "/api/v1/chargestations/"+id+"/firmware-history", nil, 200, &got)
	if len(got) != len(history) {
		e.t.Fatalf("firmware history %+v, want %v", got, history)
	}
	for i, h := range got {
		if h.Status != history[i] || (requestID == 0) != (h.RequestID == nil) || (h.RequestID != nil && *h.RequestID != requestID) || h.Created == "" {
			e.t.Errorf("firmware history[%d] = %+v, want %s with request id %d", i, h, history[i], requestID)
		}
	}
}
