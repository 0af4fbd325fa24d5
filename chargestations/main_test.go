package chargestations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/locations"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/tariffs"
	"github.com/evroam/evroam/templates"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is the API with every registry handler mounted as cmd/evroam mounts them, plus the
// stores a test may need to reach behind the API.
type env struct {
	*apitest.Env
	Stations *chargestations.Store
	Service  *chargestations.Service
	EVSEs    *evse.Store
	// Answers is the service's answer cache, which serves GET and list pages as in production.
	Answers *chargestations.AnswerCache
	// GroupWarnings are the warnings of the grouped creations: a shared transaction that
	// failed for another reason than two creations claiming one evse_id.
	GroupWarnings *warnings
}

// warnings is a slog.Handler that keeps the messages of warnings and errors.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *warnings) WithGroup(string) slog.Handler            { return w }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	w.mu.Unlock()
	return nil
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.msgs)
}

// newEnv is the API as cmd/evroam serves it, without an answer cache: a test may write behind
// the API (the gateway's stores) and read at once.
func newEnv(t testing.TB) *env { return newEnvWith(t, nil, false) }

// newEnvWithCache is newEnv with an answer cache, as in production. With listening true the
// cache hears the changes made in the database (after a few milliseconds, as another node's);
// with listening false it hears none: a node whose notifications have not arrived.
func newEnvWithCache(t testing.TB, listening bool) *env {
	return newEnvWith(t, chargestations.NewAnswerCache(64<<20), listening)
}

func newEnvWith(t testing.TB, answers *chargestations.AnswerCache, listening bool) *env {
	t.Helper()
	e := &env{GroupWarnings: &warnings{}, Answers: answers}
	dbURL := pgtest.URL(t)
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.Env = apitest.NewOnDB(t, db, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		locStore := locations.NewStore(db)
		tplStore := templates.NewStore(db)
		e.EVSEs = evse.NewStore(db)
		e.Stations = chargestations.NewStore(db)
		tariffSvc := tariffs.NewService(db, tariffs.NewStore(db), nil)
		e.Service = chargestations.NewService(db, e.Stations, e.EVSEs, locStore, tplStore, tariffSvc, nil, e.Answers, nil)
		// As in production: creations running at the same time share transactions.
		e.Service.GroupCreates(slog.New(e.GroupWarnings))
		t.Cleanup(e.Service.Close)
		locations.NewHandler(locations.NewService(db, locStore, e.Stations, nil), e.EVSEs).Routes(v1)
		templates.NewHandler(templates.NewService(db, tplStore, nil)).Routes(v1)
		chargestations.NewHandler(e.Service).Routes(v1)
		evse.NewHandler(evse.NewService(db, e.EVSEs, tariffSvc, e.Answers.Forget, nil)).Routes(v1)
		tariffs.NewHandler(tariffSvc).Routes(v1)
	})
	// Production runs with a bounded pool; so do the tests, which would hang if a request
	// needed a second connection while holding a transaction.
	e.DB.SetMaxOpenConns(16)
	if answers == nil {
		return e
	}
	if !listening {
		chargestations.ServeWithoutListening(e.Answers)
		return e
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Answers.ListenForChanges(ctx, dbURL, slog.New(e.GroupWarnings)) }()
	t.Cleanup(func() { stop(); <-done })
	for !e.Answers.Serving() { // it serves once its LISTEN succeeded
		select {
		case <-done:
			t.Fatal("the answer cache stopped before it listened")
		case <-time.After(time.Millisecond):
		}
	}
	return e
}

// mustLocation creates a location with the given key and returns its id.
func (e *env) mustLocation(key string) string {
	e.T.Helper()
	r := e.DoKey(key, http.MethodPost, "/api/v1/locations", map[string]any{
		"name": "Car park", "address": "Stationsplein 1", "city": "Amsterdam", "country": "NLD",
		"coordinates": map[string]string{"latitude": "52.37903", "longitude": "4.90007"},
		"time_zone":   "Europe/Amsterdam",
	}).Must(e.T, http.StatusCreated)
	var loc struct{ ID string }
	r.Decode(e.T, &loc)
	// A tariff of the location's network, for the stations there (station() names it): its
	// id is the location's, which is unique.
	e.mustTariff(key, loc.ID)
	return loc.ID
}

// mustTariff creates a free tariff id in the network of key.
func (e *env) mustTariff(key, id string) {
	e.T.Helper()
	e.DoKey(key, http.MethodPost, "/api/v1/tariffs", map[string]any{"id": id, "currency": "EUR", "elements": []any{
		map[string]any{"price_components": []any{map[string]any{"type": "FLAT", "price": 0, "step_size": 1}}}}}).Must(e.T, http.StatusCreated)
}

// acTemplate is a two-EVSE AC hardware template: one Type 2 socket per EVSE.
func acTemplate(id string) map[string]any {
	evse := func(n int) map[string]any {
		return map[string]any{
			"evse_sequence_number": n,
			"capabilities":         []string{"RFID_READER", "REMOTE_START_STOP_CAPABLE"},
			"connector_templates": []map[string]any{{
				"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE",
				"max_voltage": 230, "max_amperage": 32, "max_electric_power": 22000,
			}},
		}
	}
	return map[string]any{"template_id": id, "name": "Dual AC 22 kW", "evse_templates": []any{evse(1), evse(2)}}
}

func (e *env) mustTemplate(key, id string) {
	e.T.Helper()
	e.DoKey(key, http.MethodPost, "/api/v1/templates", acTemplate(id)).Must(e.T, http.StatusCreated)
}

// station is a station body; evses or a template are added by the caller.
func station(id, location string) map[string]any {
	return map[string]any{
		"charge_station_id": id, "location_id": location, "deploy_state": "Production",
		"default_charge_station_tariff_id": location, "charger_type": "Public", // mustLocation's tariff
	}
}

func fromTemplate(id, location, tpl string) map[string]any {
	b := station(id, location)
	b["charge_station_template_id"] = tpl
	return b
}

// dcEVSE is one DC EVSE with a CCS2 cable, as a client writes it.
func dcEVSE() map[string]any {
	return map[string]any{"connectors": []map[string]any{{
		"id": "1", "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC",
		"max_voltage": 920, "max_amperage": 400, "max_electric_power": 150000,
	}}}
}

func manual(id, location string, evses ...map[string]any) map[string]any {
	b := station(id, location)
	b["evses"] = evses
	return b
}

// stationJSON is the part of a station response the tests read.
type stationJSON struct {
	ChargeStationID    string          `json:"charge_station_id"`
	LocationID         string          `json:"location_id"`
	Name               *string         `json:"name"`
	Remarks            *string         `json:"remarks"`
	MaintenanceInfo    *string         `json:"maintenance_info"`
	Status             string          `json:"status"`
	OnboardingState    string          `json:"onboarding_state"`
	SecurityProfile    int             `json:"security_profile"`
	HasOCPPPassword    bool            `json:"has_ocpp_password"`
	FirmwareVersion    *string         `json:"firmware_version"`
	ConnectivityStatus *string         `json:"connectivity_status"`
	EVSEs              []evseJSON      `json:"evses"`
	ETag               string          `json:"etag"`
	LastUpdated        string          `json:"last_updated"`
	Raw                json.RawMessage `json:"-"`
}

type evseJSON struct {
	UID                string          `json:"uid"`
	EVSESequenceNumber int             `json:"evse_sequence_number"`
	Status             string          `json:"status"`
	PhysicalReference  *string         `json:"physical_reference"`
	Capabilities       []string        `json:"capabilities"`
	Connectors         []connectorJSON `json:"connectors"`
	LastUpdated        string          `json:"last_updated"`
}

type connectorJSON struct {
	ID               string  `json:"id"`
	Standard         string  `json:"standard"`
	Format           string  `json:"format"`
	Internal         *string `json:"internal"`
	PowerType        string  `json:"power_type"`
	MaxVoltage       int     `json:"max_voltage"`
	MaxAmperage      int     `json:"max_amperage"`
	MaxElectricPower *int    `json:"max_electric_power"`
}

func (e *env) getStation(key, id string) stationJSON {
	e.T.Helper()
	r := e.DoKey(key, http.MethodGet, "/api/v1/chargestations/"+id, nil).Must(e.T, http.StatusOK)
	var s stationJSON
	r.Decode(e.T, &s)
	s.Raw = r.Data
	return s
}

func decodeStation(t testing.TB, r *apitest.Response) stationJSON {
	t.Helper()
	var s stationJSON
	r.Decode(t, &s)
	s.Raw = r.Data
	return s
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}

var uuidNil = uuid.Nil

func nowUTC() time.Time { return time.Now().UTC() }

type uuidT = uuid.UUID

// setStatus records one status report as the gateway does (evse.Store.SetStatuses with one
// entry); an EVSE the station does not have is evse.ErrNotFound.
func (e *env) setStatus(id string, seq int, ocppStatus string, status schema.Status, at time.Time) error {
	found, _, _, err := e.EVSEs.SetStatuses(e.T.Context(), []evse.StatusChange{{Identity: id, SequenceNumber: seq,
		OCPPStatus: ocppStatus, Status: status, At: at}})
	if err != nil {
		return err
	}
	if !found[0] {
		return evse.ErrNotFound
	}
	return nil
}
