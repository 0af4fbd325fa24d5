// Package sessions owns charging sessions: the transactions stations report over OCPP (1.6
// StartTransaction / MeterValues / StopTransaction, 2.0.1 TransactionEvent Started / Updated /
// Ended), their meter-value timeline and charging states, the latest meter value per EVSE,
// and the read-only REST endpoints and CSV export over them.
//
// What stations report arrives as Reports, written in batches by stationreports (group
// commit): a batch of 1.6 starts is one statement, every other report of a batch is merged
// per transaction in Go and written with one more statement, so a frame costs no more round
// trips than one statement did before sessions existed. The merge rules make the order of
// arrival not matter: a start keeps the earliest start, a stop the latest stop, meter values
// and charging states land by their own timestamps, so messages a station delivers late,
// after an offline period, end up where they belong.
//
// Rules that real stations need:
//   - OCPP 1.6 transaction ids are made here (the central system makes them); a repeated
//     StartTransaction (same station, connector, idTag, meterStart and timestamp, e.g. resent
//     after a lost answer) gets the id of the first.
//   - A 1.6 StopTransaction for a transaction evroam does not know is accepted (refusing it
//     would make the station resend it forever) and kept as an INVALID session.
//   - 2.0.1 stations make their own transaction ids; a session is keyed by the station and
//     its transactionId, and is created by whichever event arrives first.
//   - A session ends only by its stop (1.6 StopTransaction, 2.0.1 Ended): a station that
//     disconnects and reconnects keeps its sessions ACTIVE.
//
// Derived figures are computed when read, so that a running session's are current:
// duration_s runs from start to end (or now), charging_s counts the time whose charging
// state was charging (before the first state is known, a session counts as charging: 1.6
// starts a transaction when energy may flow), idle_s is the rest, and energy_kwh is
// meter_stop (or the newest energy sample) minus meter_start.
package sessions
