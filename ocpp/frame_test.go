package ocpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    frame
		wantErr *frameError
	}{
		{"Call", `[2,"id1","Heartbeat",{}]`, frame{Type: 2, ID: "id1", Action: "Heartbeat", Payload: json.RawMessage(`{}`)}, nil},
		{"CallSpaces", ` [ 2 , "id1" , "Heartbeat" , { "a" : 1 } ] `, frame{Type: 2, ID: "id1", Action: "Heartbeat", Payload: json.RawMessage(`{ "a" : 1 }`)}, nil},
		{"CallResult", `[3,"id1",{"currentTime":"x"}]`, frame{Type: 3, ID: "id1", Payload: json.RawMessage(`{"currentTime":"x"}`)}, nil},
		{"CallError", `[4,"id1","NotImplemented","nope",{"a":1}]`, frame{Type: 4, ID: "id1", ErrorCode: "NotImplemented", ErrorDescription: "nope", ErrorDetails: json.RawMessage(`{"a":1}`)}, nil},
		{"CallErrorNoDetails", `[4,"id1","NotImplemented",""]`, frame{Type: 4, ID: "id1", ErrorCode: "NotImplemented", ErrorDetails: json.RawMessage(`{}`)}, nil},
		{"IDMinusOne", `[2,"-1","Heartbeat",{}]`, frame{Type: 2, ID: "-1", Action: "Heartbeat", Payload: json.RawMessage(`{}`)}, nil},
		{"NotJSON", `hello`, frame{}, &frameError{ID: "-1", Kind: errFormat, Answerable: true}},
		{"Object", `{"a":1}`, frame{}, &frameError{ID: "-1", Kind: errFormat, Answerable: true}},
		{"Short", `[2,"x"]`, frame{}, &frameError{ID: "x", Kind: errFormat, Answerable: true}},
		{"TypeString", `["2","x","Heartbeat",{}]`, frame{}, &frameError{ID: "x", Kind: errFormat, Answerable: true}},
		{"IDNumber", `[2,7,"Heartbeat",{}]`, frame{}, &frameError{ID: "-1", Kind: errFormat, Answerable: true}},
		{"IDEmpty", `[2,"","Heartbeat",{}]`, frame{}, &frameError{ID: "-1", Kind: errFormat, Answerable: true}},
		{"CallNoPayload", `[2,"x","Heartbeat"]`, frame{}, &frameError{ID: "x", Kind: errFormat, Answerable: true}},
		{"CallNullPayload", `[2,"x","Heartbeat",null]`, frame{}, &frameError{ID: "x", Kind: errFormat, Answerable: true}},
		{"CallActionNumber", `[2,"x",5,{}]`, frame{}, &frameError{ID: "x", Kind: errFormat, Answerable: true}},
		{"ResultNotObject", `[3,"x",[]]`, frame{}, &frameError{ID: "x", Kind: errFormat}},
		{"ErrorCodeNumber", `[4,"x",1,"",{}]`, frame{}, &frameError{ID: "x", Kind: errFormat}},
		{"UnknownType", `[6,"x","Heartbeat",{}]`, frame{}, &frameError{ID: "x", Kind: errMessageTypeNotSupported, Answerable: true}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := decodeFrame([]byte(test.in))
			if test.wantErr != nil {
				var fe *frameError
				if !errors.As(err, &fe) {
					t.Fatalf("decodeFrame(%s) error = %v, want %+v", test.in, err, test.wantErr)
				}
				if fe.ID != test.wantErr.ID || fe.Kind != test.wantErr.Kind || fe.Answerable != test.wantErr.Answerable {
					t.Errorf("decodeFrame(%s) error = %+v, want %+v", test.in, fe, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeFrame(%s): %v", test.in, err)
			}
			if !framesEqual(got, test.want) {
				t.Errorf("decodeFrame(%s) = %+v, want %+v", test.in, got, test.want)
			}
		})
	}
}

func TestErrorCodeSpelling(t *testing.T) {
	tests := []struct {
		kind      errKind
		v16, v201 string
	}{
		{errFormat, "FormationViolation", "FormatViolation"},
		{errOccurrenceConstraint, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"},
		{errPropertyConstraint, "PropertyConstraintViolation", "PropertyConstraintViolation"},
		{errTypeConstraint, "TypeConstraintViolation", "TypeConstraintViolation"},
		{errSecurity, "SecurityError", "SecurityError"},
		{errNotImplemented, "NotImplemented", "NotImplemented"},
		{errMessageTypeNotSupported, "GenericError", "MessageTypeNotSupported"},
	}
	for _, test := range tests {
		if got := test.kind.code(ProtocolOCPP16); got != test.v16 {
			t.Errorf("code(1.6) = %q, want %q", got, test.v16)
		}
		if got := test.kind.code(ProtocolOCPP201); got != test.v201 {
			t.Errorf("code(2.0.1) = %q, want %q", got, test.v201)
		}
	}
}

func framesEqual(a, b frame) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Action == b.Action &&
		compactEqual(a.Payload, b.Payload) && a.ErrorCode == b.ErrorCode &&
		a.ErrorDescription == b.ErrorDescription && compactEqual(a.ErrorDetails, b.ErrorDetails)
}

func compactEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// FuzzDecodeFrame checks that decoding never panics, that every failure says how to
// answer, and that valid frames survive an encode/decode round trip.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`[2,"id1","Heartbeat",{}]`,
		`[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]`,
		`[3,"id1",{"currentTime":"2013-02-01T20:53:32.486Z"}]`,
		`[4,"id1","NotImplemented","",{}]`,
		`[4,"id1","GenericError","x"]`,
		`[5,"id1","X",{}]`, `[]`, `[2]`, `null`, `"x"`, `[2,"\u0000","A",{"a":[1,2,{"b":null}]}]`,
		`[2,"id","A",{}`, `[1e400,"x","A",{}]`, `[2.0,"x","A",{}]`, `[-2,"x","A",{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if err != nil {
			var fe *frameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *frameError", err)
			}
			if fe.ID == "" {
				t.Fatalf("frameError without an id to answer with")
			}
			return
		}
		if fr.ID == "" || len(fr.ID) > maxMessageIDLen {
			t.Fatalf("decoded id %q out of bounds", fr.ID)
		}
		enc, err := fr.encode()
		if err != nil {
			t.Fatalf("Encode(%+v): %v", fr, err)
		}
		again, err := decodeFrame(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if !framesEqual(fr, again) {
			t.Fatalf("round trip changed the frame:\n%+v\n%+v", fr, again)
		}
	})
}
