// Package commands serves the charger commands of the REST API (contract §6):
// /api/v1/chargers/{chargeBoxId}/reset, unlock, cache/clear, trigger, availability,
// configuration/get, configuration/change, firmware/update, diagnostics and data-transfer
// (POST sends one, GET lists the history). Bodies and answers are plain JSON objects, not
// the registry envelope, exactly as the charger-command API documents them; errors use the
// registry's error envelope.
//
// Every command is one OCPP CALL, built for the protocol the station speaks: OCPP 1.6
// actions for 1.6 stations and their 2.0.1 counterparts for 2.0.1 stations (Reset with
// Immediate/OnIdle, UnlockConnector with evseId/connectorId, ChangeAvailability with
// operationalStatus/evse, GetVariables/SetVariables with the 1.6→2.0.1 key mapping,
// UpdateFirmware, GetLog, DataTransfer), and the answer keeps one shape for both. The CALL
// goes through a Gateway: a cluster.Node forwards it to the node that holds the station's
// WebSocket, whose ocpp.Server sends it and logs both frames in the message log.
//
// The station's own answer (Accepted, Rejected, RebootRequired, NotSupported, …) is an
// HTTP 200. Failing to get one is an error: unknown or invisible station 404, not connected
// 409, invalid body 422 (every bad field named), no answer within Config.Timeout 504,
// CALLERROR 502 with the station's code and description.
//
// Which stations a key may command, and the protocol they speak, comes from the narrow
// Stations interface, which cmd/evroam implements over the charge-station store. Store
// keeps the DataTransfer history (table data_transfers), fed by the gateway's registry.
package commands
