package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is the server clock in tests: it only moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// base is the fake clock's start: 2026-11-23 08:00:00 UTC.
var base = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// sink is a callback target: it records what it receives and answers
// status.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	status int
}

func newSink(t *testing.T) *sink {
	t.Helper()
	k := &sink{status: http.StatusOK}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		k.bodies = append(k.bodies, b)
		st := k.status
		k.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *sink) received() [][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([][]byte(nil), k.bodies...)
}

// env is a running simulator with its two ports.
type env struct {
	t     *testing.T
	clock *fakeClock
	s     *Server
	robot *httptest.Server
	admin *httptest.Server
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	clock := &fakeClock{t: base}
	if o.Now == nil {
		o.Now = clock.Now
	}
	s := New(o)
	e := &env{t: t, clock: clock, s: s}
	e.robot = httptest.NewServer(s.RobotHandler())
	e.admin = httptest.NewServer(s.AdminHandler())
	t.Cleanup(func() {
		e.robot.Close()
		e.admin.Close()
		s.Close()
	})
	return e
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
	closed bool // the server asked to close the connection
}

// envelope decodes the body as {code,msg,result}, keeping result raw.
func (r reply) env(t *testing.T) (int, string, json.RawMessage) {
	t.Helper()
	var v struct {
		Code   int             `json:"code"`
		Msg    string          `json:"msg"`
		Result json.RawMessage `json:"result"`
	}
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d %q, want 200", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return v.Code, v.Msg, v.Result
}

func (e *env) do(base, path string, hdr map[string]string, body string) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewBufferString(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		// Set verbatim: the wire carries the name as written.
		req.Header[k] = []string{v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close}
}

// robotHeaders signs for rid at the fake clock's time.
func (e *env) robotHeaders(rid, secret string) map[string]string {
	ts := e.clock.Now().UnixMilli()
	return map[string]string{"nonce": "n1", "timestamp": strconv.FormatInt(ts, 10), "sign": Sign("n1", secret, ts), "rid": rid}
}

func (e *env) adminHeaders() map[string]string {
	ts := e.clock.Now().UnixMilli()
	return map[string]string{"nonce": "n2", "timestamp": strconv.FormatInt(ts, 10), "sign": Sign("n2", DefaultAdminSecret, ts)}
}

// robotCall calls a robot route as bot1 (secret "s1").
func (e *env) robotCall(path, body string) reply {
	e.t.Helper()
	return e.do(e.robot.URL, path, e.robotHeaders("bot1", "s1"), body)
}

func (e *env) adminCall(path, body string) reply {
	e.t.Helper()
	return e.do(e.admin.URL, path, e.adminHeaders(), body)
}

// wantBody compares bytes exactly.
func wantBody(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func waitCallbacks(t *testing.T, s *Server, n int) []Callback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cbs, err := s.WaitCallbacks(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return cbs
}

// world sets up alice and bob (users), bot1 (robot, secret s1, callback to
// k) and bot2 (robot, secret s2, callback to k2), and group g1 owned by
// alice with bob, bot1 and bot2.
func (e *env) world(k, k2 *sink) {
	e.s.AddUser("alice", "Alice")
	e.s.AddUser("bob", "Bob")
	e.s.AddRobot("bot1", "Bot One", "s1", "alice")
	e.s.AddRobot("bot2", "Bot Two", "s2", "alice")
	if k != nil {
		e.s.SetRobotCallback("bot1", k.srv.URL+"/cb")
	}
	if k2 != nil {
		e.s.SetRobotCallback("bot2", k2.srv.URL+"/cb2")
	}
	e.s.CreateGroup("g1", "Group One", "alice", "bob", "bot1", "bot2")
}
