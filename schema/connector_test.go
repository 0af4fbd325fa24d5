package schema

import (
	"slices"
	"testing"
)

// wantStandards is the OCPI 2.2.1 ConnectorType list, copied from the
// official OpenAPI (modules/locations/schema.yaml), in its order.
var wantStandards = []string{
	"CHADEMO", "CHAOJI",
	"DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F", "DOMESTIC_G",
	"DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N", "DOMESTIC_O",
	"GBT_AC", "GBT_DC",
	"IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32", "IEC_60309_2_three_64",
	"IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C",
	"NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50",
	"PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN",
	"TESLA_R", "TESLA_S",
}

func TestConnectorStandards(t *testing.T) {
	got := ConnectorStandards()
	if len(got) != 40 || len(wantStandards) != 40 {
		t.Fatalf("len(ConnectorStandards()) = %d, want 40 (expected list has %d)", len(got), len(wantStandards))
	}
	for i, s := range got {
		if string(s) != wantStandards[i] {
			t.Errorf("ConnectorStandards()[%d] = %q, want %q", i, s, wantStandards[i])
		}
		if !s.Valid() {
			t.Errorf("%q.Valid() = false, want true", s)
		}
	}
	got[0] = "MUTATED"
	if ConnectorStandards()[0] != ConnectorCHADEMO {
		t.Error("ConnectorStandards() returns the package's own slice")
	}
}

func TestConnectorStandardValid(t *testing.T) {
	for _, test := range []struct {
		in   string
		want bool
	}{
		{"IEC_62196_T2", true},
		{"IEC_60309_2_single_16", true},
		{"iec_62196_t2", false},
		{"IEC_60309_2_SINGLE_16", false},
		{"Iec_62196_T2", false},
		{"DOMESTIC_P", false},
		{"MCS", false},       // 2.3.0 only
		{"SAE_J3400", false}, // 2.3.0 only
		{"", false},
		{" IEC_62196_T2", false},
	} {
		if got := ConnectorStandard(test.in).Valid(); got != test.want {
			t.Errorf("ConnectorStandard(%q).Valid() = %t, want %t", test.in, got, test.want)
		}
		_, err := ParseConnectorStandard(test.in)
		if (err == nil) != test.want {
			t.Errorf("ParseConnectorStandard(%q) error = %v, want error %t", test.in, err, !test.want)
		}
	}
}

func TestConnectorStandardClasses(t *testing.T) {
	dcOnly := []ConnectorStandard{ConnectorCHADEMO, ConnectorCHAOJI, ConnectorGBTDC, ConnectorIEC62196T1Combo, ConnectorIEC62196T2Combo}
	acOnly := []ConnectorStandard{ConnectorGBTAC}
	for c := 'A'; c <= 'O'; c++ {
		acOnly = append(acOnly, ConnectorStandard("DOMESTIC_"+string(c)))
	}
	for _, s := range ConnectorStandards() {
		if got, want := s.DCOnly(), slices.Contains(dcOnly, s); got != want {
			t.Errorf("%s.DCOnly() = %t, want %t", s, got, want)
		}
		if got, want := s.ACOnly(), slices.Contains(acOnly, s); got != want {
			t.Errorf("%s.ACOnly() = %t, want %t", s, got, want)
		}
		if s.ACOnly() && s.DCOnly() {
			t.Errorf("%s is both AC-only and DC-only", s)
		}
	}
	if ConnectorStandard("DOMESTIC_Z").Domestic() {
		t.Error(`ConnectorStandard("DOMESTIC_Z").Domestic() = true, want false`)
	}
}

func TestSmallConnectorEnums(t *testing.T) {
	if got, want := ConnectorFormats(), []ConnectorFormat{"SOCKET", "CABLE"}; !slices.Equal(got, want) {
		t.Errorf("ConnectorFormats() = %v, want %v", got, want)
	}
	if got, want := PowerTypes(), []PowerType{"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"}; !slices.Equal(got, want) {
		t.Errorf("PowerTypes() = %v, want %v", got, want)
	}
	for _, test := range []struct {
		in      string
		valid   bool
		isAC    bool
		formatV bool
	}{
		{"AC_1_PHASE", true, true, false},
		{"AC_2_PHASE_SPLIT", true, true, false},
		{"DC", true, false, false},
		{"dc", false, false, false},
		{"SOCKET", false, false, true},
		{"socket", false, false, false},
		{"", false, false, false},
	} {
		if got := PowerType(test.in).Valid(); got != test.valid {
			t.Errorf("PowerType(%q).Valid() = %t, want %t", test.in, got, test.valid)
		}
		if got := PowerType(test.in).AC(); got != test.isAC {
			t.Errorf("PowerType(%q).AC() = %t, want %t", test.in, got, test.isAC)
		}
		if got := ConnectorFormat(test.in).Valid(); got != test.formatV {
			t.Errorf("ConnectorFormat(%q).Valid() = %t, want %t", test.in, got, test.formatV)
		}
	}
}

func TestInternalConnectorTable(t *testing.T) {
	// The table of the charge-station API, row by row.
	type row struct {
		internal InternalConnector
		standard ConnectorStandard
		format   ConnectorFormat
	}
	table := []row{
		{"CCS1_Cable", "IEC_62196_T1_COMBO", "CABLE"},
		{"CCS2_Cable", "IEC_62196_T2_COMBO", "CABLE"},
		{"CCS1_Socket", "IEC_62196_T1_COMBO", "SOCKET"},
		{"CCS2_Socket", "IEC_62196_T2_COMBO", "SOCKET"},
		{"Mennekes_Socket", "IEC_62196_T2", "SOCKET"},
		{"Mennekes_Cable", "IEC_62196_T2", "CABLE"},
		{"Type1_Cable", "IEC_62196_T1", "CABLE"},
		{"ChaDeMo_Cable", "CHADEMO", "CABLE"},
		{"DOMESTIC_E_Socket", "DOMESTIC_E", "SOCKET"},
		{"DOMESTIC_F_Socket", "DOMESTIC_F", "SOCKET"},
		{"DOMESTIC_G_Socket", "DOMESTIC_G", "SOCKET"},
		{"DOMESTIC_H_Socket", "DOMESTIC_H", "SOCKET"},
		{"DOMESTIC_I_Socket", "DOMESTIC_I", "SOCKET"},
		{"DOMESTIC_J_Socket", "DOMESTIC_J", "SOCKET"},
		{"DOMESTIC_K_Socket", "DOMESTIC_K", "SOCKET"},
		{"DOMESTIC_L_Socket", "DOMESTIC_L", "SOCKET"},
	}
	all := InternalConnectors()
	if len(all) != len(table) {
		t.Fatalf("len(InternalConnectors()) = %d, want %d", len(all), len(table))
	}
	for i, row := range table {
		if all[i] != row.internal {
			t.Errorf("InternalConnectors()[%d] = %q, want %q", i, all[i], row.internal)
		}
		if !row.internal.Valid() {
			t.Errorf("%q.Valid() = false, want true", row.internal)
		}
		s, f, ok := row.internal.Connector()
		if !ok || s != row.standard || f != row.format {
			t.Errorf("%q.Connector() = %q, %q, %t, want %q, %q, true", row.internal, s, f, ok, row.standard, row.format)
		}
		got, ok := InternalFor(row.standard, row.format)
		if !ok || got != row.internal {
			t.Errorf("InternalFor(%q, %q) = %q, %t, want %q, true", row.standard, row.format, got, ok, row.internal)
		}
	}
	// Every other standard+format pair has no internal name.
	for _, s := range ConnectorStandards() {
		for _, f := range ConnectorFormats() {
			inTable := slices.ContainsFunc(table, func(r row) bool { return r.standard == s && r.format == f })
			if got, ok := InternalFor(s, f); ok != inTable {
				t.Errorf("InternalFor(%q, %q) = %q, %t, want ok %t", s, f, got, ok, inTable)
			}
		}
	}
	for _, bad := range []InternalConnector{"ccs2_cable", "CCS2_CABLE", "Type2_Cable", "DOMESTIC_M_Socket", ""} {
		if s, f, ok := bad.Connector(); ok || s != "" || f != "" {
			t.Errorf("%q.Connector() = %q, %q, %t, want \"\", \"\", false", bad, s, f, ok)
		}
		if bad.Valid() {
			t.Errorf("%q.Valid() = true, want false", bad)
		}
	}
}
