package sessions_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/sessions"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMeterValuesAndTransactions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	root, err := networks.NewStore(db).EnsureRoot(t.Context(), "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	apitest.InsertStation(t, db, root.ID, "CS-1")
	store := sessions.NewStore(db)
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

	start, stop := 1000.0, 4500.0
	id1, err := store.StartTransaction(ctx, sessions.Transaction{StationID: "CS-1", EVSESequenceNumber: 1, IDTag: "TAG1", MeterStartWh: &start, StartedAt: &t0, Updated: t0})
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := store.StartTransaction(ctx, sessions.Transaction{StationID: "CS-1", EVSESequenceNumber: 2, IDTag: "TAG2", Updated: t0})
	if id2 <= id1 {
		t.Errorf("transaction ids %d then %d: want increasing", id1, id2)
	}
	if err := store.UpsertTransaction(ctx, sessions.Transaction{StationID: "CS-1", TransactionID: fmt.Sprint(id1), MeterStopWh: &stop, StoppedAt: &t0, StopReason: "EVDisconnected", Updated: t0}); err != nil {
		t.Fatal(err)
	}
	var row struct {
		IDTag  string  `db:"id_tag"`
		Start  float64 `db:"meter_start_wh"`
		Stop   float64 `db:"meter_stop_wh"`
		Reason string  `db:"stop_reason"`
	}
	if err := db.Get(&row, `SELECT id_tag, meter_start_wh, meter_stop_wh, stop_reason FROM transactions WHERE transaction_id = $1`, fmt.Sprint(id1)); err != nil {
		t.Fatal(err)
	}
	if row.IDTag != "TAG1" || row.Start != 1000 || row.Stop != 4500 || row.Reason != "EVDisconnected" {
		t.Errorf("transaction after stop = %+v", row)
	}
}
