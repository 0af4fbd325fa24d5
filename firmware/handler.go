package firmware

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode"

	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Config tunes the handlers.
type Config struct {
	// MaxSize is the largest image accepted; default files.MaxSize (500 MB).
	MaxSize int64
}

// Handler serves /firmware.
type Handler struct {
	svc *Service
	cfg Config
}

// NewHandler returns a Handler on svc.
func NewHandler(svc *Service, cfg Config) *Handler {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = files.MaxSize
	}
	return &Handler{svc: svc, cfg: cfg}
}

// Routes registers the firmware endpoints on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.POST("/firmware", web.Handle(h.upload))
	rg.GET("/firmware", web.Handle(h.list))
	rg.GET("/firmware/:id", web.Handle(h.get))
	rg.DELETE("/firmware/:id", web.Handle(h.delete))
}

// Response is a firmware image as every response shows it.
type Response struct {
	ID                 uuid.UUID `json:"id"`
	NetworkID          uuid.UUID `json:"network_id"`
	Vendor             string    `json:"vendor"`
	Model              string    `json:"model"`
	Version            string    `json:"version"`
	SigningCertificate *string   `json:"signing_certificate"`
	Signature          *string   `json:"signature"`
	FileName           string    `json:"file_name"`
	ContentType        string    `json:"content_type"`
	Size               int64     `json:"size"`
	SHA256             string    `json:"sha256"`
	Created            string    `json:"created"`
	LastUpdated        string    `json:"last_updated"`
}

// ToResponse renders fw.
func ToResponse(fw Firmware) Response {
	return Response{
		ID: fw.ID, NetworkID: fw.NetworkID, Vendor: fw.Vendor, Model: fw.Model, Version: fw.Version,
		SigningCertificate: fw.SigningCertificate, Signature: fw.Signature,
		FileName: fw.File.Name, ContentType: fw.File.ContentType, Size: fw.File.Size, SHA256: hex.EncodeToString(fw.File.SHA256),
		Created: web.FormatTime(fw.Created), LastUpdated: web.FormatTime(fw.LastUpdated),
	}
}

// multipartOverhead is what a multipart body may hold besides the image: its fields (a
// signing certificate is the largest, 5500 characters) and part headers.
const multipartOverhead = 64 << 10

// upload: POST /firmware. Either the raw image as the body, with the fields as query
// parameters, or multipart/form-data with the fields and a part named "file". The image
// streams into the file store one chunk at a time; nothing is kept unless all of it is (a
// body past MaxSize is a 413, bad fields a 422 naming each).
func (h *Handler) upload(c *gin.Context) error {
	limit := h.cfg.MaxSize
	mediaType, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	multi := mediaType == "multipart/form-data"
	if mediaType == "application/json" || mediaType == "application/x-www-form-urlencoded" {
		// A client that put the fields in a JSON or form body: its body is not an image.
		return fmt.Errorf("a firmware upload is the image itself (fields as query parameters) or multipart/form-data, not %s: %w",
			mediaType, apperr.UnsupportedMediaType)
	}
	overhead := int64(0)
	if multi {
		overhead = multipartOverhead
	}
	if c.Request.ContentLength > limit+overhead {
		return files.TooLarge(limit)
	}
	body := files.UploadBody(c, limit+overhead)
	p := web.CurrentPrincipal(c)
	var (
		fw  Firmware
		err error
	)
	if multi {
		fw, err = h.uploadMultipart(c, multipart.NewReader(body, params["boundary"]), limit)
	} else {
		values := map[string]string{}
		for k, vs := range c.Request.URL.Query() {
			values[k] = vs[len(vs)-1]
		}
		n, problems := parseNew(values, nil)
		if err := problems.Err(); err != nil {
			return err // before reading the body
		}
		n.ContentType = c.GetHeader("Content-Type")
		fw, err = h.svc.Upload(c.Request.Context(), p, body, limit, func() (New, error) { return n, nil })
	}
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/firmware/"+fw.ID.String())
	web.Respond(c, http.StatusCreated, ToResponse(fw))
	return nil
}

// maxField bounds a multipart field other than the file.
const maxField = 8 << 10

// uploadMultipart reads the fields up to the part named "file", streams that part into the
// store, then reads the fields after it: clients put them either side.
func (h *Handler) uploadMultipart(c *gin.Context, mr *multipart.Reader, limit int64) (Firmware, error) {
	values := map[string]string{}
	var problems apperr.FieldErrors
	readField := func(part *multipart.Part) {
		b, err := io.ReadAll(io.LimitReader(part, maxField+1))
		switch {
		case err != nil:
			problems.Add(part.FormName(), "could not be read: "+err.Error())
		case len(b) > maxField:
			problems.Add(part.FormName(), fmt.Sprintf("must have at most %d bytes", maxField))
		default:
			values[part.FormName()] = string(b)
		}
	}
	// fields reads parts until the file (returned) or the end (nil).
	fields := func() (*multipart.Part, error) {
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			if err != nil {
				return nil, bodyError(err)
			}
			if part.FormName() == "file" {
				return part, nil
			}
			readField(part)
		}
	}
	file, err := fields()
	if err != nil {
		return Firmware{}, err
	}
	if file == nil {
		_, problems = parseNew(values, problems)
		problems.Add("file", "is required: a part named file with the image")
		return Firmware{}, problems
	}
	// Fields already given that are bad fail the upload before its bytes are read.
	if _, early := parseNew(values, nil); len(early) > 0 {
		var given apperr.FieldErrors
		for _, fe := range early {
			if _, ok := values[fe.Field]; ok {
				given = append(given, fe)
			}
		}
		if len(given) > 0 {
			return Firmware{}, given
		}
	}
	fileName := files.SafeName(file.FileName())
	contentType := file.Header.Get("Content-Type")
	return h.svc.Upload(c.Request.Context(), web.CurrentPrincipal(c), file, limit, func() (New, error) {
		rest, err := fields()
		if err != nil {
			return New{}, err
		}
		if rest != nil {
			problems.Add("file", "must be given once")
		}
		n, problems := parseNew(values, problems)
		if err := problems.Err(); err != nil {
			return New{}, err
		}
		if n.FileName == "" {
			n.FileName = fileName
		}
		n.ContentType = contentType
		return n, nil
	})
}

// bodyError is a body that cannot be read as multipart: 413 past the limit, else 400.
func bodyError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return files.TooLarge(mb.Limit)
	}
	return fmt.Errorf("the multipart body cannot be read (%v): %w", err, apperr.BadRequest)
}

// Field limits: OCPP's own where it has one (2.0.1 FirmwareType: signingCertificate 5500,
// signature 800 characters).
const (
	maxName        = 50
	maxCertificate = 5500
	maxSignature   = 800
	maxFileName    = files.MaxNameLength
)

var known = map[string]bool{"vendor": true, "model": true, "version": true, "signing_certificate": true, "signature": true, "file_name": true}

// parseNew reads an upload's fields from values, adding every problem to problems.
func parseNew(values map[string]string, problems apperr.FieldErrors) (New, apperr.FieldErrors) {
	for k := range values {
		if !known[k] {
			problems.Add(k, "is not a field of a firmware upload (vendor, model, version, signing_certificate, signature, file_name)")
		}
	}
	text := func(name string, max int) string {
		v, ok := values[name]
		switch {
		case !ok || strings.TrimSpace(v) == "":
			problems.Add(name, "is required")
		case len(v) > max:
			problems.Add(name, fmt.Sprintf("must have at most %d characters", max))
		case !printable(v):
			problems.Add(name, "must be printable text on one line")
		}
		return v
	}
	n := New{Vendor: text("vendor", maxName), Model: text("model", maxName), Version: text("version", maxName)}
	if v, ok := values["signing_certificate"]; ok && v != "" {
		if len(v) > maxCertificate {
			problems.Add("signing_certificate", fmt.Sprintf("must have at most %d characters", maxCertificate))
		} else if block, _ := pem.Decode([]byte(v)); block == nil || block.Type != "CERTIFICATE" {
			problems.Add("signing_certificate", "must be a PEM X.509 certificate (-----BEGIN CERTIFICATE-----)")
		} else if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			problems.Add("signing_certificate", "must be a PEM X.509 certificate: "+err.Error())
		} else {
			n.SigningCertificate = &v
		}
	}
	if v, ok := values["signature"]; ok && v != "" {
		if len(v) > maxSignature {
			problems.Add("signature", fmt.Sprintf("must have at most %d characters", maxSignature))
		} else if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			problems.Add("signature", "must be base64")
		} else {
			n.Signature = &v
		}
	}
	if v, ok := values["file_name"]; ok {
		if v != files.SafeName(v) || v == "" || len(v) > maxFileName {
			problems.Add("file_name", fmt.Sprintf("must be a file name of at most %d printable characters without a path", maxFileName))
		} else {
			n.FileName = v
		}
	}
	return n, problems
}

func printable(s string) bool {
	if !web.Storable(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func parseID(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, ErrNotFound
	}
	return id, nil
}

func (h *Handler) get(c *gin.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	fw, err := h.svc.Get(c.Request.Context(), web.CurrentPrincipal(c), id)
	if err != nil {
		return err
	}
	web.Respond(c, http.StatusOK, ToResponse(fw))
	return nil
}

// list: GET /firmware, paged as every list, with vendor and model filters.
func (h *Handler) list(c *gin.Context) error {
	pg, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	if pg.After != nil {
		if _, err := uuid.Parse(pg.After.ID); err != nil {
			return web.BadQuery("after", "not a cursor of this list (follow the Link header)")
		}
	}
	fws, m, err := h.svc.List(c.Request.Context(), web.CurrentPrincipal(c), Filter{Vendor: c.Query("vendor"), Model: c.Query("model")}, pg)
	if err != nil {
		return err
	}
	out := make([]Response, len(fws))
	for i, fw := range fws {
		out[i] = ToResponse(fw)
	}
	web.RespondList(c, pg, m, out)
	return nil
}

func (h *Handler) delete(c *gin.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	if err := h.svc.Delete(c.Request.Context(), web.CurrentPrincipal(c), id); err != nil {
		return err
	}
	web.NoContent(c)
	return nil
}
