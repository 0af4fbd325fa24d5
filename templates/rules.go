package templates

import (
	"errors"

	"github.com/evroam/evroam/internal/apperr"
)

func asFieldErrors(err error, dst *apperr.FieldErrors) bool {
	if err == nil {
		return false
	}
	return errors.As(err, dst)
}

// mergeProblems appends the problems of b that a does not already name (the same field can be
// reported by a tag and by a rule; the client needs it once).
func mergeProblems(a, b apperr.FieldErrors) apperr.FieldErrors {
	seen := map[string]bool{}
	for _, p := range a {
		seen[p.Field] = true
	}
	for _, p := range b {
		if !seen[p.Field] {
			a = append(a, p)
			seen[p.Field] = true
		}
	}
	return a
}
