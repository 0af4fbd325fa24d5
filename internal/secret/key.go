package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Key is EVROAM_SECRET_KEY: a secret the database never holds. Each purpose gets its own
// key derived from it (HMAC-SHA256 of the purpose's name), so that no two uses share one.
//
// Station passwords: with a Key, a station's password is also kept as a keyed verifier,
// HMAC(key, identity, password), next to its bcrypt hash. A check compares verifiers, which
// costs a microsecond where bcrypt costs tens of milliseconds on purpose; a reconnect storm
// of thousands of stations is then not bound by bcrypt. The threat model: a copy of the
// database alone gives an attacker bcrypt hashes (slow to crack) and verifiers that are
// useless without the key; the database together with the key makes the verifiers as weak
// as a fast salted hash, so the key lives in the environment of the evroam processes only,
// and a rotated key simply makes every verifier fall back to bcrypt once (and be renewed).
type Key struct {
	id       [8]byte  // names the key in stored verifiers, so a rotated key is noticed
	verifier [32]byte // for station password verifiers
	urls     [32]byte // for the signed URLs stations download and upload files at
	nodes    [32]byte // for the commands one evroam node sends another (package cluster)
	sealing  [32]byte // AES-256-GCM key for secrets evroam must present elsewhere (operator passwords)
}

// MinKeyBytes is the least key material accepted.
const MinKeyBytes = 32

// ParseKey reads a key given as hex or base64 (of at least 32 bytes) or as text of at least
// 32 characters.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	raw := []byte(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) >= MinKeyBytes {
		raw = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) >= MinKeyBytes {
		raw = b
	} else if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) >= MinKeyBytes {
		raw = b
	}
	if len(raw) < MinKeyBytes {
		return nil, errors.New("the secret key must have at least 32 bytes (e.g. 64 hex digits: openssl rand -hex 32)")
	}
	k := &Key{}
	copy(k.id[:], derive(raw, "evroam key id"))
	copy(k.verifier[:], derive(raw, "evroam station password verifier"))
	copy(k.urls[:], derive(raw, "evroam signed file urls"))
	copy(k.nodes[:], derive(raw, "evroam node calls"))
	copy(k.sealing[:], derive(raw, "evroam sealed secrets"))
	return k, nil
}

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Verifier returns the keyed verifier of a station's password: the key's id followed by
// HMAC(identity, password). The identity salts it, so two stations with one password have
// different verifiers.
func (k *Key) Verifier(identity, password string) []byte {
	m := hmac.New(sha256.New, k.verifier[:])
	m.Write([]byte(identity))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return append(k.id[:len(k.id):len(k.id)], m.Sum(nil)...)
}

// Check compares password with a stored verifier. usable is false when there is no verifier
// or it was made with another key: then bcrypt must decide.
func (k *Key) Check(verifier []byte, identity, password string) (match, usable bool) {
	if k == nil || len(verifier) != len(k.id)+sha256.Size || subtle.ConstantTimeCompare(verifier[:len(k.id)], k.id[:]) != 1 {
		return false, false
	}
	return subtle.ConstantTimeCompare(verifier, k.Verifier(identity, password)) == 1, true
}

// SignURL returns the HMAC-SHA256 of msg under the key's URL purpose: the signature of a file
// URL that a station uses without an API key (package files). Every node with the same
// EVROAM_SECRET_KEY makes and accepts the same signatures.
func (k *Key) SignURL(msg string) []byte {
	m := hmac.New(sha256.New, k.urls[:])
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// SignNodeCall returns the HMAC-SHA256 of msg under the key's node-call purpose: the
// signature of a command one evroam node hands another over HTTP (package cluster).
func (k *Key) SignNodeCall(msg []byte) []byte {
	m := hmac.New(sha256.New, k.nodes[:])
	m.Write(msg)
	return m.Sum(nil)
}

// ErrSealedWithOtherKey: a sealed secret was made with another EVROAM_SECRET_KEY (or is
// damaged); it cannot be opened and has to be set again.
var ErrSealedWithOtherKey = errors.New("secret: sealed with another key, or damaged")

// Seal encrypts a secret that evroam has to present to someone else (an OCPP operator's
// password: unlike a station's password it cannot be hashed) with AES-256-GCM under the key's
// sealing purpose. aad binds the sealed value to its owner (e.g. the operator's id), so that
// a sealed value copied onto another row does not open. The result is the key's id, a random
// nonce and the ciphertext with its tag.
func (k *Key) Seal(plaintext, aad string) []byte {
	gcm := k.gcm()
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secret: no randomness: " + err.Error())
	}
	out := append(k.id[:len(k.id):len(k.id)], nonce...)
	return gcm.Seal(out, nonce, []byte(plaintext), []byte(aad))
}

// Open decrypts what Seal made with the same key and aad; ErrSealedWithOtherKey otherwise.
func (k *Key) Open(sealed []byte, aad string) (string, error) {
	if k == nil {
		return "", ErrSealedWithOtherKey
	}
	gcm := k.gcm()
	n := len(k.id) + gcm.NonceSize()
	if len(sealed) < n+gcm.Overhead() || subtle.ConstantTimeCompare(sealed[:len(k.id)], k.id[:]) != 1 {
		return "", ErrSealedWithOtherKey
	}
	plain, err := gcm.Open(nil, sealed[len(k.id):n], sealed[n:], []byte(aad))
	if err != nil {
		return "", ErrSealedWithOtherKey
	}
	return string(plain), nil
}

func (k *Key) gcm() cipher.AEAD {
	block, err := aes.NewCipher(k.sealing[:])
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}
