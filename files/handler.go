package files

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Handler serves files: to and from charge stations at signed URLs without an API key
// (PublicRoutes), and the log files stations uploaded to API clients (Routes).
type Handler struct {
	db     *sqlx.DB
	store  *Store
	signer *Signer
	now    func() time.Time
}

// NewHandler returns a Handler reading and writing store on db and checking URLs with
// signer.
func NewHandler(db *sqlx.DB, store *Store, signer *Signer) *Handler {
	return &Handler{db: db, store: store, signer: signer, now: time.Now}
}

// PublicRoutes registers /files/:id on r, outside the API-key group: the URL's signature is
// the authority. GET and HEAD download; PUT and POST upload (a station's log file).
func (h *Handler) PublicRoutes(r gin.IRoutes) {
	r.GET("/files/:id", web.Handle(h.download))
	r.HEAD("/files/:id", web.Handle(h.download))
	r.PUT("/files/:id", web.Handle(h.upload))
	r.POST("/files/:id", web.Handle(h.upload))
}

// Routes registers the log files of a station on rg (already authenticated).
func (h *Handler) Routes(rg *gin.RouterGroup) {
	rg.GET("/chargestations/:charge_station_id/log-files", web.Handle(h.listLogs))
	rg.GET("/chargestations/:charge_station_id/log-files/:id", web.Handle(h.getLog))
}

// download serves a file with HTTP Range (a station resumes a broken download where it
// stopped) and validators (ETag: the sha256; Last-Modified: its upload). A forged, altered
// or expired URL is a 403; a file that no longer exists, a 404.
func (h *Handler) download(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return ErrNotFound
	}
	// A HEAD is checked as the GET it stands for.
	if err := h.signer.Check(http.MethodGet, id, c.Query("expires"), c.Query("sig")); err != nil {
		return err
	}
	f, err := h.store.Get(c.Request.Context(), nil, id)
	if err != nil {
		return err
	}
	h.serve(c, f)
	return nil
}

func (h *Handler) serve(c *gin.Context, f File) {
	w := c.Writer
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("ETag", `"`+hex.EncodeToString(f.SHA256)+`"`)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, c.Request, f.Name, f.Created, h.store.Open(c.Request.Context(), f))
}

// upload takes one log file from a station at an upload URL (the diagnostics command gives
// it): the raw body of a PUT or POST, or the first file part of a multipart POST (as 1.6
// stations upload over HTTP). It streams into the store like firmware; a second upload at
// the same URL is a 409.
func (h *Handler) upload(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return ErrNotFound
	}
	station := c.Query("station")
	if err := h.signer.CheckUpload(id, station, c.Query("expires"), c.Query("sig")); err != nil {
		return err
	}
	if c.Request.ContentLength > MaxSize+multipartOverhead {
		return TooLarge(MaxSize)
	}
	body := UploadBody(c, MaxSize+multipartOverhead)
	name, contentType := "", c.GetHeader("Content-Type")
	if mediaType, params, _ := mime.ParseMediaType(contentType); mediaType == "multipart/form-data" {
		part, err := firstFile(multipart.NewReader(body, params["boundary"]))
		if err != nil {
			return err
		}
		body, name, contentType = part, part.FileName(), part.Header.Get("Content-Type")
	}
	name = SafeName(name)
	if name == "" {
		name = station + "-" + h.now().UTC().Format("20060102T150405Z") + ".log"
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	err = database.InTx(c.Request.Context(), h.db, func(tx *sqlx.Tx) error {
		_, err := h.store.WithTx(tx).Write(c.Request.Context(), File{ID: id, StationID: station, Kind: KindLog, Name: name,
			ContentType: contentType, Created: database.Timestamp(h.now())}, body, MaxSize)
		return err
	})
	if err != nil {
		return err
	}
	c.Status(http.StatusCreated)
	return nil
}

// UploadIdleTimeout is how long an upload may send nothing before it is cut off (its
// transaction, and the database connection it holds, end with it). A variable for tests.
var UploadIdleTimeout = 60 * time.Second

// UploadBody is the body of an upload request: at most limit bytes (a MaxBytesError past
// them), and free of the server's read timeout, which is meant for ordinary requests: a
// large file on a slow line takes longer. Instead each read must bring data within
// UploadIdleTimeout, so a client that stalls cannot hold its connection (and the upload's
// database transaction) for ever.
func UploadBody(c *gin.Context, limit int64) io.Reader {
	return &idleReader{rc: http.NewResponseController(c.Writer), r: http.MaxBytesReader(c.Writer, c.Request.Body, limit)}
}

type idleReader struct {
	rc *http.ResponseController
	r  io.Reader
}

func (ir *idleReader) Read(p []byte) (int, error) {
	_ = ir.rc.SetReadDeadline(time.Now().Add(UploadIdleTimeout)) // unsupported (a test recorder): no deadline to move
	return ir.r.Read(p)
}

// multipartOverhead is what a multipart body may hold besides its file.
const multipartOverhead = 64 << 10

// firstFile skips to the first part of a multipart body that is a file.
func firstFile(mr *multipart.Reader) (*multipart.Part, error) {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the multipart body has no file part: %w", apperr.Invalid)
		}
		if err != nil {
			return nil, BodyError(err)
		}
		if part.FileName() != "" || part.FormName() == "file" {
			return part, nil
		}
	}
}

// BodyError is a body that cannot be read as multipart: 413 past the limit, else 400.
func BodyError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return TooLarge(MaxSize)
	}
	return fmt.Errorf("the multipart body cannot be read (%v): %w", err, apperr.BadRequest)
}

// MaxNameLength is the longest file name kept.
const MaxNameLength = 255

// SafeName is the last element of a client's file name, if it is printable text of at most
// MaxNameLength bytes; "" otherwise. Nobody is ever handed a path.
func SafeName(s string) string {
	s = path.Base(strings.ReplaceAll(s, `\`, "/"))
	if s == "." || s == "/" || len(s) > MaxNameLength || !web.Storable(s) {
		return ""
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return s
}

// LogFileResponse is a station's log file as the API shows it.
type LogFileResponse struct {
	ID          uuid.UUID `json:"id"`
	FileName    string    `json:"file_name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Created     string    `json:"created"`
}

// listLogs: the log files a station uploaded, paged as every list (on created).
func (h *Handler) listLogs(c *gin.Context) error {
	pg, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	if pg.After != nil {
		if _, err := uuid.Parse(pg.After.ID); err != nil {
			return web.BadQuery("after", "not a cursor of this list (follow the Link header)")
		}
	}
	fs, m, err := h.store.ListOfStation(c.Request.Context(), web.CurrentPrincipal(c).Networks, c.Param("charge_station_id"), pg)
	if err != nil {
		return err
	}
	out := make([]LogFileResponse, len(fs))
	for i, f := range fs {
		out[i] = LogFileResponse{ID: f.ID, FileName: f.Name, ContentType: f.ContentType, Size: f.Size,
			SHA256: hex.EncodeToString(f.SHA256), Created: web.FormatTime(f.Created)}
	}
	web.RespondList(c, pg, m, out)
	return nil
}

// getLog downloads a log file a station uploaded (with HTTP Range, like a station's
// download).
func (h *Handler) getLog(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return ErrNotFound
	}
	f, err := h.store.Get(c.Request.Context(), web.CurrentPrincipal(c).Networks, id)
	if err != nil {
		return err
	}
	if f.StationID != c.Param("charge_station_id") {
		return ErrNotFound
	}
	h.serve(c, f)
	return nil
}
