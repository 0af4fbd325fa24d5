package ocpp

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrUnknownStation is returned by Registry.LookupStation for an identity that is not
// registered. The gateway answers the upgrade with HTTP 404.
var ErrUnknownStation = errors.New("ocpp: unknown charge station")

// Protocol versions as recorded in the registry (the charge station's protocol_version).
const (
	ProtocolOCPP16  = "Ocpp16"
	ProtocolOCPP201 = "Ocpp201"
)

// Directions of a logged frame or a data transfer.
const (
	DirectionIn  = "in"  // from the station to evroam
	DirectionOut = "out" // from evroam to the station
)

// Message types of a logged frame.
const (
	MessageTypeCall       = "CALL"
	MessageTypeCallResult = "CALLRESULT"
	MessageTypeCallError  = "CALLERROR"
)

// Registry is everything the gateway needs from the charge-station registry. The gateway
// calls it from one goroutine per connection, so calls for one identity never overlap,
// except RecordHeartbeats, RecordLoginFailures and AppendMessages, which come from
// background flushers and carry entries of many stations. Every method must be safe for concurrent use.
//
// Status strings (OCPP statuses, error codes, stop reasons...) are passed raw, exactly as
// the station sent them; mapping them to OCPI or friendly statuses is the registry's job.
type Registry interface {
	// LookupStation returns the station with this OCPP identity, or ErrUnknownStation.
	LookupStation(ctx context.Context, identity string) (Station, error)
	// RecordConnect marks the station Online (connectivity, protocol, client IP, endpoint).
	RecordConnect(ctx context.Context, c ConnectInfo) error
	// RecordDisconnect marks the station Offline. It is not called for a connection that was
	// replaced by a newer one of the same identity, and a replacing connection's
	// RecordConnect always comes after the replaced one's RecordDisconnect.
	RecordDisconnect(ctx context.Context, identity string, at time.Time) error
	// RecordBoot stores the boot data of an accepted BootNotification; the first one moves
	// the station from Pending to Onboarded.
	RecordBoot(ctx context.Context, identity string, b BootInfo) error
	// RecordHeartbeats stores last-heartbeat times, coalesced: at most one entry per identity
	// per call, the newest.
	RecordHeartbeats(ctx context.Context, hs []Heartbeat) error
	// RecordLoginFailures stores the last refused login of stations (time and reason, for
	// last_connection_attempt_at and last_connection_error), coalesced like RecordHeartbeats.
	// Identities that are no station are skipped.
	RecordLoginFailures(ctx context.Context, fs []LoginFailure) error
	// RecordStatus stores one StatusNotification.
	RecordStatus(ctx context.Context, s StatusReport) error
	// AppendMessages appends frames to the message log. Entries of one identity are in the
	// order they crossed the wire, within a call and across calls. Payloads are redacted.
	AppendMessages(ctx context.Context, ms []Message) error
	// RecordMeterValues stores one MeterValues request.
	RecordMeterValues(ctx context.Context, m MeterValuesReport) error
	// StartTransaction stores a 1.6 StartTransaction and returns the transaction id the
	// station must use (OCPP 1.6 transaction ids are made by the central system).
	StartTransaction(ctx context.Context, t TransactionStart) (int, error)
	// StopTransaction stores a 1.6 StopTransaction.
	StopTransaction(ctx context.Context, t TransactionStop) error
	// RecordTransactionEvent stores a 2.0.1 TransactionEvent (the station makes the id).
	RecordTransactionEvent(ctx context.Context, e TransactionEvent) error
	// RecordDataTransfer stores one DataTransfer exchange, in either direction.
	RecordDataTransfer(ctx context.Context, d DataTransfer) error
	// RecordConfiguration merges configuration keys (1.6 GetConfiguration) or device-model
	// variables (2.0.1 GetVariables, NotifyReport) read from the station. Secret values
	// arrive redacted.
	RecordConfiguration(ctx context.Context, identity string, values []ConfigurationValue) error
	// Authorize decides on an id token a station presents: in Authorize, StartTransaction,
	// StopTransaction and TransactionEvent. It is called for every such message, so it must
	// answer repeated tokens without a database round trip (cache what it decides).
	Authorize(ctx context.Context, r AuthorizeRequest) (IDTokenInfo, error)
}

// AuthorizeRequest is an id token a station presents.
type AuthorizeRequest struct {
	Identity string
	IDToken  string // the 1.6 idTag or the 2.0.1 idToken.idToken
	// Type is the 2.0.1 IdTokenEnumType (ISO14443, eMAID, Central…); "" for 1.6, which does
	// not say.
	Type string
	// Start: the token asks to begin charging (Authorize, 1.6 StartTransaction, 2.0.1
	// TransactionEvent Started), not to stop or to go on. Only such a request may need the
	// token's issuer asked in real time (a roaming token).
	Start bool
	// EVSESequence is the EVSE the token is presented at, 0 when the message does not say.
	EVSESequence int
}

// The authorization statuses the registry decides (1.6 AuthorizationStatus and 2.0.1
// AuthorizationStatusEnumType share them).
const (
	AuthorizationAccepted = "Accepted"
	AuthorizationBlocked  = "Blocked"
	AuthorizationExpired  = "Expired"
	AuthorizationInvalid  = "Invalid"
)

// IDTokenInfo is the registry's decision on an id token: the 1.6 idTagInfo and the 2.0.1
// idTokenInfo are made from it.
type IDTokenInfo struct {
	Status string // AuthorizationAccepted, AuthorizationBlocked, AuthorizationExpired or AuthorizationInvalid
	// GroupID is the token's group (1.6 parentIdTag, 2.0.1 groupIdToken); "" when none.
	GroupID string
	// ExpiryDate is when the token stops being valid; nil when it does not expire.
	ExpiryDate *time.Time
}

// LeaveRecorder is an optional extension of Registry: a registry that implements it is told
// with RecordLeft, instead of RecordDisconnect, of the connections that end because the
// gateway shuts down (Server.Close). Those stations are expected back within moments (on
// another node, or on this one once it restarted), so such a registry need not mark them
// offline at once: a restart then does not flap every station offline and online again.
type LeaveRecorder interface {
	RecordLeft(ctx context.Context, identity string, at time.Time) error
}

// FirmwareStatusRecorder is an optional extension of Registry: a registry that implements
// it is given every FirmwareStatusNotification (1.6 and 2.0.1); without it they are only
// answered (and kept in the message log).
type FirmwareStatusRecorder interface {
	RecordFirmwareStatus(ctx context.Context, s FirmwareStatus) error
}

// DiagnosticsStatusRecorder is an optional extension of Registry: a registry that implements
// it is given every 1.6 DiagnosticsStatusNotification and LogStatusNotification (2.0.1, and
// the 1.6 security extension) as a FirmwareStatus: the status of the station's log upload
// (Idle, Uploaded, UploadFailed, Uploading; 2.0.1 also BadMessage, NotSupportedOperation,
// PermissionDenied, AcceptedCanceled).
type DiagnosticsStatusRecorder interface {
	RecordDiagnosticsStatus(ctx context.Context, s FirmwareStatus) error
}

// FirmwareStatus is one FirmwareStatusNotification (or a log upload's status, see
// DiagnosticsStatusRecorder).
type FirmwareStatus struct {
	Identity string
	// Status is the status as sent: 1.6 Downloaded, DownloadFailed, Downloading, Idle,
	// InstallationFailed, Installing, Installed; 2.0.1 adds DownloadScheduled, DownloadPaused,
	// InstallRebooting, InstallScheduled, InstallVerificationFailed, InvalidSignature,
	// SignatureVerified.
	Status string
	// RequestID is the 2.0.1 requestId of the UpdateFirmware it reports on; nil for 1.6 (and
	// for a 2.0.1 Idle, which has none).
	RequestID *int
	At        time.Time
}

// Station is what the gateway needs to know about a registered station before upgrading.
type Station struct {
	Identity string
	// SecurityProfile is 0 (no authentication), 1 or 2 (HTTP Basic) or 3 (TLS client
	// certificate).
	SecurityProfile int
	// PendingSecurityProfile is a higher profile the station was told to move to (0: none).
	// Until it has logged in with it, a login may meet either; a login that meets it is
	// reported in ConnectInfo.UpgradedProfile.
	PendingSecurityProfile int
	// upgraded is the pending profile this login met (set by the gateway).
	upgraded int
	// VerifyPassword reports whether one of candidates is the station's OCPP password: the
	// password as the station sent it first, then the other forms it may be meant as (1.6
	// hex/plain, see the package doc). The registry decides how many forms it can afford to
	// check. It is nil
	// when no password is set. The gateway never sees the stored hash.
	VerifyPassword func(candidates ...string) bool
	// HasBootData reports whether boot data from an earlier accepted BootNotification is on
	// record. A station with boot data counts as booted on a new connection; one without is
	// asked for a BootNotification with TriggerMessage.
	HasBootData bool
	// FirmwareVersion is the one the last accepted BootNotification gave, and
	// HasConfiguration says whether the station's configuration is on record: a boot reads
	// the configuration only when it is not, or when the firmware changed.
	FirmwareVersion  string
	HasConfiguration bool
	// HasOperators says whether the station has operators (ProxyRegistry.Operators). A
	// connection reads them only when it does: nearly every station has none, and in a
	// reconnect storm a read per connection was a sixth of the gateway's CPU. An operator
	// added while the station is connected arrives through ReloadOperators.
	HasOperators bool
}

// ConnectInfo describes an accepted WebSocket connection.
type ConnectInfo struct {
	Identity        string
	ProtocolVersion string // ProtocolOCPP16 or ProtocolOCPP201
	ClientIP        string
	Endpoint        string // the gateway URL the station uses (without its identity)
	At              time.Time
	// UpgradedProfile is Station.PendingSecurityProfile when the login met it (0 when the
	// station logged in with its current profile): the upgrade is done.
	UpgradedProfile int
	// Connection is the server's number for this connection, unique while it runs: what
	// Server.Supersede names the connection by.
	Connection uint64
}

// BootInfo is the content of an accepted BootNotification. Fields a protocol version does
// not carry are empty (2.0.1 has no charge box serial, meter type or meter serial; 1.6 has
// no reason).
type BootInfo struct {
	Vendor                  string
	Model                   string
	ChargePointSerialNumber string
	ChargeBoxSerialNumber   string
	FirmwareVersion         string
	ICCID                   string
	IMSI                    string
	MeterType               string
	MeterSerialNumber       string
	Reason                  string        // 2.0.1 BootReasonEnumType
	HeartbeatInterval       time.Duration // the interval handed to the station
	At                      time.Time
	// Connection is the number of the connection the boot came on (ConnectInfo.Connection):
	// a registry that records connects asynchronously can tell which connect to wait for.
	Connection uint64
}

// LoginFailure is a refused login of a station: why, from where, when.
type LoginFailure struct {
	Identity string
	Address  string // the client IP
	Reason   string // e.g. "wrong password", "too many failed logins, retry later"
	At       time.Time
}

// Heartbeat is the last Heartbeat seen from a station.
type Heartbeat struct {
	Identity string
	At       time.Time
}

// StatusReport is one StatusNotification.
type StatusReport struct {
	Identity string
	// EVSESequence is the 1.6 connectorId or the 2.0.1 evseId; 0 is the whole station.
	EVSESequence int
	// ConnectorID is the connector the station reported: the 2.0.1 connectorId within the
	// EVSE, or the 1.6 connectorId (which is also the EVSE there).
	ConnectorID     int
	OCPPStatus      string // 1.6 ChargePointStatus, 2.0.1 ConnectorStatusEnumType
	ErrorCode       string // 1.6 ChargePointErrorCode; empty for 2.0.1
	Info            string
	VendorID        string
	VendorErrorCode string
	Timestamp       time.Time // the station's own timestamp; zero if it sent none
	At              time.Time // when the gateway received it
}

// Message is one frame of the message log.
type Message struct {
	Identity    string
	Direction   string // DirectionIn or DirectionOut
	MessageType string // MessageTypeCall, MessageTypeCallResult or MessageTypeCallError
	MessageID   string
	// Action is the CALL's action; results and errors carry the action of the CALL they
	// answer, or "" when no such CALL is known.
	Action string
	// Payload is the CALL or CALLRESULT payload, already redacted. For a CALLERROR it is
	// {"errorCode":…,"errorDescription":…,"errorDetails":…}.
	Payload json.RawMessage
	// Operator names the operator of a frame forwarded over a proxy link ("" for the
	// station's own connection); Direction is then seen from evroam: out to the operator, in
	// from it.
	Operator string
	At       time.Time
}

// MeterValuesReport is one MeterValues request.
type MeterValuesReport struct {
	Identity      string
	EVSESequence  int    // 1.6 connectorId, 2.0.1 evseId
	TransactionID string // 1.6 transactionId as decimal text, empty when none
	Samples       []Sample
	At            time.Time
}

// Sample is one sampled value with the timestamp of its meter value. The decoders fill in
// what OCPP leaves implicit: a missing measurand is Energy.Active.Import.Register, a missing
// unit Wh, and a meter value whose timestamp cannot be read carries the time it was received.
type Sample struct {
	Timestamp time.Time
	Value     string // decimal text (1.6 sends strings, 2.0.1 numbers)
	Context   string
	Format    string
	Measurand string
	Phase     string
	Location  string
	Unit      string
	// Multiplier is the 2.0.1 unitOfMeasure multiplier (power of ten); 0 for 1.6.
	Multiplier int
}

// TransactionStart is a 1.6 StartTransaction.
type TransactionStart struct {
	Identity      string
	EVSESequence  int // connectorId
	IDTag         string
	MeterStartWh  int
	ReservationID int // 0 when none
	Timestamp     time.Time
	At            time.Time
}

// TransactionStop is a 1.6 StopTransaction.
type TransactionStop struct {
	Identity      string
	TransactionID int
	IDTag         string
	MeterStopWh   int
	Reason        string // OCPP 1.6 Reason; an absent one is Local
	Timestamp     time.Time
	Samples       []Sample // transactionData
	At            time.Time
}

// TransactionEvent is a 2.0.1 TransactionEvent.
type TransactionEvent struct {
	Identity      string
	TransactionID string
	EventType     string // Started, Updated, Ended
	TriggerReason string
	SeqNo         int
	EVSESequence  int // 0 when the event carries no evse
	ConnectorID   int
	IDToken       string
	IDTokenType   string
	ChargingState string
	StoppedReason string
	// MeterWh is the last Energy.Active.Import.Register sample of the event in Wh, or nil.
	// On Started it is the meter start, on Ended the meter stop.
	MeterWh   *float64
	Samples   []Sample
	Timestamp time.Time
	At        time.Time
}

// DataTransfer is one DataTransfer exchange.
type DataTransfer struct {
	Identity  string
	Direction string // DirectionIn: the station called us; DirectionOut: we called it
	VendorID  string
	MessageID string
	// Data is the request's data as JSON (a JSON string in 1.6, any JSON in 2.0.1), nil
	// when absent. ResponseData likewise.
	Data         json.RawMessage
	Status       string // the answer's status; empty when there was no answer
	ResponseData json.RawMessage
	// Error is the CALLERROR code, or "timeout", when the exchange failed.
	Error string
	At    time.Time
}

// ConfigurationValue is one 1.6 configuration key or one 2.0.1 variable attribute.
type ConfigurationValue struct {
	// Key is the 1.6 key; for 2.0.1 it is "Component[instance].Variable[instance]" (with
	// "@evse/connector" after the component when it has an EVSE and "/attributeType" when it is not
	// Actual), so one text column can list both.
	Key      string
	Value    string
	HasValue bool // false when the station sent no value (write-only, unknown, rejected)
	ReadOnly bool
	// Unknown is set for a 1.6 unknownKey or a 2.0.1 attributeStatus other than Accepted.
	Unknown bool
	// 2.0.1 device model coordinates; empty for 1.6.
	Component         string
	ComponentInstance string
	EVSEID            int
	ConnectorID       int
	Variable          string
	VariableInstance  string
	AttributeType     string // Actual, Target, MinSet, MaxSet
	Mutability        string // ReadOnly, WriteOnly, ReadWrite
}
