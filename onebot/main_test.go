package onebot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait is how long a test waits for something that should happen at
// once; only a broken implementation gets near it.
const wait = 10 * time.Second

// testLog returns a logger that writes to the test log and a recorder of
// warnings and errors for assertions.
func testLog(t testing.TB) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.WarnLevel)
	return zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core)), logs
}

// start runs fn (a Run method) until the test ends.
func start(t testing.TB, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(wait):
			t.Errorf("Run did not return within %v of cancellation", wait)
		}
	})
}

// testRouter returns a running Router with the actions the tests use.
func testRouter(t testing.TB, log *zap.Logger) *Router {
	r := NewRouter(RouterOptions{Log: log, RateLimitInterval: 20 * time.Millisecond})
	r.Register("echo_params", func(_ context.Context, req *Request) (any, error) {
		return req.Params, nil
	})
	r.Register("get_login_info", func(context.Context, *Request) (any, error) {
		return map[string]any{"user_id": 10001, "nickname": "bot"}, nil
	})
	r.Register("send_private_msg", func(_ context.Context, req *Request) (any, error) {
		var p struct {
			UserID  Int64           `json:"user_id" onebot:"required"`
			Message json.RawMessage `json:"message" onebot:"required"`
		}
		if err := req.Decode(&p); err != nil {
			return nil, err
		}
		return map[string]any{"message_id": 1}, nil
	})
	r.Register("fail", func(context.Context, *Request) (any, error) {
		return nil, &ActionError{Retcode: 102, Msg: "MSG_NOT_FOUND", Wording: "消息不存在"}
	})
	r.Register("sleep", func(ctx context.Context, req *Request) (any, error) {
		var p struct {
			MS Int64 `json:"ms"`
		}
		if err := req.Decode(&p); err != nil {
			return nil, err
		}
		select {
		case <-time.After(time.Duration(p.MS) * time.Millisecond):
			return "slept", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	start(t, r.Run)
	return r
}

// wsURL turns an httptest URL into a ws:// one with path.
func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

func dialWS(t testing.TB, url string, h http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFrame reads one frame within wait.
func readFrame(t testing.TB, c *websocket.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return b
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

// eventually polls cond until it holds or wait passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// selfID is a settable SelfID for hubs under test.
type selfID struct {
	mu sync.Mutex
	id int64
}

func (s *selfID) get() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.id }
func (s *selfID) set(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id = id
}

func newHub(log *zap.Logger, id int64) (*Hub, *selfID) {
	s := &selfID{id: id}
	return NewHub(HubOptions{Log: log, SelfID: s.get}), s
}

var errTest = errors.New("test error")
