package chargestations

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/batch"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/locations"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/templates"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Creating stations: group commit.
//
// A station's creation publishes it to OCPI in its own transaction, and publishing holds the
// global stamping lock from the stamp to the end of the commit (migration 0016). Alone, every
// creation is a commit under that lock plus seven round trips, and sixteen clients on two
// cores went at the speed of one (about 200 stations/s): the lock's holder waited for the
// CPU with the fifteen others queued behind it.
//
// With GroupCreates the creations that arrive while a commit runs are written by one
// transaction: one query reads all of their locations, one each their templates and tariffs
// (usually the same few), one statement inserts the stations and one their EVSEs, and one
// commit publishes them all with a single stamp. A creation the shared statements cannot
// take as it is (its id exists, or appears twice in the group; its body, location,
// template or tariffs are refused) runs on its own under a savepoint in the same
// transaction, through the very code a lone creation runs (saveIn), so its answer is the
// answer it would get alone. If the shared transaction fails as a whole (an EVSE uid or
// evse_id taken concurrently, a lost connection), nothing of it was written and each
// creation runs again alone. Outcomes are per creation; the REST answer comes after the
// commit as before, so a station is on OCPI as soon as its 201 is.

// creation is one creation waiting for its group's commit.
type creation struct {
	visible []uuid.UUID
	id      string
	build   func(cur *ChargeStation) (Draft, error)
	out     ChargeStation // set when it is created
}

// maxCreationsPerCommit caps a group: each creation that runs on its own takes a savepoint
// (database.Savepoint says why to keep them under 64).
const maxCreationsPerCommit = 48

// GroupCreates makes creations share transactions with the creations running at the same
// time (see above), with two flushers: one group is written while the next one gathers.
// Close stops them. log (nil: slog.Default) hears of shared transactions that failed as a
// whole: the creations still get their answers, alone, but an error there that is not a
// race between two creations means every group pays for running twice.
func (s *Service) GroupCreates(log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	s.groupLog = log
	s.creates = batch.New(batch.Config{Shards: 2, MaxBatch: maxCreationsPerCommit},
		func(c *creation) string { return c.id }, s.createGroup)
}

// CreateStats returns the counts of the grouped creations (flushes are shared transactions);
// nil without GroupCreates.
func (s *Service) CreateStats() *batch.Stats {
	if s.creates == nil {
		return nil
	}
	return s.creates.Stats()
}

// Close waits for the creations handed over and stops the flushers (when GroupCreates ran).
func (s *Service) Close() {
	if s.creates != nil {
		s.creates.Close()
	}
}

// createGroup writes one group. It always answers per creation (batch.PerItem).
func (s *Service) createGroup(ctx context.Context, group []*creation) error {
	outcome := make(batch.PerItem, len(group))
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		alone, err := s.createTogether(ctx, tx, group)
		if err != nil {
			return err
		}
		for _, i := range alone {
			c := group[i]
			var txErr error
			outcome[i], txErr = database.Savepoint(ctx, tx, func() (err error) {
				c.out, _, err = s.saveIn(ctx, tx, c.visible, c.id, true, c.build)
				return err
			})
			if txErr != nil {
				return txErr
			}
		}
		return nil
	})
	if err != nil {
		// Nothing of the shared transaction was written: each creation alone, in order.
		level := slog.LevelWarn
		var taken evse.EVSEIDTakenError
		if errors.Is(err, evse.ErrEVSEIDRace) || errors.As(err, &taken) || ctx.Err() != nil {
			level = slog.LevelInfo // two creations claimed one evse_id, or the server stops
		}
		s.groupLog.Log(ctx, level, "station creations: the shared transaction failed; each creation runs alone",
			"creations", len(group), "err", err)
		for i, c := range group {
			c.out, _, outcome[i] = s.saveAlone(ctx, c.visible, c.id, true, c.build)
		}
		return outcome
	}
	for i, c := range group {
		if outcome[i] == nil {
			s.answers.Forget(c.id)
		}
	}
	return outcome
}

// createTogether creates, with shared statements, the creations of group that pass every
// check as they are, and returns the places of the others (to run alone). An error means
// the shared transaction failed.
func (s *Service) createTogether(ctx context.Context, tx *sqlx.Tx, group []*creation) (alone []int, err error) {
	drafts := make([]*Draft, len(group))
	var locIDs []string
	for i, c := range group {
		if !schema.ValidChargeStationID(c.id) {
			continue
		}
		d, err := c.build(nil)
		if err != nil || d.Station.LocationID == "" {
			continue
		}
		drafts[i] = &d
		locIDs = append(locIDs, d.Station.LocationID)
	}
	if len(locIDs) == 0 {
		return allPlaces(group), nil
	}
	st, ev := s.store.WithTx(tx), s.evses.WithTx(tx)
	locs, err := s.locations.WithTx(tx).GetMany(ctx, locIDs)
	if err != nil {
		return nil, err
	}
	// Lookups the group repeats are made once: templates by id and visibility, tariff
	// checks by network and ids.
	tpls := map[string]*templates.Template{}
	tariffsOK := map[string]bool{}
	now := database.Timestamp(s.now())
	var stations []ChargeStation
	var evses []evse.EVSE
	var created []int
	taken := map[string]bool{}
	for i, c := range group {
		d := drafts[i]
		if d == nil || taken[c.id] {
			alone = append(alone, i)
			continue
		}
		loc, ok := locs[d.Station.LocationID]
		if !ok || !slices.Contains(c.visible, loc.NetworkID) {
			alone = append(alone, i)
			continue
		}
		ok, err := s.tariffsKnown(ctx, tx, tariffsOK, loc, d.TariffRefs)
		if err != nil {
			return nil, err
		}
		if !ok {
			alone = append(alone, i)
			continue
		}
		var tpl *templates.Template
		if d.TemplateID != "" {
			if tpl, err = s.template(ctx, tx, tpls, c.visible, d.TemplateID); err != nil {
				return nil, err
			}
			if tpl == nil {
				alone = append(alone, i)
				continue
			}
		}
		taken[c.id] = true // a second creation of the id in this group runs alone (409)
		next, es := stationOf(c.id, loc.NetworkID, *d, tpl, nil, now)
		for j := range es {
			es[j].ChargeStationID = c.id
			es[j], _ = evse.Stamp(nil, es[j], now)
		}
		slices.SortFunc(es, func(a, b evse.EVSE) int { return a.SequenceNumber - b.SequenceNumber })
		next.EVSEs = es
		stations = append(stations, next)
		evses = append(evses, es...)
		created = append(created, i)
	}
	if len(stations) == 0 {
		return alone, nil
	}
	inserted, err := st.CreateMany(ctx, stations)
	if err != nil {
		return nil, err
	}
	// An id that exists already is left to run alone (its 409 names it); so are its EVSEs.
	evses = slices.DeleteFunc(evses, func(e evse.EVSE) bool { return !inserted[e.ChargeStationID] })
	if err := ev.Write(ctx, evses); err != nil {
		return nil, err
	}
	for k, i := range created {
		if inserted[stations[k].ID] {
			group[i].out = stations[k]
		} else {
			alone = append(alone, i)
		}
	}
	slices.Sort(alone) // in the order they came
	return alone, nil
}

// tariffsKnown reports whether every tariff refs names is a tariff of loc's network, asking
// the database once per network and set of ids in a group.
func (s *Service) tariffsKnown(ctx context.Context, tx *sqlx.Tx, known map[string]bool, loc locations.Location, refs []evse.TariffRef) (bool, error) {
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	key := loc.NetworkID.String() + "\x00" + strings.Join(ids, "\x00")
	if ok, seen := known[key]; seen {
		return ok, nil
	}
	bad, err := evse.CheckTariffRefs(ctx, tx, s.tariffs, loc.NetworkID, refs)
	if err != nil {
		return false, err
	}
	known[key] = len(bad) == 0
	return known[key], nil
}

// template returns the visible template id (nil when there is none), reading it once per
// group and visibility.
func (s *Service) template(ctx context.Context, tx *sqlx.Tx, seen map[string]*templates.Template, visible []uuid.UUID, id string) (*templates.Template, error) {
	var key strings.Builder
	key.WriteString(id)
	for _, n := range visible {
		key.WriteString("\x00" + n.String())
	}
	if t, ok := seen[key.String()]; ok {
		return t, nil
	}
	t, err := s.templates.WithTx(tx).Get(ctx, visible, id)
	switch {
	case err == nil:
		seen[key.String()] = &t
		return &t, nil
	case errors.Is(err, templates.ErrNotFound):
		seen[key.String()] = nil
		return nil, nil
	default:
		return nil, err
	}
}

func allPlaces[T any](s []T) []int {
	out := make([]int, len(s))
	for i := range out {
		out[i] = i
	}
	return out
}
