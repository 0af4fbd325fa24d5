package chargestations

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
	"github.com/lib/pq"
)

// AnswerCache keeps the rendered answer of GET /chargestations/{id} per station, so that the
// read partners and portals make most (one station, by id) costs no database round trip, and
// a list page only a read of which stations it holds. It keeps what a charger command needs
// of a station (its network and protocol) the same way (Service.CommandTarget). On this class
// of machine a round trip is most of a request's cost: a query is two system calls here and
// two in PostgreSQL, on top of the request's own.
//
// Correctness rests on three rules:
//
//   - Every change of a station row (REST writes, the gateway's batched reports, EVSE
//     changes, which rewrite the row's evses_doc) makes PostgreSQL send a notification at
//     commit, on channel charge_stations_changed (migration 0011), with the ids; every node
//     listens (ListenForChanges) and forgets those stations. So another node's write is seen
//     within the time a notification takes (milliseconds).
//   - A write made by this process forgets the stations at once after its commit (Forget,
//     called by the services that write stations and wired as the hook of evse and
//     stationreports), so a client reads its own writes on the node it wrote through.
//   - An answer read from the database is kept only if no change of that station was heard
//     while it was being read (the shard's epoch did not move), so a read that raced a write
//     never leaves the old answer behind.
//
// A list page is held to a stricter rule, because a sync client's cursor depends on it: the
// page reads each station's row version (xmin) with its place in the order, and takes an
// answer from the cache only when it was rendered from that version (LookupVersion). A change
// whose notification has not arrived yet is thus never hidden from a page; and the page's
// cursor never passes a change its answers do not show (Handler.list).
//
// The cache serves only while the listener is connected: when the connection drops,
// notifications may be lost, so it forgets everything and answers from the database until
// it is back. Its size is bounded (MaxBytes); past it, arbitrary entries are dropped.
type AnswerCache struct {
	seed     maphash.Seed
	shards   [answerShards]answerShard
	maxShard int // bytes per shard
	enabled  atomic.Bool
	hits     atomic.Int64
	misses   atomic.Int64
	warmed   atomic.Int64 // stations read by warm-ups (WarmAnswers)
	warmUps  atomic.Int64 // warm-ups finished
	// servings receives a value each time the cache starts serving, empty (Servings).
	servings chan struct{}
}

const answerShards = 64

type answerShard struct {
	mu    sync.Mutex
	epoch uint64
	bytes int
	m     map[string]CachedAnswer
}

// CachedAnswer is a station's rendered answer and what is needed to serve it: the network it
// belongs to (a key of another network must get 404) and its etag. An entry kept for a
// charger command (Service.CommandTarget) has no Body: it holds the network and the protocol
// version of the station's last connection only, and GET reads the station from the
// database.
type CachedAnswer struct {
	NetworkID  uuid.UUID
	ETag       string
	Body       []byte
	Protocol   schema.ProtocolVersion
	RowVersion int64 // of the row Body was rendered from (ChargeStation.RowVersion)
}

// entryOverhead is what an entry costs beyond its body, counted against MaxBytes so that
// entries without a body are bounded too.
const entryOverhead = 128

func (a CachedAnswer) size() int { return len(a.Body) + entryOverhead }

// NewAnswerCache returns a cache of at most maxBytes of answers (0: caching is off). It
// serves nothing until its change listener listens (ListenForChanges).
func NewAnswerCache(maxBytes int) *AnswerCache {
	c := &AnswerCache{seed: maphash.MakeSeed(), maxShard: maxBytes / answerShards, servings: make(chan struct{}, 1)}
	for i := range c.shards {
		c.shards[i].m = map[string]CachedAnswer{}
	}
	return c
}

func (c *AnswerCache) shard(id string) *answerShard {
	return &c.shards[c.shardIndex(id)]
}

func (c *AnswerCache) shardIndex(id string) uint64 {
	return maphash.String(c.seed, id) % answerShards
}

// Lookup returns the cached answer of station id, when there is one to serve.
func (c *AnswerCache) Lookup(id string) (CachedAnswer, bool) {
	a, ok := c.entry(id)
	return a, c.counted(ok && a.Body != nil)
}

// LookupVersion returns the cached answer of station id when there is one rendered from row
// version v: what a list page, which read the versions of its stations, may serve.
func (c *AnswerCache) LookupVersion(id string, v int64) (CachedAnswer, bool) {
	a, ok := c.entry(id)
	return a, c.counted(ok && a.Body != nil && a.RowVersion == v)
}

// counted counts a lookup as a hit (found) or a miss while the cache serves, and returns found.
func (c *AnswerCache) counted(found bool) bool {
	if c != nil && c.enabled.Load() {
		if found {
			c.hits.Add(1)
		} else {
			c.misses.Add(1)
		}
	}
	return found
}

// entry returns what the cache holds of station id, with or without a body.
func (c *AnswerCache) entry(id string) (CachedAnswer, bool) {
	if c == nil || !c.enabled.Load() {
		return CachedAnswer{}, false
	}
	s := c.shard(id)
	s.mu.Lock()
	a, ok := s.m[id]
	s.mu.Unlock()
	return a, ok
}

// Epoch is the change count of id's shard; take it before reading the station from the
// database and hand it to Keep.
func (c *AnswerCache) Epoch(id string) uint64 {
	if c == nil {
		return 0
	}
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// shardEpochs is every shard's change count, for a read whose stations are not known before
// it is made (WarmAnswers): shardEpochs()[shardIndex(id)] is what Epoch(id) was.
func (c *AnswerCache) shardEpochs() (epochs [answerShards]uint64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		epochs[i] = s.epoch
		s.mu.Unlock()
	}
	return epochs
}

// bytes is what the cache holds, counted as against its bound.
func (c *AnswerCache) bytes() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

// Keep stores a station's answer read from the database, unless a change of a station of its
// shard was heard since epoch (the answer may be older than that change), caching is off, or
// the answer alone is larger than a shard may hold. An entry without a body does not replace
// one with a body.
func (c *AnswerCache) Keep(id string, epoch uint64, a CachedAnswer) {
	if c == nil || c.maxShard <= 0 || !c.enabled.Load() || a.size() > c.maxShard {
		return
	}
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return
	}
	if old, ok := s.m[id]; ok {
		if a.Body == nil && old.Body != nil {
			return
		}
		s.bytes -= old.size()
	}
	for k, old := range s.m { // map order is random: an arbitrary entry goes
		if s.bytes+a.size() <= c.maxShard {
			break
		}
		delete(s.m, k)
		s.bytes -= old.size()
	}
	s.m[id] = a
	s.bytes += a.size()
}

// Forget drops the answers of stations ids (they changed).
func (c *AnswerCache) Forget(ids ...string) {
	if c == nil {
		return
	}
	for _, id := range ids {
		s := c.shard(id)
		s.mu.Lock()
		s.epoch++
		if old, ok := s.m[id]; ok {
			s.bytes -= old.size()
			delete(s.m, id)
		}
		s.mu.Unlock()
	}
}

// forgetAll drops every answer.
func (c *AnswerCache) forgetAll() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.epoch++
		clear(s.m)
		s.bytes = 0
		s.mu.Unlock()
	}
}

// Stats are the cache's hits and misses since the start, for metrics.
func (c *AnswerCache) Stats() (hits, misses int64) {
	if c == nil {
		return 0, 0
	}
	return c.hits.Load(), c.misses.Load()
}

// WarmStats are the stations warm-ups read and the warm-ups finished since the start, for
// metrics.
func (c *AnswerCache) WarmStats() (stations, warmUps int64) {
	if c == nil {
		return 0, 0
	}
	return c.warmed.Load(), c.warmUps.Load()
}

// Serving reports whether the cache answers now: it listens for changes (ListenForChanges).
func (c *AnswerCache) Serving() bool { return c != nil && c.enabled.Load() }

// serve makes the cache answer: it listens for changes from now on.
func (c *AnswerCache) serve() {
	c.enabled.Store(true)
	select {
	case c.servings <- struct{}{}:
	default: // one is waiting already
	}
}

// Servings receives a value each time the cache starts serving, and so starts empty: when its
// change listener first listens, and again after the listener lost the database and is back
// (the cache forgot everything meanwhile). A warm-up (WarmAnswers) belongs after each. A value
// not yet received is not doubled.
func (c *AnswerCache) Servings() <-chan struct{} { return c.servings }

// changesChannel is the channel migration 0011's triggers notify.
const changesChannel = "charge_stations_changed"

// ListenForChanges keeps a connection to the database at dbURL listening for station
// changes and forgets the stations they name, until ctx ends. The cache serves only while
// the connection is up; it is enabled once the first LISTEN succeeded.
func (c *AnswerCache) ListenForChanges(ctx context.Context, dbURL string, log *slog.Logger) {
	if c == nil || c.maxShard <= 0 {
		return
	}
	events := make(chan pq.ListenerEventType, 4)
	l := pq.NewListener(dbURL, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		if ev != pq.ListenerEventConnected && ev != pq.ListenerEventReconnected {
			// Disconnected or failed: changes may go unheard; stop serving at once.
			c.enabled.Store(false)
			c.forgetAll()
			if err != nil {
				log.Warn("station answer cache: change listener lost its connection; answering from the database", "err", err)
			}
		}
		select {
		case events <- ev:
		default:
		}
	})
	defer l.Close()
	if err := l.Listen(changesChannel); err != nil {
		log.Error("station answer cache: listen for changes; caching is off", "err", err)
		return
	}
	c.forgetAll()
	c.serve()
	for {
		select {
		case <-ctx.Done():
			c.enabled.Store(false)
			return
		case ev := <-events:
			if ev == pq.ListenerEventReconnected {
				// Changes made while away were not heard: start empty.
				c.forgetAll()
				c.serve()
			}
		case n := <-l.Notify:
			if n == nil {
				continue // a reconnect; handled through events
			}
			c.Forget(splitIDs(n.Extra)...)
		}
	}
}

// splitIDs reads a notification's payload: station ids separated by newlines (ids cannot
// hold one).
func splitIDs(payload string) []string {
	var ids []string
	for start := 0; start <= len(payload); {
		end := start
		for end < len(payload) && payload[end] != '\n' {
			end++
		}
		if end > start {
			ids = append(ids, payload[start:end])
		}
		start = end + 1
	}
	return ids
}
