package sessions_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/sessions"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// api is the session endpoints over a database with sessions in two networks: the root's
// station CS-1 has a completed 1.6 session and a running 2.0.1 one, the sub-network's
// station CS-SUB one completed session.
type api struct {
	*apitest.Env
	subKey     string
	locationID string // CS-1's
	completed  string // id of CS-1's completed session
	active     string
	t0, now    time.Time
}

func newAPI(t *testing.T) api {
	t.Helper()
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	now := t0.Add(3 * time.Hour)
	var store *sessions.Store
	env := apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		store = sessions.NewStore(db)
		sessions.NewHandler(sessions.NewService(db, store, func() time.Time { return now })).Routes(v1)
	})
	sub, subKey := env.Network(uuid.Nil, "SUB")
	apitest.InsertStation(t, env.DB, env.Root.ID, "CS-1")
	apitest.InsertStation(t, env.DB, sub.ID, "CS-SUB")
	ctx := t.Context()
	ids, err := store.StartTransactions(ctx, []sessions.Start{
		{StationID: "CS-1", EVSESequenceNumber: 1, ConnectorID: 1, IDTag: `Tag,"7"`, MeterStartWh: 1000, Timestamp: t0, At: t0},
		{StationID: "CS-SUB", EVSESequenceNumber: 1, ConnectorID: 1, IDTag: "SUBTAG", MeterStartWh: 0, Timestamp: t0, At: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	at := func(m int) *time.Time { v := t0.Add(time.Duration(m) * time.Minute); return &v }
	err = store.ApplyReports(ctx, []sessions.Report{
		{StationID: "CS-1", TransactionID: fmt.Sprint(ids[0]), Create: true, InvalidIfNew: true, StoppedAt: at(90),
			MeterStopWh: ptr(13345.6), StopReason: "EVDisconnected", StopTokenUID: "STOPPED-BY-ANOTHER", At: t0.Add(91 * time.Minute),
			Samples: []sessions.Sample{{Timestamp: *at(30), Value: "7400", Measurand: "Power.Active.Import", Unit: "W"},
				{Timestamp: *at(30), Value: "5000", Measurand: "Energy.Active.Import.Register", Unit: "Wh"},
				{Timestamp: *at(30), Value: "62", Measurand: "SoC", Unit: "Percent"}}},
		{StationID: "CS-1", TransactionID: "2.0.1-tx", EVSESequenceNumber: 2, ConnectorID: 1, Create: true, TokenUID: "APPUSER1",
			TokenType: sessions.TokenTypeAppUser, StartedAt: at(120), MeterStartWh: ptr(500.0), ChargingState: "Charging",
			Timestamp: *at(120), At: t0.Add(121 * time.Minute)},
		{StationID: "CS-SUB", TransactionID: fmt.Sprint(ids[1]), Create: true, InvalidIfNew: true, StoppedAt: at(60),
			MeterStopWh: ptr(2000.0), StopReason: "Local", At: t0.Add(61 * time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := api{Env: env, subKey: subKey, t0: t0, now: now}
	env.DB.Get(&a.locationID, `SELECT location_id FROM charge_stations WHERE id = 'CS-1'`)
	env.DB.Get(&a.completed, `SELECT id FROM transactions WHERE charge_station_id = 'CS-1' AND status = 'COMPLETED'`)
	env.DB.Get(&a.active, `SELECT id FROM transactions WHERE charge_station_id = 'CS-1' AND status = 'ACTIVE'`)
	return a
}

type sessionJSON struct {
	ID                 string `json:"id"`
	ChargeStationID    string `json:"charge_station_id"`
	EVSESequenceNumber int    `json:"evse_sequence_number"`
	ConnectorID        *int   `json:"connector_id"`
	LocationID         string `json:"location_id"`
	Token              *struct {
		UID  string  `json:"uid"`
		Type *string `json:"type"`
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
	LastUpdated   string   `json:"last_updated"`
	MeterValues   []struct {
		Timestamp  string   `json:"timestamp"`
		EnergyWh   *float64 `json:"energy_wh"`
		PowerW     *float64 `json:"power_w"`
		CurrentA   *float64 `json:"current_a"`
		SoCPercent *float64 `json:"soc_percent"`
	} `json:"meter_values"`
}

func (a api) list(key, path string) ([]sessionJSON, *apitest.Response) {
	a.T.Helper()
	r := a.DoKey(key, "GET", path, nil).Must(a.T, 200)
	var out []sessionJSON
	r.Decode(a.T, &out)
	return out, r
}

func ids(list []sessionJSON) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ChargeStationID + "/" + s.Status
	}
	slices.Sort(out)
	return out
}

func TestSessionEndpoints(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	all, r := a.list(a.Key, "/api/v1/sessions")
	if got := ids(all); !slices.Equal(got, []string{"CS-1/ACTIVE", "CS-1/COMPLETED", "CS-SUB/COMPLETED"}) || r.Header.Get("X-Total-Count") != "3" {
		t.Fatalf("root key lists %v (total %s)", got, r.Header.Get("X-Total-Count"))
	}

	t.Run("Filters", func(t *testing.T) {
		for _, test := range []struct {
			query string
			want  []string
		}{
			{"status=ACTIVE", []string{"CS-1/ACTIVE"}},
			{"charge_station_id=CS-1", []string{"CS-1/ACTIVE", "CS-1/COMPLETED"}},
			{"location_id=" + a.locationID, []string{"CS-1/ACTIVE", "CS-1/COMPLETED"}},
			{"token_uid=" + url.QueryEscape(`tag,"7"`), []string{"CS-1/COMPLETED"}}, // uids match case-insensitively
			{"started_from=2026-11-30T09:00:00Z", []string{"CS-1/ACTIVE"}},
			{"started_to=2026-11-30T09:00:00Z&charge_station_id=CS-SUB", []string{"CS-SUB/COMPLETED"}},
			{"date_from=2026-11-30T09:32:00Z", []string{"CS-1/ACTIVE"}}, // on last_updated
			{"date_to=2026-11-30T09:02:00Z", []string{"CS-SUB/COMPLETED"}},
		} {
			got, _ := a.list(a.Key, "/api/v1/sessions?"+test.query)
			if !slices.Equal(ids(got), test.want) {
				t.Errorf("?%s: %v, want %v", test.query, ids(got), test.want)
			}
		}
	})

	t.Run("Fields", func(t *testing.T) {
		r := a.Do("GET", "/api/v1/sessions/"+a.completed, nil).Must(t, 200)
		var s sessionJSON
		r.Decode(t, &s)
		if s.ID != a.completed || s.ChargeStationID != "CS-1" || s.EVSESequenceNumber != 1 || *s.ConnectorID != 1 ||
			s.LocationID != a.locationID || s.Token.UID != `Tag,"7"` || *s.Token.Type != "RFID" ||
			*s.Start != "2026-11-30T08:00:00Z" || *s.End != "2026-11-30T09:30:00Z" || *s.MeterStart != 1000 ||
			*s.MeterStop != 13345.6 || *s.EnergyKWh != 12.346 || s.DurationS != 5400 || s.ChargingS != 5400 || s.IdleS != 0 ||
			*s.MaxPowerW != 7400 || *s.StopReason != "EVDisconnected" || s.Status != "COMPLETED" || s.TransactionID == "" ||
			s.LastUpdated != "2026-11-30T09:31:00Z" {
			t.Errorf("completed session: %s", r.Data)
		}
		if len(s.MeterValues) != 1 || s.MeterValues[0].Timestamp != "2026-11-30T08:30:00Z" || *s.MeterValues[0].EnergyWh != 5000 ||
			*s.MeterValues[0].PowerW != 7400 || s.MeterValues[0].CurrentA != nil || *s.MeterValues[0].SoCPercent != 62 {
			t.Errorf("meter values: %s", r.Data)
		}
		// A running session counts up to now (3 h after t0) and its energy is unknown until a sample comes.
		r = a.Do("GET", "/api/v1/sessions/"+a.active, nil).Must(t, 200)
		r.Decode(t, &s)
		if s.Status != "ACTIVE" || s.End != nil || s.DurationS != 3600 || s.ChargingS != 3600 || s.EnergyKWh != nil ||
			*s.Token.Type != "APP_USER" || s.TransactionID != "2.0.1-tx" || s.MeterValues == nil {
			t.Errorf("active session: %s", r.Data)
		}
	})

	t.Run("StationSessions", func(t *testing.T) {
		got, _ := a.list(a.Key, "/api/v1/chargestations/CS-1/sessions")
		if !slices.Equal(ids(got), []string{"CS-1/ACTIVE", "CS-1/COMPLETED"}) {
			t.Errorf("CS-1 sessions: %v", ids(got))
		}
		got, _ = a.list(a.Key, "/api/v1/chargestations/CS-1/sessions?status=COMPLETED")
		if !slices.Equal(ids(got), []string{"CS-1/COMPLETED"}) {
			t.Errorf("CS-1 completed sessions: %v", ids(got))
		}
		a.Do("GET", "/api/v1/chargestations/NOBODY/sessions", nil).Must(t, 404)
	})

	t.Run("Isolation", func(t *testing.T) {
		got, _ := a.list(a.subKey, "/api/v1/sessions")
		if !slices.Equal(ids(got), []string{"CS-SUB/COMPLETED"}) {
			t.Errorf("sub-network key lists %v", ids(got))
		}
		got, _ = a.list(a.subKey, "/api/v1/sessions?charge_station_id=CS-1")
		if len(got) != 0 {
			t.Errorf("sub-network key lists CS-1's sessions: %v", ids(got))
		}
		a.DoKey(a.subKey, "GET", "/api/v1/sessions/"+a.completed, nil).Must(t, 404)
		a.DoKey(a.subKey, "GET", "/api/v1/chargestations/CS-1/sessions", nil).Must(t, 404)
		body := string(a.DoKey(a.subKey, "GET", "/api/v1/sessions/export", nil).Must(t, 200).Body)
		if strings.Contains(body, "CS-1") || !strings.Contains(body, "CS-SUB") {
			t.Errorf("sub-network export:\n%s", body)
		}
		a.DoKey("", "GET", "/api/v1/sessions/export", nil).Must(t, 401)
		a.Do("GET", "/api/v1/sessions/not-a-uuid", nil).Must(t, 404)
		a.Do("GET", "/api/v1/sessions/"+uuid.NewString(), nil).Must(t, 404)
	})

	t.Run("Paging", func(t *testing.T) {
		var seen []string
		next := "/api/v1/sessions?limit=1"
		for next != "" {
			page, r := a.list(a.Key, next)
			if len(page) != 1 {
				t.Fatalf("%s: %d sessions", next, len(page))
			}
			seen = append(seen, page[0].ID)
			next = ""
			if l := r.Header.Get("Link"); l != "" {
				next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		if len(seen) != 3 || seen[0] == seen[1] || seen[1] == seen[2] {
			t.Errorf("paged through %v, want the 3 sessions once each", seen)
		}
	})
}

// TestBadSessionQueries: every bad parameter is named in one 400, on every session route.
func TestBadSessionQueries(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	query := "?status=DONE&started_from=yesterday&started_to=2026-13-01&limit=many&date_from=x&after=%25%25"
	want := []string{"after", "date_from", "limit", "started_from", "started_to", "status"}
	for _, path := range []string{"/api/v1/sessions", "/api/v1/sessions/export", "/api/v1/chargestations/CS-1/sessions"} {
		r := a.Do("GET", path+query, nil)
		got := r.Fields()
		slices.Sort(got)
		if r.Status != 400 || !slices.Equal(got, want) {
			t.Errorf("GET %s: %d naming %v, want 400 naming %v: %s", path, r.Status, got, want, r.Body)
		}
	}
}

// TestExportCSV checks the export field by field: RFC 4180 (CRLF, a header, quoted fields),
// UTC RFC 3339 times, kWh with 3 decimals, empty fields for what is unknown.
func TestExportCSV(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.Do("GET", "/api/v1/sessions/export?charge_station_id=CS-1", nil).Must(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !bytes.Contains(r.Body, []byte("\r\n")) || bytes.Count(r.Body, []byte("\n")) != bytes.Count(r.Body, []byte("\r\n")) {
		t.Errorf("lines must end in CRLF:\n%q", r.Body)
	}
	if !bytes.Contains(r.Body, []byte(`"Tag,""7"""`)) {
		t.Errorf("a field with a comma and quotes must be quoted with doubled quotes:\n%s", r.Body)
	}
	records, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.Body)
	}
	header := "id,charge_station_id,evse_sequence_number,connector_id,location_id,token_uid,token_type,start,end,meter_start_wh," +
		"meter_stop_wh,energy_kwh,duration_s,charging_s,idle_s,max_power_w,stop_reason,status,transaction_id,last_updated"
	if len(records) != 3 || strings.Join(records[0], ",") != header {
		t.Fatalf("want the header and 2 rows:\n%s", r.Body)
	}
	byStatus := map[string]map[string]string{}
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, name := range records[0] {
			row[name] = rec[i]
		}
		byStatus[row["status"]] = row
	}
	var tx string
	a.DB.Get(&tx, `SELECT transaction_id FROM transactions WHERE id = $1`, a.completed)
	for status, want := range map[string]map[string]string{
		"COMPLETED": {"id": a.completed, "charge_station_id": "CS-1", "evse_sequence_number": "1", "connector_id": "1",
			"location_id": a.locationID, "token_uid": `Tag,"7"`, "token_type": "RFID", "start": "2026-11-30T08:00:00Z",
			"end": "2026-11-30T09:30:00Z", "meter_start_wh": "1000", "meter_stop_wh": "13345.6", "energy_kwh": "12.346",
			"duration_s": "5400", "charging_s": "5400", "idle_s": "0", "max_power_w": "7400", "stop_reason": "EVDisconnected",
			"status": "COMPLETED", "transaction_id": tx, "last_updated": "2026-11-30T09:31:00Z"},
		"ACTIVE": {"id": a.active, "charge_station_id": "CS-1", "evse_sequence_number": "2", "connector_id": "1",
			"location_id": a.locationID, "token_uid": "APPUSER1", "token_type": "APP_USER", "start": "2026-11-30T10:00:00Z",
			"end": "", "meter_start_wh": "500", "meter_stop_wh": "", "energy_kwh": "", "duration_s": "3600",
			"charging_s": "3600", "idle_s": "0", "max_power_w": "", "stop_reason": "", "status": "ACTIVE",
			"transaction_id": "2.0.1-tx", "last_updated": "2026-11-30T10:01:00Z"},
	} {
		got := byStatus[status]
		for field, w := range want {
			if got[field] != w {
				t.Errorf("%s session: %s = %q, want %q", status, field, got[field], w)
			}
		}
	}

	// No match: the header alone.
	r = a.Do("GET", "/api/v1/sessions/export?status=INVALID", nil).Must(t, 200)
	if string(r.Body) != header+"\r\n" {
		t.Errorf("empty export: %q", r.Body)
	}
}

// TestExportCutOffIsNotComplete: when the database goes away in the middle of an export,
// the answer (already 200, already streaming) ends with a broken connection, not with a
// clean end of body that would pass a cut-off file off as complete.
func TestExportCutOffIsNotComplete(t *testing.T) {
	t.Parallel()
	proxy, viaProxy := pgtest.NewProxy(t, pgtest.URL(t))
	db, err := sqlx.Open("postgres", viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	env := apitest.NewOnDB(t, db, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		sessions.NewHandler(sessions.NewService(db, sessions.NewStore(db), nil)).Routes(v1)
	})
	apitest.InsertStation(t, db, env.Root.ID, "CS-1")
	// More than the socket buffers hold, so that the export is still reading when the
	// database goes.
	const n = 100_000
	if _, err := db.Exec(`INSERT INTO transactions (charge_station_id, transaction_id, network_id, location_id, id_tag, started_at, status, updated)
		SELECT c.id, 'x' || g, c.network_id, c.location_id, 'SOME-RATHER-LONG-TOKEN-UID-' || g, now(), 'ACTIVE', now()
		FROM generate_series(1, $1) AS g, charge_stations c WHERE c.id = 'CS-1'`, n); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.Server.URL+"/api/v1/sessions/export", nil)
	req.Header.Set("X-API-Key", env.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body := bufio.NewReader(resp.Body)
	if _, err := body.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	rest, err := io.ReadAll(body)
	if err == nil {
		t.Fatalf("the export ended cleanly after %d more lines of %d, with the database gone mid-way", bytes.Count(rest, []byte("\n")), n)
	}
	if lines := bytes.Count(rest, []byte("\n")); lines >= n {
		t.Fatalf("all %d rows arrived before the cut: the test proves nothing", lines)
	}
}

// TestDateWindowTotalsOfManySessions: a session list filtered by date only finds its
// X-Total-Count without counting the window when the window or what lies outside it is small
// (database.CountWindow), and the total is right on every path: a recent date_from, one from
// far back (the kept count less the few older sessions), one in the middle (counted in full).
func TestDateWindowTotalsOfManySessions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := apitest.NewOnDB(t, db, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		sessions.NewHandler(sessions.NewService(db, sessions.NewStore(db), nil)).Routes(v1)
	})
	apitest.InsertStation(t, db, env.Root.ID, "CS-1")
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 10_100 // more than a side CountWindow reads before it looks at the other
	if _, err := db.Exec(`INSERT INTO transactions (charge_station_id, transaction_id, network_id, location_id, id_tag, started_at, status, updated)
		SELECT c.id, 'x' || g, c.network_id, c.location_id, 'TOKEN-' || g, $2, 'COMPLETED', $2::timestamptz + g * interval '1 second'
		FROM generate_series(1, $1) AS g, charge_stations c WHERE c.id = 'CS-1'`, n, t0); err != nil {
		t.Fatal(err)
	}
	at := func(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(time.RFC3339) }
	for _, from := range []string{at(-3600), at(100), at(5000), at(n - 3)} {
		var want int
		if err := db.Get(&want, `SELECT count(*) FROM transactions WHERE updated >= $1`, from); err != nil {
			t.Fatal(err)
		}
		r := env.Do("GET", "/api/v1/sessions?limit=1&date_from="+from, nil).Must(t, 200)
		if got, _ := strconv.Atoi(r.Header.Get("X-Total-Count")); got != want {
			t.Errorf("date_from=%s: X-Total-Count %d, want %d", from, got, want)
		}
	}
}
