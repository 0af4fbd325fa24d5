package ocpi

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/schema"
)

// What publication costs the gateway's batch writes: one statement that sets the status of
// 500 EVSEs of Production stations (evse.Store.SetStatuses), the same for 5 EVSEs, one that records the connection
// or disconnection of 500 stations (chargestations.Store.RecordPresence), each committed on
// its own as the gateway does, and a batch of 500 heartbeats, which changes nothing partners
// see. Each is measured in three setups: with the publication triggers disabled (what the
// statement costs without publication), enabled without a partner, and enabled with a
// registered partner that has a Locations receiver (a push queued per change). The setups
// take turns, statement after statement, on one database, so that a neighbour's burst of
// work on a shared machine falls on all three alike; the median of each is reported. The
// data: 1,500 two-EVSE Production stations at 150 locations. Switching the triggers makes
// every connection plan its statements again, so NoPartner, the first statement after them
// are switched on, includes planning; WithPartner, which follows it, does not.
//
//	go test -run '^$' -bench PublicationCost -benchtime 30x ./ocpi

const costBatch = 500

// smallBatch is the size of a commit at a quiet time, or of the gateway's batches of connects
// and of creations through the API at 16 clients (about 9): what each commit costs on top of
// its rows shows there (publication at commit, planning).
const smallBatch = 5

// costSetups are the three ways publication is measured, in turn.
var costSetups = []string{"WithoutPublication", "NoPartner", "WithPartner"}

// costBench is the data set and its switches.
type costBench struct {
	e        *env
	stations *chargestations.Store
	round    map[string]int // statements made per setup and kind
}

func newCostBench(tb testing.TB) *costBench {
	tb.Helper()
	e := newEnv(tb)
	e.registerPartner(newFakePartner(tb, true), "eMSP")
	for i := 0; i < 150; i++ {
		if err := e.seedSites(fmt.Sprintf("C%03d-", i), 0, 10); err != nil {
			tb.Fatal(err)
		}
	}
	// Every EVSE reported AVAILABLE once: a station going offline then shows UNKNOWN.
	if _, err := e.db.Exec(`UPDATE evses SET status = 'AVAILABLE', ocpp_status = 'Available'`); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.db.Exec(`DELETE FROM ocpi_deliveries; ANALYZE`); err != nil {
		tb.Fatal(err)
	}
	return &costBench{e: e, stations: chargestations.NewStore(e.db), round: map[string]int{}}
}

// costStation is the id of station k of the data set.
func costStation(k int) string { return fmt.Sprintf("C%03d-S%04d", k/10, k%10) }

// setUp switches publication and the partner's receiver for setup.
func (c *costBench) setUp(tb testing.TB, setup string) {
	tb.Helper()
	on := map[bool]string{true: "ENABLE", false: "DISABLE"}[setup != "WithoutPublication"]
	receiver := "NULL"
	if setup == "WithPartner" {
		receiver = "'" + c.e.srv.URL + "/unused'"
	}
	q := fmt.Sprintf(`ALTER TABLE evses %[1]s TRIGGER ocpi_evses_update;
		ALTER TABLE charge_stations %[1]s TRIGGER ocpi_charge_stations_update;
		UPDATE ocpi_partners SET locations_url = %[2]s;
		DELETE FROM ocpi_deliveries`, on, receiver)
	if _, err := c.e.db.Exec(q); err != nil {
		tb.Fatal(err)
	}
}

// statement makes one statement of kind in setup, each a change of what partners see: the
// setups with publication alternate the status of EVSE 1 of stations 0…499 and the
// connection of stations 500…999 (all online, offline, online…); the setup without
// publication uses EVSE 2 and stations 1000…1499, whose published state it leaves behind.
func (c *costBench) statement(tb testing.TB, setup, kind string) {
	tb.Helper()
	ctx := tb.Context()
	publishing := setup != "WithoutPublication"
	key := kind
	if !publishing {
		key = setup + "/" + kind
	}
	n := c.round[key]
	c.round[key]++
	switch kind {
	case "Statuses500", "Statuses5":
		size := map[string]int{"Statuses500": costBatch, "Statuses5": smallBatch}[kind]
		status, ocpp := schema.Status("CHARGING"), "Charging"
		if n%2 == 1 {
			status, ocpp = "AVAILABLE", "Available"
		}
		seq := map[bool]int{true: 1, false: 2}[publishing]
		batch := make([]evse.StatusChange, size)
		for k := range batch {
			batch[k] = evse.StatusChange{Identity: costStation(k), SequenceNumber: seq, OCPPStatus: ocpp, Status: status, At: time.Now()}
		}
		if _, _, _, err := c.e.evses.SetStatuses(ctx, batch); err != nil {
			tb.Fatal(err)
		}
	case "Presence500":
		first := map[bool]int{true: costBatch, false: 2 * costBatch}[publishing]
		batch := make([]chargestations.Presence, costBatch)
		for k := range batch {
			id := costStation(first + k)
			batch[k] = chargestations.Presence{Identity: id, Online: n%2 == 1, ProtocolVersion: "ocpp1.6",
				ClientIPAddress: "192.0.2.1", Endpoint: "/ocpp/" + id, At: time.Now()}
		}
		if _, err := c.stations.RecordPresence(ctx, batch); err != nil {
			tb.Fatal(err)
		}
	case "Heartbeats500":
		beats := make(map[string]time.Time, costBatch)
		for k := range costBatch {
			beats[costStation(k)] = time.Now()
		}
		if err := c.stations.RecordHeartbeats(ctx, beats); err != nil {
			tb.Fatal(err)
		}
	}
}

var costKinds = []string{"Statuses500", "Statuses5", "Presence500", "Heartbeats500"}

func BenchmarkPublicationCost(b *testing.B) {
	c := newCostBench(b)
	for _, kind := range costKinds {
		b.Run(kind, func(b *testing.B) {
			took := map[string][]time.Duration{}
			for b.Loop() {
				for _, setup := range costSetups {
					b.StopTimer()
					c.setUp(b, setup)
					b.StartTimer()
					start := time.Now()
					c.statement(b, setup, kind)
					took[setup] = append(took[setup], time.Since(start))
				}
			}
			for _, setup := range costSetups {
				d := took[setup]
				slices.Sort(d)
				b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "ms/"+setup)
			}
		})
	}
}

// TestPublicationCost makes the statements of BenchmarkPublicationCost a few times, logs what
// they take (go test -v; next to other tests and under -race the timings are indicative
// only: the benchmark is the measurement) and checks what they publish: every change of a
// Production EVSE's status is a PATCH for the partner, a station going offline or online a
// PATCH per EVSE, a heartbeat nothing (nor is anything left noted for a commit), and
// without publication nothing changes.
func TestPublicationCost(t *testing.T) {
	t.Parallel()
	c := newCostBench(t)
	const rounds = 4
	var report []string
	for _, kind := range costKinds {
		took := map[string]time.Duration{}
		for range rounds {
			for _, setup := range costSetups {
				c.setUp(t, setup)
				var before time.Time
				c.e.db.Get(&before, `SELECT max(last_updated) FROM ocpi_locations`)
				start := time.Now()
				c.statement(t, setup, kind)
				took[setup] += time.Since(start)
				var changed, patches, puts, pending int
				c.e.db.Get(&changed, `SELECT count(*) FROM ocpi_evses WHERE last_updated > $1`, before)
				c.e.db.Get(&patches, `SELECT count(*) FROM ocpi_deliveries WHERE kind = 'evse_status'`)
				c.e.db.Get(&puts, `SELECT count(*) FROM ocpi_deliveries WHERE kind = 'location'`)
				c.e.db.Get(&pending, `SELECT (SELECT count(*) FROM ocpi_pending) + (SELECT count(*) FROM ocpi_commits)`)
				want := map[string]int{"Statuses500": costBatch, "Statuses5": smallBatch, "Presence500": 2 * costBatch, "Heartbeats500": 0}[kind]
				if setup == "WithoutPublication" {
					want = 0
				}
				wantPushes := 0
				if setup == "WithPartner" {
					wantPushes = want
				}
				if changed != want || patches != wantPushes || puts != 0 || pending != 0 {
					t.Errorf("%s %s: %d EVSEs restamped (want %d), %d PATCHes and %d PUTs queued (want %d and 0), %d rows left pending",
						setup, kind, changed, want, patches, puts, wantPushes, pending)
				}
			}
		}
		for _, setup := range costSetups {
			report = append(report, fmt.Sprintf("%s %s: %.1f ms", kind, setup, float64(took[setup].Microseconds())/1000/rounds))
		}
	}
	t.Logf("one statement, with its commit (mean of %d):\n%s", rounds, strings.Join(report, "\n"))
}
