package database

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// JSON stores a Go value in a jsonb column. A nil pointer or nil slice is stored as SQL NULL.
type JSON[T any] struct{ V T }

// Value encodes the value for the driver.
func (j JSON[T]) Value() (driver.Value, error) {
	b, err := json.Marshal(j.V)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// Scan decodes a jsonb column; NULL leaves the zero value.
func (j *JSON[T]) Scan(src any) error {
	var zero T
	j.V = zero
	switch s := src.(type) {
	case nil:
		return nil
	case []byte:
		return json.Unmarshal(s, &j.V)
	case string:
		return json.Unmarshal([]byte(s), &j.V)
	}
	return fmt.Errorf("database.JSON: cannot scan %T", src)
}

// Timestamp truncates t to the microsecond precision of timestamptz and makes it UTC, so a
// timestamp read back equals the one written (and date_from boundaries match exactly).
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
