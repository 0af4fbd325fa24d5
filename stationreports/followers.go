package stationreports

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/evroam/evroam/internal/batch"
)

// statusFollower brings the followers of the statuses this node wrote (the station rows'
// EVSE documents and the OCPI publication, evse.FollowStatuses) up to date after their
// commit, off the stations' reply path: a status batch's transaction defers them
// (evse.Store.DeferStatusFollowers) and hands its stations here. Stations wait here in a set,
// so a station that reports again before it was followed is followed once: under load, one
// statement covers many reports. A station is followed within a statement's time of its
// report when the node is not saturated; GET, the list pages, sync and OCPI show the status
// from then on (the EVSE row and the status log have it from the reply on).
//
// A station whose row another transaction holds (a batch of connections or heartbeats, a PUT,
// a status batch that changes several of its EVSEs) is not waited for but followed in the next round. A failed follow keeps its stations for the next
// attempt (after a pause that grows to followRetryMax). If the node stops first, a node that
// starts finds them (Service.FollowLaggingStatuses).
//
// Each status batch that leaves stations to it recorded them as owed in its transaction
// (evse.Store.SetStatuses, migration 0038). The follower counts, per record, its stations
// not yet followed since; a record whose stations all were is settled (deleted) after the
// round, in one statement. So the records left are those of follow-ups not done, which is
// what a node that starts reads instead of every EVSE.
type statusFollower struct {
	follow  func(ctx context.Context, ids []string) (skipped []string, err error)
	settle  func(ctx context.Context, owed []int64) error
	changed func(ids ...string)
	log     *slog.Logger
	stats   batch.Stats

	mu      sync.Mutex
	pending map[string]struct{}
	// stationOwes holds, per pending station, the records its next follow settles a share
	// of; roundOwes the same for the stations of the round under way. owedLeft counts, per
	// record, its stations not followed yet; settled are records all of whose stations
	// were, to delete.
	stationOwes map[string][]int64
	roundOwes   map[string][]int64
	owedLeft    map[int64]int
	settled     []int64
	// following counts the stations taken for the round under way and not yet followed:
	// stats.Pending includes them, so that a scrape during a round sees them.
	following int
	busy      bool
	waiters   []chan struct{} // closed when nothing is pending or being followed
	wake      chan struct{}   // capacity 1
	closing   chan struct{}
	closed    sync.Once
	done      chan struct{}
}

const (
	// followChunk caps the stations of one follow. Their rows stay locked until it commits,
	// and a status batch for one of them waits that long: 100 stations take about 15 ms of
	// PostgreSQL here.
	followChunk    = 100
	followTimeout  = 30 * time.Second
	followRetryMin = 100 * time.Millisecond
	// followAgain is the pause after a round that could only skip its stations: the
	// transactions holding them take milliseconds.
	followAgain    = 5 * time.Millisecond
	followRetryMax = 5 * time.Second
)

func newStatusFollower(follow func(ctx context.Context, ids []string) ([]string, error), settle func(ctx context.Context, owed []int64) error,
	changed func(ids ...string), log *slog.Logger) *statusFollower {
	f := &statusFollower{follow: follow, settle: settle, changed: changed, log: log, pending: map[string]struct{}{},
		stationOwes: map[string][]int64{}, roundOwes: map[string][]int64{}, owedLeft: map[int64]int{},
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

// add hands stations whose statuses were written over to be followed; owed is the record of
// them (0: none), settled once each of them was followed.
func (f *statusFollower) add(owed int64, ids ...string) {
	if len(ids) == 0 {
		return
	}
	f.mu.Lock()
	for _, id := range ids {
		f.pending[id] = struct{}{}
		if owed != 0 && !slices.Contains(f.stationOwes[id], owed) {
			f.stationOwes[id] = append(f.stationOwes[id], owed)
			f.owedLeft[owed]++
		}
	}
	f.stats.Pending.Store(int64(len(f.pending) + f.following))
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// chunkDone counts a chunk of the round under way as done and puts back those of its
// stations to follow again (held or failed) in the pending set, without waking the follower.
func (f *statusFollower) chunkDone(chunk, again []string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.following -= len(chunk)
	for _, id := range again {
		f.pending[id] = struct{}{}
		if owes := f.roundOwes[id]; len(owes) > 0 {
			f.stationOwes[id] = append(f.stationOwes[id], owes...)
			delete(f.roundOwes, id)
		}
	}
	for _, id := range chunk { // those not put back were followed
		for _, owed := range f.roundOwes[id] {
			if f.owedLeft[owed]--; f.owedLeft[owed] <= 0 {
				delete(f.owedLeft, owed)
				f.settled = append(f.settled, owed)
			}
		}
		delete(f.roundOwes, id)
	}
	f.stats.Pending.Store(int64(len(f.pending) + f.following))
	f.stats.Flushes.Add(1)
	f.stats.Items.Add(int64(len(chunk)))
	if err != nil {
		f.stats.Failed.Add(int64(len(chunk)))
	}
}

// take returns every pending station, in id order, and marks the follower busy; with
// nothing pending it wakes the waiters and returns nil.
func (f *statusFollower) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) == 0 {
		f.busy = false
		for _, w := range f.waiters {
			close(w)
		}
		f.waiters = nil
		return nil
	}
	ids := make([]string, 0, len(f.pending))
	for id := range f.pending {
		ids = append(ids, id)
		if owes, ok := f.stationOwes[id]; ok {
			f.roundOwes[id] = owes
			delete(f.stationOwes, id)
		}
	}
	clear(f.pending)
	f.following = len(ids)
	f.busy = true
	slices.Sort(ids)
	return ids
}

func (f *statusFollower) run() {
	defer close(f.done)
	retry := followRetryMin
	for {
		ids := f.take()
		if ids == nil {
			select {
			case <-f.wake:
				continue
			case <-f.closing:
				if ids = f.take(); ids == nil {
					return
				}
			}
		}
		failed, followed := false, 0
		for chunk := range slices.Chunk(ids, followChunk) {
			ctx, cancel := context.WithTimeout(context.Background(), followTimeout)
			held, err := f.follow(ctx, chunk)
			cancel()
			if err != nil {
				f.chunkDone(chunk, chunk, err)
				f.log.Error("follow the statuses of stations", "stations", len(chunk), "err", err)
				failed = true
				continue
			}
			f.chunkDone(chunk, held, nil)
			followed += len(chunk) - len(held)
			f.changed(chunk...)
		}
		if !f.settleFollowed() {
			failed = true
		}
		wait := time.Duration(0)
		switch {
		case failed:
			wait, retry = retry, min(2*retry, followRetryMax)
		case followed == 0:
			wait, retry = followAgain, followRetryMin // only held rows: let their transactions end
		default:
			retry = followRetryMin
		}
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-f.closing:
				return // what is left is found by the next node that starts
			}
		}
	}
}

// settleFollowed deletes the records of the follow-ups done; it reports false when that
// failed (they are kept, to delete with the next).
func (f *statusFollower) settleFollowed() bool {
	f.mu.Lock()
	owed := f.settled
	f.settled = nil
	f.mu.Unlock()
	if len(owed) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), followTimeout)
	defer cancel()
	if err := f.settle(ctx, owed); err != nil {
		f.log.Error("settle the status follow-ups done", "records", len(owed), "err", err)
		f.mu.Lock()
		f.settled = append(f.settled, owed...)
		f.mu.Unlock()
		return false
	}
	return true
}

// caughtUp returns when every station handed over so far has been followed, or ctx ends.
func (f *statusFollower) caughtUp(ctx context.Context) error {
	f.mu.Lock()
	if len(f.pending) == 0 && !f.busy {
		f.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	f.waiters = append(f.waiters, w)
	f.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close follows what is pending and stops. It may be called more than once.
func (f *statusFollower) close() {
	f.closed.Do(func() { close(f.closing) })
	<-f.done
}
