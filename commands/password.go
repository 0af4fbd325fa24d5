package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/ocpp"
	"github.com/gin-gonic/gin"
)

// ---- password: rotate a station's OCPP password (security profiles 1 and 2).
//
// The new password is sent as 1.6 ChangeConfiguration AuthorizationKey (its hex form, as the
// security whitepaper has it) or 2.0.1 SetVariables SecurityCtrlr.BasicAuthPassword. Unlike
// the other commands it changes what evroam keeps, around the CALL (Passwords):
//
//  1. before sending, the new password is offered: from then on the station may log in with
//     either (a station that applies it and reconnects before its answer arrives is let in);
//  2. Accepted: the new password becomes the current one; the old one stays accepted until
//     the station logs in with the new one. RebootRequired: both stay accepted, and the
//     station's first login with the new one makes it current. Rejected, NotSupported, a
//     CALLERROR or a station that is not connected: the offer is withdrawn.
//  3. No answer in time (504): the offer stays, since the station may have taken it; its
//     first login with the new password makes it current.
//
// A generated password is in the 200 answer of a station that took it, once; evroam keeps
// only its hash and verifier.

// Passwords changes the passwords stations may log in with. cmd/evroam implements it over
// the charge-station service.
type Passwords interface {
	// Offer lets the station log in with password alongside its current one; token names
	// the offer in Confirm and Withdraw.
	Offer(ctx context.Context, identity, password string) (token string, err error)
	Confirm(ctx context.Context, identity, token string) error
	Withdraw(ctx context.Context, identity, token string) error
}

type passwordRequest struct {
	// Password is the new password; empty: evroam generates one (20 characters).
	Password string `json:"password" validate:"omitempty,min=16,max=40,printascii"`
}

func (r *passwordRequest) check(proto string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if proto == ocpp.ProtocolOCPP16 && len(r.Password) > 20 {
		// AuthorizationKey holds at most 40 hex digits: 20 bytes.
		fe.Add("password", "must have at most 20 characters for an OCPP 1.6 station")
	}
	return fe
}

type passwordResponse struct {
	ChargeBoxID string `json:"chargeBoxId"`
	Status      string `json:"status"`
	Message     string `json:"message"`
	// Password is the generated password, shown once, when the station took it.
	Password string `json:"password,omitempty"`
}

var passwordMessages = map[string]string{
	"Accepted":       "Password changed: the station logs in with the new one from its next connection",
	"RebootRequired": "Password change accepted by the station after a reboot: both passwords log in until it uses the new one",
	"Rejected":       "Password change rejected by the charger: the old password stays",
	"NotSupported":   "Password change not supported by the charger: the old password stays",
}

type passwordEndpoint struct{}

func (passwordEndpoint) route() string { return "password" }

func (passwordEndpoint) serve(h *Handler, c *gin.Context) error {
	var req passwordRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	if h.Passwords == nil {
		return errors.New("commands: no Passwords configured")
	}
	generated := req.Password == ""
	if generated {
		req.Password = newPassword()
	}
	ctx := c.Request.Context()
	token, err := h.Passwords.Offer(ctx, st.Identity, req.Password)
	if err != nil {
		return err
	}
	var out outgoing[ocpp.StatusResponse]
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 {
		out = changeConfigurationCommand.ocpp201(&changeConfigurationRequest{Key: "SecurityCtrlr.BasicAuthPassword", Value: &req.Password})
	} else {
		out = statusCall("ChangeConfiguration", changeConfiguration16{Key: "AuthorizationKey", Value: hex.EncodeToString([]byte(req.Password))})
	}
	ans, err := out.exchange(ctx, h, st)
	// The offer's fate is decided even when the request is gone.
	settle := context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, apperr.Timeout):
		return err // the station may have taken it: the offer stays
	case err != nil:
		return errors.Join(err, ignoreSuperseded(h.Passwords.Withdraw(settle, st.Identity, token)))
	case ans.Status == "Accepted":
		err = h.Passwords.Confirm(settle, st.Identity, token)
	case ans.Status == "RebootRequired":
	default:
		err = ignoreSuperseded(h.Passwords.Withdraw(settle, st.Identity, token))
	}
	if err != nil {
		return err
	}
	res := passwordResponse{ChargeBoxID: st.Identity, Status: ans.Status, Message: passwordMessages[ans.Status]}
	if res.Message == "" {
		res.Message = withInfo("Password change "+verb(ans.Status)+": the old password stays", ans.StatusInfo)
	} else {
		res.Message = withInfo(res.Message, ans.StatusInfo)
	}
	if generated && (ans.Status == "Accepted" || ans.Status == "RebootRequired") {
		res.Password = req.Password
	}
	c.JSON(http.StatusOK, res)
	return nil
}

// ignoreSuperseded: withdrawing an offer that a newer change already replaced is no error.
func ignoreSuperseded(err error) error {
	if errors.Is(err, apperr.Conflict) {
		return nil
	}
	return err
}

// passwordAlphabet has no characters that look alike (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newPassword is 20 characters from crypto/rand: about 116 bits, within 1.6's 20 bytes.
func newPassword() string {
	out := make([]byte, 0, 20)
	buf := make([]byte, 32)
	limit := 256 - 256%len(passwordAlphabet) // bytes past it would favour the first letters
	for len(out) < cap(out) {
		_, _ = rand.Read(buf) // crypto/rand does not fail on supported platforms
		for _, b := range buf {
			if int(b) < limit && len(out) < cap(out) {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}
