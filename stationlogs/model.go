package stationlogs

import (
	"encoding/json"
	"time"
)

// Message is one OCPP frame of the message log.
type Message struct {
	ID          int64
	StationID   string
	Direction   string // in, out
	MessageType string // CALL, CALLRESULT, CALLERROR
	MessageID   string
	Action      string
	Payload     json.RawMessage // redacted by the gateway
	// Operator names the operator of a frame forwarded over an OCPP proxy link ("" for the
	// station's own connection).
	Operator string
	Created  time.Time
}

// StatusEntry is one StatusNotification a station sent.
type StatusEntry struct {
	ID                 int64
	StationID          string
	EVSESequenceNumber int // 0 = the whole station
	ConnectorID        int
	OCPPStatus         string
	ErrorCode          string
	Info               string
	VendorErrorCode    string
	OCPIStatus         string
	FriendlyStatus     string
	ReportedAt         *time.Time // the station's own timestamp
	Created            time.Time
}

// ConfigurationValue is one 1.6 configuration key or 2.0.1 device-model variable.
type ConfigurationValue struct {
	Key        string
	Value      *string // nil: the station did not send a value (write-only, unknown)
	ReadOnly   bool
	Unknown    bool
	Component  string
	Variable   string
	Mutability string
	Updated    time.Time
}

// DataTransfer is one DataTransfer exchange in either direction.
type DataTransfer struct {
	ID           int64
	StationID    string
	Direction    string // in: the station called us; out: we called the station
	VendorID     string
	MessageID    string
	Data         json.RawMessage
	Status       string
	ResponseData json.RawMessage
	Error        string
	Created      time.Time
}

// Certificate is a certificate evroam signed for a station (its SignCertificate request),
// with the station's answer to CertificateSigned, or a CA certificate installed on it through
// the API, with its answer to InstallCertificate.
type Certificate struct {
	ID              int64
	StationID       string
	CertificateType string // ChargingStationCertificate, or the installed CA's type
	SerialNumber    string // hex
	Subject         string
	Issuer          string
	NotBefore       time.Time
	NotAfter        time.Time
	Status          string // the station's answer: Accepted, Rejected, Failed; NoAnswer
	Created         time.Time
}

// FirmwareStatus is one FirmwareStatusNotification of a station: an entry of its firmware
// history.
type FirmwareStatus struct {
	ID        int64
	StationID string
	Status    string
	RequestID *int // the 2.0.1 requestId of the UpdateFirmware it reports on; nil for 1.6
	Created   time.Time
}
