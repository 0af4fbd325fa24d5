package schema

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
)

// The validator tags that RegisterValidations adds.
const (
	TagConnectorStandard  = "ocpi_connector_standard"
	TagConnectorFormat    = "ocpi_connector_format"
	TagPowerType          = "ocpi_power_type"
	TagStatus             = "ocpi_status"
	TagCapability         = "ocpi_capability"
	TagParkingRestriction = "ocpi_parking_restriction"
	TagParkingType        = "ocpi_parking_type"
	TagFacility           = "ocpi_facility"
	TagConnectorInternal  = "connector_internal"
	TagDeployState        = "deploy_state"
	TagChargerType        = "charger_type"
	TagContactlessType    = "contactless_type"
	TagSecurityProfile    = "security_profile"
	TagCountryAlpha2      = "country_alpha2"
	TagCountryAlpha3      = "country_alpha3"
	TagPartyID            = "party_id"
	TagLatitude           = "ocpi_latitude"
	TagLongitude          = "ocpi_longitude"
	TagTimeZone           = "time_zone"
	TagChargeStationID    = "charge_station_id"
	TagEVSEID             = "evse_id"
	// TagPathID takes the id's maximum length as its param: path_id=36.
	TagPathID = "path_id"
)

// stringRule turns a check on strings into a validator.Func. Named string
// types (ConnectorStandard, …) have Kind String, and the validator
// dereferences pointers before calling, so one function covers string,
// *string, ConnectorStandard and *ConnectorStandard fields. Any other kind
// fails validation rather than panicking.
func stringRule(valid func(string) bool) validator.Func {
	return func(fl validator.FieldLevel) bool {
		f := fl.Field()
		return f.Kind() == reflect.String && valid(f.String())
	}
}

func enumRule[T ~string](all []T) validator.Func {
	return stringRule(func(s string) bool { return isOneOf(all, T(s)) })
}

// securityProfileRule accepts any integer kind (int, SecurityProfile, *int, …)
// holding 0 to 3.
func securityProfileRule(fl validator.FieldLevel) bool {
	f := fl.Field()
	switch f.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return f.Int() >= int64(SecurityProfileNone) && f.Int() <= int64(SecurityProfileTLSClientCert)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return f.Uint() <= uint64(SecurityProfileTLSClientCert)
	}
	return false
}

// rules maps each tag to its check. The messages are in tagMessages.
var rules = map[string]validator.Func{
	TagConnectorStandard:  enumRule(connectorStandards),
	TagConnectorFormat:    enumRule(connectorFormats),
	TagPowerType:          enumRule(powerTypes),
	TagStatus:             enumRule(statuses),
	TagCapability:         enumRule(capabilities),
	TagParkingRestriction: enumRule(parkingRestrictions),
	TagParkingType:        enumRule(parkingTypes),
	TagFacility:           enumRule(facilities),
	TagConnectorInternal:  enumRule(InternalConnectors()),
	TagDeployState:        enumRule(deployStates),
	TagChargerType:        enumRule(chargerTypes),
	TagContactlessType:    enumRule(contactlessTypes),
	TagSecurityProfile:    securityProfileRule,
	TagCountryAlpha2:      stringRule(ValidCountryAlpha2),
	TagCountryAlpha3:      stringRule(ValidCountryAlpha3),
	TagPartyID:            stringRule(ValidPartyID),
	TagLatitude:           stringRule(ValidLatitude),
	TagLongitude:          stringRule(ValidLongitude),
	TagTimeZone:           stringRule(ValidTimeZone),
	TagChargeStationID:    stringRule(ValidChargeStationID),
	TagEVSEID:             stringRule(ValidEVSEID),
	TagPathID:             pathIDRule,
}

// pathIDRule is ValidPathID with the tag's param as the maximum length.
func pathIDRule(fl validator.FieldLevel) bool {
	max, err := strconv.Atoi(fl.Param())
	f := fl.Field()
	return err == nil && f.Kind() == reflect.String && ValidPathID(f.String(), max)
}

// Tags returns the names of the tags RegisterValidations adds, sorted.
func Tags() []string {
	tags := make([]string, 0, len(rules))
	for t := range rules {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags
}

// RegisterValidations adds evroam's tags (see the Tag constants) to v. Call
// it once at start-up on the validator that binds requests: in main on
// gin's binding.Validator.Engine().(*validator.Validate), in tests on
// validator.New(validator.WithRequiredStructEnabled()).
//
// Each string tag works on string and named string fields, on pointers to
// them, and on slice and map elements with dive. security_profile works on
// any integer field. Empty strings are invalid for every tag: mark optional
// fields omitempty. On a pointer, omitempty skips only nil, so a client that
// sends "" for an optional *string field gets an error.
func RegisterValidations(v *validator.Validate) error {
	for _, tag := range Tags() {
		if err := v.RegisterValidation(tag, rules[tag]); err != nil {
			return fmt.Errorf("register validation %s: %w", tag, err)
		}
	}
	return nil
}

// tagMessages holds a message per tag; "%s" is replaced by the tag's param.
var tagMessages = map[string]string{
	TagConnectorStandard:  "must be one of the 40 OCPI 2.2.1 ConnectorType values, case-sensitive (e.g. IEC_62196_T2, IEC_62196_T2_COMBO, CHADEMO)",
	TagConnectorFormat:    "must be SOCKET or CABLE (case-sensitive)",
	TagPowerType:          "must be one of " + joinValues(powerTypes) + " (case-sensitive)",
	TagStatus:             "must be one of the OCPI 2.2.1 Status values: " + joinValues(statuses) + " (case-sensitive)",
	TagCapability:         "must be one of the OCPI 2.2.1 Capability values: " + joinValues(capabilities) + " (case-sensitive)",
	TagParkingRestriction: "must be one of the OCPI 2.2.1 ParkingRestriction values: " + joinValues(parkingRestrictions) + " (case-sensitive)",
	TagParkingType:        "must be one of the OCPI 2.2.1 ParkingType values: " + joinValues(parkingTypes) + " (case-sensitive)",
	TagFacility:           "must be one of the OCPI 2.2.1 Facility values, case-sensitive (e.g. HOTEL, PARKING_LOT, WIFI)",
	TagConnectorInternal:  "must be one of the internal connector names: " + joinValues(InternalConnectors()) + " (case-sensitive)",
	TagDeployState:        "must be one of " + joinValues(deployStates) + " (case-sensitive)",
	TagChargerType:        "must be one of " + joinValues(chargerTypes) + " (case-sensitive)",
	TagContactlessType:    "must be one of " + joinValues(contactlessTypes) + " (case-sensitive)",
	TagSecurityProfile:    "must be a security profile from 0 to 3 (0 none, 1 Basic auth, 2 TLS with Basic auth, 3 TLS client certificate)",
	TagCountryAlpha2:      "must be an ISO 3166-1 alpha-2 country code in upper case (e.g. NL)",
	TagCountryAlpha3:      "must be an ISO 3166-1 alpha-3 country code in upper case (e.g. NLD)",
	TagPartyID:            "must be exactly 3 upper-case letters or digits (e.g. EVR)",
	TagLatitude:           "must be a latitude between -90 and 90 as a string with 5 to 7 decimals and at most 10 characters (e.g. \"52.37403\"; \"-52.123456\", not \"-52.1234567\")",
	TagLongitude:          "must be a longitude between -180 and 180 as a string with 5 to 7 decimals and at most 11 characters (e.g. \"4.88969\"; \"-123.123456\", not \"-123.1234567\")",
	TagTimeZone:           "must be an IANA time zone name (e.g. Europe/Amsterdam)",
	TagChargeStationID:    "must be 1 to 48 printable ASCII characters without spaces, ':', '/', '?' or '#'",
	TagPathID:             "must be 1 to %s characters that a URL path carries as they are: letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @",
	TagEVSEID:             "must be an eMI3 EVSE ID such as NL*EVR*E12345*1 or NLEVRE12345",

	// Validator built-ins. Their param meaning depends on the field's kind;
	// Message picks a better wording when it knows the kind.
	"required":             "is required",
	"required_if":          "is required here (%s)",
	"required_unless":      "is required here (unless %s)",
	"required_with":        "is required when %s is given",
	"required_without":     "is required when %s is not given",
	"required_without_all": "is required when none of %s is given",
	"excluded_with":        "must not be given together with %s",
	"excluded_without":     "must not be given without %s",
	"omitempty":            "is invalid",
	"gt":                   "must be greater than %s",
	"gte":                  "must be at least %s",
	"lt":                   "must be less than %s",
	"lte":                  "must be at most %s",
	"min":                  "must be at least %s (characters for text, items for lists)",
	"max":                  "must be at most %s (characters for text, items for lists)",
	"len":                  "must have length %s",
	"eq":                   "must be %s",
	"ne":                   "must not be %s",
	"oneof":                "must be one of: %s",
	"dive":                 "has an invalid element",
	"unique":               "must not contain duplicates",
	"uuid":                 "must be a UUID",
	"uuid4":                "must be a version 4 UUID",
	"url":                  "must be an absolute URL",
	"http_url":             "must be an http or https URL",
	"email":                "must be an e-mail address",
	"boolean":              "must be true or false",
	"numeric":              "must be a number",
	"printascii":           "must contain printable ASCII characters only",
	"ascii":                "must contain ASCII characters only",
	"alphanum":             "must contain letters and digits only",
	"datetime":             "must be a date-time in the layout %s",
	"ip":                   "must be an IP address",
	"hostname_port":        "must be a host:port",
}

// TagMessage returns a readable English message for a failed validator tag,
// to follow the field name ("standard must be …"). param is the tag's
// parameter (e.g. "100" for max=100, "SOCKET CABLE" for oneof). Unknown tags
// get a generic message that names the rule.
func TagMessage(tag, param string) string {
	msg, ok := tagMessages[tag]
	if !ok {
		if param != "" {
			return fmt.Sprintf("is invalid (rule %s=%s)", tag, param)
		}
		return fmt.Sprintf("is invalid (rule %s)", tag)
	}
	if !strings.Contains(msg, "%s") {
		return msg
	}
	if tag == "oneof" {
		param = strings.Join(strings.Fields(param), ", ")
	}
	return fmt.Sprintf(msg, param)
}

// Message returns the message for one validator error. Unlike TagMessage it
// knows the field's kind, so min/max/len read "at most 45 characters" for
// text and "at most 10 items" for lists.
func Message(fe validator.FieldError) string {
	switch fe.Tag() {
	case "min", "max", "len":
		var unit string
		switch fe.Kind() {
		case reflect.String:
			unit = " characters"
		case reflect.Slice, reflect.Array, reflect.Map:
			unit = " items"
		}
		if unit != "" {
			switch fe.Tag() {
			case "min":
				return "must have at least " + fe.Param() + unit
			case "max":
				return "must have at most " + fe.Param() + unit
			default:
				return "must have exactly " + fe.Param() + unit
			}
		}
		if fe.Tag() == "min" {
			return "must be at least " + fe.Param()
		}
		if fe.Tag() == "max" {
			return "must be at most " + fe.Param()
		}
		return "must be " + fe.Param()
	}
	return TagMessage(fe.Tag(), fe.Param())
}
