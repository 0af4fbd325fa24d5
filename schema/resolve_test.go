package schema

import (
	"slices"
	"strings"
	"testing"
)

func TestResolveConnector(t *testing.T) {
	for _, test := range []struct {
		name         string
		in           ConnectorInput
		wantStandard ConnectorStandard
		wantFormat   ConnectorFormat
		wantInternal InternalConnector
		// wantFields lists the fields of the expected problems, in order.
		wantFields []string
		// wantText is a substring of each problem's message, in order.
		wantText []string
	}{
		{
			name:         "StandardAndFormat",
			in:           ConnectorInput{Standard: "IEC_62196_T2", Format: "SOCKET", PowerType: "AC_3_PHASE"},
			wantStandard: "IEC_62196_T2", wantFormat: "SOCKET", wantInternal: "Mennekes_Socket",
		},
		{
			name:         "StandardAndFormatWithoutInternalName",
			in:           ConnectorInput{Standard: "IEC_62196_T1", Format: "SOCKET", PowerType: "AC_1_PHASE"},
			wantStandard: "IEC_62196_T1", wantFormat: "SOCKET", wantInternal: "",
		},
		{
			name:         "InternalOnly",
			in:           ConnectorInput{Internal: "CCS2_Cable", PowerType: "DC"},
			wantStandard: "IEC_62196_T2_COMBO", wantFormat: "CABLE", wantInternal: "CCS2_Cable",
		},
		{
			name:         "InternalWithoutPowerType",
			in:           ConnectorInput{Internal: "Mennekes_Cable"},
			wantStandard: "IEC_62196_T2", wantFormat: "CABLE", wantInternal: "Mennekes_Cable",
		},
		{
			name:         "InternalAgreeing",
			in:           ConnectorInput{Internal: "ChaDeMo_Cable", Standard: "CHADEMO", Format: "CABLE", PowerType: "DC"},
			wantStandard: "CHADEMO", wantFormat: "CABLE", wantInternal: "ChaDeMo_Cable",
		},
		{
			name:         "InternalWithStandardOnly",
			in:           ConnectorInput{Internal: "DOMESTIC_F_Socket", Standard: "DOMESTIC_F", PowerType: "AC_1_PHASE"},
			wantStandard: "DOMESTIC_F", wantFormat: "SOCKET", wantInternal: "DOMESTIC_F_Socket",
		},
		{
			name:         "InternalWithFormatOnly",
			in:           ConnectorInput{Internal: "Type1_Cable", Format: "CABLE"},
			wantStandard: "IEC_62196_T1", wantFormat: "CABLE", wantInternal: "Type1_Cable",
		},
		{
			name:         "DCOverType2",
			in:           ConnectorInput{Standard: "IEC_62196_T2", Format: "CABLE", PowerType: "DC"},
			wantStandard: "IEC_62196_T2", wantFormat: "CABLE", wantInternal: "Mennekes_Cable",
		},
		{
			name:         "PantographDC",
			in:           ConnectorInput{Standard: "PANTOGRAPH_TOP_DOWN", Format: "CABLE", PowerType: "DC"},
			wantStandard: "PANTOGRAPH_TOP_DOWN", wantFormat: "CABLE",
		},
		{
			name:       "LowerCaseStandard",
			in:         ConnectorInput{Standard: "iec_62196_t2", Format: "SOCKET", PowerType: "AC_3_PHASE"},
			wantFields: []string{"standard"},
			wantText:   []string{`"iec_62196_t2" is not an OCPI 2.2.1 ConnectorType`},
		},
		{
			name:       "UnknownFormatAndPowerType",
			in:         ConnectorInput{Standard: "IEC_62196_T2", Format: "Socket", PowerType: "AC"},
			wantFields: []string{"format", "power_type"},
			wantText:   []string{`"Socket" is not a connector format`, `"AC" is not a power type`},
		},
		{
			name:       "UnknownInternal",
			in:         ConnectorInput{Internal: "ccs2_cable", PowerType: "DC"},
			wantFields: []string{"internal"},
			wantText:   []string{`"ccs2_cable" is not an internal connector name`},
		},
		{
			name:       "UnknownInternalWithValidPair",
			in:         ConnectorInput{Internal: "Type2_Cable", Standard: "IEC_62196_T2", Format: "CABLE", PowerType: "AC_3_PHASE"},
			wantFields: []string{"internal"},
			wantText:   []string{`"Type2_Cable"`},
		},
		{
			name:       "Nothing",
			in:         ConnectorInput{},
			wantFields: []string{"standard", "format"},
			wantText:   []string{"required when internal is not given", "required when internal is not given"},
		},
		{
			name:       "StandardWithoutFormat",
			in:         ConnectorInput{Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE"},
			wantFields: []string{"format"},
			wantText:   []string{"required"},
		},
		{
			name:       "FormatWithoutStandard",
			in:         ConnectorInput{Format: "CABLE", PowerType: "DC"},
			wantFields: []string{"standard"},
			wantText:   []string{"required"},
		},
		{
			name:       "InternalContradictsStandard",
			in:         ConnectorInput{Internal: "CCS2_Cable", Standard: "IEC_62196_T1_COMBO", PowerType: "DC"},
			wantFields: []string{"internal"},
			wantText:   []string{"CCS2_Cable means standard IEC_62196_T2_COMBO, which contradicts standard IEC_62196_T1_COMBO"},
		},
		{
			name:       "InternalContradictsStandardAndFormat",
			in:         ConnectorInput{Internal: "Mennekes_Socket", Standard: "IEC_62196_T1", Format: "CABLE", PowerType: "AC_1_PHASE"},
			wantFields: []string{"internal", "internal"},
			wantText:   []string{"means standard IEC_62196_T2", "means format SOCKET"},
		},
		{
			name:       "ComboWithAC",
			in:         ConnectorInput{Standard: "IEC_62196_T2_COMBO", Format: "CABLE", PowerType: "AC_3_PHASE"},
			wantFields: []string{"power_type"},
			wantText:   []string{"must be DC: IEC_62196_T2_COMBO is a DC-only"},
		},
		{
			name:       "CCS1InternalWithAC",
			in:         ConnectorInput{Internal: "CCS1_Socket", PowerType: "AC_1_PHASE"},
			wantFields: []string{"power_type"},
			wantText:   []string{"IEC_62196_T1_COMBO is a DC-only"},
		},
		{
			name:       "CHAdeMOWithAC",
			in:         ConnectorInput{Standard: "CHADEMO", Format: "CABLE", PowerType: "AC_1_PHASE"},
			wantFields: []string{"power_type"},
			wantText:   []string{"CHADEMO is a DC-only"},
		},
		{
			name:       "ChaoJiWithAC",
			in:         ConnectorInput{Standard: "CHAOJI", Format: "CABLE", PowerType: "AC_2_PHASE_SPLIT"},
			wantFields: []string{"power_type"},
			wantText:   []string{"CHAOJI is a DC-only"},
		},
		{
			name:       "GBTDCWithAC",
			in:         ConnectorInput{Standard: "GBT_DC", Format: "CABLE", PowerType: "AC_3_PHASE"},
			wantFields: []string{"power_type"},
			wantText:   []string{"GBT_DC is a DC-only"},
		},
		{
			name:       "GBTACWithDC",
			in:         ConnectorInput{Standard: "GBT_AC", Format: "SOCKET", PowerType: "DC"},
			wantFields: []string{"power_type"},
			wantText:   []string{"cannot be DC: GBT_AC"},
		},
		{
			name:       "DomesticWithDC",
			in:         ConnectorInput{Standard: "DOMESTIC_F", Format: "SOCKET", PowerType: "DC"},
			wantFields: []string{"power_type"},
			wantText:   []string{"cannot be DC: DOMESTIC_F"},
		},
		{
			name:       "DomesticInternalWithDC",
			in:         ConnectorInput{Internal: "DOMESTIC_G_Socket", PowerType: "DC"},
			wantFields: []string{"power_type"},
			wantText:   []string{"cannot be DC: DOMESTIC_G"},
		},
		{
			name:       "DomesticCable",
			in:         ConnectorInput{Standard: "DOMESTIC_M", Format: "CABLE", PowerType: "AC_1_PHASE"},
			wantFields: []string{"format"},
			wantText:   []string{"must be SOCKET: DOMESTIC_M is a household socket"},
		},
		{
			name: "DomesticCableWithDCAndContradictingInternal",
			in:   ConnectorInput{Internal: "DOMESTIC_F_Socket", Standard: "DOMESTIC_F", Format: "CABLE", PowerType: "DC"},
			// format contradicts internal, the cable is impossible, and so is DC.
			wantFields: []string{"format", "power_type", "internal"},
			wantText:   []string{"must be SOCKET", "cannot be DC", "means format SOCKET, which contradicts format CABLE"},
		},
		{
			name:       "EverythingWrong",
			in:         ConnectorInput{Internal: "Schuko", Standard: "SCHUKO", Format: "PLUG", PowerType: "AC_4_PHASE"},
			wantFields: []string{"standard", "format", "power_type", "internal"},
			wantText:   []string{`"SCHUKO"`, `"PLUG"`, `"AC_4_PHASE"`, `"Schuko"`},
		},
		{
			name:       "BadValuesAndMissingFormat",
			in:         ConnectorInput{Standard: "Type2", PowerType: "dc"},
			wantFields: []string{"standard", "format", "power_type"},
			wantText:   []string{`"Type2"`, "required", `"dc"`},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			std, format, internal, problems := ResolveConnector(test.in)
			if std != test.wantStandard || format != test.wantFormat || internal != test.wantInternal {
				t.Errorf("ResolveConnector(%+v) = %q, %q, %q, want %q, %q, %q",
					test.in, std, format, internal, test.wantStandard, test.wantFormat, test.wantInternal)
			}
			var fields []string
			for _, p := range problems {
				fields = append(fields, p.Field)
			}
			if !slices.Equal(fields, test.wantFields) {
				t.Fatalf("ResolveConnector(%+v) problems = %+v, want fields %v", test.in, problems, test.wantFields)
			}
			for i, p := range problems {
				if !strings.Contains(p.Message, test.wantText[i]) {
					t.Errorf("problem %d = %+v, want message containing %q", i, p, test.wantText[i])
				}
			}
		})
	}
}

// TestResolveConnectorAllPairs checks every standard × format × power type
// against the rules stated in ResolveConnector's documentation.
func TestResolveConnectorAllPairs(t *testing.T) {
	for _, s := range ConnectorStandards() {
		for _, f := range ConnectorFormats() {
			for _, p := range PowerTypes() {
				in := ConnectorInput{Standard: string(s), Format: string(f), PowerType: string(p)}
				_, _, internal, problems := ResolveConnector(in)
				impossible := (s.DCOnly() && p != PowerDC) ||
					(strings.HasPrefix(string(s), "DOMESTIC_") && (p == PowerDC || f == FormatCable)) ||
					(s == ConnectorGBTAC && p == PowerDC)
				if impossible != (len(problems) > 0) {
					t.Errorf("ResolveConnector(%+v) problems = %+v, want problems %t", in, problems, impossible)
				}
				if want, _ := InternalFor(s, f); !impossible && internal != want {
					t.Errorf("ResolveConnector(%+v) internal = %q, want %q", in, internal, want)
				}
			}
		}
	}
}

func TestResolveConnectors(t *testing.T) {
	got, problems := ResolveConnectors("connectors", []ConnectorInput{
		{ID: "1", Internal: "CCS2_Cable", PowerType: "DC"},
		{ID: "1", Standard: "IEC_62196_T2", Format: "SOCKET", PowerType: "AC_3_PHASE"},
		{ID: "", Standard: "CHADEMO", Format: "CABLE", PowerType: "AC_1_PHASE"},
		{ID: "", Standard: "nope", Format: "SOCKET", PowerType: "AC_1_PHASE"},
	})
	want := []FieldProblem{
		{Field: "connectors[1].id", Message: "is used by another connector of this EVSE"},
		{Field: "connectors[2].power_type"},
		{Field: "connectors[3].standard"},
	}
	if len(problems) != len(want) {
		t.Fatalf("problems = %+v, want fields %+v", problems, want)
	}
	for i, w := range want {
		if problems[i].Field != w.Field || (w.Message != "" && problems[i].Message != w.Message) {
			t.Errorf("problem %d = %+v, want %+v", i, problems[i], w)
		}
	}
	if got[0] != (ResolvedConnector{Standard: "IEC_62196_T2_COMBO", Format: "CABLE", Internal: "CCS2_Cable"}) {
		t.Errorf("connector 0 = %+v", got[0])
	}
	if got[1].Standard != "IEC_62196_T2" || got[1].Internal != "Mennekes_Socket" {
		t.Errorf("connector 1 = %+v", got[1])
	}
}
