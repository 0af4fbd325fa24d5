package schema

import (
	"slices"
	"testing"
)

func TestLocationEnums(t *testing.T) {
	if got := len(Capabilities()); got != 13 {
		t.Errorf("len(Capabilities()) = %d, want 13", got)
	}
	if got := len(Facilities()); got != 20 {
		t.Errorf("len(Facilities()) = %d, want 20", got)
	}
	if got, want := ParkingRestrictions(), []ParkingRestriction{"EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"}; !slices.Equal(got, want) {
		t.Errorf("ParkingRestrictions() = %v, want %v", got, want)
	}
	if got, want := ParkingTypes(), []ParkingType{"ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"}; !slices.Equal(got, want) {
		t.Errorf("ParkingTypes() = %v, want %v", got, want)
	}
	for _, test := range []struct {
		name string
		got  bool
		want bool
	}{
		{"Capability RFID_READER", Capability("RFID_READER").Valid(), true},
		{"Capability START_SESSION_CONNECTOR_REQUIRED", Capability("START_SESSION_CONNECTOR_REQUIRED").Valid(), true},
		{"Capability rfid_reader", Capability("rfid_reader").Valid(), false},
		{"ParkingRestriction Customers", ParkingRestriction("Customers").Valid(), false},
		{"ParkingRestriction EMPLOYEES (2.3.0)", ParkingRestriction("EMPLOYEES").Valid(), false},
		{"ParkingType ON_STREET", ParkingType("ON_STREET").Valid(), true},
		{"ParkingType OTHER (2.1.1)", ParkingType("OTHER").Valid(), false},
		{"Facility WIFI", Facility("WIFI").Valid(), true},
		{"Facility Wifi", Facility("Wifi").Valid(), false},
	} {
		if test.got != test.want {
			t.Errorf("%s: Valid() = %t, want %t", test.name, test.got, test.want)
		}
	}
}

func TestValidCoordinates(t *testing.T) {
	for _, test := range []struct {
		in      string
		wantLat bool
		wantLon bool
	}{
		{"52.37403", true, true},
		{"4.88969", true, true},
		{"-33.8688197", false, true}, // 11 characters: longer than OCPI's latitude (10)
		{"-33.868819", true, true},
		{"33.8688197", true, true},
		{"0.00000", true, true},
		{"-0.00000", true, true},
		{"90.00000", true, true},
		{"-90.0000000", false, true},
		{"-90.000000", true, true},
		{"-123.1234567", false, false}, // 12 characters: longer than OCPI's longitude (11)
		{"-123.123456", false, true},
		{"123.1234567", false, true},
		{"90.00001", false, true},
		{"99.00000", false, true},
		{"151.20930", false, true},
		{"180.0000000", false, true},
		{"-180.00000", false, true},
		{"180.00001", false, false},
		{"999.00000", false, false},
		{"1000.00000", false, false},
		{"52.3740", false, false},      // 4 decimals
		{"52.374030001", false, false}, // 9 decimals
		{"52", false, false},
		{"+52.37403", false, false},
		{"52,37403", false, false},
		{" 52.37403", false, false},
		{"52.37403 ", false, false},
		{".37403", false, false},
		{"5e1.00000", false, false},
		{"", false, false},
	} {
		if got := ValidLatitude(test.in); got != test.wantLat {
			t.Errorf("ValidLatitude(%q) = %t, want %t", test.in, got, test.wantLat)
		}
		if got := ValidLongitude(test.in); got != test.wantLon {
			t.Errorf("ValidLongitude(%q) = %t, want %t", test.in, got, test.wantLon)
		}
	}
}

func TestValidTimeZone(t *testing.T) {
	for _, test := range []struct {
		in   string
		want bool
	}{
		{"Europe/Amsterdam", true},
		{"Europe/Oslo", true},
		{"America/Argentina/Buenos_Aires", true},
		{"UTC", true},
		{"Etc/GMT+2", true},
		{"", false},
		{"Local", false},
		{"W. Europe Standard Time", false},
		{"Europe/Atlantis", false},
		{"../etc/passwd", false},
		{"/etc/localtime", false},
		{"+02:00", false},
	} {
		if got := ValidTimeZone(test.in); got != test.want {
			t.Errorf("ValidTimeZone(%q) = %t, want %t", test.in, got, test.want)
		}
	}
}

func TestCountries(t *testing.T) {
	if got := len(countries); got != 249 {
		t.Errorf("len(countries) = %d, want 249", got)
	}
	seen2, seen3 := map[string]bool{}, map[string]bool{}
	for i, c := range countries {
		if seen2[c.alpha2] || seen3[c.alpha3] {
			t.Errorf("duplicate country %v", c)
		}
		seen2[c.alpha2], seen3[c.alpha3] = true, true
		if i > 0 && countries[i-1].alpha2 >= c.alpha2 {
			t.Errorf("countries not sorted at %v", c)
		}
		if a3, ok := CountryAlpha3(c.alpha2); !ok || a3 != c.alpha3 {
			t.Errorf("CountryAlpha3(%q) = %q, %t, want %q, true", c.alpha2, a3, ok, c.alpha3)
		}
		if a2, ok := CountryAlpha2(c.alpha3); !ok || a2 != c.alpha2 {
			t.Errorf("CountryAlpha2(%q) = %q, %t, want %q, true", c.alpha3, a2, ok, c.alpha2)
		}
	}
	for _, test := range []struct {
		in         string
		want2      bool
		want3      bool
		wantAlpha3 string
	}{
		{"NL", true, false, "NLD"},
		{"NLD", false, true, ""},
		{"DE", true, false, "DEU"},
		{"GB", true, false, "GBR"},
		{"BQ", true, false, "BES"},
		{"CW", true, false, "CUW"},
		{"SS", true, false, "SSD"},
		{"NOR", false, true, ""},
		{"nl", false, false, ""},
		{"nld", false, false, ""},
		{"UK", false, false, ""},
		{"XK", false, false, ""},
		{"EU", false, false, ""},
		{"AN", false, false, ""}, // withdrawn
		{"XXX", false, false, ""},
		{"", false, false, ""},
	} {
		if got := ValidCountryAlpha2(test.in); got != test.want2 {
			t.Errorf("ValidCountryAlpha2(%q) = %t, want %t", test.in, got, test.want2)
		}
		if got := ValidCountryAlpha3(test.in); got != test.want3 {
			t.Errorf("ValidCountryAlpha3(%q) = %t, want %t", test.in, got, test.want3)
		}
		if got, _ := CountryAlpha3(test.in); got != test.wantAlpha3 {
			t.Errorf("CountryAlpha3(%q) = %q, want %q", test.in, got, test.wantAlpha3)
		}
	}
}
