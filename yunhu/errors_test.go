package yunhu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestJSONUnauthorizedOnProtobufEndpoint(t *testing.T) {
	// A missing token gets JSON even from protobuf endpoints (§1.4).
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("token") != "" {
			t.Errorf("token header = %q, want empty", r.Header.Get("token"))
		}
		_, _ = w.Write([]byte(`{"code":-101,"msg":"未登录"}`))
	})
	c := newTestClient(t, h, func(o *Options) { o.Token = "" })
	_, err := c.Self(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != -101 || ae.Msg != "未登录" || ae.Endpoint != PathUserInfo || ae.HTTPStatus != 200 {
		t.Fatalf("err = %#v", err)
	}
	if _, err := c.ListMessages(context.Background(), Chat{ID: "x", Type: ChatTypeUser}, "", 1); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("list: err = %v", err)
	}
	if err := c.DismissNotification(context.Background(), "x"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("json endpoint: err = %v", err)
	}
}

func TestHTTP500RetriedOnlyWhenSafe(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n%3 != 0 { // two failures, then success
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(pb{}.msg(1, status(1, "success")))
	})
	c := newTestClient(t, h, nil)
	ctx := context.Background()
	if _, err := c.ListMessages(ctx, Chat{ID: "g", Type: ChatTypeGroup}, "", 5); err != nil {
		t.Fatalf("read not retried to success: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Fatalf("read attempts = %d, want 3", got)
	}
	calls.Store(0)
	if _, err := c.SendMessage(ctx, Outgoing{Chat: Chat{ID: "g", Type: ChatTypeGroup}, ContentType: ContentText, Content: Content{Text: "x"}}); err != nil {
		t.Fatalf("send not retried to success: %v", err)
	}
	calls.Store(0)
	err := c.Recall(ctx, Chat{ID: "g", Type: ChatTypeGroup}, "m")
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 500 || ae.Msg != "boom" {
		t.Fatalf("recall err = %#v, want http 500", err)
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("recall attempts = %d, want 1 (not retried)", got)
	}
	if errors.Is(err, ErrUnauthorized) {
		t.Fatal("500 is not unauthorized")
	}
}

func TestBusinessErrorNotRetried(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write(pb{}.msg(1, status(-1, "您无权操作此群聊")))
	})
	c := newTestClient(t, h, nil)
	_, err := c.GroupInfo(context.Background(), "g")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != -1 || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls", err, calls.Load())
	}
}

func TestHangTimesOut(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := newTestClient(t, h, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	defer close(release)
	start := time.Now()
	_, err := c.ListMessages(context.Background(), Chat{ID: "g", Type: ChatTypeGroup}, "", 5)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if took > time.Second {
		t.Fatalf("took %v, configured timeout 300ms", took)
	}
	// The caller's context is honoured too.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.SendMessage(ctx, Outgoing{Chat: Chat{ID: "g", Type: ChatTypeGroup}, ContentType: ContentText}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send: err = %v", err)
	}
}

func TestJSONEndpoints(t *testing.T) {
	type seen struct {
		path string
		body map[string]any
	}
	got := make(chan seen, 16)
	reply := map[string]string{
		PathGroupEditMyNickname:   `{"msg":"success"}`, // documented without code (§7 #26)
		PathListMessageEditRecord: `{"code":1,"msg":"success","data":{"total":1,"list":[{"id":7,"msgId":"m","contentType":1,"contentOld":"{\"text\":\"old\"}","createTime":1,"msgTime":2}]}}`,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("%s: body: %v", r.URL.Path, err)
		}
		got <- seen{r.URL.Path, b}
		if rep, ok := reply[r.URL.Path]; ok {
			_, _ = w.Write([]byte(rep))
			return
		}
		_, _ = w.Write([]byte(`{"code":1,"msg":"success"}`))
	})
	c := newTestClient(t, h, nil)
	ctx := context.Background()
	check := func(path string, want map[string]any) {
		t.Helper()
		s := <-got
		if s.path != path {
			t.Fatalf("path = %s, want %s", s.path, path)
		}
		for k, v := range want {
			if b, _ := json.Marshal(s.body[k]); string(b) != mustJSON(v) {
				t.Errorf("%s: %s = %s, want %s", path, k, b, mustJSON(v))
			}
		}
		if len(s.body) != len(want) {
			t.Errorf("%s: body %v has extra keys", path, s.body)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.AgreeApply(ctx, 321, AgreeAccept))
	check(PathAgreeApply, map[string]any{"id": 321, "agree": 1})
	must(c.DeleteFriend(ctx, Chat{ID: "big", Type: ChatTypeGroup}))
	check(PathDeleteFriend, map[string]any{"chatId": "big", "chatType": 2})
	must(c.DismissNotification(ctx, "7357777"))
	check(PathDismissNotification, map[string]any{"chatId": "7357777"})
	must(c.RemoveMember(ctx, "big", "7357777"))
	check(PathGroupRemoveMember, map[string]any{"groupId": "big", "userId": "7357777"})
	must(c.GagMember(ctx, "big", "7357777", GagPermanent))
	check(PathGroupGagMember, map[string]any{"groupId": "big", "userId": "7357777", "gag": -1})
	must(c.SetMyGroupNickname(ctx, "big", "nick"))
	check(PathGroupEditMyNickname, map[string]any{"groupId": "big", "nickname": "nick"})
	must(c.Forward(ctx, "m", ChatTypeUser, []Chat{{ID: "big", Type: ChatTypeGroup}, {ID: "7357777", Type: ChatTypeUser}}))
	check(PathMessageForward, map[string]any{"msgId": "m", "chatType": 1, "receive": []any{
		map[string]any{"chatId": "big", "chatType": 2}, map[string]any{"chatId": "7357777", "chatType": 1}}})
	must(c.Apply(ctx, Chat{ID: "big", Type: ChatTypeGroup}, "hi"))
	check(PathApply, map[string]any{"chatId": "big", "chatType": 2, "remark": "hi"})
	must(c.Invite(ctx, "big", Chat{ID: "75282754", Type: ChatTypeBot}))
	check(PathGroupInvite, map[string]any{"chatId": "75282754", "chatType": 3, "groupId": "big"})
	must(c.DeleteForMe(ctx, Chat{ID: "big", Type: ChatTypeGroup}, "m"))
	check(PathDeleteMessage, map[string]any{"chatId": "big", "chatType": 2, "msgId": "m"})
	recs, total, err := c.ListEditRecords(ctx, "m", 1, 10)
	must(err)
	check(PathListMessageEditRecord, map[string]any{"msgId": "m", "page": 1, "size": 10})
	if total != 1 || len(recs) != 1 || recs[0] != (EditRecord{ID: 7, MsgID: "m", ContentType: 1, ContentOld: `{"text":"old"}`, CreateTime: 1, MsgTime: 2}) {
		t.Errorf("edit records = %+v %d", recs, total)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestJSONBusinessError(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"code":-1,"msg":"不可以移除群主！"}`))
	})
	c := newTestClient(t, h, nil)
	err := c.RemoveMember(context.Background(), "big", "1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != -1 || ae.Msg != "不可以移除群主！" || ae.Endpoint != PathGroupRemoveMember {
		t.Fatalf("err = %#v", err)
	}
}
