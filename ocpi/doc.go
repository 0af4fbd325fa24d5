// Package ocpi is evroam's OCPI 2.2.1 interface in the CPO role (contract §7): the versions
// and credentials modules with the TOKEN_A → B → C registration handshake in both directions,
// the Locations module as a Sender (pull, under /ocpi/2.2.1/locations) and the push of
// Location and EVSE changes to the Locations receivers of registered partners, and the
// Tariffs module as a Sender (pull, /ocpi/2.2.1/tariffs) with the push of every tariff change
// (PUT) and deletion (DELETE) to the Tariffs receivers; and the Commands module as a
// Receiver (Commands, POST /ocpi/2.2.1/commands/{command}): an immediate CommandResponse, the
// command carried out at the station through StationCommands (which cmd/evroam fills with the
// charger commands, since this package may not import them), and the CommandResult POSTed to
// the command's response_url, retried a few times, TIMEOUT when the station does not answer.
//
// It owns the tables ocpi_partners, ocpi_network_scope, ocpi_locations, ocpi_evses,
// ocpi_deliveries, ocpi_pending and ocpi_commits (migrations 0003 and 0012). It is a read
// model of the registry: it reads the locations, networks, charge stations, EVSEs and tariffs
// tables but never writes them, and the registry packages do not know it exists.
//
// Tariffs need no copies: OCPI lets a sender delete a tariff, so partners are shown the
// tariffs table as it is (in creation order, seq), and a row trigger on it queues a PUT or a
// DELETE (under the party the tariff had) for every partner whose scope holds its network; a
// network's new party queues a DELETE under the old party and a PUT under the new one for
// each of its tariffs (migration 0020).
//
// What partners are shown is kept per (party, location): a copy (ocpi_locations, with its
// EVSEs in ocpi_evses). PostgreSQL triggers keep the copies, whichever code path changes the
// registry: statement-level triggers on evses, charge_stations, locations and networks note
// what a statement may have changed (ocpi_pending), and at commit a deferred constraint
// trigger, under one advisory lock held until the commit is done, brings the copies in line
// set-based, stamps what changed with a millisecond time later than every stamp before it
// (so stamps are in commit order) and queues the pushes (ocpi_deliveries). Copies are never
// deleted: a location deleted, moved to another network or left behind by its network's new
// party keeps its copy under the old party, retired, its EVSEs REMOVED. Pusher sends the
// queued pushes, under the parties our credentials named to the partner, updating those
// credentials first when the partner's scope gains a party.
//
// A partner belongs to the network of the API key that created it and sees, pulls and is
// pushed that network and the networks below it (ocpi_network_scope). Partners are managed
// through the admin REST endpoints /api/v1/ocpi/partners.
//
// Roaming (migration 0027): the Tokens module as a RECEIVER (a partner's tokens, stored by
// package tokens as RoamingTokens of the partner, and pulled from its Tokens SENDER by the
// Pusher after registration and on demand), the Sessions and CDRs modules as SENDERs. A
// session started with a partner's token becomes that partner's roaming session
// (ocpi_sessions) in the statement that records it, by a trigger on transactions, which also
// queues its pushes; the Pusher sends them (PUT on start and end, PATCHes held back to one
// per station per interval), makes the CDR of each completed one (priced here, with the OCPI
// tariff rules: see price) and POSTs the CDRs of a partner in order. Authorizer answers the
// gateway for every id token: a network's own and whitelisted roaming tokens from
// tokens.Authorizer's per-node cache, ALLOWED_OFFLINE and NEVER tokens by a real-time
// authorisation at the partner, whose reference (ocpi_authorizations) the session takes.
// Sessions and CDRs are shown to their partner only, never to its scope's other partners.
package ocpi
