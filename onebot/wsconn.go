package onebot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
)

// ConnOptions tunes every WebSocket connection of a transport; zero
// values take the defaults.
type ConnOptions struct {
	// QueueSize is how many events may wait for one connection (forward
	// WS: a client that falls this far behind is disconnected) or for one
	// reverse WS URL (while disconnected; the oldest are dropped beyond
	// it). 0 means DefaultQueueSize.
	QueueSize int
	// MaxInFlight caps the actions one connection runs at once; 0 means
	// DefaultMaxInFlight.
	MaxInFlight int
	// WriteTimeout bounds each frame written; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// ActionTimeout bounds each action; 0 means DefaultActionTimeout.
	ActionTimeout time.Duration
	// MaxMessageBytes bounds a received frame; a larger one closes the
	// connection with 1009. 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// PingInterval is how often a ping is sent; 0 means
	// DefaultPingInterval, negative none.
	PingInterval time.Duration
	// MaxUnreadBytes bounds the replies waiting to be written to one
	// connection: a client that lets more pile up (it sends calls and
	// does not read) is disconnected with 1008. One reply alone may be
	// larger. 0 means DefaultMaxUnreadBytes.
	MaxUnreadBytes int64
}

func (o ConnOptions) withDefaults() ConnOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = DefaultActionTimeout
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxUnreadBytes <= 0 {
		o.MaxUnreadBytes = DefaultMaxUnreadBytes
	}
	return o
}

// role is what a WebSocket connection carries (communication/ws.md).
type role int

const (
	roleUniversal role = iota // actions and events
	roleAPI                   // actions only
	roleEvent                 // events only
)

// header is the X-Client-Role value (communication/ws-reverse.md);
// Koishi compares it case-sensitively.
func (r role) header() string {
	switch r {
	case roleAPI:
		return "API"
	case roleEvent:
		return "Event"
	}
	return "Universal"
}

func (r role) events() bool  { return r != roleAPI }
func (r role) actions() bool { return r != roleEvent }

// errSlowClient ends a connection whose peer does not keep up: its event
// queue overflowed (forward WS) or a write timed out.
var errSlowClient = errors.New("client too slow")

// errUnreadReplies ends a connection whose peer sends calls but does not
// read their replies (ConnOptions.MaxUnreadBytes).
var errUnreadReplies = fmt.Errorf("%w: it does not read its replies", errSlowClient)

// errTryLater ends a connection whose frame could not be read for want of
// memory and could not be answered either (its echo was too large to
// keep); it is closed with 1013 "try again later".
var errTryLater = errors.New("request memory exhausted and the frame's echo could not be kept to answer it")

// wsConn serves one WebSocket connection, forward or reverse, derp style:
// the caller's goroutine reads, one writer goroutine is the only one that
// writes data frames, and each action runs in its own goroutine (at most
// MaxInFlight) owned by the transport, not the connection, so an action
// the client started still finishes if the connection drops.
type wsConn struct {
	conn   *websocket.Conn
	role   role
	router *Router
	log    *zap.Logger
	opts   ConnOptions

	// sub is the event queue (nil for roleAPI); hello is written before
	// anything else (the lifecycle connect event; nil for roleAPI).
	sub   *subscription
	hello []byte
	// pending are events taken from sub whose write failed. A reverse
	// connection passes them on to the next connection, so an event is
	// lost only if the peer vanishes after the kernel accepted it.
	pending []event
	// fc, when set, is the connection under gorilla; the writer holds
	// writes in it to send a run of queued events with one syscall.
	fc *flushConn

	// actionCtx and actions belong to the transport: actions see its
	// cancellation (shutdown), and it waits for them.
	actionCtx context.Context
	actions   *sync.WaitGroup

	// sem holds a slot for each action frame from when it is read until
	// its reply is written or dropped, so that replies a client does not
	// read stop the reader instead of piling up.
	sem chan struct{}
	// responses never blocks: it has room for one reply per slot of sem.
	responses chan reply
	// unread and unreadN are the bytes and count of replies queued or
	// being written.
	unread  atomic.Int64
	unreadN atomic.Int64
	// stop ends serve with a cause; set by serve before the reader starts.
	stop context.CancelCauseFunc

	replyMu       sync.Mutex // guards repliesClosed and sends on responses
	repliesClosed bool       // the writer is gone: replies are dropped

	done chan struct{} // closed when the writer has stopped
}

// reply is a response frame and the grant of its request, kept until the
// frame is written.
type reply struct {
	b []byte
	g *grant
}

func newWSConn(conn *websocket.Conn, r role, router *Router, log *zap.Logger, opts ConnOptions,
	actionCtx context.Context, actions *sync.WaitGroup) *wsConn {
	return &wsConn{
		conn:      conn,
		role:      r,
		router:    router,
		log:       log,
		opts:      opts,
		actionCtx: actionCtx,
		actions:   actions,
		sem:       make(chan struct{}, opts.MaxInFlight),
		responses: make(chan reply, opts.MaxInFlight),
		done:      make(chan struct{}),
	}
}

// serve runs the connection until the peer leaves, a read or write fails,
// or ctx is done; the connection is closed when it returns. The error
// says why it ended.
func (c *wsConn) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.stop = cancel
	if c.sub != nil {
		c.sub.online.Store(true)
		defer c.sub.online.Store(false)
	}

	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		defer close(c.done)
		err := c.writeLoop(ctx)
		cancel(err)
	}()
	if c.sub != nil && c.sub.policy == disconnect {
		// The writer may be stuck in a write to this very client; give it
		// up as soon as its queue overflows, not when the write times out.
		writer.Add(1)
		go func() {
			defer writer.Done()
			select {
			case <-c.sub.overflow:
				cancel(fmt.Errorf("%w: its event queue overflowed", errSlowClient))
			case <-ctx.Done():
			}
		}()
	}
	// When the writer or the transport stops first, unblock the reader:
	// tell the peer why (1001 at shutdown, 1008 for a slow client), then
	// drop the TCP connection.
	var readerDone atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		if readerDone.Load() {
			return
		}
		code, text := websocket.CloseGoingAway, "server shutting down"
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errUnreadReplies):
			code, text = websocket.ClosePolicyViolation, "too many unread replies: read the replies to your calls"
		case errors.Is(cause, errSlowClient):
			code, text = websocket.ClosePolicyViolation, "too slow to keep up with events"
		}
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text),
			time.Now().Add(closeGrace))
		_ = c.conn.Close()
	})
	defer stop()

	err := c.readLoop(ctx)
	readerDone.Store(true)
	cancel(err)
	// The reader stopped first (the peer closed, or the connection broke):
	// a write in progress may be sending events the peer still reads
	// before it sees our close reply, so let it finish, briefly.
	select {
	case <-c.done:
	case <-time.After(closeGrace):
	}
	_ = c.conn.Close()
	writer.Wait()
	c.dropReplies()
	return context.Cause(ctx)
}

func (c *wsConn) readLoop(ctx context.Context) error {
	c.conn.SetReadLimit(c.opts.MaxMessageBytes)
	for {
		if !c.role.actions() {
			// An /event connection takes no calls (communication/ws.md):
			// whatever it sends is read and dropped, never held.
			_, r, err := c.conn.NextReader()
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			continue
		}
		if ctx.Err() != nil {
			// Stopped (e.g. too many unread replies) while the connection
			// is still being closed: read nothing more.
			return context.Cause(ctx)
		}
		// At MaxInFlight unwritten replies the reader stops reading, which
		// pushes back on the client; it waits holding nothing.
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if err := c.readAction(); err != nil {
			<-c.sem
			return err
		}
	}
}

// readAction reads one action frame, holding a slot of sem, and starts
// the action or answers 1429 at once; either way the slot goes with the
// reply. An error ends the connection and leaves the slot to the caller.
//
// The frame is read through the shared limits. When they run out
// mid-frame, the rest is read and dropped, keeping only its echo, and the
// call is answered 1429 with that echo, so the client's caller sees a
// clear "retry later" and the connection and its other calls go on.
// Only when the echo is too large to keep (it goes with the rest of the
// frame) is the connection closed, with 1013 "try again later": a reply
// without the echo would match no call.
func (c *wsConn) readAction() error {
	_, r, err := c.conn.NextReader()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	limits := c.router.limits
	g := limits.grant()
	frame, err := readBudgeted(r, g, -1)
	if errors.Is(err, errNoMemory) {
		var s echoScanner
		_, _ = s.Write(frame)
		frame = nil
		g.release()
		if _, err := io.Copy(&s, r); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		echo, ok := s.result()
		if !ok {
			_ = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "out of memory for requests; try again later"),
				time.Now().Add(closeGrace))
			return errTryLater
		}
		c.refuse(limits.tooMany(boundMemory), echo)
		return nil
	}
	if err != nil {
		g.release()
		return fmt.Errorf("read: %w", err)
	}
	if !g.takeAction() {
		_, _, echo, _ := parseFrame(frame)
		echo = bytes.Clone(echo) // let the frame go now
		g.release()
		c.refuse(limits.tooMany(boundActions), echo)
		return nil
	}
	c.actions.Add(1)
	go func() {
		defer c.actions.Done()
		c.queueReply(c.call(frame, g), g)
	}()
	return nil
}

// refuse answers a call that was not run.
func (c *wsConn) refuse(ae *ActionError, echo json.RawMessage) {
	resp := failure(ae)
	resp.Echo = echo
	c.queueReply(resp.appendJSON(make([]byte, 0, 256+len(echo))), c.router.limits.grant())
}

// queueReply hands b to the writer; g (the request's grant) and the
// request's slot of sem are given back once b is written or dropped.
// Until then b's bytes are charged to the shared limits, and a
// connection whose unwritten replies pass MaxUnreadBytes is stopped.
func (c *wsConn) queueReply(b []byte, g *grant) {
	n := int64(len(b))
	g.force(n)
	c.replyMu.Lock()
	if c.repliesClosed {
		c.replyMu.Unlock()
		g.release()
		<-c.sem
		return
	}
	unread, count := c.unread.Add(n), c.unreadN.Add(1)
	c.responses <- reply{b: b, g: g}
	c.replyMu.Unlock()
	if unread > c.opts.MaxUnreadBytes && count > 1 {
		c.stop(fmt.Errorf("%w: %d replies (%d KiB) wait to be written, over the %d KiB allowed",
			errUnreadReplies, count, unread>>10, c.opts.MaxUnreadBytes>>10))
	}
}

// replyDone gives back what a written or dropped reply held.
func (c *wsConn) replyDone(r reply) {
	c.unread.Add(-int64(len(r.b)))
	c.unreadN.Add(-1)
	r.g.release()
	<-c.sem
}

// dropReplies runs once the writer has stopped: replies queued and still
// to come are dropped, as nobody will write them.
func (c *wsConn) dropReplies() {
	c.replyMu.Lock()
	defer c.replyMu.Unlock()
	c.repliesClosed = true
	for {
		select {
		case r := <-c.responses:
			c.replyDone(r)
		default:
			return
		}
	}
}

// call runs one action frame, whose request holds g, and returns the
// response frame.
func (c *wsConn) call(frame []byte, g *grant) []byte {
	action, params, echo, perr := parseFrame(frame)
	var resp Response
	if perr != nil {
		resp = failure(perr)
	} else {
		ctx, cancel := context.WithTimeout(c.actionCtx, c.opts.ActionTimeout)
		resp = c.router.handle(ctx, action, params, g)
		cancel()
	}
	resp.Echo = echo
	return resp.appendJSON(make([]byte, 0, 96+len(resp.Data)+len(echo)))
}

// parseFrame reads {"action": …, "params": …, "echo": …}. echo is returned
// whenever the frame is an object, so even a bad call is answered with it.
func parseFrame(frame []byte) (action string, params, echo json.RawMessage, err *ActionError) {
	if !gjson.ValidBytes(frame) {
		return "", nil, nil, ErrBadParams("frame: not valid JSON")
	}
	// The frame is never modified, so the string may share its bytes: a
	// frame can carry megabytes of base64 media, not worth a copy.
	root := gjson.Parse(unsafe.String(unsafe.SliceData(frame), len(frame)))
	if !root.IsObject() {
		return "", nil, nil, ErrBadParams("frame: expected a JSON object with action, params and echo")
	}
	var act gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "action":
			act = v
		case "params":
			params = sub(frame, v)
		case "echo":
			echo = sub(frame, v)
		}
		return true
	})
	if act.Type != gjson.String || act.Str == "" {
		return "", nil, echo, ErrBadParams("action: expected a non-empty string")
	}
	return act.Str, params, echo, nil
}

// sub is v's raw text as a slice of frame when gjson knows where it is.
func sub(frame []byte, v gjson.Result) json.RawMessage {
	if v.Index > 0 && v.Index+len(v.Raw) <= len(frame) {
		return frame[v.Index : v.Index+len(v.Raw) : v.Index+len(v.Raw)]
	}
	return json.RawMessage(v.Raw)
}

func (c *wsConn) writeLoop(ctx context.Context) error {
	write := func(b []byte) error {
		_ = c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		return c.slow(c.conn.WriteMessage(websocket.TextMessage, b))
	}
	if c.hello != nil {
		if err := write(c.hello); err != nil {
			return fmt.Errorf("write lifecycle: %w", err)
		}
	}
	// What the previous connection may not have delivered (reverse WS) or
	// the backlog (forward WS), in runs of at most maxBatch: on a failure
	// the rest becomes pending again, in order.
	for rest := c.pending; len(rest) > 0; {
		n := min(len(rest), maxBatch)
		batch := rest[:n:n]
		rest = rest[n:]
		c.pending = nil
		if err := c.writeEvents(batch); err != nil {
			c.pending = append(c.pending, rest...)
			return err
		}
	}
	c.pending = nil
	var events <-chan event
	if c.sub != nil {
		events = c.sub.ch
	}
	var ping <-chan time.Time
	if c.opts.PingInterval > 0 {
		t := time.NewTicker(c.opts.PingInterval)
		defer t.Stop()
		ping = t.C
	}
	batch := make([]event, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case r := <-c.responses:
			err := write(r.b)
			c.replyDone(r)
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
		case e := <-events:
			// Take what else is queued, and send it all at once.
			batch = append(batch[:0], e)
			size := len(e.data)
		more:
			for len(batch) < maxBatch && size < maxHeld {
				select {
				case e := <-events:
					batch = append(batch, e)
					size += len(e.data)
				default:
					break more
				}
			}
			// select picks at random among ready cases: the reader may
			// already have seen the connection end. Writing now would put
			// the batch into a socket the kernel still accepts writes for
			// but nobody reads; keep it for the next connection instead.
			if ctx.Err() != nil {
				c.pending = append([]event(nil), batch...)
				return context.Cause(ctx)
			}
			if err := c.writeEvents(batch); err != nil {
				return err
			}
		case <-ping:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout)); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		}
	}
}

// maxBatch bounds the events sent with one syscall.
const maxBatch = 128

// writeEvents writes batch in order. An event that may not have reached
// the socket becomes pending: the rest of the batch after a failed
// write, and all of it when the held run could not be sent.
func (c *wsConn) writeEvents(batch []event) error {
	deadline := time.Now().Add(c.opts.WriteTimeout)
	held := c.fc != nil && len(batch) > 1
	if held {
		c.fc.hold()
	}
	for i, e := range batch {
		_ = c.conn.SetWriteDeadline(deadline)
		if err := c.conn.WriteMessage(websocket.TextMessage, e.data); err != nil {
			// Typically ErrCloseSent: the peer's close was answered (that
			// close frame went into the run after batch[:i]).
			if held && c.fc.flush(deadline) != nil {
				i = 0
			}
			c.pending = append([]event(nil), batch[i:]...)
			return fmt.Errorf("write: %w", c.slow(err))
		}
	}
	if held {
		if err := c.fc.flush(deadline); err != nil {
			c.pending = append([]event(nil), batch...)
			return fmt.Errorf("write: %w", c.slow(err))
		}
	}
	return nil
}

// slow marks a write timeout: the peer stopped reading, the same verdict
// as an overflowing queue.
func (c *wsConn) slow(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: a write took over %v", errSlowClient, c.opts.WriteTimeout)
	}
	return err
}
