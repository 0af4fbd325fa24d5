// Package ocpptest provides a map-backed ocpp.Registry for tests of the gateway and of
// code built on it. It is a test helper: production code must not import it.
package ocpptest

import (
	"context"
	"crypto/subtle"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
)

// Registry is an in-memory ocpp.Registry that records every call. Fields are guarded by
// its lock: read them through the accessor methods or inside Wait's condition.
type Registry struct {
	mu      sync.Mutex
	changed chan struct{}

	stations      map[string]ocpp.Station
	Connects      []ocpp.ConnectInfo
	Disconnects   []Disconnect
	Boots         []Boot
	Heartbeats    []ocpp.Heartbeat
	LoginFailures []ocpp.LoginFailure
	Statuses      []ocpp.StatusReport
	Messages      []ocpp.Message
	MeterValues   []ocpp.MeterValuesReport
	TxStarts      []ocpp.TransactionStart
	TxStops       []ocpp.TransactionStop
	TxEvents      []ocpp.TransactionEvent
	DataTransfers []ocpp.DataTransfer
	Configuration map[string][]ocpp.ConfigurationValue
	Certificates  []ocpp.SignedCertificate
	Firmware      []ocpp.FirmwareStatus
	Diagnostics   []ocpp.FirmwareStatus
	// Events lists every call in order, as "Method identity", for ordering checks.
	Events []string
	// Authorizations lists every Authorize call; Decisions answers them by id token
	// (a token not in it is Accepted).
	Authorizations []ocpp.AuthorizeRequest
	Decisions      map[string]ocpp.IDTokenInfo

	nextTx int
	stalls map[string]stall // by method (Stall)
}

// Disconnect is one RecordDisconnect call.
type Disconnect struct {
	Identity string
	At       time.Time
}

// Boot is one RecordBoot call.
type Boot struct {
	Identity string
	Info     ocpp.BootInfo
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		changed:       make(chan struct{}),
		stations:      map[string]ocpp.Station{},
		Configuration: map[string][]ocpp.ConfigurationValue{},
		nextTx:        1000,
	}
}

// AddStation registers a station. password "" means none is set. hasBootData says whether
// boot data is on record (a station without is asked for a BootNotification).
func (r *Registry) AddStation(identity string, securityProfile int, password string, hasBootData bool) {
	st := ocpp.Station{Identity: identity, SecurityProfile: securityProfile, HasBootData: hasBootData}
	if password != "" {
		want := []byte(password)
		st.VerifyPassword = func(cands ...string) bool {
			for _, c := range cands {
				if subtle.ConstantTimeCompare([]byte(c), want) == 1 {
					return true
				}
			}
			return false
		}
	}
	r.AddStationWith(st)
}

// AddStationWith registers a station as LookupStation will return it.
func (r *Registry) AddStationWith(st ocpp.Station) {
	r.mu.Lock()
	r.stations[st.Identity] = st
	r.mu.Unlock()
}

// Do runs fn under the registry's lock, for reading the recorded fields.
func (r *Registry) Do(fn func(r *Registry)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

// Wait blocks until cond (run under the lock) holds, failing the test after timeout.
func (r *Registry) Wait(tb testing.TB, timeout time.Duration, what string, cond func(r *Registry) bool) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("ocpptest: timed out after %v waiting for %s", timeout, what)
		}
	}
}

// MessagesOf returns the logged frames of one station.
func (r *Registry) MessagesOf(identity string) []ocpp.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ocpp.Message
	for _, m := range r.Messages {
		if m.Identity == identity {
			out = append(out, m)
		}
	}
	return out
}

// Stall makes every call of method wait, before it takes effect, until release is called
// (release may be called more than once): a registry call that takes its time, as a
// database under load does. entered receives once for each call that starts waiting.
func (r *Registry) Stall(method string) (entered <-chan struct{}, release func()) {
	st := stall{entered: make(chan struct{}, 64), release: make(chan struct{})}
	r.mu.Lock()
	if r.stalls == nil {
		r.stalls = map[string]stall{}
	}
	r.stalls[method] = st
	r.mu.Unlock()
	var once sync.Once
	return st.entered, func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.stalls, method)
			r.mu.Unlock()
			close(st.release)
		})
	}
}

type stall struct {
	entered chan struct{}
	release chan struct{}
}

// record runs fn under the lock, notes the event and wakes waiters.
func (r *Registry) record(method, identity string, fn func()) error {
	r.mu.Lock()
	st, stalled := r.stalls[method]
	r.mu.Unlock()
	if stalled {
		select {
		case st.entered <- struct{}{}:
		default:
		}
		<-st.release
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if fn != nil {
		fn()
	}
	r.Events = append(r.Events, method+" "+identity)
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// LookupStation implements ocpp.Registry.
func (r *Registry) LookupStation(_ context.Context, identity string) (ocpp.Station, error) {
	var st ocpp.Station
	found := false
	err := r.record("LookupStation", identity, func() { st, found = r.stations[identity] })
	if err != nil {
		return ocpp.Station{}, err
	}
	if !found {
		return ocpp.Station{}, ocpp.ErrUnknownStation
	}
	return st, nil
}

// RecordConnect implements ocpp.Registry.
func (r *Registry) RecordConnect(_ context.Context, c ocpp.ConnectInfo) error {
	return r.record("RecordConnect", c.Identity, func() { r.Connects = append(r.Connects, c) })
}

// RecordDisconnect implements ocpp.Registry.
func (r *Registry) RecordDisconnect(_ context.Context, identity string, at time.Time) error {
	return r.record("RecordDisconnect", identity, func() {
		r.Disconnects = append(r.Disconnects, Disconnect{Identity: identity, At: at})
	})
}

// RecordBoot implements ocpp.Registry; it also marks the station as having boot data.
func (r *Registry) RecordBoot(_ context.Context, identity string, b ocpp.BootInfo) error {
	return r.record("RecordBoot", identity, func() {
		r.Boots = append(r.Boots, Boot{Identity: identity, Info: b})
		if st, ok := r.stations[identity]; ok {
			st.HasBootData = true
			r.stations[identity] = st
		}
	})
}

// RecordHeartbeats implements ocpp.Registry.
func (r *Registry) RecordHeartbeats(_ context.Context, hs []ocpp.Heartbeat) error {
	return r.record("RecordHeartbeats", "", func() { r.Heartbeats = append(r.Heartbeats, hs...) })
}

// RecordLoginFailures implements ocpp.Registry.
func (r *Registry) RecordLoginFailures(_ context.Context, fs []ocpp.LoginFailure) error {
	return r.record("RecordLoginFailures", "", func() { r.LoginFailures = append(r.LoginFailures, fs...) })
}

// RecordStatus implements ocpp.Registry.
func (r *Registry) RecordStatus(_ context.Context, s ocpp.StatusReport) error {
	return r.record("RecordStatus", s.Identity, func() { r.Statuses = append(r.Statuses, s) })
}

// AppendMessages implements ocpp.Registry.
func (r *Registry) AppendMessages(_ context.Context, ms []ocpp.Message) error {
	return r.record("AppendMessages", "", func() { r.Messages = append(r.Messages, slices.Clone(ms)...) })
}

// RecordMeterValues implements ocpp.Registry.
func (r *Registry) RecordMeterValues(_ context.Context, m ocpp.MeterValuesReport) error {
	return r.record("RecordMeterValues", m.Identity, func() { r.MeterValues = append(r.MeterValues, m) })
}

// StartTransaction implements ocpp.Registry; ids count up from 1001.
func (r *Registry) StartTransaction(_ context.Context, t ocpp.TransactionStart) (int, error) {
	var id int
	err := r.record("StartTransaction", t.Identity, func() {
		r.nextTx++
		id = r.nextTx
		r.TxStarts = append(r.TxStarts, t)
	})
	return id, err
}

// StopTransaction implements ocpp.Registry.
func (r *Registry) StopTransaction(_ context.Context, t ocpp.TransactionStop) error {
	return r.record("StopTransaction", t.Identity, func() { r.TxStops = append(r.TxStops, t) })
}

// RecordTransactionEvent implements ocpp.Registry.
func (r *Registry) RecordTransactionEvent(_ context.Context, e ocpp.TransactionEvent) error {
	return r.record("RecordTransactionEvent", e.Identity, func() { r.TxEvents = append(r.TxEvents, e) })
}

// RecordDataTransfer implements ocpp.Registry.
func (r *Registry) RecordDataTransfer(_ context.Context, d ocpp.DataTransfer) error {
	return r.record("RecordDataTransfer", d.Identity, func() { r.DataTransfers = append(r.DataTransfers, d) })
}

// RecordConfiguration implements ocpp.Registry, merging by Key.
func (r *Registry) RecordConfiguration(_ context.Context, identity string, values []ocpp.ConfigurationValue) error {
	return r.record("RecordConfiguration", identity, func() {
		cur := r.Configuration[identity]
		for _, v := range values {
			i := slices.IndexFunc(cur, func(c ocpp.ConfigurationValue) bool { return c.Key == v.Key })
			if i >= 0 {
				cur[i] = v
			} else {
				cur = append(cur, v)
			}
		}
		r.Configuration[identity] = cur
	})
}

// Authorize implements ocpp.Registry: the decision set in Decisions, else Accepted.
func (r *Registry) Authorize(_ context.Context, a ocpp.AuthorizeRequest) (ocpp.IDTokenInfo, error) {
	info := ocpp.IDTokenInfo{Status: ocpp.AuthorizationAccepted}
	err := r.record("Authorize", a.Identity, func() {
		r.Authorizations = append(r.Authorizations, a)
		if d, ok := r.Decisions[a.IDToken]; ok {
			info = d
		}
	})
	return info, err
}

var _ ocpp.Registry = (*Registry)(nil)

// RecordCertificate implements ocpp.CertificateRecorder.
func (r *Registry) RecordCertificate(_ context.Context, identity string, c ocpp.SignedCertificate) error {
	return r.record("RecordCertificate", identity, func() { r.Certificates = append(r.Certificates, c) })
}

// RecordFirmwareStatus records a FirmwareStatusNotification (ocpp.FirmwareStatusRecorder).
func (r *Registry) RecordFirmwareStatus(_ context.Context, f ocpp.FirmwareStatus) error {
	return r.record("RecordFirmwareStatus", f.Identity, func() { r.Firmware = append(r.Firmware, f) })
}

// RecordDiagnosticsStatus records a log upload's status (ocpp.DiagnosticsStatusRecorder).
func (r *Registry) RecordDiagnosticsStatus(_ context.Context, f ocpp.FirmwareStatus) error {
	return r.record("RecordDiagnosticsStatus", f.Identity, func() { r.Diagnostics = append(r.Diagnostics, f) })
}
