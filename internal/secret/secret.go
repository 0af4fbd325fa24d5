// Package secret keeps the passwords that charge stations present (ocpp_password) safe at rest
// and cheap to check. A password is stored as a bcrypt hash (a stolen table is expensive to
// crack) and, when EVROAM_SECRET_KEY is set, as a keyed verifier too (see Key), which makes
// later checks cost microseconds instead of bcrypt's deliberate tens of milliseconds.
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

// Stored is a station password as it is kept: its bcrypt hash and, with a key, its keyed
// verifier.
type Stored struct {
	Hash     string // "" when no password is set
	Verifier []byte // nil without a key, or for a password set before the key existed
}

// Passwords hashes and checks station passwords. Its zero value works without a key.
type Passwords struct {
	Key *Key // nil: bcrypt only

	// checked remembers, per identity, the hash and the digest of the password that last
	// matched it, so that without a key a reconnect skips bcrypt at least in this process.
	checked sync.Map // identity → checkedPassword
}

type checkedPassword struct {
	hash   string
	digest [32]byte
}

// Store makes the stored form of identity's new password.
func (p *Passwords) Store(identity, password string) (Stored, error) {
	h, err := Hash(password)
	if err != nil {
		return Stored{}, err
	}
	s := Stored{Hash: h}
	if p.Key != nil {
		s.Verifier = p.Key.Verifier(identity, password)
	}
	return s, nil
}

// Check reports which of candidates (the password as the station sent it first, then other
// forms it may be meant as) matches identity's stored password, spending at most one bcrypt
// comparison: with a usable verifier every form is compared with it; otherwise only the first
// candidate goes to bcrypt. renew is a verifier to store when the check succeeded by bcrypt
// and a key is set (so that the next check is cheap, on any node); nil otherwise.
func (p *Passwords) Check(identity string, stored Stored, candidates ...string) (ok bool, renew []byte) {
	if stored.Hash == "" || len(candidates) == 0 {
		return false, nil
	}
	if p.Key != nil {
		if _, usable := p.Key.Check(stored.Verifier, identity, candidates[0]); usable {
			for _, c := range candidates {
				if match, _ := p.Key.Check(stored.Verifier, identity, c); match {
					return true, nil
				}
			}
			return false, nil
		}
	}
	first := candidates[0]
	digest := sha256.Sum256([]byte(first))
	if c, found := p.checked.Load(identity); found {
		if cp := c.(checkedPassword); cp.hash == stored.Hash && subtle.ConstantTimeCompare(cp.digest[:], digest[:]) == 1 {
			return true, nil
		}
	}
	if !Verify(stored.Hash, first) {
		return false, nil
	}
	p.checked.Store(identity, checkedPassword{hash: stored.Hash, digest: digest})
	if p.Key != nil {
		renew = p.Key.Verifier(identity, first)
	}
	return true, renew
}
