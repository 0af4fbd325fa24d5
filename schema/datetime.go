package schema

import (
	"fmt"
	"time"
)

// FormatDateTime formats t as evroam writes every timestamp and OCPI
// DateTime: UTC, RFC 3339 with a "Z" and whole seconds, e.g.
// "2015-06-29T20:39:09Z". Fractions of a second are truncated.
func FormatDateTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// dateTimeNoZone is the OCPI DateTime form without a zone designator, which
// OCPI defines as UTC. Go's parser accepts fractional seconds after the
// seconds field even when the layout has none.
const dateTimeNoZone = "2006-01-02T15:04:05"

// ParseDateTime parses an RFC 3339 timestamp with "Z" or a numeric offset,
// and the OCPI form without a zone designator ("2015-06-29T20:39:09"),
// which is taken as UTC. Fractional seconds are accepted. The result is in
// UTC.
func ParseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.ParseInLocation(dateTimeNoZone, s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid date-time %q: want RFC 3339 such as 2015-06-29T20:39:09Z", s)
}
