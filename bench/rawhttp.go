package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawClient is one keep-alive HTTP/1.1 connection that writes requests and reads answers
// with as little work as it can: the load generator shares the machine with evroam and
// PostgreSQL, and net/http's client costs about as much CPU per request as the server does,
// which pgbench's C client, the anchor, does not. It understands what evroam answers
// (Content-Length or chunked bodies) and nothing more.
type rawClient struct {
	host string // host:port
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	buf  []byte
	// errBody is the body of the last answer when it was an error (4xx, 5xx).
	errBody []byte
}

func newRawClient(rawURL string) (*rawClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return &rawClient{host: u.Host}, nil
}

// do sends one request (path with its query) and reads the whole answer; it returns the
// status. key goes in X-API-Key.
func (c *rawClient) do(method, target, key string, body []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		status, err := c.try(method, target, key, body)
		if err == nil || attempt == 1 || !c.reusedConnFailed(err) {
			return status, err
		}
		// The server closed an idle keep-alive connection: one new try.
	}
}

func (c *rawClient) reusedConnFailed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

func (c *rawClient) try(method, target, key string, body []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.host, 10*time.Second)
		if err != nil {
			return 0, err
		}
		c.conn, c.r, c.w = conn, bufio.NewReaderSize(conn, 64<<10), bufio.NewWriterSize(conn, 16<<10)
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	c.w.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + c.host + "\r\n")
	if key != "" {
		c.w.WriteString("X-API-Key: " + key + "\r\n")
	}
	if body != nil {
		c.w.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	c.w.WriteString("\r\n")
	c.w.Write(body)
	if err := c.w.Flush(); err != nil {
		c.close()
		return 0, err
	}
	status, err := c.readAnswer()
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// readAnswer reads the status line, the headers and the body.
func (c *rawClient) readAnswer() (int, error) {
	c.errBody = nil
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(value))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = c.discardChunks()
	case length >= 0 && status >= 400 && length <= 4096:
		// An error's body says why; the load keeps a few for its report.
		c.errBody = make([]byte, length)
		_, err = io.ReadFull(c.r, c.errBody)
	case length >= 0:
		_, err = c.r.Discard(length)
	default:
		_, err = io.Copy(io.Discard, c.r) // until the server closes
		closing = true
	}
	if closing {
		c.close()
	}
	return status, err
}

func (c *rawClient) discardChunks() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if _, err := c.r.Discard(int(size) + 2); err != nil { // the chunk and its CRLF
			return err
		}
		if size == 0 {
			return nil
		}
	}
}
