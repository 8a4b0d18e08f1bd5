package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// evWorld is a simulator on loopback HTTP and a store path; bridges come
// and go on it (startBridge), so that a test can restart the bridge on the
// same store.
type evWorld struct {
	t      *testing.T
	sim    *sim.Server
	srv    *httptest.Server
	urls   sim.URLs
	dbPath string
	// onCommit, when set before startBridge, is the store's OnCommit.
	onCommit func(requests int, took time.Duration, err error)
	// onPush, when set before startBridge, is the backend's OnPush.
	onPush func(kind string)
}

func newEvWorld(t *testing.T) *evWorld {
	t.Helper()
	s := sim.New(sim.Options{Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("sim")})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return &evWorld{t: t, sim: s, srv: srv, urls: sim.Endpoints(srv.URL), dbPath: filepath.Join(t.TempDir(), "bridge.db")}
}

// evBridge is one running bridge with a forward-WS client reading its
// events, as a framework would.
type evBridge struct {
	w      *evWorld
	store  *store.Store
	bridge *bridge.Bridge
	router *onebot.Router
	events chan evEvent
	ctx    context.Context
	stop   func()
}

// evEvent is one event frame: its bytes and its decoded form (numbers as
// json.Number, so that a string id is told from a numeric one).
type evEvent struct {
	raw []byte
	m   map[string]any
}

// startBridge opens the store and runs a bridge until stop (or the test's
// end), and waits until its push socket is online.
func (w *evWorld) startBridge(mod ...func(*bridge.Options)) *evBridge {
	t := w.t
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	client := yunhu.New(yunhu.Options{
		APIURL: w.urls.API, WSURL: w.urls.WS, UploadURL: w.urls.Upload,
		Token: sim.DefaultToken, Platform: "linux", Timeout: 5 * time.Second,
		Log:     log.Named("yunhu"),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond },
	})
	st, err := store.Open(store.Options{Path: w.dbPath, OnCommit: w.onCommit})
	if err != nil {
		t.Fatal(err)
	}
	// The forward WebSocket below connects before the bridge logs in, and
	// such a client waits for the account id; the test knows it already.
	var selfID atomic.Int64
	selfID.Store(simSelfNumber(t))
	hub := onebot.NewHub(onebot.HubOptions{Log: log.Named("hub"), SelfID: selfID.Load})
	router := onebot.NewRouter(onebot.RouterOptions{Log: log.Named("router")})
	opts := bridge.Options{
		Backend: yunhuBackend(t, client, st, "string", w.onPush), Store: st, Hub: hub, Router: router, Log: log.Named("bridge"),
		PostFormat: "string", SetSelfID: selfID.Store,
	}
	for _, m := range mod {
		m(&opts)
	}
	b, err := bridge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ws := onebot.NewWSServer(onebot.WSOptions{Router: router, Hub: hub, Log: log.Named("ws"),
		Conn: onebot.ConnOptions{QueueSize: 1 << 16, PingInterval: -1}})
	wsSrv := httptest.NewServer(ws)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(wsSrv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, first, err := conn.ReadMessage(); err != nil || !bytes.Contains(first, []byte(`"lifecycle"`)) {
		t.Fatalf("first frame %s, %v", first, err)
	}
	events := make(chan evEvent, 1<<16)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Errorf("event %s: %v", raw, err)
				return
			}
			if m["post_type"] == "meta_event" {
				continue
			}
			events <- evEvent{raw: raw, m: m}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- b.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run = %v", err)
		}
		_ = conn.Close()
		<-readDone
		_ = ws.Close()
		wsSrv.Close()
		client.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	}
	t.Cleanup(stop)
	eb := &evBridge{w: w, store: st, bridge: b, router: router, events: events, ctx: ctx, stop: stop}
	evWait(t, "push socket online", func() bool { on, _ := b.Status(); return on })
	return eb
}

// next returns the next event that match accepts (nil: any), failing after
// a bound; events it skips are lost.
func (b *evBridge) next(t *testing.T, match func(evEvent) bool) evEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-b.events:
			if match == nil || match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatal("no matching event within 10s")
			return evEvent{}
		}
	}
}

// nextOf returns the next event with the given post_type.
func (b *evBridge) nextOf(t *testing.T, postType string) evEvent {
	t.Helper()
	return b.next(t, func(ev evEvent) bool { return ev.m["post_type"] == postType })
}

// warmMembers lists the members of groups with get_group_member_list, as
// a framework does at start, which fills the bridge's member cache: the
// first message of a group otherwise carries the fallback role member,
// since ingest never waits for a member list.
func (b *evBridge) warmMembers(t *testing.T, groups ...string) {
	t.Helper()
	for _, g := range groups {
		n, err := b.store.ToInt(b.ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		r := b.router.Handle(b.ctx, "get_group_member_list", json.RawMessage(`{"group_id":`+strconv.FormatInt(n, 10)+`}`))
		if r.Retcode != 0 {
			t.Fatalf("get_group_member_list %s: retcode %d %s", g, r.Retcode, r.Message)
		}
	}
}

// marker injects a text from Alice to the account and returns once its
// event arrived, so that every event of pushes sent before has arrived
// too; it fails if any other event comes first.
func (b *evBridge) marker(t *testing.T, text string) {
	t.Helper()
	b.w.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: text})
	ev := b.next(t, nil)
	if ev.str("raw_message") != text {
		t.Fatalf("event before the marker %q: %s", text, ev.raw)
	}
}

// inject makes another user or bot send a message.
func (w *evWorld) inject(m sim.Message) sim.Record {
	w.t.Helper()
	rec, err := w.sim.Inject(m)
	if err != nil {
		w.t.Fatalf("inject %+v: %v", m, err)
	}
	return rec
}

// num returns a numeric field as an int64, failing unless it is a JSON
// number.
func (e evEvent) num(t *testing.T, path ...string) int64 {
	t.Helper()
	v := e.get(path...)
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s = %#v, want a JSON number in %s", strings.Join(path, "."), v, e.raw)
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		t.Fatalf("%s = %s: %v", strings.Join(path, "."), n, err)
	}
	return i
}

func (e evEvent) str(path ...string) string {
	s, _ := e.get(path...).(string)
	return s
}

func (e evEvent) get(path ...string) any {
	var v any = e.m
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// timeRE and the world's base URL are what varies between runs.
var timeRE = regexp.MustCompile(`"time":\d+`)

// normalize replaces the event time and the simulator's base URL with
// fixed text, for golden comparisons.
func (w *evWorld) normalize(raw []byte) string {
	s := timeRE.ReplaceAllString(string(raw), `"time":T`)
	return strings.ReplaceAll(s, w.srv.URL, "BASE")
}

// evWait polls cond until it holds, failing after a bound.
func evWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// selfClient is a Yunhu client for the account itself (another device),
// for what the simulator's Go API cannot do as the account.
func (w *evWorld) selfClient() *yunhu.Client {
	c := yunhu.New(yunhu.Options{APIURL: w.urls.API, WSURL: w.urls.WS, UploadURL: w.urls.Upload,
		Token: sim.DefaultToken, Timeout: 5 * time.Second})
	w.t.Cleanup(c.Close)
	return c
}

// storedID is the message_id the store gave a simulator record.
func (b *evBridge) storedID(t *testing.T, rec sim.Record) int32 {
	t.Helper()
	chatType, chatID := rec.ChatType, rec.ChatID
	if chatType == yunhu.ChatTypeUser && rec.SenderID != sim.SelfID {
		chatID = rec.SenderID
	}
	if chatType == yunhu.ChatTypeBot && rec.SenderID != sim.SelfID && rec.SenderType == yunhu.ChatTypeBot {
		chatID = rec.SenderID
	}
	id, err := b.store.MessageID(simConvKey(chatType, chatID), rec.MsgID)
	if err != nil {
		t.Fatalf("message %s: %v", rec.MsgID, err)
	}
	return id
}

// quiet reports an event arriving within d as an error.
func (b *evBridge) quiet(d time.Duration) error {
	select {
	case ev := <-b.events:
		return errors.New("unexpected event " + string(ev.raw))
	case <-time.After(d):
		return nil
	}
}

// simSelfNumber is the simulated account's OneBot id.
func simSelfNumber(t *testing.T) int64 {
	n, err := strconv.ParseInt(sim.SelfID, 10, 64)
	if err != nil {
		t.Fatalf("sim.SelfID %q is not numeric: %v", sim.SelfID, err)
	}
	return n
}
