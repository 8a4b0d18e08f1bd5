package onebot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/zap/zaptest/observer"
)

// browserReq is one request as a browser, a framework or an attacker
// would send it; host "" is the server's own 127.0.0.1:port.
type browserReq struct {
	name    string
	method  string
	host    string
	headers map[string]string
	form    string // a urlencoded body for POST
}

// sendServer is an HTTP API on 127.0.0.1 whose send_private_msg counts
// the messages it "sent", so that a test sees whether a refused request
// reached the action.
type sendServer struct {
	srv  *httptest.Server
	sent atomic.Int64
	logs *observer.ObservedLogs
}

func newSendServer(t *testing.T, opts HTTPOptions) *sendServer {
	t.Helper()
	s := &sendServer{}
	log, logs := testLog(t)
	s.logs = logs
	r := NewRouter(RouterOptions{Log: log})
	r.Register("send_private_msg", func(context.Context, *Request) (any, error) {
		return map[string]any{"message_id": s.sent.Add(1)}, nil
	})
	start(t, r.Run)
	opts.Router, opts.Log = r, log
	s.srv = httptest.NewServer(NewHTTP(opts))
	t.Cleanup(s.srv.Close)
	return s
}

// do sends br and returns the status and body.
func (s *sendServer) do(t *testing.T, br browserReq, query string) (int, string) {
	t.Helper()
	method, body := br.method, io.Reader(nil)
	if method == "" {
		method = http.MethodGet
	}
	u := s.srv.URL + "/send_private_msg?user_id=1&message=hi"
	if query != "" {
		u += "&" + query
	}
	if br.form != "" {
		u = s.srv.URL + "/send_private_msg"
		if query != "" {
			u += "?" + query
		}
		body = strings.NewReader(br.form)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if br.form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if br.host != "" {
		req.Host = br.host
	}
	for k, v := range br.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", br.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func port(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return u.Port()
}

// refusedCases are what a web page can make a browser send to a loopback
// bot, each with the reason the 403 must give.
func refusedCases(p string) []struct {
	browserReq
	reason string
} {
	evil := "http://evil.example"
	return []struct {
		browserReq
		reason string
	}{
		{browserReq{name: "cross-site fetch or <img> GET", headers: map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site"}},
			"Sec-Fetch-Site: cross-site"},
		{browserReq{name: "cross-site GET without Origin (navigation)", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}},
			"Sec-Fetch-Site: cross-site"},
		{browserReq{name: "same-site page on another port", headers: map[string]string{"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}},
			"Sec-Fetch-Site: same-site"},
		{browserReq{name: "cross-site form POST", method: "POST", form: "user_id=1&message=hi",
			headers: map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site"}}, "Sec-Fetch-Site: cross-site"},
		{browserReq{name: "form POST from a browser without Sec-Fetch-Site", method: "POST", form: "user_id=1&message=hi",
			headers: map[string]string{"Origin": evil}}, "Origin: http://evil.example"},
		{browserReq{name: "Origin null (sandboxed frame, file://)", headers: map[string]string{"Origin": "null"}}, "Origin: null"},
		{browserReq{name: "Origin of another port", headers: map[string]string{"Origin": "http://127.0.0.1:1"}}, "Origin: http://127.0.0.1:1"},
		{browserReq{name: "DNS rebinding: Host and Origin agree", host: "evil.example:" + p,
			headers: map[string]string{"Origin": "http://evil.example:" + p, "Sec-Fetch-Site": "same-origin"}}, `Host "evil.example:` + p + `"`},
		{browserReq{name: "Host of another name", host: "evil.example"}, `Host "evil.example"`},
		{browserReq{name: "Host a name that ends like localhost", host: "localhost.evil.example:" + p}, `Host "localhost.evil.example:`},
		{browserReq{name: "Host an IP that is not this server's", host: "10.1.2.3:" + p}, `Host "10.1.2.3:`},
	}
}

// allowedCases are what frameworks, curl and the server's own pages send.
func allowedCases(p string) []browserReq {
	return []browserReq{
		{name: "curl / framework: no browser headers"},
		// Node's fetch (Koishi) sends Sec-Fetch-Mode, never -Site or Origin.
		{name: "Node.js fetch", headers: map[string]string{"Sec-Fetch-Mode": "cors", "User-Agent": "node"}},
		{name: "framework form POST", method: "POST", form: "user_id=1&message=hi"},
		{name: "Host localhost", host: "localhost:" + p},
		{name: "Host localhost, upper case, trailing dot", host: "LOCALHOST.:" + p},
		{name: "Host another loopback IP", host: "127.0.0.2:" + p},
		{name: "Host ::1", host: "[::1]:" + p},
		{name: "Host 0.0.0.0 (reaches loopback on Linux)", host: "0.0.0.0:" + p},
		{name: "Host without a port", host: "127.0.0.1"},
		{name: "same-origin page", headers: map[string]string{"Origin": "http://127.0.0.1:" + p, "Sec-Fetch-Site": "same-origin"}},
		{name: "address bar (Sec-Fetch-Site none)", headers: map[string]string{"Sec-Fetch-Site": "none"}},
		{name: "same-origin Origin, no Sec-Fetch-Site", headers: map[string]string{"Origin": "http://127.0.0.1:" + p}},
		{name: "same-origin page behind a proxy that rewrites Host", host: "localhost:" + p,
			headers: map[string]string{"Origin": "http://dashboard.lan:8080", "Sec-Fetch-Site": "same-origin"}},
	}
}

// TestHTTPRefusesBrowserRequests: with no token, every request a web page
// can make a browser send is answered 403 with its reason, and no message
// is sent; frameworks and curl are answered as before; with a token the
// same requests pass (the token is the protection).
func TestHTTPRefusesBrowserRequests(t *testing.T) {
	s := newSendServer(t, HTTPOptions{})
	p := port(s.srv)
	for _, tc := range refusedCases(p) {
		status, body := s.do(t, tc.browserReq, "")
		if status != http.StatusForbidden || !strings.Contains(body, tc.reason) || !strings.HasPrefix(body, "forbidden: ") {
			t.Errorf("%s: HTTP %d %q, want 403 giving %q", tc.name, status, body, tc.reason)
		}
	}
	if n := s.sent.Load(); n != 0 {
		t.Fatalf("%d messages sent by refused requests", n)
	}
	for i, br := range allowedCases(p) {
		status, body := s.do(t, br, "")
		if status != http.StatusOK || !strings.Contains(body, `"retcode":0`) {
			t.Errorf("%s: HTTP %d %s, want the message sent", br.name, status, body)
		}
		if n := s.sent.Load(); n != int64(i+1) {
			t.Fatalf("%s: %d messages sent, want %d", br.name, n, i+1)
		}
	}

	// One warning per cause however many refusals: 7 cross-site requests
	// and 4 Host refusals above make two lines.
	for cause, want := range map[string]int{"cross-site browser request": 1, "Host not this server": 1} {
		n := s.logs.FilterMessageSnippet(cause).Len()
		if n != want {
			t.Errorf("%d warnings for %q, want %d: %v", n, cause, want, s.logs.All())
		}
	}
	for _, e := range s.logs.FilterMessageSnippet("refused").All() {
		if q := e.ContextMap()["path"]; q != "/send_private_msg" {
			t.Errorf("logged path %q, want the path without the query", q)
		}
	}

	// With a token, the same requests carry it and pass.
	guarded := newSendServer(t, HTTPOptions{AccessToken: "s3cret"})
	gp := port(guarded.srv)
	for _, tc := range refusedCases(gp) {
		if status, body := guarded.do(t, tc.browserReq, "access_token=s3cret"); status != http.StatusOK {
			t.Errorf("with a token, %s: HTTP %d %s", tc.name, status, body)
		}
		// Without it, the token check answers, not the browser rules.
		if status, _ := guarded.do(t, tc.browserReq, ""); status != http.StatusUnauthorized {
			t.Errorf("with a token set but not sent, %s: HTTP %d, want 401", tc.name, status)
		}
	}
	if n := guarded.sent.Load(); n != int64(len(refusedCases(gp))) {
		t.Errorf("with a token, %d messages sent, want %d", n, len(refusedCases(gp)))
	}
}

// TestHTTPHostRules: which Host names pass depends on the configured
// listen address. The server listens on 127.0.0.1 in every case; Address
// is what the operator configured.
func TestHTTPHostRules(t *testing.T) {
	for _, tc := range []struct {
		address string
		allowed []string
		refused []string
	}{
		// Every address: any IP literal (NAT, containers: the client may
		// know the host by another IP) and loopback names; DNS names no.
		{"0.0.0.0:5700", []string{"10.1.2.3:5700", "192.168.1.9", "[2001:db8::1]:5700", "localhost:5700"},
			[]string{"evil.example:5700", "bot.lan:5700"}},
		{"[::]:5700", []string{"10.1.2.3:5700", "localhost"}, []string{"evil.example"}},
		{":5700", []string{"10.1.2.3:5700", "localhost"}, []string{"evil.example"}},
		// A specific IP: that IP and loopback, no other.
		{"10.9.8.7:5700", []string{"10.9.8.7:5700", "127.0.0.1:5700", "localhost"}, []string{"10.9.8.6:5700", "evil.example"}},
		// A name: that name (the operator's, not an attacker's).
		{"bot.lan:5700", []string{"bot.lan:5700", "BOT.LAN", "localhost"}, []string{"evil.example", "10.1.2.3"}},
	} {
		s := newSendServer(t, HTTPOptions{Address: tc.address})
		for _, h := range tc.allowed {
			if status, body := s.do(t, browserReq{name: h, host: h}, ""); status != http.StatusOK {
				t.Errorf("address %s, Host %s: HTTP %d %s, want 200", tc.address, h, status, body)
			}
		}
		for _, h := range tc.refused {
			if status, body := s.do(t, browserReq{name: h, host: h}, ""); status != http.StatusForbidden ||
				!strings.Contains(body, "DNS rebinding") {
				t.Errorf("address %s, Host %s: HTTP %d %s, want 403", tc.address, h, status, body)
			}
		}
		if got, want := s.sent.Load(), int64(len(tc.allowed)); got != want {
			t.Errorf("address %s: %d sent, want %d", tc.address, got, want)
		}
	}
}

// TestWSRefusesBrowserRequests: the forward WebSocket applies the same
// rules at the upgrade. Its CheckOrigin alone let DNS rebinding through
// (Origin and Host agree) and every foreign Host without an Origin.
func TestWSRefusesBrowserRequests(t *testing.T) {
	open := newWSFixture(t, nil, WSOptions{})
	p := port(open.srv)
	for _, tc := range refusedCases(p) {
		if tc.method == "POST" {
			continue
		}
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		if tc.host != "" {
			h.Set("Host", tc.host) // gorilla sends it as the request's Host
		}
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(open.srv, "/"), h)
		if err == nil {
			c.Close()
			t.Errorf("%s: connected without a token", tc.name)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %v, want HTTP 403", tc.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), tc.reason) {
			t.Errorf("%s: body %q, want %q", tc.name, b, tc.reason)
		}
	}
	for _, br := range allowedCases(p) {
		if br.method == "POST" || br.headers["Origin"] == "http://dashboard.lan:8080" {
			// gorilla's CheckOrigin compares Origin with Host itself.
			continue
		}
		h := http.Header{}
		for k, v := range br.headers {
			h.Set(k, v)
		}
		if br.host != "" {
			h.Set("Host", br.host)
		}
		c := dialWS(t, wsURL(open.srv, "/"), h)
		if first := decode(t, readFrame(t, c)); first["meta_event_type"] != "lifecycle" {
			t.Errorf("%s: first frame %v", br.name, first)
		}
		c.Close()
	}

	// With a token the rebinding request carries it, and passes.
	guarded := newWSFixture(t, nil, WSOptions{AccessToken: "t"})
	gp := port(guarded.srv)
	h := http.Header{"Host": {"evil.example:" + gp}, "Origin": {"http://evil.example:" + gp}, "Sec-Fetch-Site": {"same-origin"}}
	c := dialWS(t, wsURL(guarded.srv, "/?access_token=t"), h)
	readFrame(t, c)
}
