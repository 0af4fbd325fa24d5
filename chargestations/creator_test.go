package chargestations_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentCreations sends many creations at once, good and bad mixed, so that they
// share transactions (group commit): every one must get the answer it gets alone, and the
// good ones must all be stored whole, whatever their neighbours did.
func TestConcurrentCreations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")
	_, otherKey := e.Network(e.Root.ID, "OTH")
	hidden := e.mustLocation(otherKey) // a location the root's sub-network key cannot see
	_, subKey := e.Network(e.Root.ID, "SUB")
	e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-EXISTS", loc, "dual-ac")).Must(t, http.StatusCreated)

	// The first EVSE of "CS-EVID-a-<n>" and of "CS-EVID-b-<n>" claim the same evse_id: one
	// of the two wins (201), the other is told which field (422), or, when the two were
	// written at the same moment by different transactions, that another write took it (409).
	withEVSEID := func(id, evseID string) map[string]any {
		b := station(id, loc)
		ev := dcEVSE()
		ev["evse_id"] = evseID
		b["evses"] = []any{ev}
		return b
	}
	type call struct {
		name   string
		key    string
		body   map[string]any
		want   []int    // acceptable statuses
		fields []string // fields a 422 must name
	}
	var calls []call
	for n := range 12 {
		calls = append(calls, call{name: fmt.Sprintf("good %d", n), key: e.Key, body: fromTemplate(fmt.Sprintf("CS-GOOD-%02d", n), loc, "dual-ac"), want: []int{201}})
	}
	for n := range 3 {
		id := fmt.Sprintf("CS-TWICE-%d", n)
		calls = append(calls,
			call{name: id + " first", key: e.Key, body: fromTemplate(id, loc, "dual-ac"), want: []int{201, 409}},
			call{name: id + " second", key: e.Key, body: fromTemplate(id, loc, "dual-ac"), want: []int{201, 409}})
		evid := fmt.Sprintf("NL*EVR*E%d", n)
		calls = append(calls,
			call{name: fmt.Sprintf("evse_id %d a", n), key: e.Key, body: withEVSEID(fmt.Sprintf("CS-EVID-a-%d", n), evid), want: []int{201, 409, 422}, fields: []string{"evses[0].evse_id"}},
			call{name: fmt.Sprintf("evse_id %d b", n), key: e.Key, body: withEVSEID(fmt.Sprintf("CS-EVID-b-%d", n), evid), want: []int{201, 409, 422}, fields: []string{"evses[0].evse_id"}})
	}
	calls = append(calls,
		call{name: "existing id", key: e.Key, body: fromTemplate("CS-EXISTS", loc, "dual-ac"), want: []int{409}},
		call{name: "invisible location", key: subKey, body: fromTemplate("CS-HIDDEN", hidden, "dual-ac"), want: []int{422}, fields: []string{"location_id"}},
		call{name: "unknown template", key: e.Key, body: fromTemplate("CS-NO-TPL", loc, "no-such-template"), want: []int{404, 422}},
		call{name: "unknown tariff", key: e.Key, body: func() map[string]any {
			b := fromTemplate("CS-NO-TARIFF", loc, "dual-ac")
			b["default_charge_station_tariff_id"] = "NO-SUCH-TARIFF"
			return b
		}(), want: []int{422}, fields: []string{"default_charge_station_tariff_id"}},
		call{name: "bad body", key: e.Key, body: map[string]any{"charge_station_id": "CS-BAD", "location_id": loc, "deploy_state": "Sideways"},
			want: []int{422}, fields: []string{"deploy_state"}},
	)

	for round := range 3 { // several rounds: the grouping differs from run to run
		got := make([]*struct {
			status int
			body   string
		}, len(calls))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range calls {
			body := c.body
			if round > 0 { // fresh ids per round, where the id is the call's own
				body = renamed(body, round)
			}
			wg.Go(func() {
				<-start
				r := e.DoKey(c.key, http.MethodPost, "/api/v1/chargestations", body)
				got[i] = &struct {
					status int
					body   string
				}{r.Status, string(r.Body)}
			})
		}
		close(start)
		wg.Wait()

		wins := map[string]int{}
		for i, c := range calls {
			g := got[i]
			ok := false
			for _, w := range c.want {
				ok = ok || g.status == w
			}
			if !ok {
				t.Errorf("round %d, %s: %d %s, want one of %v", round, c.name, g.status, g.body, c.want)
				continue
			}
			for _, f := range c.fields {
				if g.status == 422 && !strings.Contains(g.body, `"`+f+`"`) {
					t.Errorf("round %d, %s: 422 does not name %s: %s", round, c.name, f, g.body)
				}
			}
			if g.status == 201 {
				pair := strings.TrimSuffix(strings.TrimSuffix(c.name, " first"), " second")
				pair = strings.TrimSuffix(strings.TrimSuffix(pair, " a"), " b")
				wins[pair]++
			}
		}
		for n := range 3 {
			for _, pair := range []string{fmt.Sprintf("CS-TWICE-%d", n), fmt.Sprintf("evse_id %d", n)} {
				if wins[pair] != 1 {
					t.Errorf("round %d, %s: %d of the two creations won, want exactly 1", round, pair, wins[pair])
				}
			}
		}
		// Every station answered 201 is stored whole (both EVSEs of the template).
		for i, c := range calls {
			if got[i].status != 201 || !strings.HasPrefix(c.name, "good") {
				continue
			}
			id := c.body["charge_station_id"].(string)
			if round > 0 {
				id = renamed(c.body, round)["charge_station_id"].(string)
			}
			if st := e.getStation(e.Key, id); len(st.EVSEs) != 2 {
				t.Errorf("round %d: %s stored with %d EVSEs, want 2", round, id, len(st.EVSEs))
			}
		}
	}
	// No shared transaction failed but for an evse_id race: a failure of the shared
	// statements themselves would be answered right, alone, and show only here (and in
	// the time every group would take).
	if w := e.GroupWarnings.all(); len(w) > 0 {
		t.Errorf("%d shared transactions failed: %v", len(w), w)
	}
	// The rounds did share transactions (else this test would not test grouping).
	if st := e.Service.CreateStats(); st.Flushes.Load() >= st.Items.Load() {
		t.Errorf("%d creations in %d transactions: none shared one", st.Items.Load(), st.Flushes.Load())
	}
	// Nothing else was stored: the list total counts the winners only.
	r := e.Do(http.MethodGet, "/api/v1/chargestations?limit=1", nil).Must(t, http.StatusOK)
	total := r.Header.Get("X-Total-Count")
	// 1 existing + per round: 12 good + 3 pairs of twins (1 each) + 3 evse_id pairs (1 each).
	if want := fmt.Sprint(1 + 3*(12+3+3)); total != want {
		t.Errorf("X-Total-Count = %s, want %s", total, want)
	}
}

// renamed is body with its station id made unique to round (the existing id stays, so that
// its 409 is tested every round; so does the evse_id pairs' claim, renamed alike).
func renamed(body map[string]any, round int) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	if id, _ := body["charge_station_id"].(string); id != "CS-EXISTS" {
		out["charge_station_id"] = fmt.Sprintf("%s-R%d", id, round)
	}
	if evs, ok := body["evses"].([]any); ok {
		ev := map[string]any{}
		for k, v := range evs[0].(map[string]any) {
			ev[k] = v
		}
		ev["evse_id"] = fmt.Sprintf("%sR%d", ev["evse_id"], round)
		out["evses"] = []any{ev}
	}
	return out
}
