package sessions_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/sessions"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func ptr[T any](v T) *T { return &v }

var pagingAll = paging.Page{Limit: paging.MaxLimit}

// newStore is a database with a root network and station CS-1 in it.
func newStore(t *testing.T) (*sqlx.DB, *sessions.Store, uuid.UUID) {
	t.Helper()
	db := pgtest.New(t)
	root, err := networks.NewStore(db).EnsureRoot(t.Context(), "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	apitest.InsertStation(t, db, root.ID, "CS-1")
	return db, sessions.NewStore(db), root.ID
}

func get(t *testing.T, store *sessions.Store, root uuid.UUID, station, tx string) sessions.Session {
	t.Helper()
	list, _, err := store.List(t.Context(), []uuid.UUID{root}, sessions.Filter{StationID: &station}, pagingAll)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.TransactionID == tx {
			return s
		}
	}
	t.Fatalf("no session %s of %s among %d", tx, station, len(list))
	return sessions.Session{}
}

func TestLatestMeterValues(t *testing.T) {
	t.Parallel()
	db, store, _ := newStore(t)
	ctx := t.Context()
	t0 := time.Now().UTC().Truncate(time.Second)
	mv := func(val string, at time.Time) sessions.MeterValue {
		return sessions.MeterValue{StationID: "CS-1", EVSESequenceNumber: 1, Measurand: "Energy.Active.Import.Register", Value: val, Unit: "Wh", SampledAt: at}
	}
	// Within a batch and across batches the newest sample wins; an older one arriving late is ignored.
	if err := store.MergeMeterValues(ctx, []sessions.MeterValue{mv("100", t0), mv("300", t0.Add(2*time.Second)), mv("200", t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if err := store.MergeMeterValues(ctx, []sessions.MeterValue{mv("50", t0.Add(-time.Second))}); err != nil {
		t.Fatal(err)
	}
	var latest string
	db.Get(&latest, `SELECT value FROM meter_values WHERE charge_station_id = 'CS-1'`)
	if latest != "300" {
		t.Errorf("latest meter value = %q, want 300", latest)
	}
}

// TestRepeatedStartGetsTheSameID: a StartTransaction sent again (the station did not get the
// answer) finds its transaction, within one batch and across batches; any other start is new.
func TestRepeatedStartGetsTheSameID(t *testing.T) {
	t.Parallel()
	_, store, _ := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)
	start := sessions.Start{StationID: "CS-1", EVSESequenceNumber: 1, ConnectorID: 1, IDTag: "TAG1", MeterStartWh: 1000, Timestamp: t0, At: t0}
	other := start
	other.Timestamp = t0.Add(time.Minute)
	ids, err := store.StartTransactions(ctx, []sessions.Start{start, start, other})
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.StartTransactions(ctx, []sessions.Start{start})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] == 0 || ids[1] != ids[0] || again[0] != ids[0] || ids[2] == ids[0] {
		t.Errorf("ids %v then %v: want the repeated start to get %d every time and the other start a new id", ids, again, ids[0])
	}
	unknown, err := store.StartTransactions(ctx, []sessions.Start{{StationID: "NOBODY", EVSESequenceNumber: 1, IDTag: "X", Timestamp: t0}})
	if err != nil || unknown[0] != 0 {
		t.Errorf("start on an unknown station: %v %v, want id 0", unknown, err)
	}
}

// TestUnknownStopIsInvalid: a 1.6 StopTransaction for a transaction never started is kept as
// INVALID, and the 1.6 id sequence moves past its id, so a later start never collides with it.
func TestUnknownStopIsInvalid(t *testing.T) {
	t.Parallel()
	_, store, root := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	ids, err := store.StartTransactions(ctx, []sessions.Start{{StationID: "CS-1", EVSESequenceNumber: 1, IDTag: "A", Timestamp: t0, At: t0}})
	if err != nil {
		t.Fatal(err)
	}
	unknown := fmt.Sprint(ids[0] + 1)
	if err := store.ApplyReports(ctx, []sessions.Report{{StationID: "CS-1", TransactionID: unknown, Create: true, InvalidIfNew: true,
		StoppedAt: ptr(t0), MeterStopWh: ptr(500.0), StopReason: "Local", At: t0}}); err != nil {
		t.Fatal(err)
	}
	s := get(t, store, root, "CS-1", unknown)
	if s.Status != sessions.StatusInvalid || s.End == nil || !s.End.Equal(t0) || *s.MeterStopWh != 500 {
		t.Errorf("unknown stop: %+v, want INVALID with its end and meter", s)
	}
	// Stopping it again does not make it valid; the started one completes.
	if err := store.ApplyReports(ctx, []sessions.Report{
		{StationID: "CS-1", TransactionID: unknown, Create: true, InvalidIfNew: true, StoppedAt: ptr(t0), At: t0},
		{StationID: "CS-1", TransactionID: fmt.Sprint(ids[0]), Create: true, InvalidIfNew: true, StoppedAt: ptr(t0.Add(time.Hour)), At: t0},
	}); err != nil {
		t.Fatal(err)
	}
	if s := get(t, store, root, "CS-1", unknown); s.Status != sessions.StatusInvalid {
		t.Errorf("repeated unknown stop: %s, want INVALID", s.Status)
	}
	if s := get(t, store, root, "CS-1", fmt.Sprint(ids[0])); s.Status != sessions.StatusCompleted {
		t.Errorf("stop of a started transaction: %s, want COMPLETED", s.Status)
	}
	next, err := store.StartTransactions(ctx, []sessions.Start{{StationID: "CS-1", EVSESequenceNumber: 1, IDTag: "B", Timestamp: t0, At: t0}})
	if err != nil {
		t.Fatalf("a start after an INVALID session: %v", err)
	}
	if fmt.Sprint(next[0]) == unknown || next[0] <= ids[0] {
		t.Errorf("next id %d: want a new id past %s", next[0], unknown)
	}
}

// TestEventsInAnyOrder: 2.0.1 events keyed by the station's transactionId merge whatever the
// order they arrive in: Ended before Started (late delivery) still gives the Started's start
// and meter, the Ended's end, meter and reason; samples land by their own timestamps.
func TestEventsInAnyOrder(t *testing.T) {
	t.Parallel()
	db, store, root := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	energy := func(at time.Time, wh string) sessions.Sample {
		return sessions.Sample{Timestamp: at, Value: wh, Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
	}
	power := func(at time.Time, kw string) sessions.Sample {
		return sessions.Sample{Timestamp: at, Value: kw, Measurand: "Power.Active.Import", Unit: "kW"}
	}
	ended := sessions.Report{StationID: "CS-1", TransactionID: "tx-201", EVSESequenceNumber: 2, ConnectorID: 1, Create: true,
		StoppedAt: ptr(t0.Add(time.Hour)), MeterStopWh: ptr(21000.0), StopReason: "EVDisconnected", ChargingState: "Idle", StopTokenUID: "STOPPER",
		Timestamp: t0.Add(time.Hour), Samples: []sessions.Sample{energy(t0.Add(time.Hour), "21000")}, At: t0.Add(2 * time.Hour)}
	updated := sessions.Report{StationID: "CS-1", TransactionID: "tx-201", Create: true, ChargingState: "SuspendedEV",
		Timestamp: t0.Add(45 * time.Minute), Samples: []sessions.Sample{energy(t0.Add(30*time.Minute), "11000"), power(t0.Add(30*time.Minute), "11.5")},
		At: t0.Add(2 * time.Hour)}
	started := sessions.Report{StationID: "CS-1", TransactionID: "tx-201", EVSESequenceNumber: 2, ConnectorID: 1, Create: true,
		TokenUID: "04A1B2C3", TokenType: sessions.TokenTypeRFID, StartedAt: ptr(t0), MeterStartWh: ptr(1000.0), ChargingState: "Charging",
		Timestamp: t0, Samples: []sessions.Sample{energy(t0, "1000"), power(t0, "7.2")}, At: t0.Add(2 * time.Hour)}
	// Ended first, then Started and Updated together in one batch.
	if err := store.ApplyReports(ctx, []sessions.Report{ended}); err != nil {
		t.Fatal(err)
	}
	if s := get(t, store, root, "CS-1", "tx-201"); s.Status != sessions.StatusCompleted || s.Start != nil || s.TokenUID != "STOPPER" {
		t.Fatalf("after Ended alone: %+v", s)
	}
	if err := store.ApplyReports(ctx, []sessions.Report{started, updated}); err != nil {
		t.Fatal(err)
	}
	s := get(t, store, root, "CS-1", "tx-201")
	if s.Status != sessions.StatusCompleted || !s.Start.Equal(t0) || !s.End.Equal(t0.Add(time.Hour)) ||
		*s.MeterStartWh != 1000 || *s.MeterStopWh != 21000 || s.StopReason != "EVDisconnected" ||
		s.TokenUID != "04A1B2C3" || s.TokenType != "RFID" || s.EVSESequenceNumber != 2 || *s.ConnectorID != 1 || *s.MaxPowerW != 11500 {
		t.Errorf("merged session: %+v", s)
	}
	if e := s.EnergyKWh(); e == nil || *e != 20 {
		t.Errorf("energy_kwh = %v, want 20", e)
	}
	// Charging from the start to the SuspendedEV at 45 min, idle for the last 15.
	if d, c, i := s.Times(time.Now()); d != 3600 || c != 2700 || i != 900 {
		t.Errorf("duration/charging/idle = %d/%d/%d, want 3600/2700/900", d, c, i)
	}
	var stamps []time.Time
	if err := db.Select(&stamps, `SELECT v.sampled_at FROM session_meter_values v JOIN transactions t ON t.id = v.session_id ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(stamps) != 3 || !stamps[0].Equal(t0) || !stamps[1].Equal(t0.Add(30*time.Minute)) || !stamps[2].Equal(t0.Add(time.Hour)) {
		t.Errorf("timeline stamps %v, want start, +30m, +1h", stamps)
	}
	// Meter values for a transaction nobody knows make no session.
	if err := store.ApplyReports(ctx, []sessions.Report{{StationID: "CS-1", TransactionID: "999999", Samples: []sessions.Sample{energy(t0, "5")}, At: t0}}); err != nil {
		t.Fatal(err)
	}
	var n int
	db.Get(&n, `SELECT count(*) FROM transactions`)
	if n != 1 {
		t.Errorf("%d sessions, want 1: meter values must not create one", n)
	}
}

// TestStatusGivesChargingState: a 1.6 session takes its charging state from its connector's
// status, and only the session running on that EVSE does.
func TestStatusGivesChargingState(t *testing.T) {
	t.Parallel()
	_, store, root := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	ids, err := store.StartTransactions(ctx, []sessions.Start{{StationID: "CS-1", EVSESequenceNumber: 1, ConnectorID: 1, IDTag: "A", Timestamp: t0, At: t0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RecordEVSEStates(ctx, []sessions.EVSEState{
		{StationID: "CS-1", EVSESequenceNumber: 1, Status: "SuspendedEV", At: t0.Add(10 * time.Minute)},
		{StationID: "CS-1", EVSESequenceNumber: 2, Status: "Charging", At: t0.Add(10 * time.Minute)},
		{StationID: "CS-1", EVSESequenceNumber: 1, Status: "Charging", At: t0.Add(20 * time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyReports(ctx, []sessions.Report{{StationID: "CS-1", TransactionID: fmt.Sprint(ids[0]), Create: true, InvalidIfNew: true,
		StoppedAt: ptr(t0.Add(30 * time.Minute)), At: t0}}); err != nil {
		t.Fatal(err)
	}
	s := get(t, store, root, "CS-1", fmt.Sprint(ids[0]))
	if d, c, i := s.Times(time.Now()); d != 1800 || c != 1200 || i != 600 {
		t.Errorf("duration/charging/idle = %d/%d/%d, want 1800/1200/600", d, c, i)
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, test := range []struct {
		name                     string
		start, end               *time.Time
		states                   []sessions.State
		now                      time.Time
		duration, charging, idle int
	}{
		{"NoStart", nil, nil, nil, at(10), 0, 0, 0},
		{"NoStatesChargesThroughout", ptr(at(0)), ptr(at(10)), nil, at(99), 600, 600, 0},
		{"RunningUpToNow", ptr(at(0)), nil, []sessions.State{{At: at(5), Charging: false}}, at(20), 1200, 300, 900},
		{"StateBeforeStartIsInitial", ptr(at(0)), ptr(at(10)), []sessions.State{{At: at(-1), Charging: false}, {At: at(4), Charging: true}}, at(99), 600, 360, 240},
		{"StatesAfterEndIgnored", ptr(at(0)), ptr(at(10)), []sessions.State{{At: at(5), Charging: false}, {At: at(11), Charging: true}}, at(99), 600, 300, 300},
		{"EndBeforeStart", ptr(at(10)), ptr(at(0)), nil, at(99), 0, 0, 0},
	} {
		t.Run(test.name, func(t *testing.T) {
			s := sessions.Session{Start: test.start, End: test.end, States: test.states}
			d, c, i := s.Times(test.now)
			if d != test.duration || c != test.charging || i != test.idle {
				t.Errorf("Times() = %d/%d/%d, want %d/%d/%d", d, c, i, test.duration, test.charging, test.idle)
			}
		})
	}
}

// TestTimelineUnits: samples are kept in Wh, W, A and percent whatever unit and multiplier
// the station used; per-phase power counts as its sum and per-phase current as its highest
// phase when the station sent no total; other measurands and phases are left out.
func TestTimelineUnits(t *testing.T) {
	t.Parallel()
	db, store, root := newStore(t)
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	s := func(v, measurand, phase, unit string, mult int) sessions.Sample {
		return sessions.Sample{Timestamp: t0, Value: v, Measurand: measurand, Phase: phase, Unit: unit, Multiplier: mult}
	}
	err := store.ApplyReports(t.Context(), []sessions.Report{{StationID: "CS-1", TransactionID: "units", Create: true, StartedAt: ptr(t0),
		Timestamp: t0, At: t0, Samples: []sessions.Sample{
			s("12.5", "Energy.Active.Import.Register", "", "kWh", 0),
			s("2", "Power.Active.Import", "L1", "W", 3), s("3", "Power.Active.Import", "L2", "kW", 0), s("1000", "Power.Active.Import", "L3", "W", 0),
			s("16", "Current.Import", "L1", "A", 0), s("31.5", "Current.Import", "L2", "A", 0), s("230", "Voltage", "L1-N", "V", 0),
			s("55", "SoC", "", "Percent", 0), s("not a number", "Energy.Active.Import.Register", "L1", "Wh", 0)}}})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Energy, Power, Current, SoC float64
	}
	if err := db.QueryRow(`SELECT energy_wh, power_w, current_a, soc_percent FROM session_meter_values`).Scan(&p.Energy, &p.Power, &p.Current, &p.SoC); err != nil {
		t.Fatal(err)
	}
	if p.Energy != 12500 || p.Power != 6000 || p.Current != 31.5 || p.SoC != 55 {
		t.Errorf("timeline point %+v, want 12500 Wh, 6000 W, 31.5 A, 55 %%", p)
	}
	if got := get(t, store, root, "CS-1", "units"); got.MaxPowerW == nil || *got.MaxPowerW != 6000 || *got.LastEnergyWh != 12500 {
		t.Errorf("session max power %v, last energy %v", got.MaxPowerW, got.LastEnergyWh)
	}
}
