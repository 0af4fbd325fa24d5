package chargestations

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

func enabledCache(maxBytes int) *AnswerCache {
	c := NewAnswerCache(maxBytes)
	c.serve()
	return c
}

// TestAnswerCacheKeepsNoAnswerThatRacedAChange: an answer read while a change of its station
// was heard is not kept (it may be older than the change); one read after is.
func TestAnswerCacheKeepsNoAnswerThatRacedAChange(t *testing.T) {
	c := enabledCache(1 << 20)
	a := CachedAnswer{NetworkID: uuid.New(), ETag: "e1", Body: []byte(`{"v":1}`)}
	epoch := c.Epoch("CS-1")
	c.Forget("CS-1") // a write committed while the answer was being read
	c.Keep("CS-1", epoch, a)
	if _, ok := c.Lookup("CS-1"); ok {
		t.Fatal("an answer read before a change was kept")
	}
	c.Keep("CS-1", c.Epoch("CS-1"), a)
	if got, ok := c.Lookup("CS-1"); !ok || got.ETag != "e1" {
		t.Fatalf("Lookup = %+v %v, want the kept answer", got, ok)
	}
	c.Forget("CS-1")
	if _, ok := c.Lookup("CS-1"); ok {
		t.Fatal("a forgotten answer is served")
	}
}

// TestAnswerCacheServesOnlyWhileListening: a cache that does not hear changes serves nothing.
func TestAnswerCacheServesOnlyWhileListening(t *testing.T) {
	c := NewAnswerCache(1 << 20)
	c.Keep("CS-1", c.Epoch("CS-1"), CachedAnswer{Body: []byte(`{}`)})
	if _, ok := c.Lookup("CS-1"); ok {
		t.Fatal("a cache that is not listening served an answer")
	}
	var off *AnswerCache // no cache at all
	off.Keep("CS-1", off.Epoch("CS-1"), CachedAnswer{Body: []byte(`{}`)})
	if _, ok := off.Lookup("CS-1"); ok {
		t.Fatal("a nil cache served an answer")
	}
}

// TestAnswerCacheStaysWithinItsSize: past its size the cache drops answers instead of growing.
func TestAnswerCacheStaysWithinItsSize(t *testing.T) {
	const maxBytes = answerShards * 1000
	c := enabledCache(maxBytes)
	body := make([]byte, 100)
	for i := range 10_000 {
		id := fmt.Sprintf("CS-%05d", i)
		c.Keep(id, c.Epoch(id), CachedAnswer{Body: body})
	}
	total, kept := 0, 0
	for i := range c.shards {
		total += c.shards[i].bytes
		kept += len(c.shards[i].m)
	}
	if total > maxBytes || kept*(len(body)+entryOverhead) != total || kept < maxBytes/(len(body)+entryOverhead)/2 {
		t.Errorf("cache holds %d answers in %d bytes, want at most %d bytes and a fair share kept", kept, total, maxBytes)
	}
}

// TestAnswerCacheEntriesWithoutBody: what a charger command keeps (network and protocol, no
// body) is no answer for GET, never replaces a rendered answer, and counts against the size.
func TestAnswerCacheEntriesWithoutBody(t *testing.T) {
	c := enabledCache(answerShards * 1000)
	network := uuid.New()
	c.Keep("CS-1", c.Epoch("CS-1"), CachedAnswer{NetworkID: network, Protocol: "Ocpp16"})
	if _, ok := c.Lookup("CS-1"); ok {
		t.Fatal("GET was served an entry without a body")
	}
	if got, ok := c.entry("CS-1"); !ok || got.Protocol != "Ocpp16" || got.NetworkID != network {
		t.Fatalf("entry = %+v %v, want the kept network and protocol", got, ok)
	}
	c.Keep("CS-1", c.Epoch("CS-1"), CachedAnswer{NetworkID: network, ETag: "e1", Body: []byte(`{}`), Protocol: "Ocpp16"})
	c.Keep("CS-1", c.Epoch("CS-1"), CachedAnswer{NetworkID: network, Protocol: "Ocpp16"})
	if got, ok := c.Lookup("CS-1"); !ok || got.ETag != "e1" {
		t.Fatalf("Lookup = %+v %v: an entry without a body replaced the rendered answer", got, ok)
	}
	for i := range 10_000 {
		id := fmt.Sprintf("CS-%05d", i)
		c.Keep(id, c.Epoch(id), CachedAnswer{NetworkID: network})
	}
	total := 0
	for i := range c.shards {
		total += c.shards[i].bytes
	}
	if total > answerShards*1000 {
		t.Errorf("entries without a body took %d bytes, past the cache's %d", total, answerShards*1000)
	}
}
