package ocpp

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Observer lets a monitoring system count what the gateway does (Config.Observer; nil
// observes nothing). cmd/evroam implements it with Prometheus; the gateway itself depends on
// no metrics library.
//
// The gateway asks for each counter and histogram once, the first time it needs it, and
// keeps it: after that a frame costs a map lookup, an atomic load and the instrument's Inc,
// without allocating or locking. Actions are those the OCPP schemas of either version
// define, or UnknownAction for anything else, so that a station cannot make up label values.
// The methods may be called from many goroutines at once.
type Observer interface {
	// Frames counts the frames of an action that cross the wire in a direction (DirectionIn,
	// DirectionOut) with a message type (MessageTypeCall, MessageTypeCallResult,
	// MessageTypeCallError). A result or error has the action of the CALL it answers. Frames
	// that cannot be decoded are not counted; the CALLERROR answering them is.
	Frames(action, direction, messageType string) Counter
	// HandlerDuration measures how long the gateway takes to answer a station's CALL of an
	// action, in seconds: from the decoded frame to the written CALLRESULT or CALLERROR,
	// registry call included.
	HandlerDuration(action string) Histogram
	// CallErrorsSent counts the CALLERRORs the gateway answers a station with, by the action
	// of the CALL (UnknownAction for a frame it could not read) and the error code as spelled
	// for the station's version (1.6 FormationViolation, 2.0.1 FormatViolation).
	CallErrorsSent(action, code string) Counter
}

// Counter counts up; a Prometheus counter satisfies it.
type Counter interface{ Inc() }

// Histogram records observations; a Prometheus histogram satisfies it.
type Histogram interface{ Observe(float64) }

// UnknownAction is what an Observer is given for an action no OCPP schema defines, and for
// frames whose action is not known (an answer to no outstanding call, an unreadable frame).
const UnknownAction = "unknown"

// knownActions are the actions of both versions' schemas, read once.
var (
	knownActionsOnce sync.Once
	knownActions     []string
)

func schemaActions(vs map[string]*validator) []string {
	knownActionsOnce.Do(func() {
		seen := map[string]bool{}
		for _, v := range vs {
			for id := range v.ids {
				if a, ok := strings.CutSuffix(strings.TrimPrefix(id, "urn:"), ".req"); ok && !seen[a] {
					seen[a] = true
					knownActions = append(knownActions, a)
				}
			}
		}
	})
	return knownActions
}

// observer is the gateway's side of an Observer: the instruments it handed out, per action.
// A nil *observer observes nothing.
type observer struct {
	obs     Observer
	actions map[string]*actionInstruments // read-only after newObserver
	unknown *actionInstruments
}

// actionInstruments are one action's instruments, each asked of the Observer on first use.
type actionInstruments struct {
	action  string
	frames  [2][3]atomic.Pointer[Counter] // by direction (in, out) and type (CALL, CALLRESULT, CALLERROR)
	handler atomic.Pointer[Histogram]
	// errors by kind and spelling (2.0.1, 1.6): the wire code depends on both.
	errors [errRPCFramework + 1][2]atomic.Pointer[Counter]
}

func newObserver(obs Observer, actions []string) *observer {
	if obs == nil {
		return nil
	}
	o := &observer{obs: obs, actions: make(map[string]*actionInstruments, len(actions)+1)}
	for _, a := range actions {
		o.actions[a] = &actionInstruments{action: a}
	}
	o.unknown = &actionInstruments{action: UnknownAction}
	o.actions[UnknownAction] = o.unknown
	return o
}

func (o *observer) of(action string) *actionInstruments {
	if a := o.actions[action]; a != nil {
		return a
	}
	return o.unknown
}

// frame counts one frame of type typ (typeCall, typeCallResult, typeCallError).
func (o *observer) frame(action string, out bool, typ int) {
	if o == nil || typ < typeCall || typ > typeCallError {
		return
	}
	a := o.of(action)
	dir := 0
	if out {
		dir = 1
	}
	slot := &a.frames[dir][typ-typeCall]
	c := slot.Load()
	if c == nil {
		direction := DirectionIn
		if out {
			direction = DirectionOut
		}
		messageType := [...]string{MessageTypeCall, MessageTypeCallResult, MessageTypeCallError}[typ-typeCall]
		c = resolve(slot, func() Counter { return o.obs.Frames(a.action, direction, messageType) })
	}
	(*c).Inc()
}

// handled records how long a station's CALL took to answer since start.
func (o *observer) handled(action string, start time.Time) {
	if o == nil {
		return
	}
	a := o.of(action)
	h := a.handler.Load()
	if h == nil {
		h = resolve(&a.handler, func() Histogram { return o.obs.HandlerDuration(a.action) })
	}
	(*h).Observe(time.Since(start).Seconds())
}

// callErrorSent counts a CALLERROR of kind k answered to a station speaking proto.
func (o *observer) callErrorSent(action string, k errKind, proto string) {
	if o == nil || k < 0 || int(k) >= len(o.unknown.errors) {
		return
	}
	a := o.of(action)
	spelling := 0
	if proto == ProtocolOCPP16 {
		spelling = 1
	}
	slot := &a.errors[k][spelling]
	c := slot.Load()
	if c == nil {
		c = resolve(slot, func() Counter { return o.obs.CallErrorsSent(a.action, k.code(proto)) })
	}
	(*c).Inc()
}

// resolve fills an empty slot with the instrument ask returns; of two goroutines racing,
// the first to store wins and both use its instrument. Only the first use of a slot gets
// here, so the closure's allocation does not matter.
func resolve[T any](slot *atomic.Pointer[T], ask func() T) *T {
	v := ask()
	slot.CompareAndSwap(nil, &v)
	return slot.Load()
}
