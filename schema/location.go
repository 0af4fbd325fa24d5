package schema

import (
	"regexp"
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // embed the IANA database so ValidTimeZone answers the same on every host
)

// Capability is an OCPI 2.2.1 Capability of an EVSE.
type Capability string

// The OCPI 2.2.1 Capability values.
const (
	CapabilityChargingProfileCapable        Capability = "CHARGING_PROFILE_CAPABLE"
	CapabilityChargingPreferencesCapable    Capability = "CHARGING_PREFERENCES_CAPABLE"
	CapabilityChipCardSupport               Capability = "CHIP_CARD_SUPPORT"
	CapabilityContactlessCardSupport        Capability = "CONTACTLESS_CARD_SUPPORT"
	CapabilityCreditCardPayable             Capability = "CREDIT_CARD_PAYABLE"
	CapabilityDebitCardPayable              Capability = "DEBIT_CARD_PAYABLE"
	CapabilityPEDTerminal                   Capability = "PED_TERMINAL"
	CapabilityRemoteStartStopCapable        Capability = "REMOTE_START_STOP_CAPABLE"
	CapabilityReservable                    Capability = "RESERVABLE"
	CapabilityRFIDReader                    Capability = "RFID_READER"
	CapabilityStartSessionConnectorRequired Capability = "START_SESSION_CONNECTOR_REQUIRED"
	CapabilityTokenGroupCapable             Capability = "TOKEN_GROUP_CAPABLE"
	CapabilityUnlockCapable                 Capability = "UNLOCK_CAPABLE"
)

var capabilities = []Capability{
	CapabilityChargingProfileCapable, CapabilityChargingPreferencesCapable, CapabilityChipCardSupport,
	CapabilityContactlessCardSupport, CapabilityCreditCardPayable, CapabilityDebitCardPayable,
	CapabilityPEDTerminal, CapabilityRemoteStartStopCapable, CapabilityReservable, CapabilityRFIDReader,
	CapabilityStartSessionConnectorRequired, CapabilityTokenGroupCapable, CapabilityUnlockCapable,
}

// Capabilities returns all OCPI 2.2.1 Capability values in specification order.
func Capabilities() []Capability { return slices.Clone(capabilities) }

// Valid reports whether c is an OCPI 2.2.1 Capability value (case-sensitive).
func (c Capability) Valid() bool { return isOneOf(capabilities, c) }

// ParseCapability returns s as a Capability, or an error when it is not one.
func ParseCapability(s string) (Capability, error) { return parseEnum("capability", capabilities, s) }

// ParkingRestriction is an OCPI 2.2.1 ParkingRestriction of an EVSE's parking spot.
type ParkingRestriction string

// The OCPI 2.2.1 ParkingRestriction values.
const (
	ParkingEVOnly      ParkingRestriction = "EV_ONLY"
	ParkingPlugged     ParkingRestriction = "PLUGGED"
	ParkingDisabled    ParkingRestriction = "DISABLED"
	ParkingCustomers   ParkingRestriction = "CUSTOMERS"
	ParkingMotorcycles ParkingRestriction = "MOTORCYCLES"
)

var parkingRestrictions = []ParkingRestriction{ParkingEVOnly, ParkingPlugged, ParkingDisabled, ParkingCustomers, ParkingMotorcycles}

// ParkingRestrictions returns all OCPI 2.2.1 ParkingRestriction values in specification order.
func ParkingRestrictions() []ParkingRestriction { return slices.Clone(parkingRestrictions) }

// Valid reports whether r is an OCPI 2.2.1 ParkingRestriction value (case-sensitive).
func (r ParkingRestriction) Valid() bool { return isOneOf(parkingRestrictions, r) }

// ParseParkingRestriction returns s as a ParkingRestriction, or an error when it is not one.
func ParseParkingRestriction(s string) (ParkingRestriction, error) {
	return parseEnum("parking restriction", parkingRestrictions, s)
}

// ParkingType is the OCPI 2.2.1 ParkingType of a location.
type ParkingType string

// The OCPI 2.2.1 ParkingType values.
const (
	ParkingTypeAlongMotorway     ParkingType = "ALONG_MOTORWAY"
	ParkingTypeParkingGarage     ParkingType = "PARKING_GARAGE"
	ParkingTypeParkingLot        ParkingType = "PARKING_LOT"
	ParkingTypeOnDriveway        ParkingType = "ON_DRIVEWAY"
	ParkingTypeOnStreet          ParkingType = "ON_STREET"
	ParkingTypeUndergroundGarage ParkingType = "UNDERGROUND_GARAGE"
)

var parkingTypes = []ParkingType{
	ParkingTypeAlongMotorway, ParkingTypeParkingGarage, ParkingTypeParkingLot,
	ParkingTypeOnDriveway, ParkingTypeOnStreet, ParkingTypeUndergroundGarage,
}

// ParkingTypes returns all OCPI 2.2.1 ParkingType values in specification order.
func ParkingTypes() []ParkingType { return slices.Clone(parkingTypes) }

// Valid reports whether t is an OCPI 2.2.1 ParkingType value (case-sensitive).
func (t ParkingType) Valid() bool { return isOneOf(parkingTypes, t) }

// ParseParkingType returns s as a ParkingType, or an error when it is not one.
func ParseParkingType(s string) (ParkingType, error) {
	return parseEnum("parking type", parkingTypes, s)
}

// Facility is an OCPI 2.2.1 Facility at or near a location.
type Facility string

// The OCPI 2.2.1 Facility values.
const (
	FacilityHotel          Facility = "HOTEL"
	FacilityRestaurant     Facility = "RESTAURANT"
	FacilityCafe           Facility = "CAFE"
	FacilityMall           Facility = "MALL"
	FacilitySupermarket    Facility = "SUPERMARKET"
	FacilitySport          Facility = "SPORT"
	FacilityRecreationArea Facility = "RECREATION_AREA"
	FacilityNature         Facility = "NATURE"
	FacilityMuseum         Facility = "MUSEUM"
	FacilityBikeSharing    Facility = "BIKE_SHARING"
	FacilityBusStop        Facility = "BUS_STOP"
	FacilityTaxiStand      Facility = "TAXI_STAND"
	FacilityTramStop       Facility = "TRAM_STOP"
	FacilityMetroStation   Facility = "METRO_STATION"
	FacilityTrainStation   Facility = "TRAIN_STATION"
	FacilityAirport        Facility = "AIRPORT"
	FacilityParkingLot     Facility = "PARKING_LOT"
	FacilityCarpoolParking Facility = "CARPOOL_PARKING"
	FacilityFuelStation    Facility = "FUEL_STATION"
	FacilityWifi           Facility = "WIFI"
)

var facilities = []Facility{
	FacilityHotel, FacilityRestaurant, FacilityCafe, FacilityMall, FacilitySupermarket, FacilitySport,
	FacilityRecreationArea, FacilityNature, FacilityMuseum, FacilityBikeSharing, FacilityBusStop,
	FacilityTaxiStand, FacilityTramStop, FacilityMetroStation, FacilityTrainStation, FacilityAirport,
	FacilityParkingLot, FacilityCarpoolParking, FacilityFuelStation, FacilityWifi,
}

// Facilities returns all OCPI 2.2.1 Facility values in specification order.
func Facilities() []Facility { return slices.Clone(facilities) }

// Valid reports whether f is an OCPI 2.2.1 Facility value (case-sensitive).
func (f Facility) Valid() bool { return isOneOf(facilities, f) }

// ParseFacility returns s as a Facility, or an error when it is not one.
func ParseFacility(s string) (Facility, error) { return parseEnum("facility", facilities, s) }

// OCPI GeoLocation patterns, anchored (the OpenAPI patterns are not).
var (
	latitudeRE  = regexp.MustCompile(`^-?[0-9]{1,2}\.[0-9]{5,7}$`)
	longitudeRE = regexp.MustCompile(`^-?[0-9]{1,3}\.[0-9]{5,7}$`)
)

// The longest latitude and longitude OCPI 2.2.1's GeoLocation takes (maxLength in the
// official schema). The patterns alone would allow one character more ("-52.1234567" has
// 11), so a negative value with 2 (latitude) or 3 (longitude) integer digits has at most 6
// decimals.
const (
	MaxLatitudeLen  = 10
	MaxLongitudeLen = 11
)

// ValidLatitude reports whether s is an OCPI GeoLocation latitude: a decimal
// string with 1–2 integer digits and 5–7 decimals (-?[0-9]{1,2}\.[0-9]{5,7}),
// at most 10 characters, between -90 and 90 inclusive.
func ValidLatitude(s string) bool { return validCoordinate(latitudeRE, s, MaxLatitudeLen, 90) }

// ValidLongitude reports whether s is an OCPI GeoLocation longitude: a decimal
// string with 1–3 integer digits and 5–7 decimals (-?[0-9]{1,3}\.[0-9]{5,7}),
// at most 11 characters, between -180 and 180 inclusive.
func ValidLongitude(s string) bool { return validCoordinate(longitudeRE, s, MaxLongitudeLen, 180) }

func validCoordinate(re *regexp.Regexp, s string, maxLen int, limit float64) bool {
	if len(s) > maxLen || !re.MatchString(s) {
		return false
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f >= -limit && f <= limit
}

// ValidTimeZone reports whether s is an IANA time zone name such as
// "Europe/Amsterdam" (or "UTC"). "" and "Local" are rejected: both load in Go
// but name no zone. The IANA database is embedded (time/tzdata), so the
// answer does not depend on the host's zoneinfo files.
func ValidTimeZone(s string) bool {
	if s == "" || s == "Local" || len(s) > 255 {
		return false
	}
	_, err := time.LoadLocation(s)
	return err == nil
}
