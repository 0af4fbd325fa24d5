package web

// MergePatch applies a PATCH body to the current state of an object and binds the result into
// dst, the object's PUT request type. current is the object as a PUT request would carry it.
// Only the top-level keys of patch change; a list or object in the patch replaces the whole
// value (contract §2), and null clears an optional field. Because the merged document goes
// through the same Bind as a PUT, a PATCH obeys exactly the PUT rules; the etag the patch
// carries ends up in dst for the caller to check.
func MergePatch(current any, patch []byte, dst any) error {
	merged, err := MergeJSON(current, patch)
	if err != nil {
		return err
	}
	return BindJSON(merged, dst)
}
