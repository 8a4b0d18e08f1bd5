package wildfire

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fixedNow is the clock of every test client: signatures are checked
// against its exact millisecond.
var fixedNow = time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC)

// exchange is one request a fake server expects and what it answers.
type exchange struct {
	path   string
	body   string // the exact request body
	status int    // 0: 200
	answer string
	header map[string]string // extra answer headers; a "" value removes one
}

// fakeIM is an httptest server that plays one port of the im-server: it
// checks each request's signature (with its secret, and rid when set) and
// exact body against a script of exchanges, and answers like the server
// (Content-Type and the odd Content-Encoding it sends, B.5.13).
type fakeIM struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	rid    string // "" for the admin port: no rid header allowed

	mu     sync.Mutex
	script []exchange
	seen   []string // paths in order
}

func newFakeIM(t *testing.T, secret, rid string, script ...exchange) *fakeIM {
	t.Helper()
	f := &fakeIM{t: t, secret: secret, rid: rid, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.script) != 0 {
			t.Errorf("%d expected requests never came, next %s", len(f.script), f.script[0].path)
		}
	})
	return f
}

func (f *fakeIM) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *fakeIM) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read request: %v", err)
	}
	f.mu.Lock()
	f.seen = append(f.seen, r.URL.Path)
	if len(f.script) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s %s %s", r.Method, r.URL.Path, body)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	x := f.script[0]
	f.script = f.script[1:]
	f.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != x.path {
		f.t.Errorf("got %s %s, want POST %s", r.Method, r.URL.Path, x.path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s: Content-Type %q", x.path, ct)
	}
	nonce, ts, sign := r.Header.Get("nonce"), r.Header.Get("timestamp"), r.Header.Get("sign")
	if nonce == "" || sign == "" {
		f.t.Errorf("%s: unsigned: nonce %q sign %q", x.path, nonce, sign)
	}
	if ts != strconv.FormatInt(fixedNow.UnixMilli(), 10) {
		f.t.Errorf("%s: timestamp %q, want %d", x.path, ts, fixedNow.UnixMilli())
	}
	tsn, _ := strconv.ParseInt(ts, 10, 64)
	if want := Sign(nonce, f.secret, tsn); sign != want {
		f.t.Errorf("%s: sign %q, want %q", x.path, sign, want)
	}
	if got := r.Header.Values("rid"); f.rid == "" && len(got) != 0 || f.rid != "" && (len(got) != 1 || got[0] != f.rid) {
		f.t.Errorf("%s: rid headers %q, want %q", x.path, got, f.rid)
	}
	if string(body) != x.body {
		f.t.Errorf("%s: body\n got %s\nwant %s", x.path, body, x.body)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Encoding", "utf-8")
	for k, v := range x.header {
		if v == "" {
			h[k] = nil
		} else {
			h.Set(k, v)
		}
	}
	if x.status != 0 {
		w.WriteHeader(x.status)
	}
	_, _ = io.WriteString(w, x.answer)
}

// robotClient is a client of the robot port f (and admin port a, if any).
func robotClient(f, a *fakeIM) *Client {
	o := Options{RobotURL: f.srv.URL, RobotID: "bot1", RobotSecret: "robot-secret", Now: func() time.Time { return fixedNow }}
	if a != nil {
		o.AdminURL, o.AdminSecret = a.srv.URL+"/", "123456"
	}
	return New(o)
}

// adminClient is a client whose admin port is a; its robot port is unused.
func adminClient(a *fakeIM) *Client {
	return New(Options{RobotURL: "http://127.0.0.1:1", RobotID: "bot1", RobotSecret: "robot-secret",
		AdminURL: a.srv.URL, AdminSecret: "123456", Now: func() time.Time { return fixedNow }})
}

const okEmpty = `{"code":0,"msg":"success"}`
