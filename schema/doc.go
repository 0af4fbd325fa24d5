// Package schema owns evroam's vocabulary: the OCPI 2.2.1 enumerations and
// primitive types, the evroam-specific enumerations of charge stations
// (deploy state, charger type, security profile, …), the internal connector
// names of the charge-station API, the OCPP → OCPI and OCPP → friendly status
// mappings, the rules that decide whether a connector can exist, and the
// validator tags that bind all of these to request structs.
//
// Every enumeration is a string type with exported constants, a Valid method,
// a Parse function and a function that returns all values in specification
// order. Enumeration values are case-sensitive, as in OCPI.
//
// The package imports nothing of ours; feature packages (locations,
// templates, chargestations, ocpp) import it. Call RegisterValidations once on
// the validator that binds requests (gin's engine in main, a fresh
// validator.New in tests); the package never registers anything from init.
package schema
