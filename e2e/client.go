package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tidwall/gjson"
)

// Reply is a OneBot action response as a framework decodes it.
type Reply struct {
	Status  string          `json:"status"`
	Retcode int             `json:"retcode"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
	Wording string          `json:"wording"`
	Echo    json.RawMessage `json:"echo"`
}

// ParseReply decodes a response frame or body.
func ParseReply(raw []byte) (Reply, error) {
	var r Reply
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("not a OneBot response: %w", err)
	}
	if r.Status == "" {
		return r, errors.New("not a OneBot response: no status")
	}
	return r, nil
}

// httpClient keeps enough idle connections for 16 concurrent callers.
var httpClient = &http.Client{Transport: &http.Transport{
	MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true,
}}

// PostJSON POSTs body to url and returns the status and the whole answer.
// It gives up after WaitTimeout if ctx does not end sooner: a daemon that
// never answers fails the test instead of hanging it.
func PostJSON(ctx context.Context, url, contentType string, body io.Reader) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, WaitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// WSClient is a forward-WebSocket client as a framework runs one: a reader
// goroutine hands every event to onEvent and routes action responses to
// their callers by echo.
type WSClient struct {
	conn *websocket.Conn
	wmu  sync.Mutex // serialises writes

	mu      sync.Mutex // guards pending
	pending map[string]chan []byte
	nextID  atomic.Int64

	done chan struct{}
	err  error // why the reader stopped; read after done
}

// DialWS connects to a forward-WS URL, checks that the first frame is
// lifecycle connect, and starts the reader. onEvent runs on the reader
// goroutine for each later event frame (heartbeats included) and may keep
// raw.
func DialWS(url string, onEvent func(raw []byte)) (*WSClient, error) {
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	_, first, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read the first frame: %w", err)
	}
	if gjson.GetBytes(first, "meta_event_type").Str != "lifecycle" {
		conn.Close()
		return nil, fmt.Errorf("first frame is not lifecycle: %s", Shorten(first))
	}
	c := &WSClient{conn: conn, pending: map[string]chan []byte{}, done: make(chan struct{})}
	go c.read(onEvent)
	return c, nil
}

func (c *WSClient) read(onEvent func([]byte)) {
	defer close(c.done)
	for {
		_, raw, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			c.mu.Lock()
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		if echo := gjson.GetBytes(raw, "echo"); echo.Exists() {
			c.mu.Lock()
			ch := c.pending[echo.Raw]
			delete(c.pending, echo.Raw)
			c.mu.Unlock()
			if ch != nil {
				ch <- raw
			}
			continue
		}
		if onEvent != nil {
			onEvent(raw)
		}
	}
}

// Call sends an action with a fresh numeric echo and waits for its
// response, at most WaitTimeout if ctx does not end sooner.
func (c *WSClient) Call(ctx context.Context, action string, params json.RawMessage) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, WaitTimeout)
	defer cancel()
	id := strconv.FormatInt(c.nextID.Add(1), 10)
	ch := make(chan []byte, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	frame := make([]byte, 0, 64+len(action)+len(params))
	frame = append(frame, `{"action":`...)
	frame = strconv.AppendQuote(frame, action)
	frame = append(frame, `,"params":`...)
	frame = append(frame, params...)
	frame = append(frame, `,"echo":`...)
	frame = append(frame, id...)
	frame = append(frame, '}')
	if err := c.Send(frame); err != nil {
		return nil, err
	}
	select {
	case raw, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("connection closed: %w", c.err)
		}
		return raw, nil
	case <-c.done:
		select {
		case raw, ok := <-ch: // answered just before the end
			if ok {
				return raw, nil
			}
		default:
		}
		return nil, fmt.Errorf("connection closed: %w", c.err)
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Send writes one text frame as is.
func (c *WSClient) Send(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

// Done is closed once the reader stopped; Err says why.
func (c *WSClient) Done() <-chan struct{} { return c.done }

// Err is the reader's error once Done is closed.
func (c *WSClient) Err() error { return c.err }

// Close closes the connection and waits for the reader.
func (c *WSClient) Close() {
	_ = c.conn.Close()
	<-c.done
}

// Framework is a reverse-WS server on 127.0.0.1, as a bot framework runs
// one: it accepts the pipeline's connections and hands each frame to
// onFrame. It can be stopped and restarted on the same port, which stays
// reserved for it until Close.
type Framework struct {
	onFrame func(raw []byte)
	addr    string

	// mu guards the fields below. upgrade holds it from its check of srv
	// to the registration of the connection, so that Stop either finds a
	// connection in conns or has refused it before its 101.
	mu sync.Mutex
	// port is the socket that keeps addr bound while the framework is
	// stopped (see reservePort), -1 once closed. Without it, another
	// process on the machine may take the port between Stop and Restart,
	// as a listener on port 0 or as the local port of an outgoing
	// connection, and Restart would fail for as long as that socket lives
	// (a minute in TIME_WAIT).
	port     int
	srv      *http.Server // nil while stopped or stopping
	served   chan struct{}
	conns    map[*websocket.Conn]struct{}
	accepted int
	handlers sync.WaitGroup
}

// NewFramework listens on a fresh loopback port and serves. Close it.
func NewFramework(onFrame func(raw []byte)) (*Framework, error) {
	port, addr, err := reservePort()
	if err != nil {
		return nil, err
	}
	f := &Framework{onFrame: onFrame, addr: addr, port: port, conns: map[*websocket.Conn]struct{}{}}
	if err := f.Restart(); err != nil {
		_ = syscall.Close(port)
		return nil, err
	}
	return f, nil
}

// reservePort binds a TCP socket to a free loopback port without
// listening on it, and returns the socket and the address. A dial to the
// port is refused, as by a stopped process, but the port is not free:
// the kernel gives it to no other socket that binds port 0 and to no
// outgoing connection. SO_REUSEADDR on both sides lets the framework's
// own listeners bind it while the reservation holds.
func reservePort() (int, string, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return 0, "", fmt.Errorf("reserve a port: %w", err)
	}
	syscall.CloseOnExec(fd) // the process tests start children
	var sa syscall.Sockaddr
	if err = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err == nil {
		if err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err == nil {
			sa, err = syscall.Getsockname(fd)
		}
	}
	if err != nil {
		_ = syscall.Close(fd)
		return 0, "", fmt.Errorf("reserve a port: %w", err)
	}
	return fd, net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)), nil
}

// URL is the universal endpoint to configure as ws-reverse.
func (f *Framework) URL() string { return "ws://" + f.addr + "/" }

// Accepted is how many connections the framework accepted so far.
func (f *Framework) Accepted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted
}

// Live is how many connections are open now.
func (f *Framework) Live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *Framework) upgrade(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.srv == nil {
		// Stopping: refuse before the 101. A connection upgraded and
		// dropped at once would be one the pipeline believes open, and
		// an event it writes there before it sees the end is lost.
		f.mu.Unlock()
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	up := websocket.Upgrader{ReadBufferSize: 64 << 10}
	conn, err := up.Upgrade(w, r, nil) // a 101 of a few hundred bytes to a fresh socket: it does not block
	if err != nil {
		f.mu.Unlock()
		return
	}
	f.conns[conn] = struct{}{}
	f.accepted++
	f.handlers.Add(1)
	f.mu.Unlock()
	defer f.handlers.Done()
	for {
		_, raw, err := conn.ReadMessage()
		if err != nil {
			break // Stop's close answered, or the connection is gone
		}
		if f.onFrame != nil {
			f.onFrame(raw)
		}
	}
	conn.Close()
	f.mu.Lock()
	delete(f.conns, conn)
	f.mu.Unlock()
}

// Stop shuts the framework down as one that exits cleanly does, with the
// WebSocket close handshake (RFC 6455, 7.1.2): it stops listening first, so
// that every dial from then on is refused and no connection is accepted
// after Stop began; then it sends each connection a close frame and reads
// on until the pipeline's close reply, so every event the pipeline wrote
// before it reaches onFrame, and the pipeline knows the connection is
// over before Stop returns. An event the pipeline publishes after that
// fails to write on its side and is kept for the next connection.
//
// Closing the sockets without the close handshake would lose events
// whatever the pipeline does: it cannot tell an event written just after
// the peer's FIN (which the kernel still accepts) from one the peer read.
func (f *Framework) Stop() {
	f.mu.Lock()
	srv, served := f.srv, f.served
	f.srv = nil
	conns := make([]*websocket.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close() // the listener, and connections not upgraded yet
	<-served
	// A pipeline that never answers the close cannot hold Stop up.
	deadline := time.Now().Add(WaitTimeout)
	for _, c := range conns {
		_ = c.SetReadDeadline(deadline)
		_ = c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "framework stopping"), deadline)
	}
	f.handlers.Wait()
}

// Restart listens on the framework's port and serves: after Stop, it
// starts the framework again.
func (f *Framework) Restart() error {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.upgrade)}
	served := make(chan struct{})
	// srv is set before the first accept: a dial must never meet a
	// listener that refuses it as stopping.
	f.mu.Lock()
	f.srv, f.served = srv, served
	f.mu.Unlock()
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	return nil
}

// Close stops the framework and releases its port. Calls after the
// first only stop it.
func (f *Framework) Close() {
	f.Stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.port >= 0 {
		_ = syscall.Close(f.port) // a second close could hit a reused descriptor
		f.port = -1
	}
}

// IsMessageEvent reports whether an event frame is a message event (the
// hub writes compact JSON, so a byte search is exact).
func IsMessageEvent(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"post_type":"message"`))
}
