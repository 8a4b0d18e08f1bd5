package sim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The documented example request: nonce 76616, timestamp 1558350862502,
// secret 123456.
var golden = map[string]string{"nonce": "76616", "timestamp": "1558350862502", "sign": "b98f9b0717f59febccf1440067a7f50d9b31bdde"}

func TestSignGolden(t *testing.T) {
	if got := Sign("76616", "123456", 1558350862502); got != golden["sign"] {
		t.Fatalf("Sign = %s, want %s", got, golden["sign"])
	}
}

func TestAdminGoldenSignatureAcceptedWithNoCheckTime(t *testing.T) {
	e := newEnv(t, Options{NoCheckTime: true})
	e.s.AddUser("a", "A")
	code, _, res := e.do(e.admin.URL, "/admin/user/get_info", golden, `{"userId":"a"}`).env(t)
	if code != 0 || !strings.Contains(string(res), `"userId":"a"`) {
		t.Fatalf("code %d result %s, want 0 and user a", code, res)
	}
}

func TestAdminGoldenSignatureExpiredWithoutNoCheckTime(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(e.admin.URL, "/admin/user/get_info", golden, `{"userId":"a"}`)
	wantBody(t, "expired", r.body, `{"code":243,"msg":"sign expired","result":{"code":243,"msg":"sign expired"}}`)
}

func TestRobotSignatureChecks(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.AddRobot("bot1", "Bot", "s1", "o")
	e.s.AddRobot("nosecret", "Bot", "", "o")
	now := e.clock.Now().UnixMilli()
	signed := func(rid, secret string, ts int64) map[string]string {
		return map[string]string{"nonce": "x", "timestamp": strconv.FormatInt(ts, 10), "sign": Sign("x", secret, ts), "rid": rid}
	}
	nested := func(code int) string {
		m := CodeMessage(code)
		return `{"code":` + strconv.Itoa(code) + `,"msg":"` + m + `","result":{"code":` + strconv.Itoa(code) + `,"msg":"` + m + `"}}`
	}
	cases := []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"no headers", map[string]string{}, nested(239)},
		{"no rid", map[string]string{"nonce": "x", "timestamp": strconv.FormatInt(now, 10), "sign": Sign("x", "s1", now)}, nested(239)},
		{"timestamp not a number", map[string]string{"nonce": "x", "timestamp": "soon", "sign": "y", "rid": "bot1"}, nested(239)},
		{"older than 2 h", signed("bot1", "s1", now-int64(2*time.Hour/time.Millisecond)-1), nested(243)},
		{"unknown robot", signed("ghost", "s1", now), nested(253)},
		{"robot without secret", signed("nosecret", "", now), nested(248)},
		{"wrong secret", signed("bot1", "s2", now), nested(244)},
		{"capitalised headers", map[string]string{"Nonce": "x", "Timestamp": strconv.FormatInt(now, 10), "Sign": Sign("x", "s1", now), "Rid": "bot1"}, ""},
	}
	for _, c := range cases {
		r := e.do(e.robot.URL, "/robot/get_callback", c.hdr, "")
		if c.want == "" {
			wantBody(t, c.name, r.body, `{"code":0,"msg":"success","result":{"url":""}}`)
			continue
		}
		wantBody(t, c.name, r.body, c.want)
	}
	// Just inside the window, and far in the future, are accepted.
	for _, ts := range []int64{now - int64(2*time.Hour/time.Millisecond), now + int64(48*time.Hour/time.Millisecond)} {
		if code, _, _ := e.do(e.robot.URL, "/robot/get_callback", signed("bot1", "s1", ts), "").env(t); code != 0 {
			t.Errorf("timestamp %d: code %d, want 0", ts-now, code)
		}
	}
	// Lower-case names on the wire (the form the SDK sends).
	r := e.do(e.robot.URL, "/robot/get_callback", signed("bot1", "s1", now), "")
	if code, _, _ := r.env(t); code != 0 {
		t.Errorf("lower-case headers: code %d", code)
	}
}

func TestAdminSignatureChecks(t *testing.T) {
	e := newEnv(t, Options{AdminSecret: "k"})
	now := e.clock.Now().UnixMilli()
	ts := strconv.FormatInt(now, 10)
	if code, _, _ := e.do(e.admin.URL, "/admin/group/of_user", map[string]string{"nonce": "x", "timestamp": ts}, `{"userId":"a"}`).env(t); code != 239 {
		t.Errorf("no sign: code %d, want 239", code)
	}
	if code, _, _ := e.do(e.admin.URL, "/admin/group/of_user", map[string]string{"nonce": "x", "timestamp": ts, "sign": Sign("x", DefaultAdminSecret, now)}, `{"userId":"a"}`).env(t); code != 244 {
		t.Errorf("default secret against a configured one: code %d, want 244", code)
	}
	r := e.do(e.admin.URL, "/admin/group/of_user", map[string]string{"nonce": "x", "timestamp": ts, "sign": Sign("x", "k", now)}, `{"userId":"a"}`)
	wantBody(t, "signed", r.body, `{"code":0,"msg":"success","result":{"groupIds":[]}}`)
}

func TestRobotRateLimitPerRid(t *testing.T) {
	e := newEnv(t, Options{RobotRateLimit: 3})
	e.s.AddRobot("bot1", "Bot", "s1", "o")
	e.s.AddRobot("bot2", "Bot", "s2", "o")
	for i := 0; i < 3; i++ {
		if code, _, _ := e.robotCall("/robot/get_callback", "").env(t); code != 0 {
			t.Fatalf("call %d: code %d", i, code)
		}
	}
	r := e.robotCall("/robot/get_callback", "")
	wantBody(t, "4th call in 10 s", r.body, `{"code":250,"msg":"over frequency","result":{"code":250,"msg":"over frequency"}}`)
	// Another rid has its own bucket.
	if code, _, _ := e.do(e.robot.URL, "/robot/get_callback", e.robotHeaders("bot2", "s2"), "").env(t); code != 0 {
		t.Fatalf("bot2: code %d", code)
	}
	// The bucket leaks 3 per 10 s: after 10 s the robot may call again.
	e.clock.Add(10 * time.Second)
	if code, _, _ := e.robotCall("/robot/get_callback", "").env(t); code != 0 {
		t.Fatalf("after 10 s: code %d", code)
	}
}

func TestAdminRateLimit(t *testing.T) {
	e := newEnv(t, Options{AdminRateLimit: 2})
	for i := 0; i < 2; i++ {
		if code, _, _ := e.adminCall("/admin/group/of_user", `{"userId":"a"}`).env(t); code != 0 {
			t.Fatalf("call %d: code %d", i, code)
		}
	}
	// Checked before the signature: even an unsigned call counts and is refused.
	if code, _, _ := e.do(e.admin.URL, "/admin/group/of_user", nil, `{}`).env(t); code != 250 {
		t.Fatalf("3rd call: code %d, want 250", code)
	}
}

func TestUnknownAndUnroutedPathsAre500WithEmptyBody(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.AddRobot("bot1", "Bot", "s1", "o")
	for _, p := range []string{"/robot/message/recall", "/robot/message/update", "/robot/group/manager/mute", "/robot/group/manager/allow", "/robot/group/manager/set", "/robot/nope", "/admin/message/send", "/"} {
		r := e.robotCall(p, `{}`)
		if r.status != http.StatusInternalServerError || len(r.body) != 0 {
			t.Errorf("robot port %s: HTTP %d %q, want 500 and no body", p, r.status, r.body)
		}
	}
	for _, p := range []string{"/admin/message/update", "/admin/message/delete", "/admin/friend/get_requests", "/robot/profile"} {
		r := e.adminCall(p, `{}`)
		if r.status != http.StatusInternalServerError || len(r.body) != 0 {
			t.Errorf("admin port %s: HTTP %d %q, want 500 and no body", p, r.status, r.body)
		}
	}
	resp, err := http.Get(e.robot.URL + "/robot/profile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET /robot/profile: HTTP %d, want 500", resp.StatusCode)
	}
}

func TestUnreadableBodiesAre500WithTheExceptionText(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	for _, p := range []string{"/robot/message/send", "/robot/group/member/del", "/robot/group/member/quit", "/robot/group/modify", "/robot/set_callback", "/robot/group/member/set_alias"} {
		r := e.robotCall(p, "")
		if r.status != http.StatusInternalServerError || string(r.body) != "java.lang.NullPointerException" {
			t.Errorf("%s empty: HTTP %d %q", p, r.status, r.body)
		}
		if !r.closed {
			t.Errorf("%s empty: the connection stays open, want it closed", p)
		}
		r = e.robotCall(p, "{not json")
		if r.status != http.StatusInternalServerError || !strings.HasPrefix(string(r.body), "com.google.gson.JsonSyntaxException: ") {
			t.Errorf("%s malformed: HTTP %d %q", p, r.status, r.body)
		}
	}
	r := e.adminCall("/admin/friend/list", "")
	if r.status != http.StatusInternalServerError || string(r.body) != "java.lang.NullPointerException" {
		t.Errorf("admin friend/list empty: HTTP %d %q", r.status, r.body)
	}
	// Routes that check for a null body answer 251 instead.
	for _, p := range []string{"/robot/user_info", "/robot/group/get_info", "/robot/group/member/list", "/robot/group/member/get"} {
		wantBody(t, p, e.robotCall(p, "").body, `{"code":251,"msg":"Invalid parameter"}`)
	}
	for _, p := range []string{"/admin/message/send", "/admin/message/recall", "/admin/message/get_one", "/admin/group/of_user", "/admin/user/get_info", "/admin/robot/create"} {
		wantBody(t, p, e.adminCall(p, "").body, `{"code":251,"msg":"Invalid parameter"}`)
	}
	// Invalid base64 binary data throws in the payload conversion.
	r = e.robotCall("/robot/message/send", `{"conv":{"type":0,"target":"alice","line":0},"payload":{"type":1,"base64edData":"!!"}}`)
	if r.status != http.StatusInternalServerError || !strings.HasPrefix(string(r.body), "java.lang.IllegalArgumentException") {
		t.Errorf("bad base64: HTTP %d %q", r.status, r.body)
	}
}

func TestResponseHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.AddRobot("bot1", "Bot", "s1", "o")
	for _, r := range []reply{e.robotCall("/robot/get_callback", ""), e.robotCall("/robot/nope", ""), e.adminCall("/admin/group/of_user", `{"userId":"x"}`)} {
		if ct := r.header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if ce := r.header.Get("Content-Encoding"); ce != "utf-8" {
			t.Errorf("Content-Encoding %q", ce)
		}
	}
}
