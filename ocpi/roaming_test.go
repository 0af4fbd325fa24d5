package ocpi

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/sessions"
)

const (
	oasTokenGet    = "modules/tokens/receiver-interface.yaml#/paths/~1tokens~1%7Bcountry_code%7D~1%7Bparty_id%7D~1%7Btoken_uid%7D/get/responses/200/content/application~1json/schema"
	oasTokenBody   = "modules/tokens/schema.yaml#/components/schemas/Token"
	oasSuccess     = "components/schema.yaml#/components/responses/OCPISuccessResponse/content/application~1json/schema"
	oasSessionList = "modules/sessions/sender-interface.yaml#/paths/~1sessions/get/responses/200/content/application~1json/schema"
	oasCDRList     = "modules/cdrs/sender-interface.yaml#/paths/~1cdrs/get/responses/200/content/application~1json/schema"
	oasCDRObject   = "modules/cdrs/schema.yaml#/components/schemas/CDR"

	oasSessionObject      = "modules/sessions/schema.yaml#/components/schemas/Session"
	oasSessionPatchObject = "modules/sessions/schema.yaml#/components/schemas/SessionPatch"
)

// TestTokensReceiver: a partner pushes, patches and reads its tokens under the parties of its
// credentials; bad bodies are a 400 naming every bad field; another partner cannot reach them.
func TestTokensReceiver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := newFakePartner(t, false), newFakePartner(t, false)
	tokA := e.registerPartner(a, "A") // party DE*MSP
	tokB := e.registerPartner(b, "B") // also DE*MSP: a party is no key across partners
	token := map[string]any{"country_code": "DE", "party_id": "MSP", "uid": "04AABB", "type": "RFID", "contract_id": "DE-MSP-C1",
		"issuer": "A", "valid": true, "whitelist": "ALLOWED", "last_updated": "2026-11-01T10:00:00Z",
		"energy_contract": map[string]any{"supplier_name": "Green"}}
	path := "/ocpi/2.2.1/tokens/DE/MSP/04AABB"
	res := e.ocpi("PUT", path, tokA, token).must(t, 200)
	mustMatchOAS(t, oasSuccess, res.Body)
	checkEnvelope(t, res.Body, 1000)

	res = e.ocpi("GET", path+"?type=RFID", tokA, nil).must(t, 200)
	mustMatchOAS(t, oasTokenGet, res.Body)
	var got Token
	res.data(t, &got)
	if got.ContractID != "DE-MSP-C1" || got.Whitelist != "ALLOWED" || got.EnergyContract == nil || got.LastUpdated != "2026-11-01T10:00:00.000Z" {
		t.Errorf("GET = %+v", got)
	}
	// PATCH: only the fields given change.
	e.ocpi("PATCH", path, tokA, map[string]any{"whitelist": "NEVER", "last_updated": "2026-11-02T10:00:00Z"}).must(t, 200)
	e.ocpi("GET", path, tokA, nil).must(t, 200).data(t, &got)
	if got.Whitelist != "NEVER" || got.ContractID != "DE-MSP-C1" || got.LastUpdated != "2026-11-02T10:00:00.000Z" {
		t.Errorf("after PATCH = %+v", got)
	}
	// Another type is another token.
	res = e.ocpi("GET", path+"?type=APP_USER", tokA, nil).must(t, 404)
	mustMatchOAS(t, oasNotFound, res.Body)
	checkEnvelope(t, res.Body, CodeUnknownToken)
	// The other partner does not see it, though it has the same party.
	e.ocpi("GET", path, tokB, nil).must(t, 404)
	e.ocpi("PATCH", path, tokB, map[string]any{"valid": false, "last_updated": "2026-11-03T10:00:00Z"}).must(t, 404)

	// Every bad field is named in one 400.
	res = e.ocpi("PUT", "/ocpi/2.2.1/tokens/DE/MSP/X1", tokA, map[string]any{"country_code": "NL", "uid": "X2",
		"type": "RFID", "contract_id": strings.Repeat("c", 37), "whitelist": "SOMETIMES", "valid": "yes"}).must(t, 400)
	mustMatchOAS(t, oasError, res.Body)
	_, code, msg := res.env(t)
	if code != CodeInvalidParameters || !strings.Contains(msg, "valid must be a JSON bool") || !strings.Contains(msg, "whitelist") {
		t.Errorf("400 %d %q: want 2001 naming valid (not a boolean) and whitelist", code, msg)
	}
	res = e.ocpi("PUT", "/ocpi/2.2.1/tokens/DE/MSP/X1", tokA, map[string]any{"country_code": "NL", "uid": "X2",
		"type": "RFID", "contract_id": strings.Repeat("c", 37), "whitelist": "SOMETIMES", "last_updated": "yesterday"}).must(t, 400)
	_, _, msg = res.env(t)
	for _, want := range []string{"contract_id", "whitelist", "issuer is required", "valid is required", "party_id is required",
		"last_updated must be", "country_code differs", "uid differs"} {
		if !strings.Contains(msg, want) {
			t.Errorf("400 message %q does not name %q", msg, want)
		}
	}
	// A party the credentials did not name.
	res = e.ocpi("PUT", "/ocpi/2.2.1/tokens/NL/XYZ/X1", tokA, token).must(t, 400)
	if _, _, msg := res.env(t); !strings.Contains(msg, "not a party of your credentials") {
		t.Errorf("PUT under a foreign party: %s", msg)
	}
	// Its sessions and CDRs: none yet, in the official shape.
	mustMatchOAS(t, oasSessionList, e.ocpi("GET", "/ocpi/2.2.1/sessions", tokA, nil).must(t, 200).Body)
	mustMatchOAS(t, oasCDRList, e.ocpi("GET", "/ocpi/2.2.1/cdrs?offset=0&limit=10", tokA, nil).must(t, 200).Body)
}

// TestPrice checks the pricing rules on their own: the first element whose restrictions hold
// prices each dimension, volumes go in whole steps, costs are rounded to the cent both ways.
func TestPrice(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	i := func(v int) *int { return &v }
	s := func(v string) *string { return &v }
	tariff := Tariff{ID: "T", Currency: "EUR", Elements: []schema.TariffElement{
		// Daytime energy is dearer; from 10 kWh on a session pays a lower rate.
		{PriceComponents: []schema.PriceComponent{{Type: "ENERGY", Price: f(0.25), VAT: f(21), StepSize: i(1000)}},
			Restrictions: &schema.TariffRestrictions{MinKWh: f(10)}},
		{PriceComponents: []schema.PriceComponent{{Type: "ENERGY", Price: f(0.40), VAT: f(21), StepSize: i(1000)}},
			Restrictions: &schema.TariffRestrictions{StartTime: s("07:00"), EndTime: s("19:00")}},
		{PriceComponents: []schema.PriceComponent{
			{Type: "ENERGY", Price: f(0.30), VAT: f(21), StepSize: i(1000)},
			{Type: "PARKING_TIME", Price: f(3.00), StepSize: i(900)}, // no VAT given: none applies
		}},
	}}
	at := func(hm string) time.Time {
		tm, _ := time.ParseInLocation("2006-01-02 15:04", "2026-11-30 "+hm, time.UTC)
		return tm
	}
	for _, test := range []struct {
		name                   string
		start                  time.Time
		wh, charging, idle     float64
		energyExcl, energyIncl float64
		parkingExcl, totalIncl float64
	}{
		// 4.2 kWh billed as 5 (steps of 1 kWh) at night: 1.50 (1.82); 20 min parked billed as
		// 30 (steps of 15 min): 1.50, no VAT.
		{"Night", at("23:00"), 4200, 3600, 1200, 1.50, 1.82, 1.50, 3.32},
		// By day: 5 × 0.40 = 2.00 (2.42).
		{"Day", at("08:00"), 4200, 3600, 0, 2.00, 2.42, 0, 2.42},
		// 12 kWh: the large-session rate, day or night: 3.00 (3.63).
		{"Large", at("08:00"), 12000, 7200, 0, 3.00, 3.63, 0, 3.63},
	} {
		b := price(tariff, test.start, "UTC", test.wh, test.charging, test.idle)
		if b.energy == nil || *b.energy.ExclVAT != test.energyExcl || *b.energy.InclVAT != test.energyIncl {
			t.Errorf("%s: energy %+v, want %.2f (%.2f)", test.name, b.energy, test.energyExcl, test.energyIncl)
		}
		if got := 0.0; test.parkingExcl > 0 {
			if b.parking != nil {
				got = *b.parking.ExclVAT
			}
			if got != test.parkingExcl || *b.parking.InclVAT != test.parkingExcl {
				t.Errorf("%s: parking %+v, want %.2f without VAT", test.name, b.parking, test.parkingExcl)
			}
		}
		if b.time != nil || b.fixed != nil {
			t.Errorf("%s: the tariff has no TIME or FLAT component, got %+v %+v", test.name, b.time, b.fixed)
		}
		if *b.total.InclVAT != test.totalIncl {
			t.Errorf("%s: total %+v, want %.2f incl. VAT", test.name, b.total, test.totalIncl)
		}
	}
	if got := cents(1.5 * 1.21); got != 1.82 {
		t.Errorf("cents(1.5 × 1.21) = %v, want 1.82 (half a cent up, despite binary noise)", got)
	}
}

// startSessionPusher runs a Pusher whose session PATCHes wait interval; stop ends it.
func (e *env) startSessionPusher(interval time.Duration) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := NewPusher(e.db, NewView(e.db), PushConfig{
		DatabaseURL: e.dbURL, Outbound: testOutbound, PollInterval: 200 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, SessionPatchInterval: interval,
		Log: slog.New(slog.DiscardHandler),
	})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// TestSessionPushes: a roaming session is PUT when it starts; a PATCH follows a change, the
// next one waits for the PATCH interval; the end is PUT at once (the waiting PATCH folded into
// it), then the CDR is POSTed. The queue survives the pusher: what is queued while none runs
// is sent by the next one. Every body follows the official schemas.
func TestSessionPushes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, false)
	f.sessionsReceiver = true
	tok := e.registerPartner(f, "eMSP")
	loc := e.location("Roaming")
	e.station("RS-1", loc, "Production", 1)
	e.ocpi("PUT", "/ocpi/2.2.1/tokens/DE/MSP/CARD1", tok, map[string]any{"country_code": "DE", "party_id": "MSP", "uid": "CARD1",
		"type": "RFID", "contract_id": "DE-MSP-C1", "issuer": "eMSP", "valid": true, "whitelist": "ALLOWED",
		"last_updated": "2026-11-01T10:00:00Z"}).must(t, 200)
	ss := sessions.NewStore(e.db)
	ctx := t.Context()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ids, err := ss.StartTransactions(ctx, []sessions.Start{{StationID: "RS-1", EVSESequenceNumber: 1, ConnectorID: 1, IDTag: "CARD1",
		Timestamp: t0, At: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	tx := fmt.Sprint(ids[0])
	meter := func(min int, wh string) {
		t.Helper()
		at := t0.Add(time.Duration(min) * time.Minute)
		if err := ss.ApplyReports(ctx, []sessions.Report{{StationID: "RS-1", TransactionID: tx, EVSESequenceNumber: 1, Timestamp: at,
			At: time.Now(), Samples: []sessions.Sample{{Timestamp: at, Value: wh, Measurand: "Energy.Active.Import.Register", Unit: "Wh"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, ok func(ss, cs []pushRecord) bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if s, c := f.recordedSessions(); ok(s, c) {
				return
			}
			if time.Now().After(deadline) {
				s, c := f.recordedSessions()
				t.Fatalf("%s: not within 15s (%d session pushes, %d CDRs)", what, len(s), len(c))
			}
		}
	}
	stop := e.startSessionPusher(time.Hour)
	wait("PUT on start", func(s, _ []pushRecord) bool { return len(s) == 1 })
	meter(10, "3000")
	wait("a PATCH", func(s, _ []pushRecord) bool { return len(s) == 2 })
	meter(20, "5000")
	time.Sleep(500 * time.Millisecond) // two pusher polls: the second PATCH must wait the hour
	if s, _ := f.recordedSessions(); len(s) != 2 {
		t.Fatalf("%d session pushes within the PATCH interval, want 2 (PUT, one PATCH)", len(s))
	}
	// No pusher runs while the session ends: the queue keeps it.
	stop()
	at := t0.Add(30 * time.Minute)
	stopWh := 6000.0
	if err := ss.ApplyReports(ctx, []sessions.Report{{StationID: "RS-1", TransactionID: tx, StoppedAt: &at, MeterStopWh: &stopWh,
		StopReason: "EVDisconnected", Timestamp: at, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	e.startSessionPusher(time.Hour)
	wait("the final PUT and the CDR", func(s, c []pushRecord) bool { return len(s) == 3 && len(c) == 1 })
	s, c := f.recordedSessions()
	wantKinds := []string{"PUT ACTIVE", "PATCH ", "PUT COMPLETED"}
	for i, p := range s {
		var body struct {
			Status string  `json:"status"`
			KWh    float64 `json:"kwh"`
		}
		json.Unmarshal(p.Body, &body)
		if got := p.Method + " " + body.Status; got != wantKinds[i] || !strings.HasPrefix(p.Path, "/NL/EVR/") {
			t.Errorf("push %d: %s %s, want %s under /NL/EVR", i, got, p.Path, wantKinds[i])
		}
		if p.Method == "PUT" {
			mustMatchOAS(t, oasSessionObject, p.Body)
		} else {
			mustMatchOAS(t, oasSessionPatchObject, p.Body)
			if body.KWh != 3 {
				t.Errorf("PATCH kwh %v, want 3", body.KWh)
			}
		}
	}
	mustMatchOAS(t, oasCDRObject, c[0].Body)
	var cdr struct {
		TotalEnergy float64 `json:"total_energy"`
		TotalCost   struct {
			Excl float64 `json:"excl_vat"`
		} `json:"total_cost"`
	}
	json.Unmarshal(c[0].Body, &cdr)
	// The station's tariff T1: 0.30/kWh, 21 % VAT.
	if cdr.TotalEnergy != 6 || cdr.TotalCost.Excl != 1.80 {
		t.Errorf("CDR: %s, want 6 kWh for 1.80", c[0].Body)
	}
	// The partner's Location is kept once its answer is in, a moment after it got the CDR.
	var kept sql.NullString
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := e.db.Get(&kept, `SELECT location_url FROM ocpi_cdrs`)
		if err == nil && kept.Valid || time.Now().After(deadline) {
			if err != nil || !strings.HasSuffix(kept.String, "/emsp/cdrs/1") {
				t.Errorf("CDR Location kept %q (%v)", kept.String, err)
			}
			break
		}
	}
	// The pulls filter on last_updated.
	for _, test := range []struct {
		path string
		want int
	}{
		{"/ocpi/2.2.1/sessions?date_from=" + t0.Format(time.RFC3339), 1},
		{"/ocpi/2.2.1/sessions?date_from=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 0},
		{"/ocpi/2.2.1/sessions?date_to=" + t0.Format(time.RFC3339), 0},
		{"/ocpi/2.2.1/cdrs?date_from=" + t0.Format(time.RFC3339), 1},
		{"/ocpi/2.2.1/cdrs?date_to=" + t0.Format(time.RFC3339), 0},
	} {
		res := e.ocpi("GET", test.path, tok, nil).must(t, 200)
		var got []json.RawMessage
		res.data(t, &got)
		if len(got) != test.want || res.Header.Get("X-Total-Count") != fmt.Sprint(test.want) {
			t.Errorf("GET %s: %d (X-Total-Count %s), want %d", test.path, len(got), res.Header.Get("X-Total-Count"), test.want)
		}
		ref := oasSessionList
		if strings.Contains(test.path, "cdrs") {
			ref = oasCDRList
		}
		mustMatchOAS(t, ref, res.Body)
	}
}
