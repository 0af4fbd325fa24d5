package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestSimulateCreate runs `evroam simulate --create` against the whole service: the stations
// are created through the REST API, connect with their password (one 1.6, one 2.0.1), boot
// and report their EVSEs, and a second run reuses them.
func TestSimulateCreate(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	const password = "sim-station-password-1"
	args := []string{"simulate", "--create", "--api-url", e.api + "/api/v1", "--api-key", "test-admin-key-0123456789abcdefghij",
		"--url", e.ocppURL, "--count", "2", "--prefix", "E2E-SIM-", "--digits", "2", "--protocol", "mix",
		"--password", password, "--progress-interval", "100ms"}
	noEnv := func(string) string { return "" }

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, noEnv, &out, io.Discard) }()

	want := map[string]string{"E2E-SIM-01": "Ocpp16", "E2E-SIM-02": "Ocpp201"}
	for id, proto := range want {
		eventually(t, id+" onboarded", func() error {
			var s struct {
				stationView
				HasOCPPPassword bool `json:"has_ocpp_password"`
				SecurityProfile int  `json:"security_profile"`
				TemplateID      any  `json:"charge_station_template_id"`
			}
			if code, body := e.do("GET", "/api/v1/chargestations/"+id, nil); code != 200 {
				return fmt.Errorf("GET: %d %s", code, body)
			}
			e.must("GET", "/api/v1/chargestations/"+id, nil, 200, &s)
			switch {
			case s.OnboardingState != "Onboarded":
				return fmt.Errorf("onboarding_state %s", s.OnboardingState)
			case str(s.ConnectivityStatus) != "Online" || str(s.ProtocolVersion) != proto:
				return fmt.Errorf("connectivity %s, protocol %s", str(s.ConnectivityStatus), str(s.ProtocolVersion))
			case str(s.ChargePointVendor) != "evroam" || str(s.ChargePointModel) != "Simulator":
				return fmt.Errorf("vendor %s, model %s", str(s.ChargePointVendor), str(s.ChargePointModel))
			case !s.HasOCPPPassword || s.SecurityProfile != 1:
				return fmt.Errorf("has_ocpp_password %v, security_profile %d", s.HasOCPPPassword, s.SecurityProfile)
			case len(s.EVSEs) != 2 || s.EVSEs[0].Status != "AVAILABLE" || s.EVSEs[1].Status != "AVAILABLE":
				return fmt.Errorf("EVSEs %+v, want two AVAILABLE", s.EVSEs)
			}
			return nil
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("simulate: %v\n%s", err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "stations: 2 created, 0 existed already") || !strings.Contains(got, "BootNotification") {
		t.Errorf("output:\n%s", got)
	}

	// Again: the stations exist (409) and are reused; they connect with the same password.
	var again syncBuffer
	if err := run(t.Context(), append(args, "--duration", "1s"), noEnv, &again, io.Discard); err != nil {
		t.Fatalf("second simulate: %v\n%s", err, again.String())
	}
	if got := again.String(); !strings.Contains(got, "stations: 0 created, 2 existed already") || !strings.Contains(got, "at most 2 of 2 connected") {
		t.Errorf("second run output:\n%s", got)
	}
}
