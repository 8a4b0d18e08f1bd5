package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// startSandbox serves a sandbox until the test ends.
func startSandbox(t *testing.T) *sandbox {
	t.Helper()
	db, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "sandbox.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// No preferred port: tests run side by side.
	sb, err := newSandbox(zaptest.NewLogger(t), sandboxOptions{DB: "data/test.sandbox.db", IDs: db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sandbox Run: %v", err)
		}
	})
	return sb
}

// control calls the sandbox's control API and decodes a JSON answer into
// out (when non-nil); it returns the status and the raw body.
func control(t *testing.T, base, path string, params url.Values, out any) (int, string) {
	t.Helper()
	resp, err := http.PostForm(base+path, params)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

type recordOut struct {
	MsgID      string `json:"msg_id"`
	Seq        int64  `json:"seq"`
	ChatType   int32  `json:"chat_type"`
	ChatID     string `json:"chat_id"`
	SenderID   string `json:"sender_id"`
	QuoteMsgID string `json:"quote_msg_id"`
	RecallTime int64  `json:"recall_time"`
	Content    struct {
		Text        string   `json:"text"`
		MentionedID []string `json:"mentioned_id"`
	} `json:"content"`
}

// TestSandboxControlAPI drives every control endpoint and checks the
// simulator's state behind it, and that bad requests say what is wrong.
func TestSandboxControlAPI(t *testing.T) {
	sb := startSandbox(t)
	base := sb.base
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("sandbox listens at %s, want loopback", base)
	}

	// The help is the answer to /sandbox/ (and, redirected, /sandbox); a
	// mistyped endpoint is a 404 that shows it too.
	for path, want := range map[string]int{"/sandbox/": http.StatusOK, "/sandbox": http.StatusOK, "/sandbox/sya": http.StatusNotFound} {
		if code, body := control(t, base, path, nil, nil); code != want ||
			!strings.Contains(body, base+"/sandbox/say?from=alice&group=") || !strings.Contains(body, "image=1") {
			t.Errorf("usage at %s: %d %s", path, code, body)
		}
	}

	// A group message by name, with a mention; a private one by id.
	var g recordOut
	if code, body := control(t, base, "/sandbox/say", url.Values{
		"from": {"Alice"}, "group": {"sim owned"}, "text": {"hello"}, "at": {"bob, self"}}, &g); code != http.StatusOK {
		t.Fatalf("say in a group: %d %s", code, body)
	}
	if g.ChatID != sim.GroupOwnedID || g.ChatType != yunhu.ChatTypeGroup || g.SenderID != sim.AliceID ||
		g.Content.Text != "@Bob @Sim Self hello" || strings.Join(g.Content.MentionedID, ",") != sim.BobID+","+sim.SelfID {
		t.Errorf("group record %+v", g)
	}
	var p recordOut
	if code, body := control(t, base, "/sandbox/say", url.Values{
		"from": {sim.BobID}, "private": {"1"}, "text": {"hi"}, "quote": {"0123"}}, &p); code != http.StatusOK {
		t.Fatalf("say in private: %d %s", code, body)
	}
	if p.ChatType != yunhu.ChatTypeUser || p.SenderID != sim.BobID || p.Content.Text != "hi" {
		t.Errorf("private record %+v", p)
	}
	if rec, ok := sb.sim.Lookup(g.MsgID); !ok || rec.Seq != g.Seq {
		t.Errorf("the simulator does not hold the group message: %+v %v", rec, ok)
	}

	for _, c := range []struct {
		params url.Values
		want   string
	}{
		{url.Values{"text": {"x"}}, "group=<id> or private=1"},
		{url.Values{"group": {sim.GroupOwnedID}}, "text is empty"},
		{url.Values{"group": {"nowhere"}, "text": {"x"}}, `no group "nowhere"`},
		{url.Values{"from": {"mallory"}, "private": {"1"}, "text": {"x"}}, `no user "mallory"`},
		{url.Values{"group": {sim.GroupOwnedID}, "private": {"1"}, "text": {"x"}}, "not both"},
		{url.Values{"from": {"self"}, "private": {"1"}, "text": {"x"}}, "itself"},
		{url.Values{"group": {sim.GroupOwnedID}, "text": {"x"}, "at": {"nobody"}}, `at: no user "nobody"`},
	} {
		if code, body := control(t, base, "/sandbox/say", c.params, nil); code != http.StatusBadRequest ||
			!strings.Contains(body, c.want) {
			t.Errorf("say %v: %d %q, want 400 with %q", c.params, code, body, c.want)
		}
	}
	// Dave is in no group: the simulator refuses, and the answer says so.
	if code, body := control(t, base, "/sandbox/say", url.Values{"from": {"dave"}, "group": {sim.GroupOwnedID}, "text": {"x"}}, nil); code != http.StatusConflict ||
		!strings.Contains(body, "refused") {
		t.Errorf("say as a non-member: %d %s", code, body)
	}

	// History lists both group messages' chat as the account sees it.
	var hist []recordOut
	if code, body := control(t, base, "/sandbox/history", url.Values{"chat": {sim.GroupOwnedID}, "type": {"group"}}, &hist); code != http.StatusOK ||
		len(hist) != 1 || hist[0].MsgID != g.MsgID {
		t.Errorf("history: %d %s", code, body)
	}
	if code, _ := control(t, base, "/sandbox/history", url.Values{"chat": {"bob"}, "type": {"user"}}, &hist); code != http.StatusOK ||
		len(hist) != 1 || hist[0].MsgID != p.MsgID {
		t.Errorf("private history: %d %+v", code, hist)
	}
	if code, _ := control(t, base, "/sandbox/history", url.Values{"chat": {"x"}, "type": {"channel"}}, nil); code != http.StatusBadRequest {
		t.Errorf("history with a bad type: %d", code)
	}

	// Recall, then the message shows it.
	var rec recordOut
	if code, body := control(t, base, "/sandbox/recall", url.Values{"from": {"alice"}, "id": {g.MsgID}}, &rec); code != http.StatusOK ||
		rec.RecallTime == 0 {
		t.Errorf("recall: %d %s", code, body)
	}
	if code, body := control(t, base, "/sandbox/recall", url.Values{"from": {"carol"}, "id": {p.MsgID}}, nil); code != http.StatusConflict {
		t.Errorf("recall by a stranger to the chat: %d %s", code, body)
	}
	if code, _ := control(t, base, "/sandbox/message", url.Values{"id": {g.MsgID}}, &rec); code != http.StatusOK ||
		rec.RecallTime == 0 || rec.MsgID != g.MsgID {
		t.Errorf("message after recall: %d %+v", code, rec)
	}
	if code, _ := control(t, base, "/sandbox/message", url.Values{"id": {"nope"}}, nil); code != http.StatusNotFound {
		t.Errorf("unknown message: %d", code)
	}

	// Media keys are shown as URLs on the sandbox's CDN, which serves them.
	s := sb.sim
	key := "0123456789abcdef0123456789abcdef.png"
	s.PutObject(yunhu.BucketImage, key, []byte("not really a png"))
	img, err := s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, ContentType: yunhu.ContentImage,
		Content: &yunhupb.MsgContent{Image: key}})
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Content struct {
			ImageURL string `json:"image_url"`
		} `json:"content"`
	}
	if code, body := control(t, base, "/sandbox/message", url.Values{"id": {img.MsgID}}, &shown); code != http.StatusOK ||
		shown.Content.ImageURL != base+"/cdn/img/"+key {
		t.Errorf("image message: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, shown.Content.ImageURL, nil)
	req.Header.Set("Referer", "https://myapp.jwznb.com/")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the image URL does not serve: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Nobody has sent anything as the account yet.
	var sent []any
	if code, body := control(t, base, "/sandbox/sent", nil, &sent); code != http.StatusOK || len(sent) != 0 {
		t.Errorf("sent: %d %s", code, body)
	}
	var status struct {
		SelfID string `json:"self_id"`
		Online int    `json:"online"`
	}
	if code, body := control(t, base, "/sandbox/status", nil, &status); code != http.StatusOK || status.SelfID != sim.SelfID {
		t.Errorf("status: %d %s", code, body)
	}
	// The simulator itself is served on the same listener.
	if urls := sim.Endpoints(base); !strings.HasPrefix(urls.API, base) || !strings.HasPrefix(urls.WS, "ws://127.0.0.1:") {
		t.Errorf("endpoints %+v", urls)
	}
}

func TestSandboxRefusesRemoteClients(t *testing.T) {
	h := loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for addr, want := range map[string]int{
		"127.0.0.1:5555": http.StatusNoContent,
		"[::1]:5555":     http.StatusNoContent,
		"10.0.0.7:5555":  http.StatusForbidden,
		"garbage":        http.StatusForbidden,
	} {
		r := httptest.NewRequest("GET", "/sandbox/say", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("client %s: %d, want %d", addr, w.Code, want)
		}
	}
}

func TestSandboxBanner(t *testing.T) {
	sb := startSandbox(t)
	servers := []config.Server{
		{HTTP: &config.HTTPServer{Address: "127.0.0.1:0", AccessToken: "secret-1", Post: []config.HTTPPost{
			{URL: "http://127.0.0.1:8080/hook"},
			{URL: "http://hookuser:hookpass@127.0.0.1:8082/hook?key=HOOKSECRET&v=1"}}}},
		{WSReverse: &config.WSReverse{Universal: "ws://127.0.0.1:8081/onebot/v11/ws"}},
		{WSReverse: &config.WSReverse{API: "ws://revuser:revpass@127.0.0.1:8083/api?access_token=REVSECRET"}},
		{WS: &config.WSServer{Address: "127.0.0.1:0"}},
	}
	bound := []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5701},
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6701},
	}
	got := sb.banner(servers, bound)
	for _, want := range []string{
		"HTTP API            http://127.0.0.1:5701/<action>  (with its access-token)",
		"HTTP POST events to http://127.0.0.1:8080/hook",
		"reverse WebSocket   the daemon dials ws://127.0.0.1:8081/onebot/v11/ws\n",
		// Credentials and query values masked; host and path readable.
		"HTTP POST events to http://***@127.0.0.1:8082/hook?key=***&v=***\n",
		"reverse WebSocket   the daemon dials ws://***@127.0.0.1:8083/api?access_token=***\n",
		"forward WebSocket   ws://127.0.0.1:6701/\n",
		"self_id " + sim.SelfID,
		"curl '" + sb.base + "/sandbox/say?from=alice&group=" + sim.GroupOwnedID + "&text=hello'",
		"curl '" + sb.base + "/sandbox/say?from=alice&private=1&text=hi'",
		"curl " + sb.base + "/sandbox/sent",
		"so does the sandbox's own database,\ndata/test.sandbox.db, emptied at start (a real account's database is never touched)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("banner lacks %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{"secret-1", "hookuser", "hookpass", "HOOKSECRET", "revuser", "revpass", "REVSECRET"} {
		if strings.Contains(got, secret) {
			t.Errorf("banner shows the secret %q:\n%s", secret, got)
		}
	}
}

// waitFor polls cond every few milliseconds for up to 10 s.
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

// sandboxDaemon is a daemon in -sandbox mode run by a test, stopped by
// stop (or when the test ends).
type sandboxDaemon struct {
	httpBase string // the OneBot HTTP API
	wsURL    string // the forward WebSocket, "" when not configured
	sim      *sim.Server
	base     string // the sandbox's control API and simulator
	stop     func()
}

// runSandboxDaemon runs the daemon with -sandbox on cfg, whose first
// server is an HTTP API without access token (a second may be a forward
// WebSocket), until stop is called.
func runSandboxDaemon(t *testing.T, cfg *config.Config) *sandboxDaemon {
	t.Helper()
	sd := &sandboxDaemon{}
	addrs := make(chan []net.Addr, 1)
	d := &daemon{cfg: cfg, log: zaptest.NewLogger(t), sandbox: true, getenv: func(string) string { return "" },
		onReady:   func(a []net.Addr) { addrs <- a },
		onSandbox: func(s *sim.Server, base string) { sd.sim, sd.base = s, base }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	stopped := false
	sd.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("run did not stop within %v", stopTimeout)
		}
	}
	t.Cleanup(sd.stop)
	select {
	case bound := <-addrs:
		sd.httpBase = "http://" + bound[0].String()
		if len(bound) > 1 {
			sd.wsURL = "ws://" + bound[1].String() + "/"
		}
	case err := <-done:
		stopped = true
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready within 10 s")
	}
	waitLoggedIn(t, d)
	return sd
}

// oneBot calls an action on the HTTP API and returns the whole response.
func (sd *sandboxDaemon) oneBot(t *testing.T, action string, params any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(params)
	resp, err := http.Post(sd.httpBase+"/"+action, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d %s", action, body, resp.StatusCode, b)
	}
	return decodeJSON(t, b)
}

// sandboxConfig is a daemon configuration in dir with an HTTP API and a
// forward WebSocket, neither with an access token, posting arrays.
func sandboxConfig(t *testing.T, dir string) *config.Config {
	cfg := testConfig(t, dir)
	cfg.Servers[0].HTTP.AccessToken = ""
	cfg.Servers[1].WS.AccessToken = ""
	cfg.Message.PostFormat = "array"
	return cfg
}

// TestSandboxStartsEachRunAfresh: what a framework learnt in one sandbox
// run does not resolve in the next, because the simulated world and the
// sandbox's database both start afresh — while the real account's
// database beside it is left alone. get_version_info names a real
// version, the one -version prints.
func TestSandboxStartsEachRunAfresh(t *testing.T) {
	cfg := sandboxConfig(t, t.TempDir())
	real, err := store.Open(store.Options{Path: cfg.Database.Path})
	if err != nil {
		t.Fatal(err)
	}
	if err := real.Set(context.Background(), "real-account", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := real.Close(); err != nil {
		t.Fatal(err)
	}

	first := runSandboxDaemon(t, cfg)
	v := first.oneBot(t, "get_version_info", map[string]any{})
	data, _ := v["data"].(map[string]any)
	if data["app_version"] != versionString() || strings.Contains(fmt.Sprint(data["app_version"]), "(devel)") ||
		!strings.HasPrefix(fmt.Sprint(data["app_version"]), "v") || data["app_name"] != "yunhu-onebot" {
		t.Errorf("get_version_info = %v, want app_version %q", v, versionString())
	}
	sent := first.oneBot(t, "send_group_msg", map[string]any{"group_id": json.Number(sim.GroupOwnedID), "message": "remember me"})
	data, _ = sent["data"].(map[string]any)
	msgID := positiveID(t, "send_group_msg", data, "message_id")
	if got := first.oneBot(t, "get_msg", map[string]any{"message_id": msgID}); got["retcode"] != json.Number("0") {
		t.Fatalf("get_msg in the same run: %v", got)
	}
	first.stop()

	second := runSandboxDaemon(t, cfg)
	got := second.oneBot(t, "get_msg", map[string]any{"message_id": msgID})
	if got["status"] != "failed" || got["retcode"] == json.Number("0") {
		t.Errorf("get_msg of the last run's message in a new sandbox run: %v, want a failure", got)
	}
	if n := len(second.sim.Sent()); n != 0 {
		t.Errorf("the new simulated world holds %d sent messages, want 0", n)
	}
	// The new run works as the first did.
	if got := second.oneBot(t, "send_group_msg", map[string]any{"group_id": json.Number(sim.GroupOwnedID), "message": "again"}); got["retcode"] != json.Number("0") {
		t.Errorf("send_group_msg in the second run: %v", got)
	}
	second.stop()

	real, err = store.Open(store.Options{Path: cfg.Database.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	if v, err := real.Get("real-account"); err != nil || string(v) != "kept" {
		t.Errorf("the real account's database lost its data: %q %v", v, err)
	}
}

// TestResetSandboxDB: the reset empties the sandbox's file, refuses to
// touch one another sandbox has open (the data stays), and leaves a
// missing file to the store to create.
func TestResetSandboxDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sandbox.db")
	if err := resetSandboxDB(path); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	open := func() *store.Store {
		t.Helper()
		db, err := store.Open(store.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	if err := db.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := resetSandboxDB(path); !errors.Is(err, store.ErrInUse) {
		t.Errorf("reset of a database in use = %v, want ErrInUse", err)
	}
	if v, err := db.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("the database in use lost its data: %q %v", v, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := resetSandboxDB(path); err != nil {
		t.Fatal(err)
	}
	db = open()
	defer db.Close()
	if v, err := db.Get("k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after reset: %q %v, want not found", v, err)
	}
	// The reopened store works: its schema was recreated.
	if err := db.Set(context.Background(), "k2", []byte("v2")); err != nil {
		t.Errorf("write after reset: %v", err)
	}
}

// TestSandboxPortFallback: when the sandbox's usual port is taken, it
// listens on another loopback port instead of failing the start.
func TestSandboxPortFallback(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	sb, err := newSandbox(zaptest.NewLogger(t), sandboxOptions{Address: taken.Addr().String()})
	if err != nil {
		t.Fatalf("newSandbox with its port taken: %v", err)
	}
	defer sb.close()
	if sb.base == "http://"+taken.Addr().String() || !strings.HasPrefix(sb.base, "http://127.0.0.1:") {
		t.Errorf("sandbox at %s with %s taken", sb.base, taken.Addr())
	}
}

// TestSandboxWorldAndMedia runs the daemon in -sandbox with a framework
// on the forward WebSocket: /sandbox/world shows friendships, roles and
// the OneBot ids the daemon's events carry (the "big" group's alias among
// them), and the media /sandbox/say sends arrive as image, file and
// record segments whose URLs serve the media.
func TestSandboxWorldAndMedia(t *testing.T) {
	sd := runSandboxDaemon(t, sandboxConfig(t, t.TempDir()))
	c, _, err := websocket.DefaultDialer.Dial(sd.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws := frames{t, c}
	ws.next("lifecycle")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sd.sim.WaitOnline(ctx, sim.SelfID, 1); err != nil {
		t.Fatal(err)
	}

	code, world := control(t, sd.base, "/sandbox/world", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("world: %d %s", code, world)
	}
	for _, want := range []string{
		"self   Sim Self  yunhu 1000001   OneBot user_id 1000001           friends: alice, bob",
		"alice  Alice     yunhu 1000002   OneBot user_id 1000002           friends: self, bob, carol",
		"dave   Dave      yunhu 1000005   OneBot user_id 1000005           friends: none",
		`the account's remark for them: "Bobby"`,
		"bot    EchoBot   yunhu 20000001  OneBot user_id 20000001",
		"\"Sim Owned\" yunhu 100000001 OneBot group_id 100000001\n      owner   self\n      admin   alice\n      member  bob, carol\n      bots    bot\n",
		"\n      owner   bob\n      admin   alice\n      member  self, carol (card \"Carol in big\")\n",
		"alice  " + sim.TokenFor(sim.AliceID),
	} {
		if !strings.Contains(world, want) {
			t.Errorf("world lacks %q:\n%s", want, world)
		}
	}
	_, rest, ok := strings.Cut(world, `"Big Group" yunhu big       OneBot group_id `)
	bigID, _, _ := strings.Cut(rest, "\n")
	n, err := strconv.ParseInt(bigID, 10, 64)
	if !ok || err != nil || !store.IsAlias(n) {
		t.Fatalf("the big group's OneBot id %q is not an alias:\n%s", bigID, world)
	}

	referer := func(u string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Referer", "https://myapp.jwznb.com/")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", u, resp.StatusCode)
		}
		return b
	}
	segments := func(ev map[string]any) []map[string]any {
		t.Helper()
		arr, _ := ev["message"].([]any)
		var out []map[string]any
		for _, s := range arr {
			m, _ := s.(map[string]any)
			out = append(out, m)
		}
		return out
	}

	// Bob, owner of "big", sends the sample image with a caption there:
	// the event's group_id is the alias /sandbox/world showed.
	// Listing the members first, as a framework does at start, fills the
	// bridge's member cache; ingest never waits for a member list, so the
	// first message of a group otherwise carries the fallback role member.
	if r := sd.oneBot(t, "get_group_member_list", map[string]any{"group_id": n}); r["retcode"] != json.Number("0") {
		t.Fatalf("get_group_member_list: %v", r)
	}
	if code, body := control(t, sd.base, "/sandbox/say", url.Values{"from": {"bob"}, "group": {"big"}, "image": {"1"}, "text": {"look"}}, nil); code != http.StatusOK {
		t.Fatalf("say image: %d %s", code, body)
	}
	ev := ws.until("post_type", "message")
	wantNumber(t, "image event", ev, "group_id", bigID)
	wantNumber(t, "image event", ev, "user_id", sim.BobID)
	if sender, _ := ev["sender"].(map[string]any); sender["role"] != "owner" {
		t.Errorf("sender %v, want role owner as the world says", ev["sender"])
	}
	segs := segments(ev)
	if len(segs) != 2 || segs[0]["type"] != "image" || segs[1]["type"] != "text" {
		t.Fatalf("image event message %v, want an image and its caption", ev["message"])
	}
	imgURL := fmt.Sprint(segs[0]["data"].(map[string]any)["url"])
	want, _ := sampleMedia("image")
	if !strings.HasPrefix(imgURL, sd.base+"/") || !bytes.Equal(referer(imgURL), want) {
		t.Errorf("the image segment's url %q does not serve the sample", imgURL)
	}
	if _, err := png.Decode(bytes.NewReader(want)); err != nil {
		t.Errorf("the sample image is not a PNG: %v", err)
	}

	// A file and a voice message, in private.
	for _, c := range []struct{ param, segment, name string }{{"file", "file", "sample.txt"}, {"voice", "record", ""}} {
		if code, body := control(t, sd.base, "/sandbox/say", url.Values{"from": {"alice"}, "private": {"1"}, c.param: {"1"}}, nil); code != http.StatusOK {
			t.Fatalf("say %s: %d %s", c.param, code, body)
		}
		ev := ws.until("post_type", "message")
		segs := segments(ev)
		if ev["message_type"] != "private" || len(segs) != 1 || segs[0]["type"] != c.segment {
			t.Fatalf("%s event %v, want one %s segment", c.param, ev, c.segment)
		}
		data := segs[0]["data"].(map[string]any)
		if c.name != "" && data["name"] != c.name {
			t.Errorf("%s segment %v, want name %q", c.param, data, c.name)
		}
		want, _ := sampleMedia(c.param)
		if u := fmt.Sprint(data["url"]); !bytes.Equal(referer(u), want) {
			t.Errorf("the %s segment's url %q does not serve the sample", c.param, u)
		}
	}
}

// TestSandboxSayMediaByURL: say fetches a medium from a URL and puts the
// very bytes on the simulator's CDN; bad media parameters are refused
// with the reason.
func TestSandboxSayMediaByURL(t *testing.T) {
	sb := startSandbox(t)
	pic, _ := sampleMedia("image")
	pic = append(pic, "trailer"...) // not the sample itself
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cat.png", "/noext":
			_, _ = w.Write(pic)
		case "/big":
			_, _ = w.Write(make([]byte, sandboxFetchBytes+1))
		default:
			http.NotFound(w, r)
		}
	}))
	defer media.Close()

	type content struct {
		ImageURL string `json:"image_url"`
		FileURL  string `json:"file_url"`
		FileName string `json:"file_name"`
	}
	var rec struct {
		ContentType int32   `json:"content_type"`
		Content     content `json:"content"`
	}
	for _, c := range []struct {
		params url.Values
		url    func() string
		name   string
	}{
		{url.Values{"image": {media.URL + "/cat.png"}}, func() string { return rec.Content.ImageURL }, ""},
		{url.Values{"file": {media.URL + "/cat.png"}}, func() string { return rec.Content.FileURL }, "cat.png"},
		{url.Values{"file": {media.URL + "/noext"}}, func() string { return rec.Content.FileURL }, "media.png"},
	} {
		c.params.Set("group", sim.GroupOwnedID)
		rec = struct {
			ContentType int32   `json:"content_type"`
			Content     content `json:"content"`
		}{}
		if code, body := control(t, sb.base, "/sandbox/say", c.params, &rec); code != http.StatusOK {
			t.Fatalf("say %v: %d %s", c.params, code, body)
		}
		if c.name != "" && rec.Content.FileName != c.name {
			t.Errorf("say %v: file name %q, want %q", c.params, rec.Content.FileName, c.name)
		}
		req, _ := http.NewRequest(http.MethodGet, c.url(), nil)
		req.Header.Set("Referer", "https://myapp.jwznb.com/")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(b, pic) {
			t.Errorf("say %v: the CDN serves %d bytes at %q, not the fetched ones", c.params, len(b), c.url())
		}
	}

	for _, c := range []struct {
		params url.Values
		want   string
	}{
		{url.Values{"image": {"1"}, "file": {"1"}}, "one of image, file or voice"},
		{url.Values{"file": {"1"}, "text": {"x"}}, "carries no text"},
		{url.Values{"voice": {"1"}, "at": {"bob"}}, "carries no text"},
		{url.Values{"image": {"file:///etc/passwd"}}, "an http(s) URL"},
		{url.Values{"image": {media.URL + "/missing"}}, "HTTP 404"},
		{url.Values{"image": {media.URL + "/big"}}, "larger than 8 MiB"},
	} {
		c.params.Set("group", sim.GroupOwnedID)
		if code, body := control(t, sb.base, "/sandbox/say", c.params, nil); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("say %v: %d %q, want 400 with %q", c.params, code, body, c.want)
		}
	}
}
