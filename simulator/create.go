package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CreateStations creates the stations of cfg through evroam's REST API (cfg.Create): a
// location unless one is given, the token of its sessions (cfg.IDTag, an RFID token of the
// key's network), the AC template unless one is given, the tariff unless it exists, then
// every station
// with POST /chargestations. A station that exists already (409) is reused as it is. With a
// password the stations get it as their ocpp_password (security profile 1, the default);
// without, they are created with security profile 0 so that they can connect without
// credentials. Progress goes to out.
func CreateStations(ctx context.Context, cfg Config, out io.Writer) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	c := &apiClient{base: strings.TrimRight(cfg.Create.APIURL, "/"), key: cfg.Create.APIKey,
		http: &http.Client{Timeout: 30 * time.Second}}
	location := cfg.Create.LocationID
	if location == "" {
		var loc struct {
			ID string `json:"id"`
		}
		if err := c.do(ctx, http.MethodPost, "/locations", map[string]any{
			"name": "evroam simulator", "address": "Simulatorweg 1", "city": "Utrecht", "postal_code": "3511AA",
			"country": "NLD", "time_zone": "Europe/Amsterdam",
			"coordinates": map[string]string{"latitude": "52.09074", "longitude": "5.12142"},
		}, &loc, http.StatusCreated); err != nil {
			return fmt.Errorf("create a location: %w", err)
		}
		location = loc.ID
		fmt.Fprintf(out, "created location %s\n", location)
	}
	// The sessions the stations start present IDTag: evroam refuses tokens it does not know,
	// so the simulator registers its own (an existing one, 409, is kept as it is).
	var tok json.RawMessage
	status, err := c.send(ctx, http.MethodPost, "/tokens", map[string]any{
		"uid": cfg.IDTag, "type": "RFID", "contract_id": "NL-EVR-SIM-" + cfg.IDTag, "issuer": "evroam simulator",
		"valid": true, "whitelist": "ALLOWED"}, &tok)
	if err == nil && status != http.StatusCreated && status != http.StatusConflict {
		err = fmt.Errorf("HTTP %d: %s", status, truncate(string(tok), 300))
	}
	if err != nil {
		return fmt.Errorf("register token %s: %w", cfg.IDTag, err)
	}
	template := cfg.Create.TemplateID
	if template == "" {
		template = "evroam-sim-ac-" + strconv.Itoa(cfg.Connectors)
		if err := c.ensureTemplate(ctx, template, cfg.Connectors); err != nil {
			return fmt.Errorf("template %s: %w", template, err)
		}
	}

	if err := c.ensureTariff(ctx, cfg.Create.TariffID); err != nil {
		return fmt.Errorf("tariff %s: %w", cfg.Create.TariffID, err)
	}

	var created, existing atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Create.Workers, cfg.Count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Count || ctx.Err() != nil {
					return
				}
				body := map[string]any{
					"charge_station_id": cfg.Identity(i), "location_id": location, "deploy_state": "Production",
					"default_charge_station_tariff_id": cfg.Create.TariffID, "charger_type": "Public",
					"charge_station_template_id": template,
				}
				if cfg.Password != "" {
					body["ocpp_password"] = cfg.Password
				} else {
					body["security_profile"] = 0
				}
				var answer json.RawMessage
				status, err := c.send(ctx, http.MethodPost, "/chargestations", body, &answer)
				switch {
				case err == nil && status == http.StatusCreated:
					created.Add(1)
				case err == nil && status == http.StatusConflict:
					existing.Add(1)
				default:
					if err == nil {
						err = fmt.Errorf("HTTP %d: %s", status, truncate(string(answer), 300))
					}
					errOnce.Do(func() { firstErr = fmt.Errorf("create station %s: %w", cfg.Identity(i), err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintf(out, "stations: %d created, %d existed already (location %s, template %s)\n",
		created.Load(), existing.Load(), location, template)
	return nil
}

// ensureTemplate creates the simulator's AC template with n EVSEs unless it exists.
func (c *apiClient) ensureTemplate(ctx context.Context, id string, n int) error {
	status, err := c.send(ctx, http.MethodGet, "/templates/"+url.PathEscape(id), nil, nil)
	if err != nil || status == http.StatusOK {
		return err
	}
	if status != http.StatusNotFound {
		return fmt.Errorf("GET: HTTP %d", status)
	}
	evses := make([]any, n)
	for i := range evses {
		evses[i] = map[string]any{
			"evse_sequence_number": i + 1,
			"capabilities":         []string{"RFID_READER", "REMOTE_START_STOP_CAPABLE"},
			"connector_templates": []any{map[string]any{"id": "1", "internal": "Mennekes_Socket", "power_type": "AC_3_PHASE",
				"max_voltage": 400, "max_amperage": 32, "max_electric_power": 22000}},
		}
	}
	return c.do(ctx, http.MethodPut, "/templates/"+url.PathEscape(id), map[string]any{
		"name": fmt.Sprintf("evroam simulator AC %d×22 kW", n), "evse_templates": evses}, nil, http.StatusCreated)
}

// ensureTariff creates the stations' default tariff (0.30 per kWh, in the network of the API
// key, as the location it creates) unless it exists: a station may only name a tariff of its
// network.
func (c *apiClient) ensureTariff(ctx context.Context, id string) error {
	status, err := c.send(ctx, http.MethodGet, "/tariffs/"+url.PathEscape(id), nil, nil)
	if err != nil || status == http.StatusOK {
		return err
	}
	if status != http.StatusNotFound {
		return fmt.Errorf("GET: HTTP %d", status)
	}
	return c.do(ctx, http.MethodPut, "/tariffs/"+url.PathEscape(id), map[string]any{
		"currency": "EUR", "tariff_alt_text": []any{map[string]any{"language": "en", "text": "evroam simulator: 0.30 per kWh"}},
		"elements": []any{map[string]any{"price_components": []any{
			map[string]any{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}}}},
	}, nil, http.StatusCreated)
}

// apiClient is the little of evroam's REST API that creating stations needs.
type apiClient struct {
	base, key string
	http      *http.Client
}

// do sends a request, checks the status and decodes the envelope's data into out.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any, want int) error {
	var data json.RawMessage
	status, err := c.send(ctx, method, path, body, &data)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, status, truncate(string(data), 300))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// send returns the HTTP status and, into data, the envelope's data (or the raw body).
func (c *apiClient) send(ctx context.Context, method, path string, body any, data *json.RawMessage) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if data != nil {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(raw, &env) == nil && env.Data != nil {
			*data = env.Data
		} else {
			*data = raw
		}
	}
	return resp.StatusCode, nil
}
