package ocpi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// newToken returns a fresh credentials token: 48 hexadecimal characters (192 random bits),
// which fits the Credentials token's string(64) of printable non-whitespace ASCII.
func newToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("ocpi: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// hashToken is how tokens that partners present to us are stored.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// encodeToken is the Authorization header value for a token: OCPI 2.2.1 sends the Base64 of
// the token.
func encodeToken(token string) string {
	return "Token " + base64.StdEncoding.EncodeToString([]byte(token))
}

// tokenCandidates reads the Authorization header "Token <encoded>" and returns the tokens the
// caller may mean: the Base64-decoded value (OCPI 2.2.1) when it decodes to a valid token,
// then the value as sent (OCPI 2.1.1 and 2.2 peers send the raw token). A trailing newline
// after decoding (as in the specification's own examples, made with `echo | base64`) is
// dropped. It returns nil when the header is missing or not a Token header.
func tokenCandidates(header string) []string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Token") {
		return nil
	}
	raw := strings.TrimSpace(rest)
	if raw == "" {
		return nil
	}
	var out []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(raw)
		if err != nil {
			continue
		}
		if d := strings.TrimRight(string(b), "\r\n"); validToken(d) {
			out = append(out, d)
			break
		}
	}
	if validToken(raw) && (len(out) == 0 || out[0] != raw) {
		out = append(out, raw)
	}
	return out
}

// validToken reports whether s can be a credentials token: 1 to 64 printable non-whitespace
// ASCII characters (U+0021 to U+007E).
func validToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
