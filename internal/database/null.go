package database

import (
	"database/sql"
	"time"
)

// Conversions between the domain's optional values (nil pointers) and the SQL NULL types that
// row structs scan into. T may be string or any string enum (schema.Status, …).

// NullString stores *p, or NULL when p is nil.
func NullString[T ~string](p *T) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(*p), Valid: true}
}

// StringPtr reads a nullable text column: nil for NULL.
func StringPtr[T ~string](n sql.NullString) *T {
	if !n.Valid {
		return nil
	}
	v := T(n.String)
	return &v
}

// NullBool stores *p, or NULL when p is nil.
func NullBool(p *bool) sql.NullBool {
	if p == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *p, Valid: true}
}

// BoolPtr reads a nullable boolean column: nil for NULL.
func BoolPtr(n sql.NullBool) *bool {
	if !n.Valid {
		return nil
	}
	b := n.Bool
	return &b
}

// NullTime stores *p, or NULL when p is nil.
func NullTime(p *time.Time) sql.NullTime {
	if p == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *p, Valid: true}
}

// TimePtr reads a nullable timestamptz column as UTC: nil for NULL.
func TimePtr(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}
