package schema

import (
	"fmt"
	"slices"
)

// ConnectorInput holds a connector's id and type fields as the client sent them.
// An empty string means the field was absent.
type ConnectorInput struct {
	ID        string // only ResolveConnectors reads it
	Standard  string
	Format    string
	PowerType string
	Internal  string
}

// FieldProblem is one invalid field. Field is relative to the connector
// ("standard", "format", "power_type", "internal"); the caller prefixes it
// with the connector's path, e.g. "evses[0].connectors[1].".
type FieldProblem struct {
	Field   string
	Message string
}

// The relative field names used in FieldProblem.Field by ResolveConnector.
const (
	FieldStandard  = "standard"
	FieldFormat    = "format"
	FieldPowerType = "power_type"
	FieldInternal  = "internal"
)

// fieldRank orders problems: standard, format, power_type, internal.
var fieldRank = map[string]int{FieldStandard: 0, FieldFormat: 1, FieldPowerType: 2, FieldInternal: 3}

// ResolveConnector validates a connector's type fields together and returns
// the full standard, format and internal name. internal is "" when the
// internal table has no name for the standard + format pair.
//
// It reports every problem, ordered by field (standard, format, power_type,
// internal) and within a field in the order of the rules below; when there
// is any, the other results are zero and must not be used. The rules:
//
//  1. Each given value must be a member of its enumeration, compared
//     case-sensitively as OCPI does ("iec_62196_t2" is invalid).
//  2. The connector must be identified: either internal, or both standard
//     and format. A missing standard or format is reported on that field.
//  3. When internal is given together with standard and/or format, they must
//     agree with the internal table; a contradiction is reported on
//     "internal". A missing standard or format is taken from internal.
//  4. DC-only standards (see ConnectorStandard.DCOnly: the *_COMBO types,
//     CHADEMO, CHAOJI, GBT_DC) cannot have an AC power_type.
//  5. AC-only standards (see ConnectorStandard.ACOnly: DOMESTIC_* and GBT_AC)
//     cannot have power_type DC.
//  6. DOMESTIC_* household outlets are sockets: format CABLE is invalid.
//
// Rules 4–6 apply to the standard and format in effect, whether sent
// directly or implied by internal, and are only checked for valid values.
// power_type is only checked when given: whether it is required is the
// caller's decision (OCPI requires it on a connector), so that a missing
// power_type is not reported twice.
func ResolveConnector(in ConnectorInput) (ConnectorStandard, ConnectorFormat, InternalConnector, []FieldProblem) {
	var problems []FieldProblem
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	// Rule 1: membership.
	std, format, power, internal := ConnectorStandard(in.Standard), ConnectorFormat(in.Format), PowerType(in.PowerType), InternalConnector(in.Internal)
	stdOK, formatOK, powerOK, internalOK := std.Valid(), format.Valid(), power.Valid(), internal.Valid()
	if in.Standard != "" && !stdOK {
		add(FieldStandard, "%q is not an OCPI 2.2.1 ConnectorType value (case-sensitive), e.g. IEC_62196_T2", in.Standard)
	}
	if in.Format != "" && !formatOK {
		add(FieldFormat, "%q is not a connector format: must be SOCKET or CABLE (case-sensitive)", in.Format)
	}
	if in.PowerType != "" && !powerOK {
		add(FieldPowerType, "%q is not a power type: must be one of %s (case-sensitive)", in.PowerType, joinValues(powerTypes))
	}
	if in.Internal != "" && !internalOK {
		add(FieldInternal, "%q is not an internal connector name: must be one of %s (case-sensitive)", in.Internal, joinValues(InternalConnectors()))
	}

	// Rules 2 and 3: identification, and agreement with internal.
	if in.Internal == "" {
		if in.Standard == "" {
			add(FieldStandard, "is required when internal is not given")
		}
		if in.Format == "" {
			add(FieldFormat, "is required when internal is not given")
		}
	} else if internalOK {
		iStd, iFormat, _ := internal.Connector()
		if in.Standard != "" && stdOK && std != iStd {
			add(FieldInternal, "%s means standard %s, which contradicts standard %s", internal, iStd, std)
		}
		if in.Format != "" && formatOK && format != iFormat {
			add(FieldInternal, "%s means format %s, which contradicts format %s", internal, iFormat, format)
		}
		if in.Standard == "" {
			std, stdOK = iStd, true
		}
		if in.Format == "" {
			format, formatOK = iFormat, true
		}
	}

	// Rules 4–6: combinations that cannot exist.
	if stdOK && powerOK {
		if std.DCOnly() && power != PowerDC {
			add(FieldPowerType, "must be DC: %s is a DC-only connector standard, %s is AC", std, power)
		}
		if std.ACOnly() && power == PowerDC {
			add(FieldPowerType, "cannot be DC: %s is an AC-only connector standard", std)
		}
	}
	if stdOK && formatOK && std.SocketOnly() && format != FormatSocket {
		add(FieldFormat, "must be SOCKET: %s is a household socket, it does not exist as a %s", std, format)
	}

	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b FieldProblem) int { return fieldRank[a.Field] - fieldRank[b.Field] })
		return "", "", "", problems
	}
	if in.Internal == "" {
		internal, _ = InternalFor(std, format)
	}
	return std, format, internal, nil
}

// ResolvedConnector is the full type of one connector: its standard, format and internal
// name ("" when the internal table has no name for the pair).
type ResolvedConnector struct {
	Standard ConnectorStandard
	Format   ConnectorFormat
	Internal InternalConnector
}

// ResolveConnectors checks the connectors of one EVSE (or EVSE template), named list in the
// body: each one's type fields with ResolveConnector, and their ids unique within the EVSE
// (an absent id is the caller's required-field check). Problems are named from the list
// down, e.g. "connectors[1].standard"; the caller prefixes the EVSE's path. The result has one
// entry per connector, zero for a connector with problems.
func ResolveConnectors(list string, cs []ConnectorInput) ([]ResolvedConnector, []FieldProblem) {
	out := make([]ResolvedConnector, len(cs))
	var problems []FieldProblem
	ids := map[string]bool{}
	for i, c := range cs {
		path := fmt.Sprintf("%s[%d]", list, i)
		if c.ID != "" && ids[c.ID] {
			problems = append(problems, FieldProblem{Field: path + ".id", Message: "is used by another connector of this EVSE"})
		}
		ids[c.ID] = true
		std, format, internal, bad := ResolveConnector(c)
		for _, p := range bad {
			problems = append(problems, FieldProblem{Field: path + "." + p.Field, Message: p.Message})
		}
		out[i] = ResolvedConnector{Standard: std, Format: format, Internal: internal}
	}
	return out, problems
}
