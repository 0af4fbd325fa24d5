package commands

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpp"
	"github.com/gin-gonic/gin"
)

// firmware/update and diagnostics: the station fetches or uploads a file. 2.0.1 numbers
// these requests with a requestId, which the answer returns so that later status
// notifications can be matched to it.

// ---- firmware/update

type updateFirmwareRequest struct {
	// FirmwareID names firmware uploaded to evroam (POST /firmware): evroam fills location
	// with a signed URL of it, and for 2.0.1 its signing certificate and signature.
	FirmwareID    string `json:"firmwareId" validate:"omitempty,uuid"`
	Location      string `json:"location" validate:"omitempty,max=512"`
	RetrieveDate  string `json:"retrieveDate"`
	Retries       *int   `json:"retries" validate:"omitempty,min=0"`
	RetryInterval *int   `json:"retryInterval" validate:"omitempty,min=0"`

	// signingCertificate and signature come from the firmware a FirmwareID names.
	signingCertificate, signature string
}

func (r *updateFirmwareRequest) check(string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	if r.FirmwareID == "" {
		if r.Location == "" {
			fe.Add("location", "is required (or give firmwareId)")
		}
		checkURL(&fe, "location", r.Location)
		parseTime(&fe, "retrieveDate", r.RetrieveDate, true)
		return fe
	}
	if r.Location != "" {
		fe.Add("location", "must not be given with firmwareId: evroam makes the station's download URL")
	}
	parseTime(&fe, "retrieveDate", r.RetrieveDate, false) // default: now
	return fe
}

type updateFirmwareResponse struct {
	Message      string `json:"message"`
	ChargeBoxID  string `json:"chargeBoxId"`
	FirmwareID   string `json:"firmwareId,omitempty"`
	Location     string `json:"location"`
	RetrieveDate string `json:"retrieveDate"`
	RequestID    int    `json:"requestId,omitempty"`
	Status       string `json:"status"`
}

var firmwareMessages = map[string]string{
	"AcceptedCanceled":   "Firmware update accepted by charger; the update in progress was canceled",
	"InvalidCertificate": "Firmware update rejected by charger: invalid signing certificate",
	"RevokedCertificate": "Firmware update rejected by charger: revoked signing certificate",
}

// updateFirmwareAnswer is the station's status and the requestId of the 2.0.1 CALL (0
// for 1.6).
type updateFirmwareAnswer struct {
	ocpp.StatusResponse
	RequestID int
}

// updateFirmware16 is the OCPP 1.6 UpdateFirmware payload.
type updateFirmware16 struct {
	Location      string `json:"location"`
	RetrieveDate  string `json:"retrieveDate"`
	Retries       *int   `json:"retries,omitempty"`
	RetryInterval *int   `json:"retryInterval,omitempty"`
}

// updateFirmware201 is the OCPP 2.0.1 UpdateFirmware payload.
type updateFirmware201 struct {
	RequestID     int         `json:"requestId"`
	Firmware      firmware201 `json:"firmware"`
	Retries       *int        `json:"retries,omitempty"`
	RetryInterval *int        `json:"retryInterval,omitempty"`
}

// firmware201 is the OCPP 2.0.1 FirmwareType.
type firmware201 struct {
	Location           string `json:"location"`
	RetrieveDateTime   string `json:"retrieveDateTime"`
	SigningCertificate string `json:"signingCertificate,omitempty"`
	Signature          string `json:"signature,omitempty"`
}

var updateFirmwareCommand = command[updateFirmwareRequest, updateFirmwareAnswer, updateFirmwareResponse]{
	path: "firmware/update",
	ocpp16: func(r *updateFirmwareRequest) outgoing[updateFirmwareAnswer] {
		p := updateFirmware16{Location: r.Location, RetrieveDate: ocpp.FormatTime(checkedTime(r.RetrieveDate)),
			Retries: r.Retries, RetryInterval: r.RetryInterval}
		return sendAs("UpdateFirmware", p, func(struct{}) (updateFirmwareAnswer, error) {
			// The 1.6 answer is empty: the station took the request.
			return updateFirmwareAnswer{StatusResponse: ocpp.StatusResponse{Status: "Accepted"}}, nil
		})
	},
	ocpp201: func(r *updateFirmwareRequest) outgoing[updateFirmwareAnswer] {
		id := ocpp.NewRequestID()
		p := updateFirmware201{RequestID: id, Retries: r.Retries, RetryInterval: r.RetryInterval,
			Firmware: firmware201{Location: r.Location, RetrieveDateTime: ocpp.FormatTime(checkedTime(r.RetrieveDate)),
				SigningCertificate: r.signingCertificate, Signature: r.signature}}
		return sendAs("UpdateFirmware", p, func(res ocpp.StatusResponse) (updateFirmwareAnswer, error) {
			return updateFirmwareAnswer{StatusResponse: res, RequestID: id}, nil
		})
	},
	respond: func(st Station, r *updateFirmwareRequest, a updateFirmwareAnswer) updateFirmwareResponse {
		msg, ok := firmwareMessages[a.Status]
		if !ok {
			msg = "Firmware update " + verb(a.Status) + " by charger"
		}
		return updateFirmwareResponse{
			Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, FirmwareID: r.FirmwareID, Location: r.Location,
			RetrieveDate: r.RetrieveDate, RequestID: a.RequestID, Status: apiStatus(a.Status),
		}
	},
}

// Files gives stations the URLs of evroam's file store: firmware uploaded to evroam for
// firmware/update {"firmwareId": …}, and a place to upload diagnostics for diagnostics
// without a location. cmd/evroam implements it over packages firmware and files.
type Files interface {
	// Download returns where a station fetches firmware id: a URL that works without an API
	// key until at least until. base is the URL the API was reached at, for when no public
	// URL is configured. Firmware that does not exist or that p may not see is an error
	// wrapping apperr.NotFound.
	Download(ctx context.Context, p auth.Principal, id, base string, until time.Time) (FirmwareDownload, error)
	// UploadURL returns a URL at which station identity may upload one log file (HTTP PUT or
	// POST) until until; base as for Download.
	UploadURL(ctx context.Context, identity, base string, until time.Time) (string, error)
}

// FirmwareDownload is what a station is told about uploaded firmware.
type FirmwareDownload struct {
	Location           string
	SigningCertificate string // "" when the firmware is not signed
	Signature          string
}

// DownloadWindow is how long after its retrieve date a station may still fetch firmware
// evroam serves: enough for its retries and a resumed download, short enough that a leaked
// URL soon stops working.
const DownloadWindow = 24 * time.Hour

// updateFirmwareEndpoint is updateFirmwareCommand with firmwareId resolved first: the
// firmware must be visible to the caller (a 422 naming firmwareId otherwise), and the
// station gets a signed URL of it, valid from now until DownloadWindow after the retrieve
// date (now when none is given).
type updateFirmwareEndpoint struct{}

func (updateFirmwareEndpoint) route() string { return updateFirmwareCommand.path }

func (updateFirmwareEndpoint) serve(h *Handler, c *gin.Context) error {
	var req updateFirmwareRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	if req.FirmwareID != "" {
		if h.Files == nil {
			return errors.New("commands: no Files configured")
		}
		retrieve := checkedTime(req.RetrieveDate)
		if retrieve.IsZero() {
			retrieve = time.Now()
		}
		dl, err := h.Files.Download(c.Request.Context(), web.CurrentPrincipal(c), req.FirmwareID, web.BaseURL(c.Request),
			retrieve.Add(DownloadWindow))
		if errors.Is(err, apperr.NotFound) {
			return apperr.FieldErrors{{Field: "firmwareId", Message: "no firmware with this id (POST /api/v1/firmware uploads one)"}}
		}
		if err != nil {
			return err
		}
		req.Location, req.RetrieveDate = dl.Location, ocpp.FormatTime(retrieve)
		req.signingCertificate, req.signature = dl.SigningCertificate, dl.Signature
	}
	build := updateFirmwareCommand.ocpp16
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 {
		build = updateFirmwareCommand.ocpp201
	}
	ans, err := build(&req).exchange(c.Request.Context(), h, st)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, updateFirmwareCommand.respond(st, &req, ans))
	return nil
}

// ---- diagnostics

type diagnosticsRequest struct {
	// Location is where the station uploads; empty: to evroam (UploadWindow), listed in GET
	// /chargestations/{id}/log-files.
	Location      string `json:"location" validate:"omitempty,max=512"`
	StartTime     string `json:"startTime"`
	StopTime      string `json:"stopTime"`
	Retries       *int   `json:"retries" validate:"omitempty,min=0"`
	RetryInterval *int   `json:"retryInterval" validate:"omitempty,min=0"`
}

func (r *diagnosticsRequest) check(string) apperr.FieldErrors {
	var fe apperr.FieldErrors
	checkURL(&fe, "location", r.Location)
	start := parseTime(&fe, "startTime", r.StartTime, false)
	stop := parseTime(&fe, "stopTime", r.StopTime, false)
	if !start.IsZero() && !stop.IsZero() && stop.Before(start) {
		fe.Add("stopTime", "must not be before startTime")
	}
	return fe
}

type diagnosticsResponse struct {
	Message     string `json:"message"`
	ChargeBoxID string `json:"chargeBoxId"`
	Location    string `json:"location"`
	// ToEvroam: the station uploads to evroam (no location was given).
	ToEvroam  bool   `json:"uploadToEvroam,omitempty"`
	FileName  string `json:"fileName,omitempty"`
	RequestID int    `json:"requestId,omitempty"`
	Status    string `json:"status"`
}

// diagnosticsAnswer is the station's status, the file it uploads and the requestId of
// the 2.0.1 CALL (0 for 1.6).
type diagnosticsAnswer struct {
	ocpp.StatusResponse
	FileName  string
	RequestID int
	// nothingToUpload: a 1.6 station took the request and has no diagnostics (it
	// answered without a file name).
	nothingToUpload bool
}

// getDiagnostics16 is the OCPP 1.6 GetDiagnostics payload.
type getDiagnostics16 struct {
	Location      string `json:"location"`
	StartTime     string `json:"startTime,omitempty"`
	StopTime      string `json:"stopTime,omitempty"`
	Retries       *int   `json:"retries,omitempty"`
	RetryInterval *int   `json:"retryInterval,omitempty"`
}

// getDiagnosticsAnswer16 is the OCPP 1.6 GetDiagnostics answer: only the file name,
// absent when there is nothing to upload.
type getDiagnosticsAnswer16 struct {
	FileName string `json:"fileName"`
}

// getLog201 is the OCPP 2.0.1 GetLog payload.
type getLog201 struct {
	Log           logParameters201 `json:"log"`
	LogType       string           `json:"logType"`
	RequestID     int              `json:"requestId"`
	Retries       *int             `json:"retries,omitempty"`
	RetryInterval *int             `json:"retryInterval,omitempty"`
}

// logParameters201 is the OCPP 2.0.1 LogParametersType.
type logParameters201 struct {
	RemoteLocation  string `json:"remoteLocation"`
	OldestTimestamp string `json:"oldestTimestamp,omitempty"`
	LatestTimestamp string `json:"latestTimestamp,omitempty"`
}

// getLogAnswer201 is the OCPP 2.0.1 GetLog answer.
type getLogAnswer201 struct {
	ocpp.StatusResponse
	Filename string `json:"filename"`
}

// UploadWindow is how long a station may take to upload diagnostics to evroam.
const UploadWindow = 24 * time.Hour

// diagnosticsEndpoint is diagnosticsCommand with an absent location filled in: the station
// uploads to evroam, at a URL good for one upload within UploadWindow.
type diagnosticsEndpoint struct{}

func (diagnosticsEndpoint) route() string { return diagnosticsCommand.path }

func (diagnosticsEndpoint) serve(h *Handler, c *gin.Context) error {
	var req diagnosticsRequest
	st, err := h.prepare(c, &req)
	if err != nil {
		return err
	}
	toEvroam := req.Location == ""
	if toEvroam {
		if h.Files == nil {
			return errors.New("commands: no Files configured")
		}
		if req.Location, err = h.Files.UploadURL(c.Request.Context(), st.Identity, web.BaseURL(c.Request), time.Now().Add(UploadWindow)); err != nil {
			return err
		}
	}
	build := diagnosticsCommand.ocpp16
	if st.ProtocolVersion == ocpp.ProtocolOCPP201 {
		build = diagnosticsCommand.ocpp201
	}
	ans, err := build(&req).exchange(c.Request.Context(), h, st)
	if err != nil {
		return err
	}
	res := diagnosticsCommand.respond(st, &req, ans)
	res.ToEvroam = toEvroam
	c.JSON(http.StatusOK, res)
	return nil
}

var diagnosticsCommand = command[diagnosticsRequest, diagnosticsAnswer, diagnosticsResponse]{
	path: "diagnostics",
	ocpp16: func(r *diagnosticsRequest) outgoing[diagnosticsAnswer] {
		p := getDiagnostics16{Location: r.Location, StartTime: optionalTime(r.StartTime), StopTime: optionalTime(r.StopTime),
			Retries: r.Retries, RetryInterval: r.RetryInterval}
		return sendAs("GetDiagnostics", p, func(res getDiagnosticsAnswer16) (diagnosticsAnswer, error) {
			return diagnosticsAnswer{StatusResponse: ocpp.StatusResponse{Status: "Accepted"}, FileName: res.FileName,
				nothingToUpload: res.FileName == ""}, nil
		})
	},
	ocpp201: func(r *diagnosticsRequest) outgoing[diagnosticsAnswer] {
		id := ocpp.NewRequestID()
		p := getLog201{
			Log: logParameters201{RemoteLocation: r.Location, OldestTimestamp: optionalTime(r.StartTime),
				LatestTimestamp: optionalTime(r.StopTime)},
			LogType: "DiagnosticsLog", RequestID: id, Retries: r.Retries, RetryInterval: r.RetryInterval,
		}
		return sendAs("GetLog", p, func(res getLogAnswer201) (diagnosticsAnswer, error) {
			return diagnosticsAnswer{StatusResponse: res.StatusResponse, FileName: res.Filename, RequestID: id}, nil
		})
	},
	respond: func(st Station, r *diagnosticsRequest, a diagnosticsAnswer) diagnosticsResponse {
		var msg string
		switch {
		case a.Status == "AcceptedCanceled":
			msg = "Diagnostics upload accepted by charger; the upload in progress was canceled"
		case a.nothingToUpload:
			msg = "Diagnostics request accepted by charger; it has no diagnostic information to upload"
		default:
			msg = "Diagnostics upload " + verb(a.Status) + " by charger"
		}
		return diagnosticsResponse{
			Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, Location: r.Location,
			FileName: a.FileName, RequestID: a.RequestID, Status: apiStatus(a.Status),
		}
	},
}
