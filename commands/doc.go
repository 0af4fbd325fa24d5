// Package commands serves the charger commands of the REST API (contract §6):
// /api/v1/chargers/{chargeBoxId}/reset, unlock, cache/clear, trigger, availability,
// configuration/get, configuration/change, firmware/update, diagnostics, data-transfer
// (POST sends one, GET lists the history), password (rotation), certificates (POST
// installs, GET lists, DELETE removes; a command's method field, the request of a GET or
// DELETE is its query string), start and stop (remote start and stop), and reserve and
// cancel-reservation (ReserveNow / CancelReservation; an accepted reservation is recorded
// through Deps.Reservations, so that its EVSE reads RESERVED). The same entries serve other
// parts of evroam without HTTP (remote.go: RemoteStart, RemoteStop, Unlock, Reserve,
// CancelReservation), which the OCPI Commands module uses through cmd/evroam. Bodies and
// answers are plain JSON objects, not
// the registry envelope, exactly as the charger-command API documents them; errors use the
// registry's error envelope.
//
// Every command is one OCPP CALL, built for the protocol the station speaks: OCPP 1.6
// actions for 1.6 stations and their 2.0.1 counterparts for 2.0.1 stations (Reset with
// Immediate/OnIdle, UnlockConnector with evseId/connectorId, ChangeAvailability with
// operationalStatus/evse, GetVariables/SetVariables with the 1.6→2.0.1 key mapping,
// UpdateFirmware, GetLog, DataTransfer, RequestStartTransaction/RequestStopTransaction for
// 1.6 RemoteStartTransaction/RemoteStopTransaction), and the answer keeps one shape for both. The CALL
// goes through a Gateway: a cluster.Node forwards it to the node that holds the station's
// WebSocket, whose ocpp.Server sends it and logs both frames in the message log.
//
// The station's own answer (Accepted, Rejected, RebootRequired, NotSupported, …) is an
// HTTP 200. Failing to get one is an error: unknown or invisible station 404, not connected
// 409, invalid body 422 (every bad field named), no answer within Config.Timeout 504,
// CALLERROR 502 with the station's code and description.
//
// # The command table
//
// Every command is one entry of table (table.go), a command[Req, Ans, Res]:
//
//   - path: where it is served, POST /chargers/{chargeBoxId}/{path};
//   - Req: the request body, with validator tags, and a check(proto) method for rules
//     that depend on the station's protocol version (optional, see checker);
//   - ocpp16 and ocpp201: how a request becomes the CALL for each version, an
//     outgoing[Ans] made with send (the answer decodes straight into Ans), sendAs (the
//     version's own answer shape, converted into Ans) or answered (nothing to ask: no
//     CALL). Payloads are structs with json tags, omitempty where OCPP makes the field
//     optional; shapes shared with the gateway (status answers, Get/SetVariables, the
//     device model) come from package ocpp, and so do times (ocpp.FormatTime), secret keys
//     (ocpp.IsSecretKey) and the 1.6→2.0.1 key mapping (ocpp.VariableForKey);
//   - Ans: the answer as the command sees it, one type for both versions;
//   - respond: how the answer becomes the HTTP 200 body. The API's wording (messages,
//     lower-case statuses) lives here, with the entry, not in package ocpp.
//
// One runner, command.serve, does for every entry what each command needs: bind the body
// (absent or empty = {}), find the station (404), run the checks so that one 422 names
// every bad field, send the CALL through the Gateway within Config.Timeout, map failures
// (commandError: 409, 504, 502, 422; an answer the entry cannot decode: 502), decode the
// answer and write the response. The GET data-transfer history is a plain read, not a
// command, and has its own handler. The password rotation (password.go) is the one table
// entry with its own endpoint type: it changes what evroam keeps before and after its CALL
// (Passwords), which a command entry never does. firmware/update and diagnostics
// have one too (updateFirmwareEndpoint, diagnosticsEndpoint): with a firmwareId, or without
// a location, they first ask Files for a signed URL of evroam's file store, then run the
// command entry.
//
// Adding a command (remote start and stop are next):
//
//  1. In a file of its group (operations.go, configuration.go, firmware.go,
//     datatransfer.go, or a new one such as transactions.go), declare the request type
//     with validator tags and, if some rule depends on the protocol, its check method; the
//     response type; and the payload type of each version's CALL (e.g. remoteStart16 for
//     RemoteStartTransaction, requestStart201 for RequestStartTransaction), plus the
//     version's answer type when it is not ocpp.StatusResponse.
//  2. Next to them, declare the entry: var xCommand = command[xRequest, Ans, xResponse]{
//     path, ocpp16, ocpp201, respond }, with its messages beside it.
//  3. Add xCommand to table. Routes serves it; no handler code is written.
//  4. Test it in commands_test.go: a case in cases16 and in cases201 (the frame the
//     station must receive and the answer), and the 422 cases in errors_test.go.
//     Document it in cmd/evroam/openapi.json (TestOpenAPIDocumentsEveryRoute fails
//     otherwise) and README.md.
//
// Which stations a key may command, and the protocol they speak, comes from the narrow
// Stations interface, which cmd/evroam implements over the charge-station store; the
// DataTransfer history through DataTransfers, over the store the gateway's
// Registry.RecordDataTransfer writes to.
//
// # Translating for OCPP 2.0.1
//
//   - reset: type Soft/Hard is kept in the answer; the 2.0.1 Reset type is `when`
//     (default Immediate, which like a 1.6 reset ends transactions first), with evseId.
//     1.6 stations cannot reset OnIdle or one EVSE: 422.
//   - unlock: evseId (2.0.1 only) and connectorId; without evseId the connectorId names
//     the EVSE (a 1.6 connectorId is a 2.0.1 evseId) and its connector 1 is unlocked.
//   - trigger, availability: connectorId becomes evse.id (0 = the whole station, no evse);
//     DiagnosticsStatusNotification becomes LogStatusNotification.
//   - configuration/get and /change: 1.6 keys become device-model variables through the
//     OCPP 2.0.1 mapping table (HeartbeatInterval → OCPPCommCtrlr.HeartbeatInterval, …);
//     a key may also be written as Component[instance]@evse/connector.Variable[instance]/type
//     (the form the stored configuration uses). get with no keys asks for every readable
//     mapped 1.6 key; the whole device model is read after each boot anyway (GetBaseReport)
//     and kept in the stored configuration. Stations take at most ItemsPerMessage
//     variables per GetVariables, some only a few: a get of more than one variable first
//     asks DeviceDataCtrlr.ItemsPerMessage[GetVariables] and then asks in batches (the
//     only command of more than one CALL: outgoing.run). SetVariables statuses map onto 1.6 ones
//     (Unknown*/NotSupportedAttributeType → NotSupported).
//   - firmware/update: UpdateFirmware with firmware{location, retrieveDateTime} (and
//     signingCertificate and signature of signed firmware uploaded to evroam) and a
//     fresh requestId, returned in the answer; diagnostics: GetLog (DiagnosticsLog) with
//     log{remoteLocation, oldestTimestamp, latestTimestamp} and a requestId.
//   - data-transfer: data is sent as a JSON string to both versions; a 2.0.1 answer's
//     non-string data comes back as its JSON text.
//   - reserve: connectorId and evseId both name the EVSE (give exactly one); 1.6 ReserveNow
//     gets connectorId, idTag, parentIdTag, expiryDate and the reservationId, 2.0.1 ReserveNow
//     id, evseId, expiryDateTime, idToken (type idTokenType, default Central) and the
//     parentIdTag as groupIdToken. cancel-reservation is CancelReservation{reservationId} in
//     both.
//   - start: connectorId and evseId both name the EVSE (give one or neither); 2.0.1 gets
//     the idTag as a Central idToken and a fresh remoteStartId, returned in the answer with
//     the transactionId a station may give. stop: transactionId as a number or a string
//     (a 1.6 id must be a whole number).
//
// Statuses in the answers follow the documented API: lower snake case for reset,
// unlock, cache/clear, trigger, availability, firmware/update, diagnostics, start and stop ("accepted",
// "unlock_failed", "not_implemented"); the OCPP spelling for configuration/change and
// data-transfer ("Accepted", "RebootRequired", "UnknownVendorId").
//
// # Wiring (cmd/evroam)
//
//	node, err := cluster.Start(ctx, cluster.Config{NodeID: cfg.NodeID, DatabaseURL: cfg.DatabaseURL},
//		db, registry, ocppCfg, log)
//	h := commands.NewHandler(commands.Config{Timeout: cfg.CommandTimeout}, commands.Deps{Stations: stations, Gateway: node, …})
//	h.Routes(v1) // v1 = the /api/v1 group behind web.RequireAPIKey
//	// serve node.Server() at /ocpp/; on shutdown node.Close(ctx)
package commands
