package ocpp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// What an idle station costs is mostly the goroutine that waits for its next frame. A
// goroutine's stack starts at 2 KiB and doubles when a call needs more; a parked goroutine's
// stack shrinks only while it uses less than a quarter of it. Waiting inside the WebSocket
// library's ReadMessage (frame parser, buffered reader, the socket's Read, the poller) needs
// more than the 2 KiB stack allows, so every idle station would keep 4 KiB. Instead the read
// loop first waits for the socket to become readable with nothing else on its stack
// (idleConn.waitReadable, through syscall.RawConn), and only then reads the frame, on a
// handler goroutine (conn.readLoop), where ReadMessage finds its bytes at once.
//
// The wait reads what has arrived into a buffer borrowed from a pool (stash) and hands it to
// the library's reader on its next Read, so it costs no system call of its own. The
// library's read buffer is one the server makes (readBufferSize), which the read loop can ask
// whether a frame is already buffered: only then is the socket not waited for.
//
// Connections that are not plain sockets (TLS terminated in evroam) keep the library's wait.

// readBufferSize is the size of a connection's read buffer: a frame's header and the start
// of its payload; a longer payload is read straight into the message (bufio reads past its
// buffer when the caller's is larger), so 512 bytes cost no extra system call for the short
// frames that make most of the traffic (Heartbeat, StatusNotification, Authorize).
const readBufferSize = 512

var stashPool = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}

// idleConn is a station's socket as the WebSocket library sees it.
type idleConn struct {
	net.Conn
	raw syscall.RawConn // nil: not a plain socket; waitReadable does nothing
	br  *bufio.Reader   // the library's read buffer

	// Written by waitReadable and read by Read, both on the read loop's goroutine.
	stash    []byte  // bytes read by waitReadable not yet handed on
	stashBuf *[]byte // stash's buffer, back to stashPool when handed on
	stashErr error   // what waitReadable's read met, for the next Read
}

// canWait says whether waitReadable can wait (c is a plain socket).
func (c *idleConn) canWait() bool { return c != nil && c.raw != nil }

// waitReadable returns once ReadMessage will find bytes (or an error) without waiting: when
// the read buffer or the stash holds some, at once; otherwise when the socket has some.
func (c *idleConn) waitReadable() {
	if c.raw == nil || c.br.Buffered() > 0 || c.stash != nil || c.stashErr != nil {
		return
	}
	// An error (the socket closed, a deadline) is left for ReadMessage to meet.
	_ = c.raw.Read(func(fd uintptr) bool {
		b := stashPool.Get().(*[]byte)
		for {
			n, err := syscall.Read(int(fd), *b)
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				stashPool.Put(b)
				return false // wait until the poller says the socket is readable
			case err != nil:
				stashPool.Put(b)
				c.stashErr = &net.OpError{Op: "read", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
			case n == 0:
				stashPool.Put(b)
				c.stashErr = io.EOF
			default:
				c.stash, c.stashBuf = (*b)[:n], b
			}
			return true
		}
	})
}

// A ping or a pong between two messages would undo all of this: the library handles control
// frames inside ReadMessage, which then goes on waiting for the next message, deep in its
// frame parser, on the handler goroutine it was read on. The gateway pings every station
// every Config.PingInterval, so a minute after connecting every idle station held a second
// goroutine with a grown stack (the bench saw 1.3–1.6 goroutines per station instead of one,
// and about 3 KiB more per station). So the read loop takes the complete ping and pong
// frames at the head of what the next read returns off the read path (takeControlFrames),
// has them handled aside, and goes back to waiting when nothing else arrived. Anything else
// (a close frame, a control frame cut in two by TCP, an unmasked frame the library must
// refuse) is left to the library, as before.

// controlFrame is a ping or a pong a station sent.
type controlFrame struct {
	ping    bool
	payload []byte // unmasked, a copy
}

// takeControlFrames removes the complete ping and pong frames at the head of what the next
// Read returns (the read buffer's bytes, then the stash) and returns them in order. It is
// called between messages only, where the stream is at a frame boundary.
func (c *idleConn) takeControlFrames() []controlFrame {
	if c.raw == nil {
		return nil
	}
	var out []controlFrame
	for {
		var head []byte
		switch {
		case c.br.Buffered() > 0:
			head, _ = c.br.Peek(c.br.Buffered())
		case c.stash != nil:
			head = c.stash
		default:
			return out
		}
		f, n, ok := clientControlFrame(head)
		if !ok {
			return out
		}
		out = append(out, f)
		if c.br.Buffered() > 0 {
			_, _ = c.br.Discard(n)
			continue
		}
		c.stash = c.stash[n:]
		if len(c.stash) == 0 {
			stashPool.Put(c.stashBuf)
			c.stash, c.stashBuf = nil, nil
		}
	}
}

// pending says whether the next Read returns without waiting for the socket.
func (c *idleConn) pending() bool {
	return c.br.Buffered() > 0 || c.stash != nil || c.stashErr != nil
}

// clientControlFrame parses a whole ping or pong frame as a client sends it (RFC 6455 §5.2,
// §5.5: FIN set, no extension bits, masked, at most 125 bytes of payload) at the start of b,
// and returns it with its length on the wire.
func clientControlFrame(b []byte) (controlFrame, int, bool) {
	const finPing, finPong, masked = 0x89, 0x8A, 0x80
	if len(b) < 6 || (b[0] != finPing && b[0] != finPong) || b[1]&masked == 0 {
		return controlFrame{}, 0, false
	}
	n := int(b[1] &^ masked)
	if n > 125 || len(b) < 6+n {
		return controlFrame{}, 0, false
	}
	mask, payload := b[2:6], make([]byte, n)
	for i := range n {
		payload[i] = b[6+i] ^ mask[i%4]
	}
	return controlFrame{ping: b[0] == finPing, payload: payload}, 6 + n, true
}

// Read hands on the stash first, then reads the socket.
func (c *idleConn) Read(p []byte) (int, error) {
	if c.stash != nil {
		n := copy(p, c.stash)
		c.stash = c.stash[n:]
		if len(c.stash) == 0 {
			stashPool.Put(c.stashBuf)
			c.stash, c.stashBuf = nil, nil
		}
		return n, nil
	}
	if err := c.stashErr; err != nil {
		c.stashErr = nil
		return 0, err
	}
	return c.Conn.Read(p)
}

// idleHijacker gives the WebSocket upgrader the station's socket as an idleConn, with a read
// buffer of readBufferSize (the upgrader takes the hijacked reader as its own when the
// Upgrader's ReadBufferSize is 0).
type idleHijacker struct {
	http.ResponseWriter
	conn *idleConn // set by Hijack
}

func (h *idleHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("ocpp: the connection cannot be taken over")
	}
	nc, brw, err := hj.Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		// The upgrader refuses a client that sent data before the handshake ended.
		return nc, brw, err
	}
	c := &idleConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	c.br = bufio.NewReaderSize(c, readBufferSize)
	h.conn = c
	return c, bufio.NewReadWriter(c.br, brw.Writer), nil
}
