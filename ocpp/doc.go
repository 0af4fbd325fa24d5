// Package ocpp is the OCPP 1.6J and 2.0.1 WebSocket gateway. Charge stations connect to
// it; it answers their messages and feeds what they report into the charge-station
// registry, and it sends evroam's own CALLs (charger commands) to them.
//
// # Boundary
//
// The gateway knows nothing about storage: it imports no gin, sqlx, lib/pq or feature
// package. Everything it needs from the registry goes through the Registry interface
// (registry.go); cmd/evroam implements it over the real stores, and ocpp/ocpptest has a
// map-backed fake for tests. Status strings are passed raw: mapping OCPP statuses to
// OCPI ones is the registry's job. The gateway never sees a password hash: a Station
// carries a VerifyPassword function.
//
// # Connecting
//
// Server is an http.Handler for /ocpp/{identity}. The identity is the last path segment,
// percent-decoded, and must be 1 to 48 printable ASCII characters without ':', '/', '?',
// '#' or space. In order:
//
//  0. The login guard (login.go): while the identity or the client address is blocked for
//     failed logins, or the identity already has a login being checked, HTTP 429 with
//     Retry-After, before the registry is asked or a password checked.
//  1. Registry.LookupStation; unknown (or invalid) identity: HTTP 404, before upgrading.
//  2. The security profile: 0 needs nothing; 1 and 2 need HTTP Basic with user = identity
//     and a password VerifyPassword accepts, else 401 with WWW-Authenticate: Basic
//     realm="evroam". For OCPP 1.6 (the AuthorizationKey is hex on the OCPP channel and
//     raw bytes in the header, and stations mix the two up) the password is offered to
//     VerifyPassword as sent and in its other forms: 32-40 hex digits also hex-decoded,
//     and a password of up to 20 bytes also as its hex text in lower and upper case (so
//     "AAAA…" and "4141…" match each other either way round); the registry checks them in
//     one go (evroam: every form against a keyed verifier, but never more than one bcrypt).
//     2.0.1 passwords are plain text only. Profiles 2 and 3 need a TLS connection (evroam's
//     own TLS listener, or a trusted proxy that says so with X-Forwarded-Proto): on a plain
//     one HTTP 403, before any credential is looked at. Profile 3 needs, instead of a
//     password, a client certificate that chains to Config.ClientCAs and whose subject CN
//     is the identity (the OCPP security whitepaper's rule), verified by the TLS layer or,
//     when a trusted proxy forwards it (Client-Cert, RFC 9440), here (transport.go). A
//     station being moved to a higher profile (Station.PendingSecurityProfile) is let in
//     by either; a login that meets the new one is reported in ConnectInfo.UpgradedProfile.
//     Every refusal (0-2) is logged at Warn with identity, address and reason, and
//     recorded as the station's last connection error through Registry.RecordLoginFailures,
//     coalesced per station and written with the heartbeats; an accepted login clears it
//     (RecordConnect).
//  3. Subprotocol: the newest of ocpp2.0.1 and ocpp1.6 that the client offers. With none
//     in common the handshake completes without a subprotocol and the socket is closed
//     at once (close code 1002), as OCPP-J requires.
//  4. A second connection for an identity replaces the first, which is closed. The
//     replaced connection's end is not recorded as a disconnect, and the new
//     connection's RecordConnect comes after anything the old one recorded.
//
// # Framing and validation
//
// Frames are OCPP-J arrays: CALL [2,id,action,payload], CALLRESULT [3,id,payload],
// CALLERROR [4,id,code,description,details]. A frame that cannot be decoded gets a
// CALLERROR FormationViolation (1.6) / FormatViolation (2.0.1) with the frame's id, or
// "-1" when the id cannot be read; the connection stays up. Unknown message types are
// ignored in 1.6 and answered MessageTypeNotSupported in 2.0.1. Error codes use each
// version's spelling (1.6 keeps FormationViolation and OccurenceConstraintViolation);
// codes received from stations are passed on as sent.
//
// Payloads are validated against the official OCA JSON schemas (schemas/, as bundled by
// ocpp-rpc, compiled lazily per action): every station CALL, every CALL we send and the
// station's answer.
//
// # Strict in what we send, tolerant in what we read
//
// What we send (our CALLs, and in the tests our answers) meets the schemas exactly: no
// null, no empty optional object or list, no field the schema does not define. What a
// station sends (its CALLs and its answers to ours) is read tolerantly, because real
// station software is not exact: ocpp-go sends "statusInfo": null in every 2.0.1
// ResetResponse, and firmware adds vendor fields. Before the schema check:
//
//   - an object member whose value is null is taken as absent (removed from the payload the
//     handlers and callers read; the message log keeps the frame as it came);
//   - a member the schema does not define is ignored (the schemas' additionalProperties:
//     false is not applied to what stations send).
//
// Everything else stays strict: a required field that is missing or null, a wrong type, a
// value outside an enum, a string over its length. A station CALL that breaks a rule gets
// the CALLERROR for it; an answer that breaks one fails the operator's command with
// ErrInvalidResponse (HTTP 502) naming the violation, e.g. "/status: missing property". Our own answers to stations' CALLs are built from typed payloads and
// checked in the tests (Config.ValidateOwnAnswers, and the strict test peers validate what
// they receive); at run time that check is off by default, as it would cost a parse per
// message on the hottest path (heartbeats, statuses). Failures map to OCPP codes as
// ocpp-rpc does: required/min/maxItems → Occur(r)enceConstraintViolation, type →
// TypeConstraintViolation, enum/pattern/additionalProperties →
// PropertyConstraintViolation, length/range/format → Format(ion)Violation. A CALL with
// an action the gateway does not handle gets NotImplemented.
//
// # Onboarding
//
// A station is booted on a connection once it got an accepted BootNotification on it,
// or from the start when the registry has boot data on record (Station.HasBootData; a
// reconnect need not bring a BootNotification). Before that, any CALL but
// BootNotification gets SecurityError, except messages the gateway asked for with
// TriggerMessage, GetBaseReport or GetReport. A station without boot data on record that
// has not sent a BootNotification within Config.BootTriggerDelay of connecting is asked for
// one with TriggerMessage (asking at once crosses the station's own boot, and it boots twice). Every BootNotification
// from a registered station is Accepted with Config.HeartbeatInterval.
//
// # Station messages
//
// 1.6 and 2.0.1: BootNotification (RecordBoot), Heartbeat (coalesced in memory and
// written with RecordHeartbeats every few seconds), StatusNotification (RecordStatus),
// MeterValues (RecordMeterValues), Authorize (answered with Registry.Authorize's decision,
// as are the id tokens of StartTransaction, StopTransaction and TransactionEvent; a 2.0.1
// NoAuthorization token is Accepted without asking), DataTransfer (recorded, answered UnknownVendorId), FirmwareStatusNotification,
// LogStatusNotification, SecurityEventNotification (answered; kept in the message
// log), SignCertificate (signed with Config.CSRSigner, then CertificateSigned; see
// certificates.go). 1.6 only: StartTransaction (the registry allocates the transaction id),
// StopTransaction, DiagnosticsStatusNotification, SignedFirmwareStatusNotification.
// 2.0.1 only: TransactionEvent, NotifyEvent, NotifyReport (RecordConfiguration).
//
// # Calling stations
//
// Server.Call sends a CALL to a station connected to this server and waits for the
// answer: ErrNotConnected, ErrInvalidPayload (nothing sent), ErrTimeout
// (Config.CallTimeout), *CallError, or ErrInvalidResponse. Calls to one station are
// queued so that only one is outstanding at a time; the station's own CALLs are handled
// meanwhile. Answers to GetConfiguration/GetVariables are recorded with
// RecordConfiguration, DataTransfer exchanges with RecordDataTransfer. ProtocolOf tells
// which protocol version a connected station speaks. A station whose handshake is being
// answered counts as connected: it may see the 101 and be commanded through the API a
// moment before this server has taken its connection in, so Call waits for that (until its
// context ends) instead of answering ErrNotConnected. Routing commands to the node that
// holds a station's socket is not this package's job.
//
// # Protocol vocabulary for callers
//
// What a caller of Server.Call (the charger commands) needs to know about OCPP is
// exported here, so that it is written once and the gateway uses the same:
//
//   - FormatTime: how a time goes into any payload (UTC; whole seconds, or 3 fractional
//     digits when there is a fraction). The gateway's own currentTime uses it.
//   - StatusResponse and StatusInfo: the status answer of most CALLs.
//   - The 2.0.1 device model (devicemodel.go): Component, EVSE and Variable in their JSON
//     shapes; VariableRef, one variable attribute, with Key, the one-string form
//     Component[instance]@evse/connector.Variable[instance]/attributeType that the
//     stored configuration uses, and ParseVariableRef, its inverse; the OCPP 2.0.1
//     mapping of 1.6 configuration keys to variables (Keys16, LookupKey16, with the keys
//     that are read-only in 1.6 or cannot be read) and VariableForKey, which accepts
//     either form.
//   - GetVariablesRequest/Response and SetVariablesRequest/Response (payloads.go): the
//     gateway decodes answers to record them with the same types a caller sends and reads
//     them with; GetVariablesResponse.Result pairs a result with its request.
//   - IsSecretKey: the keys and variables whose values are never logged, stored or echoed.
//
// # Proxy
//
// With Config.Proxy, each station's connection is forwarded to its operators (proxy.go,
// uplink.go; the operators and their storage are package proxy's, through ProxyRegistry).
// While a station is connected here, every enabled operator has a link: an outgoing WebSocket
// to its URL with the identity (the operator's, else the station's) appended, offering only
// the station's subprotocol, with HTTP Basic auth when a password is set and TLS for wss://
// (Config.ProxyTLS). A link reconnects with backoff from Config.ProxyReconnectMin doubling to
// ProxyReconnectMax, each wait jittered between half and all of it, and is pinged every
// Config.PingInterval: one that hears nothing for two intervals, not even a pong, ends and is
// dialled again (an operator gone without closing the connection would otherwise look
// connected while every forward waits out CallTimeout). Links are read again
// (ReloadOperators) when the operators change, and end when the station's connection does; a
// replacing connection starts its links once the replaced one's have ended, so an operator
// never has two links for a station. Statuses go to RecordOperatorStatus.
//
// Station → operators: after a station CALL passed validation, for Authorize,
// StartTransaction, StopTransaction and TransactionEvent the Billing operator is asked first
// (within Config.ProxyAnswerTimeout, on a link with nothing queued) and its answer, when it
// fits the schema, is what the station gets; evroam's handler runs in any case and answers
// otherwise. Transaction messages (the three, and 1.6 MeterValues with a transactionId) are
// queued durably per operator (Enqueue) before the station is answered, and each link
// delivers its queue in order, one CALL at a time; an undelivered one (no answer) makes the
// link reconnect and start over. Other CALLs are forwarded best effort to connected links,
// their answers only logged. The station's 1.6 transaction id is the authority's; the others'
// ids are mapped (MapTransaction), from evroam's own StartTransaction answer and from each
// operator's, and the transactionId of StopTransaction and MeterValues is rewritten per
// receiver. The station's BootNotification is kept and sent first on a link that connects
// later.
//
// Operators → station: an operator's CALL is refused with SecurityError when a Data &
// Control operator starts or stops a transaction or changes connection settings or
// credentials (forbiddenForDataAndControl), checked against the station's schema, then sent
// with the same queue as Server.Call (one outstanding CALL towards the station, our own
// message id); the answer or CALLERROR goes back under the operator's id. A frame from an
// operator that cannot be decoded is answered when it can be and recorded as the link's last
// error; it never reaches the station. Link frames are in the message log with
// Message.Operator set and counted through ProxyObserver.
//
// # Offline
//
// A connection ends when the socket closes, when Server.Close runs, or when the station
// has sent nothing (no frame, ping or pong) for Config.OfflineAfter (default twice the
// heartbeat interval); then RecordDisconnect. One sweeper goroutine pings every station
// every Config.PingInterval and closes silent ones, so an idle connection costs no
// timer.
//
// # Message log
//
// Every frame in and out (except undecodable input, which is only answered and logged
// to slog) becomes a Message, with the CALL's action on results and errors too. Secrets
// are replaced by "***": the values of the keys and variables IsSecretKey names (1.6
// AuthorizationKey, 2.0.1 BasicAuthPassword) in ChangeConfiguration and GetConfiguration
// results, SetVariables, GetVariables results and NotifyReport, and SetNetworkProfile's
// APN password, SIM PIN, VPN password and key; the recorded configuration hides them too.
// Messages are collected in memory and written with AppendMessages by one goroutine,
// every Config.MessageLogFlushInterval or as soon as Config.MessageLogBatchSize are
// waiting, and on Close, so they keep their wire order per station. Outgoing frames are
// logged under the connection's write lock, so the log order is the wire order.
//
// # Metrics
//
// Config.Observer, when set, counts frames by action, direction and message type, the time
// to answer a station's CALL and the CALLERRORs answered, through counters and histograms it
// hands out (cmd/evroam's are Prometheus series); the gateway asks for each once and keeps
// it, so a frame costs an atomic add and no allocation. Actions no schema defines are
// reported as UnknownAction. ConnectedByProtocol and BatchStats are read at scrape time.
//
// # Scale
//
// Each connection is one goroutine (the HTTP handler returns after the upgrade) and a
// gorilla/websocket Conn with a 512-byte read buffer and a pooled write buffer, held only
// while writing. An idle connection's goroutine waits for the socket with Go's smallest
// stack; frames are read and handled on a pool of handler goroutines, and pings and pongs
// between messages are taken off the read path so that the wait stays shallow after them
// too (idleread.go). BenchmarkIdleConnections measures the gateway alone; `make bench`
// measures resident memory per idle station at 50,000 stations over several nodes.
// Server.Close closes the hijacked connections, which http.Server.Shutdown does not.
package ocpp
