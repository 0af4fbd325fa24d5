// Package chargestations owns charge stations: the station record (writable fields, the
// read-only fields that the OCPP gateway fills, the hashed OCPP password), its EVSE set
// (created by hand or copied from a hardware template, stored through package evse in the
// same transaction), the etag rules of PUT and PATCH, the sync list, and /api/v1/chargestations.
// Its Store also has the few writes that record what a station reports (RecordBoot,
// RecordConnect, …; package stationreports decides when), which never change the etag, and
// tells package locations which stations stand at a location (IDsAtLocation).
//
// A station's status is the aggregate of its EVSEs' live statuses (ChargeStation.Status,
// schema.AggregateStatus): how usable it is, so a faulted EVSE beside a working one does not
// show there. has_fault does: a column the EVSE triggers keep (migration 0022), which the
// list filter has_fault=true reads through a partial index.
package chargestations
