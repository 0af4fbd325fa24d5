package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/evroam/evroam/internal/apperr"
)

// BindWithRules is BindJSON followed by rules: the checks that validator tags cannot express
// (values that must agree with each other, uniqueness within a list, lookups). Tag and rule
// failures come back together as one apperr.FieldErrors, so one 422 names every bad field. rules
// runs only when the body decoded completely (no value of the wrong JSON type), so it never
// reports a consequence of a value that could not be read. A field named more than once is
// reported once, its messages joined.
func BindWithRules(body []byte, dst any, rules func() apperr.FieldErrors) error {
	err := BindJSON(body, dst)
	var problems apperr.FieldErrors
	if err != nil && !asFieldErrors(err, &problems) {
		return err
	}
	probe := reflect.New(reflect.TypeOf(dst).Elem()).Interface()
	if json.Unmarshal(body, probe) == nil && rules != nil {
		problems = append(problems, rules()...)
	}
	return JoinProblems(problems).Err()
}

func asFieldErrors(err error, dst *apperr.FieldErrors) bool {
	return errors.As(err, dst)
}

// JoinProblems merges the entries that name the same field into one (messages joined with
// "; "), keeping the order in which fields first appear.
func JoinProblems(in apperr.FieldErrors) apperr.FieldErrors {
	var out apperr.FieldErrors
	at := map[string]int{}
	for _, p := range in {
		if i, ok := at[p.Field]; ok {
			if out[i].Message != p.Message {
				out[i].Message += "; " + p.Message
			}
			continue
		}
		at[p.Field] = len(out)
		out = append(out, p)
	}
	return out
}

// MergeJSON applies a PATCH body to current (the object as a PUT request would carry it, or a
// map of its top-level keys) and returns the merged document: the top-level keys of patch
// replace those of current, a list or object replacing the whole value. It is the first half
// of MergePatch, for callers that bind the result themselves (e.g. with BindWithRules).
func MergeJSON(current any, patch []byte) ([]byte, error) {
	if len(bytes.TrimSpace(patch)) == 0 {
		return nil, fmt.Errorf("request body is empty, a JSON object is expected: %w", apperr.BadRequest)
	}
	var changes map[string]json.RawMessage
	if err := json.Unmarshal(patch, &changes); err != nil || changes == nil {
		// Let BindJSON produce its precise message for malformed input.
		var probe map[string]any
		if err := BindJSON(patch, &probe); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the body must be a JSON object: %w", apperr.BadRequest)
	}
	base, err := json.Marshal(current)
	if err != nil {
		return nil, fmt.Errorf("encode current state: %w", err)
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, fmt.Errorf("decode current state: %w", err)
	}
	for k, v := range changes {
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("encode merged state: %w", err)
	}
	return out, nil
}
