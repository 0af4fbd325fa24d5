package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
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
		return bootedStation(t, e, id, proto)
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

	t.Run("OtherNetwork", func(t *testing.T) {
		// A sub-network's station cannot be sent the root network's firmware (the root's key
		// could: it sees the networks below it).
		key := e.otherKey()
		e.stationOfKey(key, "FW-OTH")
		p := bootedStation(t, e, "FW-OTH", "ocpp1.6")
		p.OnCall("UpdateFirmware", map[string]any{})
		code, data := e.doKey(key, "POST", "/api/v1/chargers/FW-OTH/firmware/update", map[string]any{"firmwareId": plain})
		if code != 422 || !strings.Contains(string(data), `"firmwareId"`) {
			t.Errorf("another network's firmware: %d %s, want 422 naming firmwareId", code, data)
		}
		if code, data := e.doKey(key, "GET", "/api/v1/firmware/"+plain, nil); code != 404 {
			t.Errorf("GET another network's firmware: %d %s, want 404", code, data)
		}
		if got := p.Received("UpdateFirmware"); len(got) != 0 {
			t.Errorf("the station received %d UpdateFirmware", len(got))
		}
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

// TestDiagnosticsToEvroam: diagnostics without a location, against strict stations of both
// versions: each is told to upload to an evroam URL; what it uploads there (raw PUT, or a
// multipart POST) is listed with the station and downloadable through the API; the URL takes
// one upload, only for its station; the station's log upload status is tracked.
func TestDiagnosticsToEvroam(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	connect := func(id, proto string) *ocpppeer.Peer {
		t.Helper()
		e.station(id, "firmware-test-pass", 1)
		return bootedStation(t, e, id, proto)
	}
	send := func(method, u, contentType string, body []byte) int {
		t.Helper()
		req, _ := http.NewRequest(method, u, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	type logFile struct {
		ID       string `json:"id"`
		FileName string `json:"file_name"`
		Size     int64  `json:"size"`
	}
	// uploaded checks that station id has exactly one log file, content, and returns it.
	uploaded := func(id string, content []byte, name string) {
		t.Helper()
		var files []logFile
		e.must("GET", "/api/v1/chargestations/"+id+"/log-files", nil, 200, &files)
		if len(files) != 1 || files[0].Size != int64(len(content)) || (name != "" && files[0].FileName != name) {
			t.Fatalf("log files of %s: %+v, want one of %d bytes", id, files, len(content))
		}
		req, _ := http.NewRequest("GET", e.api+"/api/v1/chargestations/"+id+"/log-files/"+files[0].ID, nil)
		req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(got, content) {
			t.Errorf("download of %s's log file: %d %q", id, res.StatusCode, got)
		}
	}
	waitStatus := func(id, want string) {
		t.Helper()
		eventually(t, id+" diagnostics status", func() error {
			var st struct {
				DiagnosticsStatus *string `json:"diagnostics_status"`
			}
			e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &st)
			if st.DiagnosticsStatus == nil || *st.DiagnosticsStatus != want {
				return fmt.Errorf("diagnostics_status %v, want %s", st.DiagnosticsStatus, want)
			}
			return nil
		})
	}

	t.Run("OCPP16", func(t *testing.T) {
		p := connect("DG-16", "ocpp1.6")
		p.OnCall("GetDiagnostics", map[string]any{"fileName": "diag.zip"})
		var a struct {
			Location string
			ToEvroam bool `json:"uploadToEvroam"`
		}
		e.must("POST", "/api/v1/chargers/DG-16/diagnostics", map[string]any{}, 200, &a)
		var got struct {
			Location string `json:"location"`
		}
		json.Unmarshal(p.WaitReceived("GetDiagnostics", 1)[0].Params, &got)
		if !a.ToEvroam || got.Location != a.Location || !strings.HasPrefix(got.Location, e.api+"/files/") {
			t.Fatalf("answer %+v, station received %q: want an upload URL of evroam", a, got.Location)
		}
		// Another station's name in the URL breaks its signature.
		if code := send("PUT", strings.Replace(got.Location, "station=DG-16", "station=DG-201", 1), "", []byte("x")); code != 403 {
			t.Errorf("upload with another station in the URL: %d, want 403", code)
		}
		content := []byte("diagnostics of DG-16")
		if code := send("PUT", got.Location, "application/zip", content); code != 201 {
			t.Fatalf("upload: %d, want 201", code)
		}
		if code := send("PUT", got.Location, "", []byte("again")); code != 409 {
			t.Errorf("second upload at one URL: %d, want 409", code)
		}
		uploaded("DG-16", content, "")
		p.MustCall("DiagnosticsStatusNotification", map[string]any{"status": "Uploaded"})
		waitStatus("DG-16", "Uploaded")
	})

	t.Run("OCPP201Multipart", func(t *testing.T) {
		p := connect("DG-201", "ocpp2.0.1")
		p.OnCall("GetLog", map[string]any{"status": "Accepted", "filename": "log.tar.gz"})
		e.must("POST", "/api/v1/chargers/DG-201/diagnostics", map[string]any{"startTime": "2026-02-09T00:00:00Z"}, 200, nil)
		var got struct {
			RequestID int `json:"requestId"`
			Log       struct {
				RemoteLocation string `json:"remoteLocation"`
			} `json:"log"`
		}
		json.Unmarshal(p.WaitReceived("GetLog", 1)[0].Params, &got)
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		w.WriteField("note", "uploaded by the station")
		fw, _ := w.CreateFormFile("file", "log.tar.gz")
		content := []byte("2.0.1 log content")
		fw.Write(content)
		w.Close()
		if code := send("POST", got.Log.RemoteLocation, w.FormDataContentType(), body.Bytes()); code != 201 {
			t.Fatalf("multipart upload: %d, want 201", code)
		}
		uploaded("DG-201", content, "log.tar.gz")
		p.MustCall("LogStatusNotification", map[string]any{"status": "Uploaded", "requestId": got.RequestID})
		waitStatus("DG-201", "Uploaded")
		// The other station's files are not this one's, and another network sees neither.
		var files []logFile
		e.must("GET", "/api/v1/chargestations/DG-16/log-files", nil, 200, &files)
		if len(files) != 1 {
			t.Fatalf("log files of DG-16: %+v", files)
		}
		e.must("GET", "/api/v1/chargestations/DG-201/log-files/"+files[0].ID, nil, 404, nil)
		other := e.otherKey()
		for _, path := range []string{"/api/v1/chargestations/DG-16/log-files", "/api/v1/chargestations/DG-16/log-files/" + files[0].ID} {
			if code, data := e.doKey(other, "GET", path, nil); code != 404 {
				t.Errorf("GET %s with another network's key: %d %s, want 404", path, code, data)
			}
		}
	})
}

// stationOfKey creates, with key, a location, a tariff and a one-EVSE station id of key's
// network (profile 1, password firmware-test-pass).
func (e *e2e) stationOfKey(key, id string) {
	e.t.Helper()
	mustKey := func(method, path string, body any, want int) json.RawMessage {
		e.t.Helper()
		code, raw := e.doKey(key, method, path, body)
		if code != want {
			e.t.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
		}
		var env struct{ Data json.RawMessage }
		json.Unmarshal(raw, &env)
		return env.Data
	}
	var loc struct{ ID string }
	json.Unmarshal(mustKey("POST", "/api/v1/locations", map[string]any{
		"name": "Depot", "address": "Weg 1", "city": "Utrecht", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]string{"latitude": "52.09074", "longitude": "5.12142"}}, 201), &loc)
	mustKey("PUT", "/api/v1/tariffs/"+loc.ID, freeTariff, 201)
	conn := map[string]any{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}
	mustKey("POST", "/api/v1/chargestations", map[string]any{
		"charge_station_id": id, "location_id": loc.ID, "deploy_state": "Production", "ocpp_password": "firmware-test-pass",
		"default_charge_station_tariff_id": loc.ID, "charger_type": "Public", "security_profile": 1,
		"evses": []any{map[string]any{"evse_sequence_number": 1, "connectors": []any{conn}}}}, 201)
}

// bootedStation connects a strict station id (password firmware-test-pass) and boots it.
func bootedStation(t *testing.T, e *e2e, id, proto string) *ocpppeer.Peer {
	t.Helper()
	p := ocpppeer.Start(t)
	p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: "firmware-test-pass", Protocols: []string{proto}})
	if proto == "ocpp2.0.1" {
		p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "Eve", "vendorName": "Alfen"}})
	} else {
		p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	}
	return p
}
