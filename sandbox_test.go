package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
