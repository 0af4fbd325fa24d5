package schema

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"
)

func newValidator(t *testing.T) *validator.Validate {
	t.Helper()
	v := validator.New(validator.WithRequiredStructEnabled())
	if err := RegisterValidations(v); err != nil {
		t.Fatalf("RegisterValidations() = %v", err)
	}
	return v
}

// connectorDTO mixes typed, untyped, pointer and slice fields, as request
// structs in the feature packages do.
type connectorDTO struct {
	Standard       ConnectorStandard   `validate:"ocpi_connector_standard"`
	StandardString string              `validate:"ocpi_connector_standard"`
	StandardPtr    *string             `validate:"omitempty,ocpi_connector_standard"`
	TypedPtr       *ConnectorStandard  `validate:"omitempty,ocpi_connector_standard"`
	Format         ConnectorFormat     `validate:"ocpi_connector_format"`
	PowerType      string              `validate:"ocpi_power_type"`
	Internal       string              `validate:"omitempty,connector_internal"`
	Capabilities   []Capability        `validate:"dive,ocpi_capability"`
	Restrictions   []string            `validate:"omitempty,dive,ocpi_parking_restriction"`
	Status         Status              `validate:"omitempty,ocpi_status"`
	Profile        SecurityProfile     `validate:"security_profile"`
	ProfilePtr     *int                `validate:"omitempty,security_profile"`
	ProfileUint    uint8               `validate:"security_profile"`
	Facilities     []Facility          `validate:"dive,ocpi_facility"`
	ParkingType    *ParkingType        `validate:"omitempty,ocpi_parking_type"`
	Map            map[string]Status   `validate:"dive,ocpi_status"`
	Nested         []nestedCapabilites `validate:"dive"`
}

type nestedCapabilites struct {
	Capabilities []Capability `validate:"required,dive,ocpi_capability"`
}

func ptr[T any](v T) *T { return &v }

func validConnectorDTO() connectorDTO {
	return connectorDTO{
		Standard:       ConnectorIEC62196T2,
		StandardString: "IEC_60309_2_single_16",
		StandardPtr:    ptr("CHADEMO"),
		TypedPtr:       ptr(ConnectorTeslaS),
		Format:         FormatSocket,
		PowerType:      "AC_3_PHASE",
		Internal:       "Mennekes_Socket",
		Capabilities:   []Capability{CapabilityRFIDReader, CapabilityRemoteStartStopCapable},
		Restrictions:   []string{"EV_ONLY"},
		Status:         StatusAvailable,
		Profile:        SecurityProfileTLSClientCert,
		ProfilePtr:     ptr(0),
		ProfileUint:    2,
		Facilities:     []Facility{FacilityWifi},
		ParkingType:    ptr(ParkingTypeOnStreet),
		Map:            map[string]Status{"1": StatusCharging},
		Nested:         []nestedCapabilites{{Capabilities: []Capability{CapabilityReservable}}},
	}
}

// failures returns "Namespace:tag" for each validation error of err.
func failures(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		t.Fatalf("Struct() error = %v, want validator.ValidationErrors", err)
	}
	var out []string
	for _, fe := range verrs {
		out = append(out, strings.TrimPrefix(fe.Namespace(), "connectorDTO.")+":"+fe.Tag())
		if msg := Message(fe); msg == "" || strings.HasPrefix(msg, "is invalid") {
			t.Errorf("Message(%s) = %q, want a specific message", fe.Tag(), msg)
		}
	}
	return out
}

func TestRegisterValidationsOnStruct(t *testing.T) {
	v := newValidator(t)
	for _, test := range []struct {
		name   string
		modify func(*connectorDTO)
		want   []string
	}{
		{"OK", func(*connectorDTO) {}, nil},
		{"NilPointersAndEmptyOptionals", func(d *connectorDTO) {
			d.StandardPtr, d.TypedPtr, d.ProfilePtr, d.ParkingType = nil, nil, nil, nil
			d.Internal, d.Status, d.Restrictions = "", "", nil
		}, nil},
		{"LowerCaseTypedStandard", func(d *connectorDTO) { d.Standard = "iec_62196_t2" }, []string{"Standard:ocpi_connector_standard"}},
		{"EmptyRequiredStandard", func(d *connectorDTO) { d.StandardString = "" }, []string{"StandardString:ocpi_connector_standard"}},
		{"BadPointers", func(d *connectorDTO) {
			d.StandardPtr = ptr("Type2")
			d.TypedPtr = ptr(ConnectorStandard("MCS"))
			d.ParkingType = ptr(ParkingType("OTHER"))
			d.ProfilePtr = ptr(4)
		}, []string{"StandardPtr:ocpi_connector_standard", "TypedPtr:ocpi_connector_standard", "ProfilePtr:security_profile", "ParkingType:ocpi_parking_type"}},
		// omitempty skips nil pointers only: an explicit "" is checked, and fails.
		{"EmptyStringInPointer", func(d *connectorDTO) { d.StandardPtr = ptr("") }, []string{"StandardPtr:ocpi_connector_standard"}},
		{"BadScalars", func(d *connectorDTO) {
			d.Format = "Cable"
			d.PowerType = "AC"
			d.Internal = "CCS2_CABLE"
			d.Status = "Available"
			d.Profile = -1
			d.ProfileUint = 9
		}, []string{"Format:ocpi_connector_format", "PowerType:ocpi_power_type", "Internal:connector_internal", "Status:ocpi_status", "Profile:security_profile", "ProfileUint:security_profile"}},
		{"BadSliceElements", func(d *connectorDTO) {
			d.Capabilities = []Capability{CapabilityRFIDReader, "NFC"}
			d.Restrictions = []string{"EV_ONLY", "Customers"}
			d.Facilities = []Facility{"WIFI", "wifi"}
			d.Map = map[string]Status{"1": "FREE"}
			d.Nested = []nestedCapabilites{{Capabilities: []Capability{"X"}}}
		}, []string{"Capabilities[1]:ocpi_capability", "Restrictions[1]:ocpi_parking_restriction", "Facilities[1]:ocpi_facility", "Map[1]:ocpi_status", "Nested[0].Capabilities[0]:ocpi_capability"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			d := validConnectorDTO()
			test.modify(&d)
			got := failures(t, v.Struct(d))
			if !slices.Equal(got, test.want) {
				t.Errorf("Struct() failures = %v, want %v", got, test.want)
			}
		})
	}
}

func TestRegisterValidationsTags(t *testing.T) {
	v := newValidator(t)
	type named string
	for _, test := range []struct {
		tag  string
		good []any
		bad  []any
	}{
		{"ocpi_connector_standard", []any{"IEC_62196_T2", ConnectorIEC62196T2Combo}, []any{"iec_62196_t2", "", 5, named("IEC_62196_T2 ")}},
		{"ocpi_connector_format", []any{"SOCKET", FormatCable}, []any{"socket"}},
		{"ocpi_power_type", []any{"AC_2_PHASE_SPLIT", PowerDC}, []any{"AC"}},
		{"ocpi_status", []any{"REMOVED", StatusUnknown}, []any{"Unknown"}},
		{"ocpi_capability", []any{"UNLOCK_CAPABLE"}, []any{"UNLOCK"}},
		{"ocpi_parking_restriction", []any{"MOTORCYCLES"}, []any{"TAXIS"}},
		{"ocpi_parking_type", []any{"ON_DRIVEWAY"}, []any{"ON_DRIVE_WAY"}},
		{"ocpi_facility", []any{"CARPOOL_PARKING"}, []any{"CARPOOL"}},
		{"connector_internal", []any{"DOMESTIC_L_Socket", InternalChaDeMoCable}, []any{"DOMESTIC_M_Socket", "chademo_cable"}},
		{"deploy_state", []any{"Production", DeployStock}, []any{"production", "PRODUCTION"}},
		{"charger_type", []any{"Home", ChargerBusiness}, []any{"home", "Private"}},
		{"contactless_type", []any{"Nayax", ContactlessPayter}, []any{"nayax", "SumUp"}},
		{"security_profile", []any{0, 1, 2, 3, SecurityProfileTLSBasic, int64(3), uint(0)}, []any{-1, 4, 100, "1"}},
		{"country_alpha2", []any{"NL", "NO"}, []any{"nl", "NLD", "XK"}},
		{"country_alpha3", []any{"NLD", "NOR"}, []any{"nld", "NL", "XXX"}},
		{"party_id", []any{"EVR", "GFX"}, []any{"evr", "EVRX", "E-R"}},
		{"ocpi_latitude", []any{"52.37403", "-90.000000", "90.0000000"}, []any{"52.374", "91.00000", 52.37403, "-52.1234567"}},
		{"ocpi_longitude", []any{"4.88969", "-180.00000"}, []any{"4.8", "181.00000"}},
		{"time_zone", []any{"Europe/Amsterdam", "UTC"}, []any{"Local", "", "Europe/Nowhere"}},
		{"charge_station_id", []any{"CS-0001", strings.Repeat("A", 48)}, []any{"CS 0001", "a:b", strings.Repeat("A", 49)}},
		{"evse_id", []any{"NL*EVR*E12345*1", "nlevre12345"}, []any{"NL-EVR-E1", "NL*EVR*E"}},
	} {
		for _, good := range test.good {
			if err := v.Var(good, test.tag); err != nil {
				t.Errorf("Var(%#v, %q) = %v, want nil", good, test.tag, err)
			}
		}
		for _, bad := range test.bad {
			if err := v.Var(bad, test.tag); err == nil {
				t.Errorf("Var(%#v, %q) = nil, want an error", bad, test.tag)
			}
		}
		if msg := TagMessage(test.tag, ""); strings.HasPrefix(msg, "is invalid") {
			t.Errorf("TagMessage(%q) = %q, want a specific message", test.tag, msg)
		}
	}
	for _, good := range []string{"LOC-1", "a.b_c~d:", "1234@678"} {
		if err := v.Var(good, "path_id=8"); err != nil {
			t.Errorf("Var(%q, path_id=8) = %v, want nil", good, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a b", "a%2F", "a?b", "a#b", "123456789", "é"} {
		if err := v.Var(bad, "path_id=8"); err == nil {
			t.Errorf("Var(%q, path_id=8) = nil, want an error", bad)
		}
	}
	if got, want := len(Tags()), 22; got != want {
		t.Errorf("len(Tags()) = %d, want %d", got, want)
	}
}

func TestTagMessage(t *testing.T) {
	for _, test := range []struct {
		tag, param, want string
	}{
		{"ocpi_connector_standard", "", "must be one of the 40 OCPI 2.2.1 ConnectorType values, case-sensitive (e.g. IEC_62196_T2, IEC_62196_T2_COMBO, CHADEMO)"},
		{"ocpi_power_type", "", "must be one of AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE, DC (case-sensitive)"},
		{"required", "", "is required"},
		{"gt", "0", "must be greater than 0"},
		{"gte", "1", "must be at least 1"},
		{"lte", "1000", "must be at most 1000"},
		{"max", "255", "must be at most 255 (characters for text, items for lists)"},
		{"min", "1", "must be at least 1 (characters for text, items for lists)"},
		{"oneof", "Immediate OnIdle", "must be one of: Immediate, OnIdle"},
		{"dive", "", "has an invalid element"},
		{"uuid", "", "must be a UUID"},
		{"url", "", "must be an absolute URL"},
		{"no_such_tag", "", "is invalid (rule no_such_tag)"},
		{"no_such_tag", "x", "is invalid (rule no_such_tag=x)"},
	} {
		if got := TagMessage(test.tag, test.param); got != test.want {
			t.Errorf("TagMessage(%q, %q) = %q, want %q", test.tag, test.param, got, test.want)
		}
	}
}

func TestMessageKnowsKinds(t *testing.T) {
	v := newValidator(t)
	type dto struct {
		Name  string   `validate:"max=3"`
		Tags  []string `validate:"min=2"`
		Count int      `validate:"max=5"`
		Zone  string   `validate:"len=2"`
	}
	err := v.Struct(dto{Name: "abcd", Tags: []string{"a"}, Count: 6, Zone: "abc"})
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		t.Fatalf("Struct() = %v, want ValidationErrors", err)
	}
	var got []string
	for _, fe := range verrs {
		got = append(got, Message(fe))
	}
	want := []string{"must have at most 3 characters", "must have at least 2 items", "must be at most 5", "must have exactly 2 characters"}
	if !slices.Equal(got, want) {
		t.Errorf("Message() = %q, want %q", got, want)
	}
}
