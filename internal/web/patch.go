package web

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/evroam/evroam/internal/apperr"
)

// MergePatch applies a PATCH body to the current state of an object and binds the result into
// dst, the object's PUT request type. current is the object as a PUT request would carry it.
// Only the top-level keys of patch change; a list or object in the patch replaces the whole
// value (contract §2), and null clears an optional field. Because the merged document goes
// through the same Bind as a PUT, a PATCH obeys exactly the PUT rules. The etag found in the
// patch is returned (empty when absent) so the caller can check it.
func MergePatch(current any, patch []byte, dst any) error {
	if len(bytes.TrimSpace(patch)) == 0 {
		return fmt.Errorf("request body is empty, a JSON object is expected: %w", apperr.BadRequest)
	}
	var changes map[string]json.RawMessage
	if err := json.Unmarshal(patch, &changes); err != nil {
		// Let BindJSON produce its precise message for malformed input.
		return BindJSON(patch, dst)
	}
	base, err := json.Marshal(current)
	if err != nil {
		return fmt.Errorf("encode current state: %w", err)
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return fmt.Errorf("decode current state: %w", err)
	}
	for k, v := range changes {
		merged[k] = v
	}
	body, err := json.Marshal(merged)
	if err != nil {
		return fmt.Errorf("encode merged state: %w", err)
	}
	return BindJSON(body, dst)
}
