package bridge_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap/zaptest"

	yunhubackend "github.com/yunhu-onebot/yunhu-onebot/backend/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// actEnv is one bridge wired to a simulator over real HTTP, a real store
// and a real router, running (logged in, receiving pushes) for the test.
type actEnv struct {
	t      *testing.T
	sim    *sim.Server
	urls   sim.URLs
	store  *store.Store
	router *onebot.Router
	hub    *onebot.Hub
	bridge *bridge.Bridge
	ctx    context.Context
	run    func() // nil once started
}

// newIdleActEnv builds the world without running the bridge (start does).
func newIdleActEnv(t *testing.T, mod ...func(*bridge.Options)) *actEnv {
	t.Helper()
	s := sim.New(sim.Options{Log: zaptest.NewLogger(t).Named("sim")})
	srv := httptest.NewServer(s.Handler())
	urls := sim.Endpoints(srv.URL)
	client := yunhu.New(yunhu.Options{
		APIURL: urls.API, WSURL: urls.WS, UploadURL: urls.Upload,
		Token: sim.DefaultToken, Platform: "linux", Timeout: 5 * time.Second,
		Log:     zaptest.NewLogger(t).Named("yunhu"),
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
	})
	st, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "bridge.db")})
	if err != nil {
		t.Fatal(err)
	}
	hub := onebot.NewHub(onebot.HubOptions{})
	router := onebot.NewRouter(onebot.RouterOptions{Log: zaptest.NewLogger(t).Named("router")})
	opts := bridge.Options{
		Backend: yunhuBackend(t, client, st, "array", nil), Store: st, Hub: hub, Router: router,
		Log: zaptest.NewLogger(t).Named("bridge"), PostFormat: "array",
		FetchTimeout: 5 * time.Second,
	}
	for _, m := range mod {
		m(&opts)
	}
	b, err := bridge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := make(chan struct{})
	e := &actEnv{t: t, sim: s, urls: urls, store: st, router: router, hub: hub, bridge: b, ctx: ctx}
	e.run = func() {
		go func() {
			defer close(done)
			_ = b.Run(ctx)
		}()
	}
	t.Cleanup(func() {
		cancel()
		if e.run == nil {
			<-done
		}
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
		client.Close()
		_ = st.Close()
	})
	return e
}

// start runs the bridge (Run: log in, then receive pushes).
func (e *actEnv) start() {
	e.run()
	e.run = nil
}

// newActEnv starts the world; mod adjusts the bridge options.
func newActEnv(t *testing.T, mod ...func(*bridge.Options)) *actEnv {
	t.Helper()
	e := newIdleActEnv(t, mod...)
	e.start()
	s, ctx := e.sim, e.ctx
	// Log in the way frameworks start: get_login_info first; then wait for
	// the push socket, so that injected messages reach the bridge.
	e.ok("get_login_info", nil)
	if err := s.WaitOnline(ctx, sim.SelfID, 1); err != nil {
		t.Fatalf("push socket: %v", err)
	}
	return e
}

// call runs an action through the router as every transport does.
func (e *actEnv) call(action string, params any) onebot.Response {
	e.t.Helper()
	raw := json.RawMessage(`{}`)
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = b
	}
	return e.router.Handle(e.ctx, action, raw)
}

// ok calls an action that must succeed and returns its data.
func (e *actEnv) ok(action string, params any) json.RawMessage {
	e.t.Helper()
	r := e.call(action, params)
	if r.Status != onebot.StatusOK || r.Retcode != 0 {
		e.t.Fatalf("%s %v: %s retcode %d: %s", action, params, r.Status, r.Retcode, r.Message)
	}
	return r.Data
}

// fail calls an action that must fail with retcode and returns the
// response.
func (e *actEnv) fail(action string, params any, retcode int) onebot.Response {
	e.t.Helper()
	r := e.call(action, params)
	if r.Status != onebot.StatusFailed || r.Retcode != retcode {
		e.t.Fatalf("%s %v: want failed %d, got %s %d (%s) data %s", action, params, retcode, r.Status, r.Retcode, r.Message, r.Data)
	}
	return r
}

// decode unmarshals action data into v.
func decode[T any](t *testing.T, data json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// send sends msg and returns the message_id.
func (e *actEnv) send(action string, params map[string]any) int32 {
	e.t.Helper()
	data := e.ok(action, params)
	var r struct {
		MessageID *json.Number `json:"message_id"`
	}
	if err := json.Unmarshal(data, &r); err != nil || r.MessageID == nil {
		e.t.Fatalf("%s: data %s has no numeric message_id", action, data)
	}
	n, err := strconv.ParseInt(string(*r.MessageID), 10, 32)
	if err != nil || n <= 0 {
		e.t.Fatalf("%s: bad message_id %s", action, *r.MessageID)
	}
	return int32(n)
}

// sent returns the send-message requests the simulator received after the
// first skip ones.
func (e *actEnv) sent(skip int) []sim.SentMessage {
	e.t.Helper()
	all := e.sim.Sent()
	if len(all) < skip {
		e.t.Fatalf("only %d messages sent, want more than %d", len(all), skip)
	}
	return all[skip:]
}

// lastSent is the newest send-message request, which must have succeeded.
func (e *actEnv) lastSent() sim.SentMessage {
	e.t.Helper()
	all := e.sim.Sent()
	if len(all) == 0 {
		e.t.Fatal("nothing sent")
	}
	m := all[len(all)-1]
	if m.Code != yunhu.CodeOK {
		e.t.Fatalf("last send refused: %d %s", m.Code, m.Msg)
	}
	return m
}

// groupN is a group's OneBot id.
func (e *actEnv) groupN(id string) int64 {
	e.t.Helper()
	n, err := e.store.ToInt(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// userN is a user's OneBot id (numeric Yunhu ids stand for themselves).
func userN(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// inject makes another user send a message and returns its record and
// the message_id the bridge gave it on receiving the push.
func (e *actEnv) inject(m sim.Message) (sim.Record, int32) {
	e.t.Helper()
	rec, err := e.sim.Inject(m)
	if err != nil {
		e.t.Fatal(err)
	}
	chatID := rec.ChatID
	if rec.ChatType != yunhu.ChatTypeGroup && rec.SenderID != sim.SelfID {
		chatID = rec.SenderID // private and bot chats are keyed by the peer
	}
	var id int32
	waitFor(e.t, "the bridge to store message "+rec.MsgID, func() bool {
		id, err = e.store.MessageID(simConvKey(rec.ChatType, chatID), rec.MsgID)
		return err == nil
	})
	return rec, id
}

// events connects a forward WebSocket client to the bridge's hub and
// returns the events it receives (meta events left out), decoded.
func (e *actEnv) events() <-chan map[string]any {
	e.t.Helper()
	ws := onebot.NewWSServer(onebot.WSOptions{Router: e.router, Hub: e.hub, Conn: onebot.ConnOptions{PingInterval: -1}})
	srv := httptest.NewServer(ws)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(chan map[string]any, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(raw, &m) == nil && m["post_type"] != "meta_event" {
				out <- m
			}
		}
	}()
	e.t.Cleanup(func() {
		_ = conn.Close()
		<-done
		_ = ws.Close()
		srv.Close()
	})
	return out
}

// nextEvent returns the next event, failing after a bound.
func nextEvent(t *testing.T, events <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// simConvKey is the store's key of a simulator chat: Yunhu's user and bot
// chats are private conversations, groups are groups.
func simConvKey(t int32, id string) string {
	kind := platform.KindPrivate
	if t == yunhu.ChatTypeGroup {
		kind = platform.KindGroup
	}
	return bridge.ConvKey(platform.Conv{Kind: kind, ID: id})
}

// yunhuBackend is the Yunhu backend over client, keeping its state in st.
func yunhuBackend(t testing.TB, client *yunhu.Client, st *store.Store, postFormat string, onPush func(string)) platform.Backend {
	t.Helper()
	b, err := yunhubackend.New(yunhubackend.Options{
		Client: client, KV: bridge.NewBackendState(st), Log: zaptest.NewLogger(t).Named("backend"),
		OnPush: onPush, PostFormat: postFormat,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
