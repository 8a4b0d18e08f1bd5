package onebot

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

type hookRequest struct {
	header http.Header
	body   string
}

// webhook records what it receives and answers with reply(n, body).
type webhook struct {
	mu    sync.Mutex
	reqs  []hookRequest
	reply func(n int, body string, w http.ResponseWriter)
}

func newWebhook(t *testing.T, reply func(int, string, http.ResponseWriter)) (*webhook, *httptest.Server) {
	h := &webhook{reply: reply}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{r.Header.Clone(), string(b)})
		n := len(h.reqs)
		h.mu.Unlock()
		if h.reply != nil {
			h.reply(n, string(b), w)
		}
	}))
	t.Cleanup(srv.Close)
	return h, srv
}

func (h *webhook) received() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

func TestPostHeadersSignatureAndLifecycle(t *testing.T) {
	hook, srv := newWebhook(t, nil)
	log, _ := testLog(t)
	hub, _ := newHub(log, 10001)
	p := NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, log), Log: log, URL: srv.URL + "/hook",
		Secret: "key", Timeout: time.Second, UserAgent: "ua"})
	// Published before Run: still delivered, after lifecycle enable.
	_ = hub.Publish(json.RawMessage(`{"time":1,"self_id":10001,"post_type":"message","message":"&#91;"}`))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	eventually(t, "two posts", func() bool { return len(hook.received()) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	reqs := hook.received()
	if len(reqs) != 3 {
		t.Fatalf("%d posts, want enable, the event, disable", len(reqs))
	}
	for i, want := range []string{`"sub_type":"enable"`, `"message":"&#91;"`, `"sub_type":"disable"`} {
		r := reqs[i]
		if !strings.Contains(r.body, want) {
			t.Errorf("post %d: %s, want %s", i, r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("post %d: Content-Type %q, want exactly application/json", i, ct)
		}
		if r.header.Get("X-Self-ID") != "10001" || r.header.Get("User-Agent") != "ua" {
			t.Errorf("post %d: headers %v", i, r.header)
		}
		mac := hmac.New(sha1.New, []byte("key"))
		mac.Write([]byte(r.body))
		if sig := r.header.Get("X-Signature"); sig != "sha1="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("post %d: X-Signature %q does not sign the exact body", i, sig)
		}
	}

	// Without a secret there is no signature.
	hook2, srv2 := newWebhook(t, nil)
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, log), URL: srv2.URL}).Run)
	eventually(t, "enable", func() bool { return len(hook2.received()) > 0 })
	if _, ok := hook2.received()[0].header["X-Signature"]; ok {
		t.Error("unsigned webhook got X-Signature")
	}
}

// TestPostXSelfIDMatchesBody: the header is the event's own self_id.
func TestPostXSelfIDMatchesBody(t *testing.T) {
	hook, srv := newWebhook(t, nil)
	hub, _ := newHub(nil, 1)
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, nil), URL: srv.URL}).Run)
	_ = hub.Publish(json.RawMessage(`{"self_id":4294967296123,"post_type":"notice"}`))
	eventually(t, "the event", func() bool { return len(hook.received()) == 2 })
	if got := hook.received()[1].header.Get("X-Self-ID"); got != "4294967296123" {
		t.Errorf("X-Self-ID %q", got)
	}
}

func TestPostRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		statuses   []int // answers to the event's attempts, then 200
		maxRetries int
		attempts   int
	}{
		{"5xx retried until success", []int{500, 503}, 3, 3},
		{"429 retried", []int{429}, 3, 2},
		{"bounded", []int{500, 500, 500, 500}, 2, 3},
		{"4xx is an answer, not retried", []int{400}, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			attempts := 0
			_, srv := newWebhook(t, func(_ int, body string, w http.ResponseWriter) {
				if !strings.Contains(body, `"n":1`) {
					return // lifecycle
				}
				mu.Lock()
				defer mu.Unlock()
				attempts++
				if attempts <= len(tc.statuses) {
					w.WriteHeader(tc.statuses[attempts-1])
				}
			})
			hub, _ := newHub(nil, 1)
			start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, nil), URL: srv.URL,
				MaxRetries: tc.maxRetries, RetryInterval: time.Millisecond}).Run)
			_ = hub.Publish(json.RawMessage(`{"post_type":"notice","n":1}`))
			_ = hub.Publish(json.RawMessage(`{"post_type":"notice","n":2}`)) // marks the end of the first
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if attempts != tc.attempts {
				t.Errorf("%d attempts, want %d", attempts, tc.attempts)
			}
		})
	}
}

// TestPostDeadWebhookDelaysOnlyItself: a webhook that never answers does
// not slow delivery to another.
func TestPostDeadWebhookDelaysOnlyItself(t *testing.T) {
	release := make(chan struct{})
	deadHook, dead := newWebhook(t, func(int, string, http.ResponseWriter) { <-release })
	defer close(release) // before the server closes (cleanups run after)
	live, liveSrv := newWebhook(t, nil)
	hub, _ := newHub(nil, 1)
	router := testRouter(t, nil)
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: router, URL: dead.URL, Timeout: 300 * time.Millisecond, MaxRetries: 2}).Run)
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: router, URL: liveSrv.URL}).Run)
	for i := range 50 {
		_ = hub.Publish(json.RawMessage(fmt.Sprintf(`{"post_type":"notice","n":%d}`, i)))
	}
	eventually(t, "all events at the live webhook", func() bool { return len(live.received()) == 51 })
	// Each event costs the dead webhook ≥ 0.9 s (3 attempts); the live one
	// got all 50 while the dead one is still on its first one or two.
	if n := len(deadHook.received()); n > 6 {
		t.Errorf("the dead webhook saw %d attempts before the live one finished", n)
	}
}

func TestPostQuickOperation(t *testing.T) {
	_, srv := newWebhook(t, func(_ int, body string, w http.ResponseWriter) {
		switch {
		case strings.Contains(body, `"post_type":"message"`):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"reply":"pong","at_sender":false,"ban":true,"ban_duration":60}`))
		case strings.Contains(body, `"post_type":"request"`):
			_, _ = w.Write([]byte(`{"approve":true,"remark":"r"}`))
		case strings.Contains(body, `"post_type":"notice"`):
			_, _ = w.Write([]byte(`{"reply":"ignored for notices"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	hub, _ := newHub(nil, 1)
	router := testRouter(t, nil)
	var rc recorder
	rc.register(router, "send_msg", "set_group_ban", "set_friend_add_request")
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: router, URL: srv.URL}).Run)
	_ = hub.Publish(json.RawMessage(`{"post_type":"notice","notice_type":"group_increase","group_id":1}`))
	_ = hub.Publish(json.RawMessage(`{"post_type":"message","message_type":"group","message_id":5,"group_id":100,"user_id":7,"message":"ping"}`))
	_ = hub.Publish(json.RawMessage(`{"post_type":"request","request_type":"friend","user_id":7,"flag":"f"}`))
	want := []string{
		`send_msg {"message_type":"group","group_id":100,"message":"pong","auto_escape":false}`,
		`set_group_ban {"group_id":100,"user_id":7,"duration":60}`,
		`set_friend_add_request {"flag":"f","approve":true,"remark":"r"}`,
	}
	eventually(t, "quick operations", func() bool { return len(rc.get()) == len(want) })
	if got := rc.get(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPostHeartbeatsNotQueuedWhileDown: a failing webhook does not pile up
// heartbeats; real events still wait for it.
func TestPostHeartbeatsNotQueuedWhileDown(t *testing.T) {
	var mu sync.Mutex
	down := true
	hook, srv := newWebhook(t, func(_ int, _ string, w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	hub, _ := newHub(nil, 1)
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, nil), URL: srv.URL, RetryInterval: time.Millisecond}).Run)
	eventually(t, "the failed enable", func() bool { return len(hook.received()) >= 1 })
	time.Sleep(20 * time.Millisecond)
	hb := &HeartbeatEvent{PostType: PostTypeMetaEvent, MetaEventType: MetaEventHeartbeat}
	for range 5 {
		_ = hub.Publish(hb)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	_ = hub.Publish(json.RawMessage(`{"post_type":"notice","n":1}`))
	eventually(t, "the event", func() bool {
		r := hook.received()
		return strings.Contains(r[len(r)-1].body, `"n":1`)
	})
	for _, r := range hook.received() {
		if strings.Contains(r.body, "heartbeat") {
			t.Fatalf("a heartbeat was queued while the webhook was down: %s", r.body)
		}
	}
}

// infoLog returns a logger that writes to the test log and records every
// line from debug up.
func infoLog(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core)), logs
}

// TestPostEnableWaitsForLogin: a webhook's first event is lifecycle enable
// with the account's real id in the body and X-Self-ID, even when the
// login completes long after the worker started; a heartbeat built before
// login is never posted.
func TestPostEnableWaitsForLogin(t *testing.T) {
	hook, srv := newWebhook(t, nil)
	log, logs := infoLog(t)
	hub, self := newHub(log, 0)
	start(t, NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, log), Log: log, URL: srv.URL}).Run)
	eventually(t, "the worker to wait for the login", func() bool {
		return logs.FilterMessageSnippet("waiting for the account id").Len() == 1
	})
	_ = hub.Publish(HeartbeatEvent{Time: 1, SelfID: 0, PostType: "meta_event", MetaEventType: "heartbeat"})
	// The login takes a while; nothing is posted meanwhile. (A worker that
	// posted without waiting would have posted before the log line above.)
	time.Sleep(1500 * time.Millisecond)
	if n := len(hook.received()); n != 0 {
		t.Fatalf("%d posts before login: %v", n, hook.received())
	}
	self.set(987654321)
	_ = hub.Publish(json.RawMessage(`{"time":2,"self_id":987654321,"post_type":"message","message":"after login"}`))
	eventually(t, "enable and the message", func() bool { return len(hook.received()) >= 2 })
	reqs := hook.received()
	first := decode(t, []byte(reqs[0].body))
	if first["meta_event_type"] != "lifecycle" || first["sub_type"] != "enable" || first["self_id"] != 987654321.0 {
		t.Fatalf("first post %s, want lifecycle enable with self_id 987654321", reqs[0].body)
	}
	if got := reqs[0].header.Get("X-Self-ID"); got != "987654321" {
		t.Errorf("enable X-Self-ID %q, want 987654321", got)
	}
	if !strings.Contains(reqs[1].body, "after login") {
		t.Errorf("second post %s, want the message", reqs[1].body)
	}
	for _, r := range reqs {
		if strings.Contains(r.body, `"heartbeat"`) {
			t.Errorf("a heartbeat from before login was posted: %s", r.body)
		}
	}
}

// TestPostStopBeforeLogin: a daemon stopped before the account logged in
// posts nothing: no enable with self_id 0, and no disable for an enable
// that never was.
func TestPostStopBeforeLogin(t *testing.T) {
	hook, srv := newWebhook(t, nil)
	log, logs := infoLog(t)
	hub, _ := newHub(log, 0)
	p := NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, log), Log: log, URL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	eventually(t, "the worker to wait for the login", func() bool {
		return logs.FilterMessageSnippet("waiting for the account id").Len() == 1
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
	// Run posts synchronously, so anything it posted has been received.
	if reqs := hook.received(); len(reqs) != 0 {
		t.Fatalf("posted before login: %v", reqs)
	}
}

// TestPostErrorsMaskURL: a failed delivery is logged with the webhook URL
// masked in the url field and in the error text, where net/http quotes the
// request URL with its query and user name.
func TestPostErrorsMaskURL(t *testing.T) {
	// A server that hangs up on every request: the client's error is a
	// *url.Error quoting the URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	secrets := []string{"hookuser", "hookpass", "QUERYSECRET", "s%20p"}
	for _, u := range []string{
		"http://hookuser:hookpass@" + ln.Addr().String() + "/hook?key=QUERYSECRET&x=s%20p",
		"http://hookuser@" + ln.Addr().String() + "/hook?key=QUERYSECRET",
		"http://hookuser:hookpass@127.0.0.1:1/hook?key=QUERYSECRET",               // refused at dial
		"http://hookuser:hookpass@" + ln.Addr().String() + "/%zz?key=QUERYSECRET", // does not parse
	} {
		log, logs := infoLog(t)
		hub, _ := newHub(log, 10001)
		p := NewHTTPPost(HTTPPostOptions{Hub: hub, Router: testRouter(t, log), Log: log, URL: u,
			Timeout: wait, MaxRetries: 1, RetryInterval: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		eventually(t, "the failure warning", func() bool { return logs.FilterMessage("event not delivered").Len() == 1 })
		cancel()
		<-done
		var errs int
		for _, e := range logs.All() {
			for k, v := range e.ContextMap() {
				s := fmt.Sprint(v)
				for _, secret := range secrets {
					if strings.Contains(s, secret) {
						t.Errorf("%s: %q field %s=%q shows %q", u, e.Message, k, s, secret)
					}
				}
				if k == "error" {
					errs++
					if !strings.Contains(s, "/hook?key=***") && !strings.Contains(s, "/%zz?key=***") {
						t.Errorf("%s: error %q does not show the masked URL", u, s)
					}
				}
			}
		}
		if errs < 2 { // the retry (debug) and the warning, at least
			t.Errorf("%s: %d error fields logged, want the retry and the failure", u, errs)
		}
	}
}
