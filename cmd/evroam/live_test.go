package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// token makes a token of the root network through the API.
func (e *e2e) token(uid string, valid bool, expiry string) {
	e.t.Helper()
	body := map[string]any{"uid": uid, "type": "RFID", "contract_id": "NL-EVR-" + uid, "issuer": "EV Roam",
		"valid": valid, "whitelist": "ALLOWED", "group_id": "FLEET-7"}
	if expiry != "" {
		body["expiry_date"] = expiry
	}
	e.must("POST", "/api/v1/tokens", body, 201, nil)
}

// authorizeCase is one id token presented in Authorize and the answer a strict station must get.
type authorizeCase struct {
	idToken, wantStatus, wantGroup string
}

// TestAuthorizationFromTokens presents known, blocked, expired and unknown tokens from real
// strict stations of both versions, in Authorize and in the transaction messages, then turns
// on the network's accept_unknown_tokens.
func TestAuthorizationFromTokens(t *testing.T) {
	t.Parallel()
	for _, v := range e2eVersions {
		t.Run(v.subprotocol, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t)
			id := "AUTH-" + strings.ReplaceAll(v.subprotocol, ".", "")
			e.station(id, "", 0)
			e.token("04A1B2C3", true, "")
			e.token("BLOCKED-1", false, "")
			e.token("EXPIRED-1", true, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))

			p := ocpppeer.Start(t)
			p.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{
				map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"}}})
			p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Protocols: []string{v.subprotocol}})
			p.MustCall("BootNotification", v.boot)

			authorize := func(idToken string) (status, group string) {
				t.Helper()
				if v.subprotocol == "ocpp1.6" {
					var res struct {
						IDTagInfo struct {
							Status      string `json:"status"`
							ParentIDTag string `json:"parentIdTag"`
						} `json:"idTagInfo"`
					}
					json.Unmarshal(p.MustCall("Authorize", map[string]any{"idTag": idToken}), &res)
					return res.IDTagInfo.Status, res.IDTagInfo.ParentIDTag
				}
				var res struct {
					IDTokenInfo struct {
						Status       string `json:"status"`
						GroupIDToken struct {
							IDToken string `json:"idToken"`
						} `json:"groupIdToken"`
					} `json:"idTokenInfo"`
				}
				json.Unmarshal(p.MustCall("Authorize", map[string]any{"idToken": map[string]any{"idToken": idToken, "type": "ISO14443"}}), &res)
				return res.IDTokenInfo.Status, res.IDTokenInfo.GroupIDToken.IDToken
			}
			for _, c := range []authorizeCase{
				{"04a1b2c3", "Accepted", "FLEET-7"}, // RFID uids match whatever the case
				{"BLOCKED-1", "Blocked", "FLEET-7"},
				{"EXPIRED-1", "Expired", "FLEET-7"},
				{"NEVER-SEEN", "Invalid", ""},
			} {
				if status, group := authorize(c.idToken); status != c.wantStatus || group != c.wantGroup {
					t.Errorf("Authorize %s = %s (group %q), want %s (group %q)", c.idToken, status, group, c.wantStatus, c.wantGroup)
				}
			}

			// The transaction messages carry the same decision.
			now := time.Now().UTC().Format(time.RFC3339)
			if v.subprotocol == "ocpp1.6" {
				var res struct {
					TransactionID int `json:"transactionId"`
					IDTagInfo     struct {
						Status string `json:"status"`
					} `json:"idTagInfo"`
				}
				json.Unmarshal(p.MustCall("StartTransaction", map[string]any{"connectorId": 1, "idTag": "BLOCKED-1", "meterStart": 0, "timestamp": now}), &res)
				if res.IDTagInfo.Status != "Blocked" || res.TransactionID == 0 {
					t.Errorf("StartTransaction with a blocked tag answered %+v", res)
				}
				var stop struct {
					IDTagInfo struct {
						Status string `json:"status"`
					} `json:"idTagInfo"`
				}
				json.Unmarshal(p.MustCall("StopTransaction", map[string]any{"transactionId": res.TransactionID, "idTag": "04A1B2C3",
					"meterStop": 10, "timestamp": now, "reason": "DeAuthorized"}), &stop)
				if stop.IDTagInfo.Status != "Accepted" {
					t.Errorf("StopTransaction with a known tag answered %+v", stop)
				}
			} else {
				var res struct {
					IDTokenInfo struct {
						Status string `json:"status"`
					} `json:"idTokenInfo"`
				}
				json.Unmarshal(p.MustCall("TransactionEvent", map[string]any{"eventType": "Started", "timestamp": now,
					"triggerReason": "Authorized", "seqNo": 0, "transactionInfo": map[string]any{"transactionId": "tx-1"},
					"evse":    map[string]any{"id": 1, "connectorId": 1},
					"idToken": map[string]any{"idToken": "EXPIRED-1", "type": "ISO14443"}}), &res)
				if res.IDTokenInfo.Status != "Expired" {
					t.Errorf("TransactionEvent with an expired token answered %+v", res)
				}
			}

			// Free vend: the network accepts tokens it does not know; every node hears of it.
			var nets []struct {
				ID string `json:"id"`
			}
			e.must("GET", "/api/v1/networks", nil, 200, &nets)
			e.must("PATCH", "/api/v1/networks/"+nets[0].ID, map[string]any{"accept_unknown_tokens": true}, 200, nil)
			eventually(t, "unknown tokens accepted", func() error {
				if status, _ := authorize("NEVER-SEEN"); status != "Accepted" {
					return errors.New("NEVER-SEEN is " + status)
				}
				return nil
			})
			if status, _ := authorize("BLOCKED-1"); status != "Blocked" {
				t.Errorf("a blocked token must stay blocked when unknown ones are accepted: %s", status)
			}
		})
	}
}

type liveEVSE struct {
	UID            string  `json:"uid"`
	Status         string  `json:"status"`
	OCPPStatus     *string `json:"ocpp_status"`
	FriendlyStatus string  `json:"friendly_status"`
}

type liveStation struct {
	Status             string     `json:"status"`
	HasFault           bool       `json:"has_fault"`
	ConnectivityStatus *string    `json:"connectivity_status"`
	EVSEs              []liveEVSE `json:"evses"`
}

func (e *e2e) live(id string) liveStation {
	e.t.Helper()
	e.followed()
	var s liveStation
	e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &s)
	return s
}

func friendly(s liveStation) []string {
	var out []string
	for _, ev := range s.EVSEs {
		out = append(out, ev.Status+"/"+ev.FriendlyStatus)
	}
	return out
}

// TestLiveStatus follows a station of each version through a fault next to a charge, the
// 2.0.1 charging state, going offline and coming back, through the REST API.
func TestLiveStatus(t *testing.T) {
	t.Parallel()
	for _, v := range e2eVersions {
		t.Run(v.subprotocol, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t)
			id := "LIVE-" + strings.ReplaceAll(v.subprotocol, ".", "")
			e.station(id, "", 0)
			e.station(id+"-OK", "", 0) // never faulted: the filter must leave it out

			p := ocpppeer.Start(t)
			p.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{
				map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"}}})
			connect := func() {
				p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Protocols: []string{v.subprotocol}})
				p.MustCall("BootNotification", v.boot)
			}
			connect()
			faulted := v.status(1, "Faulted")
			if v.subprotocol == "ocpp1.6" {
				faulted["errorCode"] = "GroundFailure"
			}
			p.MustCall("StatusNotification", faulted)
			p.MustCall("StatusNotification", v.status(2, v.ocppStatus))

			s := e.live(id)
			if want := []string{"OUTOFORDER/Faulted", "CHARGING/Charging"}; !slices.Equal(friendly(s), want) {
				t.Errorf("EVSEs read %v, want %v", friendly(s), want)
			}
			// The aggregate shows the most usable EVSE; has_fault shows the fault.
			if s.Status != "CHARGING" || !s.HasFault {
				t.Errorf("station status %s, has_fault %v: want CHARGING and true", s.Status, s.HasFault)
			}
			var list []struct {
				ID string `json:"charge_station_id"`
			}
			e.must("GET", "/api/v1/chargestations?has_fault=true", nil, 200, &list)
			if len(list) != 1 || list[0].ID != id {
				t.Errorf("has_fault=true lists %+v, want only %s", list, id)
			}
			e.must("GET", "/api/v1/chargestations?has_fault=false", nil, 200, &list)
			if len(list) != 1 || list[0].ID != id+"-OK" {
				t.Errorf("has_fault=false lists %+v, want only %s-OK", list, id)
			}
			if code, _ := e.do("GET", "/api/v1/chargestations?has_fault=maybe", nil); code != 400 {
				t.Errorf("has_fault=maybe: status %d, want 400", code)
			}

			type logEntry struct {
				EVSE      int    `json:"evse_sequence_number"`
				Connector int    `json:"connector_id"`
				OCPP      string `json:"ocpp_status"`
				Status    string `json:"status"`
				Friendly  string `json:"friendly_status"`
			}
			var log []logEntry
			e.must("GET", "/api/v1/chargestations/"+id+"/status-log", nil, 200, &log)
			if len(log) != 2 || log[1].EVSE != 1 || log[1].Connector != 1 || log[1].Friendly != "Faulted" {
				t.Errorf("status log = %+v, want the Faulted report of connector 1 (newest first)", log)
			}

			if v.subprotocol == "ocpp2.0.1" {
				// Occupied says nothing of the energy: the transaction's charging state does.
				for _, c := range []struct{ state, want string }{
					{"SuspendedEV", "Done or paused"}, {"SuspendedEVSE", "Charging paused"}, {"Charging", "Charging"},
				} {
					p.MustCall("TransactionEvent", map[string]any{"eventType": "Updated", "timestamp": time.Now().UTC().Format(time.RFC3339),
						"triggerReason": "ChargingStateChanged", "seqNo": 1,
						"transactionInfo": map[string]any{"transactionId": "tx-live", "chargingState": c.state},
						"evse":            map[string]any{"id": 2, "connectorId": 1}})
					if got := e.live(id).EVSEs[1].FriendlyStatus; got != c.want {
						t.Errorf("chargingState %s: EVSE 2 reads %q, want %q", c.state, got, c.want)
					}
				}
				// A later event names only the transaction; it still finds the EVSE.
				p.MustCall("TransactionEvent", map[string]any{"eventType": "Updated", "timestamp": time.Now().UTC().Format(time.RFC3339),
					"triggerReason": "ChargingStateChanged", "seqNo": 2,
					"transactionInfo": map[string]any{"transactionId": "tx-live", "chargingState": "SuspendedEV"}})
				if got := e.live(id).EVSEs[1].FriendlyStatus; got != "Done or paused" {
					t.Errorf("event without evse: EVSE 2 reads %q, want Done or paused", got)
				}
			}

			// Offline: every EVSE reads UNKNOWN / Offline, in the station, the EVSE and the
			// location, and the status log says so.
			p.Close()
			eventually(t, "station offline", func() error {
				if s := e.live(id); str(s.ConnectivityStatus) != "Offline" {
					return errors.New("connectivity " + str(s.ConnectivityStatus))
				}
				return nil
			})
			s = e.live(id)
			if want := []string{"UNKNOWN/Offline", "UNKNOWN/Offline"}; !slices.Equal(friendly(s), want) || s.Status != "UNKNOWN" {
				t.Errorf("offline station reads %s with EVSEs %v, want UNKNOWN and %v", s.Status, friendly(s), want)
			}
			if s.EVSEs[0].OCPPStatus == nil || *s.EVSEs[0].OCPPStatus != "Faulted" || !s.HasFault {
				t.Errorf("offline: the last reported status must stay readable: %+v, has_fault %v", s.EVSEs[0], s.HasFault)
			}
			var one liveEVSE
			e.must("GET", "/api/v1/chargestations/"+id+"/evses/"+s.EVSEs[1].UID, nil, 200, &one)
			if one.Status != "UNKNOWN" || one.FriendlyStatus != schema.FriendlyOffline {
				t.Errorf("EVSE endpoint of an offline station: %+v", one)
			}
			e.must("GET", "/api/v1/chargestations/"+id+"/status-log", nil, 200, &log)
			if len(log) < 4 || log[0].Friendly != "Offline" || log[1].Friendly != "Offline" || log[0].Status != "UNKNOWN" {
				t.Errorf("status log after going offline = %+v", log)
			}

			// Back: the statuses return.
			connect()
			eventually(t, "station back online", func() error {
				if got := friendly(e.live(id)); got[0] != "OUTOFORDER/Faulted" {
					return fmt.Errorf("EVSEs read %v", got)
				}
				return nil
			})
			e.must("GET", "/api/v1/chargestations/"+id+"/status-log", nil, 200, &log)
			if len(log) < 6 || log[0].Friendly == "Offline" || log[1].Friendly != "Faulted" {
				t.Errorf("status log after coming back = %+v", log)
			}
		})
	}
}

// TestStatusFriendlySQLMatchesGo keeps migration 0022's evse_friendly_status (status-log
// entries written by the connectivity trigger) in step with schema.EVSEFriendlyStatus.
func TestStatusFriendlySQLMatchesGo(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	states := []string{"", "Charging", "EVConnected", "SuspendedEV", "SuspendedEVSE", "Idle"}
	statuses := []string{"", "bogus"}
	for _, c := range schema.ConnectorStatuses() {
		statuses = append(statuses, string(c))
	}
	for _, st := range statuses {
		for _, cs := range states {
			var got string
			if err := e.app.db.Get(&got, `SELECT evse_friendly_status(NULLIF($1, ''), NULLIF($2, ''))`, st, cs); err != nil {
				t.Fatal(err)
			}
			if want := schema.EVSEFriendlyStatus(st, cs); got != want {
				t.Errorf("evse_friendly_status(%q, %q) = %q, Go says %q", st, cs, got, want)
			}
		}
	}
}

// TestRemoteStartAndStop starts and stops a charge from the API on real strict stations of
// both versions through the whole service: the station gets the command, starts with the
// token it was given, and the token (registered) is Accepted when the station presents it.
func TestRemoteStartAndStop(t *testing.T) {
	t.Parallel()
	for _, v := range e2eVersions {
		t.Run(v.subprotocol, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t)
			id := "REMOTE-" + strings.ReplaceAll(v.subprotocol, ".", "")
			e.station(id, "", 0)
			e.token("APPUSER42", true, "")

			p := ocpppeer.Start(t)
			p.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{
				map[string]any{"key": "HeartbeatInterval", "readonly": false, "value": "300"}}})
			p.OnCall("RemoteStartTransaction", map[string]any{"status": "Accepted"})
			p.OnCall("RequestStartTransaction", map[string]any{"status": "Accepted"})
			p.OnCall("RemoteStopTransaction", map[string]any{"status": "Accepted"})
			p.OnCall("RequestStopTransaction", map[string]any{"status": "Accepted"})
			p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Protocols: []string{v.subprotocol}})
			p.MustCall("BootNotification", v.boot)

			var started struct {
				Status        string `json:"status"`
				RemoteStartID int    `json:"remoteStartId"`
			}
			e.must("POST", "/api/v1/chargers/"+id+"/start", map[string]any{"connectorId": 2, "idTag": "APPUSER42"}, 200, &started)
			if started.Status != "accepted" {
				t.Fatalf("remote start answered %+v", started)
			}
			now := time.Now().UTC().Format(time.RFC3339)
			var txID string
			if v.subprotocol == "ocpp1.6" {
				call := p.WaitReceived("RemoteStartTransaction", 1)[0]
				if !strings.Contains(string(call.Params), `"idTag":"APPUSER42"`) || !strings.Contains(string(call.Params), `"connectorId":2`) {
					t.Errorf("RemoteStartTransaction = %s", call.Params)
				}
				var res struct {
					TransactionID int `json:"transactionId"`
					IDTagInfo     struct {
						Status string `json:"status"`
					} `json:"idTagInfo"`
				}
				json.Unmarshal(p.MustCall("StartTransaction", map[string]any{"connectorId": 2, "idTag": "APPUSER42", "meterStart": 0, "timestamp": now}), &res)
				if res.IDTagInfo.Status != "Accepted" {
					t.Errorf("StartTransaction of the remote start: %+v", res)
				}
				txID = fmt.Sprint(res.TransactionID)
			} else {
				call := p.WaitReceived("RequestStartTransaction", 1)[0]
				var params struct {
					EVSEID        int `json:"evseId"`
					RemoteStartID int `json:"remoteStartId"`
					IDToken       struct {
						IDToken string `json:"idToken"`
					} `json:"idToken"`
				}
				json.Unmarshal(call.Params, &params)
				if params.EVSEID != 2 || params.IDToken.IDToken != "APPUSER42" || params.RemoteStartID != started.RemoteStartID {
					t.Errorf("RequestStartTransaction = %s, answer remoteStartId %d", call.Params, started.RemoteStartID)
				}
				var res struct {
					IDTokenInfo struct {
						Status string `json:"status"`
					} `json:"idTokenInfo"`
				}
				json.Unmarshal(p.MustCall("TransactionEvent", map[string]any{"eventType": "Started", "timestamp": now,
					"triggerReason": "RemoteStart", "seqNo": 0, "transactionInfo": map[string]any{"transactionId": "tx-remote",
						"chargingState": "Charging", "remoteStartId": params.RemoteStartID},
					"evse": map[string]any{"id": 2, "connectorId": 1}, "idToken": map[string]any{"idToken": "APPUSER42", "type": "Central"}}), &res)
				if res.IDTokenInfo.Status != "Accepted" {
					t.Errorf("TransactionEvent of the remote start: %+v", res)
				}
				txID = "tx-remote"
			}

			var stopped struct {
				Status        string `json:"status"`
				TransactionID string `json:"transactionId"`
			}
			e.must("POST", "/api/v1/chargers/"+id+"/stop", map[string]any{"transactionId": txID}, 200, &stopped)
			if stopped.Status != "accepted" || stopped.TransactionID != txID {
				t.Errorf("remote stop answered %+v", stopped)
			}
			action := "RemoteStopTransaction"
			if v.subprotocol == "ocpp2.0.1" {
				action = "RequestStopTransaction"
			}
			if call := p.WaitReceived(action, 1)[0]; !strings.Contains(string(call.Params), txID) {
				t.Errorf("%s = %s, want transaction %s", action, call.Params, txID)
			}
			// Another network's key cannot start a charge here.
			if code, _ := e.doKey(e.otherKey(), "POST", "/api/v1/chargers/"+id+"/start", map[string]any{"idTag": "APPUSER42"}); code != 404 {
				t.Errorf("start with another network's key: %d, want 404", code)
			}
		})
	}
}

// otherKey returns the key of a new sub-network of the root, which sees none of the root's
// stations.
func (e *e2e) otherKey() string {
	e.t.Helper()
	var n struct {
		ID uuid.UUID `json:"id"`
	}
	e.must("POST", "/api/v1/networks", map[string]any{"name": "other", "country_code": "NL", "party_id": "OTH"}, 201, &n)
	key, err := networks.NewStore(e.app.db).CreateKey(e.t.Context(), n.ID, "other", false)
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

// doKey is do with another API key.
func (e *e2e) doKey(key, method, path string, body any) (int, []byte) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.api+path, bytes.NewReader(b))
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}
