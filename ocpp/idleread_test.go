package ocpp_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
)

// maskedFrame is a client's text frame as it goes on the wire (RFC 6455 §5.2: client frames
// are masked).
func maskedFrame(payload string) []byte {
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = []byte{0x81, 0x80 | byte(n)}
	case n < 1<<16:
		b = []byte{0x81, 0x80 | 126, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		panic("test frames are shorter")
	}
	b = append(b, mask[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

// TestFramesHoweverTheyArrive: the read loop waits for the socket only when no frame is
// buffered (idleread.go). Two frames in one segment are both answered (the second sits in the
// read buffer when the first is handled); a frame longer than the read buffer, and one whose
// header arrives alone, are read whole however the bytes trickle in; closing the socket while
// the loop waits records the disconnect.
func TestFramesHoweverTheyArrive(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-R", 0, "", true)
	st := dialRawStation(t, e, "CP-R", "ocpp1.6")
	raw := st.ws.NetConn()
	write := func(b []byte) {
		t.Helper()
		if _, err := raw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	expectResult := func(id string) {
		t.Helper()
		if f := st.read(); f[0] != float64(3) || f[1] != id {
			t.Fatalf("got %v, want the CALLRESULT of %s", f, id)
		}
	}

	// Two CALLs in one write.
	write(append(maskedFrame(`[2,"h1","Heartbeat",{}]`), maskedFrame(`[2,"h2","Heartbeat",{}]`)...))
	expectResult("h1")
	expectResult("h2")

	// A CALL of 3,000 bytes (the read buffer holds 512) in three writes, apart in time.
	long := maskedFrame(fmt.Sprintf(`[2,"d1","DataTransfer",{"vendorId":"evroam","data":"%s"}]`, strings.Repeat("x", 3000)))
	for _, part := range [][]byte{long[:3], long[3:700], long[700:]} {
		write(part)
		time.Sleep(20 * time.Millisecond)
	}
	if f := st.read(); f[1] != "d1" {
		t.Fatalf("got %v, want the answer to d1", f)
	}

	// A header alone, then its payload.
	short := maskedFrame(`[2,"h3","Heartbeat",{}]`)
	write(short[:1])
	time.Sleep(20 * time.Millisecond)
	write(short[1:])
	expectResult("h3")

	// The socket closes while the loop waits.
	time.Sleep(20 * time.Millisecond)
	raw.Close()
	e.reg.Wait(t, waitTimeout, "disconnect recorded", func(r *ocpptest.Registry) bool {
		for _, d := range r.Disconnects {
			if d.Identity == "CP-R" {
				return true
			}
		}
		return false
	})
}
