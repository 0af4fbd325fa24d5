package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/schema"
	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

// maxBody bounds a request body; registry objects are small.
const maxBody = 4 << 20

var (
	validateOnce sync.Once
	validate     *validator.Validate
	validateErr  error
)

// Validator returns the shared validator: JSON field names in error paths and the schema
// package's OCPI tags registered once.
func Validator() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			if name == "" {
				return f.Name
			}
			return name
		})
		validateErr = errors.Join(schema.RegisterValidations(v), schema.RegisterClassValidations(v), schema.RegisterTariffValidations(v))
		validate = v
	})
	if validateErr != nil {
		panic("web: register validations: " + validateErr.Error())
	}
	return validate
}

// Bind reads the JSON body into dst (a pointer to a struct) and validates it. Malformed JSON is
// a BadRequest (400). Everything else that is wrong, unknown fields, wrong types and failed
// validation tags, is collected into one apperr.FieldErrors (422) naming every bad field.
// Fields of type Ignored accept any value and are dropped: they let a client PUT back the body
// it got from a GET, read-only fields included.
func Bind(c *gin.Context, dst any) error {
	body, err := ReadBody(c)
	if err != nil {
		return err
	}
	return BindJSON(body, dst)
}

// ReadBody reads the request body, at most 4 MiB, for handlers that bind it themselves (PATCH
// merges, BindWithRules).
func ReadBody(c *gin.Context) ([]byte, error) { return ReadBodyLimit(c, maxBody) }

// ReadBodyLimit reads the request body, at most limit bytes (a larger one is a 413), and
// refuses text that cannot be stored (see checkBodyText).
func ReadBodyLimit(c *gin.Context, limit int) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", apperr.BadRequest)
	}
	if len(body) > limit {
		return nil, fmt.Errorf("the body is larger than %d bytes: %w", limit, apperr.TooLarge)
	}
	if err := checkBodyText(body); err != nil {
		return nil, err
	}
	return body, nil
}

// BindJSON is Bind for a body already read.
func BindJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("request body is empty, a JSON object is expected: %w", apperr.BadRequest)
	}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("malformed JSON: %s: %w", jsonSyntaxMessage(err), apperr.BadRequest)
	}
	// Anything after the value but white space (another value, a stray "}") is refused;
	// Decoder.More would let a closing bracket through.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return fmt.Errorf("malformed JSON: more than one value in the body: %w", apperr.BadRequest)
	}
	if _, ok := raw.(map[string]any); !ok {
		return fmt.Errorf("the body must be a JSON object: %w", apperr.BadRequest)
	}
	var problems apperr.FieldErrors
	checkStrings(raw, "", &problems)
	checkShape(raw, reflect.TypeOf(dst).Elem(), "", &problems)
	if err := json.Unmarshal(body, dst); err != nil {
		if len(problems) > 0 {
			return problems // the shape walk names every field of the wrong type
		}
		// Not expected after the checks above; still the body's fault, never a 500.
		return fmt.Errorf("malformed body: %s: %w", jsonSyntaxMessage(err), apperr.BadRequest)
	}
	// Unknown fields are reported together with every validation failure, so one response
	// lists all that is wrong with the body.
	if err := Validate(dst); err != nil {
		var fe apperr.FieldErrors
		if !errors.As(err, &fe) {
			return err
		}
		problems = append(problems, fe...)
	}
	return problems.Err()
}

// Validate runs the validator tags of v (a struct or pointer to one) and returns every failure
// as apperr.FieldErrors.
func Validate(v any) error {
	err := Validator().Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate: %w", err)
	}
	out := make(apperr.FieldErrors, 0, len(verrs))
	for _, fe := range verrs {
		out = append(out, apperr.FieldError{Field: fieldPath(fe.Namespace()), Message: message(fe)})
	}
	return out
}

// fieldPath drops the struct name that validator puts first: "req.evses[0].uid" → "evses[0].uid".
func fieldPath(ns string) string {
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

func message(fe validator.FieldError) string {
	return schema.Message(fe)
}

func jsonSyntaxMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// Ignored accepts any JSON value and keeps nothing. Request structs use it for fields that a GET
// returns but a client cannot set (read-only and derived fields), so that the body of a GET can
// be edited and sent back.
type Ignored struct{}

// UnmarshalJSON accepts anything.
func (*Ignored) UnmarshalJSON([]byte) error { return nil }

var (
	ignoredType       = reflect.TypeOf(Ignored{})
	rawType           = reflect.TypeOf(json.RawMessage{})
	unmarshalerTy     = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshalerTy = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// checkShape walks a decoded JSON value against the Go type it will be decoded into and
// records unknown object keys and values of the wrong JSON type, with their JSON path.
func checkShape(v any, t reflect.Type, path string, problems *apperr.FieldErrors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t == ignoredType || t == rawType {
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerTy) && !reflect.PointerTo(t).Implements(unmarshalerTy) {
		// uuid.UUID, time.Time: JSON strings decoded by UnmarshalText. Decode it here too, so
		// a malformed value is a field error and not a failure of the whole body.
		s, ok := v.(string)
		if !ok {
			problems.Add(path, "must be a string")
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			problems.Add(path, "is not valid: "+err.Error())
		}
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerTy) && t.Kind() != reflect.Struct {
		return
	}
	if !reflect.PointerTo(t).Implements(unmarshalerTy) && reflect.PointerTo(t).Implements(textUnmarshalerTy) {
		// e.g. uuid.UUID, an array that JSON carries as a string
		str, ok := v.(string)
		if !ok {
			problems.Add(path, "must be a string")
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(str)); err != nil {
			problems.Add(path, "is not valid: "+err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if reflect.PointerTo(t).Implements(unmarshalerTy) {
			return // a type that decodes itself (e.g. time.Time, uuid) reports its own errors
		}
		obj, ok := v.(map[string]any)
		if !ok {
			problems.Add(path, "must be a JSON object")
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				problems.Add(apperr.JoinField(path, k), "unknown field")
				continue
			}
			checkShape(obj[k], ft, apperr.JoinField(path, k), problems)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			problems.Add(path, "must be a JSON array")
			return
		}
		for i, item := range arr {
			checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			problems.Add(path, "must be a JSON object")
			return
		}
		for k, item := range obj {
			checkShape(item, t.Elem(), apperr.JoinField(path, k), problems)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			problems.Add(path, "must be a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			problems.Add(path, "must be true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			problems.Add(path, "must be a whole number")
			return
		}
		if _, err := n.Int64(); err != nil {
			problems.Add(path, "must be a whole number")
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			problems.Add(path, "must be a number")
		}
	}
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of t's fields (embedded structs flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range jsonFields(ft) {
				m[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}
