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
package stationlogs
