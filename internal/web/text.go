package web

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/gin-gonic/gin"
)

// PostgreSQL's text holds valid UTF-8 without the NUL character, and nothing else: text that
// breaks either rule must be refused where it enters, naming where it was, never reach the
// database (where it fails the statement: a 500) and never be silently repaired (a client
// would store something other than it sent).

// Storable reports whether s can be stored as PostgreSQL text: valid UTF-8 without NUL.
func Storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// checkBodyText refuses a body that is not UTF-8, or that escapes a lone UTF-16 surrogate
// (JSON decoders replace those with U+FFFD behind the client's back): 400, it cannot be read
// as what the client meant. NUL is a JSON escape (\u0000) of valid text; BindJSON names the
// field that holds it.
func checkBodyText(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("the body is not valid UTF-8 (at byte %d): %w", invalidUTF8At(body), apperr.BadRequest)
	}
	if at := loneSurrogateAt(body); at >= 0 {
		return fmt.Errorf("the body escapes a lone UTF-16 surrogate at byte %d, which is no character: %w", at, apperr.BadRequest)
	}
	return nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// loneSurrogateAt returns where the body has a \uD800–\uDFFF escape that is not half of a
// high+low pair, or -1.
func loneSurrogateAt(b []byte) int {
	for i := 0; i+5 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character (\\, \"): skip it
			continue
		}
		hi, ok := hex4(b[i+2 : i+6])
		if !ok || hi < 0xD800 || hi > 0xDFFF {
			i += 5
			continue
		}
		if hi <= 0xDBFF && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
			if lo, ok := hex4(b[i+8 : i+12]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11
				continue
			}
		}
		return i
	}
	return -1
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// checkStrings names every string (and object key) of a decoded JSON value that holds NUL.
func checkStrings(v any, path string, problems *apperr.FieldErrors) {
	switch x := v.(type) {
	case string:
		if strings.ContainsRune(x, 0) {
			problems.Add(path, "must not contain the NUL character (\\u0000)")
		}
	case map[string]any:
		for k, item := range x {
			p := apperr.JoinField(path, k)
			if strings.ContainsRune(k, 0) {
				problems.Add(p, "a field name must not contain the NUL character (\\u0000)")
				continue
			}
			checkStrings(item, p, problems)
		}
	case []any:
		for i, item := range x {
			checkStrings(item, fmt.Sprintf("%s[%d]", path, i), problems)
		}
	}
}

// StorableInput refuses a request whose path parameters or query parameters hold text that
// cannot be stored: a path id that cannot exist is a 404, a query parameter that cannot be
// read a 400 naming it. Mount it after routing (on the route group), before the handlers.
func StorableInput(c *gin.Context) {
	for _, p := range c.Params {
		if !Storable(p.Value) {
			WriteError(c, fmt.Errorf("no %s like that: %w", p.Key, apperr.NotFound))
			return
		}
	}
	var problems apperr.FieldErrors
	for k, vs := range c.Request.URL.Query() {
		for _, v := range vs {
			if !Storable(k) || !Storable(v) {
				problems.Add(strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "?"), "must be valid UTF-8 without the NUL character")
				break
			}
		}
	}
	if len(problems) > 0 {
		WriteError(c, fmt.Errorf("invalid query: %w", badQuery(problems)))
		return
	}
	c.Next()
}
