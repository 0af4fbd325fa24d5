package sessions_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/networks"
	"github.com/evroam/evroam/sessions"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// addStation inserts a location and a station of network directly.
func addStation(t *testing.T, db *sqlx.DB, network uuid.UUID, id string) {
	t.Helper()
	now := time.Now().UTC()
	loc := uuid.NewString()
	if _, err := db.Exec(`INSERT INTO locations (id, network_id, name, address, city, country, latitude, longitude, time_zone, etag, created, last_updated)
		VALUES ($1, $2, 'L', 'A', 'C', 'NLD', '52.00000', '5.00000', 'Europe/Amsterdam', $3, $4, $4)`, loc, network, uuid.New(), now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO charge_stations (id, network_id, location_id, deploy_state, default_charge_station_tariff_id, charger_type, etag, created, last_updated, station_last_updated)
		VALUES ($1, $2, $3, 'Production', 'T', 'Public', $4, $5, $5, $5)`, id, network, loc, uuid.New(), now); err != nil {
		t.Fatal(err)
	}
}

func TestMeterValuesAndTransactions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	root, err := networks.NewStore(db).EnsureRoot(t.Context(), "root", "NL", "EVR")
	if err != nil {
		t.Fatal(err)
	}
	addStation(t, db, root.ID, "CS-1")
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
