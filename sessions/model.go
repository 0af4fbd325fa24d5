package sessions

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/apperr"
)

// ErrNotFound: no session with this id in the caller's networks.
var ErrNotFound = fmt.Errorf("session %w", apperr.NotFound)

// ErrStationNotFound: no charge station with this id in the caller's networks.
var ErrStationNotFound = fmt.Errorf("charge station %w", apperr.NotFound)

// Status of a session.
type Status string

// Session statuses.
const (
	StatusActive    Status = "ACTIVE"    // started, not stopped yet
	StatusCompleted Status = "COMPLETED" // stopped
	StatusInvalid   Status = "INVALID"   // a 1.6 stop for a transaction evroam never started
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusCompleted || s == StatusInvalid
}

// Token types (OCPI 2.2.1 TokenType) of the token a session was started with.
const (
	TokenTypeRFID    = "RFID"
	TokenTypeAppUser = "APP_USER"
	TokenTypeOther   = "OTHER"
)

// TokenType maps an OCPP 2.0.1 IdTokenEnumType onto the OCPI token type; "" stays "". (An
// OCPP 1.6 idTag has no type: it is an RFID tag, or what a remote start passed as one.)
func TokenType(ocppType string) string {
	switch ocppType {
	case "":
		return ""
	case "ISO14443", "ISO15693":
		return TokenTypeRFID
	case "Central", "eMAID":
		return TokenTypeAppUser
	default: // KeyCode, Local, MacAddress, NoAuthorization
		return TokenTypeOther
	}
}

// Charging says whether an OCPP 2.0.1 chargingState or an OCPP 1.6 connector status means
// energy flows (true) or the session idles (false). known is false for every other value:
// the statuses that occur outside sessions (Available, Preparing, Faulted…) say nothing of
// one, and leaving them out keeps status reports from touching sessions at all.
func Charging(state string) (charging, known bool) {
	switch state {
	case "Charging":
		return true, true
	case "EVConnected", "SuspendedEV", "SuspendedEVSE", "Idle", "Finishing":
		return false, true
	}
	return false, false
}

// Session is one charging session.
type Session struct {
	ID                 string
	StationID          string
	TransactionID      string // the OCPP transaction id (1.6: made by evroam; 2.0.1: the station's)
	EVSESequenceNumber int
	ConnectorID        *int
	LocationID         string
	TokenUID           string // the token that started it; for a session known only by its stop, the one that stopped it
	TokenType          string
	Start, End         *time.Time // the station's timestamps
	MeterStartWh       *float64
	MeterStopWh        *float64
	LastEnergyWh       *float64 // the newest energy register sample
	MaxPowerW          *float64
	StopReason         string
	Status             Status
	LastUpdated        time.Time // when evroam last recorded something of it
	// States are the charging states, by time (read with the session).
	States []State
}

// State is a charging state from a moment on.
type State struct {
	At       time.Time
	Charging bool
}

// EnergyKWh is the energy charged so far, rounded to Wh: meter stop (or the newest energy
// sample of a running session) minus meter start; nil when either is unknown.
func (s Session) EnergyKWh() *float64 {
	end := s.MeterStopWh
	if end == nil {
		end = s.LastEnergyWh
	}
	if s.MeterStartWh == nil || end == nil {
		return nil
	}
	kwh := math.Round(*end-*s.MeterStartWh) / 1000
	return &kwh
}

// Times returns the session's duration and how much of it was charging and idle, in whole
// seconds, up to its end or, while it runs, now. A session without a start has none.
func (s Session) Times(now time.Time) (duration, charging, idle int) {
	if s.Start == nil {
		return 0, 0, 0
	}
	start, end := *s.Start, now
	if s.End != nil {
		end = *s.End
	}
	if !end.After(start) {
		return 0, 0, 0
	}
	var on time.Duration
	cur, flowing := start, true // before the first known state: charging
	for _, st := range s.States {
		if !st.At.After(cur) {
			flowing = st.Charging // a state from before the start (or at it) is the initial one
			continue
		}
		if !st.At.Before(end) {
			break
		}
		if flowing {
			on += st.At.Sub(cur)
		}
		cur, flowing = st.At, st.Charging
	}
	if flowing {
		on += end.Sub(cur)
	}
	duration = int(end.Sub(start) / time.Second)
	charging = min(int(on/time.Second), duration)
	return duration, charging, duration - charging
}

// MeterPoint is one moment of a session's meter-value timeline: what the station sampled
// then, in Wh, W, A and percent; nil for what it did not send.
type MeterPoint struct {
	SampledAt  time.Time
	EnergyWh   *float64
	PowerW     *float64
	CurrentA   *float64
	SoCPercent *float64
}

// Filter narrows a list or an export of sessions.
type Filter struct {
	StationID   *string
	LocationID  *string
	Status      *Status
	TokenUID    *string // matched case-insensitively
	StartedFrom *time.Time
	StartedTo   *time.Time
}

// MeterValue is the latest sample of one measurand on one EVSE of a station.
type MeterValue struct {
	StationID          string
	EVSESequenceNumber int
	Measurand          string
	Phase              string
	Value              string
	Unit               string
	SampledAt          time.Time
}

// Sample is one sampled value a station reported, as the gateway decoded it.
type Sample struct {
	Timestamp  time.Time
	Value      string // decimal text
	Measurand  string
	Phase      string
	Unit       string
	Multiplier int // power of ten (2.0.1 unitOfMeasure); 0 for 1.6
}

// Measurands of the timeline.
const (
	measurandEnergy  = "Energy.Active.Import.Register"
	measurandPower   = "Power.Active.Import"
	measurandCurrent = "Current.Import"
	measurandSoC     = "SoC"
)

// normalized returns the sample's value in Wh, W, A or percent.
func (s Sample) normalized() (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s.Value), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	v *= math.Pow10(s.Multiplier)
	if strings.EqualFold(s.Unit, "kWh") || strings.EqualFold(s.Unit, "kW") {
		v *= 1000
	}
	return v, true
}

// Start is a 1.6 StartTransaction, for which evroam makes the transaction id.
type Start struct {
	StationID          string
	EVSESequenceNumber int // connectorId
	ConnectorID        int
	IDTag              string
	MeterStartWh       float64
	Timestamp          time.Time // the station's; the time received when it sent none
	At                 time.Time // when received
}

// Report is what a station reported of a transaction it has an id for (1.6 StopTransaction
// and MeterValues, 2.0.1 TransactionEvent), or meter values of no transaction (then only
// the latest value per EVSE is kept).
type Report struct {
	StationID          string
	TransactionID      string // "" for meter values outside a transaction
	EVSESequenceNumber int    // 0: not given
	ConnectorID        int    // 0: not given
	TokenUID           string
	TokenType          string // OCPI TokenType
	// StopTokenUID is the token that stopped the transaction (1.6 StopTransaction idTag,
	// 2.0.1 Ended idToken): the session's token only when no other is known.
	StopTokenUID string
	// Create: the report may create its session (2.0.1 events: the station made the id;
	// 1.6 stops, as INVALID). Meter values never do.
	Create bool
	// InvalidIfNew: a session this report creates is INVALID (a 1.6 stop of an unknown
	// transaction).
	InvalidIfNew bool
	StartedAt    *time.Time
	MeterStartWh *float64
	StoppedAt    *time.Time
	MeterStopWh  *float64
	StopReason   string
	// ChargingState is a 2.0.1 chargingState at Timestamp ("" when not sent).
	ChargingState string
	Timestamp     time.Time // the station's timestamp of the report
	Samples       []Sample
	At            time.Time // when received
}

// EVSEState is a connector status a station reported for an EVSE: it gives the session
// running there a charging state (1.6 has no charging state of its own).
type EVSEState struct {
	StationID          string
	EVSESequenceNumber int
	Status             string
	At                 time.Time // the station's timestamp, else the time received
}
