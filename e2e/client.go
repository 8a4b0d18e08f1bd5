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
func PostJSON(ctx context.Context, url, contentType string, body io.Reader) (int, []byte, error) {
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
// response.
func (c *WSClient) Call(ctx context.Context, action string, params json.RawMessage) ([]byte, error) {
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
// OnFrame. It can be stopped and restarted on the same port.
type Framework struct {
	onFrame func(raw []byte)
	addr    string

	mu       sync.Mutex // guards the fields below
	srv      *http.Server
	served   chan struct{}
	conns    map[*websocket.Conn]struct{}
	accepted int
	handlers sync.WaitGroup
}

// NewFramework listens on a fresh loopback port and serves.
func NewFramework(onFrame func(raw []byte)) (*Framework, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Framework{onFrame: onFrame, addr: ln.Addr().String(), conns: map[*websocket.Conn]struct{}{}}
	f.serve(ln)
	return f, nil
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

func (f *Framework) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(f.upgrade)}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	f.mu.Lock()
	f.srv, f.served = srv, served
	f.mu.Unlock()
}

func (f *Framework) upgrade(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{ReadBufferSize: 64 << 10}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	if f.srv == nil { // stopping
		f.mu.Unlock()
		conn.Close()
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
			break
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

// Stop closes the listener and every connection, as a framework that
// exits does, and waits for the handlers.
func (f *Framework) Stop() {
	f.mu.Lock()
	srv, served := f.srv, f.served
	f.srv = nil
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-served
	f.handlers.Wait()
}

// Restart listens on the same port again after Stop.
func (f *Framework) Restart() error {
	var ln net.Listener
	var err error
	for range 200 { // the port was ours a moment ago; TIME_WAIT does not block a listener
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			f.serve(ln)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("listen again on %s: %w", f.addr, err)
}

// IsMessageEvent reports whether an event frame is a message event (the
// hub writes compact JSON, so a byte search is exact).
func IsMessageEvent(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"post_type":"message"`))
}
