// Package secret hashes and checks the passwords that charge stations present (ocpp_password).
// bcrypt makes a stolen table expensive to crack; Verifier remembers successful checks in
// memory so that reconnect storms do not pay the bcrypt cost for every station again.
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// cost is bcrypt's work factor: ~50 ms per check on our machines.
const cost = 10

// Hash returns the bcrypt hash of password.
func Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

// Verify reports whether password matches hash (in constant time, as bcrypt compares).
func Verify(hash, password string) bool {
	if hash == "" {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Verifier checks passwords against their bcrypt hashes and remembers, per owner (a station
// identity), the hash and the digest of the password that last matched it. A later check of
// the same password against the same hash skips bcrypt's deliberate cost; a changed hash (a
// new password was set) or another password misses the cache and pays it. The cache holds
// digests, never passwords, and lives only in this process's memory. The zero value is ready.
type Verifier struct {
	verified sync.Map // owner → verifiedPassword
}

type verifiedPassword struct {
	hash   string
	digest [32]byte
}

// Verify reports whether password matches hash, the stored hash of owner's password.
func (v *Verifier) Verify(owner, hash, password string) bool {
	digest := sha256.Sum256([]byte(password))
	if c, ok := v.verified.Load(owner); ok {
		if vp := c.(verifiedPassword); vp.hash == hash && subtle.ConstantTimeCompare(vp.digest[:], digest[:]) == 1 {
			return true
		}
	}
	if !Verify(hash, password) {
		return false
	}
	v.verified.Store(owner, verifiedPassword{hash: hash, digest: digest})
	return true
}
