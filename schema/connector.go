package schema

import (
	"slices"
	"strings"
)

// ConnectorStandard is the OCPI 2.2.1 ConnectorType: the socket or plug
// standard of a connector. It is called "standard" on the wire.
type ConnectorStandard string

// The 40 OCPI 2.2.1 ConnectorType values, in specification order. Note the
// lower-case words in the IEC 60309 values: values are case-sensitive.
const (
	ConnectorCHADEMO            ConnectorStandard = "CHADEMO"
	ConnectorCHAOJI             ConnectorStandard = "CHAOJI"
	ConnectorDomesticA          ConnectorStandard = "DOMESTIC_A"
	ConnectorDomesticB          ConnectorStandard = "DOMESTIC_B"
	ConnectorDomesticC          ConnectorStandard = "DOMESTIC_C"
	ConnectorDomesticD          ConnectorStandard = "DOMESTIC_D"
	ConnectorDomesticE          ConnectorStandard = "DOMESTIC_E"
	ConnectorDomesticF          ConnectorStandard = "DOMESTIC_F"
	ConnectorDomesticG          ConnectorStandard = "DOMESTIC_G"
	ConnectorDomesticH          ConnectorStandard = "DOMESTIC_H"
	ConnectorDomesticI          ConnectorStandard = "DOMESTIC_I"
	ConnectorDomesticJ          ConnectorStandard = "DOMESTIC_J"
	ConnectorDomesticK          ConnectorStandard = "DOMESTIC_K"
	ConnectorDomesticL          ConnectorStandard = "DOMESTIC_L"
	ConnectorDomesticM          ConnectorStandard = "DOMESTIC_M"
	ConnectorDomesticN          ConnectorStandard = "DOMESTIC_N"
	ConnectorDomesticO          ConnectorStandard = "DOMESTIC_O"
	ConnectorGBTAC              ConnectorStandard = "GBT_AC"
	ConnectorGBTDC              ConnectorStandard = "GBT_DC"
	ConnectorIEC603092Single16  ConnectorStandard = "IEC_60309_2_single_16"
	ConnectorIEC603092Three16   ConnectorStandard = "IEC_60309_2_three_16"
	ConnectorIEC603092Three32   ConnectorStandard = "IEC_60309_2_three_32"
	ConnectorIEC603092Three64   ConnectorStandard = "IEC_60309_2_three_64"
	ConnectorIEC62196T1         ConnectorStandard = "IEC_62196_T1"
	ConnectorIEC62196T1Combo    ConnectorStandard = "IEC_62196_T1_COMBO"
	ConnectorIEC62196T2         ConnectorStandard = "IEC_62196_T2"
	ConnectorIEC62196T2Combo    ConnectorStandard = "IEC_62196_T2_COMBO"
	ConnectorIEC62196T3A        ConnectorStandard = "IEC_62196_T3A"
	ConnectorIEC62196T3C        ConnectorStandard = "IEC_62196_T3C"
	ConnectorNEMA520            ConnectorStandard = "NEMA_5_20"
	ConnectorNEMA630            ConnectorStandard = "NEMA_6_30"
	ConnectorNEMA650            ConnectorStandard = "NEMA_6_50"
	ConnectorNEMA1030           ConnectorStandard = "NEMA_10_30"
	ConnectorNEMA1050           ConnectorStandard = "NEMA_10_50"
	ConnectorNEMA1430           ConnectorStandard = "NEMA_14_30"
	ConnectorNEMA1450           ConnectorStandard = "NEMA_14_50"
	ConnectorPantographBottomUp ConnectorStandard = "PANTOGRAPH_BOTTOM_UP"
	ConnectorPantographTopDown  ConnectorStandard = "PANTOGRAPH_TOP_DOWN"
	ConnectorTeslaR             ConnectorStandard = "TESLA_R"
	ConnectorTeslaS             ConnectorStandard = "TESLA_S"
)

var connectorStandards = []ConnectorStandard{
	ConnectorCHADEMO, ConnectorCHAOJI,
	ConnectorDomesticA, ConnectorDomesticB, ConnectorDomesticC, ConnectorDomesticD, ConnectorDomesticE,
	ConnectorDomesticF, ConnectorDomesticG, ConnectorDomesticH, ConnectorDomesticI, ConnectorDomesticJ,
	ConnectorDomesticK, ConnectorDomesticL, ConnectorDomesticM, ConnectorDomesticN, ConnectorDomesticO,
	ConnectorGBTAC, ConnectorGBTDC,
	ConnectorIEC603092Single16, ConnectorIEC603092Three16, ConnectorIEC603092Three32, ConnectorIEC603092Three64,
	ConnectorIEC62196T1, ConnectorIEC62196T1Combo, ConnectorIEC62196T2, ConnectorIEC62196T2Combo,
	ConnectorIEC62196T3A, ConnectorIEC62196T3C,
	ConnectorNEMA520, ConnectorNEMA630, ConnectorNEMA650, ConnectorNEMA1030, ConnectorNEMA1050,
	ConnectorNEMA1430, ConnectorNEMA1450,
	ConnectorPantographBottomUp, ConnectorPantographTopDown,
	ConnectorTeslaR, ConnectorTeslaS,
}

// ConnectorStandards returns all 40 OCPI 2.2.1 ConnectorType values in
// specification order. The slice is a copy; callers may modify it.
func ConnectorStandards() []ConnectorStandard { return slices.Clone(connectorStandards) }

// Valid reports whether s is an OCPI 2.2.1 ConnectorType value (case-sensitive).
func (s ConnectorStandard) Valid() bool { return isOneOf(connectorStandards, s) }

// ParseConnectorStandard returns s as a ConnectorStandard, or an error when it
// is not an OCPI 2.2.1 ConnectorType value.
func ParseConnectorStandard(s string) (ConnectorStandard, error) {
	return parseEnum("connector standard", connectorStandards, s)
}

// DCOnly reports whether the standard carries direct current only. These are
// the standards that OCPI 2.2.1 itself describes as DC: CHAdeMO, ChaoJi,
// GB/T 20234.3 (GBT_DC) and the two CCS "Combo" types. Pantographs are
// usually DC as well, but OCPI does not say so, so they are not restricted.
func (s ConnectorStandard) DCOnly() bool {
	switch s {
	case ConnectorCHADEMO, ConnectorCHAOJI, ConnectorGBTDC, ConnectorIEC62196T1Combo, ConnectorIEC62196T2Combo:
		return true
	}
	return false
}

// ACOnly reports whether the standard carries alternating current only: the
// DOMESTIC_* household sockets and GB/T 20234.2 (GBT_AC), which OCPI 2.2.1
// describes as AC. Type 2 is deliberately not here: DC over Type 2 exists.
func (s ConnectorStandard) ACOnly() bool {
	return s.Domestic() || s == ConnectorGBTAC
}

// Domestic reports whether the standard is one of the DOMESTIC_A … DOMESTIC_O
// household plug types.
func (s ConnectorStandard) Domestic() bool {
	return strings.HasPrefix(string(s), "DOMESTIC_") && s.Valid()
}

// SocketOnly reports whether the standard only exists as a socket on the
// charger: household (DOMESTIC_*) outlets never come as an attached cable.
func (s ConnectorStandard) SocketOnly() bool { return s.Domestic() }

// ConnectorFormat is the OCPI 2.2.1 ConnectorFormat: whether the charger has a
// socket (the driver brings the cable) or an attached cable.
type ConnectorFormat string

// The OCPI 2.2.1 ConnectorFormat values.
const (
	FormatSocket ConnectorFormat = "SOCKET"
	FormatCable  ConnectorFormat = "CABLE"
)

var connectorFormats = []ConnectorFormat{FormatSocket, FormatCable}

// ConnectorFormats returns all ConnectorFormat values in specification order.
func ConnectorFormats() []ConnectorFormat { return slices.Clone(connectorFormats) }

// Valid reports whether f is an OCPI 2.2.1 ConnectorFormat value (case-sensitive).
func (f ConnectorFormat) Valid() bool { return isOneOf(connectorFormats, f) }

// ParseConnectorFormat returns s as a ConnectorFormat, or an error when it is
// not SOCKET or CABLE.
func ParseConnectorFormat(s string) (ConnectorFormat, error) {
	return parseEnum("connector format", connectorFormats, s)
}

// PowerType is the OCPI 2.2.1 PowerType of a connector.
type PowerType string

// The OCPI 2.2.1 PowerType values.
const (
	PowerAC1Phase      PowerType = "AC_1_PHASE"
	PowerAC2Phase      PowerType = "AC_2_PHASE"
	PowerAC2PhaseSplit PowerType = "AC_2_PHASE_SPLIT"
	PowerAC3Phase      PowerType = "AC_3_PHASE"
	PowerDC            PowerType = "DC"
)

var powerTypes = []PowerType{PowerAC1Phase, PowerAC2Phase, PowerAC2PhaseSplit, PowerAC3Phase, PowerDC}

// PowerTypes returns all PowerType values in specification order.
func PowerTypes() []PowerType { return slices.Clone(powerTypes) }

// Valid reports whether p is an OCPI 2.2.1 PowerType value (case-sensitive).
func (p PowerType) Valid() bool { return isOneOf(powerTypes, p) }

// ParsePowerType returns s as a PowerType, or an error when it is not one.
func ParsePowerType(s string) (PowerType, error) {
	return parseEnum("power type", powerTypes, s)
}

// AC reports whether p is one of the alternating-current power types.
func (p PowerType) AC() bool { return p.Valid() && p != PowerDC }
