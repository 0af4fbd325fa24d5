// Package ocpitest helps tests outside package ocpi (the whole-server tests of cmd/evroam)
// check OCPI traffic: the official OCPI 2.2.1 OpenAPI schemas of ocpi/testdata/openapi as a
// validator, and EMSP, an eMSP test partner that registers with evroam and records the
// command results evroam POSTs to it, validating every body it gets. It is a test helper:
// production code must not import it.
package ocpitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schemas of the official files (refs relative to 2.2.1/, as in package ocpi's own tests).
const (
	OASStartSession        = "modules/commands/schema.yaml#/components/schemas/StartSession"
	OASStopSession         = "modules/commands/schema.yaml#/components/schemas/StopSession"
	OASUnlockConnector     = "modules/commands/schema.yaml#/components/schemas/UnlockConnector"
	OASReserveNow          = "modules/commands/schema.yaml#/components/schemas/ReserveNow"
	OASCancelReservation   = "modules/commands/schema.yaml#/components/schemas/CancelReservation"
	OASCommandResult       = "modules/commands/schema.yaml#/components/schemas/CommandResult"
	OASCommandResponse     = "modules/commands/receiver-interface.yaml#/paths/~1commands~1START_SESSION/post/responses/200/content/application~1json/schema"
	OASError               = "components/schema.yaml#/components/responses/OCPIErrorResponse/content/application~1json/schema"
	OASCredentials         = "modules/credentials/schema.yaml#/components/schemas/Credentials"
	OASLocationList        = "modules/locations/sender-interface.yaml#/paths/~1locations/get/responses/200/content/application~1json/schema"
	OASVersionDetails      = "modules/versions/interface.yaml#/paths/~1versions~12.2.1/get/responses/200/content/application~1json/schema"
	OASCommandResponseData = "modules/commands/schema.yaml#/components/schemas/CommandResponse"
)

var oas struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	base     string
	schemas  map[string]*jsonschema.Schema
}

type yamlLoader struct{}

func (yamlLoader) Load(u string) (any, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.FromSlash(parsed.Path))
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(j))
}

// schemaAt compiles (once) the schema at ref.
func schemaAt(tb testing.TB, ref string) *jsonschema.Schema {
	tb.Helper()
	oas.mu.Lock()
	defer oas.mu.Unlock()
	if oas.compiler == nil {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			tb.Fatal("ocpitest: cannot find its own source file")
		}
		dir, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "testdata", "openapi", "2.2.1"))
		if err != nil {
			tb.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		c.UseLoader(yamlLoader{})
		oas.compiler, oas.base, oas.schemas = c, "file://"+filepath.ToSlash(dir)+"/", map[string]*jsonschema.Schema{}
	}
	if s, ok := oas.schemas[ref]; ok {
		return s
	}
	s, err := oas.compiler.Compile(oas.base + ref)
	if err != nil {
		tb.Fatalf("compile OpenAPI schema %s: %v", ref, err)
	}
	oas.schemas[ref] = s
	return s
}

// Check validates body against the official schema at ref.
func Check(tb testing.TB, ref string, body []byte) error {
	tb.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return schemaAt(tb, ref).Validate(v)
}

// MustMatch fails the test unless body validates against the official schema at ref.
func MustMatch(tb testing.TB, ref string, body []byte) {
	tb.Helper()
	if err := Check(tb, ref, body); err != nil {
		tb.Errorf("body does not match the official OCPI 2.2.1 schema %s:\n%v\nbody: %s", ref, err, body)
	}
}
