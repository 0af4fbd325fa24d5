package web

import (
	"fmt"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/gin-gonic/gin"
)

// SetETag sends the object's etag as the ETag header.
func SetETag(c *gin.Context, etag string) { c.Header("ETag", `"`+etag+`"`) }

// RequestETag returns the etag a write carries: the If-Match header, else the body's etag
// field. Quotes and a weak prefix are stripped.
func RequestETag(c *gin.Context, bodyETag string) string {
	if h := strings.TrimSpace(c.GetHeader("If-Match")); h != "" && h != "*" {
		h = strings.TrimPrefix(h, "W/")
		return strings.Trim(h, `"`)
	}
	return strings.TrimSpace(bodyETag)
}

// CheckETag compares the etag a client sent with the object's current one. required makes a
// missing etag an error (PUT: 428); otherwise a missing etag passes (PATCH).
func CheckETag(given, current string, required bool) error {
	if given == "" {
		if required {
			return fmt.Errorf("this update needs the object's etag (body field etag or If-Match header): %w", apperr.PreconditionRequired)
		}
		return nil
	}
	if !strings.EqualFold(given, current) {
		return fmt.Errorf("etag %q is stale, GET the object again: %w", given, apperr.PreconditionFailed)
	}
	return nil
}
