// Package proxy owns the operators of the OCPP proxy: the other back offices (CSMSs) that a
// charge station's connection is forwarded to, each with a role. A Billing operator (at most
// one per station) decides authorisation and may start and stop transactions; a Data &
// Control operator sees everything and may send commands, but not start or stop
// transactions, and evroam stays the authority. It has /api/v1/chargestations/{id}/operators,
// the operators' store (the password the link presents upstream is sealed with AES-GCM under
// a key derived from EVROAM_SECRET_KEY: it must be sent, so it cannot be hashed), the durable
// queue of transaction messages for an operator that is down, and the map of 1.6 transaction
// ids between the station and each party.
//
// The links themselves (outgoing WebSockets, forwarding, message-id mapping, the role rules
// on what an operator may send) are OCPP knowledge and live in package ocpp (proxy.go,
// uplink.go); cmd/evroam's glue hands them this package's Links, Queue and Transactions.
//
// Changes reach the node that holds the station whichever node served the API call: a
// trigger notifies station_operators_changed with the station's id (migration 0029), and
// Listen calls back for each (links follow without a station reconnect).
package proxy
