package onebot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newHTTPServer(t *testing.T, opts HTTPOptions) *httptest.Server {
	t.Helper()
	if opts.Router == nil {
		opts.Router = testRouter(t, nil)
	}
	srv := httptest.NewServer(NewHTTP(opts))
	t.Cleanup(srv.Close)
	return srv
}

type httpResult struct {
	status int
	ctype  string
	body   string
}

func do(t *testing.T, method, u, ctype, body string, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// tokenCases is the access-token matrix every server transport must pass.
var tokenCases = []struct {
	name   string
	header string // Authorization
	query  string // ?access_token=
	want   int
}{
	{"none", "", "", http.StatusUnauthorized},
	{"bearer", "Bearer s3cret", "", http.StatusOK},
	{"bearer lower case", "bearer s3cret", "", http.StatusOK},
	{"token scheme", "Token s3cret", "", http.StatusOK},
	{"query", "", "s3cret", http.StatusOK},
	{"wrong bearer", "Bearer nope", "", http.StatusForbidden},
	{"wrong query", "", "nope", http.StatusForbidden},
	{"prefix of the token", "Bearer s3cre", "", http.StatusForbidden},
	{"token plus more", "Bearer s3cret2", "", http.StatusForbidden},
	{"bare token", "s3cret", "", http.StatusOK},
	{"bare wrong token", "nope", "", http.StatusForbidden},
	{"other scheme", "Basic s3cret", "", http.StatusForbidden},
	{"empty bearer", "Bearer ", "", http.StatusUnauthorized},
	{"wrong header wins over right query", "Bearer nope", "s3cret", http.StatusForbidden},
}

func TestHTTPAccessToken(t *testing.T) {
	srv := newHTTPServer(t, HTTPOptions{AccessToken: "s3cret"})
	for _, tc := range tokenCases {
		u := srv.URL + "/get_login_info"
		if tc.query != "" {
			u += "?access_token=" + url.QueryEscape(tc.query)
		}
		got := do(t, "GET", u, "", "", map[string]string{"Authorization": tc.header})
		if got.status != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got.status, tc.want)
		}
		if tc.want == http.StatusOK && !strings.Contains(got.body, `"user_id":10001`) {
			t.Errorf("%s: body %s", tc.name, got.body)
		}
	}
	open := newHTTPServer(t, HTTPOptions{})
	if got := do(t, "GET", open.URL+"/get_login_info", "", "", nil); got.status != http.StatusOK {
		t.Errorf("no token configured: HTTP %d", got.status)
	}
}

// TestHTTPRequests follows communication/http.md's status codes: 400 only
// for a malformed body, 404 only for an action that does not exist here,
// and 200 for every other answer, a bad parameter (1400) included.
func TestHTTPRequests(t *testing.T) {
	router := testRouter(t, nil)
	router.Register("send_like", func(_ context.Context, req *Request) (any, error) {
		return nil, ErrUnsupported(req.Action, "no likes here")
	})
	router.Register("set_group_card", func(_ context.Context, req *Request) (any, error) {
		return nil, &ActionError{Retcode: RetcodeUnknownAction, Msg: "set_group_card: only your own card", Wording: "only your own card"}
	})
	srv := newHTTPServer(t, HTTPOptions{Router: router, AccessToken: "t", MaxBodyBytes: 1 << 10})
	auth := map[string]string{"Authorization": "Bearer t"}
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string // substring of the body
	}{
		{"GET query", "GET", "/echo_params?user_id=1&message=hi&access_token=t", "", "", 200,
			`"data":{"message":"hi","user_id":"1"}`},
		{"trailing slash", "GET", "/echo_params/?a=1", "", "", 200, `"data":{"a":"1"}`},
		{"POST JSON as is", "POST", "/echo_params", "application/json", `{"user_id": 1, "m":[1]}`, 200,
			`"data":{"user_id": 1, "m":[1]}`},
		{"POST JSON with charset", "POST", "/echo_params", "application/json; charset=utf-8", `{"a":true}`, 200, `"data":{"a":true}`},
		{"POST form", "POST", "/echo_params", "application/x-www-form-urlencoded", "user_id=2&message=%5BCQ%3Aface%5D", 200,
			`"data":{"message":"[CQ:face]","user_id":"2"}`},
		{"query wins over body", "POST", "/echo_params?a=q", "application/json", `{"a":"b","c":1}`, 200, `"data":{"a":"q","c":1}`},
		{"POST without body", "POST", "/echo_params", "", "", 200, `"data":{}`},
		{"string ids decode", "POST", "/send_private_msg", "application/json", `{"user_id":"4294967296123","message":"x"}`, 200,
			`"status":"ok","retcode":0,"data":{"message_id":1}`},
		{"unknown action", "GET", "/nope", "", "", 404,
			`{"status":"failed","retcode":1404,"data":null,"message":"unknown action: nope",`},
		{"no action", "GET", "/", "", "", 404, `"retcode":1404`},
		{"nested path", "GET", "/a/b", "", "", 404, `"retcode":1404`},
		{"unsupported action", "GET", "/send_like", "", "", 404,
			`"retcode":1404,"data":null,"message":"unsupported action: send_like","wording":"no likes here"`},
		{"unsupported form of an action is an answer", "GET", "/set_group_card", "", "", 200,
			`"retcode":1404,"data":null,"message":"set_group_card: only your own card","wording":"only your own card"`},
		{"bad param is an answer", "POST", "/send_private_msg", "application/json", `{"user_id":"abc","message":"x"}`, 200,
			`"retcode":1400,"data":null,"message":"user_id: expected an integer, got \"abc\""`},
		{"missing param is an answer", "GET", "/send_private_msg?message=x", "", "", 200, `"retcode":1400,"data":null,"message":"user_id: required"`},
		{"truncated body", "POST", "/send_private_msg", "application/json", `{"user_id":1,"message":{"x":`, 400,
			`"message":"body: not valid JSON"`},
		{"bad JSON", "POST", "/echo_params", "application/json", `{"a":`, 400, `"retcode":1400,"data":null,"message":"body: not valid JSON"`},
		{"JSON array", "POST", "/echo_params", "application/json", `[1]`, 400, `"retcode":1400,"data":null,"message":"body: expected a JSON object"`},
		{"JSON string", "POST", "/echo_params", "application/json", `"a"`, 400, `"message":"body: expected a JSON object"`},
		{"broken form", "POST", "/echo_params", "application/x-www-form-urlencoded", "a=%zz", 400, `"retcode":1400,"data":null,"message":"body: invalid URL escape`},
		{"action failure is HTTP 200", "GET", "/fail", "", "", 200,
			`{"status":"failed","retcode":102,"data":null,"message":"MSG_NOT_FOUND","wording":"消息不存在","msg":"MSG_NOT_FOUND"}`},
		{"async", "GET", "/echo_params_async", "", "", 200, `{"status":"async","retcode":1,"data":null`},
		{"unsupported Content-Type", "POST", "/echo_params", "text/plain", "a=1", 406, "unsupported Content-Type"},
		{"multipart", "POST", "/echo_params", "multipart/form-data; boundary=x", "--x--", 406, "unsupported Content-Type"},
		{"too large", "POST", "/echo_params", "application/json", `{"a":"` + strings.Repeat("x", 2000) + `"}`, 413, "too large"},
		{"method", "PUT", "/echo_params", "", "", 405, ""},
	} {
		got := do(t, tc.method, srv.URL+tc.path, tc.ctype, tc.body, auth)
		if got.status != tc.status || !strings.Contains(got.body, tc.want) {
			t.Errorf("%s: HTTP %d %s\nwant HTTP %d containing %s", tc.name, got.status, got.body, tc.status, tc.want)
		}
		if (got.status == 200 || got.status == 400 || got.status == 404) && got.ctype != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, got.ctype)
		}
	}
}

func TestHTTPTimeout(t *testing.T) {
	srv := newHTTPServer(t, HTTPOptions{Timeout: 50 * time.Millisecond})
	start := time.Now()
	got := do(t, "GET", srv.URL+"/sleep?ms=5000", "", "", nil)
	if got.status != 200 || !strings.Contains(got.body, `"retcode":100`) || !strings.Contains(got.body, `"message":"timeout"`) {
		t.Fatalf("HTTP %d %s", got.status, got.body)
	}
	if time.Since(start) > wait/2 {
		t.Fatal("the timeout did not cut the call short")
	}
}
