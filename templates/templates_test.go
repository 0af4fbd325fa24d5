package templates_test

import (
	"net/http"
	"testing"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/templates"
	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newEnv(t *testing.T) *apitest.Env {
	return apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		templates.NewHandler(templates.NewService(db, templates.NewStore(db), nil)).Routes(v1)
	})
}

type connector struct {
	ID               string `json:"id"`
	Standard         string `json:"standard"`
	Format           string `json:"format"`
	Internal         string `json:"internal"`
	PowerType        string `json:"power_type"`
	MaxVoltage       int    `json:"max_voltage"`
	MaxAmperage      int    `json:"max_amperage"`
	MaxElectricPower *int   `json:"max_electric_power"`
}

type template struct {
	TemplateID    string `json:"template_id"`
	Name          string `json:"name"`
	NetworkID     string `json:"network_id"`
	EVSETemplates []struct {
		EVSESequenceNumber int         `json:"evse_sequence_number"`
		Capabilities       []string    `json:"capabilities"`
		ConnectorTemplates []connector `json:"connector_templates"`
	} `json:"evse_templates"`
	ETag        string `json:"etag"`
	LastUpdated string `json:"last_updated"`
}

func dcTemplate(name string) map[string]any {
	return map[string]any{
		"name": name,
		"evse_templates": []any{map[string]any{
			"evse_sequence_number": 1,
			"capabilities":         []string{"RFID_READER", "REMOTE_START_STOP_CAPABLE"},
			"connector_templates": []any{
				map[string]any{"id": "1", "internal": "CCS2_Cable", "power_type": "DC", "max_voltage": 920, "max_amperage": 200, "max_electric_power": 150000},
				map[string]any{"id": "2", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "max_voltage": 500, "max_amperage": 125},
			},
		}},
	}
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	var created template
	e.Do("POST", "/api/v1/templates", dcTemplate("DC 150")).Must(t, http.StatusCreated).Decode(t, &created)
	if created.TemplateID == "" || created.ETag == "" {
		t.Fatalf("no generated id/etag: %+v", created)
	}
	got := created.EVSETemplates[0].ConnectorTemplates
	want := []connector{
		{ID: "1", Standard: "IEC_62196_T2_COMBO", Format: "CABLE", Internal: "CCS2_Cable", PowerType: "DC", MaxVoltage: 920, MaxAmperage: 200, MaxElectricPower: ptr(150000)},
		{ID: "2", Standard: "CHADEMO", Format: "CABLE", Internal: "ChaDeMo_Cable", PowerType: "DC", MaxVoltage: 500, MaxAmperage: 125},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("connectors mismatch (-want +got):\n%s", diff)
	}

	path := "/api/v1/templates/" + created.TemplateID
	var read template
	e.Do("GET", path, nil).Must(t, http.StatusOK).Decode(t, &read)
	if diff := cmp.Diff(created, read); diff != "" {
		t.Errorf("GET mismatch (-want +got):\n%s", diff)
	}

	// PUT replaces, with the etag; without it 428, with a stale one 412.
	body := dcTemplate("DC 150 v2")
	e.Do("PUT", path, body).Must(t, http.StatusPreconditionRequired)
	body["etag"] = "11111111-1111-1111-1111-111111111111"
	e.Do("PUT", path, body).Must(t, http.StatusPreconditionFailed)
	body["etag"] = created.ETag
	var replaced template
	e.Do("PUT", path, body).Must(t, http.StatusOK).Decode(t, &replaced)
	if replaced.Name != "DC 150 v2" || replaced.ETag == created.ETag {
		t.Errorf("PUT result %+v", replaced)
	}

	// PUT on a new id creates it.
	var fresh template
	e.Do("PUT", "/api/v1/templates/ac-22", dcTemplate("by put")).Must(t, http.StatusCreated).Decode(t, &fresh)
	if fresh.TemplateID != "ac-22" {
		t.Errorf("template_id = %q, want ac-22", fresh.TemplateID)
	}

	var list []template
	r := e.Do("GET", "/api/v1/templates", nil).Must(t, http.StatusOK)
	r.Decode(t, &list)
	if len(list) != 2 || r.Header.Get("X-Total-Count") != "2" {
		t.Errorf("list has %d templates (X-Total-Count %q), want 2", len(list), r.Header.Get("X-Total-Count"))
	}

	e.Do("DELETE", path, nil).Must(t, http.StatusNoContent)
	e.Do("GET", path, nil).Must(t, http.StatusNotFound)
	e.Do("DELETE", path, nil).Must(t, http.StatusNotFound)
}

func ptr[T any](v T) *T { return &v }

func TestConnectorRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	conn := func(kv ...any) map[string]any {
		c := map[string]any{"id": "1", "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	body := map[string]any{
		"name": "bad",
		"evse_templates": []any{
			map[string]any{"evse_sequence_number": 1, "connector_templates": []any{
				conn("standard", "iec_62196_t2", "format", "SOCKET"),                                      // wrong case
				conn("id", "2", "internal", "CCS2_Cable", "standard", "IEC_62196_T2", "power_type", "DC"), // contradiction
				conn("id", "3", "standard", "DOMESTIC_F", "format", "SOCKET", "power_type", "DC"),         // DC domestic socket
				conn("id", "4", "internal", "Mennekes_Socket", "max_voltage", 0),                          // non-positive
				conn("id", "4", "internal", "Mennekes_Socket", "power_type", "AC_4_PHASE"),                // duplicate id, bad power type
			}},
			map[string]any{"evse_sequence_number": 1, "capabilities": []string{"WIFI"}, "connector_templates": []any{conn("internal", "Type1_Cable")}},
		},
	}
	r := e.Do("POST", "/api/v1/templates", body).Must(t, 422)
	want := []string{
		"evse_templates[0].connector_templates[3].max_voltage",
		"evse_templates[0].connector_templates[0].standard",
		"evse_templates[0].connector_templates[1].internal",
		"evse_templates[0].connector_templates[2].power_type",
		"evse_templates[0].connector_templates[4].id",
		"evse_templates[0].connector_templates[4].power_type",
		"evse_templates[1].capabilities[0]",
		"evse_templates[1].evse_sequence_number",
	}
	if diff := cmp.Diff(sorted(want), sorted(r.Fields())); diff != "" {
		t.Errorf("error fields mismatch (-want +got):\n%s\nbody: %s", diff, r.Body)
	}
	e.Do("GET", "/api/v1/templates", nil).Must(t, http.StatusOK)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, keyA := e.Network(e.Root.ID, "AAA")
	_, keyB := e.Network(e.Root.ID, "BBB")
	var a template
	e.DoKey(keyA, "POST", "/api/v1/templates", dcTemplate("A's")).Must(t, http.StatusCreated).Decode(t, &a)
	path := "/api/v1/templates/" + a.TemplateID
	e.DoKey(keyB, "GET", path, nil).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "DELETE", path, nil).Must(t, http.StatusNotFound)
	var list []template
	e.DoKey(keyB, "GET", "/api/v1/templates", nil).Must(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Errorf("B lists %d templates of A", len(list))
	}
	// A PUT by B on A's id cannot take it over.
	body := dcTemplate("B's")
	body["etag"] = a.ETag
	e.DoKey(keyB, "PUT", path, body).Must(t, http.StatusConflict)
	e.DoKey(keyA, "GET", path, nil).Must(t, http.StatusOK)
}
