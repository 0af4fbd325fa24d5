// Package ocpi is evroam's OCPI 2.2.1 interface in the CPO role (contract §7): the versions
// and credentials modules with the TOKEN_A → B → C registration handshake in both directions,
// the Locations module as a Sender (pull, under /ocpi/2.2.1/locations) and the push of
// Location and EVSE changes to the Locations receivers of registered partners.
//
// It owns the tables ocpi_partners, ocpi_published_evses and ocpi_deliveries (migration
// 0003). It is a read model of the registry: it reads the locations, networks, charge
// stations and EVSEs tables but never writes them, and the registry packages do not know it
// exists. PostgreSQL triggers on the registry tables (migration 0003) keep
// ocpi_published_evses (what partners have been shown, so that an EVSE that stops being
// published can be shown as REMOVED) and queue pushes in ocpi_deliveries in the transaction
// that makes the change, whichever code path makes it. Pusher sends the queued pushes.
//
// Partners are managed through the admin REST endpoints /api/v1/ocpi/partners.
package ocpi
