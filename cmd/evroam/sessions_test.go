package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
)

// sessionView is a session as GET /api/v1/sessions/{id} answers it.
type sessionView struct {
	ID                 string `json:"id"`
	ChargeStationID    string `json:"charge_station_id"`
	EVSESequenceNumber int    `json:"evse_sequence_number"`
	ConnectorID        *int   `json:"connector_id"`
	Token              *struct {
		UID  string `json:"uid"`
		Type string `json:"type"`
	} `json:"token"`
	Start         *string  `json:"start"`
	End           *string  `json:"end"`
	MeterStart    *float64 `json:"meter_start"`
	MeterStop     *float64 `json:"meter_stop"`
	EnergyKWh     *float64 `json:"energy_kwh"`
	DurationS     int      `json:"duration_s"`
	ChargingS     int      `json:"charging_s"`
	IdleS         int      `json:"idle_s"`
	MaxPowerW     *float64 `json:"max_power_w"`
	StopReason    *string  `json:"stop_reason"`
	Status        string   `json:"status"`
	TransactionID string   `json:"transaction_id"`
	MeterValues   []struct {
		Timestamp string   `json:"timestamp"`
		EnergyWh  *float64 `json:"energy_wh"`
		PowerW    *float64 `json:"power_w"`
		SoC       *float64 `json:"soc_percent"`
	} `json:"meter_values"`
}

// stationSessions lists a station's sessions through the API, read in full.
func (e *e2e) stationSessions(id string) []sessionView {
	e.t.Helper()
	var list []sessionView
	e.must("GET", "/api/v1/chargestations/"+id+"/sessions", nil, 200, &list)
	out := make([]sessionView, len(list))
	for i, s := range list {
		e.must("GET", "/api/v1/sessions/"+s.ID, nil, 200, &out[i])
	}
	return out
}

func (e *e2e) session(station, tx string) sessionView {
	e.t.Helper()
	for _, s := range e.stationSessions(station) {
		if s.TransactionID == tx {
			return s
		}
	}
	e.t.Fatalf("%s has no session with transaction id %s", station, tx)
	return sessionView{}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func num(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestSessions16 runs a whole OCPP 1.6 session with a strict station: a StartTransaction
// repeated after a lost answer, meter values, charging states from StatusNotification, a
// reconnect in the middle, meter values delivered late, the stop with its transactionData,
// and a StopTransaction for a transaction evroam never started.
func TestSessions16(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("SES-16", "session-station-pw", 1)
	p := ocppStation(t, e, "SES-16", "session-station-pw", "ocpp1.6")
	p.MustCall("BootNotification", map[string]any{"chargePointVendor": "Alfen", "chargePointModel": "Eve"})

	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(m int) string { return stamp(t0.Add(time.Duration(m) * time.Minute)) }
	start := map[string]any{"connectorId": 1, "idTag": "TAG16", "meterStart": 1000, "timestamp": at(0)}
	var started, again struct {
		TransactionID int `json:"transactionId"`
	}
	json.Unmarshal(p.MustCall("StartTransaction", start), &started)
	json.Unmarshal(p.MustCall("StartTransaction", start), &again)
	if started.TransactionID == 0 || again.TransactionID != started.TransactionID {
		t.Fatalf("StartTransaction sent twice got ids %d and %d, want the same", started.TransactionID, again.TransactionID)
	}
	tx := started.TransactionID
	status := func(s string, m int) {
		p.MustCall("StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": s, "timestamp": at(m)})
	}
	meter := func(m int, wh, kw string) {
		p.MustCall("MeterValues", map[string]any{"connectorId": 1, "transactionId": tx, "meterValue": []any{map[string]any{
			"timestamp": at(m), "sampledValue": []any{
				map[string]any{"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
				map[string]any{"value": kw, "measurand": "Power.Active.Import", "unit": "kW", "context": "Sample.Periodic"}}}}})
	}
	status("Charging", 0)
	meter(10, "4000", "11.0")
	status("SuspendedEV", 20)

	// The station drops off and comes back: its session goes on.
	p.Close()
	p.WaitClosed()
	p = ocppStation(t, e, "SES-16", "session-station-pw", "ocpp1.6")
	if s := e.session("SES-16", fmt.Sprint(tx)); s.Status != "ACTIVE" || s.End != nil {
		t.Fatalf("after a reconnect the session is %s (end %v), want ACTIVE", s.Status, s.End)
	}
	// What it queued while offline arrives late: an older sample does not turn back the energy.
	meter(5, "2500", "7.0")
	if s := e.session("SES-16", fmt.Sprint(tx)); s.EnergyKWh == nil || *s.EnergyKWh != 3 {
		t.Errorf("running session energy_kwh %s, want 3 (the newest sample, 4000 Wh, minus 1000)", num(s.EnergyKWh))
	}
	// Stopped with another tag (an operator's): the session keeps the tag it started with.
	p.MustCall("StopTransaction", map[string]any{"transactionId": tx, "idTag": "OPERATOR", "meterStop": 6000, "timestamp": at(30),
		"reason": "EVDisconnected", "transactionData": []any{map[string]any{"timestamp": at(30), "sampledValue": []any{
			map[string]any{"value": "6.0", "measurand": "Energy.Active.Import.Register", "unit": "kWh", "context": "Transaction.End"}}}}})

	s := e.session("SES-16", fmt.Sprint(tx))
	if s.Status != "COMPLETED" || *s.Start != at(0) || *s.End != at(30) || *s.MeterStart != 1000 || *s.MeterStop != 6000 ||
		num(s.EnergyKWh) != "5" || s.DurationS != 1800 || s.ChargingS != 1200 || s.IdleS != 600 || num(s.MaxPowerW) != "11000" ||
		*s.StopReason != "EVDisconnected" || s.Token.UID != "TAG16" || s.Token.Type != "RFID" || s.EVSESequenceNumber != 1 ||
		*s.ConnectorID != 1 {
		t.Errorf("completed 1.6 session: %+v (energy %s, max power %s)", s, num(s.EnergyKWh), num(s.MaxPowerW))
	}
	var stamps []string
	for _, mv := range s.MeterValues {
		stamps = append(stamps, mv.Timestamp+"="+num(mv.EnergyWh))
	}
	if fmt.Sprint(stamps) != fmt.Sprintf("[%s=2500 %s=4000 %s=6000]", at(5), at(10), at(30)) {
		t.Errorf("timeline %v: want the samples by their own timestamps", stamps)
	}

	// A stop for a transaction evroam never started is accepted and kept INVALID.
	p.MustCall("StopTransaction", map[string]any{"transactionId": 987654, "idTag": "LOST-TAG", "meterStop": 1, "timestamp": at(40)})
	if s := e.session("SES-16", "987654"); s.Status != "INVALID" || *s.End != at(40) || s.Token == nil || s.Token.UID != "LOST-TAG" || s.Token.Type != "RFID" {
		t.Errorf("unknown stop: %+v, want INVALID", s)
	}
	// The next start is not handed that id.
	var next struct {
		TransactionID int `json:"transactionId"`
	}
	json.Unmarshal(p.MustCall("StartTransaction", map[string]any{"connectorId": 2, "idTag": "TAG16", "meterStart": 0, "timestamp": at(41)}), &next)
	if next.TransactionID == tx || next.TransactionID <= 987654 {
		t.Errorf("a start after the INVALID stop got id %d", next.TransactionID)
	}
}

// TestSessions201 runs a whole OCPP 2.0.1 session keyed by the station's transactionId:
// Started with a token and meter value, Updated with meter values and a charging state, a
// reconnect in the middle, Ended.
func TestSessions201(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	e.station("SES-201", "session-station-pw", 1)
	p := ocppStation(t, e, "SES-201", "session-station-pw", "ocpp2.0.1")
	p.MustCall("BootNotification", map[string]any{"reason": "PowerUp", "chargingStation": map[string]any{"vendorName": "Alfen", "model": "Eve"}})

	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(m int) string { return stamp(t0.Add(time.Duration(m) * time.Minute)) }
	sample := func(v float64, measurand, unit string) map[string]any {
		return map[string]any{"value": v, "measurand": measurand, "unitOfMeasure": map[string]any{"unit": unit}}
	}
	event := func(typ, trigger string, seq int, info map[string]any, m int, samples ...any) {
		info["transactionId"] = "TX-201-A"
		ev := map[string]any{"eventType": typ, "timestamp": at(m), "triggerReason": trigger, "seqNo": seq, "transactionInfo": info,
			"evse": map[string]any{"id": 2, "connectorId": 1}}
		switch typ {
		case "Started":
			ev["idToken"] = map[string]any{"idToken": "RFID201", "type": "ISO14443"}
		case "Ended": // stopped with another token: the session keeps the one it started with
			ev["idToken"] = map[string]any{"idToken": "OPERATOR", "type": "Central"}
		}
		if len(samples) > 0 {
			ev["meterValue"] = []any{map[string]any{"timestamp": at(m), "sampledValue": samples}}
		}
		p.MustCall("TransactionEvent", ev)
	}
	event("Started", "Authorized", 0, map[string]any{"chargingState": "Charging"}, 0, sample(2000, "Energy.Active.Import.Register", "Wh"))
	event("Updated", "MeterValuePeriodic", 1, map[string]any{}, 30,
		sample(8000, "Energy.Active.Import.Register", "Wh"), sample(7000, "Power.Active.Import", "W"), sample(80, "SoC", "Percent"))

	p.Close()
	p.WaitClosed()
	p = ocppStation(t, e, "SES-201", "session-station-pw", "ocpp2.0.1")
	if s := e.session("SES-201", "TX-201-A"); s.Status != "ACTIVE" {
		t.Fatalf("after a reconnect the session is %s, want ACTIVE", s.Status)
	}
	event("Updated", "ChargingStateChanged", 2, map[string]any{"chargingState": "SuspendedEVSE"}, 40)
	event("Ended", "StopAuthorized", 3, map[string]any{"stoppedReason": "EVDisconnected", "chargingState": "Idle"}, 50,
		sample(9, "Energy.Active.Import.Register", "kWh"))

	s := e.session("SES-201", "TX-201-A")
	if s.Status != "COMPLETED" || *s.Start != at(0) || *s.End != at(50) || *s.MeterStart != 2000 || *s.MeterStop != 9000 ||
		num(s.EnergyKWh) != "7" || s.DurationS != 3000 || s.ChargingS != 2400 || s.IdleS != 600 || num(s.MaxPowerW) != "7000" ||
		*s.StopReason != "EVDisconnected" || s.Token.UID != "RFID201" || s.Token.Type != "RFID" || s.EVSESequenceNumber != 2 ||
		*s.ConnectorID != 1 {
		t.Errorf("completed 2.0.1 session: %+v (energy %s, max power %s)", s, num(s.EnergyKWh), num(s.MaxPowerW))
	}
	if len(s.MeterValues) != 3 || s.MeterValues[1].Timestamp != at(30) || num(s.MeterValues[1].SoC) != "80" {
		t.Errorf("timeline %+v", s.MeterValues)
	}
}

// ocppStation connects a strict station that answers evroam's configuration read.
func ocppStation(t *testing.T, e *e2e, id, password, proto string) *ocpppeer.Peer {
	t.Helper()
	p := ocpppeer.Start(t)
	p.OnCall("GetConfiguration", map[string]any{"configurationKey": []any{}})
	p.MustConnect(ocpppeer.ConnectOptions{URL: e.ocppURL, Identity: id, Password: password, Protocols: []string{proto}})
	return p
}
