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
// Two logs grow with the traffic: the message log (every frame, heartbeats too) and the
// status log (every status report and connectivity change: at 5,000 reports a second,
// 400 million rows a day). Each is kept to a retention (RunRetention;
// EVROAM_MESSAGE_LOG_RETENTION, EVROAM_STATUS_LOG_RETENTION): rows are deleted oldest first
// by id, in chunks of short transactions, through the primary key (no index on time: ids
// grow in the order rows are logged). The other logs (firmware, data transfers,
// certificates) have no retention yet: they grow with rare events (an upload, a firmware
// update), not with the traffic.
package stationlogs
