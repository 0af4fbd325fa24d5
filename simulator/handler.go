package simulator

import (
	"context"
	"encoding/json"
	"time"
)

// DefaultHandler is the simulated charge station's answer to the gateway's CALLs, valid
// against the OCPP schemas of the station's version:
//
//   - Reset: Accepted; sessions end (reason Soft/HardReset, 2.0.1 ImmediateReset) and a
//     station under Run reboots: it drops the connection and comes back with a
//     BootNotification (reason RemoteReset). A 2.0.1 Reset OnIdle during a session is
//     Scheduled and carried out when the last session ends; one for a single EVSE is
//     Rejected.
//   - UnlockConnector: Unlocked (a 1.6 session on it ends with UnlockCommand; 2.0.1 answers
//     OngoingAuthorizedTransaction); an unknown connector UnlockFailed / UnknownConnector.
//   - ClearCache, UpdateFirmware: Accepted. GetDiagnostics, GetLog: Accepted with a file name.
//   - TriggerMessage: Accepted, then the requested message (BootNotification, Heartbeat,
//     StatusNotification and MeterValues per connector, Firmware/Diagnostics/Log status Idle,
//     2.0.1 TransactionEvent Updated). A BootNotification is Rejected once one was accepted
//     on the connection (2.0.1 F06.FR.17), and one the station sends of its own within
//     250 ms answers the trigger. Certificate messages: NotImplemented.
//   - ChangeAvailability: Accepted (Scheduled while a session runs), then StatusNotification
//     Unavailable / Available.
//   - GetConfiguration / ChangeConfiguration (1.6), GetVariables / SetVariables /
//     GetBaseReport then NotifyReport (2.0.1): a small plausible configuration; changes are
//     kept, and a changed heartbeat or meter interval, or password, is used.
//   - DataTransfer: Accepted, the data echoed.
//   - RemoteStartTransaction / RequestStartTransaction: Accepted when a connector is free,
//     then a session (Authorize only when AuthorizeRemoteTxRequests / AuthorizeRemoteStart
//     is true). RemoteStopTransaction / RequestStopTransaction: Accepted for a running
//     transaction, then it ends with reason Remote.
//   - Anything else: CALLERROR NotImplemented.
func DefaultHandler(ctx context.Context, st *Station, action string, payload json.RawMessage) Reply {
	h, ok := defaultHandlers[action]
	if !ok || (st.proto == OCPP16 && only201[action]) || (st.proto == OCPP201 && only16[action]) {
		return Reply{Err: &CallError{Code: "NotImplemented", Description: action + " is not implemented by the simulator"}}
	}
	return h(ctx, st, payload)
}

type handlerFunc func(ctx context.Context, st *Station, payload json.RawMessage) Reply

var defaultHandlers = map[string]handlerFunc{
	"Reset":                   handleReset,
	"UnlockConnector":         handleUnlock,
	"ClearCache":              func(context.Context, *Station, json.RawMessage) Reply { return status("Accepted") },
	"UpdateFirmware":          handleUpdateFirmware,
	"GetDiagnostics":          handleGetDiagnostics,
	"GetLog":                  handleGetLog,
	"TriggerMessage":          handleTrigger,
	"ChangeAvailability":      handleChangeAvailability,
	"GetConfiguration":        handleGetConfiguration,
	"ChangeConfiguration":     handleChangeConfiguration,
	"GetVariables":            handleGetVariables,
	"SetVariables":            handleSetVariables,
	"GetBaseReport":           handleGetBaseReport,
	"DataTransfer":            handleDataTransfer,
	"RemoteStartTransaction":  handleRemoteStart16,
	"RemoteStopTransaction":   handleRemoteStop16,
	"RequestStartTransaction": handleRequestStart201,
	"RequestStopTransaction":  handleRequestStop201,
}

var (
	only16  = map[string]bool{"GetDiagnostics": true, "GetConfiguration": true, "ChangeConfiguration": true, "RemoteStartTransaction": true, "RemoteStopTransaction": true}
	only201 = map[string]bool{"GetVariables": true, "SetVariables": true, "GetBaseReport": true, "RequestStartTransaction": true, "RequestStopTransaction": true}
)

// triggeredBootGrace is how long a triggered BootNotification waits for the station's own
// (a station that connects and boots sends one within microseconds of the upgrade).
const triggeredBootGrace = 250 * time.Millisecond

func status(s string) Reply { return Reply{Payload: map[string]string{"status": s}} }

// formatViolation answers a payload the station cannot read, in the version's spelling.
func formatViolation(st *Station, err error) Reply {
	code := "FormatViolation"
	if st.proto == OCPP16 {
		code = "FormationViolation"
	}
	return Reply{Err: &CallError{Code: code, Description: err.Error()}}
}

func handleReset(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		Type   string `json:"type"`
		EVSEID *int   `json:"evseId"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	cause := stopSoftReset
	if req.Type == "Hard" {
		cause = stopHardReset
	}
	if st.proto == OCPP201 {
		if req.EVSEID != nil {
			return status("Rejected") // resetting one EVSE is not simulated
		}
		if req.Type == "OnIdle" && st.activeSessions() > 0 {
			st.mu.Lock()
			st.rebootIdle = true
			st.mu.Unlock()
			return status("Scheduled")
		}
	}
	return Reply{Payload: map[string]string{"status": "Accepted"}, Then: func(ctx context.Context) {
		// Give the gateway a moment to read the answer before the socket goes.
		time.Sleep(50 * time.Millisecond)
		st.stopAllSessions(ctx, cause)
		st.reboot()
	}}
}

func handleUnlock(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		ConnectorID int `json:"connectorId"`
		EVSEID      int `json:"evseId"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	c := req.ConnectorID
	if st.proto == OCPP201 {
		c = req.EVSEID
		if req.ConnectorID != 1 {
			c = 0
		}
	}
	st.mu.Lock()
	var sess *session
	known := c >= 1 && c <= len(st.connectors)
	if known {
		sess = st.connectors[c-1].session
	}
	st.mu.Unlock()
	switch {
	case !known && st.proto == OCPP16:
		return status("UnlockFailed")
	case !known:
		return status("UnknownConnector")
	case sess != nil && st.proto == OCPP201:
		return status("OngoingAuthorizedTransaction")
	case sess != nil:
		return Reply{Payload: map[string]string{"status": "Unlocked"}, Then: func(context.Context) { sess.requestStop(stopUnlock) }}
	}
	return status("Unlocked")
}

func handleUpdateFirmware(_ context.Context, st *Station, _ json.RawMessage) Reply {
	if st.proto == OCPP16 {
		return Reply{} // UpdateFirmware.conf is empty in 1.6
	}
	return status("Accepted")
}

func handleGetDiagnostics(_ context.Context, st *Station, _ json.RawMessage) Reply {
	return Reply{Payload: map[string]string{"fileName": st.identity + "-diagnostics.log"}}
}

func handleGetLog(_ context.Context, st *Station, _ json.RawMessage) Reply {
	return Reply{Payload: map[string]string{"status": "Accepted", "filename": st.identity + ".log"}}
}

// connectorsOf returns connector c (when 1..n), or all of them for 0.
func (s *Station) connectorsOf(c int) []int {
	if c > 0 {
		return []int{c}
	}
	all := make([]int, len(s.connectors))
	for i := range all {
		all[i] = i + 1
	}
	return all
}

func handleTrigger(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		RequestedMessage string `json:"requestedMessage"`
		ConnectorID      *int   `json:"connectorId"`
		EVSE             *struct {
			ID int `json:"id"`
		} `json:"evse"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	c := 0
	switch {
	case req.ConnectorID != nil:
		c = *req.ConnectorID
	case req.EVSE != nil:
		c = req.EVSE.ID
	}
	if c < 0 || c > len(st.connectors) {
		return status("Rejected")
	}
	var then func(ctx context.Context)
	switch req.RequestedMessage {
	case "BootNotification":
		l := st.current()
		if l == nil {
			return status("Rejected")
		}
		if l.booted.Load() {
			// Accepted already on this connection: 2.0.1 F06.FR.17 says Rejected, and for 1.6
			// it keeps a trigger that crossed the station's own boot from doubling it.
			return status("Rejected")
		}
		then = func(ctx context.Context) {
			// The gateway asks right after the upgrade when it has no boot data on record;
			// a station that is about to boot anyway lets its own BootNotification answer.
			t := time.NewTimer(triggeredBootGrace)
			defer t.Stop()
			select {
			case <-l.bootStartedChan():
				return
			case <-l.done:
				return
			case <-t.C:
			}
			_, _ = st.boot(ctx, "Triggered")
		}
	case "Heartbeat":
		then = func(ctx context.Context) { _ = st.Heartbeat(ctx) }
	case "StatusNotification":
		then = func(ctx context.Context) {
			if c == 0 && st.proto == OCPP16 && req.ConnectorID != nil {
				_ = st.SendStatus(ctx, 0, "Available") // connector 0: the station itself
				return
			}
			for _, n := range st.connectorsOf(c) {
				st.mu.Lock()
				s := st.connectors[n-1].status
				st.mu.Unlock()
				if st.SendStatus(ctx, n, s) != nil {
					return
				}
			}
		}
	case "MeterValues":
		if c == 0 && req.ConnectorID != nil {
			return status("Rejected") // no station-wide meter
		}
		then = func(ctx context.Context) {
			for _, n := range st.connectorsOf(c) {
				if st.sendMeterValues(ctx, n) != nil {
					return
				}
			}
		}
	case "FirmwareStatusNotification", "DiagnosticsStatusNotification", "LogStatusNotification":
		msg := req.RequestedMessage
		then = func(ctx context.Context) { _, _ = st.Call(ctx, msg, map[string]string{"status": "Idle"}) }
	case "TransactionEvent":
		sess := st.sessionOn(c)
		if sess == nil {
			return status("Rejected")
		}
		if _, tx := st.txIDs(sess); tx == "" {
			return status("Rejected") // the transaction has not started yet
		}
		then = func(ctx context.Context) {
			st.mu.Lock()
			wh := st.connectors[sess.connector-1].meterWh
			st.mu.Unlock()
			_, tx201 := st.txIDs(sess)
			now := time.Now()
			_, _ = st.Call(ctx, "TransactionEvent", transactionEvent{EventType: "Updated", Timestamp: ocppTime(now),
				TriggerReason: "Trigger", SeqNo: st.nextSeqNo(sess),
				TransactionInfo: transactionInfo{TransactionID: tx201, ChargingState: "Charging"},
				MeterValue:      []json.RawMessage{st.appendMeterValue(nil, now, wh, sess.watts, "Trigger")}})
		}
	default:
		return status("NotImplemented")
	}
	return Reply{Payload: map[string]string{"status": "Accepted"}, Then: then}
}

// sessionOn returns the session on connector c, or for 0 any session.
func (s *Station) sessionOn(c int) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, cn := range s.connectors {
		if cn.session != nil && (c == 0 || c == i+1) {
			return cn.session
		}
	}
	return nil
}

func handleChangeAvailability(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		ConnectorID       int    `json:"connectorId"`
		Type              string `json:"type"`
		OperationalStatus string `json:"operationalStatus"`
		EVSE              *struct {
			ID int `json:"id"`
		} `json:"evse"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	c, op := req.ConnectorID, req.Type
	if st.proto == OCPP201 {
		c, op = 0, req.OperationalStatus
		if req.EVSE != nil {
			c = req.EVSE.ID
		}
	}
	if c < 0 || c > len(st.connectors) {
		return status("Rejected")
	}
	inoperative := op == "Inoperative"
	var report []int
	busy := false
	st.mu.Lock()
	for _, n := range st.connectorsOf(c) {
		cn := &st.connectors[n-1]
		cn.inoperative = inoperative
		if cn.session != nil {
			busy = true // takes effect when the session ends
			continue
		}
		report = append(report, n)
	}
	st.mu.Unlock()
	answer := "Accepted"
	if busy && inoperative {
		answer = "Scheduled"
	}
	newStatus := "Available"
	if inoperative {
		newStatus = "Unavailable"
	}
	return Reply{Payload: map[string]string{"status": answer}, Then: func(ctx context.Context) {
		for _, n := range report {
			if st.SendStatus(ctx, n, newStatus) != nil {
				return
			}
		}
	}}
}

type configurationKey struct {
	Key      string  `json:"key"`
	ReadOnly bool    `json:"readonly"`
	Value    *string `json:"value,omitempty"`
}

func handleGetConfiguration(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		Key []string `json:"key"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	entry := func(d *settingDef) configurationKey {
		v := truncate(st.settingValue(d), 500)
		return configurationKey{Key: d.key16, ReadOnly: d.access == readOnly, Value: &v}
	}
	keys := []configurationKey{}
	var unknown []string
	if len(req.Key) == 0 {
		for i := range settingDefs {
			// A station never reports its AuthorizationKey (1.6 security whitepaper).
			if d := &settingDefs[i]; d.key16 != "" && d.access != writeOnly {
				keys = append(keys, entry(d))
			}
		}
	}
	for _, k := range req.Key {
		if d := setting16(k); d != nil && d.access != writeOnly {
			keys = append(keys, entry(d))
		} else {
			unknown = append(unknown, truncate(k, 50))
		}
	}
	res := map[string]any{"configurationKey": keys}
	if len(unknown) > 0 {
		res["unknownKey"] = unknown
	}
	return Reply{Payload: res}
}

func handleChangeConfiguration(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	d := setting16(req.Key)
	switch {
	case d == nil:
		return status("NotSupported")
	case d.access == readOnly || !st.setSetting(d, req.Value):
		return status("Rejected")
	}
	return status("Accepted")
}

// variableRef holds a 2.0.1 component and variable as the gateway sent them, to be echoed,
// and their names, to be looked up.
type variableRef struct {
	Component     json.RawMessage `json:"component"`
	Variable      json.RawMessage `json:"variable"`
	AttributeType string          `json:"attributeType,omitempty"`
}

func (r variableRef) lookup() (d *settingDef, failure string) {
	var comp struct {
		Name     string          `json:"name"`
		Instance string          `json:"instance"`
		EVSE     json.RawMessage `json:"evse"`
	}
	var vr struct {
		Name     string `json:"name"`
		Instance string `json:"instance"`
	}
	_ = json.Unmarshal(r.Component, &comp)
	_ = json.Unmarshal(r.Variable, &vr)
	if comp.Instance != "" || comp.EVSE != nil {
		return nil, "UnknownComponent" // per-EVSE and instanced components are not simulated
	}
	d, known := setting201(comp.Name, vr.Name)
	switch {
	case !known:
		return nil, "UnknownComponent"
	case d == nil || vr.Instance != "":
		return nil, "UnknownVariable"
	case r.AttributeType != "" && r.AttributeType != "Actual":
		return nil, "NotSupportedAttributeType"
	}
	return d, ""
}

func handleGetVariables(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		GetVariableData []variableRef `json:"getVariableData"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	type result struct {
		variableRef
		AttributeStatus string  `json:"attributeStatus"`
		AttributeValue  *string `json:"attributeValue,omitempty"`
	}
	results := make([]result, 0, len(req.GetVariableData))
	for _, r := range req.GetVariableData {
		d, failure := r.lookup()
		res := result{variableRef: r, AttributeStatus: failure}
		switch {
		case d == nil:
		case d.access == writeOnly:
			res.AttributeStatus = "Rejected"
		default:
			v := truncate(st.settingValue(d), 2500)
			res.AttributeStatus, res.AttributeValue = "Accepted", &v
		}
		results = append(results, res)
	}
	return Reply{Payload: map[string]any{"getVariableResult": results}}
}

func handleSetVariables(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		SetVariableData []struct {
			variableRef
			AttributeValue string `json:"attributeValue"`
		} `json:"setVariableData"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	type result struct {
		variableRef
		AttributeStatus string `json:"attributeStatus"`
	}
	results := make([]result, 0, len(req.SetVariableData))
	for _, r := range req.SetVariableData {
		d, failure := r.lookup()
		res := result{variableRef: r.variableRef, AttributeStatus: failure}
		switch {
		case d == nil:
		case d.access == readOnly || !st.setSetting(d, r.AttributeValue):
			res.AttributeStatus = "Rejected"
		default:
			res.AttributeStatus = "Accepted"
		}
		results = append(results, res)
	}
	return Reply{Payload: map[string]any{"setVariableResult": results}}
}

func handleGetBaseReport(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		RequestID  int    `json:"requestId"`
		ReportBase string `json:"reportBase"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	type attribute struct {
		Type       string  `json:"type"`
		Value      *string `json:"value,omitempty"`
		Mutability string  `json:"mutability"`
	}
	type characteristics struct {
		DataType           string `json:"dataType"`
		SupportsMonitoring bool   `json:"supportsMonitoring"`
	}
	type name struct {
		Name string `json:"name"`
	}
	type reportData struct {
		Component               name            `json:"component"`
		Variable                name            `json:"variable"`
		VariableAttribute       []attribute     `json:"variableAttribute"`
		VariableCharacteristics characteristics `json:"variableCharacteristics"`
	}
	var data []reportData
	for i := range settingDefs {
		d := &settingDefs[i]
		if d.component == "" {
			continue
		}
		a := attribute{Type: "Actual", Mutability: [...]string{"ReadWrite", "ReadOnly", "WriteOnly"}[d.access]}
		if d.access != writeOnly {
			v := truncate(st.settingValue(d), 2500)
			a.Value = &v
		}
		data = append(data, reportData{Component: name{d.component}, Variable: name{d.variable},
			VariableAttribute: []attribute{a}, VariableCharacteristics: characteristics{DataType: d.dataType}})
	}
	report := map[string]any{"requestId": req.RequestID, "generatedAt": ocppTime(time.Now()), "seqNo": 0, "reportData": data}
	return Reply{Payload: map[string]string{"status": "Accepted"}, Then: func(ctx context.Context) {
		_, _ = st.Call(ctx, "NotifyReport", report)
	}}
}

func handleDataTransfer(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	res := map[string]any{"status": "Accepted"}
	if len(req.Data) > 0 && string(req.Data) != "null" {
		res["data"] = req.Data
	}
	return Reply{Payload: res}
}

// authorizeRemote reports whether a remote start is authorized first (1.6
// AuthorizeRemoteTxRequests, 2.0.1 AuthCtrlr.AuthorizeRemoteStart; false by default).
func (s *Station) authorizeRemote() bool {
	return s.settingValue(&settingDefs[settingAuthorizeRemoteTxRequests]) == "true"
}

func handleRemoteStart16(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		ConnectorID int    `json:"connectorId"`
		IDTag       string `json:"idTag"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	return remoteStart(st, sessionRequest{connector: req.ConnectorID, idTag: req.IDTag, idType: "ISO14443"})
}

func handleRequestStart201(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		EVSEID        int     `json:"evseId"`
		RemoteStartID int     `json:"remoteStartId"`
		IDToken       idToken `json:"idToken"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	return remoteStart(st, sessionRequest{connector: req.EVSEID, idTag: req.IDToken.IDToken, idType: req.IDToken.Type,
		remoteStartID: req.RemoteStartID})
}

// remoteStart answers Accepted when a connector is free, and starts the session once the
// answer is out.
func remoteStart(st *Station, r sessionRequest) Reply {
	r.authorize = st.authorizeRemote()
	r.duration = st.env.cfg.SessionDuration
	sess := newSession(r)
	if _, err := st.reserve(r.connector, sess); err != nil {
		return status("Rejected")
	}
	return Reply{Payload: map[string]string{"status": "Accepted"}, Then: func(ctx context.Context) {
		_ = st.startSession(ctx, r, sess)
	}}
}

func handleRemoteStop16(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		TransactionID int `json:"transactionId"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	return remoteStop(st, func(sess *session) bool { return sess.txID16 == req.TransactionID })
}

func handleRequestStop201(_ context.Context, st *Station, payload json.RawMessage) Reply {
	var req struct {
		TransactionID string `json:"transactionId"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return formatViolation(st, err)
	}
	return remoteStop(st, func(sess *session) bool { return sess.txID201 == req.TransactionID })
}

func remoteStop(st *Station, match func(*session) bool) Reply {
	st.mu.Lock()
	var sess *session
	for _, cn := range st.connectors {
		if cn.session != nil && match(cn.session) {
			sess = cn.session
		}
	}
	st.mu.Unlock()
	if sess == nil {
		return status("Rejected")
	}
	return Reply{Payload: map[string]string{"status": "Accepted"}, Then: func(context.Context) { sess.requestStop(stopRemote) }}
}
