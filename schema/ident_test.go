package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestValidChargeStationID(t *testing.T) {
	for _, test := range []struct {
		in   string
		want bool
	}{
		{"CS-0001", true},
		{"a", true},
		{strings.Repeat("x", 48), true},
		{strings.Repeat("x", 49), false},
		{"", false},
		{"EVR*CS_01.b+c@d|e=f", true},
		{"!~\"$%&'()*,;<=>[\\]^`{|}", true},
		{"has space", false},
		{" lead", false},
		{"colon:id", false},
		{"slash/id", false},
		{"query?id", false},
		{"hash#id", false},
		{"tab\tid", false},
		{"nl\n", false},
		{"del\x7f", false},
		{"naïve", false},
		{"Zaptec-ZAP123456", true},
	} {
		if got := ValidChargeStationID(test.in); got != test.want {
			t.Errorf("ValidChargeStationID(%q) = %t, want %t", test.in, got, test.want)
		}
	}
}

func TestValidPartyID(t *testing.T) {
	for _, test := range []struct {
		in   string
		want bool
	}{
		{"EVR", true},
		{"GFX", true},
		{"A1B", true},
		{"123", true},
		{"evr", false},
		{"Evr", false},
		{"EV", false},
		{"EVRX", false},
		{"EV-", false},
		{"", false},
		{"ÉVR", false},
	} {
		if got := ValidPartyID(test.in); got != test.want {
			t.Errorf("ValidPartyID(%q) = %t, want %t", test.in, got, test.want)
		}
	}
}

func TestParseEVSEID(t *testing.T) {
	for _, test := range []struct {
		in   string
		want EVSEID // zero when invalid
	}{
		{"NL*EVR*E12345*1", EVSEID{"NL", "EVR", "12345*1"}},
		{"NLEVRE12345", EVSEID{"NL", "EVR", "12345"}},
		{"nl*evr*e12345*1", EVSEID{"NL", "EVR", "12345*1"}},
		{"BE*BEC*E041503001", EVSEID{"BE", "BEC", "041503001"}},
		{"DE*8AA*EABC123", EVSEID{"DE", "8AA", "ABC123"}},
		{"NL*EVRE1", EVSEID{"NL", "EVR", "1"}},
		{"NLEVR*E1", EVSEID{"NL", "EVR", "1"}},
		{"NL*EVR*EE", EVSEID{"NL", "EVR", "E"}},
		{"NL*EVR*E" + strings.Repeat("9", 30), EVSEID{"NL", "EVR", strings.Repeat("9", 30)}},
		{"NL*EVR*E" + strings.Repeat("9", 31), EVSEID{}},
		{"NL*EVR*E", EVSEID{}},
		{"NL*EVR*12345", EVSEID{}},
		{"NL*EV*E12345", EVSEID{}},
		{"N1*EVR*E12345", EVSEID{}},
		{"NL**EVR*E1", EVSEID{}},
		{"NL*EVR**E1", EVSEID{}},
		{"NL-EVR-E12345", EVSEID{}},
		{"NL*EVR*E123 45", EVSEID{}},
		{"NL*EVR*E123-45", EVSEID{}},
		{"+49*810*000*438", EVSEID{}},
		{"NL*EVR*E1ſ", EVSEID{}},
		{"", EVSEID{}},
		{"N", EVSEID{}},
	} {
		got, err := ParseEVSEID(test.in)
		valid := test.want != EVSEID{}
		if valid && err != nil {
			t.Errorf("ParseEVSEID(%q) error = %v, want nil", test.in, err)
			continue
		}
		if !valid {
			if !errors.Is(err, ErrInvalidEVSEID) {
				t.Errorf("ParseEVSEID(%q) = %+v, %v, want ErrInvalidEVSEID", test.in, got, err)
			}
			if ValidEVSEID(test.in) {
				t.Errorf("ValidEVSEID(%q) = true, want false", test.in)
			}
			continue
		}
		if got != test.want {
			t.Errorf("ParseEVSEID(%q) = %+v, want %+v", test.in, got, test.want)
		}
		if !ValidEVSEID(test.in) {
			t.Errorf("ValidEVSEID(%q) = false, want true", test.in)
		}
	}
	if got, want := (EVSEID{"NL", "EVR", "12345*1"}).String(), "NL*EVR*E12345*1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func FuzzParseEVSEID(f *testing.F) {
	for _, seed := range []string{"NL*EVR*E12345*1", "NLEVRE12345", "nl*evr*e1", "BE*BEC*E041503001", "NL*EVR*E", "+49*810*000*438", "NL*EVR*E1ſ", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEVSEID(s)
		if err != nil {
			if ValidEVSEID(s) {
				t.Fatalf("ValidEVSEID(%q) = true but ParseEVSEID failed: %v", s, err)
			}
			return
		}
		upper := strings.ToUpper(s)
		if !ValidEVSEID(upper) {
			t.Fatalf("ValidEVSEID(%q) = false for the upper case of valid %q", upper, s)
		}
		if id2, err := ParseEVSEID(upper); err != nil || id2 != id {
			t.Fatalf("ParseEVSEID(%q) = %+v, %v, want %+v as for %q", upper, id2, err, id, s)
		}
		id3, err := ParseEVSEID(id.String())
		if err != nil || id3 != id {
			t.Fatalf("ParseEVSEID(%q.String() = %q) = %+v, %v, want %+v", s, id.String(), id3, err, id)
		}
		if len(s) > 2+1+3+1+1+MaxPowerOutletIDLen {
			t.Fatalf("ParseEVSEID accepted %q of length %d", s, len(s))
		}
	})
}

func TestValidPathID(t *testing.T) {
	for _, ok := range []string{"LOC-1", "a.b_c~d", "x:y@z", "!$&'()*+,;=", strings.Repeat("a", 36)} {
		if !ValidPathID(ok, 36) {
			t.Errorf("ValidPathID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a/b", "a b", "a?b", "a#b", "a%2Fb", "a\\b", "é", strings.Repeat("a", 37), "a\x00"} {
		if ValidPathID(bad, 36) {
			t.Errorf("ValidPathID(%q) = true", bad)
		}
	}
}
