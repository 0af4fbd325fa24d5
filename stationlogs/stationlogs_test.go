package stationlogs_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/stationlogs"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func setup(t *testing.T) (*apitest.Env, *stationlogs.Store) {
	t.Helper()
	var store *stationlogs.Store
	e := apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		store = stationlogs.NewStore(db)
		stationlogs.NewHandler(store).Routes(v1)
	})
	return e, store
}

func TestMessagesOrderAndPaging(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-2")
	// Three batches mixing two stations and one that does not exist (deleted meanwhile): no
	// error, and the others' frames are all kept in order.
	at := time.Now().UTC()
	for b := range 3 {
		var batch []stationlogs.Message
		for i := range 4 {
			n := b*4 + i
			station := "CS-1"
			if i%2 == 1 {
				station = "CS-2"
			}
			batch = append(batch, stationlogs.Message{StationID: station, Direction: "in", MessageType: "CALL",
				MessageID: fmt.Sprintf("m%02d", n), Action: "Heartbeat", Payload: json.RawMessage(`{}`), Created: at})
		}
		batch = append(batch, stationlogs.Message{StationID: "GHOST", Direction: "in", MessageType: "CALL", MessageID: "x", Created: at})
		if err := appendMessages(t, e.DB, store, batch); err != nil {
			t.Fatalf("append batch %d: %v", b, err)
		}
	}
	type frame struct {
		ID        int64  `json:"id"`
		MessageID string `json:"message_id"`
	}
	var page1 []frame
	r := e.Do("GET", "/api/v1/chargestations/CS-1/messages?limit=4", nil).Must(t, http.StatusOK)
	r.Decode(t, &page1)
	var got []string
	for _, f := range page1 {
		got = append(got, f.MessageID)
	}
	if fmt.Sprint(got) != "[m10 m08 m06 m04]" {
		t.Errorf("newest first page = %v, want [m10 m08 m06 m04]", got)
	}
	link := r.Header.Get("Link")
	if link == "" {
		t.Fatal("a full page has no Link to the next one")
	}
	next := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	if want := fmt.Sprintf("before=%d", page1[3].ID); !strings.HasPrefix(next, "http") || !strings.Contains(next, want) {
		t.Fatalf("Link %q: want an absolute URL with %s", link, want)
	}
	var page2 []frame
	e.Do("GET", next, nil).Must(t, http.StatusOK).Decode(t, &page2)
	if len(page2) != 2 || page2[0].MessageID != "m02" || page2[1].MessageID != "m00" {
		t.Errorf("second page = %+v, want m02, m00", page2)
	}
	e.Do("GET", "/api/v1/chargestations/CS-1/messages?before=abc", nil).Must(t, http.StatusBadRequest)
	e.Do("GET", "/api/v1/chargestations/GHOST/messages", nil).Must(t, http.StatusNotFound)
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	netA, _ := e.Network(e.Root.ID, "AAA")
	_, keyB := e.Network(e.Root.ID, "BBB")
	apitest.InsertStation(t, e.DB, netA.ID, "CS-A")
	for _, path := range []string{"messages", "status-log", "configuration"} {
		e.DoKey(keyB, "GET", "/api/v1/chargestations/CS-A/"+path, nil).Must(t, http.StatusNotFound)
		e.Do("GET", "/api/v1/chargestations/CS-A/"+path, nil).Must(t, http.StatusOK)
	}
}

func TestConfigurationMerge(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-1")
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-2")
	ctx := t.Context()
	v := func(s string) *string { return &s }
	now := time.Now()
	// One batch: two stations, a key listed twice (the last one counts), a NUL byte, and a
	// station that does not exist (dropped, without failing the others).
	if err := store.MergeConfigurations(ctx, []stationlogs.StationConfiguration{
		{StationID: "CS-1", Values: []stationlogs.ConfigurationValue{
			{Key: "HeartbeatInterval", Value: v("300"), Updated: now},
			{Key: "AuthorizationKey", ReadOnly: false, Updated: now}, // write-only: no value
			{Key: "NumberOfConnectors", Value: v("2"), ReadOnly: true, Updated: now},
			{Key: "HeartbeatInterval", Value: v("450"), Updated: now},
		}},
		{StationID: "GHOST", Values: []stationlogs.ConfigurationValue{{Key: "HeartbeatInterval", Value: v("1"), Updated: now}}},
		{StationID: "CS-2", Values: []stationlogs.ConfigurationValue{{Key: "Vendor\x00Key", Value: v("a\x00b"), Updated: now}}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.MergeConfigurations(ctx, []stationlogs.StationConfiguration{{StationID: "CS-1",
		Values: []stationlogs.ConfigurationValue{{Key: "HeartbeatInterval", Value: v("600"), Updated: now}}}}); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Key      string  `json:"key"`
		Value    *string `json:"value"`
		ReadOnly bool    `json:"readonly"`
	}
	var got []entry
	e.Do("GET", "/api/v1/chargestations/CS-1/configuration", nil).Must(t, http.StatusOK).Decode(t, &got)
	if len(got) != 3 || got[0].Key != "AuthorizationKey" || got[0].Value != nil ||
		got[1].Key != "HeartbeatInterval" || *got[1].Value != "600" || !got[2].ReadOnly {
		t.Errorf("configuration of CS-1 = %+v", got)
	}
	var other []entry
	e.Do("GET", "/api/v1/chargestations/CS-2/configuration", nil).Must(t, http.StatusOK).Decode(t, &other)
	if len(other) != 1 || other[0].Key != "VendorKey" || other[0].Value == nil || *other[0].Value != "ab" {
		t.Errorf("configuration of CS-2 = %+v", other)
	}
	var ghosts int
	if err := e.DB.Get(&ghosts, `SELECT count(*) FROM station_configurations WHERE charge_station_id = 'GHOST'`); err != nil || ghosts != 0 {
		t.Errorf("GHOST has %d configuration rows (%v), want none", ghosts, err)
	}
}

// TestDeletedStationForgetsItsLogs: the message log and the status log have no foreign key
// (a lookup and a row lock per entry); deleting a station deletes its frames and statuses all
// the same, and a station created again with the identity starts with empty logs even when
// entries of its namesake were written after the deletion (a batch that raced it).
func TestDeletedStationForgetsItsLogs(t *testing.T) {
	t.Parallel()
	e, store := setup(t)
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-DEL")
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-KEEP")
	at := time.Now().UTC()
	var batch []stationlogs.Message
	for _, id := range []string{"CS-DEL", "CS-KEEP", "CS-DEL"} {
		batch = append(batch, stationlogs.Message{StationID: id, Direction: "in", MessageType: "CALL", MessageID: "m",
			Action: "Heartbeat", Payload: json.RawMessage(`{"x":"\u0000"}`), Created: at})
	}
	if err := appendMessages(t, e.DB, store, batch); err != nil {
		t.Fatal(err)
	}
	statuses := []stationlogs.StatusEntry{
		{StationID: "CS-DEL", EVSESequenceNumber: 1, ConnectorID: 1, OCPPStatus: "Available", OCPIStatus: "AVAILABLE", FriendlyStatus: "Available", Created: at},
		{StationID: "CS-KEEP", EVSESequenceNumber: 1, ConnectorID: 1, OCPPStatus: "Charging", OCPIStatus: "CHARGING", FriendlyStatus: "Charging", Created: at},
	}
	if err := store.AppendStatuses(t.Context(), statuses); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DB.Exec(`DELETE FROM charge_stations WHERE id = 'CS-DEL'`); err != nil {
		t.Fatal(err)
	}
	left := func() (frames, statuses []string) {
		t.Helper()
		if err := e.DB.Select(&frames, `SELECT charge_station_id FROM ocpp_messages ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.Select(&statuses, `SELECT charge_station_id FROM station_status_log ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		return frames, statuses
	}
	if frames, statuses := left(); fmt.Sprint(frames, statuses) != "[CS-KEEP] [CS-KEEP]" {
		t.Errorf("logs left after deleting CS-DEL: frames %v, statuses %v; want only CS-KEEP's", frames, statuses)
	}
	// Entries of CS-DEL that a batch wrote after the deletion.
	if _, err := e.DB.Exec(`INSERT INTO station_status_log (charge_station_id, evse_sequence_number, connector_id,
			ocpp_status, ocpi_status, friendly_status, created) VALUES ('CS-DEL', 1, 1, 'Faulted', 'OUTOFORDER', 'Faulted', now())`); err != nil {
		t.Fatal(err)
	}
	if err := appendMessages(t, e.DB, store, batch[:1]); err != nil {
		t.Fatal(err)
	}
	apitest.InsertStation(t, e.DB, e.Root.ID, "CS-DEL")
	if frames, statuses := left(); fmt.Sprint(frames, statuses) != "[CS-KEEP] [CS-KEEP]" {
		t.Errorf("logs once CS-DEL is created again: frames %v, statuses %v; want only CS-KEEP's", frames, statuses)
	}
}

// appendMessages appends frames as the gateway's registry does: in a transaction of their own.
func appendMessages(t *testing.T, db *sqlx.DB, store *stationlogs.Store, ms []stationlogs.Message) error {
	return database.InTx(t.Context(), db, func(tx *sqlx.Tx) error { return store.WithTx(tx).AppendMessages(t.Context(), ms) })
}
