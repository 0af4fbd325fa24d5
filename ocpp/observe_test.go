package ocpp_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/ocpp"
)

// recordingObserver is an ocpp.Observer that counts in a map keyed by the label values
// joined with spaces, and how often each instrument was asked for.
type recordingObserver struct {
	mu     sync.Mutex
	counts map[string]int
	asked  map[string]int
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{counts: map[string]int{}, asked: map[string]int{}}
}

type recorded struct {
	o   *recordingObserver
	key string
}

func (r recorded) Inc() { r.o.add(r.key) }

func (r recorded) Observe(seconds float64) {
	if seconds <= 0 || seconds > 10 {
		r.o.add(r.key + " out of range")
	}
	r.o.add(r.key)
}

func (o *recordingObserver) add(key string) {
	o.mu.Lock()
	o.counts[key]++
	o.mu.Unlock()
}

func (o *recordingObserver) instrument(key string) recorded {
	o.mu.Lock()
	o.asked[key]++
	o.mu.Unlock()
	return recorded{o, key}
}

func (o *recordingObserver) Frames(action, direction, messageType string) ocpp.Counter {
	return o.instrument("frames " + action + " " + direction + " " + messageType)
}

func (o *recordingObserver) HandlerDuration(action string) ocpp.Histogram {
	return o.instrument("handler " + action)
}

func (o *recordingObserver) CallErrorsSent(action, code string) ocpp.Counter {
	return o.instrument("callerror " + action + " " + code)
}

func (o *recordingObserver) snapshot() (counts, asked map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	counts, asked = map[string]int{}, map[string]int{}
	for k, v := range o.counts {
		counts[k] = v
	}
	for k, v := range o.asked {
		asked[k] = v
	}
	return counts, asked
}

// TestObserver drives a strict station through heartbeats, a made-up action, an unreadable
// frame and a CALL of ours, and checks what the Observer was told, the connected count by
// protocol (a replacing connection counts once) and the batchers' counts.
func TestObserver(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			obs := newRecordingObserver()
			e := newEnv(t, ocpp.Config{Observer: obs})
			e.reg.AddStation("CP-1", 0, "", true)
			p := ocpppeer.Start(t)
			p.OnCall("ClearCache", map[string]any{"status": "Accepted"})
			e.connect(t, p, v, "CP-1", "")
			if got := e.srv.ConnectedByProtocol(); got[v.proto] != 1 || len(got) != 2 {
				t.Errorf("ConnectedByProtocol = %v, want 1 for %s and both protocols present", got, v.proto)
			}

			p.MustCall("Heartbeat", nil)
			p.MustCall("Heartbeat", nil)
			p.SendRaw(`[2,"u1","MadeUpAction",{}]`)
			p.WaitFrame(false, `[4,"u1","NotImplemented"`)
			p.SendRaw(`not a frame`)
			p.WaitFrame(false, `[4,"-1","`+v.format+`"`)
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			if _, err := e.srv.Call(ctx, "CP-1", "ClearCache", nil); err != nil {
				t.Fatalf("Call ClearCache: %v", err)
			}

			counts, asked := obs.snapshot()
			want := map[string]int{
				"frames Heartbeat in CALL":                        2,
				"frames Heartbeat out CALLRESULT":                 2,
				"handler Heartbeat":                               2,
				"frames unknown in CALL":                          1, // MadeUpAction: no schema defines it
				"frames unknown out CALLERROR":                    2, // its NotImplemented and the unreadable frame's answer
				"handler unknown":                                 1,
				"callerror unknown NotImplemented":                1,
				"callerror unknown " + v.format:                   1,
				"frames ClearCache out CALL":                      1,
				"frames ClearCache in CALLRESULT":                 1,
				"frames MadeUpAction in CALL":                     0,
				"handler Heartbeat out of range":                  0,
				"callerror MadeUpAction NotImplemented":           0,
				"frames Heartbeat in CALLERROR":                   0,
				"frames " + ocpp.UnknownAction + " in CALLRESULT": 0,
			}
			for key, n := range want {
				if counts[key] != n {
					t.Errorf("%s = %d, want %d", key, counts[key], n)
				}
			}
			for key, n := range asked {
				if n != 1 {
					t.Errorf("instrument %q asked for %d times, want once", key, n)
				}
			}

			// A second connection of the same station replaces the first: still one.
			p2 := ocpppeer.Start(t)
			e.connect(t, p2, v, "CP-1", "")
			p.WaitClosed()
			if got := e.srv.ConnectedByProtocol(); got[v.proto] != 1 {
				t.Errorf("after a replacing connection ConnectedByProtocol = %v, want 1 for %s", got, v.proto)
			}
			p2.Close()
			deadline := time.Now().Add(waitTimeout)
			for e.srv.ConnectedByProtocol()[v.proto] != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("after the close ConnectedByProtocol = %v, want 0", e.srv.ConnectedByProtocol())
				}
				time.Sleep(10 * time.Millisecond)
			}

			// The 9 frames above that could be decoded, or answer one, reach the message log batcher; the
			// heartbeats reach their own.
			for {
				stats := e.srv.BatchStats()
				log, beats := stats["message_log"], stats["heartbeats"]
				if log.Items >= 9 && log.Flushes > 0 && beats.Items >= 1 && log.Pending == 0 && beats.Pending == 0 {
					if log.Failed != 0 || log.Dropped != 0 || beats.Failed != 0 {
						t.Errorf("batch stats %+v: nothing should fail or be dropped", stats)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("batch stats %+v: want at least 9 frames and 1 heartbeat written", stats)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestObserverUnset: a gateway without an Observer works and counts stations and batches.
func TestObserverUnset(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[0], "CP-1", "")
	p.MustCall("Heartbeat", nil)
	if got := e.srv.ConnectedByProtocol(); got[ocpp.ProtocolOCPP16] != 1 || got[ocpp.ProtocolOCPP201] != 0 {
		t.Errorf("ConnectedByProtocol = %v", got)
	}
	if got := strings.Join(slices.Sorted(maps.Keys(e.srv.BatchStats())), ","); got != "heartbeats,login_failures,message_log" {
		t.Errorf("BatchStats names = %s", got)
	}
}

// TestBatchStatsCountWhatIsBeingWritten: frames and heartbeats handed to a registry that has
// not answered yet are still pending in BatchStats, not missing from both of its counts (the
// metrics' evroam_batch_pending_items and evroam_batch_items_total); once written they are
// counted as written, once.
func TestBatchStatsCountWhatIsBeingWritten(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	messagesEntered, releaseMessages := e.reg.Stall("AppendMessages")
	heartbeatsEntered, releaseHeartbeats := e.reg.Stall("RecordHeartbeats")
	t.Cleanup(releaseMessages) // before the server's own cleanup, which flushes
	t.Cleanup(releaseHeartbeats)
	e.reg.AddStation("CP-1", 0, "", true)
	p := ocpppeer.Start(t)
	e.connect(t, p, versions[0], "CP-1", "")
	p.MustCall("Heartbeat", nil)

	for _, w := range []struct {
		batcher string
		entered <-chan struct{}
	}{{"message_log", messagesEntered}, {"heartbeats", heartbeatsEntered}} {
		select {
		case <-w.entered:
		case <-time.After(waitTimeout):
			t.Fatalf("%s: no flush reached the registry", w.batcher)
		}
		if st := e.srv.BatchStats()[w.batcher]; st.Pending < 1 || st.Items != 0 {
			t.Errorf("%s while its flush waits for the registry: %+v, want the entries pending and none written", w.batcher, st)
		}
	}
	releaseMessages()
	releaseHeartbeats()
	deadline := time.Now().Add(waitTimeout)
	for {
		stats := e.srv.BatchStats()
		log, beats := stats["message_log"], stats["heartbeats"]
		if log.Pending == 0 && beats.Pending == 0 {
			if log.Items < 2 || beats.Items != 1 {
				t.Errorf("after the flushes: %+v, want the frames and the one heartbeat written", stats)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch stats %+v: still pending after the registry answered", stats)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
