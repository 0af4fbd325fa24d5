// Package secret hashes and checks the passwords that charge stations present (ocpp_password).
// bcrypt makes a stolen table expensive to crack; the OCPP gateway caches successful checks in
// memory so that reconnect storms do not pay the bcrypt cost for every station again.
package secret

import (
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
