package ocpp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait in these tests. It is a safety net against hangs, not a
// timing assertion.
const waitTimeout = 20 * time.Second

type testEnv struct {
	srv *ocpp.Server
	reg *ocpptest.Registry
	url string // ws://127.0.0.1:port/ocpp
}

func testLogger() *slog.Logger {
	if os.Getenv("EVROAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEnv starts the real gateway on a loopback port with a fake registry.
func newEnv(t *testing.T, cfg ocpp.Config) *testEnv {
	t.Helper()
	reg := ocpptest.New()
	if cfg.MessageLogFlushInterval == 0 {
		cfg.MessageLogFlushInterval = 20 * time.Millisecond
	}
	if cfg.HeartbeatFlushInterval == 0 {
		cfg.HeartbeatFlushInterval = 20 * time.Millisecond
	}
	if cfg.BootTriggerDelay == 0 {
		cfg.BootTriggerDelay = 100 * time.Millisecond
	}
	cfg.ValidateOwnAnswers = true
	srv := ocpp.NewServer(cfg, reg, testLogger())
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		hs.Close()
	})
	return &testEnv{srv: srv, reg: reg, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp"}
}

// version describes one protocol version for tests run against both.
type version struct {
	name     string // subprotocol
	proto    string // ocpp.ProtocolOCPP16 / 201
	boot     map[string]any
	wantBoot ocpp.BootInfo
	status   map[string]any
	want     ocpp.StatusReport
	format   string // FormationViolation / FormatViolation
	// occurrence is the code for a missing required field, badType for an unknown
	// message type id.
	occurrence, badType string
	// badPayloads are [raw frame, expected answer prefix] pairs specific to the version.
	badPayloads [][2]string
}

var versions = []version{
	{
		name:  "ocpp1.6",
		proto: ocpp.ProtocolOCPP16,
		boot: map[string]any{
			"chargePointVendor": "TestVendor", "chargePointModel": "TestModel", "chargePointSerialNumber": "SN-0001",
			"chargeBoxSerialNumber": "CB-0001", "firmwareVersion": "1.2.3", "iccid": "8931000000000000000",
			"imsi": "262010000000000", "meterType": "ACME-M1", "meterSerialNumber": "M-42",
		},
		wantBoot: ocpp.BootInfo{Vendor: "TestVendor", Model: "TestModel", ChargePointSerialNumber: "SN-0001",
			ChargeBoxSerialNumber: "CB-0001", FirmwareVersion: "1.2.3", ICCID: "8931000000000000000",
			IMSI: "262010000000000", MeterType: "ACME-M1", MeterSerialNumber: "M-42"},
		status: map[string]any{"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted",
			"info": "earth leak", "vendorId": "acme", "vendorErrorCode": "E42", "timestamp": "2025-01-02T03:04:05.000Z"},
		want: ocpp.StatusReport{EVSESequence: 2, ConnectorID: 2, OCPPStatus: "Faulted", ErrorCode: "GroundFailure", Info: "earth leak",
			VendorID: "acme", VendorErrorCode: "E42", Timestamp: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		format:     "FormationViolation",
		occurrence: "OccurenceConstraintViolation",
		badType:    "", // 1.6 ignores unknown message types
		badPayloads: [][2]string{
			{`[2,"t1","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]`, `[4,"t1","TypeConstraintViolation"`},
			{`[2,"t2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}]`, `[4,"t2","PropertyConstraintViolation"`},
		},
	},
	{
		name:  "ocpp2.0.1",
		proto: ocpp.ProtocolOCPP201,
		boot: map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{
			"model": "TestModel", "vendorName": "A Vendor Name Longer Than Twenty", "serialNumber": "SN-0001",
			"firmwareVersion": "1.2.3", "modem": map[string]any{"iccid": "8931000000000000000", "imsi": "262010000000000"}}},
		wantBoot: ocpp.BootInfo{Vendor: "A Vendor Name Longer Than Twenty", Model: "TestModel", ChargePointSerialNumber: "SN-0001",
			FirmwareVersion: "1.2.3", ICCID: "8931000000000000000", IMSI: "262010000000000", Reason: "PowerUp"},
		status: map[string]any{"timestamp": "2025-01-02T03:04:05.000Z", "connectorStatus": "Occupied", "evseId": 2, "connectorId": 1},
		want: ocpp.StatusReport{EVSESequence: 2, ConnectorID: 1, OCPPStatus: "Occupied",
			Timestamp: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		format:     "FormatViolation",
		occurrence: "OccurrenceConstraintViolation",
		badType:    "MessageTypeNotSupported",
		badPayloads: [][2]string{
			{`[2,"t1","StatusNotification",{"timestamp":"2025-01-02T03:04:05Z","connectorStatus":"Available","evseId":"1","connectorId":1}]`, `[4,"t1","TypeConstraintViolation"`},
			{`[2,"t2","StatusNotification",{"timestamp":"2025-01-02T03:04:05Z","connectorStatus":"Charging","evseId":1,"connectorId":1}]`, `[4,"t2","PropertyConstraintViolation"`},
			{`[2,"t3","StatusNotification",{"timestamp":"yesterday","connectorStatus":"Available","evseId":1,"connectorId":1}]`, `[4,"t3","FormatViolation"`},
		},
	},
}

func (e *testEnv) connect(t *testing.T, p *ocpppeer.Peer, v version, identity, password string) {
	t.Helper()
	proto := p.MustConnect(ocpppeer.ConnectOptions{URL: e.url, Identity: identity, Password: password, Protocols: []string{v.name}})
	if proto != v.name {
		t.Fatalf("negotiated %q, want %q", proto, v.name)
	}
}

func TestBootHeartbeatStatus(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{HeartbeatInterval: 123 * time.Second, PublicURL: "wss://ocpp.example.com/ocpp"})
			e.reg.AddStation("CP-1", 1, "secret-password-1", false)
			p := ocpppeer.Start(t)
			p.OnCall("TriggerMessage", map[string]any{"status": "Accepted"})
			e.connect(t, p, v, "CP-1", "secret-password-1")

			res := p.MustCall("BootNotification", v.boot)
			var boot struct {
				Status      string `json:"status"`
				Interval    int    `json:"interval"`
				CurrentTime string `json:"currentTime"`
			}
			if err := json.Unmarshal(res, &boot); err != nil {
				t.Fatal(err)
			}
			if boot.Status != "Accepted" || boot.Interval != 123 {
				t.Errorf("BootNotification answer = %s, want Accepted with interval 123", res)
			}
			if _, err := time.Parse(time.RFC3339, boot.CurrentTime); err != nil {
				t.Errorf("currentTime %q: %v", boot.CurrentTime, err)
			}
			var got ocpp.BootInfo
			e.reg.Do(func(r *ocpptest.Registry) {
				if len(r.Boots) != 1 {
					t.Fatalf("RecordBoot called %d times, want 1", len(r.Boots))
				}
				got = r.Boots[0].Info
				if c := r.Connects; len(c) != 1 || c[0].ProtocolVersion != v.proto || c[0].Endpoint != "wss://ocpp.example.com/ocpp" || c[0].ClientIP != "127.0.0.1" {
					t.Errorf("RecordConnect = %+v", c)
				} else if got.Connection == 0 || got.Connection != c[0].Connection {
					// A registry that records connects on its own time waits for this one's.
					t.Errorf("BootInfo.Connection = %d, want the connection's number %d", got.Connection, c[0].Connection)
				}
			})
			if got.At.IsZero() || got.HeartbeatInterval != 123*time.Second {
				t.Errorf("BootInfo At/HeartbeatInterval = %v/%v", got.At, got.HeartbeatInterval)
			}
			got.At, got.HeartbeatInterval, got.Connection = time.Time{}, 0, 0
			if got != v.wantBoot {
				t.Errorf("RecordBoot got\n%+v\nwant\n%+v", got, v.wantBoot)
			}

			p.MustCall("Heartbeat", nil)
			e.reg.Wait(t, waitTimeout, "heartbeat flush", func(r *ocpptest.Registry) bool {
				return len(r.Heartbeats) == 1 && r.Heartbeats[0].Identity == "CP-1"
			})

			p.MustCall("StatusNotification", v.status)
			var st ocpp.StatusReport
			e.reg.Do(func(r *ocpptest.Registry) {
				if len(r.Statuses) != 1 {
					t.Fatalf("RecordStatus called %d times, want 1", len(r.Statuses))
				}
				st = r.Statuses[0]
			})
			if st.At.IsZero() {
				t.Error("StatusReport.At is zero")
			}
			st.At = time.Time{}
			want := v.want
			want.Identity = "CP-1"
			if st != want {
				t.Errorf("RecordStatus got\n%+v\nwant\n%+v", st, want)
			}
		})
	}
}

func TestUpgradeRefusals(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 1, "secret-password-1", true)
	tests := []struct {
		name     string
		identity string
		password string
		want     int
	}{
		{"UnknownIdentity", "NOPE", "secret-password-1", 404},
		{"InvalidIdentity", "a:b", "secret-password-1", 404},
		{"WrongPassword", "CP-1", "wrong-password-xx", 401},
		{"NoPassword", "CP-1", "", 401},
	}
	for _, v := range versions {
		for _, test := range tests {
			t.Run(v.name+"/"+test.name, func(t *testing.T) {
				p := ocpppeer.Start(t)
				_, err := p.Connect(ocpppeer.ConnectOptions{URL: e.url, Identity: test.identity, Password: test.password, Protocols: []string{v.name}})
				pe, ok := err.(*ocpppeer.Error)
				if !ok || pe.HTTPStatus != test.want {
					t.Fatalf("Connect error = %v, want HTTP %d", err, test.want)
				}
			})
		}
	}
}

func TestPasswordForms(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	// The Zaptec note: "AAAAAAAAAAAAAAAAAAAA" on our side, its hex form on the station.
	e.reg.AddStation("ZAP-1", 1, "AAAAAAAAAAAAAAAAAAAA", true)
	// The key was registered in its hex form; the station sends the decoded bytes.
	e.reg.AddStation("HEX-1", 1, "4142434445464748494A4B4C4D4E4F5051525354", true)
	e.reg.AddStation("OPEN-1", 0, "", true)
	tests := []struct {
		name     string
		opts     ocpppeer.ConnectOptions
		wantFail int
	}{
		{"Plain16", ocpppeer.ConnectOptions{Identity: "ZAP-1", Password: "AAAAAAAAAAAAAAAAAAAA"}, 0},
		{"HexText16", ocpppeer.ConnectOptions{Identity: "ZAP-1", Password: "4141414141414141414141414141414141414141"}, 0},
		{"HexTextLower16", ocpppeer.ConnectOptions{Identity: "ZAP-1", Password: strings.Repeat("41", 20)}, 0},
		{"RawBytesOfHexKey16", ocpppeer.ConnectOptions{Identity: "HEX-1", PasswordHex: "4142434445464748494A4B4C4D4E4F5051525354"}, 0},
		{"HexTextOfHexKey16", ocpppeer.ConnectOptions{Identity: "HEX-1", Password: "4142434445464748494A4B4C4D4E4F5051525354"}, 0},
		{"HexText201Refused", ocpppeer.ConnectOptions{Identity: "ZAP-1", Password: "4141414141414141414141414141414141414141",
			Protocols: []string{"ocpp2.0.1"}}, 401},
		{"WrongHex16", ocpppeer.ConnectOptions{Identity: "ZAP-1", Password: strings.Repeat("42", 20)}, 401},
		{"Profile0NoCredentials16", ocpppeer.ConnectOptions{Identity: "OPEN-1"}, 0},
		{"Profile0NoCredentials201", ocpppeer.ConnectOptions{Identity: "OPEN-1", Protocols: []string{"ocpp2.0.1"}}, 0},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			p := ocpppeer.Start(t)
			test.opts.URL = e.url
			if test.opts.Protocols == nil {
				test.opts.Protocols = []string{"ocpp1.6"}
			}
			_, err := p.Connect(test.opts)
			if test.wantFail == 0 {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				p.MustCall("Heartbeat", nil)
				return
			}
			if pe, ok := err.(*ocpppeer.Error); !ok || pe.HTTPStatus != test.wantFail {
				t.Fatalf("Connect error = %v, want HTTP %d", err, test.wantFail)
			}
		})
	}
}

func TestSubprotocolNegotiation(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	e.reg.AddStation("CP-2", 0, "", true)

	t.Run("PrefersNewest", func(t *testing.T) {
		p := ocpppeer.Start(t)
		proto := p.MustConnect(ocpppeer.ConnectOptions{URL: e.url, Identity: "CP-1", Protocols: []string{"ocpp1.6", "ocpp2.0.1"}})
		if proto != "ocpp2.0.1" {
			t.Errorf("negotiated %q, want ocpp2.0.1", proto)
		}
	})
	t.Run("NoneInCommon", func(t *testing.T) {
		p := ocpppeer.Start(t)
		_, err := p.Connect(ocpppeer.ConnectOptions{URL: e.url, Identity: "CP-2", Protocols: []string{"ocpp2.1"}})
		pe, ok := err.(*ocpppeer.Error)
		if !ok || pe.HTTPStatus != 0 || !strings.Contains(pe.Message, "no subprotocol") {
			t.Fatalf("Connect error = %v, want the client's 'Server sent no subprotocol'", err)
		}
		e.reg.Do(func(r *ocpptest.Registry) {
			if len(r.Events) == 0 || r.Events[len(r.Events)-1] != "LookupStation CP-2" {
				t.Errorf("registry calls after the refused socket's lookup: %v", r.Events)
			}
		})
	})
}

func TestMalformedFrames(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{})
			e.reg.AddStation("CP-1", 0, "", true)
			p := ocpppeer.Start(t)
			e.connect(t, p, v, "CP-1", "")

			tests := []struct {
				raw, wantPrefix string
			}{
				{`this is not json`, `[4,"-1","` + v.format + `"`},
				{`[2,"m1","Heartbeat"]`, `[4,"m1","` + v.format + `"`},
				{`[2,"m2","Heartbeat",[]]`, `[4,"m2","` + v.format + `"`},
				{`[2,17,"Heartbeat",{}]`, `[4,"-1","` + v.format + `"`},
				{`[2,"m3","NoSuchAction",{}]`, `[4,"m3","NotImplemented"`},
				// A field the schema does not define is ignored (tolerant reader, see doc.go);
				// a wrong value of a known one is not.
				{`[2,"m4","Heartbeat",{"extra":1}]`, `[3,"m4",`},
				{`[2,"m5","Authorize",{}]`, `[4,"m5","` + v.occurrence + `"`},
				// Text the registry cannot store: refused for this frame alone.
				{`[2,"m7","Heartbeat",{"x":"a\u0000b"}]`, `[4,"m7","` + v.format + `"`},
			}
			if v.badType != "" {
				tests = append(tests, struct{ raw, wantPrefix string }{`[5,"m6","Heartbeat",{}]`, `[4,"m6","` + v.badType + `"`})
			} else {
				p.SendRaw(`[5,"m6","Heartbeat",{}]`)
			}
			for _, test := range v.badPayloads {
				tests = append(tests, struct{ raw, wantPrefix string }{test[0], test[1]})
			}
			for _, test := range tests {
				p.SendRaw(test.raw)
				p.WaitFrame(false, test.wantPrefix)
			}
			// The connection is still up and serves a valid CALL.
			p.MustCall("Heartbeat", nil)
		})
	}
}

// TestUnstorableFrames: a frame with bytes that are not UTF-8 gets a CALLERROR for itself
// alone; nothing of it reaches the registry, and the connection serves the next frame.
func TestUnstorableFrames(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-U", 0, "", true)
	d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}}
	ws, _, err := d.Dial(e.url+"/CP-U", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	exchange := func(frame string) string {
		t.Helper()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	if got := exchange("[2,\"u1\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"Available\",\"info\":\"\xff\xfe\"}]"); !strings.HasPrefix(got, `[4,"u1","FormationViolation"`) {
		t.Errorf("frame with invalid UTF-8: answer %s, want FormationViolation", got)
	}
	if got := exchange(`[2,"u2","Heartbeat",{}]`); !strings.HasPrefix(got, `[3,"u2",`) {
		t.Errorf("next frame: answer %s, want a CALLRESULT", got)
	}
	e.reg.Do(func(r *ocpptest.Registry) {
		if len(r.Statuses) != 0 {
			t.Errorf("the refused StatusNotification reached the registry: %+v", r.Statuses)
		}
	})
}
