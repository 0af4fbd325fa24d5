package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
)

// TestSecurityProfileUpgrade: POST /chargers/{id}/security-profile through `evroam serve`
// with TLS, with strict stations of both versions. The station is told in its protocol's way;
// the registry's security_profile changes only when the station has reconnected with the new
// profile, and from then on the old one is refused; a station that refuses keeps its profile
// and the failure shows on it.
func TestSecurityProfileUpgrade(t *testing.T) {
	t.Parallel()
	srv := startTLSServe(t)
	trust := &ocpppeer.TLSOptions{CAPEM: string(srv.serverCA.CertPEM)}
	const password = "a-long-station-password"
	type station struct {
		SecurityProfile        int     `json:"security_profile"`
		SecurityProfilePending *int    `json:"security_profile_pending"`
		SecurityProfileError   *string `json:"security_profile_error"`
	}
	get := func(id string) station {
		t.Helper()
		var st station
		getJSON(t, srv.api+"/chargestations/"+id, srv.key, &st)
		return st
	}
	command := func(id, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.api+"/chargers/"+id+"/security-profile", strings.NewReader(body))
		req.Header.Set("X-API-Key", srv.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	connect := func(p *ocpppeer.Peer, id, url string, tls *ocpppeer.TLSOptions, proto string) error {
		_, err := p.Connect(ocpppeer.ConnectOptions{URL: url, Identity: id, Password: password, TLS: tls, Protocols: []string{proto}})
		return err
	}
	t.Run("OCPP16", func(t *testing.T) {
		srv.station(`{"charge_station_id": "UP-16", "security_profile": 1, "ocpp_password": "` + password + `"`)
		p := ocpppeer.Start(t)
		p.OnCall("ChangeConfiguration", map[string]any{"status": "Accepted"})
		if err := connect(p, "UP-16", srv.ws, nil, "ocpp1.6"); err != nil {
			t.Fatal(err)
		}
		if code, out := command("UP-16", `{"profile": 2}`); code != 200 || out["status"] != "Accepted" {
			t.Fatalf("security-profile: %d %v", code, out)
		}
		if got := string(p.WaitReceived("ChangeConfiguration", 1)[0].Params); !strings.Contains(got, `"SecurityProfile"`) || !strings.Contains(got, `"2"`) {
			t.Errorf("station received %s, want ChangeConfiguration SecurityProfile 2", got)
		}
		if st := get("UP-16"); st.SecurityProfile != 1 || st.SecurityProfilePending == nil || *st.SecurityProfilePending != 2 {
			t.Errorf("before the reconnect: %+v, want profile 1 with 2 pending", st)
		}
		p.Close()
		// Reconnecting over TLS completes it; the plain connection is refused from then on.
		if err := connect(p, "UP-16", srv.wss, trust, "ocpp1.6"); err != nil {
			t.Fatalf("reconnect with profile 2: %v", err)
		}
		p.Close()
		deadline := time.Now().Add(20 * time.Second)
		for st := get("UP-16"); st.SecurityProfile != 2 || st.SecurityProfilePending != nil; st = get("UP-16") {
			if time.Now().After(deadline) {
				t.Fatalf("after the reconnect: %+v, want profile 2, none pending", st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := connect(p, "UP-16", srv.ws, nil, "ocpp1.6"); !refused(err, 403) {
			t.Errorf("plain connection after the upgrade: %v, want 403", err)
		}
		// A profile is only raised.
		if code, out := command("UP-16", `{"profile": 2}`); code != 422 || !strings.Contains(toJSON(out), `"profile"`) {
			t.Errorf("same profile again: %d %v, want 422 naming profile", code, out)
		}
	})

	t.Run("OCPP201", func(t *testing.T) {
		srv.station(`{"charge_station_id": "UP-201", "security_profile": 1, "ocpp_password": "` + password + `"`)
		p := ocpppeer.Start(t)
		p.DeviceModel(map[string]string{"OCPPCommCtrlr.NetworkConfigurationPriority": "1"})
		p.OnCall("SetNetworkProfile", map[string]any{"status": "Accepted"})
		p.OnCall("SetVariables", map[string]any{"setVariableResult": []any{map[string]any{"attributeStatus": "Accepted",
			"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "NetworkConfigurationPriority"}}}})
		p.OnCall("Reset", map[string]any{"status": "Scheduled"})
		if err := connect(p, "UP-201", srv.ws, nil, "ocpp2.0.1"); err != nil {
			t.Fatal(err)
		}
		if code, out := command("UP-201", `{"profile": 2}`); code != 200 || out["status"] != "Accepted" {
			t.Fatalf("security-profile: %d %v", code, out)
		}
		var profile struct {
			ConfigurationSlot int `json:"configurationSlot"`
			ConnectionData    struct {
				OCPPCsmsURL     string `json:"ocppCsmsUrl"`
				SecurityProfile int    `json:"securityProfile"`
			} `json:"connectionData"`
		}
		_ = json.Unmarshal(p.WaitReceived("SetNetworkProfile", 1)[0].Params, &profile)
		if profile.ConfigurationSlot != 2 || profile.ConnectionData.SecurityProfile != 2 || profile.ConnectionData.OCPPCsmsURL != srv.wss {
			t.Errorf("SetNetworkProfile %+v, want slot 2, profile 2 and %s", profile, srv.wss)
		}
		if got := string(p.WaitReceived("SetVariables", 1)[0].Params); !strings.Contains(got, `"attributeValue":"2,1"`) {
			t.Errorf("SetVariables %s, want NetworkConfigurationPriority 2,1", got)
		}
		if got := string(p.WaitReceived("Reset", 1)[0].Params); !strings.Contains(got, `"OnIdle"`) {
			t.Errorf("Reset %s, want OnIdle", got)
		}
		p.Close()
		if err := connect(p, "UP-201", srv.wss, trust, "ocpp2.0.1"); err != nil {
			t.Fatalf("reconnect with profile 2: %v", err)
		}
		p.Close()
		deadline := time.Now().Add(20 * time.Second)
		for st := get("UP-201"); st.SecurityProfile != 2; st = get("UP-201") {
			if time.Now().After(deadline) {
				t.Fatalf("after the reconnect: %+v, want profile 2", st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		srv.station(`{"charge_station_id": "UP-NO", "security_profile": 1, "ocpp_password": "` + password + `"`)
		p := ocpppeer.Start(t)
		p.DeviceModel(map[string]string{"OCPPCommCtrlr.NetworkConfigurationPriority": "1"})
		p.OnCall("SetNetworkProfile", map[string]any{"status": "Rejected"})
		if err := connect(p, "UP-NO", srv.ws, nil, "ocpp2.0.1"); err != nil {
			t.Fatal(err)
		}
		if code, out := command("UP-NO", `{"profile": 3}`); code != 200 || out["status"] != "Rejected" {
			t.Fatalf("security-profile refused by the station: %d %v, want 200 Rejected", code, out)
		}
		st := get("UP-NO")
		if st.SecurityProfile != 1 || st.SecurityProfilePending != nil || st.SecurityProfileError == nil ||
			!strings.Contains(*st.SecurityProfileError, "SetNetworkProfile") {
			t.Errorf("after the refusal: %+v, want profile 1, none pending, the error named", st)
		}
		if len(p.Received("Reset")) != 0 {
			t.Error("the station was reset after refusing the network profile")
		}
		p.Close()
		if err := connect(p, "UP-NO", srv.ws, nil, "ocpp2.0.1"); err != nil {
			t.Errorf("old profile after a refused upgrade: %v", err)
		}
		p.Close()
	})

	t.Run("NoPassword", func(t *testing.T) {
		srv.station(`{"charge_station_id": "UP-OPEN", "security_profile": 0`)
		p := ocpppeer.Start(t)
		if _, err := p.Connect(ocpppeer.ConnectOptions{URL: srv.ws, Identity: "UP-OPEN", Protocols: []string{"ocpp1.6"}}); err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if code, out := command("UP-OPEN", `{"profile": 2}`); code != 422 || !strings.Contains(toJSON(out), "ocpp_password") {
			t.Errorf("profile 2 without a password: %d %v, want 422 naming profile and ocpp_password", code, out)
		}
		if code, out := command("UP-OPEN", `{"profile": 4}`); code != 422 || !strings.Contains(toJSON(out), `"profile"`) {
			t.Errorf("profile 4: %d %v, want 422", code, out)
		}
	})
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
