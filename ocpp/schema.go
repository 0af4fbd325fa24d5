package ocpp

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The official OCA schemas as bundled by ocpp-rpc 2.2.1: see schemas/README.md.
var (
	//go:embed schemas/ocpp1_6.json
	schemas16 []byte
	//go:embed schemas/ocpp2_0_1.json
	schemas201 []byte
)

var (
	validatorsOnce sync.Once
	validators     map[string]*validator // by ProtocolOCPP16 / ProtocolOCPP201
	validatorsErr  error
	errPrinter     = message.NewPrinter(language.English)
)

// validator validates payloads of one protocol version. Schemas are compiled on first use
// of an action and cached; a compiled schema is safe for concurrent use.
type validator struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	ids      map[string]bool
	cache    sync.Map // id -> *jsonschema.Schema
}

func loadValidators() (map[string]*validator, error) {
	validatorsOnce.Do(func() {
		validators = map[string]*validator{}
		for proto, data := range map[string][]byte{ProtocolOCPP16: schemas16, ProtocolOCPP201: schemas201} {
			v, err := newValidator(data)
			if err != nil {
				validatorsErr = fmt.Errorf("load %s schemas: %w", proto, err)
				return
			}
			validators[proto] = v
		}
	})
	return validators, validatorsErr
}

func newValidator(data []byte) (*validator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	docs, ok := doc.([]any)
	if !ok {
		return nil, fmt.Errorf("schema bundle is not an array")
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	v := &validator{compiler: c, ids: map[string]bool{}}
	for _, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("schema is not an object")
		}
		id, _ := m["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("schema without $id")
		}
		// The bundle's $schema lacks the trailing '#'; draft-07 is what it means.
		m["$schema"] = "http://json-schema.org/draft-07/schema#"
		if err := c.AddResource(id, m); err != nil {
			return nil, fmt.Errorf("add %s: %w", id, err)
		}
		v.ids[id] = true
	}
	return v, nil
}

// schema returns the compiled schema "urn:<action>.<suffix>" (suffix "req" or "conf"), or
// nil when the protocol has no such message.
func (v *validator) schema(action, suffix string) (*jsonschema.Schema, error) {
	id := "urn:" + action + "." + suffix
	if s, ok := v.cache.Load(id); ok {
		return s.(*jsonschema.Schema), nil
	}
	if !v.ids[id] {
		return nil, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.cache.Load(id); ok {
		return s.(*jsonschema.Schema), nil
	}
	s, err := v.compiler.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", id, err)
	}
	v.cache.Store(id, s)
	return s, nil
}

// hasAction reports whether the protocol defines a request schema for action.
func (v *validator) hasAction(action string) bool { return v.ids["urn:"+action+".req"] }

// validate checks payload against "urn:<action>.<suffix>". It returns an *rpcError with
// the OCPP error kind for the first failure (mapping as in ocpp-rpc's validator, except
// that enum and const failures are PropertyConstraintViolation).
func (v *validator) validate(action, suffix string, payload json.RawMessage) *rpcError {
	s, err := v.schema(action, suffix)
	if err != nil {
		return newRPCError(errInternal, "%v", err)
	}
	if s == nil {
		return newRPCError(errNotImplemented, "no schema for %s.%s", action, suffix)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(orEmpty(payload)))
	if err != nil {
		return newRPCError(errFormat, "payload is not valid JSON")
	}
	if err := s.Validate(inst); err != nil {
		ve, ok := err.(*jsonschema.ValidationError)
		if !ok {
			return newRPCError(errFormat, "%v", err)
		}
		leaf := firstLeaf(ve)
		return &rpcError{kind: kindOf(leaf.ErrorKind), desc: truncate(describe(leaf), 255)}
	}
	return nil
}

func firstLeaf(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	return e
}

func describe(e *jsonschema.ValidationError) string {
	loc := "/" + strings.Join(e.InstanceLocation, "/")
	return loc + ": " + e.ErrorKind.LocalizedString(errPrinter)
}

func kindOf(k jsonschema.ErrorKind) errKind {
	switch k.(type) {
	case *kind.Required, *kind.MinItems, *kind.MaxItems, *kind.MinProperties, *kind.MaxProperties,
		*kind.AdditionalItems, *kind.ExclusiveMaximum, *kind.ExclusiveMinimum, *kind.MultipleOf:
		return errOccurrenceConstraint
	case *kind.Type:
		return errTypeConstraint
	case *kind.Enum, *kind.Const, *kind.Pattern, *kind.AdditionalProperties, *kind.PropertyNames:
		return errPropertyConstraint
	}
	// maxLength, minLength, maximum, minimum, format and the rest.
	return errFormat
}
