// Package evse owns the EVSEs of charge stations and their connectors: how clients write them
// (validation with every bad field named), how responses show them (Response, also inside a
// location), how they are stored, and GET/PUT/PATCH
// /api/v1/chargestations/{charge_station_id}/evses/{uid}. Service changes one EVSE under its
// station's row lock; the charge-station package replaces a station's whole EVSE set through
// Store.Replace inside its own transaction. This package reaches a station's visibility (its
// network) and etag through SQL only and never imports the charge-station package.
//
// Live status: the stored status and ocpp_status are what the station last reported; what the
// API shows (EVSE.LiveStatus) adds friendly_status, refined for 2.0.1 by the running
// transaction's charging state (SetTransactionState), and reads UNKNOWN / Offline while the
// station is offline (every read marks StationOffline), without writing anything when a
// station disconnects, so the reported statuses return as soon as it is connected again.
package evse
