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

// message is what a signature covers. station is the uploader of an upload URL ("" for a
// download).
func message(method string, id uuid.UUID, expires int64, station string) string {
	return method + "\n/files/" + id.String() + "\n" + strconv.FormatInt(expires, 10) + "\n" + station
}

// URL returns the URL under base (e.g. EVROAM_PUBLIC_URL, https://cpo.example.com) at which
// file id may be fetched (method GET) until expires.
func (s *Signer) URL(base, method string, id uuid.UUID, expires time.Time) (string, error) {
	return s.url(base, method, id, expires, "")
}

// UploadURL returns the URL under base at which station may upload one file (HTTP PUT or
// POST, as stations upload diagnostics) until expires; the file gets id.
func (s *Signer) UploadURL(base string, id uuid.UUID, station string, expires time.Time) (string, error) {
	return s.url(base, methodUpload, id, expires, station)
}

// methodUpload is the method an upload URL is signed for: PUT and POST alike.
const methodUpload = "PUT"

func (s *Signer) url(base, method string, id uuid.UUID, expires time.Time, station string) (string, error) {
	if s == nil || s.key == nil {
		return "", ErrNoKey
	}
	exp := expires.Unix()
	sig := base64.RawURLEncoding.EncodeToString(s.key.SignURL(message(method, id, exp, station)))
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {sig}}
	if station != "" {
		q.Set("station", station)
	}
	return strings.TrimRight(base, "/") + "/files/" + id.String() + "?" + q.Encode(), nil
}

// Check reports whether expires and sig (the query parameters of a file URL) allow method
// on file id now. Errors: ErrURL (forged, altered or expired).
func (s *Signer) Check(method string, id uuid.UUID, expires, sig string) error {
	return s.check(method, id, expires, sig, "")
}

// CheckUpload is Check for an upload URL of station.
func (s *Signer) CheckUpload(id uuid.UUID, station, expires, sig string) error {
	if station == "" {
		return ErrURL
	}
	return s.check(methodUpload, id, expires, sig, station)
}

func (s *Signer) check(method string, id uuid.UUID, expires, sig, station string) error {
	if s == nil || s.key == nil {
		return ErrURL
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return ErrURL
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.key.SignURL(message(method, id, exp, station))) {
		return ErrURL
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return ErrURL
	}
	return nil
}
