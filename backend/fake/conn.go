package fake

import (
	"context"
	"fmt"
)

// Conn is a user's receive connection: the pushes the server queues for
// them, in order. A user has at most one; a new one replaces the old.
type Conn struct {
	srv  *Server
	user string

	// Guarded by srv.mu.
	queue  []Push
	closed bool
	err    error

	ready chan struct{} // signalled (cap 1) when queue grows
	done  chan struct{} // closed when the connection ends
}

// Connect opens userID's receive connection, closing the one they had.
// The server first queues again every push the user has not
// acknowledged, oldest first, then what happens from now on.
func (s *Server) Connect(userID string) (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case s.held:
		return nil, ErrUnavailable
	case s.users[userID] == nil:
		return nil, refuse("unknown user %q", userID)
	}
	if old := s.conns[userID]; old != nil {
		s.closeConnLocked(old, ErrDropped)
	}
	c := &Conn{
		srv:   s,
		user:  userID,
		queue: append([]Push(nil), s.unacked[userID]...),
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if len(c.queue) > 0 {
		c.ready <- struct{}{}
	}
	s.conns[userID] = c
	s.connects[userID]++
	return c, nil
}

// enqueueLocked queues p; the server bounds the queue by the user's
// unacknowledged pushes.
func (c *Conn) enqueueLocked(p Push) {
	if c.closed {
		return
	}
	c.queue = append(c.queue, p)
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

func (c *Conn) closeLocked(why error) {
	if c.closed {
		return
	}
	c.closed, c.err, c.queue = true, why, nil
	close(c.done)
}

// Receive waits for pushes and returns those queued, at most limit (at
// least 1), oldest first. It returns an error once the connection is
// closed (why it was), or ctx's error.
func (c *Conn) Receive(ctx context.Context, limit int) ([]Push, error) {
	limit = max(limit, 1)
	for {
		c.srv.mu.Lock()
		if c.closed {
			err := c.err
			c.srv.mu.Unlock()
			return nil, err
		}
		if n := min(len(c.queue), limit); n > 0 {
			out := append([]Push(nil), c.queue[:n]...)
			c.queue = append(c.queue[:0:0], c.queue[n:]...)
			if len(c.queue) > 0 {
				select {
				case c.ready <- struct{}{}:
				default:
				}
			}
			c.srv.mu.Unlock()
			return out, nil
		}
		c.srv.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
		case <-c.ready:
		}
	}
}

// Ack acknowledges pushes by id: the server forgets them. An ack on a
// closed connection is lost, as on a network: those pushes come again
// after the next Connect.
func (c *Conn) Ack(ids ...uint64) error {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if c.srv.ackDrops[c.user] {
		delete(c.srv.ackDrops, c.user)
		c.srv.closeConnLocked(c, ErrDropped)
	}
	if c.closed {
		return fmt.Errorf("ack: %w", c.err)
	}
	acked := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		acked[id] = true
	}
	un := c.srv.unacked[c.user]
	kept := un[:0]
	for _, p := range un {
		if !acked[p.ID] {
			kept = append(kept, p)
		}
	}
	clear(un[len(kept):])
	c.srv.unacked[c.user] = kept
	c.srv.signalAckedLocked()
	return nil
}

// Close closes the connection.
func (c *Conn) Close() {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.srv.closeConnLocked(c, context.Canceled)
}

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }
