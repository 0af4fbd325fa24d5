// Package stationlogs keeps what charge stations report over OCPP, apart from the registry
// fields the charge-station package owns: the message log (every frame in and out, redacted),
// the status log (every StatusNotification with its OCPI and friendly status), the
// configuration last read from each station, and data transfers. (Transactions and meter
// values are package sessions'.) It serves the read-only endpoints
// /api/v1/chargestations/{id}/messages, /status-log and /configuration.
//
// Writes come from the OCPP gateway in batches (AppendMessages takes many frames of many
// stations in one INSERT … SELECT FROM unnest), so the hot path never pays a database round
// trip per frame.
//
// The message log is the one log that grows with time alone: every frame is logged,
// heartbeats too. It is kept to a retention (RunMessageRetention, EVROAM_MESSAGE_LOG_RETENTION):
// frames are deleted oldest first by id, in chunks of short transactions, through the primary
// key (no index on time: ids grow in the order frames are logged). The other logs (statuses,
// firmware, data transfers, certificates) have no retention yet: they grow with what stations
// do (a status change, an upload), not with every heartbeat.
package stationlogs
