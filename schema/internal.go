package schema

import "slices"

// InternalConnector is a connector name of the charge-station API (the
// GreenFlux-style "internal" names): a shorthand for one standard + format
// pair. A client may send it instead of standard and format; responses always
// carry all three.
type InternalConnector string

// The internal connector names, in the order of the charge-station API's table.
const (
	InternalCCS1Cable       InternalConnector = "CCS1_Cable"
	InternalCCS2Cable       InternalConnector = "CCS2_Cable"
	InternalCCS1Socket      InternalConnector = "CCS1_Socket"
	InternalCCS2Socket      InternalConnector = "CCS2_Socket"
	InternalMennekesSocket  InternalConnector = "Mennekes_Socket"
	InternalMennekesCable   InternalConnector = "Mennekes_Cable"
	InternalType1Cable      InternalConnector = "Type1_Cable"
	InternalChaDeMoCable    InternalConnector = "ChaDeMo_Cable"
	InternalDomesticESocket InternalConnector = "DOMESTIC_E_Socket"
	InternalDomesticFSocket InternalConnector = "DOMESTIC_F_Socket"
	InternalDomesticGSocket InternalConnector = "DOMESTIC_G_Socket"
	InternalDomesticHSocket InternalConnector = "DOMESTIC_H_Socket"
	InternalDomesticISocket InternalConnector = "DOMESTIC_I_Socket"
	InternalDomesticJSocket InternalConnector = "DOMESTIC_J_Socket"
	InternalDomesticKSocket InternalConnector = "DOMESTIC_K_Socket"
	InternalDomesticLSocket InternalConnector = "DOMESTIC_L_Socket"
)

type internalPair struct {
	name     InternalConnector
	standard ConnectorStandard
	format   ConnectorFormat
}

// internalTable is the charge-station API's standard/format/internal table.
// Each pair appears once in each direction, so the mapping is a bijection
// between these 16 names and 16 standard+format pairs.
var internalTable = []internalPair{
	{InternalCCS1Cable, ConnectorIEC62196T1Combo, FormatCable},
	{InternalCCS2Cable, ConnectorIEC62196T2Combo, FormatCable},
	{InternalCCS1Socket, ConnectorIEC62196T1Combo, FormatSocket},
	{InternalCCS2Socket, ConnectorIEC62196T2Combo, FormatSocket},
	{InternalMennekesSocket, ConnectorIEC62196T2, FormatSocket},
	{InternalMennekesCable, ConnectorIEC62196T2, FormatCable},
	{InternalType1Cable, ConnectorIEC62196T1, FormatCable},
	{InternalChaDeMoCable, ConnectorCHADEMO, FormatCable},
	{InternalDomesticESocket, ConnectorDomesticE, FormatSocket},
	{InternalDomesticFSocket, ConnectorDomesticF, FormatSocket},
	{InternalDomesticGSocket, ConnectorDomesticG, FormatSocket},
	{InternalDomesticHSocket, ConnectorDomesticH, FormatSocket},
	{InternalDomesticISocket, ConnectorDomesticI, FormatSocket},
	{InternalDomesticJSocket, ConnectorDomesticJ, FormatSocket},
	{InternalDomesticKSocket, ConnectorDomesticK, FormatSocket},
	{InternalDomesticLSocket, ConnectorDomesticL, FormatSocket},
}

// InternalConnectors returns all internal connector names in table order.
func InternalConnectors() []InternalConnector {
	out := make([]InternalConnector, len(internalTable))
	for i, p := range internalTable {
		out[i] = p.name
	}
	return out
}

// Valid reports whether i is one of the internal connector names (case-sensitive).
func (i InternalConnector) Valid() bool {
	_, _, ok := i.Connector()
	return ok
}

// ParseInternalConnector returns s as an InternalConnector, or an error when
// it is not one of the names of the table.
func ParseInternalConnector(s string) (InternalConnector, error) {
	return parseEnum("internal connector", InternalConnectors(), s)
}

// Connector returns the OCPI standard and format that the internal name
// stands for; ok is false when i is not a known name.
func (i InternalConnector) Connector() (ConnectorStandard, ConnectorFormat, bool) {
	for _, p := range internalTable {
		if p.name == i {
			return p.standard, p.format, true
		}
	}
	return "", "", false
}

// InternalFor returns the internal name of a standard + format pair, for
// responses; ok is false when the table has no name for the pair (most of the
// 80 pairs have none, e.g. IEC_62196_T1 SOCKET).
func InternalFor(s ConnectorStandard, f ConnectorFormat) (InternalConnector, bool) {
	i := slices.IndexFunc(internalTable, func(p internalPair) bool { return p.standard == s && p.format == f })
	if i < 0 {
		return "", false
	}
	return internalTable[i].name, true
}
