//go:build !unix

package simulator

import "errors"

// RaiseFileLimit is not supported on this system.
func RaiseFileLimit() (uint64, error) { return 0, errors.New("not supported on this system") }
