// Package simulator simulates OCPP charge stations against evroam's gateway. (Design note
// to follow.)
package simulator
