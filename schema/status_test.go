package schema

import (
	"slices"
	"testing"
)

func TestStatuses(t *testing.T) {
	want := []Status{"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED", "RESERVED", "UNKNOWN"}
	if got := Statuses(); !slices.Equal(got, want) {
		t.Errorf("Statuses() = %v, want %v", got, want)
	}
	for _, bad := range []Status{"available", "Available", "OUT_OF_ORDER", ""} {
		if bad.Valid() {
			t.Errorf("Status(%q).Valid() = true, want false", bad)
		}
	}
}

func TestStatusFromOCPPAndFriendlyStatus(t *testing.T) {
	for _, test := range []struct {
		ocpp         string
		wantOCPI     Status
		wantFriendly string
	}{
		{"Available", StatusAvailable, "Ready"},
		{"Preparing", StatusCharging, "Ready"},
		{"Charging", StatusCharging, "Charging"},
		{"SuspendedEVSE", StatusCharging, "Charging paused"},
		{"SuspendedEV", StatusCharging, "Done or paused"},
		{"Finishing", StatusCharging, "Finishing"},
		{"Occupied", StatusCharging, "Charging"},
		{"Reserved", StatusReserved, "Reserved"},
		{"Unavailable", StatusInoperative, "Unavailable"},
		{"Faulted", StatusOutOfOrder, "Faulted"},
		{"available", StatusUnknown, "Unavailable"},
		{"FAULTED", StatusUnknown, "Unavailable"},
		{"Offline", StatusUnknown, "Unavailable"},
		{"", StatusUnknown, "Unavailable"},
	} {
		if got := StatusFromOCPP(test.ocpp); got != test.wantOCPI {
			t.Errorf("StatusFromOCPP(%q) = %q, want %q", test.ocpp, got, test.wantOCPI)
		}
		if got := FriendlyStatus(test.ocpp); got != test.wantFriendly {
			t.Errorf("FriendlyStatus(%q) = %q, want %q", test.ocpp, got, test.wantFriendly)
		}
	}
	for _, c := range ConnectorStatuses() {
		if !c.Valid() {
			t.Errorf("%q.Valid() = false, want true", c)
		}
		if StatusFromOCPP(string(c)) == StatusUnknown {
			t.Errorf("StatusFromOCPP(%q) = UNKNOWN for a known OCPP status", c)
		}
		if f := FriendlyStatus(string(c)); !slices.Contains(FriendlyStatuses(), f) || f == FriendlyOffline {
			t.Errorf("FriendlyStatus(%q) = %q, not a friendly status other than Offline", c, f)
		}
	}
	if got := len(FriendlyStatuses()); got != 9 {
		t.Errorf("len(FriendlyStatuses()) = %d, want 9", got)
	}
}

func TestAggregateStatus(t *testing.T) {
	const (
		av  = StatusAvailable
		bl  = StatusBlocked
		ch  = StatusCharging
		ino = StatusInoperative
		oo  = StatusOutOfOrder
		pl  = StatusPlanned
		rm  = StatusRemoved
		rs  = StatusReserved
		un  = StatusUnknown
	)
	for _, test := range []struct {
		name  string
		evses []Status
		want  Status
	}{
		{"NoEVSEs", nil, un},
		{"EmptySlice", []Status{}, un},
		{"OneAvailable", []Status{av}, av},
		{"AvailableBeatsEverything", []Status{oo, ch, rs, bl, rm, un, pl, ino, av}, av},
		{"ChargingBeatsReserved", []Status{rs, ch, oo}, ch},
		{"AllCharging", []Status{ch, ch}, ch},
		{"ReservedBeatsBlocked", []Status{bl, rs, un}, rs},
		{"BlockedBeatsRemoved", []Status{rm, bl}, bl},
		{"AllRemoved", []Status{rm, rm, rm}, rm},
		{"RemovedAndOutOfOrder", []Status{rm, oo}, oo},
		{"OutOfOrderBeatsInoperative", []Status{ino, oo, un}, oo},
		{"InoperativeBeatsPlanned", []Status{pl, ino}, ino},
		{"PlannedBeatsUnknown", []Status{un, pl}, pl},
		{"AllUnknown", []Status{un, un}, un},
		{"RemovedAndUnknown", []Status{rm, un}, un},
		{"InvalidCountsAsUnknown", []Status{"available", "BROKEN"}, un},
		{"InvalidAndRemoved", []Status{rm, "removed"}, un},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := AggregateStatus(test.evses); got != test.want {
				t.Errorf("AggregateStatus(%v) = %q, want %q", test.evses, got, test.want)
			}
		})
	}
}

func TestEVSEFriendlyStatus(t *testing.T) {
	for _, test := range []struct{ ocpp, charging, want string }{
		{"Occupied", "SuspendedEV", "Done or paused"},
		{"Occupied", "SuspendedEVSE", "Charging paused"},
		{"Occupied", "EVConnected", "Ready"},
		{"Occupied", "Charging", "Charging"},
		{"Occupied", "", "Charging"},
		{"Reserved", "", "Reserved"},
		// Only Occupied is refined: a 1.6 status says it all.
		{"Charging", "SuspendedEV", "Charging"},
		{"Faulted", "SuspendedEVSE", "Faulted"},
	} {
		if got := EVSEFriendlyStatus(test.ocpp, test.charging); got != test.want {
			t.Errorf("EVSEFriendlyStatus(%q, %q) = %q, want %q", test.ocpp, test.charging, got, test.want)
		}
	}
}
