// Package evse owns the EVSEs of charge stations and their connectors: how clients write them
// (validation with every bad field named), how responses show them, how they are stored, and
// GET/PUT/PATCH /api/v1/chargestations/{charge_station_id}/evses/{uid}. The charge-station
// package creates and replaces a station's EVSE set through Store.Replace inside its own
// transaction; this package reaches a station's visibility (its network) through SQL only and
// never imports the charge-station package.
package evse
