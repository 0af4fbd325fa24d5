package chargestations

import (
	"context"
	"errors"
	"time"
)

// Warming the answer cache.
//
// A node's cache starts empty, so after a restart every GET of a station and every list page
// reads from the database until each station has been asked for once: with 100,000 stations
// and partners asking at random, that takes longer than most restarts are apart, and a read
// that misses costs the node twice the CPU of one that hits (the row's 48 columns and EVSE
// document decoded and rendered again, and a round trip). WarmAnswers reads every station
// once, in id order through the primary key, and keeps its rendered answer, as a partner's
// full sync would.
//
// It keeps the cache's rules (AnswerCache): an answer is kept only if no change of a station
// of its shard was heard while its page was read, so a warm-up that races writes leaves no
// old answer behind; the answers carry their row versions, so list pages serve them too. It
// fills at most three quarters of the cache's bound (warmFill), leaving the rest to the
// stations asked for, and stops when the cache stops serving (its listener lost the
// database: the cache was emptied and may not hold answers until it listens again).
//
// It is background work on a node that has more urgent work right after it starts (the
// reconnect storm of its stations), so serve starts it after a delay
// (EVROAM_STATION_CACHE_WARM_AFTER) each time the cache starts serving (AnswerCache.Servings:
// at the start, and after the database came back), and it rests after each page as long as
// the page took: it never takes more than half of one core, and on a busy node less.

// warmPage is how many stations one statement of a warm-up reads.
const warmPage = 500

// warmFill is the share of the cache's bound a warm-up fills at most.
const warmFill = 0.75

// ErrCacheNotServing is WarmAnswers' error when the cache does not serve, or stopped serving
// during the warm-up: its change listener is not connected, and nothing kept could be trusted.
var ErrCacheNotServing = errors.New("the station answer cache does not serve (its change listener is not connected)")

// WarmAnswers reads every station, page by page, and keeps its rendered answer in the answer
// cache (see above), and returns the number of stations it read. Without a cache it does
// nothing.
func (s *Service) WarmAnswers(ctx context.Context) (int, error) {
	return warm(ctx, s.answers, s.store.PageByID, warmPage)
}

// pageReader reads up to limit stations whose id follows after, in id order (Store.PageByID).
type pageReader func(ctx context.Context, after string, limit int) ([]ChargeStation, error)

// warm is WarmAnswers with the read of a page and its size handed in.
func warm(ctx context.Context, c *AnswerCache, readPage pageReader, pageSize int) (int, error) {
	if c == nil || c.maxShard <= 0 {
		return 0, nil
	}
	fill := int(float64(c.maxShard*answerShards) * warmFill)
	read, after := 0, ""
	for {
		if !c.Serving() {
			return read, ErrCacheNotServing
		}
		start := time.Now()
		epochs := c.shardEpochs() // before the read: a change heard after it voids its answer
		page, err := readPage(ctx, after, pageSize)
		if err != nil {
			return read, err
		}
		for _, cs := range page {
			a, err := render(cs)
			if err != nil {
				return read, err
			}
			c.Keep(cs.ID, epochs[c.shardIndex(cs.ID)], a)
		}
		read += len(page)
		c.warmed.Add(int64(len(page)))
		if len(page) < pageSize || c.bytes() >= fill {
			c.warmUps.Add(1)
			return read, nil
		}
		after = page[len(page)-1].ID
		rest := time.NewTimer(time.Since(start))
		select {
		case <-rest.C:
		case <-ctx.Done():
			rest.Stop()
			return read, ctx.Err()
		}
	}
}
