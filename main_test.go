package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

func TestMain(m *testing.M) {
	// The re-executed child of TestSIGTERMStopsGracefully runs the real
	// command line instead of the tests.
	if os.Getenv("YUNHU_ONEBOT_TEST_CHILD") == "1" {
		os.Exit(cli(strings.Fields(os.Getenv("YUNHU_ONEBOT_TEST_ARGS")), os.Stdout, os.Stderr, os.Getenv))
	}
	goleak.VerifyTestMain(m)
}

type output struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, args ...string) output {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli(args, &stdout, &stderr, func(k string) string { return env[k] })
	return output{code, stdout.String(), stderr.String()}
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckAcceptsSample(t *testing.T) {
	out := runCLI(t, nil, "-check", "-c", "config.yaml")
	if out.code != exitOK || !strings.Contains(out.stdout, "config.yaml: valid") {
		t.Fatalf("-check on the sample: code %d\nstdout: %s\nstderr: %s", out.code, out.stdout, out.stderr)
	}
}

func TestCheckRejectsMisspelledKey(t *testing.T) {
	path := writeConfig(t, "account:\n  token: x\nlog:\n  levl: debug\n")
	out := runCLI(t, nil, "-check", "-c", path)
	if out.code != exitConfig {
		t.Fatalf("code = %d, want %d", out.code, exitConfig)
	}
	want := path + ":4: log.levl: unknown key (did you mean level?)"
	if !strings.Contains(out.stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", out.stderr, want)
	}
}

// TestCheckMasksURLs: a wrong URL is reported with its credentials and
// query values masked, by -check as by a failed start.
func TestCheckMasksURLs(t *testing.T) {
	path := writeConfig(t, "account:\n  token: x\nservers:\n  - http:\n      post:\n"+
		"        - url: ftp://hookuser:hookpass@hooks.example/in?key=HOOKSECRET\n")
	out := runCLI(t, nil, "-check", "-c", path)
	if out.code != exitConfig {
		t.Fatalf("code = %d, want %d", out.code, exitConfig)
	}
	want := `servers[0].http.post[0].url: "ftp://***@hooks.example/in?key=***" is not a http:// or https:// URL`
	if !strings.Contains(out.stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", out.stderr, want)
	}
	for _, secret := range []string{"hookuser", "hookpass", "HOOKSECRET"} {
		if strings.Contains(out.stdout+out.stderr, secret) {
			t.Errorf("-check shows %q:\n%s%s", secret, out.stdout, out.stderr)
		}
	}
}

func TestMissingConfigSaysHowToCreateOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	out := runCLI(t, nil, "-c", path)
	if out.code != exitConfig {
		t.Fatalf("code = %d", out.code)
	}
	if !strings.Contains(out.stderr, "yunhu-onebot -sample-config > "+path) {
		t.Errorf("stderr does not say how to create the file: %q", out.stderr)
	}
}

func TestSampleConfigFlagPrintsAValidConfig(t *testing.T) {
	out := runCLI(t, nil, "-sample-config")
	if out.code != exitOK {
		t.Fatalf("code = %d", out.code)
	}
	if _, err := config.Parse("sample", []byte(out.stdout), func(string) string { return "" }); err != nil {
		t.Fatalf("printed sample is invalid: %v", err)
	}
}

func TestTokenRequiredOutsideSandbox(t *testing.T) {
	path := writeConfig(t, "log:\n  level: info\n")
	out := runCLI(t, nil, "-c", path)
	if out.code != exitConfig || !strings.Contains(out.stderr, "account.token is empty") {
		t.Fatalf("code %d, stderr %q", out.code, out.stderr)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if out := runCLI(t, nil, "-version"); out.code != exitOK || !strings.HasPrefix(out.stdout, "yunhu-onebot ") {
		t.Errorf("-version: %+v", out)
	}
	if out := runCLI(t, nil, "-no-such-flag"); out.code != exitUsage {
		t.Errorf("unknown flag: code %d", out.code)
	}
	if out := runCLI(t, nil, "stray"); out.code != exitUsage {
		t.Errorf("stray argument: code %d", out.code)
	}
}

// notifySocket listens where a test daemon will send sd_notify datagrams.
func notifySocket(t *testing.T) (path string, states <-chan string) {
	t.Helper()
	// Unix socket paths are short; t.TempDir() can be too long.
	dir, err := os.MkdirTemp("", "yo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	return path, ch
}

func expectState(t *testing.T, states <-chan string, want string) {
	t.Helper()
	select {
	case got := <-states:
		if got != want {
			t.Fatalf("systemd notification = %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s notification", want)
	}
}

func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Database.Path = filepath.Join(dir, "db", "test.db")
	cfg.Account.Token = "tok-123456789"
	cfg.Servers = []config.Server{
		{HTTP: &config.HTTPServer{Address: "127.0.0.1:0", Timeout: 5, AccessToken: "http-secret-abc"}},
		{WS: &config.WSServer{Address: "127.0.0.1:0", AccessToken: "ws-secret-def"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// TestDaemonLifecycle runs the daemon on loopback: it reports READY=1 to
// systemd once its listeners accept connections, and on cancellation it
// reports STOPPING=1, closes the listeners and flushes the store within
// the stop timeout.
func TestDaemonLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	sock, states := notifySocket(t)
	addrs := make(chan []net.Addr, 1)
	d := &daemon{
		cfg:     cfg,
		log:     zap.NewNop(),
		sandbox: true,
		getenv:  func(k string) string { return map[string]string{"NOTIFY_SOCKET": sock}[k] },
		onReady: func(a []net.Addr) { addrs <- a },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()

	expectState(t, states, "READY=1")
	bound := <-addrs
	if len(bound) != 2 {
		t.Fatalf("bound %d listeners, want 2", len(bound))
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, a := range bound {
		resp, err := client.Get("http://" + a.String() + "/")
		if err != nil {
			t.Fatalf("listener %s not serving after READY: %v", a, err)
		}
		resp.Body.Close()
	}

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("run did not return within %v of cancellation", stopTimeout)
	}
	t.Logf("stopped in %v", time.Since(start))
	expectState(t, states, "STOPPING=1")
	for _, a := range bound {
		if c, err := net.DialTimeout("tcp", a.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("listener %s still accepts connections after stop", a)
		}
	}

	// The store was closed (its file lock released) and kept the device id
	// the first start generated.
	db, err := store.Open(store.Options{Path: sandboxPath(cfg.Database.Path)})
	if err != nil {
		t.Fatalf("reopen store after stop: %v", err)
	}
	id, err := db.Get("device-id")
	db.Close()
	if err != nil || len(id) != 32 {
		t.Fatalf("device id = %q, %v; want 32 hex chars", id, err)
	}
}

func TestPortInUseFailsTheStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t, t.TempDir())
	cfg.Servers[1].WS.Address = taken.Addr().String()
	d := &daemon{cfg: cfg, log: zap.NewNop(), sandbox: true, getenv: func(string) string { return "" }}
	err = d.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "servers[1].ws.address") {
		t.Fatalf("run = %v, want an error naming servers[1].ws.address", err)
	}
}

func TestDeviceIDKeptAcrossStarts(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Servers = nil
	var ids []string
	for range 2 {
		db, err := store.Open(store.Options{Path: cfg.Database.Path})
		if err != nil {
			t.Fatal(err)
		}
		id, err := app.DeviceID(context.Background(), cfg.Account.DeviceID, db)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || len(ids[0]) != 32 {
		t.Fatalf("device ids %q: want one stable 32-hex id", ids)
	}
	cfg.Account.DeviceID = "configured"
	if id, _ := app.DeviceID(context.Background(), cfg.Account.DeviceID, nil); id != "configured" {
		t.Fatalf("configured device id ignored: %q", id)
	}
}

// TestNoSecretsInLog runs the daemon with debug logging and checks that no
// token, access token or webhook secret reaches the captured log, even
// when a log line carries one.
func TestNoSecretsInLog(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	// Both URLs point at a closed port, so that the daemon logs real
	// delivery and dial errors quoting them.
	postURL := "http://hookuser:hookpass@127.0.0.1:1/hook?key=HOOKSECRET&v=1"
	cfg.Servers[0].HTTP.Post = []config.HTTPPost{{URL: postURL, Secret: `hook"secret`, Timeout: 1}}
	cfg.Servers = append(cfg.Servers, config.Server{WSReverse: &config.WSReverse{
		Universal: "ws://revuser:revpass@127.0.0.1:1/ws?access_token=REVSECRET", ReconnectInterval: 100, AccessToken: "reverse-secret-ghi"}})
	secrets := []string{"tok-123456789", "http-secret-abc", "ws-secret-def", `hook"secret`, "reverse-secret-ghi",
		"hookpass", "HOOKSECRET", "revpass", "REVSECRET"}
	// As net/http quotes a URL in an error (password as ***, query whole),
	// here in an error no code masked.
	careless := &url.Error{Op: "Post", URL: "http://hookuser:***@127.0.0.1:1/hook?key=HOOKSECRET&v=1", Err: io.EOF}

	for _, format := range []string{"console", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf syncBuffer
			cfg.Log = config.Log{Level: "debug", Format: format}
			log, closeLog, err := newLogger(cfg.Log, configSecrets(cfg), &buf)
			if err != nil {
				t.Fatal(err)
			}
			defer closeLog()
			log.Debug("careless line", zap.String("token", cfg.Account.Token), zap.Strings("all", secrets),
				zap.String("url", "ws://127.0.0.1:1/?access_token=reverse-secret-ghi"))
			log.Info("careless message hook\"secret http-secret-abc")
			log.Warn("careless URLs "+postURL, zap.String("raw", postURL), zap.Error(fmt.Errorf("deliver: %w", careless)),
				zap.String("parts", "hookpass HOOKSECRET REVSECRET"))

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := &daemon{cfg: cfg, log: log, sandbox: true, getenv: func(string) string { return "" },
				onReady: func([]net.Addr) {
					// Run until the webhook and the reverse WS have failed
					// once each, then stop.
					go func() {
						defer cancel()
						deadline := time.Now().Add(10 * time.Second)
						for time.Now().Before(deadline) && ctx.Err() == nil {
							if got := buf.String(); strings.Contains(got, "event not delivered") && strings.Contains(got, "cannot connect") {
								return
							}
							time.Sleep(10 * time.Millisecond)
						}
					}()
				}}
			if err := d.run(ctx); err != nil {
				t.Fatal(err)
			}
			_ = log.Sync()
			got := buf.String()
			if !strings.Contains(got, "careless line") || !strings.Contains(got, "[redacted]") {
				t.Fatalf("log capture did not see the test lines:\n%s", got)
			}
			for _, want := range []string{"event not delivered", "cannot connect",
				// What the operator needs stays readable.
				"http://***@127.0.0.1:1/hook?key=***&v=***", "ws://***@127.0.0.1:1/ws?access_token=***"} {
				if !strings.Contains(got, want) {
					t.Errorf("the log lacks %q:\n%s", want, got)
				}
			}
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("secret %q appears in the log:\n%s", s, got)
				}
			}
			if strings.Contains(got, `hook\"secret`) {
				t.Errorf("JSON-escaped secret appears in the log:\n%s", got)
			}
		})
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSIGTERMStopsGracefully runs the real command line in a child
// process and stops it with SIGTERM, as systemd does.
func TestSIGTERMStopsGracefully(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, "database:\n  path: "+filepath.Join(dir, "d.db")+"\nservers:\n  - http:\n      address: 127.0.0.1:0\n")
	sock, states := notifySocket(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"YUNHU_ONEBOT_TEST_CHILD=1",
		"YUNHU_ONEBOT_TEST_ARGS=-sandbox -c "+path,
		"NOTIFY_SOCKET="+sock,
		"GORACE=atexit_sleep_ms=0", // the race runtime otherwise sleeps 1 s at exit
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logLines []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logLines = append(logLines, sc.Text())
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	expectState(t, states, "READY=1")
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-logDone; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, strings.Join(logLines, "\n"))
		}
	case <-time.After(stopTimeout + 2*time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("no exit within %v of SIGTERM", stopTimeout)
	}
	t.Logf("exited %v after SIGTERM", time.Since(start))
	expectState(t, states, "STOPPING=1")
	log := strings.Join(logLines, "\n")
	for _, want := range []string{"ready", "stopping", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestOneBotEndToEnd runs the daemon (sandbox) on loopback with every
// OneBot transport configured and talks to each one as a framework would:
// the access token is enforced, the first WebSocket frame is lifecycle
// connect with the logged-in account's id, an action nobody provides is
// 1404 (HTTP 404), registered actions and published events get through,
// webhooks see lifecycle enable and disable, and the reverse WebSocket
// dials out with X-Self-ID once the account is known.
func TestOneBotEndToEnd(t *testing.T) {
	var hookMu sync.Mutex
	var hookBodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, string(b))
		hookMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	reverseFrames := make(chan []byte, 16)
	reverse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer rev" || r.Header.Get("X-Self-ID") != sim.SelfID {
			http.Error(w, "bad headers", http.StatusForbidden)
			return
		}
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			reverseFrames <- b
		}
	}))
	defer reverse.Close()

	cfg := testConfig(t, t.TempDir())
	cfg.Servers[0].HTTP.Post = []config.HTTPPost{{URL: hook.URL, Timeout: 2}}
	cfg.Servers = append(cfg.Servers, config.Server{WSReverse: &config.WSReverse{
		Universal: "ws" + strings.TrimPrefix(reverse.URL, "http") + "/onebot/v11/ws", ReconnectInterval: 100, AccessToken: "rev"}})
	hubs := make(chan *onebot.Hub, 1)
	addrs := make(chan []net.Addr, 1)
	d := &daemon{cfg: cfg, log: zaptest.NewLogger(t), sandbox: true, getenv: func(string) string { return "" },
		onReady: func(a []net.Addr) { addrs <- a },
		setupOneBot: func(r *onebot.Router, hub *onebot.Hub) {
			r.Register("e2e_registered", func(context.Context, *onebot.Request) (any, error) {
				return map[string]any{"user_id": 8012345, "nickname": "bot"}, nil
			})
			hubs <- hub
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	var bound []net.Addr
	select {
	case bound = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	hub := <-hubs
	waitLoggedIn(t, d)
	httpBase, wsBase := "http://"+bound[0].String(), "ws://"+bound[1].String()

	// HTTP API.
	get := func(path, auth string) (int, string) {
		req, _ := http.NewRequest("GET", httpBase+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/e2e_registered", ""); code != http.StatusUnauthorized {
		t.Errorf("HTTP without token: %d", code)
	}
	if code, _ := get("/e2e_registered", "Bearer wrong"); code != http.StatusForbidden {
		t.Errorf("HTTP with a wrong token: %d", code)
	}
	if code, body := get("/no_such_action", "Bearer http-secret-abc"); code != http.StatusNotFound ||
		!strings.Contains(body, `"retcode":1404`) {
		t.Errorf("HTTP unknown action: %d %s", code, body)
	}
	if code, body := get("/e2e_registered?access_token=http-secret-abc", ""); code != http.StatusOK ||
		!strings.Contains(body, `"data":{"nickname":"bot","user_id":8012345}`) {
		t.Errorf("HTTP registered action: %d %s", code, body)
	}

	// Forward WebSocket.
	for auth, want := range map[string]int{"": http.StatusUnauthorized, "Bearer wrong": http.StatusForbidden} {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if c, resp, err := websocket.DefaultDialer.Dial(wsBase+"/", h); err == nil {
			c.Close()
			t.Errorf("WS with %q connected", auth)
		} else if resp == nil || resp.StatusCode != want {
			t.Errorf("WS with %q: %v, want HTTP %d", auth, err, want)
		}
	}
	c, _, err := websocket.DefaultDialer.Dial(wsBase+"/", http.Header{"Authorization": {"Bearer ws-secret-def"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, first, err := c.ReadMessage()
	if err != nil || !strings.Contains(string(first), `"self_id":`+sim.SelfID+`,`) ||
		!strings.Contains(string(first), `"meta_event_type":"lifecycle","sub_type":"connect"`) {
		t.Fatalf("first WS frame %s, %v", first, err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"action":"no_such_action","params":{},"echo":{"seq":1}}`))
	_, reply, _ := c.ReadMessage()
	if !strings.Contains(string(reply), `"retcode":1404`) || !strings.HasSuffix(string(reply), `,"echo":{"seq":1}}`) {
		t.Errorf("WS unknown action: %s", reply)
	}
	if err := hub.Publish(json.RawMessage(`{"time":1,"self_id":` + sim.SelfID + `,"post_type":"notice","notice_type":"e2e"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, ev, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("no event over WS: %v", err)
		}
		if strings.Contains(string(ev), `"notice_type":"e2e"`) {
			break
		}
	}

	// Reverse WebSocket: lifecycle first, then the event.
	for _, want := range []string{`"sub_type":"connect"`, `"notice_type":"e2e"`} {
		select {
		case b := <-reverseFrames:
			if !strings.Contains(string(b), want) {
				t.Errorf("reverse WS frame %s, want %s", b, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("reverse WS: no frame with %s", want)
		}
	}

	// The webhook: enable first, then the event.
	deadline := time.Now().Add(10 * time.Second)
	for {
		hookMu.Lock()
		n := len(hookBodies)
		got := n >= 2 && strings.Contains(hookBodies[n-1], `"notice_type":"e2e"`)
		hookMu.Unlock()
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook did not get the event")
		}
		time.Sleep(5 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(stopTimeout):
		t.Fatal("run did not stop in time")
	}
	// The forward WS client was told the server is going away.
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("WS after stop: %v, want close 1001", err)
			}
			break
		}
	}
	hookMu.Lock()
	defer hookMu.Unlock()
	all := strings.Join(hookBodies, "\n")
	if len(hookBodies) != 3 || !strings.Contains(hookBodies[0], `"sub_type":"enable"`) ||
		!strings.Contains(hookBodies[2], `"sub_type":"disable"`) {
		t.Errorf("webhook got:\n%s", all)
	}
}

// waitLoggedIn waits until the daemon's bridge has logged in to Yunhu and
// knows the account's OneBot id.
func waitLoggedIn(t *testing.T, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.selfID() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not log in to the simulator within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := d.selfID(); strconv.FormatInt(got, 10) != sim.SelfID {
		t.Fatalf("self id = %d, want %s", got, sim.SelfID)
	}
}

// startDaemon runs d until the test ends and returns its bound listener
// addresses once it is ready and logged in.
func startDaemon(t *testing.T, d *daemon) []net.Addr {
	t.Helper()
	addrs := make(chan []net.Addr, 1)
	d.onReady = func(a []net.Addr) { addrs <- a }
	if d.getenv == nil {
		d.getenv = func(string) string { return "" }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("run did not stop within %v", stopTimeout)
		}
	})
	var bound []net.Addr
	select {
	case bound = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready within 10 s")
	}
	waitLoggedIn(t, d)
	return bound
}

// TestRealAccountWiring runs the daemon without -sandbox against a Yunhu
// (the simulator on httptest) named only by the yunhu.* settings, as a
// real account would: it logs in with account.token and keeps its data in
// database.path itself.
func TestRealAccountWiring(t *testing.T) {
	s := sim.New(sim.Options{Log: zaptest.NewLogger(t).Named("sim")})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	defer s.Close()
	urls := sim.Endpoints(ts.URL)

	cfg := testConfig(t, t.TempDir())
	cfg.Account.Token = sim.DefaultToken
	cfg.Account.Platform = "linux"
	cfg.Account.DeviceID = "device-under-test"
	cfg.Yunhu.APIURL, cfg.Yunhu.WSURL, cfg.Yunhu.UploadURL = urls.API, urls.WS, urls.Upload
	d := &daemon{cfg: cfg, log: zaptest.NewLogger(t),
		onSandbox: func(*sim.Server, string) { t.Error("a sandbox started without -sandbox") }}
	startDaemon(t, d)

	// The push socket logs in with the token (in its login frame), and
	// every REST call carries it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitOnline(ctx, sim.SelfID, 1); err != nil {
		t.Fatalf("the push socket did not log in: %v", err)
	}
	var rest int
	for _, r := range s.Requests() {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		rest++
		if r.Token != sim.DefaultToken {
			t.Errorf("request %s %s with token %q, want account.token", r.Method, r.Path, r.Token)
		}
	}
	if rest == 0 {
		t.Error("the daemon made no REST call to the configured Yunhu")
	}
	if _, err := os.Stat(cfg.Database.Path); err != nil {
		t.Errorf("database.path not used as given: %v", err)
	}
}

// TestRejectedTokenStopsTheDaemon: a token Yunhu refuses is not retried
// forever; the daemon stops with one line that says what to fix and exit
// status 77, which the unit's RestartPreventExitStatus keeps systemd from
// restarting (no restart fixes a token).
func TestRejectedTokenStopsTheDaemon(t *testing.T) {
	s := sim.New(sim.Options{})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	defer s.Close()
	urls := sim.Endpoints(ts.URL)
	dir := t.TempDir()
	path := writeConfig(t, "account:\n  token: 11111111-2222-4333-8444-555555555555\n"+
		"yunhu:\n  api-url: "+urls.API+"\n  ws-url: "+urls.WS+"\n  upload-url: "+urls.Upload+"\n"+
		"database:\n  path: "+filepath.Join(dir, "d.db")+"\nservers:\n  - ws:\n      address: 127.0.0.1:0\n")
	done := make(chan output, 1)
	go func() { done <- runCLI(t, nil, "-c", path) }()
	select {
	case out := <-done:
		if out.code != exitNoPerm {
			t.Errorf("exit code %d, want %d", out.code, exitNoPerm)
		}
		for _, want := range []string{"account.token rejected by Yunhu", "YUNHU_TOKEN"} {
			if !strings.Contains(out.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
			}
		}
		if strings.Contains(out.stderr, "11111111-2222-4333-8444-555555555555") {
			t.Errorf("the token appears in the log:\n%s", out.stderr)
		}
		assertOneCleanErrorLine(t, out.stderr)
	case <-time.After(15 * time.Second):
		t.Fatal("the daemon kept running with a rejected token")
	}
}

// TestRevokedTokenStopsTheDaemon: a token revoked while the daemon runs
// (the account logged out elsewhere) stops it as a token rejected at start
// does, with status 77 and the same one line, instead of reconnecting
// forever while it looks up but is offline. A dropped socket and REST
// calls failing with HTTP 500 before that do not stop it.
func TestRevokedTokenStopsTheDaemon(t *testing.T) {
	s := sim.New(sim.Options{})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	defer s.Close()
	urls := sim.Endpoints(ts.URL)
	dir := t.TempDir()
	path := writeConfig(t, "account:\n  token: "+sim.DefaultToken+"\n"+
		"yunhu:\n  api-url: "+urls.API+"\n  ws-url: "+urls.WS+"\n  upload-url: "+urls.Upload+"\n"+
		"database:\n  path: "+filepath.Join(dir, "d.db")+"\nservers:\n  - ws:\n      address: 127.0.0.1:0\n")
	done := make(chan output, 1)
	go func() { done <- runCLI(t, nil, "-c", path) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitOnline(ctx, sim.SelfID, 1); err != nil {
		t.Fatalf("the push socket did not log in: %v", err)
	}

	// Transient failures: every REST call of the reconnect fails with 500
	// until three have, and the socket drops. The daemon logs in again.
	s.FailNext(3, http.StatusInternalServerError)
	s.DropAll()
	evWaitMain(t, "the push socket logged in again", func() bool { return s.Logins(sim.SelfID) >= 2 })
	evWaitMain(t, "the REST failures consumed", func() bool {
		s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "poke"}) // makes REST calls
		return s.Faults() == 0
	})
	select {
	case out := <-done:
		t.Fatalf("the daemon stopped after transient failures: code %d\n%s", out.code, out.stderr)
	default:
	}

	if n := s.RevokeToken(sim.DefaultToken); n != 1 {
		t.Fatalf("revoking closed %d sockets, want 1", n)
	}
	select {
	case out := <-done:
		if out.code != exitNoPerm {
			t.Errorf("exit code %d, want %d", out.code, exitNoPerm)
		}
		for _, want := range []string{"account.token rejected by Yunhu", "YUNHU_TOKEN"} {
			if !strings.Contains(out.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
			}
		}
		if strings.Contains(out.stderr, sim.DefaultToken) {
			t.Errorf("the token appears in the log:\n%s", out.stderr)
		}
		assertOneCleanErrorLine(t, out.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon kept running with a revoked token")
	}
}

// evWaitMain polls cond until it holds, failing after a bound.
func evWaitMain(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// frames reads OneBot frames from a WebSocket, skipping heartbeats; numbers
// stay json.Number so the test sees exactly what was sent.
type frames struct {
	t *testing.T
	c *websocket.Conn
}

func (f frames) next(what string) map[string]any {
	f.t.Helper()
	for {
		_ = f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := f.c.ReadMessage()
		if err != nil {
			f.t.Fatalf("waiting for %s: %v", what, err)
		}
		m := decodeJSON(f.t, b)
		if m["meta_event_type"] == "heartbeat" {
			continue
		}
		return m
	}
}

// until returns the first frame matching key=value, failing on any other
// message or notice in between (nothing may be lost or invented).
func (f frames) until(key, value string) map[string]any {
	f.t.Helper()
	for {
		m := f.next(key + "=" + value)
		if m[key] == value {
			return m
		}
		f.t.Errorf("unexpected frame while waiting for %s=%s: %v", key, value, m)
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return m
}

// wantNumber checks that m[key] is the JSON number want.
func wantNumber(t *testing.T, where string, m map[string]any, key, want string) {
	t.Helper()
	if n, ok := m[key].(json.Number); !ok || n.String() != want {
		t.Errorf("%s: %s = %#v, want the number %s", where, key, m[key], want)
	}
}

// positiveID returns m[key] as a positive integer JSON number, failing
// the test otherwise.
func positiveID(t *testing.T, where string, m map[string]any, key string) int64 {
	t.Helper()
	n, ok := m[key].(json.Number)
	i, err := n.Int64()
	if !ok || err != nil || i <= 0 {
		t.Fatalf("%s: %s = %#v, want a positive JSON number", where, key, m[key])
	}
	return i
}

// TestSandboxEndToEnd runs the whole daemon in sandbox mode as a user
// would start it, and plays both sides: a OneBot framework on the forward
// WebSocket and the HTTP API, and simulated Yunhu users on the sandbox's
// control API. A user's message becomes an event with every field a
// framework needs; the framework's reply, get_msg and delete_msg reach
// Yunhu; a user's recall becomes a notice naming the original message.
func TestSandboxEndToEnd(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Servers[0].HTTP.AccessToken = ""
	cfg.Servers[1].WS.AccessToken = ""
	cfg.Heartbeat.Interval = 1
	var banner syncBuffer
	var s *sim.Server
	var base string
	d := &daemon{cfg: cfg, log: zaptest.NewLogger(t), sandbox: true, banner: &banner,
		onSandbox: func(sv *sim.Server, b string) { s, base = sv, b }}
	bound := startDaemon(t, d)
	httpBase, wsURL := "http://"+bound[0].String(), "ws://"+bound[1].String()+"/"
	for _, want := range []string{httpBase + "/<action>", wsURL, base + "/sandbox/say?from=alice&group=" + sim.GroupOwnedID} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("the sandbox banner lacks %q:\n%s", want, banner.String())
		}
	}

	c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws := frames{t, c}
	hello := ws.next("lifecycle")
	if hello["meta_event_type"] != "lifecycle" || hello["sub_type"] != "connect" {
		t.Fatalf("first frame %v, want lifecycle connect", hello)
	}
	wantNumber(t, "lifecycle", hello, "self_id", sim.SelfID)

	// The push socket must be up before a user talks, or the message is
	// only found later by backfill.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitOnline(ctx, sim.SelfID, 1); err != nil {
		t.Fatalf("the bridge's push socket did not log in: %v", err)
	}

	// Heartbeats say the platform is online once the push socket is up.
	waitHeartbeat := func() map[string]any {
		for {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for a heartbeat: %v", err)
			}
			m := decodeJSON(t, b)
			if m["meta_event_type"] == "heartbeat" {
				return m
			}
			t.Errorf("unexpected frame before any message: %v", m)
		}
	}
	for hb := waitHeartbeat(); ; hb = waitHeartbeat() {
		wantNumber(t, "heartbeat", hb, "self_id", sim.SelfID)
		wantNumber(t, "heartbeat", hb, "interval", "1000")
		if st, _ := hb["status"].(map[string]any); st["online"] == true && st["good"] == true {
			break
		}
	}

	// call runs an action over the HTTP API as a framework does.
	call := func(action string, params any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(params)
		resp, err := http.Post(httpBase+"/"+action, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := decodeJSON(t, b)
		if m["status"] != "ok" || m["retcode"] != json.Number("0") {
			t.Fatalf("%s %s: HTTP %d %s", action, body, resp.StatusCode, b)
		}
		data, _ := m["data"].(map[string]any)
		return data
	}
	// Listing the members first, as a framework does at start, fills the
	// bridge's member cache; ingest never waits for a member list, so the
	// first message of a group otherwise carries the fallback role member.
	call("get_group_member_list", map[string]any{"group_id": json.Number(sim.GroupOwnedID)})
	// A user speaks in a group → one message event.
	var said recordOut
	if code, body := control(t, base, "/sandbox/say", url.Values{"from": {"alice"}, "group": {sim.GroupOwnedID}, "text": {"hello"}}, &said); code != http.StatusOK {
		t.Fatalf("say: %d %s", code, body)
	}
	ev := ws.until("post_type", "message")
	for k, v := range map[string]string{"message_type": "group", "sub_type": "normal", "message": "hello", "raw_message": "hello"} {
		if ev[k] != v {
			t.Errorf("group event %s = %#v, want %q", k, ev[k], v)
		}
	}
	wantNumber(t, "group event", ev, "self_id", sim.SelfID)
	wantNumber(t, "group event", ev, "group_id", sim.GroupOwnedID)
	wantNumber(t, "group event", ev, "user_id", sim.AliceID)
	wantNumber(t, "group event", ev, "font", "0")
	groupMsgID := positiveID(t, "group event", ev, "message_id")
	if sec := positiveID(t, "group event", ev, "time"); sec > time.Now().Unix()+1 || sec < time.Now().Unix()-60 {
		t.Errorf("group event time = %d, want seconds near now", sec)
	}
	sender, _ := ev["sender"].(map[string]any)
	if sender == nil || sender["nickname"] != "Alice" || sender["role"] != "admin" {
		t.Errorf("group event sender = %#v, want Alice, admin", ev["sender"])
	} else {
		wantNumber(t, "sender", sender, "user_id", sim.AliceID)
	}

	// A private message → a private friend event.
	if code, body := control(t, base, "/sandbox/say", url.Values{"from": {"bob"}, "private": {"1"}, "text": {"psst"}}, nil); code != http.StatusOK {
		t.Fatalf("say: %d %s", code, body)
	}
	pev := ws.until("post_type", "message")
	if pev["message_type"] != "private" || pev["sub_type"] != "friend" || pev["raw_message"] != "psst" {
		t.Errorf("private event %v", pev)
	}
	wantNumber(t, "private event", pev, "user_id", sim.BobID)
	if _, ok := pev["group_id"]; ok {
		t.Errorf("private event has a group_id: %v", pev)
	}
	if id := positiveID(t, "private event", pev, "message_id"); id == groupMsgID {
		t.Errorf("two messages share message_id %d", id)
	}

	// The framework answers over HTTP; Yunhu receives it.
	login := call("get_login_info", map[string]any{})
	wantNumber(t, "get_login_info", login, "user_id", sim.SelfID)
	if login["nickname"] != s.Self().Name {
		t.Errorf("get_login_info nickname = %#v, want %q", login["nickname"], s.Self().Name)
	}
	data := call("send_group_msg", map[string]any{"group_id": json.Number(sim.GroupOwnedID), "message": "pong"})
	sentID := positiveID(t, "send_group_msg", data, "message_id")
	sent := s.Sent()
	if len(sent) != 1 {
		t.Fatalf("Yunhu received %d messages, want 1", len(sent))
	}
	req := sent[0].Request
	if sent[0].Code != 1 || req.GetChatId() != sim.GroupOwnedID || req.GetChatType() != yunhu.ChatTypeGroup ||
		req.GetContent().GetText() != "pong" || req.GetContentType() != yunhu.ContentText {
		t.Errorf("Yunhu received %v (code %d)", req, sent[0].Code)
	}

	// get_msg answers from the store with the event's ids.
	got := call("get_msg", map[string]any{"message_id": groupMsgID})
	wantNumber(t, "get_msg", got, "message_id", strconv.FormatInt(groupMsgID, 10))
	wantNumber(t, "get_msg", got, "real_id", strconv.FormatInt(groupMsgID, 10))
	wantNumber(t, "get_msg", got, "group_id", sim.GroupOwnedID)
	if sender, _ := got["sender"].(map[string]any); sender == nil {
		t.Errorf("get_msg without a sender: %v", got)
	} else {
		wantNumber(t, "get_msg sender", sender, "user_id", sim.AliceID)
	}

	// delete_msg recalls the bot's message on Yunhu.
	call("delete_msg", map[string]any{"message_id": sentID})
	if rec, ok := s.Lookup(req.GetMsgId()); !ok || rec.RecallTime == 0 {
		t.Errorf("the bot's message is not recalled on Yunhu: %+v", rec)
	}

	// Alice recalls her message → group_recall naming the original id.
	if code, body := control(t, base, "/sandbox/recall", url.Values{"from": {"alice"}, "id": {said.MsgID}}, nil); code != http.StatusOK {
		t.Fatalf("recall: %d %s", code, body)
	}
	for {
		n := ws.next("group_recall")
		if n["post_type"] == "notice" && n["notice_type"] == "group_recall" &&
			n["message_id"] == json.Number(strconv.FormatInt(sentID, 10)) {
			continue // the recall of the bot's own message, which delete_msg did
		}
		if n["notice_type"] != "group_recall" {
			t.Fatalf("got %v, want the group_recall of Alice's message", n)
		}
		wantNumber(t, "group_recall", n, "message_id", strconv.FormatInt(groupMsgID, 10))
		wantNumber(t, "group_recall", n, "group_id", sim.GroupOwnedID)
		wantNumber(t, "group_recall", n, "user_id", sim.AliceID)
		wantNumber(t, "group_recall", n, "operator_id", sim.AliceID)
		break
	}
}
