package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// OCPP-J message type ids.
const (
	typeCall       = 2
	typeCallResult = 3
	typeCallError  = 4
)

// Errors of Station.Call and Station.Connect.
var (
	// ErrNotConnected: the station has no connection, or it closed while the call waited.
	ErrNotConnected = errors.New("simulator: not connected")
	// ErrTimeout: no answer within Config.CallTimeout or the caller's deadline. It wraps
	// context.DeadlineExceeded.
	ErrTimeout = fmt.Errorf("simulator: no answer in time: %w", context.DeadlineExceeded)
	// ErrBootNotAccepted: the BootNotification answer was Pending or Rejected.
	ErrBootNotAccepted = errors.New("simulator: boot not accepted")
	// ErrNoSubprotocol: the gateway completed the handshake without the offered subprotocol.
	ErrNoSubprotocol = errors.New("simulator: gateway did not accept the OCPP subprotocol")
)

// CallError is a CALLERROR: the gateway's answer to a station's CALL, or a station's answer to
// the gateway's.
type CallError struct {
	Code        string          // the OCPP error code, e.g. SecurityError, NotImplemented
	Description string          // free text, at most 255 characters on the wire
	Details     json.RawMessage // nil or a JSON object
}

// Error names the code and the description.
func (e *CallError) Error() string {
	if e.Description == "" {
		return "CALLERROR " + e.Code
	}
	return "CALLERROR " + e.Code + ": " + e.Description
}

// HandshakeError is a refused WebSocket upgrade (404 unknown station, 401 bad credentials…).
type HandshakeError struct {
	Status int    // HTTP status
	Body   string // the first bytes of the answer, for the message
}

// Error names the HTTP status and the start of the answer.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("simulator: upgrade refused: HTTP %d %s", e.Status, e.Body)
}

// ErrorCode classifies err for counting: the CALLERROR code, "Timeout", "NotConnected",
// "HTTP 401" and the like for a refused upgrade, "BootNotAccepted", "NoSubprotocol",
// "Canceled", "Dial" for other connection failures, "" for nil.
func ErrorCode(err error) string {
	var ce *CallError
	var he *HandshakeError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.Code
	case errors.As(err, &he):
		return "HTTP " + strconv.Itoa(he.Status)
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.Is(err, ErrNotConnected):
		return "NotConnected"
	case errors.Is(err, ErrBootNotAccepted):
		return "BootNotAccepted"
	case errors.Is(err, ErrNoSubprotocol):
		return "NoSubprotocol"
	case errors.Is(err, context.Canceled):
		return "Canceled"
	}
	return "Dial"
}

// messageIDs makes CALL ids unique over every connection of every station of this process and,
// through the random prefix, over earlier runs (OCPP-J: an id must not repeat on any
// connection of the same identity). A counter is cheaper than a UUID per message.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func nextMessageID(buf []byte) []byte {
	buf = append(buf, idPrefix...)
	return strconv.AppendUint(buf, idCounter.Add(1), 36)
}

// appendCall renders [2,"id","action",payload].
func appendCall(buf []byte, id []byte, action string, payload []byte) []byte {
	buf = append(buf, `[2,"`...)
	buf = append(buf, id...)
	buf = append(buf, `",`...)
	buf = appendJSONString(buf, action)
	buf = append(buf, ',')
	buf = append(buf, payload...)
	return append(buf, ']')
}

// appendResult renders [3,"id",payload].
func appendResult(buf []byte, id string, payload []byte) []byte {
	buf = append(buf, "[3,"...)
	buf = appendJSONString(buf, id)
	buf = append(buf, ',')
	buf = append(buf, payload...)
	return append(buf, ']')
}

// appendError renders [4,"id","code","description",details].
func appendError(buf []byte, id string, e *CallError) []byte {
	buf = append(buf, "[4,"...)
	buf = appendJSONString(buf, id)
	buf = append(buf, ',')
	buf = appendJSONString(buf, e.Code)
	buf = append(buf, ',')
	desc := e.Description
	if len(desc) > 255 { // OCPP 2.0.1 caps the description
		desc = desc[:255]
		for !utf8.ValidString(desc) {
			desc = desc[:len(desc)-1]
		}
	}
	buf = appendJSONString(buf, desc)
	buf = append(buf, ',')
	if len(e.Details) == 0 {
		buf = append(buf, "{}"...)
	} else {
		buf = append(buf, e.Details...)
	}
	return append(buf, ']')
}

// appendJSONString quotes s; plain ASCII (all our ids, actions and codes) needs no encoder.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// frame is one decoded OCPP-J message.
type frame struct {
	typ     int
	id      string
	action  string          // CALL
	payload json.RawMessage // CALL, CALLRESULT
	err     *CallError      // CALLERROR
}

// decodeFrame parses an OCPP-J array. It is lenient where the gateway is strict: this is the
// client side, and a frame it cannot read is counted, not answered.
func decodeFrame(data []byte) (frame, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return frame{}, fmt.Errorf("frame is not a JSON array: %w", err)
	}
	if len(elems) < 3 {
		return frame{}, errors.New("frame has fewer than 3 elements")
	}
	var f frame
	if err := json.Unmarshal(elems[0], &f.typ); err != nil {
		return frame{}, errors.New("message type is not a number")
	}
	if err := json.Unmarshal(elems[1], &f.id); err != nil {
		return frame{}, errors.New("message id is not a string")
	}
	switch f.typ {
	case typeCall:
		if len(elems) != 4 || json.Unmarshal(elems[2], &f.action) != nil {
			return f, errors.New("CALL must be [2, id, action, payload]")
		}
		f.payload = elems[3]
	case typeCallResult:
		f.payload = elems[2]
	case typeCallError:
		if len(elems) < 4 {
			return f, errors.New("CALLERROR must have 5 elements")
		}
		f.err = &CallError{}
		if json.Unmarshal(elems[2], &f.err.Code) != nil || json.Unmarshal(elems[3], &f.err.Description) != nil {
			return f, errors.New("CALLERROR code and description must be strings")
		}
		if len(elems) > 4 {
			f.err.Details = elems[4]
		}
	default:
		return f, fmt.Errorf("unknown message type %d", f.typ)
	}
	return f, nil
}

// marshalPayload turns a Call or Reply payload into JSON: nil is {}, json.RawMessage and
// []byte are taken as they are.
func marshalPayload(p any) ([]byte, error) {
	switch v := p.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if len(v) == 0 {
			return []byte("{}"), nil
		}
		return v, nil
	case []byte:
		if len(v) == 0 {
			return []byte("{}"), nil
		}
		return v, nil
	}
	return json.Marshal(p)
}
