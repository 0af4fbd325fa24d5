// Package tokens keeps the tokens (RFID cards, app users) each network's stations authorise,
// with the OCPI 2.2.1 Token fields, and decides on the id tokens stations present over OCPP
// (Authorizer).
//
// A token belongs to one network and is seen by the keys that see that network; the same
// uid may be a token of several networks (a roaming card known to two CPOs). Within a
// network a uid is unique: RFID uids compared case-insensitively (readers print the hex of
// a card in either case), other types exactly.
//
// A station's tokens are those of its network. The decision on a presented id token:
// a valid token that has not expired is Accepted, with its group id; valid=false is Blocked;
// a token past its expiry_date is Expired; a token the network does not know is Invalid,
// unless the network's accept_unknown_tokens setting is on (free vend, home chargers).
//
// Deciding must not cost a database round trip per Authorize: the Authorizer keeps, per
// node, the facts it read (a station's network, a network's setting, a token or its absence)
// and forgets them when PostgreSQL notifies a change (channel tokens_changed, migration 0022).
//
// Roaming partners' tokens (RoamingToken, migration 0027) live here too, in the partner's
// network, keyed by partner, party, uid and type as OCPI keys them. They are authorised by
// the stations of the partner's network and of every network below it; a network's own token
// of the same uid wins. A Decision on one carries Roaming, so that package ocpi can apply the
// token's whitelist (and ask the partner in real time). The REST API neither lists nor
// changes them. A change of one notifies every network of the partner's scope.
package tokens
