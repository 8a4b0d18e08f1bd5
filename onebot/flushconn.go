package onebot

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// flushConn lets a connection's writer send a run of WebSocket frames
// with one write syscall, as derp's writer does with its bufio.Writer:
// while held, writes collect in a buffer that flush sends. gorilla writes
// each message with its own syscall, which at a few hundred bytes per
// event costs more than everything else put together (see
// docs/PERFORMANCE.md). It sits under gorilla (and under TLS for wss://),
// so frames keep their order, control frames included.
type flushConn struct {
	net.Conn

	mu      sync.Mutex // guards buf and holding; gorilla's write lock does not cover flush
	buf     []byte
	holding bool
}

func (c *flushConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return c.Conn.Write(p)
	}
	// The writer bounds a held run (maxBatch events, maxHeld bytes), so
	// collecting never fails and never sends part of a run.
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// hold starts collecting writes.
func (c *flushConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// flush sends what was collected, within deadline, and stops collecting.
func (c *flushConn) flush(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.buf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(deadline)
	return c.flushLocked()
}

// maxHeld is the size at which the writer stops adding events to a run.
const maxHeld = 64 << 10

func (c *flushConn) flushLocked() error {
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 2*maxHeld { // a run with a big event: do not keep its buffer
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// hijacker hands gorilla's Upgrader a flushConn in place of the hijacked
// connection.
type hijacker struct {
	http.ResponseWriter
	conn *flushConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &flushConn{Conn: nc}
	return h.conn, brw, nil
}

// dialFlushConn dials for gorilla's Dialer and returns a flushConn.
func dialFlushConn(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &flushConn{Conn: nc}, nil
}
