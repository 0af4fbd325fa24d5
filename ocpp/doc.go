// Package ocpp is the OCPP 1.6J and 2.0.1 WebSocket gateway: charge stations connect to
// it, and it feeds what they report into the registry through the narrow Registry
// interface. It knows nothing about storage (no gin, sqlx or feature packages);
// cmd/evroam implements Registry over the real stores.
package ocpp
