package onebot

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// framework is a reverse-WS server that behaves like a bot framework
// (ZeroBot's and NoneBot's servers): it accepts upgrades on any path,
// checks the token, and hands each connection to serve. It can be stopped
// and started again on the same address, like a restarted process.
type framework struct {
	t     *testing.T
	addr  string
	token string
	serve func(c *websocket.Conn, h http.Header)

	mu       sync.Mutex
	srv      *http.Server
	done     chan struct{}
	live     map[string]int // by X-Client-Role
	accepted int
	reject   int // answer the next upgrades with this status while non-zero
	headers  []http.Header
	handlers sync.WaitGroup
}

func newFramework(t *testing.T, token string, serve func(*websocket.Conn, http.Header)) *framework {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &framework{t: t, addr: ln.Addr().String(), token: token, serve: serve, live: map[string]int{}}
	f.startOn(ln)
	t.Cleanup(f.stop)
	return f
}

func (f *framework) url(path string) string { return "ws://" + f.addr + path }

func (f *framework) startOn(ln net.Listener) {
	srv := &http.Server{Handler: f}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	f.mu.Lock()
	f.srv, f.done = srv, done
	f.mu.Unlock()
}

func (f *framework) start() {
	var ln net.Listener
	var err error
	for range 100 { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("restart framework on %s: %v", f.addr, err)
	}
	f.startOn(ln)
}

// stop closes the listener and waits for every connection handler.
func (f *framework) stop() {
	f.mu.Lock()
	srv, done := f.srv, f.done
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		<-done
	}
	f.handlers.Wait()
}

func (f *framework) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	reject := f.reject
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if reject != 0 {
		http.Error(w, "rejected", reject)
		return
	}
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "bad token", http.StatusForbidden)
		return
	}
	// Never two live connections from one daemon for one URL: a new one
	// may only arrive once the previous is over (allowing the previous
	// handler a moment to see the close that preceded this dial).
	role := r.Header.Get("X-Client-Role")
	deadline := time.Now().Add(2 * time.Second)
	for {
		f.mu.Lock()
		live := f.live[role]
		if live == 0 {
			f.live[role]++
			f.accepted++
		}
		f.mu.Unlock()
		if live == 0 {
			break
		}
		if time.Now().After(deadline) {
			f.t.Errorf("duplicate connection: %d still open when a new one arrived", live)
			http.Error(w, "duplicate", http.StatusConflict)
			return
		}
		time.Sleep(time.Millisecond)
	}
	f.handlers.Add(1)
	defer f.handlers.Done()
	defer func() { f.mu.Lock(); f.live[role]--; f.mu.Unlock() }()
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	f.serve(c, r.Header)
}

func (f *framework) count() (accepted int, headers []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted, append([]http.Header(nil), f.headers...)
}

func startReverse(t *testing.T, opts WSReverseOptions) (*Hub, *selfID, *Router) {
	return startReverseAs(t, 10001, opts)
}

func startReverseAs(t *testing.T, self int64, opts WSReverseOptions) (*Hub, *selfID, *Router) {
	t.Helper()
	log, _ := testLog(t)
	hub, id := newHub(log, self)
	router := testRouter(t, log)
	opts.Hub, opts.Router, opts.Log = hub, router, log
	if opts.ReconnectInterval == 0 {
		opts.ReconnectInterval = 10 * time.Millisecond
	}
	start(t, NewWSReverse(opts).Run)
	return hub, id, router
}

func checkLifecycle(t *testing.T, frame []byte, h http.Header) {
	t.Helper()
	var ev struct {
		SelfID        json.Number `json:"self_id"`
		PostType      string      `json:"post_type"`
		MetaEventType string      `json:"meta_event_type"`
		SubType       string      `json:"sub_type"`
	}
	if err := json.Unmarshal(frame, &ev); err != nil || ev.PostType != "meta_event" ||
		ev.MetaEventType != "lifecycle" || ev.SubType != "connect" {
		t.Errorf("first frame %s, want lifecycle connect", frame)
	}
	if string(ev.SelfID) != h.Get("X-Self-ID") {
		t.Errorf("self_id %s differs from X-Self-ID %q", ev.SelfID, h.Get("X-Self-ID"))
	}
}

// TestReverseRestartedPeerLosesNothing restarts the framework 20 times
// while events flow: every event arrives exactly once and in order, the
// lifecycle frame opens every connection, and connections never overlap.
func TestReverseRestartedPeerLosesNothing(t *testing.T) {
	const restarts = 20
	const total = 3000
	var mu sync.Mutex
	var got []int
	restart := make(chan struct{}, 1)
	conns := 0
	fw := newFramework(t, "tok", nil)
	fw.serve = func(c *websocket.Conn, h http.Header) {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_, first, err := c.ReadMessage()
		if err != nil {
			t.Errorf("read lifecycle: %v", err)
			return
		}
		checkLifecycle(t, first, h)
		mu.Lock()
		conns++
		last := conns > restarts
		mu.Unlock()
		n, closing := 0, false
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				if !closing {
					t.Errorf("connection dropped by the daemon: %v", err)
				}
				break
			}
			var ev struct{ Seq int }
			_ = json.Unmarshal(b, &ev)
			mu.Lock()
			got = append(got, ev.Seq)
			done := len(got) == total
			mu.Unlock()
			n++
			if done {
				return
			}
			// A framework shutting down says goodbye, then reads until the
			// daemon's close arrives (RFC 6455 close handshake).
			if !last && !closing && n >= 40+conns*7 {
				closing = true
				_ = c.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting"), time.Now().Add(time.Second))
			}
		}
		restart <- struct{}{}
	}
	hub, _, _ := startReverse(t, WSReverseOptions{Universal: fw.url("/onebot/v11/ws"), AccessToken: "tok",
		UserAgent: "test-agent"})

	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := range total {
			_ = hub.Publish(json.RawMessage(fmt.Sprintf(`{"post_type":"notice","seq":%d}`, i)))
			time.Sleep(300 * time.Microsecond)
		}
	}()
	defer func() { <-pubDone }()
	for i := range restarts {
		select {
		case <-restart:
		case <-time.After(wait):
			t.Fatalf("restart %d: the connection never closed", i)
		}
		fw.stop()
		time.Sleep(30 * time.Millisecond) // dials are refused meanwhile
		fw.start()
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Errorf("got %d of %d events; last %v", n, total, got[max(0, n-5):])
			for i, seq := range got {
				if seq != i {
					t.Errorf("first gap at %d: seq %d", i, seq)
					break
				}
			}
			mu.Unlock()
			t.FailNow()
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, seq := range got {
		if seq != i {
			t.Fatalf("event %d has seq %d: lost, duplicated or reordered around a reconnect", i, seq)
		}
	}
	accepted, headers := fw.count()
	if accepted != restarts+1 {
		t.Errorf("%d connections accepted, want %d", accepted, restarts+1)
	}
	for _, h := range headers {
		if h.Get("X-Self-ID") != "10001" || h.Get("X-Client-Role") != "Universal" ||
			h.Get("Authorization") != "Bearer tok" || h.Get("User-Agent") != "test-agent" {
			t.Fatalf("upgrade headers %v", h)
		}
	}
}

// TestReverseReconnectsOnEveryFailure: refused, rejected (401), dropped
// without a close frame, and closed by the peer: each time it dials again.
func TestReverseReconnectsOnEveryFailure(t *testing.T) {
	var attempt int
	var mu sync.Mutex
	fw := newFramework(t, "", nil)
	fw.serve = func(c *websocket.Conn, h http.Header) {
		mu.Lock()
		attempt++
		n := attempt
		mu.Unlock()
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_, first, _ := c.ReadMessage()
		checkLifecycle(t, first, h)
		switch n {
		case 1: // drop the TCP connection, no close frame
			return
		case 2: // call an action, then close politely
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"action":"get_login_info","echo":"x"}`))
			_, b, _ := c.ReadMessage()
			if !strings.Contains(string(b), `"echo":"x"`) || !strings.Contains(string(b), `"user_id":10001`) {
				t.Errorf("reply over reverse WS: %s", b)
			}
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
			_, _, _ = c.ReadMessage()
		default: // stay until the daemon stops
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}
	}
	fw.stop() // refused first
	_, _, _ = startReverse(t, WSReverseOptions{Universal: fw.url("/")})
	time.Sleep(50 * time.Millisecond)
	fw.mu.Lock()
	fw.reject = http.StatusUnauthorized
	fw.mu.Unlock()
	fw.start()
	eventually(t, "rejected dials", func() bool { _, h := fw.count(); return len(h) >= 2 })
	fw.mu.Lock()
	fw.reject = 0
	fw.mu.Unlock()
	eventually(t, "third connection", func() bool { mu.Lock(); defer mu.Unlock(); return attempt >= 3 })
}

// TestReverseAPIAndEvent: two connections with their roles; lifecycle
// and events only on Event, actions on API.
func TestReverseAPIAndEvent(t *testing.T) {
	roles := make(chan string, 4)
	events := make(chan []byte, 16)
	fw := newFramework(t, "", nil)
	fw.serve = func(c *websocket.Conn, h http.Header) {
		roles <- h.Get("X-Client-Role")
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if h.Get("X-Client-Role") == "API" {
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"action":"get_login_info","echo":1}`))
			_, b, err := c.ReadMessage()
			if err != nil || !strings.Contains(string(b), `"echo":1`) {
				t.Errorf("API reply %s, %v (a lifecycle frame must not come first on API)", b, err)
			}
		}
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			events <- b
		}
	}
	hub, _, _ := startReverse(t, WSReverseOptions{API: fw.url("/api"), Event: fw.url("/event")})
	got := map[string]bool{}
	for range 2 {
		select {
		case r := <-roles:
			got[r] = true
		case <-time.After(wait):
			t.Fatal("no connection")
		}
	}
	if !got["API"] || !got["Event"] {
		t.Fatalf("roles %v", got)
	}
	if ev := decode(t, <-events); ev["sub_type"] != "connect" {
		t.Fatalf("first event frame %v", ev)
	}
	_ = hub.Publish(json.RawMessage(`{"post_type":"notice","n":1}`))
	if ev := decode(t, <-events); ev["n"] != 1.0 {
		t.Fatalf("event %v", ev)
	}
	select {
	case b := <-events:
		t.Fatalf("unexpected frame %s (an event reached the API connection?)", b)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestReverseWaitsForSelfID: no dial with X-Self-ID 0; the first dial
// carries the id once it is known.
func TestReverseWaitsForSelfID(t *testing.T) {
	fw := newFramework(t, "", func(c *websocket.Conn, _ http.Header) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
	_, id, _ := startReverseAs(t, 0, WSReverseOptions{Universal: fw.url("/")})
	time.Sleep(100 * time.Millisecond)
	if n, _ := fw.count(); n != 0 {
		t.Fatalf("%d dials before the id was known", n)
	}
	id.set(77)
	eventually(t, "a dial with the id", func() bool {
		_, hs := fw.count()
		return len(hs) == 1 && hs[0].Get("X-Self-ID") == "77"
	})
}

func TestReverseBuffersWhileDisconnected(t *testing.T) {
	frames := make(chan []byte, 64)
	fw := newFramework(t, "", func(c *websocket.Conn, _ http.Header) {
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			frames <- b
		}
	})
	fw.stop()
	hub, _, _ := startReverse(t, WSReverseOptions{Universal: fw.url("/"), Conn: ConnOptions{QueueSize: 3}})
	time.Sleep(20 * time.Millisecond)
	hb := &HeartbeatEvent{PostType: PostTypeMetaEvent, MetaEventType: MetaEventHeartbeat}
	for i := range 5 {
		_ = hub.Publish(json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
		_ = hub.Publish(hb) // stale by the time anyone reads it: not kept
	}
	fw.start()
	want := []string{"connect", `{"n":2}`, `{"n":3}`, `{"n":4}`}
	for _, w := range want {
		select {
		case b := <-frames:
			if !strings.Contains(string(b), w) {
				t.Fatalf("got %s, want %s (the newest 3, in order, after lifecycle)", b, w)
			}
		case <-time.After(wait):
			t.Fatalf("no frame, want %s", w)
		}
	}
	select {
	case b := <-frames:
		t.Fatalf("extra frame %s", b)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://u:p@host:8080/ws?access_token=secret": "ws://***@host:8080/ws?access_token=***",
		"ws://127.0.0.1:8080/onebot/v11/ws":         "ws://127.0.0.1:8080/onebot/v11/ws",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
	_ = context.Background
}

// TestWSReverseDialErrorsMaskURL: a URL the dialer rejects comes back as a
// *url.Error quoting it whole; the warning shows it masked.
func TestWSReverseDialErrorsMaskURL(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	hub, _ := newHub(log, 10001)
	w := NewWSReverse(WSReverseOptions{Router: testRouter(t, log), Hub: hub, Log: log,
		Universal:         "ws://revuser:revpass@127.0.0.1:1/%zz?access_token=REVSECRET",
		ReconnectInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	eventually(t, "the dial warning", func() bool { return logs.FilterMessageSnippet("cannot connect").Len() > 0 })
	cancel()
	<-done
	warn := logs.FilterMessageSnippet("cannot connect").All()[0].ContextMap()
	if e := fmt.Sprint(warn["error"]); !strings.Contains(e, `ws://***@127.0.0.1:1/%zz?access_token=***`) {
		t.Errorf("error %q, want the masked URL", e)
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			for _, secret := range []string{"revuser", "revpass", "REVSECRET"} {
				if strings.Contains(fmt.Sprint(v), secret) {
					t.Errorf("%q: %s=%v shows %q", e.Message, k, v, secret)
				}
			}
		}
	}
}
