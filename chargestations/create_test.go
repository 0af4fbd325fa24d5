package chargestations_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
)

func TestCreateFromTemplate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")

	r := e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-TPL-1", loc, "dual-ac")).Must(t, http.StatusCreated)
	created := decodeStation(t, r)
	if got := r.Header.Get("ETag"); got != `"`+created.ETag+`"` {
		t.Errorf("ETag header = %s, want the body's etag %s", got, created.ETag)
	}
	if len(created.EVSEs) != 2 {
		t.Fatalf("evses = %d, want 2; body %s", len(created.EVSEs), r.Body)
	}
	for i, ev := range created.EVSEs {
		wantUID := []string{"CS-TPL-1-1", "CS-TPL-1-2"}[i]
		if ev.UID != wantUID || ev.EVSESequenceNumber != i+1 || ev.Status != "UNKNOWN" {
			t.Errorf("evse %d = %s #%d %s, want %s #%d UNKNOWN", i, ev.UID, ev.EVSESequenceNumber, ev.Status, wantUID, i+1)
		}
		if !slices.Equal(ev.Capabilities, []string{"RFID_READER", "REMOTE_START_STOP_CAPABLE"}) {
			t.Errorf("evse %d capabilities = %v", i, ev.Capabilities)
		}
		if len(ev.Connectors) != 1 {
			t.Fatalf("evse %d connectors = %d, want 1", i, len(ev.Connectors))
		}
		c := ev.Connectors[0]
		if c.ID != "1" || c.Standard != "IEC_62196_T2" || c.Format != "SOCKET" || str(c.Internal) != `"Mennekes_Socket"` ||
			c.PowerType != "AC_3_PHASE" || c.MaxVoltage != 230 || c.MaxAmperage != 32 || c.MaxElectricPower == nil || *c.MaxElectricPower != 22000 {
			t.Errorf("evse %d connector = %+v, internal %s: not the template's", i, c, str(c.Internal))
		}
	}
	if created.Status != "UNKNOWN" || created.OnboardingState != "Pending" || created.SecurityProfile != 1 {
		t.Errorf("status %s, onboarding %s, security_profile %d; want UNKNOWN, Pending, 1", created.Status, created.OnboardingState, created.SecurityProfile)
	}
	if bytes.Contains(created.Raw, []byte("charge_station_template_id")) {
		t.Errorf("the write-only charge_station_template_id appears in the response: %s", created.Raw)
	}

	// The station holds a copy: replacing and then deleting the template leaves it as it was.
	before := e.getStation(e.Key, "CS-TPL-1")
	tpl := e.Do(http.MethodGet, "/api/v1/templates/dual-ac", nil).Must(t, http.StatusOK)
	var cur struct{ ETag string }
	tpl.Decode(t, &cur)
	changed := acTemplate("dual-ac")
	changed["etag"] = cur.ETag
	changed["evse_templates"] = []any{map[string]any{"evse_sequence_number": 1, "connector_templates": []any{
		map[string]any{"id": "9", "internal": "CCS2_Cable", "power_type": "DC", "max_voltage": 920, "max_amperage": 200}}}}
	e.Do(http.MethodPut, "/api/v1/templates/dual-ac", changed).Must(t, http.StatusOK)
	if after := e.getStation(e.Key, "CS-TPL-1"); !bytes.Equal(before.Raw, after.Raw) {
		t.Errorf("station changed when its template was replaced:\nbefore %s\nafter  %s", before.Raw, after.Raw)
	}
	e.Do(http.MethodDelete, "/api/v1/templates/dual-ac", nil).Must(t, http.StatusNoContent)
	if after := e.getStation(e.Key, "CS-TPL-1"); !bytes.Equal(before.Raw, after.Raw) {
		t.Errorf("station changed when its template was deleted:\nbefore %s\nafter  %s", before.Raw, after.Raw)
	}
}

func TestCreateManualDCStation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTariff(e.Key, "DC-1")
	body := manual("CS-DC-1", loc,
		map[string]any{"evse_id": "NL*EVR*E12345*1", "connectors": []map[string]any{{
			"id": "1", "internal": "CCS2_Cable", "power_type": "DC", "max_voltage": 920, "max_amperage": 400,
			"max_electric_power": 150000, "tariff_ids": []string{"DC-1"},
		}}},
		map[string]any{"uid": "my-own-uid", "evse_sequence_number": 1, "connectors": []map[string]any{{
			"id": "1", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "max_voltage": 500, "max_amperage": 125,
		}}},
	)
	r := e.Do(http.MethodPost, "/api/v1/chargestations", body).Must(t, http.StatusCreated)
	cs := decodeStation(t, r)
	if len(cs.EVSEs) != 2 {
		t.Fatalf("evses = %d, want 2: %s", len(cs.EVSEs), r.Body)
	}
	// EVSEs come back in sequence order: the one that asked for 1, then the generated 2.
	if cs.EVSEs[0].UID != "my-own-uid" || cs.EVSEs[0].EVSESequenceNumber != 1 {
		t.Errorf("evses[0] = %s #%d, want my-own-uid #1", cs.EVSEs[0].UID, cs.EVSEs[0].EVSESequenceNumber)
	}
	if cs.EVSEs[1].UID != "CS-DC-1-2" || cs.EVSEs[1].EVSESequenceNumber != 2 {
		t.Errorf("evses[1] = %s #%d, want CS-DC-1-2 #2", cs.EVSEs[1].UID, cs.EVSEs[1].EVSESequenceNumber)
	}
	ccs := cs.EVSEs[1].Connectors[0]
	if ccs.Standard != "IEC_62196_T2_COMBO" || ccs.Format != "CABLE" || str(ccs.Internal) != `"CCS2_Cable"` {
		t.Errorf("CCS2_Cable connector = %s/%s/%s, want IEC_62196_T2_COMBO/CABLE/CCS2_Cable", ccs.Standard, ccs.Format, str(ccs.Internal))
	}
	chademo := cs.EVSEs[0].Connectors[0]
	if str(chademo.Internal) != `"ChaDeMo_Cable"` {
		t.Errorf("CHADEMO CABLE internal = %s, want ChaDeMo_Cable", str(chademo.Internal))
	}
}

func TestConnectorRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	conn := func(id string, kv ...any) map[string]any {
		c := map[string]any{"id": id, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
			"max_voltage": 230, "max_amperage": 32}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	body := manual("CS-BAD", loc,
		map[string]any{"connectors": []map[string]any{
			conn("1", "standard", "iec_62196_t2"),                                 // wrong case
			conn("2", "format", "PLUG"),                                           // not a format
			conn("3", "internal", "CCS2_Cable", "power_type", "DC"),               // contradicts standard IEC_62196_T2
			conn("4", "standard", "DOMESTIC_F", "power_type", "DC"),               // a DC household socket
			conn("5", "max_voltage", 0),                                           // not positive
			conn("6", "power_type", "ac_3_phase"),                                 // wrong case
			conn("6"),                                                             // duplicate id
			conn("8", "standard", nil, "format", nil, "internal", "Mennekes_Soc"), // not an internal name
			conn("9", "max_amperage", -16, "max_electric_power", 0),
		}},
		map[string]any{"capabilities": []string{"RFID"}, "parking_restrictions": []string{"Customers"},
			"connectors": []map[string]any{conn("1", "standard", "IEC_62196_T2_COMBO", "format", "CABLE", "power_type", "AC_3_PHASE")}},
	)
	r := e.Do(http.MethodPost, "/api/v1/chargestations", body).Must(t, http.StatusUnprocessableEntity)
	want := []string{
		"evses[0].connectors[0].standard",
		"evses[0].connectors[1].format",
		"evses[0].connectors[2].internal",
		"evses[0].connectors[3].power_type",
		"evses[0].connectors[4].max_voltage",
		"evses[0].connectors[5].power_type",
		"evses[0].connectors[6].id",
		"evses[0].connectors[7].internal",
		"evses[0].connectors[8].max_amperage",
		"evses[0].connectors[8].max_electric_power",
		"evses[1].capabilities[0]",
		"evses[1].parking_restrictions[0]",
		"evses[1].connectors[0].power_type",
	}
	assertFields(t, r, want)
	if r.StatusCode != 2001 {
		t.Errorf("status_code = %d, want 2001", r.StatusCode)
	}

	// Nothing was stored.
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-BAD", nil).Must(t, http.StatusNotFound)
}

func assertFields(t *testing.T, r interface{ Fields() []string }, want []string) {
	t.Helper()
	got := slices.Clone(r.Fields())
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields named in the 422:\n got  %q\n want %q", got, want)
	}
}

func TestCreateRequiredFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	_, otherKey := e.Network(uuidNil, "OTH")
	e.mustTemplate(otherKey, "other-net-template")
	otherLoc := e.mustLocation(otherKey)

	tests := []struct {
		name   string
		key    string
		body   map[string]any
		status int
		fields []string
	}{
		{"MissingRequired", e.Key, map[string]any{"charge_station_id": "CS-1", "evses": []any{dcEVSE()}},
			422, []string{"location_id", "deploy_state", "default_charge_station_tariff_id", "charger_type"}},
		{"MissingEverything", e.Key, map[string]any{},
			422, []string{"charge_station_id", "location_id", "deploy_state", "default_charge_station_tariff_id", "charger_type", "evses"}},
		{"BothEVSEsAndTemplate", e.Key, with(manual("CS-1", loc, dcEVSE()), "charge_station_template_id", "dual-ac"),
			422, []string{"evses"}},
		{"NeitherEVSEsNorTemplate", e.Key, station("CS-1", loc), 422, []string{"evses"}},
		{"EmptyEVSEs", e.Key, manual("CS-1", loc), 422, []string{"evses"}},
		{"BadEnumsAndID", e.Key, with(with(with(manual("CS 1", loc, dcEVSE()), "deploy_state", "production"), "charger_type", "Private"), "security_profile", 4),
			422, []string{"charge_station_id", "deploy_state", "charger_type", "security_profile"}},
		{"InvisibleLocation", e.Key, manual("CS-1", "no-such-location", dcEVSE()), 422, []string{"location_id"}},
		{"LocationOfAnotherNetworkWithOtherErrors", "sub", with(manual("CS-1", otherLoc, dcEVSE()), "charger_type", "x"),
			422, []string{"location_id", "charger_type"}},
		{"UnknownField", e.Key, with(manual("CS-1", loc, dcEVSE()), "colour", "red"), 422, []string{"colour"}},
		{"SequenceNumbers", e.Key, manual("CS-1", loc, with(dcEVSE(), "evse_sequence_number", 4), with(dcEVSE(), "evse_sequence_number", 1), with(dcEVSE(), "evse_sequence_number", 1)),
			422, []string{"evses[0].evse_sequence_number", "evses[2].evse_sequence_number"}},
		{"DuplicateUID", e.Key, manual("CS-1", loc, with(dcEVSE(), "uid", "CS-1-2"), dcEVSE()), 422, []string{"evses[1].uid"}},
		{"TemplateOfAnotherNetwork", e.Key + "-sibling", fromTemplate("CS-1", loc, "other-net-template"), 404, nil},
		{"UnknownTemplate", e.Key, fromTemplate("CS-1", loc, "nope"), 404, nil},
	}
	_, subKey := e.Network(uuidNil, "SB2")
	subLoc := e.mustLocation(subKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			switch key {
			case "sub":
				key = subKey
			case e.Key + "-sibling":
				// a key of a sibling network of the template's owner, at its own location
				key = subKey
				tt.body["location_id"] = subLoc
				tt.body["default_charge_station_tariff_id"] = subLoc // mustLocation's tariff there
			}
			r := e.DoKey(key, http.MethodPost, "/api/v1/chargestations", tt.body).Must(t, tt.status)
			if tt.fields != nil {
				assertFields(t, r, tt.fields)
			}
		})
	}
	e.Do(http.MethodGet, "/api/v1/chargestations/CS-1", nil).Must(t, http.StatusNotFound)

	// A duplicate id is a 409, also across networks.
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-DUP", loc, dcEVSE())).Must(t, http.StatusCreated)
	e.Do(http.MethodPost, "/api/v1/chargestations", manual("CS-DUP", loc, dcEVSE())).Must(t, http.StatusConflict)
	e.DoKey(subKey, http.MethodPost, "/api/v1/chargestations", manual("CS-DUP", subLoc, dcEVSE())).Must(t, http.StatusConflict)
}

func with(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}
