package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/gorilla/websocket"
)

// e2e is the whole service (API and OCPP gateway) on a fresh database.
type e2e struct {
	t       *testing.T
	app     *app
	api     string
	ocppURL string
}

func startE2E(t *testing.T) *e2e { t.Helper(); return startE2EOn(t, "") }

// startE2EOn is startE2E on the database at dbURL ("" for a fresh one).
func startE2EOn(t *testing.T, dbURL string) *e2e {
	t.Helper()
	a, srv := startApp(t, dbURL)
	gw := httptest.NewServer(a.gateway)
	t.Cleanup(gw.Close)
	return &e2e{t: t, app: a, api: srv.URL, ocppURL: "ws" + strings.TrimPrefix(gw.URL, "http") + "/ocpp"}
}

// followed waits until the station rows and the OCPI publication show every status report
// the node answered so far: they follow the reports' commit (stationreports.statusFollower).
func (e *e2e) followed() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	if err := e.app.reports.StatusFollowersCaughtUp(ctx); err != nil {
		e.t.Fatalf("waiting for the status reports' follow-up: %v", err)
	}
}

func (e *e2e) do(method, path string, body any) (int, json.RawMessage) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.api+path, rd)
	req.Header.Set("X-API-Key", "test-admin-key-0123456789abcdefghij")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &env)
	if env.Data == nil || string(env.Data) == "null" {
		env.Data = raw // an error answer: the whole envelope, with its errors
	}
	return resp.StatusCode, env.Data
}

func (e *e2e) must(method, path string, body any, want int, out any) {
	e.t.Helper()
	code, data := e.do(method, path, body)
	if code != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("decode %s: %v", data, err)
		}
	}
}

// freeTariff is a tariff body: free of charge, as OCPI defines it.
var freeTariff = map[string]any{"currency": "EUR", "elements": []any{
	map[string]any{"price_components": []any{map[string]any{"type": "FLAT", "price": 0, "step_size": 1}}}}}

// station creates a location, a tariff and a two-EVSE station with an OCPP password.
func (e *e2e) station(id, password string, profile int) {
	e.t.Helper()
	var loc struct{ ID string }
	e.must("POST", "/api/v1/locations", map[string]any{
		"name": "Depot", "address": "Weg 1", "city": "Utrecht", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]string{"latitude": "52.09074", "longitude": "5.12142"}}, 201, &loc)
	// A tariff for the station, with the location's id (unique).
	e.must("PUT", "/api/v1/tariffs/"+loc.ID, freeTariff, 201, nil)
	conn := map[string]any{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}
	body := map[string]any{
		"charge_station_id": id, "location_id": loc.ID, "deploy_state": "Production",
		"default_charge_station_tariff_id": loc.ID, "charger_type": "Public", "security_profile": profile,
		"evses": []any{
			map[string]any{"evse_sequence_number": 1, "connectors": []any{conn}},
			map[string]any{"evse_sequence_number": 2, "connectors": []any{conn}},
		},
	}
	if password != "" {
		body["ocpp_password"] = password
	}
	e.must("POST", "/api/v1/chargestations", body, 201, nil)
}

// eventually polls check until it returns nil (the gateway writes some data in batches).
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type stationView struct {
	ChargePointVendor       *string `json:"charge_point_vendor"`
	ChargePointModel        *string `json:"charge_point_model"`
	ChargePointSerialNumber *string `json:"charge_point_serial_number"`
	ChargeBoxSerialNumber   *string `json:"charge_box_serial_number"`
	FirmwareVersion         *string `json:"firmware_version"`
	ICCID                   *string `json:"iccid"`
	IMSI                    *string `json:"imsi"`
	MeterType               *string `json:"meter_type"`
	MeterSerialNumber       *string `json:"meter_serial_number"`
	ClientIPAddress         *string `json:"client_ip_address"`
	HeartbeatInterval       *int    `json:"heartbeat_interval"`
	RemoteManageable        *bool   `json:"remote_manageable"`
	ConnectivityStatus      *string `json:"connectivity_status"`
	ProtocolVersion         *string `json:"protocol_version"`
	Endpoint                *string `json:"endpoint"`
	OnboardingState         string  `json:"onboarding_state"`
	LastBootAt              *string `json:"last_boot_at"`
	LastHeartbeatAt         *string `json:"last_heartbeat_at"`
	ETag                    string  `json:"etag"`
	EVSEs                   []struct {
		UID        string  `json:"uid"`
		Status     string  `json:"status"`
		OCPPStatus *string `json:"ocpp_status"`
	} `json:"evses"`
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

var e2eVersions = []struct {
	subprotocol, protocolVersion string
	boot                         map[string]any
	status                       func(evse int, status string) map[string]any
	ocppStatus                   string
}{
	{"ocpp1.6", "Ocpp16",
		map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve Double", "chargePointSerialNumber": "CP-SN-1",
			"chargeBoxSerialNumber": "CB-SN-1", "firmwareVersion": "6.1.0", "iccid": "8931000000000000001", "imsi": "204080000000001",
			"meterType": "Carlo Gavazzi", "meterSerialNumber": "MTR-1"},
		func(evse int, status string) map[string]any {
			return map[string]any{"connectorId": evse, "errorCode": "NoError", "status": status}
		}, "Charging"},
	{"ocpp2.0.1", "Ocpp201",
		map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"vendorName": "Alfen", "model": "Eve Double",
			"serialNumber": "CP-SN-1", "firmwareVersion": "6.1.0",
			"modem": map[string]any{"iccid": "8931000000000000001", "imsi": "204080000000001"}}},
		func(evse int, status string) map[string]any {
			return map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "connectorStatus": status, "evseId": evse, "connectorId": 1}
		}, "Occupied"},
}

// TestGatewayEndToEnd onboards a real station (ocpp-rpc in strict mode) against the whole
// service and reads the result through the REST API.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	for _, v := range e2eVersions {
		t.Run(v.subprotocol, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t)
			id := "CS-" + strings.ReplaceAll(v.subprotocol, ".", "")
			const password = "s3cret-station-password"
			e.station(id, password, 1)
			var before stationView
			e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &before)
			if before.OnboardingState != "Pending" || before.ChargePointVendor != nil || before.ConnectivityStatus != nil {
				t.Fatalf("a new station should be Pending with no gateway data: %+v", before)
			}

			p := ocpppeer.Start(t)
			p.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{
				map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"},
				map[string]any{"key": "NumberOfConnectors", "readonly": true, "value": "2"}}})
			if got := p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: password, Protocols: []string{v.subprotocol}}); got != v.subprotocol {
				t.Fatalf("negotiated %q, want %q", got, v.subprotocol)
			}
			var boot struct {
				Status   string `json:"status"`
				Interval int    `json:"interval"`
			}
			json.Unmarshal(p.MustCall("BootNotification", v.boot), &boot)
			if boot.Status != "Accepted" || boot.Interval != 300 {
				t.Fatalf("boot answer %+v, want Accepted with interval 300", boot)
			}
			p.MustCall("StatusNotification", v.status(1, v.ocppStatus))
			p.MustCall("Heartbeat", map[string]any{})

			e.followed()
			var after stationView
			e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &after)
			checks := map[string][2]string{
				"charge_point_vendor":        {str(after.ChargePointVendor), "Alfen"},
				"charge_point_model":         {str(after.ChargePointModel), "Eve Double"},
				"charge_point_serial_number": {str(after.ChargePointSerialNumber), "CP-SN-1"},
				"firmware_version":           {str(after.FirmwareVersion), "6.1.0"},
				"iccid":                      {str(after.ICCID), "8931000000000000001"},
				"imsi":                       {str(after.IMSI), "204080000000001"},
				"client_ip_address":          {str(after.ClientIPAddress), "127.0.0.1"},
				"connectivity_status":        {str(after.ConnectivityStatus), "Online"},
				"protocol_version":           {str(after.ProtocolVersion), v.protocolVersion},
				"endpoint":                   {str(after.Endpoint), e.app.cfg.OCPPPublicURL},
				"onboarding_state":           {after.OnboardingState, "Onboarded"},
			}
			if v.subprotocol == "ocpp1.6" {
				checks["charge_box_serial_number"] = [2]string{str(after.ChargeBoxSerialNumber), "CB-SN-1"}
				checks["meter_type"] = [2]string{str(after.MeterType), "Carlo Gavazzi"}
				checks["meter_serial_number"] = [2]string{str(after.MeterSerialNumber), "MTR-1"}
			}
			for field, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s = %s, want %s", field, c[0], c[1])
				}
			}
			if after.HeartbeatInterval == nil || *after.HeartbeatInterval != 300 || after.LastBootAt == nil ||
				after.RemoteManageable == nil || !*after.RemoteManageable {
				t.Errorf("heartbeat_interval %v, last_boot_at %v, remote_manageable %v", after.HeartbeatInterval, after.LastBootAt, after.RemoteManageable)
			}
			if after.ETag != before.ETag {
				t.Errorf("etag changed from %s to %s on data the station reported", before.ETag, after.ETag)
			}
			evse1 := after.EVSEs[0]
			if evse1.Status != "CHARGING" || str(evse1.OCPPStatus) != v.ocppStatus || after.EVSEs[1].Status != "UNKNOWN" {
				t.Errorf("EVSE statuses after StatusNotification: %+v", after.EVSEs)
			}

			var log []struct {
				EVSE     int    `json:"evse_sequence_number"`
				OCPP     string `json:"ocpp_status"`
				Status   string `json:"status"`
				Friendly string `json:"friendly_status"`
			}
			e.must("GET", "/api/v1/chargestations/"+id+"/status-log", nil, 200, &log)
			if len(log) != 1 || log[0].EVSE != 1 || log[0].OCPP != v.ocppStatus || log[0].Status != "CHARGING" || log[0].Friendly != "Charging" {
				t.Errorf("status log = %+v", log)
			}

			eventually(t, "heartbeat recorded", func() error {
				var s stationView
				e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &s)
				if s.LastHeartbeatAt == nil {
					return errors.New("last_heartbeat_at still null")
				}
				return nil
			})

			type frame struct {
				Direction   string          `json:"direction"`
				MessageType string          `json:"message_type"`
				Action      *string         `json:"action"`
				Payload     json.RawMessage `json:"payload"`
			}
			var frames []frame
			eventually(t, "message log", func() error {
				e.must("GET", "/api/v1/chargestations/"+id+"/messages", nil, 200, &frames)
				if len(frames) < 6 {
					return errors.New("fewer than 6 frames logged")
				}
				return nil
			})
			// Newest first: reverse to wire order and find boot → result → status → result → heartbeat → result.
			var seq []string
			for i := len(frames) - 1; i >= 0; i-- {
				f := frames[i]
				if strings.Contains(string(f.Payload), password) {
					t.Errorf("message log holds the station's password: %s", f.Payload)
				}
				switch str(f.Action) {
				case "BootNotification", "StatusNotification", "Heartbeat":
				default:
					continue // evroam's own calls (TriggerMessage, the configuration read) interleave
				}
				seq = append(seq, f.Direction+" "+f.MessageType+" "+str(f.Action))
			}
			want := []string{"in CALL BootNotification", "out CALLRESULT BootNotification", "in CALL StatusNotification",
				"out CALLRESULT StatusNotification", "in CALL Heartbeat", "out CALLRESULT Heartbeat"}
			if got := strings.Join(seq, "|"); !strings.Contains(got, strings.Join(want, "|")) {
				t.Errorf("message log in wire order:\n%s\nwant it to contain:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
			}

			if v.subprotocol == "ocpp1.6" {
				eventually(t, "configuration read after boot", func() error {
					var conf []struct {
						Key      string  `json:"key"`
						Value    *string `json:"value"`
						ReadOnly bool    `json:"readonly"`
					}
					e.must("GET", "/api/v1/chargestations/"+id+"/configuration", nil, 200, &conf)
					if len(conf) != 2 || conf[0].Key != "HeartbeatInterval" || str(conf[0].Value) != "300" || !conf[1].ReadOnly {
						return fmt.Errorf("configuration = %+v", conf)
					}
					return nil
				})
			}

			p.Close()
			eventually(t, "station offline after close", func() error {
				var s stationView
				e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &s)
				if str(s.ConnectivityStatus) != "Offline" {
					return errors.New("connectivity_status " + str(s.ConnectivityStatus))
				}
				return nil
			})
		})
	}
}

// TestGatewayAdmission checks who may connect, against passwords stored (bcrypt) by the API.
func TestGatewayAdmission(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("ZAPTEC-1", "AAAAAAAAAAAAAAAAAAAA", 1)
	e.station("OPEN-1", "", 0)

	refused := func(o ocpppeer.ConnectOptions, status int) {
		t.Helper()
		p := ocpppeer.Start(t)
		_, err := p.Connect(o)
		var pe *ocpppeer.Error
		if !errors.As(err, &pe) || pe.HTTPStatus != status {
			t.Errorf("connect %s: %v, want HTTP %d", o.Identity, err, status)
		}
	}
	refused(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "NOBODY", Password: "whatever-password"}, 404)
	refused(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "ZAPTEC-1", Password: "wrong-password-xx"}, 401)
	refused(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "ZAPTEC-1"}, 401)

	// The Zaptec form: the 40-hex-digit encoding of the stored password.
	p := ocpppeer.Start(t)
	p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "ZAPTEC-1", Password: strings.Repeat("41", 20)})
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Zaptec", "chargePointModel": "Go"})
	// And the plain text, on a second connection that replaces the first.
	p2 := ocpppeer.Start(t)
	p2.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "ZAPTEC-1", Password: "AAAAAAAAAAAAAAAAAAAA"})
	p.WaitClosed()
	p2.MustCall("Heartbeat", map[string]any{})

	// Security profile 0: no credentials.
	open := ocpppeer.Start(t)
	open.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: "OPEN-1"})
	open.MustCall("BootNotification", map[string]any{"chargePointVendor": "Open", "chargePointModel": "One"})
}

// bootedBehindProxy starts the service on a database reached through a proxy the test can cut,
// and a 1.6 station id connected and booted.
func bootedBehindProxy(t *testing.T, id string) (*pgtest.Proxy, *e2e, *ocpppeer.Peer) {
	t.Helper()
	proxy, viaProxy := pgtest.NewProxy(t, pgtest.URL(t))
	e := startE2EOn(t, viaProxy)
	const pw = "proxied-station-password"
	e.station(id, pw, 1)
	p := ocpppeer.Start(t)
	p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: pw, Protocols: []string{"ocpp1.6"}})
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "V", "chargePointModel": "M"})
	return proxy, e, p
}

// TestMessageLogSurvivesDatabaseOutage: frames a station sends while the database is away are
// answered (heartbeats need no database), kept, and all in the message log once it is back.
func TestMessageLogSurvivesDatabaseOutage(t *testing.T) {
	t.Parallel()
	proxy, e, p := bootedBehindProxy(t, "LOG-1")

	proxy.Cut()
	const beats = 20
	for range beats {
		p.MustCall("Heartbeat", nil)
	}
	time.Sleep(1500 * time.Millisecond) // at least one flush fails meanwhile
	proxy.Restore()

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, data := e.do("GET", "/api/v1/chargestations/LOG-1/messages?limit=1000", nil)
		var frames []struct {
			Action      string `json:"action"`
			MessageType string `json:"message_type"`
		}
		_ = json.Unmarshal(data, &frames)
		n := 0
		for _, f := range frames {
			if f.Action == "Heartbeat" {
				n++
			}
		}
		if code == 200 && n == 2*beats {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the outage the message log has %d Heartbeat frames (HTTP %d), want %d", n, code, 2*beats)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStationShowsWhyItCannotConnect: a station whose logins are refused shows when it last
// tried and why (read-only last_connection_attempt_at / last_connection_error), so an
// operator can see why a charger stays Pending; an accepted login clears the error. A GET
// body with these fields can be PUT back.
func TestStationShowsWhyItCannotConnect(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("CS-WHY", "station-password-123", 1)
	type why struct {
		AttemptAt *string `json:"last_connection_attempt_at"`
		Error     *string `json:"last_connection_error"`
	}
	var w why
	e.must("GET", "/api/v1/chargestations/CS-WHY", nil, 200, &w)
	if w.AttemptAt != nil || w.Error != nil {
		t.Fatalf("a new station: %+v, want no attempt", w)
	}

	dial := func(password string) int {
		h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("CS-WHY:"+password))}}
		d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}}
		ws, resp, err := d.Dial(e.ocppURL+"/CS-WHY", h)
		if err == nil {
			ws.Close()
			return 101
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if code := dial("not-the-password-1"); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	eventually(t, "the refusal shown on the station", func() error {
		e.must("GET", "/api/v1/chargestations/CS-WHY", nil, 200, &w)
		if w.Error == nil || *w.Error != "wrong password" || w.AttemptAt == nil {
			return fmt.Errorf("station shows %+v", w)
		}
		return nil
	})

	var body map[string]any
	e.must("GET", "/api/v1/chargestations/CS-WHY", nil, 200, &body)
	e.must("PUT", "/api/v1/chargestations/CS-WHY", body, 200, nil)

	if code := dial("station-password-123"); code != 101 {
		t.Fatalf("right password: %d", code)
	}
	eventually(t, "the error cleared", func() error {
		e.must("GET", "/api/v1/chargestations/CS-WHY", nil, 200, &w)
		if w.Error != nil || w.AttemptAt == nil {
			return fmt.Errorf("station shows %+v", w)
		}
		return nil
	})
}

// TestStatusReportsAcrossDatabaseRestart: status reports are written in shared transactions
// whose statements are prepared on the pool's connections (database.WithTx). When those
// connections die (the database restarted), the reports that follow are written on new
// connections: the station is answered, and its EVSE and status log show them.
func TestStatusReportsAcrossDatabaseRestart(t *testing.T) {
	t.Parallel()
	proxy, e, p := bootedBehindProxy(t, "RST-1")
	status := func(s string) map[string]any {
		return map[string]any{"connectorId": 1, "errorCode": "NoError", "status": s}
	}
	// Enough reports for the batch's statements to be prepared and their plans kept.
	for i := range 8 {
		p.MustCall("StatusNotification", status([]string{"Available", "Preparing"}[i%2]))
	}

	proxy.Cut() // every pool connection dies, as in a database restart
	proxy.Restore()
	// A report may fail on a connection found dead (CALLERROR); the station sends it again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := p.Call("StatusNotification", status("Faulted")); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("StatusNotification after the restart: %v", err)
		}
	}
	var st struct {
		EVSEs []struct {
			Status     string  `json:"status"`
			OCPPStatus *string `json:"ocpp_status"`
		} `json:"evses"`
	}
	e.followed()
	e.must("GET", "/api/v1/chargestations/RST-1", nil, 200, &st)
	if len(st.EVSEs) == 0 || st.EVSEs[0].Status != "OUTOFORDER" || str(st.EVSEs[0].OCPPStatus) != "Faulted" {
		t.Fatalf("EVSE 1 after the restart: %+v, want OUTOFORDER (Faulted)", st.EVSEs)
	}
	var log []struct {
		OCPP string `json:"ocpp_status"`
	}
	e.must("GET", "/api/v1/chargestations/RST-1/status-log", nil, 200, &log)
	if len(log) == 0 || log[0].OCPP != "Faulted" {
		t.Fatalf("status log after the restart: %+v, want Faulted newest", log)
	}
}
