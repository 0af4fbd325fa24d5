package ocpp_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/ocpppeer"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
)

// maskedControl is a client's ping (0x9) or pong (0xA) frame as it goes on the wire.
func maskedControl(opcode byte, payload string) []byte {
	mask := [4]byte{0x9a, 0xbc, 0xde, 0xf0}
	b := append([]byte{0x80 | opcode, 0x80 | byte(len(payload))}, mask[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

// serverFrame reads one frame the server sent (unmasked, short: control frames and small
// answers) from the raw socket.
func serverFrame(t *testing.T, raw net.Conn) (opcode byte, payload []byte) {
	t.Helper()
	_ = raw.SetReadDeadline(time.Now().Add(waitTimeout))
	head := make([]byte, 2)
	if _, err := io.ReadFull(raw, head); err != nil {
		t.Fatal(err)
	}
	n := int(head[1] & 0x7f)
	if n == 126 {
		ext := make([]byte, 2)
		if _, err := io.ReadFull(raw, ext); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(ext))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(raw, payload); err != nil {
		t.Fatal(err)
	}
	return head[0] & 0x0f, payload
}

// readersStuckAside counts handler goroutines waiting inside the WebSocket library for a
// station's next frame (what readLoop avoids: an idle station should cost its own small
// goroutine only).
func readersStuckAside() int {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "websocket.(*Conn).advanceFrame") && strings.Contains(g, "(*handlerPool).work") {
			n++
		}
	}
	return n
}

// TestPingsAndPongsLeaveTheStationIdle: a station's pings are answered and its pongs taken
// wherever they come (alone, before a CALL, after one), and a station that sent only a ping
// or a pong is waited for by its own goroutine again, not by a handler goroutine inside the
// library: the gateway pings every station every minute, so otherwise every idle station
// held a second, larger goroutine (idleread.go).
func TestPingsAndPongsLeaveTheStationIdle(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	const stations = 30
	raws := make([]net.Conn, stations)
	for i := range stations {
		id := fmt.Sprintf("CP-PING-%d", i)
		e.reg.AddStation(id, 0, "", true)
		raws[i] = dialRawStation(t, e, id, "ocpp1.6").ws.NetConn()
	}
	write := func(raw net.Conn, parts ...[]byte) {
		t.Helper()
		if _, err := raw.Write(bytes.Join(parts, nil)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(raw net.Conn, opcode byte, want string) {
		t.Helper()
		if op, payload := serverFrame(t, raw); op != opcode || !strings.Contains(string(payload), want) {
			t.Fatalf("got frame %#x %q, want %#x with %q", op, payload, opcode, want)
		}
	}
	const text, pong = 0x1, 0xA

	first := raws[0]
	// A pong alone, then a ping alone: the ping is answered with its payload.
	write(first, maskedControl(0xA, "p0"))
	write(first, maskedControl(0x9, "ping-1"))
	expect(first, pong, "ping-1")
	// A ping and a CALL in one segment, and a CALL and a ping.
	write(first, maskedControl(0x9, "ping-2"), maskedFrame(`[2,"h1","Heartbeat",{}]`))
	expect(first, pong, "ping-2")
	expect(first, text, `"h1"`)
	write(first, maskedFrame(`[2,"h2","Heartbeat",{}]`), maskedControl(0x9, "ping-3"), maskedControl(0xA, "p1"))
	expect(first, text, `"h2"`)
	expect(first, pong, "ping-3")
	// Still served after all of that.
	write(first, maskedFrame(`[2,"h3","Heartbeat",{}]`))
	expect(first, text, `"h3"`)

	// Every station pings once and then stays silent.
	for i, raw := range raws {
		write(raw, maskedControl(0x9, fmt.Sprintf("idle-%d", i)))
	}
	for i, raw := range raws {
		expect(raw, pong, fmt.Sprintf("idle-%d", i))
	}
	// Tests running beside this one may be reading a frame at this moment: a few, not one
	// per silent station.
	deadline := time.Now().Add(3 * time.Second)
	for {
		stuck := readersStuckAside()
		if stuck < stations/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d handler goroutines wait inside the WebSocket library after %d stations pinged once", stuck, stations)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPingsOfARealStation: an ocpp-rpc station that pings every 150 ms (and drops the
// connection when a ping is not answered before its next one), against a gateway that pings
// it every 20 ms, stays connected and served through many pings each way. The station's
// interval is its tolerance for one late pong: shorter ones failed on a loaded machine
// running the race detector, where a node process or the gateway may pause that long.
func TestPingsOfARealStation(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, ocpp.Config{PingInterval: 20 * time.Millisecond})
			e.reg.AddStation("CP-PINGS", 1, "secret-password-1", true)
			p := ocpppeer.Start(t)
			if proto := p.MustConnect(ocpppeer.ConnectOptions{URL: e.url, Identity: "CP-PINGS", Password: "secret-password-1",
				Protocols: []string{v.name}, PingInterval: 150 * time.Millisecond}); proto != v.name {
				t.Fatalf("negotiated %q", proto)
			}
			const pongs = 5
			for round := range 3 {
				p.WaitEventsWhileOpen("pong", pongs*(round+1))
				p.MustCall("Heartbeat", nil)
			}
			if closed := p.Events("close"); len(closed) > 0 {
				t.Fatalf("the station's connection closed: %+v", closed[0])
			}
		})
	}
}

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
