// Package tariffs owns the tariffs of a network: OCPI 2.2.1 Tariff objects (currency, type,
// alternative text and URL, minimum and maximum price, elements of price components with their
// restrictions, validity window, energy mix) that connectors' tariff_ids and stations'
// default_charge_station_tariff_id refer to, and that the OCPI Tariffs module publishes.
// Store knows the SQL, Service the rules and transactions (writes under a row lock; a tariff
// still referenced is not deleted), Handler serves /api/v1/tariffs.
package tariffs
