package files

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/secret"
	"github.com/google/uuid"
)

// Signer makes and checks the URLs stations reach files at without an API key:
// <base>/files/<id>?expires=<unix seconds>&sig=<base64url HMAC>. The HMAC covers the HTTP
// method, the file id and the expiry, so a download URL cannot be turned into an upload one,
// pointed at another file or extended.
type Signer struct {
	key *secret.Key
	now func() time.Time
}

// ErrNoKey: signed URLs need EVROAM_SECRET_KEY (HTTP 409 when a command needs one).
var ErrNoKey = errors.New("file URLs for stations need EVROAM_SECRET_KEY to be set")

// NewSigner returns a Signer with key (nil: none, and every URL is refused). now is the
// clock (nil: time.Now).
func NewSigner(key *secret.Key, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, now: now}
}

func message(method string, id uuid.UUID, expires int64) string {
	return method + "\n/files/" + id.String() + "\n" + strconv.FormatInt(expires, 10)
}

// URL returns the URL under base (e.g. EVROAM_PUBLIC_URL, https://cpo.example.com) at which
// file id may be fetched (method GET) or uploaded (PUT) until expires.
func (s *Signer) URL(base, method string, id uuid.UUID, expires time.Time) (string, error) {
	if s == nil || s.key == nil {
		return "", ErrNoKey
	}
	exp := expires.Unix()
	sig := base64.RawURLEncoding.EncodeToString(s.key.SignURL(message(method, id, exp)))
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {sig}}
	return strings.TrimRight(base, "/") + "/files/" + id.String() + "?" + q.Encode(), nil
}

// Check reports whether expires and sig (the query parameters of a file URL) allow method
// on file id now. Errors: ErrURL (forged, altered or expired).
func (s *Signer) Check(method string, id uuid.UUID, expires, sig string) error {
	if s == nil || s.key == nil {
		return ErrURL
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return ErrURL
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.key.SignURL(message(method, id, exp))) {
		return ErrURL
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return ErrURL
	}
	return nil
}
