package onebot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// The attack tests below run an attack bounded in count and time through
// real sockets on 127.0.0.1, and assert on the growth of the live heap
// (sampled after a GC throughout the attack) against a bound far below
// what the same attack held before the limits: each asserts bound B
// where the unbounded server held several times B.

// heapWatch samples the live heap, after a GC, until stopped.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

// liveHeap is the heap marked live by a GC run now (allocations made
// since by other goroutines are not counted, as they would be in
// MemStats.HeapAlloc).
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// dialSmallBuffer dials with a 32 KiB socket receive buffer, so that a
// client that does not read stops the server's writes after a few MiB
// (the server's send buffer) rather than after tens.
func dialSmallBuffer(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(32 << 10)
		}
		return c, err
	}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func watchHeap(t *testing.T) *heapWatch {
	h := &heapWatch{base: liveHeap(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			h.sample()
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(h.end)
	return h
}

func (h *heapWatch) sample() {
	if n := liveHeap(); n > h.peak.Load() {
		h.peak.Store(n)
	}
}

func (h *heapWatch) end() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

// growth stops the watch and returns the peak growth of the live heap in
// MiB, logging it (these are the figures docs/PERFORMANCE.md quotes).
func (h *heapWatch) growth(t *testing.T, attack string) float64 {
	h.end()
	h.sample()
	g := float64(int64(h.peak.Load())-int64(h.base)) / (1 << 20)
	t.Logf("%s: live heap %.1f MiB before, peak growth %.1f MiB", attack, float64(h.base)/(1<<20), g)
	return g
}

// limitsRouter is a running Router with the given limits and the actions
// the attack tests use: echo_params, get_login_info, and hold, which
// blocks until release is closed.
func limitsRouter(t *testing.T, log *zap.Logger, lim LimitsOptions, opts RouterOptions) (*Router, chan struct{}) {
	opts.Log, opts.Limits = log, lim
	r := NewRouter(opts)
	r.Register("echo_params", func(_ context.Context, req *Request) (any, error) { return req.Params, nil })
	r.Register("get_login_info", func(context.Context, *Request) (any, error) {
		return map[string]any{"user_id": 10001, "nickname": "bot"}, nil
	})
	release := make(chan struct{})
	r.Register("hold", func(ctx context.Context, _ *Request) (any, error) {
		select {
		case <-release:
			return "released", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	start(t, r.Run)
	return r, release
}

// bigFrame is an action frame of about size bytes: the payload in echo
// when inEcho, in params otherwise.
func bigFrame(action string, size int, inEcho bool, id int) []byte {
	b := make([]byte, 0, size+64)
	b = fmt.Appendf(b, `{"action":%q,`, action)
	if inEcho {
		b = fmt.Appendf(b, `"params":{},"echo":"%d-`, id)
	} else {
		b = append(b, `"params":{"pad":"`...)
	}
	b = append(b, bytes.Repeat([]byte("x"), size)...)
	if inEcho {
		return append(b, `"}`...)
	}
	return fmt.Appendf(b, `"},"echo":%d}`, id)
}

// healthy checks that a normal call over a new connection is answered.
func healthyWS(t *testing.T, url string) {
	t.Helper()
	c := dialWS(t, url, nil)
	if r := decode(t, call(t, c, `{"action":"get_login_info","echo":"ok"}`)); r["retcode"] != 0.0 || r["echo"] != "ok" {
		t.Fatalf("normal call after the attack: %v", r)
	}
	c.Close()
}

func healthyHTTP(t *testing.T, base string) {
	t.Helper()
	if got := do(t, "POST", base+"/get_login_info", "application/json", `{}`, nil); got.status != 200 || !strings.Contains(got.body, `"retcode":0`) {
		t.Fatalf("normal call after the attack: %+v", got)
	}
}

// settled waits for the limiter to hold nothing once every request is done.
func settled(t *testing.T, r *Router) {
	t.Helper()
	eventually(t, "the limits to be given back", func() bool {
		return r.limits.actions.Load() == 0 && r.limits.bytes.Load() == 0 && r.limits.bgBytes.Load() == 0
	})
}

// TestWSReplySlotHeld: an action keeps its in-flight slot until its reply
// is written. A client that sends calls and does not read gets
// MaxInFlight of them run, and then the reader stops, however fast the
// actions finish; once it reads, everything is answered.
func TestWSReplySlotHeld(t *testing.T) {
	log, _ := testLog(t)
	router, _ := limitsRouter(t, log, LimitsOptions{}, RouterOptions{})
	var ran atomic.Int64
	router.Register("counted_echo", func(_ context.Context, req *Request) (any, error) {
		ran.Add(1)
		return req.Params, nil
	})
	hub, _ := newHub(log, 10001)
	ws := NewWSServer(WSOptions{Router: router, Hub: hub, Log: log,
		Conn: ConnOptions{MaxInFlight: 4, MaxUnreadBytes: 1 << 30, WriteTimeout: time.Minute}})
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	start(t, ws.Run)
	c := dialSmallBuffer(t, wsURL(srv, "/api"))

	// 200 replies of 128 KiB: far more than the socket buffers (32 KiB
	// and at most 4 MiB) hold, so the server's writer blocks.
	const calls = 200
	frame := bigFrame("counted_echo", 128<<10, false, 0)
	sent := make(chan error, 1)
	go func() {
		for range calls {
			_ = c.SetWriteDeadline(time.Now().Add(2 * wait))
			if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// Every action finishes at once; the 4 whose replies cannot be
	// written keep their slots, so the reader stops. Wait for that state
	// (slots held, no new action for 20 polls); without held slots it
	// never comes, as the reader goes on until all calls have run.
	last, same := int64(-1), 0
	eventually(t, "4 slots held by unwritten replies and the reader stopped", func() bool {
		n := ran.Load()
		if router.limits.actions.Load() == 4 && n == last {
			same++
		} else {
			same = 0
		}
		last = n
		return same >= 20
	})
	if last >= calls {
		t.Fatalf("all %d calls ran although no reply was read", last)
	}
	for i := range calls {
		_ = c.SetReadDeadline(time.Now().Add(2 * wait))
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if ran.Load() != calls {
		t.Fatalf("%d actions ran, want %d", ran.Load(), calls)
	}
	settled(t, router)
}

// TestWSUnreadRepliesAttack is attack (a): a forward WebSocket client
// sends calls with 1 MiB echoes and never reads. Before the limits every
// frame was read and its reply queued in memory (2.5 GB in 10 s); now
// the server stops reading at MaxInFlight unwritten replies, closes the
// connection once they pass MaxUnreadBytes, and says why in the log.
func TestWSUnreadRepliesAttack(t *testing.T) {
	log, logs := testLog(t)
	// Each slot holds at most a 2 MiB frame buffer and a 1 MiB reply, so
	// 3 connections × 8 slots never exhaust the 96 MiB of request memory:
	// what closes them is their unread replies, whatever the scheduling.
	router, _ := limitsRouter(t, log, LimitsOptions{MaxRequestBytes: 96 << 20}, RouterOptions{})
	hub, _ := newHub(log, 10001)
	ws := NewWSServer(WSOptions{Router: router, Hub: hub, Log: log,
		Conn: ConnOptions{MaxInFlight: 8, MaxUnreadBytes: 4 << 20, WriteTimeout: time.Minute}})
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	start(t, ws.Run)

	heap := watchHeap(t)
	const conns, calls = 3, 200 // 600 MiB of echoes offered
	var wg sync.WaitGroup
	clients := make([]*websocket.Conn, conns)
	for i := range conns {
		c := dialSmallBuffer(t, wsURL(srv, "/"))
		clients[i] = c
		frame := bigFrame("get_login_info", 1<<20, true, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				_ = c.SetWriteDeadline(time.Now().Add(wait))
				if c.WriteMessage(websocket.TextMessage, frame) != nil {
					return // closed by the server, as it should be
				}
			}
		}()
	}
	wg.Wait()
	grew := heap.growth(t, "forward WS, 3 clients × 200 calls with 1 MiB echoes, never reading")
	for i, c := range clients {
		// The connection was closed: reading what was buffered ends in an
		// error, not a timeout.
		for {
			_ = c.SetReadDeadline(time.Now().Add(wait))
			if _, _, err := c.ReadMessage(); err != nil {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("connection %d still open after the attack", i)
				}
				break
			}
		}
	}
	eventually(t, "the log to name the cause", func() bool {
		return logs.FilterMessage("disconnected a client that sends calls without reading their replies").Len() == conns
	})
	// 3 × 8 slots of 3 MiB at most, plus the test's own frames; unbounded,
	// the server held 600 MiB of frames and as much of replies.
	if grew > 112 {
		t.Errorf("live heap grew %.0f MiB under the attack, want under 112 (24 slots of at most 3 MiB)", grew)
	}
	healthyWS(t, wsURL(srv, "/api"))
	settled(t, router)
}

// TestBackgroundFloodAttack is attack (b): _async calls that stay running
// and _rate_limited calls that wait, each with 512 KiB of params. Before,
// up to 256 and 1,024 whole requests were kept (100 MiB here); now they
// may hold half of the request memory, and the excess is answered 1429 at
// once.
func TestBackgroundFloodAttack(t *testing.T) {
	log, _ := testLog(t)
	router, release := limitsRouter(t, log, LimitsOptions{MaxRequestBytes: 32 << 20},
		RouterOptions{RateLimitInterval: time.Hour})
	srv := newHTTPServer(t, HTTPOptions{Router: router, Log: log})
	hub, _ := newHub(log, 10001)
	ws := NewWSServer(WSOptions{Router: router, Hub: hub, Log: log})
	wsSrv := httptest.NewServer(ws)
	t.Cleanup(wsSrv.Close)
	start(t, ws.Run)

	heap := watchHeap(t)
	body := string(bigFrame("", 512<<10, false, 0)) // {"action":"","params":{"pad":…}…}: 512 KiB of JSON
	accepted, refused := 0, 0
	const calls = 100
	for range calls {
		got := do(t, "POST", srv.URL+"/hold_async", "application/json", body, nil)
		switch {
		case got.status == 200 && strings.Contains(got.body, `"retcode":1,`):
			accepted++
		case got.status == 200 && strings.Contains(got.body, `"retcode":1429`) &&
			strings.Contains(got.body, `"message":"too many requests"`) && strings.Contains(got.body, "retry later"):
			refused++
		default:
			t.Fatalf("_async call: %+v", shortResult(got))
		}
	}
	// Background calls may hold 16 MiB: 31 bodies of 512 KiB and a bit.
	if accepted < 16 || accepted > 32 || refused != calls-accepted {
		t.Errorf("_async: %d accepted, %d refused; want at most 32 accepted, the rest 1429", accepted, refused)
	}

	// The same over WebSocket with _rate_limited: the first runs (and
	// holds the queue for an hour), the others wait until the background
	// memory is full.
	c := dialWS(t, wsURL(wsSrv, "/api"), nil)
	close(release) // the _async calls end and give their memory back
	eventually(t, "the _async calls to end", func() bool { return router.limits.bgBytes.Load() == 0 })
	rateAccepted := 0
	for i := range calls {
		frame := bigFrame("echo_params_rate_limited", 512<<10, false, i)
		_ = c.WriteMessage(websocket.TextMessage, frame)
		r := decode(t, readFrame(t, c))
		if r["echo"] != float64(i) {
			t.Fatalf("reply to call %d has echo %v", i, r["echo"])
		}
		switch r["retcode"] {
		case 1.0:
			rateAccepted++
		case 1429.0:
		default:
			t.Fatalf("_rate_limited call %d: %v", i, r["retcode"])
		}
	}
	// A 512 KiB frame takes a 1 MiB buffer as it grows: 16 fit in 16 MiB.
	if rateAccepted < 8 || rateAccepted > 32 {
		t.Errorf("_rate_limited: %d of 100 accepted, want at most 32 (the background memory is 16 MiB)", rateAccepted)
	}
	grew := heap.growth(t, "_async then _rate_limited, 100 calls each with 512 KiB params")
	if grew > 40 {
		t.Errorf("live heap grew %.0f MiB, want under 40 (background calls may hold 16 MiB; unbounded they held 100)", grew)
	}
	healthyHTTP(t, srv.URL)
	healthyWS(t, wsURL(wsSrv, "/api"))
}

func shortResult(r httpResult) httpResult {
	if len(r.body) > 300 {
		r.body = r.body[:300] + "…"
	}
	return r
}

// TestHTTPBodiesAttack is attack (c): 48 clients at once each post an
// 8 MiB body (half with a Content-Length, half chunked) to an action that
// holds them. Before, all 384 MiB were read and kept; now bodies are read
// only while the request memory has room, and the rest are answered 1429
// with HTTP 200 at once, while the accepted ones still wait.
func TestHTTPBodiesAttack(t *testing.T) {
	log, _ := testLog(t)
	router, release := limitsRouter(t, log, LimitsOptions{MaxRequestBytes: 64 << 20}, RouterOptions{})
	srv := newHTTPServer(t, HTTPOptions{Router: router, Log: log})
	body := bigFrame("", 8<<20, false, 0)

	heap := watchHeap(t)
	const clients = 48
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, clients)
	for i := range clients {
		go func() {
			var rd io.Reader = bytes.NewReader(body)
			if i%2 == 1 {
				rd = io.MultiReader(rd) // no length: sent chunked
			}
			req, _ := http.NewRequest("POST", srv.URL+"/hold", rd)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{status: resp.StatusCode, body: string(b)}
		}()
	}
	// The refused are answered while the accepted ones are still held:
	// wait until every request is one or the other.
	refused := 0
	eventually(t, "every request answered 1429 or held", func() bool {
		for {
			select {
			case r := <-results:
				if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"retcode":1429`) ||
					!strings.Contains(r.body, "limits.max-request-memory") {
					t.Fatalf("refused request: %+v", shortResult(httpResult{status: r.status, body: r.body}))
				}
				refused++
				continue
			default:
			}
			return refused+int(router.limits.actions.Load()) == clients
		}
	})
	accepted := clients - refused
	if accepted < 1 || accepted > 8 {
		t.Errorf("%d of %d accepted; 64 MiB holds at most 8 bodies of 8 MiB", accepted, clients)
	}
	grew := heap.growth(t, "HTTP, 48 concurrent 8 MiB bodies")
	close(release)
	for range accepted {
		if r := <-results; r.err != nil || r.status != 200 || !strings.Contains(r.body, `"data":"released"`) {
			t.Errorf("accepted request: %+v", r)
		}
	}
	if grew > 112 {
		t.Errorf("live heap grew %.0f MiB, want under 112 (the request memory is 64 MiB)", grew)
	}
	healthyHTTP(t, srv.URL)
	settled(t, router)
}

// TestMaxActions: the action count is shared by every transport; beyond
// it a call is answered 1429 at once.
func TestMaxActions(t *testing.T) {
	log, _ := testLog(t)
	router, release := limitsRouter(t, log, LimitsOptions{MaxActions: 2}, RouterOptions{})
	srv := newHTTPServer(t, HTTPOptions{Router: router, Log: log})
	hub, _ := newHub(log, 10001)
	ws := NewWSServer(WSOptions{Router: router, Hub: hub, Log: log})
	wsSrv := httptest.NewServer(ws)
	t.Cleanup(wsSrv.Close)
	start(t, ws.Run)

	held := make(chan httpResult, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/hold", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			held <- httpResult{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		held <- httpResult{status: resp.StatusCode, body: string(b)}
	}()
	c := dialWS(t, wsURL(wsSrv, "/api"), nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"action":"hold","echo":"held"}`))
	eventually(t, "two actions running", func() bool { return router.limits.actions.Load() == 2 })

	r := decode(t, call(t, c, `{"action":"get_login_info","echo":"third"}`))
	if r["retcode"] != 1429.0 || r["echo"] != "third" || !strings.Contains(r["wording"].(string), "limits.max-actions") {
		t.Fatalf("third call over WS: %v", r)
	}
	got := do(t, "GET", srv.URL+"/get_login_info", "", "", nil)
	if got.status != 200 || !strings.Contains(got.body, `"retcode":1429`) || !strings.Contains(got.body, "retry later") {
		t.Fatalf("third call over HTTP: %+v", got)
	}
	close(release)
	if r := decode(t, readFrame(t, c)); r["echo"] != "held" || r["retcode"] != 0.0 {
		t.Fatalf("held WS call: %v", r)
	}
	if h := <-held; h.status != 200 || !strings.Contains(h.body, `"released"`) {
		t.Fatalf("held HTTP call: %+v", h)
	}
	healthyHTTP(t, srv.URL)
	settled(t, router)
}

// TestWSFrameBeyondMemory: a frame that finds the request memory
// exhausted mid-way is read to its end and dropped, and answered 1429
// with its echo (found after the dropped params, where frameworks put
// it); the connection goes on. An echo too large to keep closes the
// connection with 1013 instead.
func TestWSFrameBeyondMemory(t *testing.T) {
	log, logs := testLog(t)
	router, release := limitsRouter(t, log, LimitsOptions{MaxRequestBytes: 2 << 20}, RouterOptions{})
	hub, _ := newHub(log, 10001)
	ws := NewWSServer(WSOptions{Router: router, Hub: hub, Log: log})
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	start(t, ws.Run)
	c := dialWS(t, wsURL(srv, "/api"), nil)

	// A held call with 600 KiB params takes a 1 MiB buffer.
	_ = c.WriteMessage(websocket.TextMessage, bigFrame("hold", 600<<10, false, 1))
	eventually(t, "the held call", func() bool { return router.limits.actions.Load() == 1 })
	big := fmt.Appendf(nil, `{"action":"echo_params","params":{"pad":%q,"s":"}\"{"},"echo":{"seq":7,"s":"a,\"}"}}`,
		strings.Repeat("y", 1<<20))
	r := decode(t, call(t, c, string(big)))
	if r["retcode"] != 1429.0 || !strings.Contains(r["wording"].(string), "limits.max-request-memory") {
		t.Fatalf("frame beyond memory: %v", r)
	}
	if echo, _ := json.Marshal(r["echo"]); string(echo) != `{"s":"a,\"}","seq":7}` {
		t.Fatalf("echo %s", echo)
	}
	if r := decode(t, call(t, c, `{"action":"get_login_info","echo":2}`)); r["retcode"] != 0.0 {
		t.Fatalf("next call on the connection: %v", r)
	}

	// An echo larger than can be kept: no answer could match the call.
	huge := fmt.Appendf(nil, `{"action":"echo_params","echo":%q}`, strings.Repeat("z", 1<<20))
	_ = c.WriteMessage(websocket.TextMessage, huge)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	if !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
		t.Fatalf("after an unanswerable frame: %v, want close 1013", err)
	}
	eventually(t, "the log line", func() bool {
		return logs.FilterMessage("disconnected a client: no memory left to read its call, and it could not be answered").Len() == 1
	})
	close(release)
	healthyWS(t, wsURL(srv, "/api"))
	settled(t, router)
}

// TestWSMaxConns: a forward WebSocket server refuses connections beyond
// MaxConns with 503, and accepts again once one has closed.
func TestWSMaxConns(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{MaxConns: 2})
	a := f.dial(t, "/api")
	f.dial(t, "/api")
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(f.srv, "/api"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: %v, want HTTP 503", err)
	}
	a.Close()
	eventually(t, "a free connection", func() bool {
		c, _, err := websocket.DefaultDialer.Dial(wsURL(f.srv, "/api"), nil)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

func TestEchoScanner(t *testing.T) {
	for _, tc := range []struct {
		frame, echo string
		ok          bool
	}{
		{`{"action":"a","params":{"x":1},"echo":123}`, `123`, true},
		{`{"echo":"first","action":"a"}`, `"first"`, true},
		{` { "action" : "a" , "echo" : { "k" : [1, "}"] } } `, `{ "k" : [1, "}"] }`, true},
		{`{"params":{"echo":"inner"},"echo":"outer"}`, `"outer"`, true},
		{`{"params":{"s":"\"echo\":1"},"echo":null}`, `null`, true},
		{`{"params":{"echo":"inner"}}`, ``, true},
		{`{"action":"a"}`, ``, true},
		{`[1,2]`, ``, true},
		{`{"echo":tru}`, ``, true},
		{`{"echo":"` + strings.Repeat("e", maxKeptEcho) + `"}`, ``, false},
	} {
		var s echoScanner
		// In two pieces: a frame arrives in several reads.
		_, _ = s.Write([]byte(tc.frame[:len(tc.frame)/2]))
		_, _ = s.Write([]byte(tc.frame[len(tc.frame)/2:]))
		echo, ok := s.result()
		if string(echo) != tc.echo || ok != tc.ok {
			t.Errorf("%.60s: echo %q ok %v, want %q %v", tc.frame, echo, ok, tc.echo, tc.ok)
		}
	}
}

// TestHTTPSlowBodyReleased: a client that announces a large body and then
// stops sending holds its reservation only as long as an action may run;
// then the connection is dropped and the request memory is free again.
// (Without the body's deadline the connection stays open for good.)
func TestHTTPSlowBodyReleased(t *testing.T) {
	log, _ := testLog(t)
	router, _ := limitsRouter(t, log, LimitsOptions{MaxRequestBytes: 4 << 20}, RouterOptions{})
	srv := newHTTPServer(t, HTTPOptions{Router: router, Log: log, Timeout: 300 * time.Millisecond})

	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /echo_params HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"pad\":\"",
		srv.Listener.Addr(), 3<<20)
	// The stalled client is cut off after the timeout, without sending more.
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("the stalled connection was not closed by the server: %v", err)
	}
	settled(t, router)
	healthyHTTP(t, srv.URL)
}
