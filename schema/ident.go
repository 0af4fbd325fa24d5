package schema

import (
	"errors"
	"fmt"
	"strings"
)

// MaxChargeStationIDLen is the longest charge_station_id, in bytes (all
// characters are ASCII).
const MaxChargeStationIDLen = 48

// ValidChargeStationID reports whether s can be a charge station's OCPP
// identity: 1 to 48 printable ASCII characters (0x21–0x7E, so no spaces or
// control characters) without ':', '/', '?' or '#'. The identity is the last
// path segment of the OCPP URL and the Basic-auth user name, which is why
// those four characters are excluded.
func ValidChargeStationID(s string) bool {
	if len(s) == 0 || len(s) > MaxChargeStationIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7E || c == ':' || c == '/' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// pathSafe marks the characters a URL path segment carries as they are (RFC 3986 pchar
// without percent-encoding): letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @.
var pathSafe = func() (t [128]bool) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = true
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-._~!$&'()*+,;=:@" {
		t[c] = true
	}
	return t
}()

// ValidPathID reports whether s can be an id that appears in URL paths (a location's id, a
// template's template_id): 1 to max characters that a path segment carries as they are (see
// pathSafe). An id with '/' (or '?', '#', '%', a space …) could be stored but never read
// back by its URL.
func ValidPathID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 128 || !pathSafe[s[i]] {
			return false
		}
	}
	return true
}

// ValidPartyID reports whether s is an OCPI party_id as evroam stores it:
// exactly 3 upper-case ASCII letters or digits, e.g. "EVR".
func ValidPartyID(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isUpperAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isUpperAlnum(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// upperASCII upper-cases ASCII letters only, so that non-ASCII input is never
// turned into ASCII (strings.ToUpper maps 'ſ' to 'S').
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// EVSEID is an eMI3 EVSE ID (the OCPI EVSE evse_id), split into its parts.
// The parts are upper case: EVSE IDs are case-insensitive.
type EVSEID struct {
	CountryCode   string // 2 letters (ISO 3166-1 alpha-2 in practice)
	OperatorID    string // 3 letters or digits: the operator (CPO) ID
	PowerOutletID string // 1 to 30 letters, digits or '*', without the leading 'E'
}

// MaxPowerOutletIDLen is the longest power outlet ID of an EVSE ID (the part
// after the 'E').
const MaxPowerOutletIDLen = 30

// ErrInvalidEVSEID is returned (wrapped) by ParseEVSEID.
var ErrInvalidEVSEID = errors.New("invalid EVSE ID")

// ParseEVSEID parses an eMI3 EVSE ID in the syntax of eMI3 V1.0 Part 2 and
// ISO 15118-2, which OCPI refers to:
//
//	<country 2 letters> [*] <operator 3 alnum> [*] E <power outlet 1–30 of alnum or *>
//
// such as "NL*EVR*E12345*1" or "NLEVRE12345"; each separator is optional.
// Matching is case-insensitive and the result is upper case. The country
// part must be letters but is not checked against ISO 3166, and the phone
// number style DIN SPEC 91286 IDs ("+49*810*000*438") are not accepted:
// OCPI 2.2.1 asks for eMI3.
func ParseEVSEID(s string) (EVSEID, error) {
	fail := func(why string) (EVSEID, error) {
		return EVSEID{}, fmt.Errorf("%w %q: %s", ErrInvalidEVSEID, s, why)
	}
	u := upperASCII(s)
	if len(u) < 2 || !isUpper(u[0]) || !isUpper(u[1]) {
		return fail("must start with a 2-letter country code")
	}
	id := EVSEID{CountryCode: u[:2]}
	rest := strings.TrimPrefix(u[2:], "*")
	if len(rest) < 3 || !isUpperAlnum(rest[0]) || !isUpperAlnum(rest[1]) || !isUpperAlnum(rest[2]) {
		return fail("country code must be followed by a 3-character operator ID")
	}
	id.OperatorID = rest[:3]
	rest = strings.TrimPrefix(rest[3:], "*")
	if len(rest) == 0 || rest[0] != 'E' {
		return fail(`operator ID must be followed by "E" and the power outlet ID`)
	}
	outlet := rest[1:]
	if len(outlet) == 0 || len(outlet) > MaxPowerOutletIDLen {
		return fail(fmt.Sprintf("power outlet ID must have 1 to %d characters", MaxPowerOutletIDLen))
	}
	for i := 0; i < len(outlet); i++ {
		if !isUpperAlnum(outlet[i]) && outlet[i] != '*' {
			return fail("power outlet ID may only contain letters, digits and '*'")
		}
	}
	id.PowerOutletID = outlet
	return id, nil
}

// EVSEIDKey is the form in which two EVSE IDs are compared: upper case, without the '*'
// separators, which eMI3 makes optional ("NL*EVR*E12345*1" and "nlevre123451" are one ID).
// Migration 0021's constraint on evses compares the same key, computed in SQL.
func EVSEIDKey(s string) string { return strings.ReplaceAll(upperASCII(s), "*", "") }

// ValidEVSEID reports whether ParseEVSEID accepts s.
func ValidEVSEID(s string) bool {
	_, err := ParseEVSEID(s)
	return err == nil
}

// String returns the ID in its separated form, "NL*EVR*E12345*1".
func (id EVSEID) String() string {
	return id.CountryCode + "*" + id.OperatorID + "*E" + id.PowerOutletID
}
