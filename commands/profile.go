package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
	"github.com/gin-gonic/gin"
)

// ---- security-profile: raise a station's security profile remotely (ocpp.md §4.7).
//
//   - OCPP 1.6 (security extension): ChangeConfiguration SecurityProfile. A station that
//     accepts reconnects with the new profile by itself.
//   - OCPP 2.0.1: the station's NetworkConfigurationPriority is read, SetNetworkProfile puts a
//     connection profile with evroam's TLS URL (Config.SecureURL) and the new profile in the
//     next free slot, SetVariables puts that slot first in NetworkConfigurationPriority (the
//     old ones after it, to fall back on), and Reset OnIdle makes the station use it.
//
// Before the first CALL the profile is recorded as pending (Profiles.Begin): the station may
// then log in with its old or its new profile, and its first login that meets the new one
// makes it the station's security_profile. A refusal at any step ends the upgrade
// (Profiles.Fail, shown as the station's security_profile_error) and the old profile keeps
// working; with no answer in time (504) the upgrade stays pending, since the station may
// have taken it.

// Profiles records security profile upgrades. cmd/evroam implements it over the
// charge-station service.
type Profiles interface {
	// Begin records profile as the station's pending profile. A station that cannot move to
	// it is a field error on "profile" (422).
	Begin(ctx context.Context, identity string, profile int) error
	// Fail ends the upgrade to profile; reason is shown on the station.
	Fail(ctx context.Context, identity string, profile int, reason string) error
}

type securityProfileRequest struct {
	Profile int `json:"profile" validate:"required,oneof=2 3"`
	// ConfigurationSlot (2.0.1) is the network connection profile slot to use; default: one
	// more than the highest in NetworkConfigurationPriority.
	ConfigurationSlot *int `json:"configurationSlot" validate:"omitempty,min=1,max=100"`
}

func (r *securityProfileRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 && r.ConfigurationSlot != nil {
		fe.Add("configurationSlot", "needs an OCPP 2.0.1 station")
	}
	return fe
}

type securityProfileResponse struct {
	ChargeBoxID string `json:"chargeBoxId"`
	Profile     int    `json:"profile"`
	Status      string `json:"status"`
	Message     string `json:"message"`
}

type securityProfileEndpoint struct{}

func (securityProfileEndpoint) route() string { return "security-profile" }

// errStep is a step of the upgrade that the station refused: why, in the operator's words.
type errStep struct{ reason string }

func (e errStep) Error() string { return e.reason }

func (securityProfileEndpoint) serve(h *Handler, c *gin.Context) error {
	var req securityProfileRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	if h.Profiles == nil {
		return errors.New("commands: no Profiles configured")
	}
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 && h.cfg.SecureURL == "" {
		return fmt.Errorf("evroam has no TLS URL for stations (EVROAM_OCPP_TLS_ADDR or EVROAM_OCPP_TLS_PUBLIC_URL): %w", apperr.Conflict)
	}
	if st.ProtocolVersion == "" {
		return commandError(st.Identity, "ChangeConfiguration", h.cfg.Timeout, ocpp.ErrNotConnected)
	}
	ctx := c.Request.Context()
	if err := h.Profiles.Begin(ctx, st.Identity, req.Profile); err != nil {
		return err
	}
	var out outgoing[ocpp.StatusResponse]
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 {
		out = outgoing[ocpp.StatusResponse]{action: "SetNetworkProfile", run: func(call caller) (ocpp.StatusResponse, error) {
			return upgrade201(call, &req, h.cfg.SecureURL)
		}}
	} else {
		out = statusCall("ChangeConfiguration", changeConfiguration16{Key: "SecurityProfile", Value: strconv.Itoa(req.Profile)})
	}
	ans, err := out.exchange(ctx, h, st)
	settle := context.WithoutCancel(ctx)
	var refused errStep
	switch {
	case errors.Is(err, apperr.Timeout):
		return err // the station may have taken it: the upgrade stays pending
	case errors.As(err, &refused):
		if ferr := h.Profiles.Fail(settle, st.Identity, req.Profile, refused.reason); ferr != nil {
			return ferr
		}
		c.JSON(http.StatusOK, securityProfileResponse{ChargeBoxID: st.Identity, Profile: req.Profile, Status: "Rejected",
			Message: "Security profile upgrade rejected: " + refused.reason + "; the station keeps its profile"})
		return nil
	case err != nil:
		return errors.Join(err, h.Profiles.Fail(settle, st.Identity, req.Profile, apperr.Message(err)))
	}
	if ans.Status != "Accepted" && ans.Status != "RebootRequired" {
		reason := withInfo("the station answered "+ans.Status+" to ChangeConfiguration SecurityProfile", ans.StatusInfo)
		if err := h.Profiles.Fail(settle, st.Identity, req.Profile, reason); err != nil {
			return err
		}
		c.JSON(http.StatusOK, securityProfileResponse{ChargeBoxID: st.Identity, Profile: req.Profile, Status: ans.Status,
			Message: "Security profile upgrade " + verb(ans.Status) + ": the station keeps its profile"})
		return nil
	}
	c.JSON(http.StatusOK, securityProfileResponse{ChargeBoxID: st.Identity, Profile: req.Profile, Status: "Accepted",
		Message: fmt.Sprintf("Security profile upgrade accepted: security_profile becomes %d when the station reconnects with it", req.Profile)})
	return nil
}

// upgrade201 runs the 2.0.1 steps; a step the station refuses is an errStep.
func upgrade201(call caller, req *securityProfileRequest, secureURL string) (ocpp.StatusResponse, error) {
	priorityRef := ocpp.VariableRef{Component: ocpp.Component{Name: "OCPPCommCtrlr"}, Variable: ocpp.Variable{Name: "NetworkConfigurationPriority"}}
	var got ocpp.GetVariablesResponse
	if err := call("GetVariables", ocpp.GetVariablesRequest{GetVariableData: []ocpp.VariableRef{priorityRef}}, &got); err != nil {
		return ocpp.StatusResponse{}, err
	}
	var priority []int
	if len(got.GetVariableResult) == 1 && got.GetVariableResult[0].AttributeValue != nil {
		for _, f := range strings.Split(*got.GetVariableResult[0].AttributeValue, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
				priority = append(priority, n)
			}
		}
	}
	slot := 1
	if len(priority) > 0 {
		slot = slices.Max(priority) + 1
	}
	if req.ConfigurationSlot != nil {
		slot = *req.ConfigurationSlot
	}

	var set ocpp.StatusResponse
	profile := map[string]any{"configurationSlot": slot, "connectionData": map[string]any{
		"ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": secureURL, "messageTimeout": 30,
		"securityProfile": req.Profile, "ocppInterface": "Wired0"}}
	if err := call("SetNetworkProfile", profile, &set); err != nil {
		return ocpp.StatusResponse{}, err
	}
	if set.Status != "Accepted" {
		return ocpp.StatusResponse{}, errStep{withInfo("the station answered "+set.Status+" to SetNetworkProfile", set.StatusInfo)}
	}

	order := []string{strconv.Itoa(slot)}
	for _, n := range priority {
		if n != slot {
			order = append(order, strconv.Itoa(n))
		}
	}
	var setVars ocpp.SetVariablesResponse
	if err := call("SetVariables", ocpp.SetVariablesRequest{SetVariableData: []ocpp.SetVariableData{{VariableRef: priorityRef,
		AttributeValue: strings.Join(order, ",")}}}, &setVars); err != nil {
		return ocpp.StatusResponse{}, err
	}
	if len(setVars.SetVariableResult) != 1 || (setVars.SetVariableResult[0].AttributeStatus != "Accepted" &&
		setVars.SetVariableResult[0].AttributeStatus != "RebootRequired") {
		status := "no result"
		if len(setVars.SetVariableResult) == 1 {
			status = setVars.SetVariableResult[0].AttributeStatus
		}
		return ocpp.StatusResponse{}, errStep{"the station answered " + status + " to SetVariables NetworkConfigurationPriority"}
	}

	var reset ocpp.StatusResponse
	if err := call("Reset", reset201{Type: "OnIdle"}, &reset); err != nil {
		return ocpp.StatusResponse{}, err
	}
	if reset.Status != "Accepted" && reset.Status != "Scheduled" {
		return ocpp.StatusResponse{}, errStep{withInfo("the station answered "+reset.Status+" to Reset", reset.StatusInfo)}
	}
	return ocpp.StatusResponse{Status: "Accepted"}, nil
}
