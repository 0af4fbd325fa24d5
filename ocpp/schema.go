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

// validator validates payloads of one protocol version, in two ways: strictly what we send
// (the official schemas as they are) and tolerantly what a station sends (see
// validateReceived). Schemas are compiled on first use of an action and cached; a compiled
// schema is safe for concurrent use.
type validator struct {
	ids      map[string]bool
	strict   schemaSet
	tolerant schemaSet
}

// schemaSet is one compiler over the bundle and its compiled schemas.
type schemaSet struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
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
	v := &validator{ids: map[string]bool{}}
	for _, set := range []struct {
		s        *schemaSet
		tolerant bool
	}{{&v.strict, false}, {&v.tolerant, true}} {
		c, err := compilerOf(data, set.tolerant, v.ids)
		if err != nil {
			return nil, err
		}
		set.s.compiler = c
	}
	return v, nil
}

// compilerOf adds every schema of the bundle to a new compiler and their ids to ids. A
// tolerant compiler drops "additionalProperties": false, so that a field a station adds is
// ignored rather than refused.
func compilerOf(data []byte, tolerant bool, ids map[string]bool) (*jsonschema.Compiler, error) {
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
		if tolerant {
			allowAdditionalProperties(m)
		}
		if err := c.AddResource(id, m); err != nil {
			return nil, fmt.Errorf("add %s: %w", id, err)
		}
		ids[id] = true
	}
	return c, nil
}

// allowAdditionalProperties removes every "additionalProperties": false below schema.
func allowAdditionalProperties(schema any) {
	switch s := schema.(type) {
	case map[string]any:
		if ap, ok := s["additionalProperties"].(bool); ok && !ap {
			delete(s, "additionalProperties")
		}
		for _, sub := range s {
			allowAdditionalProperties(sub)
		}
	case []any:
		for _, sub := range s {
			allowAdditionalProperties(sub)
		}
	}
}

// schema returns the compiled schema "urn:<action>.<suffix>" (suffix "req" or "conf"), or
// nil when the protocol has no such message.
func (v *validator) schema(set *schemaSet, action, suffix string) (*jsonschema.Schema, error) {
	id := "urn:" + action + "." + suffix
	if s, ok := set.cache.Load(id); ok {
		return s.(*jsonschema.Schema), nil
	}
	if !v.ids[id] {
		return nil, nil
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	if s, ok := set.cache.Load(id); ok {
		return s.(*jsonschema.Schema), nil
	}
	s, err := set.compiler.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", id, err)
	}
	set.cache.Store(id, s)
	return s, nil
}

// hasAction reports whether the protocol defines a request schema for action.
func (v *validator) hasAction(action string) bool { return v.ids["urn:"+action+".req"] }

// validate checks a payload we send against "urn:<action>.<suffix>", strictly. It returns an
// *rpcError with the OCPP error kind for the first failure (mapping as in ocpp-rpc's
// validator, except that enum and const failures are PropertyConstraintViolation).
func (v *validator) validate(action, suffix string, payload json.RawMessage) *rpcError {
	return v.check(&v.strict, action, suffix, payload)
}

// validateReceived checks a payload a station sent (its CALL or its answer to ours), as a
// tolerant reader: an object member that is null is taken as absent, and a member the schema
// does not know is ignored. It returns the payload without its null members, which is what
// the handlers and callers then read. A null or missing required field still fails.
func (v *validator) validateReceived(action, suffix string, payload json.RawMessage) (json.RawMessage, *rpcError) {
	payload = withoutNulls(payload)
	return payload, v.check(&v.tolerant, action, suffix, payload)
}

func (v *validator) check(set *schemaSet, action, suffix string, payload json.RawMessage) *rpcError {
	s, err := v.schema(set, action, suffix)
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

// withoutNulls returns payload without the object members whose value is null, at any depth
// (null items of an array stay: an array has no optional items). A payload without "null"
// is returned as it is, without a parse; one that is not JSON is returned as it is for the
// schema check to refuse.
func withoutNulls(payload json.RawMessage) json.RawMessage {
	if !bytes.Contains(payload, []byte("null")) {
		return payload
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || !dropNullMembers(v) {
		return payload
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return payload
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// dropNullMembers deletes null members of every object in v and reports whether it did.
func dropNullMembers(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			if sub == nil {
				delete(x, k)
				changed = true
			} else if dropNullMembers(sub) {
				changed = true
			}
		}
	case []any:
		for _, sub := range x {
			if dropNullMembers(sub) {
				changed = true
			}
		}
	}
	return changed
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
