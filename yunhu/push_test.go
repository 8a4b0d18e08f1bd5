package yunhu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakePush is a minimal push server for unit tests of the socket loop; the
// full behaviour is tested against yunhu/sim.
type fakePush struct {
	t        *testing.T
	upgrader websocket.Upgrader
	wg       sync.WaitGroup
	silent   atomic.Bool // do not answer heartbeats
	reject   atomic.Bool // answer every frame with 数据不合法
	frames   chan clientFrameIn

	mu    sync.Mutex // guards conns and wmu
	conns map[*websocket.Conn]*sync.Mutex
}

type clientFrameIn struct {
	Seq  string          `json:"seq"`
	Cmd  string          `json:"cmd"`
	Data json.RawMessage `json:"data"`
}

func newFakePush(t *testing.T) *fakePush {
	f := &fakePush{t: t, frames: make(chan clientFrameIn, 1024), conns: map[*websocket.Conn]*sync.Mutex{}}
	t.Cleanup(func() { f.dropAll(); f.wg.Wait() })
	return f
}

func (f *fakePush) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathUserInfo {
		_, _ = w.Write(pb{}.msg(1, status(1, "success")).msg(2, pb{}.str(1, "7356666")))
		return
	}
	conn, err := f.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.wg.Add(1)
	defer f.wg.Done()
	wmu := &sync.Mutex{}
	f.mu.Lock()
	f.conns[conn] = wmu
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		conn.Close()
	}()
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			f.t.Errorf("client sent a %d frame", typ)
		}
		var in clientFrameIn
		if err := json.Unmarshal(data, &in); err != nil {
			f.t.Errorf("client frame %q: %v", data, err)
		}
		f.frames <- in
		wmu.Lock()
		switch {
		case f.reject.Load():
			_ = conn.WriteMessage(websocket.TextMessage, []byte(WSInvalid))
		case in.Cmd == WSCmdHeartbeat && !f.silent.Load():
			_ = conn.WriteMessage(websocket.BinaryMessage, frameBytes(in.Seq, WSCmdHeartbeatAck, "", nil))
		}
		wmu.Unlock()
	}
}

func (f *fakePush) send(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, wmu := range f.conns {
		wmu.Lock()
		_ = c.WriteMessage(websocket.BinaryMessage, b)
		wmu.Unlock()
	}
}

func (f *fakePush) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// runPush starts c.Run and returns the pushes channel and a stop func that
// cancels and waits for Run.
func runPush(t *testing.T, c *Client) (<-chan Push, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pushes := make(chan Push, 4096)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(p Push) { pushes <- p }) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return pushes, stop
}

func next(t *testing.T, ch <-chan Push) Push {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no push within 5s")
		return nil
	}
}

func nextFrame(t *testing.T, ch <-chan clientFrameIn) clientFrameIn {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no client frame within 5s")
		return clientFrameIn{}
	}
}

func TestPushLoginHeartbeatAndDecode(t *testing.T) {
	f := newFakePush(t)
	c := newTestClient(t, f, func(o *Options) {
		o.Platform, o.DeviceID = "linux", "dev-1"
		o.HeartbeatInterval = 100 * time.Millisecond
	})
	pushes, stop := runPush(t, c)

	login := nextFrame(t, f.frames)
	var ld map[string]string
	if err := json.Unmarshal(login.Data, &ld); err != nil || login.Cmd != "login" || len(login.Seq) != 32 {
		t.Fatalf("first frame = %+v (%v)", login, err)
	}
	if ld["userId"] != "7356666" || ld["token"] != "tok-1" || ld["platform"] != "linux" || ld["deviceId"] != "dev-1" {
		t.Fatalf("login data = %v", ld)
	}
	if hb := nextFrame(t, f.frames); hb.Cmd != "heartbeat" || string(hb.Data) != "{}" {
		t.Fatalf("second frame = %+v", hb)
	}
	if p := next(t, pushes); p != (Connected{}) {
		t.Fatalf("first push = %#v", p)
	}
	// Heartbeats keep coming on the configured interval.
	if hb := nextFrame(t, f.frames); hb.Cmd != "heartbeat" {
		t.Fatalf("third frame = %+v", hb)
	}

	f.send(frameBytes("s", WSCmdPushMessage, TypeURLPushMessage, pushMsg("m1", 1)))
	f.send(frameBytes("u", "brand_new", "", nil)) // skipped
	f.send([]byte{0x0a, 0xff})                    // undecodable, skipped
	f.send(frameBytes("i", WSCmdInviteApply, "", nil))
	if p, ok := next(t, pushes).(MessagePush); !ok || p.Message.ID != "m1" {
		t.Fatalf("push = %#v", p)
	}
	if p := next(t, pushes); p != (InvitePush{}) {
		t.Fatalf("push = %#v", p)
	}
	stop()
	if d, ok := next(t, pushes).(Disconnected); !ok || !errors.Is(d.Err, context.Canceled) {
		t.Fatalf("last push = %#v", d)
	}
}

func TestPushDeadConnectionDetected(t *testing.T) {
	f := newFakePush(t)
	const hb = 150 * time.Millisecond
	c := newTestClient(t, f, func(o *Options) { o.HeartbeatInterval = hb })
	pushes, _ := runPush(t, c)
	if p := next(t, pushes); p != (Connected{}) {
		t.Fatalf("push = %#v", p)
	}
	f.silent.Store(true) // the connection stays open but nothing comes back
	start := time.Now()
	d, ok := next(t, pushes).(Disconnected)
	if !ok {
		t.Fatalf("push = %#v", d)
	}
	if took := time.Since(start); took > 2*hb+hb/2 {
		t.Errorf("dead connection noticed after %v, want within two heartbeats (%v)", took, 2*hb)
	}
	f.silent.Store(false)
	if p := next(t, pushes); p != (Connected{}) {
		t.Fatalf("after reconnect push = %#v", p)
	}
}

// A rejected push login is retried: the server rejects logins for other
// reasons than a revoked token. Fewer than MaxAuthRejections in a row do
// not stop Run.
func TestPushLoginRejectedRetries(t *testing.T) {
	f := newFakePush(t)
	f.reject.Store(true)
	var attempts atomic.Int32
	c := newTestClient(t, f, func(o *Options) {
		o.Backoff = func(int) time.Duration {
			if attempts.Add(1) == MaxAuthRejections-1 {
				f.reject.Store(false) // the next login is accepted
			}
			return 10 * time.Millisecond
		}
	})
	pushes, _ := runPush(t, c)
	if p := next(t, pushes); p != (Connected{}) {
		t.Fatalf("push = %#v", p)
	}
	if n := attempts.Load(); n != MaxAuthRejections-1 {
		t.Errorf("%d retries before the accepted login, want %d", n, MaxAuthRejections-1)
	}
}

// MaxAuthRejections push logins rejected in a row stop Run with
// ErrUnauthorized: the token is gone, and no retry brings it back.
func TestPushLoginRejectedRepeatedlyStops(t *testing.T) {
	f := newFakePush(t)
	f.reject.Store(true)
	var attempts atomic.Int32
	c := newTestClient(t, f, func(o *Options) {
		o.Backoff = func(int) time.Duration { attempts.Add(1); return time.Millisecond }
	})
	done := make(chan error, 1)
	go func() {
		done <- c.Run(context.Background(), func(p Push) { t.Errorf("push %#v from a rejected session", p) })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Run = %v, want ErrUnauthorized", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept retrying a rejected login")
	}
	if n := attempts.Load(); n != MaxAuthRejections-1 {
		t.Errorf("%d retries, want %d", n, MaxAuthRejections-1)
	}
}

// REST calls answering not logged in count as rejections too, and a
// success in between resets the count.
func TestRESTRejectionsStopRun(t *testing.T) {
	c := New(Options{})
	for range MaxAuthRejections - 1 {
		c.auth.note(&APIError{Code: CodeNotLoggedIn})
	}
	c.auth.note(nil)
	c.auth.note(&APIError{Code: CodeNotLoggedIn})
	c.auth.note(errors.New("HTTP 500"))
	if c.auth.isRevoked() {
		t.Fatal("revoked although a success came between the rejections")
	}
	c.auth.note(&APIError{Code: CodeNotLoggedIn})
	select {
	case <-c.auth.wait():
		t.Fatal("revoked after 2 rejections in a row")
	default:
	}
	c.auth.note(&APIError{Code: CodeNotLoggedIn})
	select {
	case <-c.auth.wait():
	default:
		t.Fatal("not revoked after 3 rejections in a row")
	}
}

func TestPushRefusedThenUp(t *testing.T) {
	// Nothing listens at first: Run keeps retrying with backoff.
	f := newFakePush(t)
	var attempts []int
	var mu sync.Mutex
	c := newTestClient(t, f, func(o *Options) {
		o.WSURL = "ws://127.0.0.1:1/ws"
		o.Backoff = func(a int) time.Duration {
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
			return time.Millisecond
		}
	})
	_, stop := runPush(t, c)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(attempts)
		mu.Unlock()
		if n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no retries while refused")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	for i, a := range attempts[:5] {
		if a != i {
			t.Fatalf("backoff attempts = %v, want 0,1,2,...", attempts)
		}
	}
}

func TestDefaultBackoff(t *testing.T) {
	for i := 0; i < 200; i++ {
		if d := DefaultBackoff(0); d >= time.Second || d <= 0 {
			t.Fatalf("first retry %v, want under 1s", d)
		}
		for a := 0; a < 40; a++ {
			if d := DefaultBackoff(a); d > 30*time.Second {
				t.Fatalf("attempt %d: %v above the 30s cap", a, d)
			}
		}
	}
	if DefaultBackoff(10) < 15*time.Second {
		t.Fatal("backoff does not grow to the cap")
	}
}
