package commands_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/ocpp"
)

type historyItem struct {
	ID             string  `json:"id"`
	Direction      string  `json:"direction"`
	VendorID       string  `json:"vendorId"`
	MessageID      string  `json:"messageId"`
	Data           *string `json:"data"`
	ResponseStatus string  `json:"responseStatus"`
	ResponseData   *string `json:"responseData"`
	Error          string  `json:"error"`
	CreatedAt      string  `json:"createdAt"`
}

type history struct {
	ChargeBoxID   string        `json:"chargeBoxId"`
	DataTransfers []historyItem `json:"dataTransfers"`
	Count         int           `json:"count"`
}

func getHistory(t *testing.T, e *env, id, query string) history {
	t.Helper()
	status, b := do(t, http.MethodGet, e.apiURL+"/chargers/"+id+"/data-transfer"+query, keyA, "")
	if status != http.StatusOK {
		t.Fatalf("GET data-transfer%s = %d %s", query, status, b)
	}
	var h history
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("history body %s: %v", b, err)
	}
	if h.ChargeBoxID != id || h.Count != len(h.DataTransfers) {
		t.Errorf("history header: chargeBoxId %q count %d with %d items", h.ChargeBoxID, h.Count, len(h.DataTransfers))
	}
	return h
}

func TestDataTransferHistory(t *testing.T) {
	t.Parallel()
	for _, v := range []version{v16, v201} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, commands.Config{Timeout: 500 * time.Millisecond})
			p := e.connect(t, e.ocppURL, v, "CP-DT")

			if h := getHistory(t, e, "CP-DT", ""); len(h.DataTransfers) != 0 {
				t.Fatalf("history of a new station: %+v", h)
			}

			// 1: incoming (the gateway answers UnknownVendorId).
			p.MustCall("DataTransfer", map[string]any{"vendorId": "StationVendor", "messageId": "Hello", "data": "ping"})
			// 2: outgoing, accepted.
			p.OnCall("DataTransfer", map[string]any{"status": "Accepted", "data": `{"text": "Hello"}`})
			if status, b := do(t, http.MethodPost, e.apiURL+"/chargers/CP-DT/data-transfer", keyA,
				`{"vendorId": "MyVendor", "messageId": "GetDisplayMessage", "data": "{\"screen\": 1}"}`); status != http.StatusOK {
				t.Fatalf("POST data-transfer = %d %s", status, b)
			}
			// 3: outgoing, unanswered.
			p.OnCallNever("DataTransfer")
			if status, b := do(t, http.MethodPost, e.apiURL+"/chargers/CP-DT/data-transfer", keyA, `{"vendorId": "MyVendor"}`); status != http.StatusGatewayTimeout {
				t.Fatalf("POST data-transfer to a silent station = %d %s, want 504", status, b)
			}
			// 4: incoming without data.
			p.MustCall("DataTransfer", map[string]any{"vendorId": "StationVendor"})

			// The unanswered call is recorded when the gateway gives up on it.
			var h history
			deadline := time.Now().Add(waitTimeout)
			for {
				h = getHistory(t, e, "CP-DT", "")
				if len(h.DataTransfers) == 4 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if len(h.DataTransfers) != 4 {
				t.Fatalf("history has %d items, want 4: %+v", len(h.DataTransfers), h)
			}
			str := func(s string) *string { return &s }
			want := []historyItem{
				{Direction: "incoming", VendorID: "StationVendor", ResponseStatus: "UnknownVendorId"},
				{Direction: "outgoing", VendorID: "MyVendor", Error: "timeout"},
				{Direction: "outgoing", VendorID: "MyVendor", MessageID: "GetDisplayMessage", Data: str(`{"screen": 1}`),
					ResponseStatus: "Accepted", ResponseData: str(`{"text": "Hello"}`)},
				{Direction: "incoming", VendorID: "StationVendor", MessageID: "Hello", Data: str("ping"), ResponseStatus: "UnknownVendorId"},
			}
			// The timed-out call is recorded when the gateway gives up, which may be after
			// the fourth exchange: compare the others in order and find it anywhere.
			got := h.DataTransfers
			timedOut := -1
			for i, it := range got {
				if it.Error != "" {
					timedOut = i
				}
			}
			if timedOut < 0 || !sameItem(got[timedOut], want[1]) {
				t.Errorf("no timed-out outgoing transfer in %+v", got)
			}
			var rest []historyItem
			for i, it := range got {
				if i != timedOut {
					rest = append(rest, it)
				}
			}
			for i, w := range []historyItem{want[0], want[2], want[3]} {
				if i < len(rest) && !sameItem(rest[i], w) {
					t.Errorf("item %d = %+v, want %+v", i, rest[i], w)
				}
			}
			seen := map[string]bool{}
			var prev time.Time
			for i, it := range got {
				if !strings.HasPrefix(it.ID, "dt_") || seen[it.ID] {
					t.Errorf("item %d id %q: want a unique dt_ id", i, it.ID)
				}
				seen[it.ID] = true
				at, err := time.Parse("2006-01-02T15:04:05.000Z", it.CreatedAt)
				if err != nil {
					t.Errorf("createdAt %q is not UTC with milliseconds", it.CreatedAt)
				}
				if i > 0 && at.After(prev) {
					t.Errorf("history is not newest first: %s after %s", it.CreatedAt, got[i-1].CreatedAt)
				}
				prev = at
			}

			if h := getHistory(t, e, "CP-DT", "?limit=2"); len(h.DataTransfers) != 2 || h.DataTransfers[0].ID != got[0].ID || h.DataTransfers[1].ID != got[1].ID {
				t.Errorf("limit=2: %+v", h)
			}
			if h := getHistory(t, e, "CP-DT", "?limit=1000"); len(h.DataTransfers) != 4 {
				t.Errorf("limit=1000 (clamped to 100): %d items", len(h.DataTransfers))
			}
			for _, q := range []string{"?limit=0", "?limit=abc", "?limit=-5"} {
				if status, b := do(t, http.MethodGet, e.apiURL+"/chargers/CP-DT/data-transfer"+q, keyA, ""); status != http.StatusBadRequest {
					t.Errorf("GET data-transfer%s = %d %s, want 400", q, status, b)
				}
			}
		})
	}
}

func sameItem(got, want historyItem) bool {
	want.ID, want.CreatedAt = got.ID, got.CreatedAt
	eq := func(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
	return got.Direction == want.Direction && got.VendorID == want.VendorID && got.MessageID == want.MessageID &&
		eq(got.Data, want.Data) && got.ResponseStatus == want.ResponseStatus && eq(got.ResponseData, want.ResponseData) &&
		got.Error == want.Error
}

// TestDataTransferHistoryLimit checks the default page of 20 and the maximum of 100.
func TestDataTransferHistoryLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, commands.Config{})
	e.stations.Add("CP-MANY", networkA, "")
	base := time.Date(2026, 2, 10, 14, 0, 0, 0, time.UTC)
	for i := range 120 {
		d := commandsDataTransfer("CP-MANY", base.Add(time.Duration(i)*time.Second))
		if err := e.reg.RecordDataTransfer(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	if h := getHistory(t, e, "CP-MANY", ""); len(h.DataTransfers) != 20 || h.DataTransfers[0].CreatedAt != "2026-02-10T14:01:59.000Z" {
		t.Errorf("default page: %d items, first %+v", len(h.DataTransfers), h.DataTransfers[0])
	}
	if h := getHistory(t, e, "CP-MANY", "?limit=500"); len(h.DataTransfers) != 100 {
		t.Errorf("limit=500: %d items, want 100", len(h.DataTransfers))
	}
}

func commandsDataTransfer(id string, at time.Time) ocpp.DataTransfer {
	return ocpp.DataTransfer{Identity: id, Direction: ocpp.DirectionIn, VendorID: "V", Data: json.RawMessage(`"x"`),
		Status: "UnknownVendorId", At: at}
}
