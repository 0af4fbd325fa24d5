// Package reservations keeps the reservations of EVSEs (issue 14): an EVSE kept for one token
// until an expiry. A reservation is made by a charger command (POST
// /api/v1/chargers/{id}/reserve) or an OCPI partner's RESERVE_NOW, both of which send OCPP
// ReserveNow to the station; it is recorded once the station accepted it, and ends by a
// cancellation the station accepted (CancelReservation), by its expiry, or by a session that
// starts on its EVSE with its token.
//
// It owns the table reservations (migration 0028). While a reservation is ACTIVE and not
// expired, its EVSE reads RESERVED in the REST API and in OCPI Locations: a row trigger on
// evses turns an AVAILABLE into RESERVED whichever code path writes the EVSE (a station that
// reports Available, or never reports Reserved, cannot free it early), and a statement
// trigger on transactions marks the reservation USED when its token starts a session there.
// Recording a reservation marks an AVAILABLE EVSE RESERVED at once, and ending one (Cancel,
// Expire) frees its EVSE when nothing else holds it, so that an expiry the station never
// reports still ends the RESERVED status (Expire is run periodically by cmd/evroam).
//
// Reservations change the evses table outside chargestations.Service, so the Service tells
// the station answer cache after each commit (its changed hook).
package reservations
