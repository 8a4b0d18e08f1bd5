package onebot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

type wsFixture struct {
	srv    *httptest.Server
	ws     *WSServer
	hub    *Hub
	router *Router
}

func newWSFixture(t *testing.T, log *zap.Logger, opts WSOptions) *wsFixture {
	t.Helper()
	if log == nil {
		log, _ = testLog(t)
	}
	f := &wsFixture{}
	f.hub, _ = newHub(log, 10001)
	f.router = testRouter(t, log)
	opts.Router, opts.Hub, opts.Log = f.router, f.hub, log
	f.ws = NewWSServer(opts)
	f.srv = httptest.NewServer(f.ws)
	// Cleanups run last-in first-out: close the WebSockets, then the server.
	t.Cleanup(f.srv.Close)
	start(t, f.ws.Run)
	return f
}

func (f *wsFixture) dial(t *testing.T, path string) *websocket.Conn {
	return dialWS(t, wsURL(f.srv, path), nil)
}

// call sends a raw frame and returns the reply frame.
func call(t *testing.T, c *websocket.Conn, frame string) []byte {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	return readFrame(t, c)
}

func TestWSAccessToken(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{AccessToken: "s3cret"})
	for _, tc := range tokenCases {
		u := wsURL(f.srv, "/")
		if tc.query != "" {
			u += "?access_token=" + url.QueryEscape(tc.query)
		}
		h := http.Header{}
		if tc.header != "" {
			h.Set("Authorization", tc.header)
		}
		c, resp, err := websocket.DefaultDialer.Dial(u, h)
		if tc.want == http.StatusOK {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if ev := decode(t, readFrame(t, c)); ev["sub_type"] != "connect" {
				t.Errorf("%s: first frame %v", tc.name, ev)
			}
			c.Close()
			continue
		}
		if err == nil {
			c.Close()
			t.Errorf("%s: connected, want HTTP %d", tc.name, tc.want)
			continue
		}
		if resp == nil || resp.StatusCode != tc.want {
			t.Errorf("%s: %v, want HTTP %d", tc.name, err, tc.want)
		}
	}
}

// TestWSLifecycleFirst: the first frame on a connection carrying events is
// lifecycle connect with the numeric self_id, even when events are being
// published while the client connects.
func TestWSLifecycleFirst(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = f.hub.Publish(json.RawMessage(`{"post_type":"message","self_id":10001}`))
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for _, path := range []string{"/", "/event", "/event/"} {
		for range 5 {
			c := f.dial(t, path)
			first := readFrame(t, c)
			ev := decode(t, first)
			if ev["post_type"] != "meta_event" || ev["meta_event_type"] != "lifecycle" || ev["sub_type"] != "connect" {
				t.Fatalf("%s: first frame %s", path, first)
			}
			if !strings.Contains(string(first), `"self_id":10001`) {
				t.Fatalf("%s: self_id not the number 10001: %s", path, first)
			}
			if _, ok := ev["echo"]; ok {
				t.Fatalf("an event carries echo: %s", first)
			}
			if ev := decode(t, readFrame(t, c)); ev["post_type"] != "message" {
				t.Fatalf("%s: then %v", path, ev)
			}
			c.Close()
		}
	}
	// /api carries no events, so no lifecycle: its first frame is a reply.
	c := f.dial(t, "/api")
	if r := decode(t, call(t, c, `{"action":"get_login_info","echo":1}`)); r["echo"] != 1.0 {
		t.Fatalf("/api first frame %v", r)
	}
}

func TestWSEchoAndRetcodes(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{})
	c := f.dial(t, "/api")
	for _, tc := range []struct {
		name, frame, want string
	}{
		{"echo number", `{"action":"get_login_info","echo":12345678901234567890}`,
			`{"status":"ok","retcode":0,"data":{"nickname":"bot","user_id":10001},"message":"","wording":"","echo":12345678901234567890}`},
		{"echo string", `{"action":"get_login_info","params":{},"echo":"abc\u00e9"}`,
			`,"echo":"abc\u00e9"}`},
		{"echo object byte for byte", `{"action":"get_login_info","echo": {"seq": 1.50, "tag":[ "x" ]} }`,
			`,"echo":{"seq": 1.50, "tag":[ "x" ]}}`},
		{"echo null", `{"action":"get_login_info","echo":null}`, `,"echo":null}`},
		{"no echo", `{"action":"get_login_info"}`, `"wording":""}`},
		{"unknown 1404", `{"action":"get_guild_service_profile","echo":7}`,
			`{"status":"failed","retcode":1404,"data":null,"message":"unknown action: get_guild_service_profile","wording":"the action \"get_guild_service_profile\" is not provided by this OneBot implementation","msg":"unknown action: get_guild_service_profile","echo":7}`},
		{"bad params 1400", `{"action":"send_private_msg","params":{"user_id":"x","message":"m"},"echo":"e"}`,
			`"retcode":1400,"data":null,"message":"user_id: expected an integer, got \"x\""`},
		{"params not an object", `{"action":"send_private_msg","params":[1],"echo":"e"}`,
			`"retcode":1400,"data":null,"message":"params: expected an object, got [1]"`},
		{"no action", `{"params":{},"echo":3}`, `"retcode":1400,"data":null,"message":"action: expected a non-empty string","wording":"action: expected a non-empty string","msg":"action: expected a non-empty string","echo":3}`},
		{"async", `{"action":"echo_params_async","echo":4}`, `{"status":"async","retcode":1,"data":null,"message":"","wording":"","echo":4}`},
	} {
		got := string(call(t, c, tc.frame))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant …%s…", tc.name, got, tc.want)
		}
		if tc.name == "no echo" && strings.Contains(got, `"echo"`) {
			t.Errorf("no echo: reply has one: %s", got)
		}
	}
}

// TestWSActionsConcurrent: a slow action does not hold up the replies to
// later calls on the same socket.
func TestWSActionsConcurrent(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{})
	c := f.dial(t, "/api")
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"action":"sleep","params":{"ms":3000},"echo":"slow"}`))
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"action":"get_login_info","echo":"fast"}`))
	if r := decode(t, readFrame(t, c)); r["echo"] != "fast" {
		t.Fatalf("first reply %v, want the fast one", r)
	}
}

// TestWSInFlightCap: with MaxInFlight 2, a third call waits for a slot
// (the reader stops reading), and runs once one frees.
func TestWSInFlightCap(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{Conn: ConnOptions{MaxInFlight: 2}})
	release := make(chan struct{})
	var mu sync.Mutex
	running, peak, total := 0, 0, 0
	f.router.Register("hold", func(ctx context.Context, _ *Request) (any, error) {
		mu.Lock()
		running++
		total++
		peak = max(peak, running)
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	c := f.dial(t, "/api")
	for i := range 5 {
		_ = c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"action":"hold","echo":%d}`, i)))
	}
	eventually(t, "two calls running", func() bool { mu.Lock(); defer mu.Unlock(); return running == 2 })
	time.Sleep(50 * time.Millisecond) // room for a third to start, were the cap broken
	mu.Lock()
	if total != 2 {
		t.Errorf("%d calls started, want 2 (the cap)", total)
	}
	mu.Unlock()
	close(release)
	seen := map[float64]bool{}
	for range 5 {
		seen[decode(t, readFrame(t, c))["echo"].(float64)] = true
	}
	if len(seen) != 5 || peak != 2 {
		t.Errorf("replies for %v, peak %d in flight", seen, peak)
	}
}

// TestWSMalformedFrames: garbage gets a 1400 reply (no echo to give), an
// oversized frame a clean 1009 close; the server stays healthy.
func TestWSMalformedFrames(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{Conn: ConnOptions{MaxMessageBytes: 1 << 20}})
	c := f.dial(t, "/api")
	for _, tc := range []struct{ frame, want string }{
		{`not json`, `{"status":"failed","retcode":1400,"data":null,"message":"frame: not valid JSON"`},
		{`[{"action":"get_login_info"}]`, `"retcode":1400,"data":null,"message":"frame: expected a JSON object`},
		{`"get_login_info"`, `"retcode":1400`},
		{`{"action":1,"echo":"e"}`, `"message":"action: expected a non-empty string","wording":"action: expected a non-empty string","msg":"action: expected a non-empty string","echo":"e"}`},
		{`{"action":"get_login_info"`, `"message":"frame: not valid JSON"`},
		{strings.Repeat("x", 900<<10), `"message":"frame: not valid JSON"`},
	} {
		got := string(call(t, c, tc.frame))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%.40s: %s\nwant …%s…", tc.frame, got, tc.want)
		}
		if strings.Contains(tc.want, "not valid JSON") && strings.Contains(got, `"echo"`) {
			t.Errorf("reply to garbage carries echo: %s", got)
		}
	}
	// Binary frames are read as JSON text as well.
	_ = c.WriteMessage(websocket.BinaryMessage, []byte(`{"action":"get_login_info","echo":"b"}`))
	if r := decode(t, readFrame(t, c)); r["status"] != "ok" || r["echo"] != "b" {
		t.Errorf("binary frame: %v", r)
	}

	big := f.dial(t, "/")
	readFrame(t, big) // lifecycle
	_ = big.WriteMessage(websocket.TextMessage, make([]byte, 10<<20))
	_ = big.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := big.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("10 MB frame: %v, want close 1009", err)
		}
		break
	}
	// Healthy: the first connection and a new one still work.
	if r := decode(t, call(t, c, `{"action":"get_login_info","echo":1}`)); r["status"] != "ok" {
		t.Errorf("after the oversized frame: %v", r)
	}
	again := f.dial(t, "/api")
	if r := decode(t, call(t, again, `{"action":"get_login_info","echo":1}`)); r["status"] != "ok" {
		t.Errorf("new connection: %v", r)
	}
}

// TestWSTenMegabyteGarbage: under the default limit a 10 MB frame of
// garbage is read and answered with 1400.
func TestWSTenMegabyteGarbage(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{})
	c := f.dial(t, "/api")
	got := string(call(t, c, strings.Repeat("{", 10<<20)))
	if !strings.Contains(got, `"retcode":1400`) {
		t.Fatalf("reply %.200s", got)
	}
	if r := decode(t, call(t, c, `{"action":"get_login_info","echo":1}`)); r["status"] != "ok" {
		t.Errorf("after: %v", r)
	}
}

// TestWSStalledClient: a client that stops reading is disconnected once
// its queue overflows, with a log line, and another client keeps getting
// every event, promptly and in order.
func TestWSStalledClient(t *testing.T) {
	log, logs := testLog(t)
	const queue = 64
	f := newWSFixture(t, log, WSOptions{Conn: ConnOptions{QueueSize: queue, WriteTimeout: time.Second}})
	stalled := f.dial(t, "/event") // never read from again
	healthy := f.dial(t, "/")
	readFrame(t, healthy)

	// A socket buffer holds many small events, so publish enough to fill
	// the kernel buffers and the queue behind them.
	const n = 20000
	payload := strings.Repeat("x", 1000)
	received := make(chan int, n)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(received)
		for {
			_ = healthy.SetReadDeadline(time.Now().Add(wait))
			_, b, err := healthy.ReadMessage()
			if err != nil {
				return
			}
			var ev struct{ N int }
			_ = json.Unmarshal(b, &ev)
			received <- ev.N
			if ev.N == n-1 {
				return
			}
		}
	}()
	for i := range n {
		// Pace to the healthy client (received is not drained yet, so its
		// length counts what arrived) so that only the stalled one
		// overflows, however slow the machine; the reader's deadline bounds
		// the wait.
	pace:
		for i-len(received) >= queue/2 {
			select {
			case <-readerDone:
				break pace
			case <-time.After(50 * time.Microsecond):
			}
		}
		_ = f.hub.Publish(json.RawMessage(fmt.Sprintf(`{"post_type":"notice","n":%d,"pad":"%s"}`, i, payload)))
	}
	next := 0
	for got := range received {
		if got != next {
			t.Fatalf("healthy client got event %d, want %d", got, next)
		}
		next++
	}
	if next != n {
		t.Fatalf("healthy client got %d of %d events", next, n)
	}
	eventually(t, "the slow-client log line", func() bool {
		return logs.FilterMessageSnippet("too slow").Len() == 1
	})
	// The stalled client finds the connection closed behind the events it
	// did not read (with 1008 if the close frame fit in its buffers).
	_ = stalled.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err := stalled.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Errorf("stalled client: %v, want a closed connection", err)
			}
			break
		}
	}
}

// TestWSShutdownClosesConnections: Close (what Run does at shutdown)
// closes hijacked connections with 1001, refuses new ones, and waits for
// every goroutine (goleak checks the rest).
func TestWSShutdownClosesConnections(t *testing.T) {
	log, _ := testLog(t)
	hub, _ := newHub(log, 1)
	router := testRouter(t, log)
	ws := NewWSServer(WSOptions{Router: router, Hub: hub, Log: log})
	srv := httptest.NewServer(ws)
	defer srv.Close()
	conns := []*websocket.Conn{dialWS(t, wsURL(srv, "/"), nil), dialWS(t, wsURL(srv, "/api"), nil)}
	readFrame(t, conns[0])
	_ = conns[1].WriteMessage(websocket.TextMessage, []byte(`{"action":"sleep","params":{"ms":60000}}`))
	time.Sleep(20 * time.Millisecond)

	closed := make(chan struct{})
	go func() { _ = ws.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close did not return: a connection or an action outlived it")
	}
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		for {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue // the cancelled action's reply may come first
			}
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("conn %d: %v, want close 1001", i, err)
			}
			break
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "/"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v, want HTTP 503", err)
	}
}

func TestWSPathsAndPlainHTTP(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{AccessToken: "t"})
	for path, want := range map[string]int{"/": 400, "/api": 400, "/nope": 404} {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestWSOrigin: without a token, a browser page from elsewhere cannot
// connect; with one, it can (the token is the protection).
func TestWSOrigin(t *testing.T) {
	open := newWSFixture(t, nil, WSOptions{})
	h := http.Header{"Origin": {"http://evil.example"}}
	if c, _, err := websocket.DefaultDialer.Dial(wsURL(open.srv, "/"), h); err == nil {
		c.Close()
		t.Error("cross-origin connection accepted without a token")
	}
	guarded := newWSFixture(t, nil, WSOptions{AccessToken: "t"})
	c := dialWS(t, wsURL(guarded.srv, "/?access_token=t"), h)
	readFrame(t, c)
}

// TestWSWaitsForLogin: a client that connects while the platform is still
// logging in gets its lifecycle frame only once the account id is known,
// never with self_id 0 (ZeroBot would key a phantom bot by it), and is told
// to retry when the login takes too long.
func TestWSWaitsForLogin(t *testing.T) {
	log, _ := testLog(t)
	var self atomic.Int64
	hub := NewHub(HubOptions{Log: log, SelfID: self.Load})
	ws := NewWSServer(WSOptions{Router: testRouter(t, log), Hub: hub, Log: log, LoginWait: 300 * time.Millisecond})
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	start(t, ws.Run)

	// Too slow a login: 503 with Retry-After, no upgrade.
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "/"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("dial before login: err %v, resp %+v; want 503 with Retry-After", err, resp)
	}
	// /api carries no lifecycle, so it needs no id.
	c := dialWS(t, wsURL(srv, "/api"), nil)
	c.Close()

	// The login completes while the client waits.
	ws2 := NewWSServer(WSOptions{Router: testRouter(t, log), Hub: hub, Log: log, LoginWait: 10 * time.Second})
	srv2 := httptest.NewServer(ws2)
	t.Cleanup(srv2.Close)
	start(t, ws2.Run)
	timer := time.AfterFunc(200*time.Millisecond, func() { self.Store(424242) })
	defer timer.Stop()
	c = dialWS(t, wsURL(srv2, "/"), nil)
	defer c.Close()
	first := decode(t, readFrame(t, c))
	if first["meta_event_type"] != "lifecycle" || first["self_id"] != 424242.0 {
		t.Fatalf("first frame after login = %v, want lifecycle with self_id 424242", first)
	}
}
