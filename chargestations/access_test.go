package chargestations_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/schema"
)

// TestIsolation: a key of a sibling network sees nothing of a network's stations and EVSEs.
func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, aKey := e.Network(uuidNil, "AAA")
	_, bKey := e.Network(uuidNil, "BBB")
	_, childKey := e.Network(a.ID, "AA1") // a sub-network of A: sees its own only
	aLoc := e.mustLocation(aKey)
	bLoc := e.mustLocation(bKey)
	e.mustTemplate(aKey, "dual-ac")
	e.DoKey(aKey, http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-A", aLoc, "dual-ac")).Must(t, http.StatusCreated)
	before := e.getStation(aKey, "CS-A")
	body := e.getBody(aKey, "CS-A")
	evse := "/api/v1/chargestations/CS-A/evses/CS-A-1"

	for _, key := range []string{bKey, childKey} {
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/api/v1/chargestations/CS-A", nil},
			{http.MethodPatch, "/api/v1/chargestations/CS-A", map[string]any{"name": "taken over"}},
			{http.MethodPatch, "/api/v1/chargestations/CS-A", map[string]any{"name": "taken over", "etag": before.ETag}},
			{http.MethodDelete, "/api/v1/chargestations/CS-A", nil},
			{http.MethodGet, evse, nil},
			{http.MethodPut, evse, map[string]any{"connectors": dcEVSE()["connectors"]}},
			{http.MethodPatch, evse, map[string]any{"physical_reference": "X"}},
		} {
			e.DoKey(key, tc.method, tc.path, tc.body).Must(t, http.StatusNotFound)
		}
		r := e.DoKey(key, http.MethodGet, "/api/v1/chargestations", nil).Must(t, http.StatusOK)
		if r.Header.Get("X-Total-Count") != "0" || string(r.Data) != "[]" {
			t.Errorf("list for another network = %s (total %s), want []", r.Data, r.Header.Get("X-Total-Count"))
		}
		r = e.DoKey(key, http.MethodGet, "/api/v1/chargestations?location_id="+aLoc, nil).Must(t, http.StatusOK)
		if string(r.Data) != "[]" {
			t.Errorf("list by A's location for another network = %s", r.Data)
		}
		// PUT is an upsert and ids are unique system-wide: with the station's own body (its
		// location is invisible) it is a 422 on location_id; at the caller's own location it is
		// a 409, the same answer as a POST of a taken id. Neither touches A's station.
		assertFields(t, e.DoKey(key, http.MethodPut, "/api/v1/chargestations/CS-A", body).Must(t, 422), []string{"location_id"})
	}
	e.DoKey(bKey, http.MethodPut, "/api/v1/chargestations/CS-A", with(with(body, "location_id", bLoc), "default_charge_station_tariff_id", bLoc)).Must(t, http.StatusConflict)
	// B cannot move a station of its own to A's location either.
	e.DoKey(bKey, http.MethodPost, "/api/v1/chargestations", manual("CS-B", bLoc, dcEVSE())).Must(t, http.StatusCreated)
	assertFields(t, e.DoKey(bKey, http.MethodPatch, "/api/v1/chargestations/CS-B", map[string]any{"location_id": aLoc}).Must(t, 422), []string{"location_id"})

	if after := e.getStation(aKey, "CS-A"); !bytes.Equal(before.Raw, after.Raw) {
		t.Errorf("another network changed the station:\nbefore %s\nafter  %s", before.Raw, after.Raw)
	}
	// The root key (A's parent) sees it.
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-A", nil).Must(t, http.StatusOK)
	e.Do(http.MethodGet, evse, nil).Must(t, http.StatusOK)
}

// TestLocationMovesNetwork: a station's network follows its location's.
func TestLocationMovesNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, aKey := e.Network(uuidNil, "AAA")
	b, bKey := e.Network(uuidNil, "BBB")
	loc := e.mustLocation(aKey)
	e.DoKey(aKey, http.MethodPost, "/api/v1/chargestations", manual("CS-MOVE", loc, dcEVSE())).Must(t, http.StatusCreated)
	before := e.getStation(e.Key, "CS-MOVE")
	e.Do(http.MethodPatch, "/api/v1/locations/"+loc, map[string]any{"network_id": b.ID}).Must(t, http.StatusOK)
	e.DoKey(aKey, http.MethodGet, "/api/v1/chargestations/CS-MOVE", nil).Must(t, http.StatusNotFound)
	after := e.getStation(bKey, "CS-MOVE")
	if after.ETag == before.ETag || after.LastUpdated <= before.LastUpdated {
		t.Errorf("moved station: etag %s→%s, last_updated %s→%s; want both to change", before.ETag, after.ETag, before.LastUpdated, after.LastUpdated)
	}
}

func TestOCPPPasswordIsWriteOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	const pw = "correct-horse-battery"
	body := manual("CS-PW", loc, dcEVSE())
	body["ocpp_password"] = pw
	body["security_profile"] = 2
	noSecret := func(what string, raw []byte) {
		t.Helper()
		if bytes.Contains(raw, []byte(`"ocpp_password"`)) || bytes.Contains(raw, []byte(pw)) || bytes.Contains(raw, []byte("$2a$")) {
			t.Errorf("%s shows the password or its hash: %s", what, raw)
		}
	}
	r := e.Do(http.MethodPost, "/api/v1/chargestations", body).Must(t, http.StatusCreated)
	noSecret("POST", r.Body)
	if cs := decodeStation(t, r); !cs.HasOCPPPassword || cs.SecurityProfile != 2 {
		t.Errorf("has_ocpp_password %v, security_profile %d; want true, 2", cs.HasOCPPPassword, cs.SecurityProfile)
	}
	for _, p := range []string{"/api/v1/chargestations/CS-PW", "/api/v1/chargestations", "/api/v1/chargestations/CS-PW/evses/CS-PW-1", "/api/v1/locations/" + loc} {
		noSecret("GET "+p, e.Do(http.MethodGet, p, nil).Must(t, http.StatusOK).Body)
	}
	gw, err := e.Stations.LookupForGateway(t.Context(), "CS-PW")
	if err != nil || !secret.Verify(gw.PasswordHash, pw) || gw.SecurityProfile != 2 {
		t.Fatalf("LookupForGateway = %+v, %v; want the hash of the password and profile 2", gw, err)
	}

	// A GET body sent back keeps the password (it is write-only, so absent means unchanged).
	get := e.getBody(e.Key, "CS-PW")
	r = e.Do(http.MethodPut, "/api/v1/chargestations/CS-PW", get).Must(t, http.StatusOK)
	noSecret("PUT", r.Body)
	if gw2, _ := e.Stations.LookupForGateway(t.Context(), "CS-PW"); gw2.PasswordHash != gw.PasswordHash {
		t.Error("a PUT without ocpp_password changed the password")
	}
	// PATCH sets a new one, null removes it, a short one is a 422.
	e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PW", map[string]any{"ocpp_password": "another-password-16"}).Must(t, http.StatusOK)
	if gw3, _ := e.Stations.LookupForGateway(t.Context(), "CS-PW"); !secret.Verify(gw3.PasswordHash, "another-password-16") {
		t.Error("PATCH did not set the new password")
	}
	assertFields(t, e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PW", map[string]any{"ocpp_password": "short"}).Must(t, 422), []string{"ocpp_password"})
	assertFields(t, e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PW", map[string]any{"ocpp_password": 1234}).Must(t, 422), []string{"ocpp_password"})
	r = e.Do(http.MethodPatch, "/api/v1/chargestations/CS-PW", map[string]any{"ocpp_password": nil}).Must(t, http.StatusOK)
	if decodeStation(t, r).HasOCPPPassword {
		t.Error("has_ocpp_password still true after ocpp_password null")
	}
	if _, err := e.Stations.LookupForGateway(t.Context(), "NOPE"); !errors.Is(err, chargestations.ErrNotFound) {
		t.Errorf("LookupForGateway(unknown) = %v, want ErrNotFound", err)
	}
}

// TestGatewayWrites: the OCPP gateway's writes fill the read-only fields and never change the
// etag.
func TestGatewayWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-GW", loc, dcEVSE())).Must(t, http.StatusCreated)
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-GW2", loc, dcEVSE())).Must(t, http.StatusCreated)
	before := e.getStation(e.Key, "CS-GW")
	ctx := t.Context()
	st := e.Stations
	at := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	found := func(found map[string]bool, err error) {
		t.Helper()
		must(err)
		if !found["CS-GW"] {
			t.Fatalf("CS-GW not found: %v", found)
		}
	}
	found(st.RecordPresence(ctx, []chargestations.Presence{{Identity: "CS-GW", Online: true, ProtocolVersion: schema.ProtocolOCPP16,
		ClientIPAddress: "95.128.10.19", Endpoint: "ws://ocpp.example/ocpp", At: at}}))
	found(st.RecordBoots(ctx, []chargestations.Boot{{Identity: "CS-GW", BootInfo: chargestations.BootInfo{ChargePointVendor: "Alfen", ChargePointModel: "Dual Power",
		FirmwareVersion: "2.1.4.0", HeartbeatInterval: 300, At: at}}}))
	must(st.RecordHeartbeats(ctx, map[string]time.Time{"CS-GW": at, "CS-GW2": at, "UNKNOWN": at}))
	gw, err := st.LookupForGateway(ctx, "CS-GW")
	must(err)
	if !gw.HasBootData || gw.OnboardingState != schema.OnboardingOnboarded {
		t.Errorf("after boot: %+v", gw)
	}
	r := e.Do(http.MethodGet, "/api/v1/chargestations/CS-GW", nil).Must(t, http.StatusOK)
	var got map[string]any
	r.Decode(t, &got)
	for k, want := range map[string]any{"connectivity_status": "Online", "protocol_version": "Ocpp16",
		"client_ip_address": "95.128.10.19", "endpoint": "ws://ocpp.example/ocpp", "charge_point_vendor": "Alfen",
		"firmware_version": "2.1.4.0", "heartbeat_interval": 300.0, "onboarding_state": "Onboarded", "etag": before.ETag} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if got["last_boot_at"] == nil || got["last_heartbeat_at"] == nil {
		t.Errorf("last_boot_at %v, last_heartbeat_at %v; want both set", got["last_boot_at"], got["last_heartbeat_at"])
	}
	// A disconnect older than the current connection (a left session swept late) changes
	// nothing; a newer one turns the station offline.
	found(st.RecordPresence(ctx, []chargestations.Presence{{Identity: "CS-GW", Online: false, At: at.Add(-time.Minute)}}))
	if got := e.getStation(e.Key, "CS-GW").ConnectivityStatus; got == nil || *got != "Online" {
		t.Errorf("after a disconnect older than the connection: connectivity %v, want Online", got)
	}
	found(st.RecordPresence(ctx, []chargestations.Presence{{Identity: "CS-GW", Online: false, At: time.Now()}}))
	r = e.Do(http.MethodGet, "/api/v1/chargestations?connectivity_status=Offline", nil).Must(t, http.StatusOK)
	if !strings.Contains(string(r.Data), "CS-GW") || e.getStation(e.Key, "CS-GW").ETag != before.ETag {
		t.Errorf("after disconnect: %s", r.Data)
	}
	if got, err := st.RecordBoots(ctx, []chargestations.Boot{{Identity: "NOPE", BootInfo: chargestations.BootInfo{At: at}}}); err != nil || got["NOPE"] {
		t.Errorf("RecordBoots(unknown) = %v, %v; want it not found", got, err)
	}
	r = e.Do(http.MethodGet, "/api/v1/chargestations?onboarding_state=Onboarded", nil).Must(t, http.StatusOK)
	if r.Header.Get("X-Total-Count") != "1" {
		t.Errorf("onboarded stations = %s, want 1", r.Header.Get("X-Total-Count"))
	}
}

// TestAggregateStatusSQL checks that the database's charge_station_status (used by the list
// filter) is schema.AggregateStatus on every multiset of up to three statuses.
func TestAggregateStatusSQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all := append(schema.Statuses(), "bogus")
	var sets [][]schema.Status
	sets = append(sets, nil)
	for i := range all {
		sets = append(sets, []schema.Status{all[i]})
		for j := i; j < len(all); j++ {
			sets = append(sets, []schema.Status{all[i], all[j]})
			for k := j; k < len(all); k++ {
				sets = append(sets, []schema.Status{all[i], all[j], all[k]})
			}
		}
	}
	for _, set := range sets {
		strs := make([]string, len(set))
		for i, s := range set {
			strs[i] = string(s)
		}
		var got string
		if err := e.DB.GetContext(context.Background(), &got, `SELECT charge_station_status($1::text[])`, "{"+strings.Join(strs, ",")+"}"); err != nil {
			t.Fatal(err)
		}
		if want := schema.AggregateStatus(set); got != string(want) {
			t.Errorf("charge_station_status(%v) = %s, want %s", set, got, want)
		}
	}
}

// TestBadUUIDInBody: a uuid field of the wrong shape is a 422 naming it, not a 500.
func TestBadUUIDInBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	for _, v := range []any{"not-a-uuid", 12, []int{1}} {
		assertFields(t, e.Do(http.MethodPatch, "/api/v1/locations/"+loc, map[string]any{"network_id": v}).Must(t, 422), []string{"network_id"})
	}
}
