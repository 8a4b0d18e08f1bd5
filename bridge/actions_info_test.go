package bridge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

func TestInfoActions(t *testing.T) {
	e := newActEnv(t)
	if got := string(e.ok("get_login_info", nil)); got != `{"user_id":1000001,"nickname":"Sim Self"}` {
		t.Errorf("get_login_info %s", got)
	}
	// online depends on the push socket; the shape is what matters.
	if got := string(e.ok("get_status", nil)); !strings.Contains(got, `"online":`) || !strings.Contains(got, `"good":`) {
		t.Errorf("get_status %s", got)
	}
	v := decode[map[string]string](t, e.ok("get_version_info", nil))
	if v["app_name"] != "yunhu-onebot" || v["protocol_version"] != "v11" || v["app_version"] == "" {
		t.Errorf("get_version_info %v", v)
	}
	for _, a := range []string{"can_send_image", "can_send_record"} {
		if got := string(e.ok(a, nil)); got != `{"yes":true}` {
			t.Errorf("%s: %s", a, got)
		}
	}
	e.ok("clean_cache", nil)
}

// TestUnsupportedActions: what Yunhu cannot do answers 1404 with a reason;
// get_guild_service_profile is not registered at all (Koishi accepts 1404).
func TestUnsupportedActions(t *testing.T) {
	e := newActEnv(t)
	for _, a := range []string{
		"send_like", "set_group_anonymous_ban", "set_group_anonymous", "set_group_admin", "set_group_whole_ban",
		"set_group_special_title", "get_group_honor_info", "get_cookies", "get_csrf_token", "get_credentials",
		"get_image", "get_record", "set_restart", "get_forward_msg",
	} {
		r := e.fail(a, map[string]any{"group_id": 1, "user_id": 1}, 1404)
		if !strings.Contains(r.Message, a) || len(r.Wording) < 15 {
			t.Errorf("%s: no reason: %+v", a, r)
		}
	}
	r := e.fail("get_guild_service_profile", nil, 1404)
	if strings.Contains(r.Wording, "Yunhu") {
		t.Errorf("get_guild_service_profile should be unknown: %+v", r)
	}
}

// TestActionsOverHTTP drives actions through the real HTTP transport, as
// go-cqhttp clients do: query strings, JSON bodies, string ids.
func TestActionsOverHTTP(t *testing.T) {
	e := newActEnv(t)
	srv := httptest.NewServer(onebot.NewHTTP(onebot.HTTPOptions{Router: e.router}))
	t.Cleanup(srv.Close)
	post := func(action string, body string) (int, map[string]json.RawMessage) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/"+action, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]json.RawMessage
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %s", action, raw)
		}
		return resp.StatusCode, out
	}
	big := itoa(e.groupN(sim.GroupBigID))
	code, out := post("send_group_msg", `{"group_id":"`+big+`","message":[{"type":"text","data":{"text":"over http"}}]}`)
	if code != 200 || string(out["retcode"]) != "0" {
		t.Fatalf("send_group_msg: %d %v", code, out)
	}
	var data struct {
		MessageID int32 `json:"message_id"`
	}
	_ = json.Unmarshal(out["data"], &data)

	resp, err := http.Get(srv.URL + "/get_msg?message_id=" + itoa(int64(data.MessageID)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"group_id":`+big) || !strings.Contains(string(raw), "over http") {
		t.Errorf("get_msg over HTTP: %d %s", resp.StatusCode, raw)
	}

	form := url.Values{"group_id": {big}, "user_id": {"1000001"}, "card": {"via form"}}
	resp, err = http.PostForm(srv.URL+"/set_group_card", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("set_group_card over a form: %d", resp.StatusCode)
	}
	if code, _ := post("send_like", `{"user_id":1000002}`); code != 404 {
		t.Errorf("send_like: HTTP %d, want 404", code)
	}
	if code, out := post("send_private_msg", `{"user_id":1000002,"message":"[CQ:dice]"}`); code != 200 || string(out["retcode"]) != "1400" || !strings.Contains(string(out["message"]), "dice") {
		t.Errorf("dice: HTTP %d retcode %s %s, want HTTP 200 with retcode 1400", code, out["retcode"], out["message"])
	}
}

// TestLoginFailureSaysItOnce: an action that must log in first, with Yunhu
// unreachable, fails with retcode 100 whose message says "log in" once
// (not "log in: log in: user info: ...").
func TestLoginFailureSaysItOnce(t *testing.T) {
	e := newIdleActEnv(t, func(o *bridge.Options) {
		// Nothing listens on port 1: every call is refused at once.
		c := yunhu.New(yunhu.Options{APIURL: "http://127.0.0.1:1", WSURL: "ws://127.0.0.1:1/ws", UploadURL: "http://127.0.0.1:1",
			Token: sim.DefaultToken, Platform: "linux", Timeout: 5 * time.Second,
			Backoff: func(int) time.Duration { return time.Millisecond }})
		t.Cleanup(c.Close)
		o.Backend = yunhuBackend(t, c, o.Store, "array", nil)
	})
	r := e.fail("get_login_info", nil, 100)
	if !strings.HasPrefix(r.Message, "log in: user info: ") || strings.Count(r.Message, "log in") != 1 {
		t.Errorf("message = %q, want \"log in: user info: ...\" with \"log in\" once", r.Message)
	}
}
