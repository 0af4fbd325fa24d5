package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
)

// TestPasswordRotation: POST /chargers/{id}/password through the whole service, with strict
// stations of both versions: the new password reaches the station in its protocol's form,
// both passwords log in until the station uses the new one, a refusal keeps the old one, and
// a generated password is shown once.
func TestPasswordRotation(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	const old = "the-old-password-16"
	login := func(id, password, proto string) error {
		t.Helper()
		p := ocpppeer.Start(t)
		defer p.Close()
		_, err := p.Connect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: password, Protocols: []string{proto}})
		return err
	}
	connect := func(id, password, proto string) *ocpppeer.Peer {
		t.Helper()
		p := ocpppeer.Start(t)
		p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: password, Protocols: []string{proto}})
		return p
	}
	type answer struct {
		ChargeBoxID, Status, Message, Password string
	}

	t.Run("Accepted16", func(t *testing.T) {
		e.station("PW-16", old, 1)
		p := connect("PW-16", old, "ocpp1.6")
		p.OnCall("ChangeConfiguration", map[string]any{"status": "Accepted"})
		var a answer
		e.must("POST", "/api/v1/chargers/PW-16/password", map[string]any{}, 200, &a)
		if a.Status != "Accepted" || len(a.Password) != 20 {
			t.Fatalf("answer %+v, want Accepted with a generated 20-character password", a)
		}
		got := p.WaitReceived("ChangeConfiguration", 1)[0].Params
		if want := `"value":"` + hex.EncodeToString([]byte(a.Password)) + `"`; !strings.Contains(string(got), `"key":"AuthorizationKey"`) || !strings.Contains(string(got), want) {
			t.Errorf("station received %s, want AuthorizationKey with the password in hex", got)
		}
		p.Close()
		// Until the station logs in with the new password, the old one still works.
		if err := login("PW-16", old, "ocpp1.6"); err != nil {
			t.Fatalf("old password before the station used the new one: %v", err)
		}
		if err := login("PW-16", a.Password, "ocpp1.6"); err != nil {
			t.Fatalf("new password: %v", err)
		}
		if err := login("PW-16", old, "ocpp1.6"); !refused(err, 401) {
			t.Fatalf("old password after the station used the new one: %v, want 401", err)
		}
		// The generated password is never shown again, and the message log hides it.
		_, body := e.do("GET", "/api/v1/chargestations/PW-16/messages", nil)
		for _, secret := range []string{a.Password, hex.EncodeToString([]byte(a.Password))} {
			if strings.Contains(string(body), secret) {
				t.Errorf("the message log shows the new password: %s", body)
			}
		}
	})

	t.Run("Rejected201", func(t *testing.T) {
		e.station("PW-201", old, 1)
		p := connect("PW-201", old, "ocpp2.0.1")
		p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"model": "M", "vendorName": "V"}})
		p.OnCall("SetVariables", map[string]any{"setVariableResult": []any{map[string]any{"attributeStatus": "Rejected",
			"component": map[string]any{"name": "SecurityCtrlr"}, "variable": map[string]any{"name": "BasicAuthPassword"}}}})
		const chosen = "a-chosen-password-of-32-characte"
		var a answer
		e.must("POST", "/api/v1/chargers/PW-201/password", map[string]any{"password": chosen}, 200, &a)
		if a.Status != "Rejected" || a.Password != "" {
			t.Fatalf("answer %+v, want Rejected and no password", a)
		}
		got := string(p.WaitReceived("SetVariables", 1)[0].Params)
		if !strings.Contains(got, `"BasicAuthPassword"`) || !strings.Contains(got, chosen) {
			t.Errorf("station received %s, want SetVariables SecurityCtrlr.BasicAuthPassword", got)
		}
		p.Close()
		if err := login("PW-201", chosen, "ocpp2.0.1"); !refused(err, 401) {
			t.Fatalf("refused password logs in: %v", err)
		}
		if err := login("PW-201", old, "ocpp2.0.1"); err != nil {
			t.Fatalf("old password after a refusal: %v", err)
		}
	})

	t.Run("RebootRequiredSettledByLogin", func(t *testing.T) {
		e.station("PW-RB", old, 1)
		p := connect("PW-RB", old, "ocpp1.6")
		p.OnCall("ChangeConfiguration", map[string]any{"status": "RebootRequired"})
		const chosen = "after-reboot-pass-1"
		var a answer
		e.must("POST", "/api/v1/chargers/PW-RB/password", map[string]any{"password": chosen}, 200, &a)
		if a.Status != "RebootRequired" || a.Password != "" {
			t.Fatalf("answer %+v, want RebootRequired and no password (it was not generated)", a)
		}
		p.Close()
		if err := login("PW-RB", old, "ocpp1.6"); err != nil {
			t.Fatalf("old password before the reboot: %v", err)
		}
		if err := login("PW-RB", chosen, "ocpp1.6"); err != nil {
			t.Fatalf("new password after the reboot: %v", err)
		}
		if err := login("PW-RB", old, "ocpp1.6"); !refused(err, 401) {
			t.Fatalf("old password once the new one was used: %v, want 401", err)
		}
	})

	t.Run("RefusedRequests", func(t *testing.T) {
		e.station("PW-BAD", old, 1)
		p := connect("PW-BAD", old, "ocpp1.6")
		defer p.Close()
		for _, body := range []map[string]any{{"password": "short"}, {"password": strings.Repeat("x", 21)}, {"password": "tab\tinside-the-password"}} {
			code, data := e.do("POST", "/api/v1/chargers/PW-BAD/password", body)
			if code != 422 || !strings.Contains(string(data), `"password"`) {
				t.Errorf("%v: %d %s, want 422 naming password", body, code, data)
			}
		}
		if got := p.Received("ChangeConfiguration"); len(got) != 0 {
			t.Errorf("station received %d ChangeConfiguration for refused requests", len(got))
		}
	})

	t.Run("NotConnected", func(t *testing.T) {
		e.station("PW-OFF", old, 1)
		const chosen = "never-sent-password"
		if code, data := e.do("POST", "/api/v1/chargers/PW-OFF/password", map[string]any{"password": chosen}); code != 409 {
			t.Fatalf("rotation of a station that is not connected: %d %s, want 409", code, data)
		}
		if err := login("PW-OFF", chosen, "ocpp1.6"); !refused(err, 401) {
			t.Fatalf("a password never sent logs in: %v", err)
		}
	})
}

func refused(err error, status int) bool {
	pe, ok := err.(*ocpppeer.Error)
	return ok && pe.HTTPStatus == status
}
