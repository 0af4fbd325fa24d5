package sessions

import "time"

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

// Transaction is a charging session as the station reported it.
type Transaction struct {
	StationID          string
	TransactionID      string
	EVSESequenceNumber int
	IDTag              string
	MeterStartWh       *float64
	MeterStopWh        *float64
	StartedAt          *time.Time
	StoppedAt          *time.Time
	StopReason         string
	Updated            time.Time
}
