package sim

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

func TestLoginRules(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name string
		data map[string]string
	}{
		{"bad token", map[string]string{"userId": SelfID, "token": "nope", "platform": "linux"}},
		{"wrong user", map[string]string{"userId": AliceID, "token": DefaultToken, "platform": "linux"}},
		{"bad platform", map[string]string{"userId": SelfID, "token": DefaultToken, "platform": "Linux"}},
	} {
		ws := e.dial()
		ws.sendJSON("1", yunhu.WSCmdLogin, tc.data)
		ws.expectText(yunhu.WSInvalid)
		// The socket stays poisoned: even a heartbeat is refused.
		ws.sendJSON("2", yunhu.WSCmdHeartbeat, map[string]any{})
		ws.expectText(yunhu.WSInvalid)
	}
	// A frame before login is refused too, and so is a later login.
	ws := e.dial()
	ws.sendJSON("1", yunhu.WSCmdHeartbeat, map[string]any{})
	ws.expectText(yunhu.WSInvalid)
	ws.login(SelfID, DefaultToken)
	ws.expectText(yunhu.WSInvalid)
	if n := e.s.Online(SelfID); n != 0 {
		t.Errorf("online after bad logins: %d", n)
	}

	// A good login has no ack; the heartbeat ack echoes the seq.
	ok := e.dial()
	ok.login(SelfID, DefaultToken)
	ok.sendJSON("abc123", yunhu.WSCmdHeartbeat, map[string]any{})
	f := ok.frame()
	if f.Info.GetCmd() != yunhu.WSCmdHeartbeatAck || f.Info.GetSeq() != "abc123" || f.Data != nil {
		t.Errorf("heartbeat ack %v", f)
	}
	if err := e.s.WaitOnline(ctxT(t), SelfID, 1); err != nil {
		t.Fatal(err)
	}
	if e.s.Logins(SelfID) != 1 {
		t.Errorf("logins = %d", e.s.Logins(SelfID))
	}
}

func TestDraftSyncAndInviteNotice(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := e.dial(), e.dial()
	a.loginAndWait(SelfID, DefaultToken)
	b.loginAndWait(SelfID, DefaultToken)
	a.sendJSON("d1", yunhu.WSCmdInputInfo, map[string]string{"chatId": AliceID, "input": "draft", "deviceId": "a"})
	f := b.frame()
	if f.Info.GetCmd() != yunhu.WSCmdDraftInput || f.Data.GetTypeUrl() != yunhu.TypeURLMsgInput {
		t.Fatalf("draft frame %v", f)
	}
	if _, err := e.s.Apply(DaveID, SelfID, yunhu.ChatTypeUser, "hi"); err != nil {
		t.Fatal(err)
	}
	// The sender of the draft gets no draft back; both get invite_apply.
	for _, ws := range []*wsClient{a, b} {
		if f := ws.frame(); f.Info.GetCmd() != yunhu.WSCmdInviteApply || f.Data != nil {
			t.Errorf("want bare invite_apply, got %v", f)
		}
	}
	// PushFrame lets tests send cmds the client does not know.
	if n := e.s.PushFrame(SelfID, "future_cmd", "type.googleapis.com/proto.Future", &yunhupb.DraftInput{Input: "x"}); n != 2 {
		t.Errorf("PushFrame reached %d sessions", n)
	}
	if f := a.frame(); f.Info.GetCmd() != "future_cmd" {
		t.Errorf("raw frame %v", f)
	}
}

func TestRejectNextLoginAndDropAll(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.RejectNextLogin()
	ws := e.dial()
	ws.login(SelfID, DefaultToken)
	ws.expectText(yunhu.WSInvalid)

	live := e.dial()
	live.loginAndWait(SelfID, DefaultToken)
	if n := e.s.DropAll(); n != 2 {
		t.Errorf("DropAll closed %d sockets, want 2", n)
	}
	for _, c := range []*wsClient{ws, live} {
		if _, _, err := c.read(); err == nil {
			t.Error("socket survived DropAll")
		}
	}
	// Sessions are gone, and a reconnect works.
	if err := e.s.waitFor(ctxT(t), func() bool { return len(e.s.sessions) == 0 }); err != nil {
		t.Fatal(err)
	}
	again := e.dial()
	again.loginAndWait(SelfID, DefaultToken)
	if e.s.Logins(SelfID) != 2 {
		t.Errorf("logins = %d", e.s.Logins(SelfID))
	}
}

func TestSilenceAll(t *testing.T) {
	e := newEnv(t, Options{})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	if n := e.s.SilenceAll(); n != 1 {
		t.Fatalf("SilenceAll = %d", n)
	}
	e.inject(Message{From: SelfID, ChatID: AliceID, Text: "from another device"})
	ws.sendJSON("hb", yunhu.WSCmdHeartbeat, map[string]any{})
	ws.expectSilence(300 * time.Millisecond)
	// A new socket is unaffected.
	fresh := e.dial()
	fresh.loginAndWait(SelfID, DefaultToken)
	e.inject(Message{From: SelfID, ChatID: AliceID, Text: "again"})
	if pm := fresh.push(yunhu.WSCmdPushMessage); pm.Content.GetText() != "again" || pm.MsgSeq != 2 {
		t.Errorf("push after silence %v", pm)
	}
}

func TestIdleSessionsAreDropped(t *testing.T) {
	e := newEnv(t, Options{IdleTimeout: 150 * time.Millisecond})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	start := time.Now()
	if _, _, err := ws.read(); err == nil {
		t.Fatal("idle socket not dropped")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("dropped after %v", d)
	}
}

func TestFailNext(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.FailNext(2, http.StatusInternalServerError)
	for i := 0; i < 2; i++ {
		if code, _ := e.do(http.MethodGet, yunhu.PathUserInfo, DefaultToken, nil); code != http.StatusInternalServerError {
			t.Errorf("call %d: HTTP %d", i, code)
		}
	}
	e.mustOK(yunhu.PathUserInfo, DefaultToken, nil, nil)

	// Path-filtered faults leave other calls alone; a failed send does not
	// take effect and is not in Sent().
	e.s.FailNext(1, http.StatusBadGateway, yunhu.PathSendMessage)
	e.mustOK(yunhu.PathUserInfo, DefaultToken, nil, nil)
	body := &yunhupb.SendMessageRequest{MsgId: hexID(1), ChatId: AliceID, ChatType: 1, ContentType: 1,
		Content: &yunhupb.MsgContent{Text: "x"}}
	b, _ := marshal(body)
	if code, _ := e.do(http.MethodPost, yunhu.PathSendMessage, DefaultToken, b); code != http.StatusBadGateway {
		t.Errorf("filtered fault: HTTP %d", code)
	}
	if len(e.s.Sent()) != 0 || len(e.s.History(SelfID, AliceID, 1)) != 0 {
		t.Error("failed send took effect")
	}
	reqs := e.s.Requests()
	last := reqs[len(reqs)-1]
	if last.Path != yunhu.PathSendMessage || last.Status != http.StatusBadGateway || last.Fault != "fail" {
		t.Errorf("request log %+v", last)
	}

	// The WS handshake can be failed too.
	e.s.FailNext(1, http.StatusServiceUnavailable, PathWS)
	_, resp, err := websocket.DefaultDialer.Dial(e.urls.WS, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("ws handshake fault: %v %v", err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

func TestFailAfterCommitThenRetry(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.FailNextAfterCommit(1, http.StatusInternalServerError, yunhu.PathSendMessage)
	b, _ := marshal(&yunhupb.SendMessageRequest{MsgId: hexID(5), ChatId: AliceID, ChatType: 1, ContentType: 1,
		Content: &yunhupb.MsgContent{Text: "once"}})
	if code, _ := e.do(http.MethodPost, yunhu.PathSendMessage, DefaultToken, b); code != http.StatusInternalServerError {
		t.Fatalf("HTTP %d", code)
	}
	if n := len(e.s.History(SelfID, AliceID, 1)); n != 1 {
		t.Fatalf("message not committed: %d", n)
	}
	// The client retries with the same msg_id: success, still one message.
	if st := e.send(DefaultToken, hexID(5), AliceID, 1, "once"); st.GetCode() != 1 {
		t.Fatal(st)
	}
	if n := len(e.s.History(SelfID, AliceID, 1)); n != 1 {
		t.Errorf("retry duplicated the message: %d", n)
	}
	sent, err := e.s.WaitSent(ctxT(t), 2)
	if err != nil || len(sent) != 2 {
		t.Errorf("WaitSent: %v %d", err, len(sent))
	}
}

func TestHangNext(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.HangNext(1, yunhu.PathUserInfo)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+yunhu.PathUserInfo, nil)
	req.Header.Set(yunhu.HeaderToken, DefaultToken)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("hung call answered")
	}
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("hang ended with %v after %v", err, time.Since(start))
	}
	// Only one call hangs.
	e.mustOK(yunhu.PathUserInfo, DefaultToken, nil, nil)
}

func TestCloseReleasesHangsAndSockets(t *testing.T) {
	e := newEnv(t, Options{})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	e.s.HangNext(1)
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+yunhu.PathUserInfo, nil)
		req.Header.Set(yunhu.HeaderToken, DefaultToken)
		resp, err := e.hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	if err := e.s.waitFor(ctxT(t), func() bool { return len(e.s.faults) == 0 }); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { e.s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Close blocked")
	}
	if err := <-errc; err == nil {
		t.Error("hung call got a reply after Close")
	}
	if _, _, err := ws.read(); err == nil {
		t.Error("socket open after Close")
	}
	if code, _ := e.do(http.MethodGet, yunhu.PathUserInfo, DefaultToken, nil); code != http.StatusServiceUnavailable {
		t.Errorf("after Close: HTTP %d", code)
	}
}
