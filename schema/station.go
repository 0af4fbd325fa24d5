package schema

import "slices"

// DeployState is a charge station's deployment state. Only Production
// stations are published over OCPI.
type DeployState string

// The DeployState values.
const (
	DeployStock      DeployState = "Stock"
	DeployProduction DeployState = "Production"
	DeployDeprecated DeployState = "Deprecated"
)

var deployStates = []DeployState{DeployStock, DeployProduction, DeployDeprecated}

// DeployStates returns all DeployState values.
func DeployStates() []DeployState { return slices.Clone(deployStates) }

// Valid reports whether d is a DeployState value (case-sensitive).
func (d DeployState) Valid() bool { return isOneOf(deployStates, d) }

// ParseDeployState returns s as a DeployState, or an error when it is not one.
func ParseDeployState(s string) (DeployState, error) {
	return parseEnum("deploy state", deployStates, s)
}

// ChargerType says who a charge station is for.
type ChargerType string

// The ChargerType values.
const (
	ChargerPublic   ChargerType = "Public"
	ChargerHome     ChargerType = "Home"
	ChargerBusiness ChargerType = "Business"
)

var chargerTypes = []ChargerType{ChargerPublic, ChargerHome, ChargerBusiness}

// ChargerTypes returns all ChargerType values.
func ChargerTypes() []ChargerType { return slices.Clone(chargerTypes) }

// Valid reports whether c is a ChargerType value (case-sensitive).
func (c ChargerType) Valid() bool { return isOneOf(chargerTypes, c) }

// ParseChargerType returns s as a ChargerType, or an error when it is not one.
func ParseChargerType(s string) (ChargerType, error) {
	return parseEnum("charger type", chargerTypes, s)
}

// ContactlessType is the brand of a station's contactless payment terminal.
type ContactlessType string

// The ContactlessType values.
const (
	ContactlessPayter ContactlessType = "Payter"
	ContactlessNayax  ContactlessType = "Nayax"
)

var contactlessTypes = []ContactlessType{ContactlessPayter, ContactlessNayax}

// ContactlessTypes returns all ContactlessType values.
func ContactlessTypes() []ContactlessType { return slices.Clone(contactlessTypes) }

// Valid reports whether c is a ContactlessType value (case-sensitive).
func (c ContactlessType) Valid() bool { return isOneOf(contactlessTypes, c) }

// ParseContactlessType returns s as a ContactlessType, or an error when it is not one.
func ParseContactlessType(s string) (ContactlessType, error) {
	return parseEnum("contactless type", contactlessTypes, s)
}

// ConnectivityStatus says whether a station is connected to the OCPP gateway.
type ConnectivityStatus string

// The ConnectivityStatus values.
const (
	ConnectivityOnline  ConnectivityStatus = "Online"
	ConnectivityOffline ConnectivityStatus = "Offline"
)

var connectivityStatuses = []ConnectivityStatus{ConnectivityOnline, ConnectivityOffline}

// ConnectivityStatuses returns all ConnectivityStatus values.
func ConnectivityStatuses() []ConnectivityStatus { return slices.Clone(connectivityStatuses) }

// Valid reports whether c is a ConnectivityStatus value (case-sensitive).
func (c ConnectivityStatus) Valid() bool { return isOneOf(connectivityStatuses, c) }

// ProtocolVersion is the OCPP version a station speaks, as shown in the API.
type ProtocolVersion string

// The ProtocolVersion values.
const (
	ProtocolOCPP16  ProtocolVersion = "Ocpp16"
	ProtocolOCPP201 ProtocolVersion = "Ocpp201"
)

var protocolVersions = []ProtocolVersion{ProtocolOCPP16, ProtocolOCPP201}

// ProtocolVersions returns all ProtocolVersion values.
func ProtocolVersions() []ProtocolVersion { return slices.Clone(protocolVersions) }

// Valid reports whether p is a ProtocolVersion value (case-sensitive).
func (p ProtocolVersion) Valid() bool { return isOneOf(protocolVersions, p) }

// OnboardingState says whether a station has completed its first accepted
// BootNotification.
type OnboardingState string

// The OnboardingState values.
const (
	OnboardingPending   OnboardingState = "Pending"
	OnboardingOnboarded OnboardingState = "Onboarded"
)

var onboardingStates = []OnboardingState{OnboardingPending, OnboardingOnboarded}

// OnboardingStates returns all OnboardingState values.
func OnboardingStates() []OnboardingState { return slices.Clone(onboardingStates) }

// Valid reports whether o is an OnboardingState value (case-sensitive).
func (o OnboardingState) Valid() bool { return isOneOf(onboardingStates, o) }

// SecurityProfile is the OCPP security profile a station connects with.
type SecurityProfile int

// The OCPP security profiles.
const (
	// SecurityProfileNone: no authentication (unsecured transport).
	SecurityProfileNone SecurityProfile = 0
	// SecurityProfileBasic: HTTP Basic auth over plain WebSocket.
	SecurityProfileBasic SecurityProfile = 1
	// SecurityProfileTLSBasic: HTTP Basic auth over TLS.
	SecurityProfileTLSBasic SecurityProfile = 2
	// SecurityProfileTLSClientCert: TLS with a client certificate.
	SecurityProfileTLSClientCert SecurityProfile = 3
)

// DefaultSecurityProfile is the profile of a station created without one.
const DefaultSecurityProfile = SecurityProfileBasic

// SecurityProfiles returns all security profiles, 0 to 3.
func SecurityProfiles() []SecurityProfile {
	return []SecurityProfile{SecurityProfileNone, SecurityProfileBasic, SecurityProfileTLSBasic, SecurityProfileTLSClientCert}
}

// Valid reports whether p is a security profile from 0 to 3.
func (p SecurityProfile) Valid() bool {
	return p >= SecurityProfileNone && p <= SecurityProfileTLSClientCert
}
