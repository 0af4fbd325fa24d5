package schema

import (
	"fmt"
	"slices"
	"strings"
)

// isOneOf reports whether v is one of all. The lists are short (at most 40
// values), so a linear scan is as fast as a map and keeps spec order in one place.
func isOneOf[T comparable](all []T, v T) bool {
	return slices.Contains(all, v)
}

// parseEnum returns s as a T when it is one of all, and an error naming the
// enumeration otherwise.
func parseEnum[T ~string](kind string, all []T, s string) (T, error) {
	if isOneOf(all, T(s)) {
		return T(s), nil
	}
	return "", fmt.Errorf("invalid %s %q: must be one of %s", kind, s, joinValues(all))
}

// joinValues lists the values of an enumeration for messages: "A, B, C".
func joinValues[T ~string](all []T) string {
	parts := make([]string, len(all))
	for i, v := range all {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}
