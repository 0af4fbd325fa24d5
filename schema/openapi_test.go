package schema

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEnumsMatchOpenAPI compares every OCPI enumeration of this package with
// the official OCPI 2.2.1 OpenAPI (github.com/ocpi/openapi-specification).
// Set EVROAM_OCPI_OPENAPI_DIR to the directory that holds
// modules/locations/schema.yaml (the 2.2.1 directory of a checkout);
// without it the test is skipped.
func TestEnumsMatchOpenAPI(t *testing.T) {
	dir := os.Getenv("EVROAM_OCPI_OPENAPI_DIR")
	if dir == "" {
		t.Skip("EVROAM_OCPI_OPENAPI_DIR not set")
	}
	enums := readOpenAPIEnums(t, filepath.Join(dir, "modules", "locations", "schema.yaml"))
	for _, test := range []struct {
		schema string
		ours   []string
	}{
		{"ConnectorType", stringsOf(ConnectorStandards())},
		{"ConnectorFormat", stringsOf(ConnectorFormats())},
		{"PowerType", stringsOf(PowerTypes())},
		{"Status", stringsOf(Statuses())},
		{"Capability", stringsOf(Capabilities())},
		{"ParkingRestriction", stringsOf(ParkingRestrictions())},
		{"ParkingType", stringsOf(ParkingTypes())},
		{"Facility", stringsOf(Facilities())},
	} {
		want, ok := enums[test.schema]
		if !ok {
			t.Errorf("schema %s has no enum in the OpenAPI file", test.schema)
			continue
		}
		if !slices.Equal(test.ours, want) {
			t.Errorf("%s = %v, OpenAPI has %v", test.schema, test.ours, want)
		}
	}
	if got := len(enums["ConnectorType"]); got != 40 {
		t.Errorf("OpenAPI ConnectorType has %d values, want 40", got)
	}
}

func stringsOf[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// readOpenAPIEnums reads the "enum:" lists of the schemas under
// components.schemas. It understands just the layout of the OCPI files
// (schema names indented 4 spaces, "enum:" 6, items 8), which keeps the
// package free of a YAML dependency.
func readOpenAPIEnums(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enums := map[string][]string{}
	var schema string
	inEnum := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		switch {
		case strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") && strings.HasSuffix(line, ":"):
			schema, inEnum = strings.TrimSuffix(strings.TrimSpace(line), ":"), false
		case line == "      enum:":
			inEnum = true
		case inEnum && strings.HasPrefix(line, "        - "):
			enums[schema] = append(enums[schema], strings.Trim(strings.TrimPrefix(line, "        - "), `"'`))
		default:
			inEnum = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return enums
}
