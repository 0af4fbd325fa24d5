package files

import (
	"encoding/hex"
	"mime"
	"net/http"

	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Handler serves files to charge stations at signed URLs, without an API key.
type Handler struct {
	store  *Store
	signer *Signer
}

// NewHandler returns a Handler reading store and checking URLs with signer.
func NewHandler(store *Store, signer *Signer) *Handler {
	return &Handler{store: store, signer: signer}
}

// PublicRoutes registers GET and HEAD /files/:id on r, outside the API-key group: the URL's
// signature is the authority.
func (h *Handler) PublicRoutes(r gin.IRoutes) {
	r.GET("/files/:id", web.Handle(h.download))
	r.HEAD("/files/:id", web.Handle(h.download))
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
	ctx := c.Request.Context()
	f, err := h.store.Get(ctx, nil, id)
	if err != nil {
		return err
	}
	w := c.Writer
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("ETag", `"`+hex.EncodeToString(f.SHA256)+`"`)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, c.Request, f.Name, f.Created, h.store.Open(ctx, f))
	return nil
}
