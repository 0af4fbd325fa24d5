package stationreports_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/sessions"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/stationreports"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestConfigurationsOfManyStations: configuration answers of many stations arriving at once
// are merged in shared batches, and a batch that fails as a whole (here one station's rows
// are refused by a trigger) loses only that station's values, not the others'.
func TestConfigurationsOfManyStations(t *testing.T) {
	t.Parallel()
	var logs *stationlogs.Store
	e := apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		logs = stationlogs.NewStore(db)
		stationlogs.NewHandler(logs).Routes(v1)
	})
	svc := stationreports.NewService(e.DB, chargestations.NewStore(e.DB), evse.NewStore(e.DB), logs,
		sessions.NewStore(e.DB), nil, nil, nil, nil)
	t.Cleanup(svc.Close)
	if _, err := e.DB.Exec(`
		CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused'; END $$;
		CREATE TRIGGER refuse_bad BEFORE INSERT ON station_configurations
			FOR EACH ROW WHEN (NEW.charge_station_id = 'CS-BAD') EXECUTE FUNCTION refuse_bad();`); err != nil {
		t.Fatal(err)
	}
	ids := []string{"CS-BAD"}
	for i := range 40 {
		ids = append(ids, "CS-"+string(rune('A'+i/10))+string(rune('0'+i%10)))
	}
	for _, id := range ids {
		apitest.InsertStation(t, e.DB, e.Root.ID, id)
	}
	value := "300"
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = svc.RecordConfiguration(t.Context(), id, []stationlogs.ConfigurationValue{
				{Key: "HeartbeatInterval", Value: &value}, {Key: "NumberOfConnectors", Value: &value, ReadOnly: true}})
		})
	}
	wg.Wait()
	if errs[0] == nil {
		t.Error("CS-BAD's values were refused, yet RecordConfiguration returned no error")
	}
	for i, id := range ids[1:] {
		if errs[i+1] != nil {
			t.Errorf("%s: %v", id, errs[i+1])
			continue
		}
		var got []struct {
			Key string `json:"key"`
		}
		e.Do("GET", "/api/v1/chargestations/"+id+"/configuration", nil).Must(t, http.StatusOK).Decode(t, &got)
		if len(got) != 2 {
			t.Errorf("%s has %d configuration values, want 2", id, len(got))
		}
	}
	var rows int
	if err := e.DB.Get(&rows, `SELECT count(*) FROM station_configurations`); err != nil || rows != 40 {
		t.Errorf("%d stations with a configuration (%v), want 40", rows, err)
	}
}

// Logins look their stations up many at a time (a reconnect storm): each login gets its own
// station's data, and an unknown identity is its own login's ErrNotFound, whatever else was
// looked up with it.
func TestLookupsOfManyLogins(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, func(*sqlx.DB, *gin.RouterGroup) {})
	svc := stationreports.NewService(e.DB, chargestations.NewStore(e.DB), evse.NewStore(e.DB), stationlogs.NewStore(e.DB),
		sessions.NewStore(e.DB), nil, nil, nil, nil)
	t.Cleanup(svc.Close)
	var ids []string
	for i := range 60 {
		id := fmt.Sprintf("CS-%02d", i)
		if i%3 == 0 {
			id = fmt.Sprintf("NOPE-%02d", i) // never created
		} else {
			apitest.InsertStation(t, e.DB, e.Root.ID, id)
		}
		ids = append(ids, id)
	}
	if _, err := e.DB.Exec(`UPDATE charge_stations SET firmware_version = 'fw-' || id`); err != nil {
		t.Fatal(err)
	}
	got := make([]stationreports.Station, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for round := range 3 {
		for i, id := range ids {
			wg.Go(func() { got[i], errs[i] = svc.LookupStation(t.Context(), id) })
		}
		wg.Wait()
		for i, id := range ids {
			switch {
			case strings.HasPrefix(id, "NOPE"):
				if !errors.Is(errs[i], chargestations.ErrNotFound) {
					t.Errorf("round %d: %s: %+v, %v; want ErrNotFound", round, id, got[i], errs[i])
				}
			case errs[i] != nil:
				t.Errorf("round %d: %s: %v", round, id, errs[i])
			case got[i].Identity != id || got[i].FirmwareVersion != "fw-"+id:
				t.Errorf("round %d: %s got the data of %s (firmware %q)", round, id, got[i].Identity, got[i].FirmwareVersion)
			}
		}
	}
}
