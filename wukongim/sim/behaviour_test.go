package sim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fastOptions shortens every timer for tests on the real clock.
func fastOptions() Options {
	return Options{
		Tick:           5 * time.Millisecond,
		AuthCloseDelay: 50 * time.Millisecond,
		KickGrace:      -1,
		RetryInterval:  time.Hour,
		RetryScan:      5 * time.Millisecond,
		IdleTimeout:    time.Hour,
		IdleClose:      time.Hour,
	}
}

type testEnv struct {
	s   *Server
	api string
	ws  string
}

func newEnv(t *testing.T, o Options) *testEnv {
	t.Helper()
	s := New(o)
	api := httptest.NewServer(s.Handler())
	ws := httptest.NewServer(s.WSHandler())
	t.Cleanup(func() {
		s.Close()
		api.Close()
		ws.Close()
	})
	u := Endpoints(api.URL, ws.URL)
	return &testEnv{s: s, api: u.API, ws: u.WS}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login dials and connects uid with its token; it returns after the
// connect result.
func (e *testEnv) login(t *testing.T, uid, token string, flag int, device string) *wsClient {
	t.Helper()
	c := dialWS(t, e.ws)
	c.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"connect","id":"c","params":{"uid":%q,"token":%q,"deviceFlag":%d,"deviceId":%q,"version":5,"clientTimestamp":%d}}`,
		uid, token, flag, device, time.Now().UnixMilli()))
	if f := c.next(t); !strings.Contains(f, `"reasonCode":1`) {
		t.Fatalf("connect %s: %s", uid, f)
	}
	return c
}

func (e *testEnv) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(e.api+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// pingSync sends a ping and returns every frame before its pong: with the
// server's ordered writes, that is everything it had queued.
func pingSync(t *testing.T, c *wsClient, id string) []string {
	t.Helper()
	before := c.pos
	c.send(t, `{"jsonrpc":"2.0","method":"ping","id":"`+id+`"}`)
	pong := `{"jsonrpc":"2.0","id":"` + id + `"}`
	for {
		f := c.frames()
		for i := before; i < len(f); i++ {
			if f[i] == pong {
				c.pos = i + 1
				return f[before:i]
			}
		}
		c.waitFrames(t, len(f)+1, "pong "+id)
	}
}

func TestRedeliveryIdenticalFramesAtMostMaxRetries(t *testing.T) {
	o := fastOptions()
	o.RetryInterval = 20 * time.Millisecond
	o.MaxRetries = 2
	e := newEnv(t, o)
	e.s.RegisterToken("alice", "at", 0, 1)
	c := e.login(t, "alice", "at", 0, "d1")
	e.s.Say("bob", "alice", 1, "m1", []byte("x"))
	first := c.next(t)
	if !strings.Contains(first, `"method":"recv"`) || !strings.Contains(first, `"channelId":"bob"`) {
		t.Fatalf("push: %s", first)
	}
	// The retries run out: the pending push is forgotten after MaxRetries.
	if err := e.s.WaitPending(testCtx(t), "alice", 0); err != nil {
		t.Fatal(err)
	}
	rest := pingSync(t, c, "p")
	if len(rest) != 2 || rest[0] != first || rest[1] != first {
		t.Fatalf("redeliveries: %q, want 2 frames identical to %s", rest, first)
	}
}

// TestRecvackStopsRedelivery drives the redelivery scan by hand on a fake
// clock: of two pushes, only the un-acked one comes again, identically.
func TestRecvackStopsRedelivery(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1796196827, 0)}
	o := fastOptions()
	o.Now = clk.Now
	o.Tick = time.Hour  // the scans below are the only ones
	o.RetryInterval = 0 // the real 60 s
	e := newEnv(t, o)
	e.s.RegisterToken("alice", "at", 0, 1)
	c := e.login(t, "alice", "at", 0, "d1")
	acked := e.s.Say("bob", "alice", 1, "", []byte("x"))
	e.s.Say("bob", "alice", 1, "", []byte("y"))
	first := c.next(t)
	second := c.next(t)
	if !strings.Contains(first, fmt.Sprintf(`"messageId":"%d"`, acked.ID)) {
		t.Fatalf("push: %s", first)
	}
	c.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"recvack","params":{"messageId":"%d","messageSeq":%d}}`, acked.ID, acked.Seq))
	if err := e.s.WaitPending(testCtx(t), "alice", 1); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(DefaultRetryInterval - time.Second))
	e.s.mu.Lock()
	e.s.scanLocked(clk.Now())
	e.s.mu.Unlock()
	if got := pingSync(t, c, "p1"); len(got) != 0 {
		t.Fatalf("redelivered before RetryInterval: %q", got)
	}
	clk.Set(clk.Now().Add(time.Second))
	e.s.mu.Lock()
	e.s.scanLocked(clk.Now())
	e.s.mu.Unlock()
	if got := pingSync(t, c, "p2"); len(got) != 1 || got[0] != second {
		t.Fatalf("redelivered %q, want only the un-acked %s", got, second)
	}
}

func TestIdleConnectionDroppedThenClosedSilently(t *testing.T) {
	o := fastOptions()
	o.IdleTimeout = 30 * time.Millisecond
	o.IdleClose = 80 * time.Millisecond
	e := newEnv(t, o)
	e.s.RegisterToken("bot", "bt", 2, 1)
	c := e.login(t, "bot", "bt", 2, "d")
	if err := e.s.WaitConnections(testCtx(t), "bot", 0); err != nil {
		t.Fatal(err)
	}
	e.s.Say("alice", "bot", 1, "", []byte("x")) // not routed any more: no push
	c.waitEnd(t, "idle connection")
	if n := len(c.frames()); n != 1 {
		t.Fatalf("frames after the idle drop: %q", c.frames()[1:])
	}
}

func TestBadFrameWedgesFreshConnection(t *testing.T) {
	cases := []struct {
		name, frame, errPart string
	}{
		{"ping without id", `{"jsonrpc":"2.0","method":"ping"}`, `"error":{"code":0,"message":"jsonrpc decode: unknown notification method 'ping'"}`},
		{"unknown request method", `{"jsonrpc":"2.0","method":"foo","id":"x1","params":{}}`, `"id":"x1","error":{"code":0,`},
		{"numeric id", `{"jsonrpc":"2.0","method":"send","id":7,"params":{"channelId":"g","channelType":2,"payload":"eA=="}}`, `{"jsonrpc":"2.0","error":{"code":0,"message":"jsonrpc: failed to unmarshal field: request ID: json: cannot unmarshal number into Go value of type string"}}`},
		{"object payload", `{"jsonrpc":"2.0","method":"send","id":"s","params":{"channelId":"g","channelType":2,"payload":{"type":1}}}`, `"error":{"code":0,`},
		{"subscribe", `{"jsonrpc":"2.0","method":"subscribe","id":"sub1","params":{"subNo":"n1","channelId":"g","channelType":2}}`, `{"jsonrpc":"2.0","id":"sub1","error":{"code":0,"message":"unknown packet type: jsonrpc.SubscribeRequest"}}`},
		{"unsubscribe", `{"jsonrpc":"2.0","method":"unsubscribe","id":"u1","params":{"subNo":"n1","channelId":"g","channelType":2}}`, `"message":"unknown packet type: jsonrpc.UnsubscribeRequest"`},
		{"not JSON", `hello`, `"error":{"code":0,`},
	}
	e := newEnv(t, fastOptions())
	e.s.RegisterToken("bot", "bt", 2, 0)
	e.s.CreateGroup("g", "bot")
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.login(t, "bot", "bt", 2, fmt.Sprint("dev", i))
			c.send(t, tc.frame)
			errFrame := c.next(t)
			if !strings.Contains(errFrame, tc.errPart) {
				t.Fatalf("error frame %s, want it to contain %s", errFrame, tc.errPart)
			}
			// Wedged: a valid ping and a valid send get the same error.
			c.send(t, `{"jsonrpc":"2.0","method":"ping","id":"p"}`)
			c.send(t, `{"jsonrpc":"2.0","method":"send","id":"s2","params":{"channelId":"g","channelType":2,"payload":"eA=="}}`)
			if f := c.next(t); f != errFrame {
				t.Fatalf("after the bad frame a ping got %s, want %s", f, errFrame)
			}
			if f := c.next(t); f != errFrame {
				t.Fatalf("after the bad frame a send got %s, want %s", f, errFrame)
			}
			if got := e.s.Messages("", "g", 2); len(got) != 0 {
				t.Fatalf("a wedged connection's send was stored: %+v", got)
			}
		})
	}
}

func TestRefusedConnectIsSilent(t *testing.T) {
	e := newEnv(t, fastOptions())
	e.s.RegisterToken("bot", "bt", 2, 1)
	for _, p := range []string{
		`"uid":"bot","token":"WRONG","deviceFlag":2`,
		`"uid":"bot","token":"bt","deviceFlag":1`, // no token for this flag
	} {
		c := dialWS(t, e.ws)
		c.send(t, `{"jsonrpc":"2.0","method":"connect","id":"c","params":{`+p+`,"deviceId":"d"}}`)
		c.waitEnd(t, "refused connect")
		if f := c.frames(); len(f) != 0 {
			t.Fatalf("refused connect got frames %q", f)
		}
	}
}

func TestHoldConnects(t *testing.T) {
	e := newEnv(t, fastOptions())
	e.s.RegisterToken("bot", "bt", 2, 1)
	release := e.s.HoldConnects()
	c := dialWS(t, e.ws)
	c.send(t, `{"jsonrpc":"2.0","method":"connect","id":"c","params":{"uid":"bot","token":"bt","deviceFlag":2,"deviceId":"d"}}`)
	c.waitEnd(t, "held connect")
	if len(c.frames()) != 0 {
		t.Fatalf("held connect answered: %q", c.frames())
	}
	release()
	release() // idempotent
	e.login(t, "bot", "bt", 2, "d")
	if n := e.s.Connections("bot"); n != 1 {
		t.Fatalf("Connections = %d after release", n)
	}
}

func TestFailNext(t *testing.T) {
	e := newEnv(t, fastOptions())
	e.s.FailNext(1, "/conversation/sync", http.StatusInternalServerError)
	e.s.FailNext(1, "/user/token", http.StatusBadRequest)
	if st, body := e.post(t, "/conversation/sync", `{"uid":"a"}`); st != 500 || body != "" {
		t.Fatalf("injected 500: %d %q", st, body)
	}
	if st, body := e.post(t, "/conversation/sync", `{"uid":"a"}`); st != 200 || body != "[]" {
		t.Fatalf("after the fault: %d %q", st, body)
	}
	if st, body := e.post(t, "/user/token", `{"uid":"a","token":"t"}`); st != 400 || !strings.HasSuffix(body, `"status":400}`) {
		t.Fatalf("injected 400: %d %q", st, body)
	}
	if st, _ := e.post(t, "/user/token", `{"uid":"a","token":"t"}`); st != 200 {
		t.Fatalf("after the fault: %d", st)
	}
}

func TestDropAllAndClose(t *testing.T) {
	e := newEnv(t, fastOptions())
	e.s.RegisterToken("bob", "bt", 0, 0)
	a, b := e.login(t, "bob", "bt", 0, "d1"), e.login(t, "bob", "bt", 0, "d2")
	if n := e.s.DropAll(); n != 2 {
		t.Fatalf("DropAll = %d, want 2", n)
	}
	a.waitEnd(t, "dropped a")
	b.waitEnd(t, "dropped b")
	if err := e.s.WaitConnections(testCtx(t), "bob", 0); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "bob", "bt", 0, "d3")
	e.s.Close()
	c.waitEnd(t, "after Close")
	if st, _ := e.post(t, "/conversation/sync", `{"uid":"bob"}`); st != http.StatusServiceUnavailable {
		t.Fatalf("after Close: HTTP %d", st)
	}
}

func TestMaxConnections(t *testing.T) {
	o := fastOptions()
	o.MaxConnections = 1
	e := newEnv(t, o)
	dialWS(t, e.ws)
	_, resp, err := websocket.DefaultDialer.Dial(e.ws, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second dial: %v %v", resp, err)
	}
	_ = resp.Body.Close()
}

func TestMessagesCappedSeqsStayDense(t *testing.T) {
	o := fastOptions()
	o.MaxMessagesPerChannel = 3
	e := newEnv(t, o)
	for i := 0; i < 5; i++ {
		e.s.Say("alice", "g", 2, "", []byte{byte(i)})
	}
	got := e.s.Messages("", "g", 2)
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("kept %+v, want seqs 3..5", got)
	}
	st, body := e.post(t, "/channel/messagesync", `{"login_uid":"x","channel_id":"g","channel_type":2,"start_message_seq":1,"limit":10,"pull_mode":1}`)
	var r struct {
		Messages []struct {
			Seq     int64  `json:"message_seq"`
			Payload string `json:"payload"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &r); st != 200 || err != nil || len(r.Messages) != 3 || r.Messages[0].Seq != 3 {
		t.Fatalf("messagesync: %d %s", st, body)
	}
	if p, _ := base64.StdEncoding.DecodeString(r.Messages[2].Payload); len(p) != 1 || p[0] != 4 {
		t.Fatalf("payload %q", r.Messages[2].Payload)
	}
	if got[0].ID >= got[1].ID || got[1].ID >= got[2].ID || got[0].ID < 1<<53 {
		t.Fatalf("ids not increasing above 2^53: %d %d %d", got[0].ID, got[1].ID, got[2].ID)
	}
}

func TestKickLeavesSocketOpenAndSilent(t *testing.T) {
	e := newEnv(t, fastOptions())
	e.s.RegisterToken("bot", "bt", 2, 1)
	old := e.login(t, "bot", "bt", 2, "dev-old")
	e.login(t, "bot", "bt", 2, "dev-new")
	if f := old.next(t); f != `{"jsonrpc":"2.0","method":"disconnect","params":{"reasonCode":12,"reason":"login in other device"}}` {
		t.Fatalf("kick frame %s", f)
	}
	if err := e.s.WaitConnections(testCtx(t), "bot", 1); err != nil {
		t.Fatal(err)
	}
	old.send(t, `{"jsonrpc":"2.0","method":"ping","id":"p"}`)
	if err := e.s.waitFor(testCtx(t), func() bool { return e.s.inbound >= 3 }); err != nil {
		t.Fatal(err)
	}
	if !old.isOpen() || e.s.Sockets() != 2 || len(old.frames()) != 2 {
		t.Fatalf("kicked socket: open=%v sockets=%d frames=%q", old.isOpen(), e.s.Sockets(), old.frames())
	}
}

// TestBadInputNeverBreaksTheServer throws malformed bodies at every route:
// each must answer with one of the statuses the real server uses, and the
// server must keep working.
func TestBadInputNeverBreaksTheServer(t *testing.T) {
	e := newEnv(t, fastOptions())
	bodies := []string{"", "null", "[]", "{", `{"channel_type":-1}`, `{"limit":-5,"pull_mode":7,"start_message_seq":-3,"login_uid":"a","channel_id":"b","channel_type":1}`,
		`{"message_seqs":[-1,0,99999999999]}`, `{"uid":"u","last_msg_seqs":"::|a:b:c|g:2"}`, `{"subscribers":[""],"channel_id":"x","channel_type":2}`,
		`{"payload":"eA==","channel_id":"x","channel_type":1}`, `"string"`, `{"header":{"red_dot":"x"}}`}
	for route := range routes {
		method, path, _ := strings.Cut(route, " ")
		for _, b := range bodies {
			target := e.api + path
			if method == http.MethodGet {
				target += "?channel_id=" + url.QueryEscape(b) + "&channel_type=x&client_msg_no=" + url.QueryEscape(b)
			}
			req, err := http.NewRequest(method, target, strings.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %q: %v", route, b, err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 400 && resp.StatusCode != 500 {
				t.Errorf("%s %q: HTTP %d", route, b, resp.StatusCode)
			}
		}
	}
	e.s.RegisterToken("u", "t", 0, 1)
	c := e.login(t, "u", "t", 0, "d")
	if got := pingSync(t, c, "p"); len(got) != 0 {
		t.Fatalf("frames before pong: %q", got)
	}
}
