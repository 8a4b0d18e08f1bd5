package onebot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestResponseJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp Response
		want string
	}{
		{"ok", toResponse(json.RawMessage(`{"message_id":1}`), nil),
			`{"status":"ok","retcode":0,"data":{"message_id":1},"message":"","wording":""}`},
		{"ok null data with echo", Response{Status: StatusOK, Echo: json.RawMessage(`"abc"`)},
			`{"status":"ok","retcode":0,"data":null,"message":"","wording":"","echo":"abc"}`},
		{"unknown", failure(ErrUnknownAction("nope")),
			`{"status":"failed","retcode":1404,"data":null,"message":"unknown action: nope","wording":"the action \"nope\" is not provided by this OneBot implementation","msg":"unknown action: nope"}`},
		{"generic error", toResponse(nil, errTest),
			`{"status":"failed","retcode":100,"data":null,"message":"test error","wording":"test error","msg":"test error"}`},
		{"wrapped action error", toResponse(nil, fmt.Errorf("send: %w", &ActionError{Retcode: 102, Msg: "消息不存在"})),
			`{"status":"failed","retcode":102,"data":null,"message":"消息不存在","wording":"消息不存在","msg":"消息不存在"}`},
		{"retcode 0 error is still a failure", toResponse(nil, &ActionError{Msg: "x"}),
			`{"status":"failed","retcode":100,"data":null,"message":"x","wording":"x","msg":"x"}`},
		{"timeout", toResponse(nil, fmt.Errorf("call: %w", context.DeadlineExceeded)),
			`{"status":"failed","retcode":100,"data":null,"message":"timeout","wording":"the action did not finish in time","msg":"timeout"}`},
		{"async", asyncResponse(), `{"status":"async","retcode":1,"data":null,"message":"","wording":""}`},
		{"echo object kept byte for byte", Response{Status: StatusOK, Echo: json.RawMessage(`{"a": [1, 2.50] }`)},
			`{"status":"ok","retcode":0,"data":null,"message":"","wording":"","echo":{"a": [1, 2.50] }}`},
	} {
		got := tc.resp.appendJSON(nil)
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: invalid JSON", tc.name)
		}
	}
}

func TestRouterHandle(t *testing.T) {
	log, logs := testLog(t)
	r := testRouter(t, log)
	r.Register("panic", func(context.Context, *Request) (any, error) { panic("boom") })
	r.Register("generic", func(context.Context, *Request) (any, error) { return nil, errTest })
	r.Register("bad_result", func(context.Context, *Request) (any, error) { return make(chan int), nil })
	ctx := context.Background()

	resp := r.Handle(ctx, "send_private_msg", json.RawMessage(`{"user_id":"123","message":"hi"}`))
	if resp.Status != StatusOK || string(resp.Data) != `{"message_id":1}` {
		t.Errorf("ok call: %+v", resp)
	}
	for _, tc := range []struct {
		action, params string
		retcode        int
		msg            string
	}{
		{"no_such_action", `{}`, RetcodeUnknownAction, "unknown action: no_such_action"},
		{"no_such_action_async", `{}`, RetcodeUnknownAction, "unknown action: no_such_action_async"},
		{"send_private_msg", `{"user_id":"abc","message":"x"}`, RetcodeBadParams, `user_id: expected an integer, got "abc"`},
		{"send_private_msg", `{"message":"x"}`, RetcodeBadParams, "user_id: required"},
		{"send_private_msg", `[1,2]`, RetcodeBadParams, "params: expected an object, got [1,2]"},
		{"send_private_msg", `"x"`, RetcodeBadParams, `params: expected an object, got "x"`},
		{"fail", ``, 102, "MSG_NOT_FOUND"},
		{"generic", ``, RetcodeFailed, "test error"},
		{"panic", ``, RetcodeFailed, "internal error"},
		{"bad_result", ``, RetcodeFailed, "internal error: result not encodable"},
	} {
		resp := r.Handle(ctx, tc.action, json.RawMessage(tc.params))
		if resp.Status != StatusFailed || resp.Retcode != tc.retcode || resp.Message != tc.msg || resp.Data != nil {
			t.Errorf("%s %s: %+v, want retcode %d %q", tc.action, tc.params, resp, tc.retcode, tc.msg)
		}
	}
	if resp := r.Handle(ctx, "echo_params", nil); string(resp.Data) != `{}` {
		t.Errorf("absent params = %s, want {}", resp.Data)
	}
	if resp := r.Handle(ctx, "echo_params", json.RawMessage("null")); string(resp.Data) != `{}` {
		t.Errorf("null params = %s, want {}", resp.Data)
	}

	panics := logs.FilterMessage("action panicked").All()
	if len(panics) != 1 {
		t.Fatalf("panic logged %d times", len(panics))
	}
	stack, _ := panics[0].ContextMap()["stack"].(string)
	if !strings.Contains(stack, "router_test.go") || panics[0].ContextMap()["panic"] != "boom" {
		t.Errorf("panic log lacks the value or the stack: %v", panics[0].ContextMap())
	}
}

func TestRouterAsync(t *testing.T) {
	r := testRouter(t, nil)
	ran := make(chan string, 1)
	r.Register("work", func(ctx context.Context, req *Request) (any, error) {
		ran <- string(req.Params)
		return "ignored", nil
	})
	resp := r.Handle(context.Background(), "work_async", json.RawMessage(`{"n":1}`))
	if resp.Status != StatusAsync || resp.Retcode != RetcodeAsync || resp.Data != nil {
		t.Fatalf("async response: %+v", resp)
	}
	select {
	case p := <-ran:
		if p != `{"n":1}` {
			t.Errorf("background call got %s", p)
		}
	case <-time.After(wait):
		t.Fatal("the _async call never ran")
	}
}

// TestRouterExactNameWins: an action whose own name ends in a suffix is
// called as is.
func TestRouterExactNameWins(t *testing.T) {
	r := testRouter(t, nil)
	r.Register("send_group_forward_msg_async", func(context.Context, *Request) (any, error) { return "exact", nil })
	if resp := r.Handle(context.Background(), "send_group_forward_msg_async", nil); string(resp.Data) != `"exact"` {
		t.Fatalf("%+v", resp)
	}
}

func TestRouterRateLimited(t *testing.T) {
	const interval = 30 * time.Millisecond
	r := NewRouter(RouterOptions{RateLimitInterval: interval})
	var mu sync.Mutex
	var order []string
	var times []time.Time
	r.Register("send", func(_ context.Context, req *Request) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, string(req.Params))
		times = append(times, time.Now())
		return nil, nil
	})
	start(t, r.Run)
	for i := range 4 {
		resp := r.Handle(context.Background(), "send_rate_limited", json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)))
		if resp.Status != StatusAsync || resp.Retcode != RetcodeAsync {
			t.Fatalf("call %d: %+v", i, resp)
		}
	}
	eventually(t, "4 rate-limited calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 4 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, "") != `{"i":0}{"i":1}{"i":2}{"i":3}` {
		t.Errorf("order = %v", order)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < interval {
			t.Errorf("calls %d and %d ran %v apart, want ≥ %v", i-1, i, gap, interval)
		}
	}
}

func TestRouterRateLimitQueueFull(t *testing.T) {
	r := NewRouter(RouterOptions{RateLimitQueue: 1, RateLimitInterval: time.Hour})
	release := make(chan struct{})
	r.Register("block", func(ctx context.Context, _ *Request) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	start(t, r.Run)
	defer close(release)
	// One runs (then the router waits an hour), one waits, one is refused.
	var statuses []string
	var last Response
	for range 3 {
		last = r.Handle(context.Background(), "block_rate_limited", nil)
		statuses = append(statuses, last.Status)
		time.Sleep(10 * time.Millisecond)
	}
	if statuses[2] != StatusFailed {
		t.Errorf("statuses %v: want the third refused", statuses)
	}
	if last.Retcode != RetcodeTooManyRequests || last.Message != "too many requests" ||
		!strings.Contains(last.Wording, "retry later") {
		t.Errorf("refusal %+v: want 1429, too many requests, retry later", last)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := NewRouter(RouterOptions{})
	r.Register("a", func(context.Context, *Request) (any, error) { return nil, nil })
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	r.Register("a", func(context.Context, *Request) (any, error) { return nil, nil })
}

func TestToResponseKeepsCause(t *testing.T) {
	ae := ErrFailed("send failed", errTest)
	if !errors.Is(ae, errTest) {
		t.Fatal("ActionError does not unwrap to its cause")
	}
	u := ErrUnsupported("set_group_anonymous_ban", "the platform has no anonymous members")
	if resp := toResponse(nil, u); resp.Retcode != 1404 || resp.Wording != "the platform has no anonymous members" {
		t.Fatalf("%+v", resp)
	}
}

func TestRouterAfterRun(t *testing.T) {
	r := NewRouter(RouterOptions{})
	r.Register("x", func(context.Context, *Request) (any, error) { return nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"x_async", "x_rate_limited"} {
		if resp := r.Handle(context.Background(), a, nil); resp.Status != StatusFailed || resp.Message != "not running" {
			t.Errorf("%s after Run: %+v", a, resp)
		}
	}
	if resp := r.Handle(context.Background(), "x", nil); resp.Status != StatusOK {
		t.Errorf("sync call after Run: %+v", resp)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run did not fail")
	}
}
