package web

import (
	"context"
	"fmt"
	"strings"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/gin-gonic/gin"
)

// Authenticator resolves an API key to a principal; it returns an apperr.Unauthorized error for
// an unknown key.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (auth.Principal, error)
}

const principalKey = "evroam.principal"

// RequireAPIKey authenticates every request by `X-API-Key: <key>` or `Authorization: Token <key>`.
func RequireAPIKey(a Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := APIKey(c)
		if key == "" {
			WriteError(c, fmt.Errorf("missing API key: send X-API-Key or Authorization: Token: %w", apperr.Unauthorized))
			return
		}
		if !printableASCII(key) {
			// No key we hand out looks like this; it never reaches the database.
			WriteError(c, fmt.Errorf("unknown API key: %w", apperr.Unauthorized))
			return
		}
		p, err := a.Authenticate(c.Request.Context(), key)
		if err != nil {
			WriteError(c, err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// RequireAdmin lets only admin keys through (after RequireAPIKey).
func RequireAdmin(c *gin.Context) {
	if !CurrentPrincipal(c).Admin {
		WriteError(c, fmt.Errorf("this endpoint needs an admin API key: %w", apperr.Forbidden))
		return
	}
	c.Next()
}

// APIKey extracts the key from the request headers.
func APIKey(c *gin.Context) string {
	if k := strings.TrimSpace(c.GetHeader("X-API-Key")); k != "" {
		return k
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
	if ok && strings.EqualFold(scheme, "Token") {
		return strings.TrimSpace(rest)
	}
	return ""
}

// CurrentPrincipal returns the authenticated caller. It panics when RequireAPIKey did not run,
// which is a routing bug, not a client error.
func CurrentPrincipal(c *gin.Context) auth.Principal {
	return c.MustGet(principalKey).(auth.Principal)
}

// printableASCII reports whether s is printable ASCII: every API key evroam hands out is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}
