package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// device is the simulated hardware of a station: its connectors with their statuses,
// energy registers and sessions, and the configuration the gateway changed. Guarded by
// Station.mu.
type device struct {
	connectors []connector // connector i+1
	settings   map[settingID]string
	loadStep   uint32 // where a MessageLoad of StatusNotification is in its cycle
}

type connector struct {
	status      string // as last reported, in the station's protocol's vocabulary
	inoperative bool   // ChangeAvailability(Inoperative)
	meterWh     int64  // the energy register, rising during sessions
	session     *session
}

func (d *device) init(n int) {
	d.connectors = make([]connector, n)
	for i := range d.connectors {
		d.connectors[i] = connector{status: "Available", meterWh: rand.Int64N(100000)}
	}
}

// session is one charging session on a connector.
type session struct {
	connector     int
	idTag, idType string
	remoteStartID int // 2.0.1 RequestStartTransaction's; 0 when none
	txID16        int
	txID201       string
	seqNo         int
	watts         int64
	stop          chan stopCause // capacity 1
	done          chan struct{}
	err           error // why the stop messages failed; read after done
}

// stopCause is why a session ends; each protocol spells it its own way.
type stopCause int

const (
	stopLocal stopCause = iota // the driver ended it (or its duration passed)
	stopRemote
	stopSoftReset
	stopHardReset
	stopUnlock
)

func (c stopCause) reason16() string {
	return [...]string{"Local", "Remote", "SoftReset", "HardReset", "UnlockCommand"}[c]
}

// reason201 returns the 2.0.1 triggerReason and stoppedReason.
func (c stopCause) reason201() (trigger, stopped string) {
	switch c {
	case stopRemote:
		return "RemoteStop", "Remote"
	case stopSoftReset, stopHardReset:
		return "ResetCommand", "ImmediateReset"
	case stopUnlock:
		return "UnlockCommand", "Other"
	}
	return "StopAuthorized", "Local"
}

// chargingStatus is what a connector reports while it charges, and occupiedStatus while a
// car is plugged in without charging.
func (s *Station) chargingStatus() string {
	if s.proto == OCPP16 {
		return "Charging"
	}
	return "Occupied"
}

func (s *Station) occupiedStatus() string {
	if s.proto == OCPP16 {
		return "Preparing"
	}
	return "Occupied"
}

// Heartbeat sends a Heartbeat.
func (s *Station) Heartbeat(ctx context.Context) error {
	_, err := s.Call(ctx, "Heartbeat", nil)
	return err
}

// SendStatus sends a StatusNotification for connector c (1..Connectors; 0 is the whole
// station in 1.6) and remembers the status. status is in the station's protocol's
// vocabulary: 1.6 ChargePointStatus (Available, Preparing, Charging, …) or 2.0.1
// ConnectorStatusEnumType (Available, Occupied, Reserved, Unavailable, Faulted).
func (s *Station) SendStatus(ctx context.Context, c int, status string) error {
	s.mu.Lock()
	if c >= 1 && c <= len(s.connectors) {
		s.connectors[c-1].status = status
	}
	s.mu.Unlock()
	bp := getBuffer()
	defer putBuffer(bp)
	*bp = s.appendStatus((*bp)[:0], c, status, time.Now())
	_, err := s.Call(ctx, "StatusNotification", *bp)
	return err
}

// sendAllStatuses reports every connector's current status, as a station does on connecting.
func (s *Station) sendAllStatuses(ctx context.Context) {
	for c := 1; c <= len(s.connectors); c++ {
		s.mu.Lock()
		status := s.connectors[c-1].status
		s.mu.Unlock()
		if s.SendStatus(ctx, c, status) != nil {
			return
		}
	}
}

// sendMeterValues sends a MeterValues for connector c outside a transaction (a triggered one).
func (s *Station) sendMeterValues(ctx context.Context, c int) error {
	s.mu.Lock()
	wh := s.connectors[c-1].meterWh
	tx := 0
	if sess := s.connectors[c-1].session; sess != nil {
		tx = sess.txID16
	}
	s.mu.Unlock()
	bp := getBuffer()
	defer putBuffer(bp)
	*bp = s.appendMeterValues((*bp)[:0], c, tx, time.Now(), wh, -1)
	_, err := s.Call(ctx, "MeterValues", *bp)
	return err
}

// StartSession starts a charging session on connector c: 1.6 StatusNotification Preparing,
// Authorize, StartTransaction, StatusNotification Charging; 2.0.1 StatusNotification
// Occupied, Authorize, TransactionEvent Started (the station makes the transactionId, a
// UUID). Meter values follow every Config.MeterValuesInterval (1.6 MeterValues, 2.0.1
// TransactionEvent Updated) until StopSession, a remote stop, or a reset. A session whose
// connection drops is abandoned.
func (s *Station) StartSession(ctx context.Context, c int, idTag string) error {
	return s.startSession(ctx, sessionRequest{connector: c, idTag: idTag, idType: "ISO14443", authorize: true}, nil)
}

// StopSession ends the session on connector c (reason Local) and waits for its
// StopTransaction / TransactionEvent Ended.
func (s *Station) StopSession(ctx context.Context, c int) error {
	s.mu.Lock()
	var sess *session
	if c >= 1 && c <= len(s.connectors) {
		sess = s.connectors[c-1].session
	}
	s.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("simulator: no session on connector %d", c)
	}
	sess.requestStop(stopLocal)
	select {
	case <-sess.done:
		return sess.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sess *session) requestStop(c stopCause) {
	select {
	case sess.stop <- c:
	default: // a stop is on its way already
	}
}

type sessionRequest struct {
	connector     int
	idTag, idType string
	remoteStartID int
	authorize     bool
	duration      time.Duration // 0: until stopped
}

// errConnectorBusy: the connector has a session, is inoperative, or does not exist.
var errConnectorBusy = errors.New("simulator: connector not available")

// reserve claims connector c (0: the first free one) for a new session and returns its number.
func (s *Station) reserve(c int, sess *session) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	free := func(i int) bool { return s.connectors[i].session == nil && !s.connectors[i].inoperative }
	if c == 0 {
		for i := range s.connectors {
			if free(i) {
				c = i + 1
				break
			}
		}
	}
	if c < 1 || c > len(s.connectors) || !free(c-1) {
		return 0, errConnectorBusy
	}
	sess.connector = c
	s.connectors[c-1].session = sess
	return c, nil
}

func (s *Station) release(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cn := &s.connectors[sess.connector-1]; cn.session == sess {
		cn.session = nil
	}
}

// idleStatus is what a connector reports when its session is over.
func (s *Station) idleStatus(c int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connectors[c-1].inoperative {
		return "Unavailable"
	}
	return "Available"
}

func newSession(r sessionRequest) *session {
	return &session{idTag: r.idTag, idType: r.idType, remoteStartID: r.remoteStartID,
		watts: 7000 + rand.Int64N(4000), stop: make(chan stopCause, 1), done: make(chan struct{})}
}

// startSession runs the start of a session; reserved is a session already holding its
// connector (a remote start reserves it before answering), or nil.
func (s *Station) startSession(ctx context.Context, r sessionRequest, reserved *session) error {
	sess := reserved
	if sess == nil {
		sess = newSession(r)
		if _, err := s.reserve(r.connector, sess); err != nil {
			return err
		}
	}
	c := sess.connector
	done := s.Done()
	fail := func(err error) error {
		s.release(sess)
		_ = s.SendStatus(ctx, c, s.idleStatus(c))
		return err
	}
	if err := s.SendStatus(ctx, c, s.occupiedStatus()); err != nil {
		s.release(sess)
		return err
	}
	if r.authorize {
		if err := s.authorize(ctx, r.idTag, r.idType); err != nil {
			return fail(err)
		}
	}
	s.mu.Lock()
	wh := s.connectors[c-1].meterWh
	s.mu.Unlock()
	now := time.Now()
	if s.proto == OCPP16 {
		res, err := s.Call(ctx, "StartTransaction", map[string]any{
			"connectorId": c, "idTag": truncate(r.idTag, 20), "meterStart": wh, "timestamp": ocppTime(now)})
		if err != nil {
			return fail(err)
		}
		var ans struct {
			TransactionID int `json:"transactionId"`
			IDTagInfo     struct {
				Status string `json:"status"`
			} `json:"idTagInfo"`
		}
		if err := json.Unmarshal(res, &ans); err != nil {
			return fail(err)
		}
		s.mu.Lock()
		sess.txID16 = ans.TransactionID
		s.mu.Unlock()
		if ans.IDTagInfo.Status != "Accepted" {
			// The transaction exists on the gateway's side; end it as a real station would.
			_ = s.stopTransaction16(ctx, sess, stopLocal)
			return fail(fmt.Errorf("simulator: StartTransaction: idTag %s", ans.IDTagInfo.Status))
		}
		if err := s.SendStatus(ctx, c, s.chargingStatus()); err != nil {
			return fail(err)
		}
	} else {
		txID := uuid.NewString()
		s.mu.Lock()
		sess.txID201 = txID
		s.mu.Unlock()
		trigger := "Authorized"
		var remoteID *int
		if r.remoteStartID != 0 {
			trigger, remoteID = "RemoteStart", &r.remoteStartID
		}
		ev := transactionEvent{EventType: "Started", Timestamp: ocppTime(now), TriggerReason: trigger, SeqNo: s.nextSeqNo(sess),
			TransactionInfo: transactionInfo{TransactionID: txID, ChargingState: "Charging", RemoteStartID: remoteID},
			EVSE:            &evseRef{ID: c, ConnectorID: 1}, IDToken: &idToken{IDToken: truncate(r.idTag, 36), Type: r.idType},
			MeterValue: []json.RawMessage{s.appendMeterValue(nil, now, wh, 0, "Transaction.Begin")}}
		if _, err := s.Call(ctx, "TransactionEvent", ev); err != nil {
			return fail(err)
		}
	}
	s.env.stats.sessionsStarted.Add(1)
	s.env.stats.sessions.Add(1)
	go s.runSession(sess, r.duration, done)
	return nil
}

// nextSeqNo returns the seqNo of the session's next TransactionEvent (0 for Started). The
// session goroutine and a triggered TransactionEvent both send them.
func (s *Station) nextSeqNo(sess *session) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := sess.seqNo
	sess.seqNo++
	return n
}

// txIDs returns the session's transaction ids, set once the gateway answered the start.
func (s *Station) txIDs(sess *session) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sess.txID16, sess.txID201
}

func (s *Station) authorize(ctx context.Context, idTag, idType string) error {
	bp := getBuffer()
	defer putBuffer(bp)
	*bp = s.appendAuthorize((*bp)[:0], idTag, idType)
	res, err := s.Call(ctx, "Authorize", *bp)
	if err != nil {
		return err
	}
	var ans struct {
		IDTagInfo   struct{ Status string } `json:"idTagInfo"`
		IDTokenInfo struct{ Status string } `json:"idTokenInfo"`
	}
	if err := json.Unmarshal(res, &ans); err != nil {
		return err
	}
	if status := ans.IDTagInfo.Status + ans.IDTokenInfo.Status; status != "Accepted" {
		return fmt.Errorf("simulator: Authorize: token %s", status)
	}
	return nil
}

// runSession is a session's goroutine: meter values on a timer until it is stopped, its
// duration passes, or the connection it started on ends.
func (s *Station) runSession(sess *session, duration time.Duration, linkDone <-chan struct{}) {
	defer close(sess.done)
	defer s.env.stats.sessions.Add(-1)
	ctx := s.thenContext()
	meter := time.NewTimer(s.meterValuesInterval())
	defer meter.Stop()
	var deadline <-chan time.Time
	if duration > 0 {
		t := time.NewTimer(duration)
		defer t.Stop()
		deadline = t.C
	}
	last := time.Now()
	for {
		var cause stopCause
		select {
		case <-meter.C:
			now := time.Now()
			s.mu.Lock()
			cn := &s.connectors[sess.connector-1]
			cn.meterWh += sess.watts * int64(now.Sub(last)) / int64(time.Hour)
			wh := cn.meterWh
			s.mu.Unlock()
			last = now
			sess.err = s.sendSessionMeterValues(ctx, sess, now, wh)
			meter.Reset(s.meterValuesInterval())
			continue
		case cause = <-sess.stop:
		case <-deadline:
			cause = stopLocal
		case <-linkDone:
			// Abandoned: the transaction stays open on the gateway's side, as it would for a
			// station that lost power.
			s.release(sess)
			sess.err = ErrNotConnected
			return
		}
		now := time.Now()
		s.mu.Lock()
		cn := &s.connectors[sess.connector-1]
		cn.meterWh += sess.watts * int64(now.Sub(last)) / int64(time.Hour)
		s.mu.Unlock()
		if s.proto == OCPP16 {
			sess.err = s.stopTransaction16(ctx, sess, cause)
		} else {
			sess.err = s.endTransaction201(ctx, sess, cause)
		}
		s.release(sess)
		if cause != stopSoftReset && cause != stopHardReset {
			if err := s.SendStatus(ctx, sess.connector, s.idleStatus(sess.connector)); err != nil && sess.err == nil {
				sess.err = err
			}
		}
		s.rebootIfIdle()
		return
	}
}

func (s *Station) sendSessionMeterValues(ctx context.Context, sess *session, now time.Time, wh int64) error {
	tx16, tx201 := s.txIDs(sess)
	if s.proto == OCPP16 {
		bp := getBuffer()
		defer putBuffer(bp)
		*bp = s.appendMeterValues((*bp)[:0], sess.connector, tx16, now, wh, sess.watts)
		_, err := s.Call(ctx, "MeterValues", *bp)
		return err
	}
	ev := transactionEvent{EventType: "Updated", Timestamp: ocppTime(now), TriggerReason: "MeterValuePeriodic", SeqNo: s.nextSeqNo(sess),
		TransactionInfo: transactionInfo{TransactionID: tx201, ChargingState: "Charging"},
		MeterValue:      []json.RawMessage{s.appendMeterValue(nil, now, wh, sess.watts, "Sample.Periodic")}}
	_, err := s.Call(ctx, "TransactionEvent", ev)
	return err
}

func (s *Station) stopTransaction16(ctx context.Context, sess *session, cause stopCause) error {
	s.mu.Lock()
	wh := s.connectors[sess.connector-1].meterWh
	s.mu.Unlock()
	tx16, _ := s.txIDs(sess)
	_, err := s.Call(ctx, "StopTransaction", map[string]any{
		"transactionId": tx16, "idTag": truncate(sess.idTag, 20), "meterStop": wh,
		"timestamp": ocppTime(time.Now()), "reason": cause.reason16()})
	return err
}

func (s *Station) endTransaction201(ctx context.Context, sess *session, cause stopCause) error {
	s.mu.Lock()
	wh := s.connectors[sess.connector-1].meterWh
	s.mu.Unlock()
	now := time.Now()
	trigger, stopped := cause.reason201()
	_, tx201 := s.txIDs(sess)
	ev := transactionEvent{EventType: "Ended", Timestamp: ocppTime(now), TriggerReason: trigger, SeqNo: s.nextSeqNo(sess),
		TransactionInfo: transactionInfo{TransactionID: tx201, ChargingState: "EVConnected", StoppedReason: stopped},
		EVSE:            &evseRef{ID: sess.connector, ConnectorID: 1},
		MeterValue:      []json.RawMessage{s.appendMeterValue(nil, now, wh, 0, "Transaction.End")}}
	_, err := s.Call(ctx, "TransactionEvent", ev)
	return err
}

// stopAllSessions ends every session for cause and waits for them.
func (s *Station) stopAllSessions(ctx context.Context, cause stopCause) {
	s.mu.Lock()
	var sessions []*session
	for _, cn := range s.connectors {
		if cn.session != nil {
			sessions = append(sessions, cn.session)
		}
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.requestStop(cause)
	}
	for _, sess := range sessions {
		select {
		case <-sess.done:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Station) activeSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, cn := range s.connectors {
		if cn.session != nil {
			n++
		}
	}
	return n
}

// reboot simulates a reset: a station under Run drops its connection and comes back with a
// BootNotification (reason RemoteReset); one driven by hand only ends its sessions, which the
// caller has done.
func (s *Station) reboot() {
	s.mu.Lock()
	running := s.runCtx != nil
	if running {
		s.rebootReason = "RemoteReset"
	}
	l := s.link
	s.mu.Unlock()
	if running && l != nil {
		l.close(1001) // going away
	}
}

// rebootIfIdle carries out a 2.0.1 Reset OnIdle once the last session has ended.
func (s *Station) rebootIfIdle() {
	s.mu.Lock()
	due := s.rebootIdle
	s.mu.Unlock()
	if !due || s.activeSessions() > 0 {
		return
	}
	s.mu.Lock()
	s.rebootIdle = false
	s.mu.Unlock()
	s.reboot()
}

func (s *Station) meterValuesInterval() time.Duration {
	if v, ok := s.setting(settingMeterValueSampleInterval); ok {
		if d := secondsSetting(v); d > 0 {
			return d
		}
	}
	return s.env.cfg.MeterValuesInterval
}

// flipStatus is the StatusInterval behaviour: one idle, operative connector goes from
// Available to occupied (a car plugged in) or back.
func (s *Station) flipStatus(ctx context.Context) {
	s.mu.Lock()
	start := rand.IntN(len(s.connectors))
	c, status := 0, ""
	for i := range s.connectors {
		cn := &s.connectors[(start+i)%len(s.connectors)]
		if cn.session != nil || cn.inoperative {
			continue
		}
		c = (start+i)%len(s.connectors) + 1
		status = s.occupiedStatus()
		if cn.status != "Available" {
			status = "Available"
		}
		break
	}
	s.mu.Unlock()
	if c > 0 {
		_ = s.SendStatus(ctx, c, status)
	}
}

// startOwnSession is the SessionInterval behaviour.
func (s *Station) startOwnSession(ctx context.Context) {
	_ = s.startSession(ctx, sessionRequest{idTag: s.env.cfg.IDTag, idType: "ISO14443", authorize: true,
		duration: s.env.cfg.SessionDuration}, nil)
}

// Settings: the configuration a station reports (1.6 keys; 2.0.1 component.variable) and
// lets the gateway change. Values not changed are computed from the config.

type settingID uint8

const (
	settingHeartbeatInterval settingID = iota
	settingConnectionTimeOut
	settingMeterValueSampleInterval
	settingMeterValuesSampledData
	settingNumberOfConnectors
	settingAuthorizeRemoteTxRequests
	settingLocalAuthorizeOffline
	settingLocalPreAuthorize
	settingClockAlignedDataInterval
	settingStopTransactionOnEVSideDisconnect
	settingSupportedFeatureProfiles
	settingWebSocketPingInterval
	settingResetRetries
	settingUnlockConnectorOnEVSideDisconnect
	settingGetConfigurationMaxKeys
	settingAuthorizationKey
	settingVendorName
	settingModel
	settingSerialNumber
	settingSecurityProfile
	settingIdentity
)

type mutability uint8

const (
	readWrite mutability = iota
	readOnly
	writeOnly
)

type settingDef struct {
	id                  settingID
	key16               string // "" when 1.6 has no such key
	component, variable string // "" when 2.0.1 has no such variable
	dataType            string // 2.0.1 DataEnumType
	access              mutability
	value               func(s *Station) string
}

func constant(v string) func(*Station) string { return func(*Station) string { return v } }

var settingDefs = []settingDef{
	{settingHeartbeatInterval, "HeartbeatInterval", "OCPPCommCtrlr", "HeartbeatInterval", "integer", readWrite,
		func(s *Station) string { return strconv.Itoa(int(s.HeartbeatInterval() / time.Second)) }},
	{settingConnectionTimeOut, "ConnectionTimeOut", "TxCtrlr", "EVConnectionTimeOut", "integer", readWrite, constant("60")},
	{settingMeterValueSampleInterval, "MeterValueSampleInterval", "SampledDataCtrlr", "TxUpdatedInterval", "integer", readWrite,
		func(s *Station) string { return strconv.Itoa(int(s.env.cfg.MeterValuesInterval / time.Second)) }},
	{settingMeterValuesSampledData, "MeterValuesSampledData", "SampledDataCtrlr", "TxUpdatedMeasurands", "MemberList", readWrite,
		constant("Energy.Active.Import.Register,Power.Active.Import")},
	{settingNumberOfConnectors, "NumberOfConnectors", "", "", "integer", readOnly,
		func(s *Station) string { return strconv.Itoa(len(s.connectors)) }},
	{settingAuthorizeRemoteTxRequests, "AuthorizeRemoteTxRequests", "AuthCtrlr", "AuthorizeRemoteStart", "boolean", readWrite, constant("false")},
	{settingLocalAuthorizeOffline, "LocalAuthorizeOffline", "AuthCtrlr", "LocalAuthorizeOffline", "boolean", readWrite, constant("true")},
	{settingLocalPreAuthorize, "LocalPreAuthorize", "AuthCtrlr", "LocalPreAuthorize", "boolean", readWrite, constant("false")},
	{settingClockAlignedDataInterval, "ClockAlignedDataInterval", "AlignedDataCtrlr", "Interval", "integer", readWrite, constant("0")},
	{settingStopTransactionOnEVSideDisconnect, "StopTransactionOnEVSideDisconnect", "TxCtrlr", "StopTxOnEVSideDisconnect", "boolean", readWrite, constant("true")},
	{settingSupportedFeatureProfiles, "SupportedFeatureProfiles", "", "", "", readOnly, constant("Core,FirmwareManagement,RemoteTrigger")},
	{settingWebSocketPingInterval, "WebSocketPingInterval", "OCPPCommCtrlr", "WebSocketPingInterval", "integer", readWrite, constant("0")},
	{settingResetRetries, "ResetRetries", "OCPPCommCtrlr", "ResetRetries", "integer", readWrite, constant("1")},
	{settingUnlockConnectorOnEVSideDisconnect, "UnlockConnectorOnEVSideDisconnect", "OCPPCommCtrlr", "UnlockOnEVSideDisconnect", "boolean", readWrite, constant("true")},
	{settingGetConfigurationMaxKeys, "GetConfigurationMaxKeys", "", "", "", readOnly, constant("50")},
	{settingAuthorizationKey, "AuthorizationKey", "SecurityCtrlr", "BasicAuthPassword", "string", writeOnly, constant("")},
	{settingVendorName, "", "ChargingStation", "VendorName", "string", readOnly, func(s *Station) string { return s.env.cfg.Vendor }},
	{settingModel, "", "ChargingStation", "Model", "string", readOnly, func(s *Station) string { return s.env.cfg.Model }},
	{settingSerialNumber, "", "ChargingStation", "SerialNumber", "string", readOnly, func(s *Station) string { return s.serialNumber() }},
	{settingSecurityProfile, "", "SecurityCtrlr", "SecurityProfile", "integer", readOnly, func(s *Station) string {
		if s.password() != "" {
			return "1"
		}
		return "0"
	}},
	{settingIdentity, "", "SecurityCtrlr", "Identity", "string", readOnly, func(s *Station) string { return s.identity }},
}

func (s *Station) setting(id settingID) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.settings[id]
	return v, ok
}

func (s *Station) settingValue(d *settingDef) string {
	if v, ok := s.setting(d.id); ok {
		return v
	}
	return d.value(s)
}

// setSetting stores a value the gateway set and reports whether the station accepts it.
func (s *Station) setSetting(d *settingDef, v string) bool {
	switch d.dataType {
	case "integer":
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return false
		}
	case "boolean":
		if v != "true" && v != "false" {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settings == nil {
		s.settings = map[settingID]string{}
	}
	s.settings[d.id] = v
	return true
}

func secondsSetting(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

func setting16(key string) *settingDef {
	for i := range settingDefs {
		if d := &settingDefs[i]; d.key16 != "" && strings.EqualFold(d.key16, key) {
			return d
		}
	}
	return nil
}

// setting201 finds a variable by its component and variable names (case-insensitive, as
// 2.0.1 says); componentKnown tells UnknownComponent from UnknownVariable.
func setting201(component, variable string) (d *settingDef, componentKnown bool) {
	for i := range settingDefs {
		d := &settingDefs[i]
		if d.component == "" || !strings.EqualFold(d.component, component) {
			continue
		}
		componentKnown = true
		if strings.EqualFold(d.variable, variable) {
			return d, true
		}
	}
	return nil, componentKnown
}
