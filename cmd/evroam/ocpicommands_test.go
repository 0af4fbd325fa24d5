package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/ocpi/ocpitest"
	"github.com/google/uuid"
)

// ocpiCmd is an eMSP partner's view of evroam's OCPI interface in these tests.
type ocpiCmd struct {
	t     *testing.T
	e     *e2e
	emsp  *ocpitest.EMSP
	token string // the token the partner calls evroam with
}

// registerEMSP makes evroam register with a new eMSP test partner, with the admin key key
// ("" for the root admin key): the partner sees that key's network.
func registerEMSP(t *testing.T, e *e2e, key, partyID string) *ocpiCmd {
	t.Helper()
	emsp := ocpitest.NewEMSP(t, "DE", partyID)
	body := map[string]any{"name": "eMSP " + partyID, "versions_url": emsp.VersionsURL(), "token_a": emsp.TokenA}
	var partner struct {
		State       string `json:"state"`
		ModulesUsed []struct {
			Identifier string `json:"identifier"`
			Role       string `json:"role"`
		} `json:"modules_used"`
	}
	if key == "" {
		e.must("POST", "/api/v1/ocpi/partners", body, 201, &partner)
	} else {
		code, raw := e.doKey(key, "POST", "/api/v1/ocpi/partners", body)
		if code != 201 {
			t.Fatalf("register with the partner: %d %s", code, raw)
		}
		var env struct{ Data json.RawMessage }
		json.Unmarshal(raw, &env)
		json.Unmarshal(env.Data, &partner)
	}
	if partner.State != "REGISTERED" {
		t.Fatalf("partner state %s, want REGISTERED", partner.State)
	}
	// The admin API shows which of the partner's modules evroam uses: its credentials, and
	// its commands SENDER (the results of its commands).
	got := fmt.Sprint(partner.ModulesUsed)
	if got != "[{credentials RECEIVER} {commands SENDER}]" {
		t.Errorf("modules_used = %s, want credentials and commands", got)
	}
	return &ocpiCmd{t: t, e: e, emsp: emsp, token: emsp.Token()}
}

// call sends an OCPI request with the partner's token and returns the HTTP status and body.
func (o *ocpiCmd) call(method, path string, body any) (int, []byte) {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(o.t.Context(), method, o.e.api+path, rd)
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(o.token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// commandSchemas are the official schemas of each command's request body.
var commandSchemas = map[string]string{
	"START_SESSION": ocpitest.OASStartSession, "STOP_SESSION": ocpitest.OASStopSession,
	"UNLOCK_CONNECTOR": ocpitest.OASUnlockConnector, "RESERVE_NOW": ocpitest.OASReserveNow,
	"CANCEL_RESERVATION": ocpitest.OASCancelReservation,
}

// command POSTs command with body (its response_url set to a fresh one of the partner's) and
// returns the CommandResponse's result and the response_url's uid. The request and the
// answer are checked against the official schemas; want is the HTTP status expected.
func (o *ocpiCmd) command(command string, body map[string]any, want int) (result, uid string) {
	o.t.Helper()
	uid = uuid.NewString()
	body["response_url"] = o.emsp.ResponseURL(command, uid)
	b, _ := json.Marshal(body)
	ocpitest.MustMatch(o.t, commandSchemas[command], b)
	code, raw := o.call("POST", "/ocpi/2.2.1/commands/"+command, body)
	if code != want {
		o.t.Fatalf("POST %s: HTTP %d, want %d: %s", command, code, want, raw)
	}
	ocpitest.MustMatch(o.t, ocpitest.OASCommandResponse, raw)
	var env struct {
		Data struct {
			Result  string `json:"result"`
			Timeout int    `json:"timeout"`
		} `json:"data"`
	}
	json.Unmarshal(raw, &env)
	if env.Data.Result == "ACCEPTED" && env.Data.Timeout < 5 {
		o.t.Errorf("POST %s: timeout %d s, want at least the station's 5 s", command, env.Data.Timeout)
	}
	return env.Data.Result, uid
}

// result waits for the CommandResult of the command at uid.
func (o *ocpiCmd) result(command, uid string) string {
	o.t.Helper()
	return o.emsp.WaitResult(command, uid, 20*time.Second).Result
}

// token is an OCPI Token of the partner.
func token(uid string) map[string]any {
	return map[string]any{"country_code": "DE", "party_id": "EMA", "uid": uid, "type": "APP_USER", "contract_id": "DE-EMA-C12345678-X",
		"issuer": "Test eMSP", "valid": true, "whitelist": "ALLOWED", "last_updated": "2026-01-01T00:00:00Z"}
}

// evseStatus is the status of EVSE uid of location loc in the partner's Locations pull.
func (o *ocpiCmd) evseStatus(loc, uid string) string {
	o.t.Helper()
	code, raw := o.call("GET", "/ocpi/2.2.1/locations", nil)
	if code != 200 {
		o.t.Fatalf("Locations pull: %d %s", code, raw)
	}
	ocpitest.MustMatch(o.t, ocpitest.OASLocationList, raw)
	var env struct {
		Data []struct {
			ID    string `json:"id"`
			EVSEs []struct {
				UID    string `json:"uid"`
				Status string `json:"status"`
			} `json:"evses"`
		} `json:"data"`
	}
	json.Unmarshal(raw, &env)
	for _, l := range env.Data {
		for _, e := range l.EVSEs {
			if l.ID == loc && e.UID == uid {
				return e.Status
			}
		}
	}
	return "(not in the pull)"
}

func TestOCPICommands16(t *testing.T) {
	t.Parallel()
	testOCPICommands(t, "ocpp1.6")
}

func TestOCPICommands201(t *testing.T) {
	t.Parallel()
	testOCPICommands(t, "ocpp2.0.1")
}

// testOCPICommands runs the Commands module end to end with an eMSP test partner and a
// strict station of protocol proto: every command reaches the station as its OCPP CALL, and
// its result reaches the partner's response_url; a reserved EVSE reads RESERVED in the
// partner's Locations pull; a station that never answers gives TIMEOUT; a second partner
// cannot command the first's scope; bad bodies are 2001 naming every field.
func testOCPICommands(t *testing.T, proto string) {
	e := startE2E(t)
	id := "OCPI-CMD-" + strings.TrimPrefix(proto, "ocpp")
	e.station(id, "ocpi-commands-pw", 1)
	var st struct {
		LocationID string `json:"location_id"`
	}
	e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &st)
	loc, evse1, evse2 := st.LocationID, id+"-1", id+"-2"
	o := registerEMSP(t, e, "", "EMA")

	p := ocppStation(t, e, id, "ocpi-commands-pw", proto)
	v201 := proto == "ocpp2.0.1"
	if v201 {
		p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"vendorName": "Alfen", "model": "Eve"}})
	} else {
		p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	}
	status := func(evse int, s string) {
		if v201 {
			if s == "Charging" {
				s = "Occupied"
			}
			p.MustCall("StatusNotification", map[string]any{"timestamp": stamp(time.Now()), "connectorStatus": s, "evseId": evse, "connectorId": 1})
		} else {
			p.MustCall("StatusNotification", map[string]any{"connectorId": evse, "errorCode": "NoError", "status": s})
		}
	}
	waitStatus := func(uid, want string) {
		t.Helper()
		eventually(t, uid+" reads "+want+" in the Locations pull", func() error {
			if got := o.evseStatus(loc, uid); got != want {
				return fmt.Errorf("status %s", got)
			}
			return nil
		})
	}
	status(1, "Available")
	status(2, "Available")
	waitStatus(evse2, "AVAILABLE")

	// START_SESSION: the station gets the remote start with the token's uid, the partner
	// gets ACCEPTED at its response_url.
	startAction, stopAction := "RemoteStartTransaction", "RemoteStopTransaction"
	if v201 {
		startAction, stopAction = "RequestStartTransaction", "RequestStopTransaction"
	}
	p.OnCall(startAction, map[string]any{"status": "Accepted"})
	res, uid := o.command("START_SESSION", map[string]any{"token": token("APPUSER1"), "location_id": loc, "evse_uid": evse1}, 200)
	if res != "ACCEPTED" {
		t.Fatalf("START_SESSION response %s, want ACCEPTED", res)
	}
	if r := o.result("START_SESSION", uid); r != "ACCEPTED" {
		t.Errorf("START_SESSION result %s, want ACCEPTED", r)
	}
	got := p.WaitReceived(startAction, 1)[0].Params
	if !strings.Contains(string(got), `"APPUSER1"`) || !strings.Contains(string(got), `:1`) {
		t.Errorf("station received %s %s, want the token's uid on EVSE 1", startAction, got)
	}

	// The station starts the charge; STOP_SESSION names the session by its id.
	if v201 {
		p.MustCall("TransactionEvent", map[string]any{"eventType": "Started", "timestamp": stamp(time.Now()), "triggerReason": "RemoteStart",
			"seqNo": 0, "transactionInfo": map[string]any{"transactionId": "TX-OCPI-1", "chargingState": "Charging"},
			"evse": map[string]any{"id": 1, "connectorId": 1}, "idToken": map[string]any{"idToken": "APPUSER1", "type": "Central"}})
	} else {
		p.MustCall("StartTransaction", map[string]any{"connectorId": 1, "idTag": "APPUSER1", "meterStart": 1000, "timestamp": stamp(time.Now())})
	}
	var session string
	eventually(t, "the session is recorded", func() error {
		var list []sessionView
		e.must("GET", "/api/v1/chargestations/"+id+"/sessions", nil, 200, &list)
		if len(list) != 1 || list[0].Status != "ACTIVE" {
			return fmt.Errorf("sessions %+v", list)
		}
		session = list[0].ID
		return nil
	})
	// The token came with the command and is kept as the partner's: the session it started
	// is the partner's roaming session, in its Sessions pull.
	if code, body := o.call("GET", "/ocpi/2.2.1/tokens/DE/EMA/APPUSER1?type=APP_USER", nil); code != 200 || !strings.Contains(string(body), `"DE-EMA-C12345678-X"`) {
		t.Errorf("the START_SESSION token in the partner's Tokens: %d %s", code, body)
	}
	eventually(t, "the session in the partner's Sessions pull", func() error {
		if code, body := o.call("GET", "/ocpi/2.2.1/sessions", nil); code != 200 || !strings.Contains(string(body), `"`+session+`"`) {
			return fmt.Errorf("%d %.300s", code, body)
		}
		return nil
	})
	p.OnCall(stopAction, map[string]any{"status": "Accepted"})
	// A partner whose result POST fails at first still gets it: evroam tries again.
	o.emsp.FailResults(1)
	if res, uid = o.command("STOP_SESSION", map[string]any{"session_id": session}, 200); res != "ACCEPTED" {
		t.Fatalf("STOP_SESSION response %s, want ACCEPTED", res)
	}
	if r := o.result("STOP_SESSION", uid); r != "ACCEPTED" {
		t.Errorf("STOP_SESSION result %s, want ACCEPTED", r)
	}
	got = p.WaitReceived(stopAction, 1)[0].Params
	var session0 sessionView
	e.must("GET", "/api/v1/sessions/"+session, nil, 200, &session0)
	if !strings.Contains(string(got), session0.TransactionID) {
		t.Errorf("station received %s %s, want transaction %s", stopAction, got, session0.TransactionID)
	}
	if res, _ = o.command("STOP_SESSION", map[string]any{"session_id": uuid.NewString()}, 200); res != "UNKNOWN_SESSION" {
		t.Errorf("STOP_SESSION of an unknown session: %s, want UNKNOWN_SESSION", res)
	}

	// UNLOCK_CONNECTOR.
	p.OnCall("UnlockConnector", map[string]any{"status": "Unlocked"})
	if res, uid = o.command("UNLOCK_CONNECTOR", map[string]any{"location_id": loc, "evse_uid": evse2, "connector_id": "1"}, 200); res != "ACCEPTED" {
		t.Fatalf("UNLOCK_CONNECTOR response %s", res)
	}
	if r := o.result("UNLOCK_CONNECTOR", uid); r != "ACCEPTED" {
		t.Errorf("UNLOCK_CONNECTOR result %s, want ACCEPTED", r)
	}
	got = p.WaitReceived("UnlockConnector", 1)[0].Params
	wantUnlock := `{"connectorId":2}`
	if v201 {
		wantUnlock = `{"evseId":2,"connectorId":1}`
	}
	if compact(got) != wantUnlock {
		t.Errorf("station received UnlockConnector %s, want %s", got, wantUnlock)
	}

	// RESERVE_NOW: the station gets ReserveNow, and EVSE 2 reads RESERVED in the partner's
	// pull and in the REST API, even when the station reports Available.
	p.OnCall("ReserveNow", map[string]any{"status": "Accepted"})
	expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if res, uid = o.command("RESERVE_NOW", map[string]any{"token": token("APPUSER1"), "expiry_date": expiry.Format(time.RFC3339),
		"reservation_id": "RES-1", "location_id": loc, "evse_uid": evse2}, 200); res != "ACCEPTED" {
		t.Fatalf("RESERVE_NOW response %s", res)
	}
	if r := o.result("RESERVE_NOW", uid); r != "ACCEPTED" {
		t.Errorf("RESERVE_NOW result %s, want ACCEPTED", r)
	}
	res1 := uid
	var reserve struct {
		ReservationID int    `json:"reservationId"`
		ID            int    `json:"id"`
		IDTag         string `json:"idTag"`
		ConnectorID   int    `json:"connectorId"`
		EVSEID        int    `json:"evseId"`
		IDToken       struct {
			IDToken string `json:"idToken"`
		} `json:"idToken"`
	}
	json.Unmarshal(p.WaitReceived("ReserveNow", 1)[0].Params, &reserve)
	reservationID := reserve.ReservationID
	if v201 {
		reservationID = reserve.ID
		if reserve.IDToken.IDToken != "APPUSER1" || reserve.EVSEID != 2 {
			t.Errorf("station received ReserveNow %+v, want APPUSER1 on EVSE 2", reserve)
		}
	} else if reserve.IDTag != "APPUSER1" || reserve.ConnectorID != 2 {
		t.Errorf("station received ReserveNow %+v, want APPUSER1 on connector 2", reserve)
	}
	waitStatus(evse2, "RESERVED")
	statusLog := func() int {
		var log []json.RawMessage
		e.must("GET", "/api/v1/chargestations/"+id+"/status-log", nil, 200, &log)
		return len(log)
	}
	before := statusLog()
	status(2, "Available")
	var ev struct {
		Status string `json:"status"`
	}
	eventually(t, "the station's Available is recorded", func() error {
		if n := statusLog(); n <= before {
			return fmt.Errorf("%d status entries", n)
		}
		return nil
	})
	e.must("GET", "/api/v1/chargestations/"+id+"/evses/"+evse2, nil, 200, &ev)
	if ev.Status != "RESERVED" {
		t.Errorf("REST status of the reserved EVSE after the station said Available: %s, want RESERVED", ev.Status)
	}
	if s := o.evseStatus(loc, evse2); s != "RESERVED" {
		t.Errorf("OCPI status of the reserved EVSE after the station said Available: %s, want RESERVED", s)
	}

	// CANCEL_RESERVATION: the station gets the same reservation id, and the EVSE is free.
	p.OnCall("CancelReservation", map[string]any{"status": "Accepted"})
	if res, uid = o.command("CANCEL_RESERVATION", map[string]any{"reservation_id": "RES-1"}, 200); res != "ACCEPTED" {
		t.Fatalf("CANCEL_RESERVATION response %s", res)
	}
	if r := o.result("CANCEL_RESERVATION", uid); r != "ACCEPTED" {
		t.Errorf("CANCEL_RESERVATION result %s, want ACCEPTED", r)
	}
	if got := p.WaitReceived("CancelReservation", 1)[0].Params; compact(got) != fmt.Sprintf(`{"reservationId":%d}`, reservationID) {
		t.Errorf("station received CancelReservation %s, want reservation %d", got, reservationID)
	}
	waitStatus(evse2, "AVAILABLE")
	_, uid = o.command("CANCEL_RESERVATION", map[string]any{"reservation_id": "RES-1"}, 200)
	if r := o.result("CANCEL_RESERVATION", uid); r != "UNKNOWN_RESERVATION" {
		t.Errorf("CANCEL_RESERVATION of a cancelled reservation: %s, want UNKNOWN_RESERVATION", r)
	}

	// The REST API reserves the same way: EVSE 1 reads RESERVED until cancel-reservation.
	var rr struct {
		ReservationID int    `json:"reservationId"`
		Status        string `json:"status"`
	}
	e.must("POST", "/api/v1/chargers/"+id+"/reserve", map[string]any{"evseId": 1, "idTag": "CARD1",
		"expiryDate": expiry.Format(time.RFC3339)}, 200, &rr)
	if rr.Status != "accepted" || rr.ReservationID <= 0 {
		t.Fatalf("REST reserve answered %+v", rr)
	}
	waitStatus(evse1, "RESERVED")
	e.must("GET", "/api/v1/chargestations/"+id+"/evses/"+evse1, nil, 200, &ev)
	if ev.Status != "RESERVED" {
		t.Errorf("REST status of EVSE 1 reserved through the REST API: %s, want RESERVED", ev.Status)
	}
	e.must("POST", "/api/v1/chargers/"+id+"/cancel-reservation", map[string]any{"reservationId": rr.ReservationID}, 200, &rr)
	waitStatus(evse1, "AVAILABLE")

	// The operator cancels a partner's reservation: the partner gets CANCELED_RESERVATION at
	// its RESERVE_NOW's response_url.
	res, uid = o.command("RESERVE_NOW", map[string]any{"token": token("APPUSER1"), "expiry_date": expiry.Format(time.RFC3339),
		"reservation_id": "RES-2", "location_id": loc, "evse_uid": evse1}, 200)
	if r := o.result("RESERVE_NOW", uid); res != "ACCEPTED" || r != "ACCEPTED" {
		t.Fatalf("RESERVE_NOW RES-2: %s, result %s", res, r)
	}
	json.Unmarshal(p.WaitReceived("ReserveNow", 3)[2].Params, &reserve)
	operatorCancels := reserve.ReservationID
	if v201 {
		operatorCancels = reserve.ID
	}
	e.must("POST", "/api/v1/chargers/"+id+"/cancel-reservation", map[string]any{"reservationId": operatorCancels}, 200, &rr)
	if rr.Status != "accepted" {
		t.Fatalf("operator's cancel-reservation: %+v", rr)
	}
	o.emsp.WaitFor("RESERVE_NOW", uid, "CANCELED_RESERVATION", 20*time.Second)
	// The partner's own CANCEL_RESERVATION of RES-1 told it nothing at RES-1's response_url.
	n := 0
	for _, r := range o.emsp.Results() {
		if strings.HasSuffix(r.Path, "/"+res1) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("RES-1's response_url got %d results, want 1 (the ACCEPTED of RESERVE_NOW)", n)
	}
	waitStatus(evse1, "AVAILABLE")

	// A station that never answers: TIMEOUT at the response_url.
	p.OnCallNever(startAction)
	if res, uid = o.command("START_SESSION", map[string]any{"token": token("APPUSER2"), "location_id": loc, "evse_uid": evse2}, 200); res != "ACCEPTED" {
		t.Fatalf("START_SESSION response %s", res)
	}
	if r := o.result("START_SESSION", uid); r != "TIMEOUT" {
		t.Errorf("START_SESSION at a silent station: result %s, want TIMEOUT", r)
	}

	// Bad bodies: HTTP 400, 2001, every bad field named.
	code, raw := o.call("POST", "/ocpi/2.2.1/commands/START_SESSION", map[string]any{"token": map[string]any{"uid": 7}, "evse_uid": strings.Repeat("x", 37)})
	ocpitest.MustMatch(t, ocpitest.OASError, raw)
	for _, f := range []string{"response_url", "location_id", "token.uid", "evse_uid"} {
		if code != 400 || !strings.Contains(string(raw), `"status_code":2001`) || !strings.Contains(string(raw), f) {
			t.Errorf("START_SESSION with a bad body: %d %s, want 400 with 2001 naming %s", code, raw, f)
		}
	}
	code, raw = o.call("POST", "/ocpi/2.2.1/commands/RESERVE_NOW", map[string]any{"response_url": "not a url", "token": token("X"), "expiry_date": "tomorrow", "location_id": loc})
	for _, f := range []string{"response_url", "expiry_date", "reservation_id"} {
		if code != 400 || !strings.Contains(string(raw), f) {
			t.Errorf("RESERVE_NOW with a bad body: %d %s, want 400 naming %s", code, raw, f)
		}
	}

	// A second partner, of a network that does not hold the station, cannot command it: the
	// location is unknown to it (2003, REJECTED), and so is the session.
	var other struct {
		ID uuid.UUID `json:"id"`
	}
	e.must("POST", "/api/v1/networks", map[string]any{"name": "other", "country_code": "NL", "party_id": "OTH"}, 201, &other)
	otherKey, err := networks.NewStore(e.app.db).CreateKey(t.Context(), other.ID, "other admin", true)
	if err != nil {
		t.Fatal(err)
	}
	o2 := registerEMSP(t, e, otherKey, "EMB")
	if res, _ = o2.command("START_SESSION", map[string]any{"token": token("APPUSER3"), "location_id": loc, "evse_uid": evse1}, 404); res != "REJECTED" {
		t.Errorf("second partner's START_SESSION: %s, want REJECTED", res)
	}
	if res, _ = o2.command("UNLOCK_CONNECTOR", map[string]any{"location_id": loc, "evse_uid": evse1, "connector_id": "1"}, 404); res != "REJECTED" {
		t.Errorf("second partner's UNLOCK_CONNECTOR: %s, want REJECTED", res)
	}
	if res, _ = o2.command("STOP_SESSION", map[string]any{"session_id": session}, 200); res != "UNKNOWN_SESSION" {
		t.Errorf("second partner's STOP_SESSION: %s, want UNKNOWN_SESSION", res)
	}
	if n := len(p.Received(startAction)); n != 2 {
		t.Errorf("the station received %d %s, want 2 (none from the second partner)", n, startAction)
	}
	if n := len(o2.emsp.Results()); n != 0 {
		t.Errorf("the second partner got %d results, want none", n)
	}
}

// compact is raw JSON without insignificant white space.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	json.Compact(&b, raw)
	return b.String()
}

// TestOCPICommandAcrossNodes: a partner's command reaches a station connected to another
// evroam node, and the result comes back from the node the partner called.
func TestOCPICommandAcrossNodes(t *testing.T) {
	t.Parallel()
	eA := startTwoNodes(t)
	eA.station("OCPI-NODES", "ocpi-nodes-password", 1)
	var st struct {
		LocationID string `json:"location_id"`
	}
	eA.must("GET", "/api/v1/chargestations/OCPI-NODES", nil, 200, &st)
	o := registerEMSP(t, eA, "", "EMA")
	p := ocppStation(t, eA, "OCPI-NODES", "ocpi-nodes-password", "ocpp1.6") // on node B
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})
	p.MustCall("StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Available"})
	p.OnCall("RemoteStartTransaction", map[string]any{"status": "Rejected"})
	eventually(t, "EVSE 1 published AVAILABLE", func() error {
		if s := o.evseStatus(st.LocationID, "OCPI-NODES-1"); s != "AVAILABLE" {
			return fmt.Errorf("status %s", s)
		}
		return nil
	})
	res, uid := o.command("START_SESSION", map[string]any{"token": token("APPUSER9"), "location_id": st.LocationID, "evse_uid": "OCPI-NODES-1"}, 200)
	if res != "ACCEPTED" {
		t.Fatalf("START_SESSION through node A: %s", res)
	}
	if r := o.result("START_SESSION", uid); r != "REJECTED" {
		t.Errorf("result %s, want the station's Rejected as REJECTED", r)
	}
	if got := p.WaitReceived("RemoteStartTransaction", 1)[0].Params; !strings.Contains(string(got), "APPUSER9") {
		t.Errorf("station on node B received %s", got)
	}
}
