package ocpp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// OCPP-J message type ids.
const (
	typeCall       = 2
	typeCallResult = 3
	typeCallError  = 4
)

// maxMessageIDLen bounds the message ids we accept. OCPP says 36; we are lenient with
// stations that send longer ones, but not unboundedly.
const maxMessageIDLen = 128

// unreadableID is the message id of a CALLERROR answering a frame whose id could not be
// read (OCPP 2.0.1 part 4 §4.2.3; we use it for 1.6 too).
const unreadableID = "-1"

// frame is one decoded OCPP-J message.
type frame struct {
	Type   int    // typeCall, typeCallResult or typeCallError
	ID     string // message id
	Action string // CALL only
	// Payload is the CALL or CALLRESULT payload (always a JSON object).
	Payload json.RawMessage
	// CALLERROR only.
	ErrorCode        string
	ErrorDescription string
	ErrorDetails     json.RawMessage
}

// frameError is why a frame could not be decoded, and how to answer it.
type frameError struct {
	ID   string  // the id to answer with: the frame's, or unreadableID
	Kind errKind // errFormat, errMessageTypeNotSupported, errRPCFramework
	Msg  string
	// Answerable is false for broken CALLRESULT/CALLERROR frames, which are never answered.
	Answerable bool
	// Unstorable: the frame is well formed but holds text that cannot be stored; an answer
	// to one of our CALLs like that fails the call (ErrInvalidResponse).
	Unstorable bool
}

func (e *frameError) Error() string { return e.Msg }

// decodeFrame parses one OCPP-J text frame. On failure it returns a *frameError that says
// which CALLERROR to answer with.
func decodeFrame(data []byte) (frame, error) {
	var f frame
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return f, &frameError{ID: unreadableID, Kind: errFormat, Msg: "frame is not a JSON array", Answerable: true}
	}
	if len(elems) < 3 {
		return f, &frameError{ID: readID(elems), Kind: errFormat, Msg: "frame has fewer than 3 elements", Answerable: true}
	}
	typ, ok := readInt(elems[0])
	if !ok {
		return f, &frameError{ID: readID(elems), Kind: errFormat, Msg: "message type id is not an integer", Answerable: true}
	}
	id := readID(elems)
	if id == unreadableID && !isString(elems[1], unreadableID) {
		return f, &frameError{ID: unreadableID, Kind: errFormat, Msg: "message id is not a string of 1 to 128 characters", Answerable: typ == typeCall}
	}
	f.Type, f.ID = typ, id
	switch typ {
	case typeCall:
		if len(elems) != 4 {
			return f, &frameError{ID: id, Kind: errFormat, Msg: "CALL must have 4 elements", Answerable: true}
		}
		if err := json.Unmarshal(elems[2], &f.Action); err != nil || f.Action == "" {
			return f, &frameError{ID: id, Kind: errFormat, Msg: "CALL action is not a non-empty string", Answerable: true}
		}
		if !isObject(elems[3]) {
			return f, &frameError{ID: id, Kind: errFormat, Msg: "CALL payload is not a JSON object", Answerable: true}
		}
		f.Payload = elems[3]
	case typeCallResult:
		if len(elems) != 3 || !isObject(elems[2]) {
			return f, &frameError{ID: id, Kind: errFormat, Msg: "CALLRESULT must be [3, id, {payload}]"}
		}
		f.Payload = elems[2]
	case typeCallError:
		if len(elems) != 5 && len(elems) != 4 {
			return f, &frameError{ID: id, Kind: errFormat, Msg: "CALLERROR must have 5 elements"}
		}
		if json.Unmarshal(elems[2], &f.ErrorCode) != nil || json.Unmarshal(elems[3], &f.ErrorDescription) != nil {
			return f, &frameError{ID: id, Kind: errFormat, Msg: "CALLERROR code and description must be strings"}
		}
		f.ErrorDetails = json.RawMessage("{}")
		if len(elems) == 5 {
			if !isObject(elems[4]) {
				return f, &frameError{ID: id, Kind: errFormat, Msg: "CALLERROR details must be a JSON object"}
			}
			f.ErrorDetails = elems[4]
		}
	default:
		return f, &frameError{ID: id, Kind: errMessageTypeNotSupported, Msg: "message type " + strconv.Itoa(typ) + " is not supported", Answerable: true}
	}
	if !storableText(data) {
		// Text the registry could not store (PostgreSQL text is UTF-8 without NUL): refused
		// for this frame alone, before any of it is recorded.
		return f, &frameError{ID: id, Kind: errFormat, Msg: "frame holds text that is not valid UTF-8 or contains NUL (\\u0000)",
			Answerable: typ == typeCall, Unstorable: true}
	}
	return f, nil
}

// storableText reports whether a frame is valid UTF-8 without a \u0000 escape (a raw NUL
// byte is not valid JSON and never decodes).
func storableText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for i := 0; i+5 < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if data[i+1] == 'u' && string(data[i+2:i+6]) == "0000" {
			return false
		}
		i++ // skip the escaped character, so "\\\\u0000" (a backslash, then text) is not taken for NUL
	}
	return true
}

// readID returns the frame's message id, or unreadableID.
func readID(elems []json.RawMessage) string {
	if len(elems) < 2 {
		return unreadableID
	}
	var id string
	if json.Unmarshal(elems[1], &id) != nil || id == "" || len(id) > maxMessageIDLen {
		return unreadableID
	}
	return id
}

func isString(raw json.RawMessage, want string) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == want
}

func readInt(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || len(raw) > 10 {
		return 0, false
	}
	n, err := strconv.Atoi(string(raw))
	return n, err == nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) >= 2 && raw[0] == '{'
}

// encode renders the frame as OCPP-J text. Payloads must be JSON objects; a nil payload
// or error details are sent as {}. Payloads are copied verbatim (no re-encoding, no HTML
// escaping).
func (f frame) encode() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(f.ID) + len(f.Action) + len(f.Payload) + len(f.ErrorDescription) + len(f.ErrorDetails) + 32)
	b.WriteByte('[')
	b.WriteString(strconv.Itoa(f.Type))
	b.WriteByte(',')
	writeString(&b, f.ID)
	raw := func(r json.RawMessage) error {
		r = orEmpty(r)
		if !json.Valid(r) {
			return fmt.Errorf("encode frame: invalid JSON payload")
		}
		b.WriteByte(',')
		b.Write(bytes.TrimSpace(r))
		return nil
	}
	switch f.Type {
	case typeCall:
		b.WriteByte(',')
		writeString(&b, f.Action)
		if err := raw(f.Payload); err != nil {
			return nil, err
		}
	case typeCallResult:
		if err := raw(f.Payload); err != nil {
			return nil, err
		}
	case typeCallError:
		b.WriteByte(',')
		writeString(&b, f.ErrorCode)
		b.WriteByte(',')
		writeString(&b, f.ErrorDescription)
		if err := raw(f.ErrorDetails); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("encode frame: unknown message type %d", f.Type)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode adds a newline
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

// errKind is an RPC error independent of its per-version spelling.
type errKind int

const (
	errGeneric errKind = iota
	errNotImplemented
	errNotSupported
	errInternal
	errProtocol
	errSecurity
	errFormat
	errPropertyConstraint
	errOccurrenceConstraint
	errTypeConstraint
	errMessageTypeNotSupported
	errRPCFramework
)

// code returns the wire spelling of k for a protocol version. 1.6 keeps its errata's
// misspellings (FormationViolation, OccurenceConstraintViolation).
func (k errKind) code(proto string) string {
	v16 := proto == ProtocolOCPP16
	switch k {
	case errNotImplemented:
		return "NotImplemented"
	case errNotSupported:
		return "NotSupported"
	case errInternal:
		return "InternalError"
	case errProtocol:
		return "ProtocolError"
	case errSecurity:
		return "SecurityError"
	case errFormat:
		if v16 {
			return "FormationViolation"
		}
		return "FormatViolation"
	case errPropertyConstraint:
		return "PropertyConstraintViolation"
	case errOccurrenceConstraint:
		if v16 {
			return "OccurenceConstraintViolation"
		}
		return "OccurrenceConstraintViolation"
	case errTypeConstraint:
		return "TypeConstraintViolation"
	case errMessageTypeNotSupported:
		if v16 {
			return "GenericError" // 1.6 has no such code
		}
		return "MessageTypeNotSupported"
	case errRPCFramework:
		if v16 {
			return "GenericError"
		}
		return "RpcFrameworkError"
	}
	return "GenericError"
}

// rpcError is an error answered with a CALLERROR.
type rpcError struct {
	kind errKind
	desc string
}

func (e *rpcError) Error() string { return e.desc }

func newRPCError(k errKind, format string, args ...any) *rpcError {
	return &rpcError{kind: k, desc: truncate(fmt.Sprintf(format, args...), 255)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
