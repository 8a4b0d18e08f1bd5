package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/store"
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
	if out.code != exitError {
		t.Fatalf("code = %d, want %d", out.code, exitError)
	}
	want := path + ":4: log.levl: unknown key (did you mean level?)"
	if !strings.Contains(out.stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", out.stderr, want)
	}
}

func TestMissingConfigSaysHowToCreateOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	out := runCLI(t, nil, "-c", path)
	if out.code != exitError {
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
	if out.code != exitError || !strings.Contains(out.stderr, "account.token is empty") {
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
		d := &daemon{cfg: cfg, log: zap.NewNop(), getenv: func(string) string { return "" }}
		db, err := store.Open(store.Options{Path: cfg.Database.Path})
		if err != nil {
			t.Fatal(err)
		}
		id, err := d.deviceID(context.Background(), db)
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
	d := &daemon{cfg: cfg, log: zap.NewNop()}
	if id, _ := d.deviceID(context.Background(), nil); id != "configured" {
		t.Fatalf("configured device id ignored: %q", id)
	}
}

// TestNoSecretsInLog runs the daemon with debug logging and checks that no
// token, access token or webhook secret reaches the captured log, even
// when a log line carries one.
func TestNoSecretsInLog(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Servers[0].HTTP.Post = []config.HTTPPost{{URL: "http://127.0.0.1:1/hook", Secret: `hook"secret`, Timeout: 1}}
	cfg.Servers = append(cfg.Servers, config.Server{WSReverse: &config.WSReverse{Universal: "ws://127.0.0.1:1/", ReconnectInterval: 100, AccessToken: "reverse-secret-ghi"}})
	secrets := []string{"tok-123456789", "http-secret-abc", "ws-secret-def", `hook"secret`, "reverse-secret-ghi"}

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

			ctx, cancel := context.WithCancel(context.Background())
			d := &daemon{cfg: cfg, log: log, sandbox: true, getenv: func(string) string { return "" },
				onReady: func([]net.Addr) { cancel() }}
			if err := d.run(ctx); err != nil {
				t.Fatal(err)
			}
			_ = log.Sync()
			got := buf.String()
			if !strings.Contains(got, "careless line") || !strings.Contains(got, "[redacted]") {
				t.Fatalf("log capture did not see the test lines:\n%s", got)
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
