package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/e2e"
)

// Environment of a re-executed test binary that runs a bot instead of the
// tests (see runBot).
const (
	envBotMode  = "INTEROP_BOT_MODE" // "forward" or "reverse"
	envBotURL   = "INTEROP_BOT_URL"
	envBotToken = "INTEROP_BOT_TOKEN"
)

// Bounds: every wait in these tests ends, and a whole scenario run stays
// well inside two minutes once the daemon is built.
const (
	buildTimeout = 4 * time.Minute
	waitTimeout  = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// daemonBinary is the yunhu-onebot binary TestMain built from ../ for
// this run.
var daemonBinary string

func TestMain(m *testing.M) {
	if mode := os.Getenv(envBotMode); mode != "" {
		os.Exit(runBot(mode, os.Getenv(envBotURL), os.Getenv(envBotToken)))
	}
	dir, err := os.MkdirTemp("", "yunhu-onebot-interop")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	daemonBinary, err = buildDaemon(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildDaemon builds the daemon from the parent module, with the race
// detector when these tests have it.
func buildDaemon(dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "yunhu-onebot")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the daemon (go %s in ..): %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// daemonProc is a running yunhu-onebot -sandbox with a JSON log on stderr.
type daemonProc struct {
	*e2e.Daemon
	t       *testing.T
	sandbox string // base URL of the simulator and its control API
	addrs   map[string]string
}

// startDaemon writes a configuration with the given servers section (YAML,
// indented as list items under "servers:"), starts the daemon with
// -sandbox and waits until it is ready and its push socket logged in to
// the simulator. The daemon is stopped with SIGTERM when the test ends and
// must exit 0 without a data race.
func startDaemon(t *testing.T, servers string) *daemonProc {
	t.Helper()
	return startDaemonConfig(t, "", servers)
}

// startDaemonConfig is startDaemon with more configuration (top-level
// YAML, such as "backend: wukongim\n") before the rest.
func startDaemonConfig(t *testing.T, extra, servers string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	cfg := extra + "database:\n  path: " + filepath.Join(dir, "db", "interop.db") + "\n" +
		"log:\n  level: debug\n  format: json\n" +
		"heartbeat:\n  interval: 1\n" +
		"servers:\n" + servers
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{
		Daemon: e2e.StartDaemon(t, []string{"GORACE=atexit_sleep_ms=0"}, daemonBinary, "-sandbox", "-c", path),
		t:      t,
	}
	t.Cleanup(d.stop) // before the kill StartDaemon registered: cleanups run last first

	d.waitLog("the daemon to be ready", func(e map[string]any) bool { return e["msg"] == "ready" })
	d.addrs = d.WaitReady()
	d.sandbox = d.addrs["sandbox"]
	if !strings.HasPrefix(d.sandbox, "http://127.0.0.1:") {
		t.Fatalf("the daemon did not log the sandbox's loopback URL (got %q)", d.sandbox)
	}
	// Messages must only be said once the bridge receives pushes.
	waitUntil(t, "the bridge's push socket to log in to the simulator", func() bool {
		var st struct{ Online int }
		d.control("/sandbox/status", nil, &st)
		return st.Online >= 1
	})
	return d
}

// waitLog waits for a log entry matching match.
func (d *daemonProc) waitLog(what string, match func(map[string]any) bool) {
	d.t.Helper()
	waitUntil(d.t, what, func() bool { return d.Find(match) != nil })
}

// stop sends SIGTERM, as systemd does, and checks a clean exit. The
// daemon's log is printed by StartDaemon's cleanup if the test failed.
func (d *daemonProc) stop() {
	_ = syscall.Kill(d.PID(), syscall.SIGTERM)
	select {
	case <-d.Exited():
		if code := d.Wait(); code != 0 {
			d.t.Errorf("daemon: exit status %d after SIGTERM", code)
		}
	case <-time.After(stopTimeout):
		d.t.Errorf("daemon: no exit within %v of SIGTERM", stopTimeout)
		d.Kill()
	}
	if strings.Contains(d.Log(), "WARNING: DATA RACE") {
		d.t.Errorf("the daemon has a data race")
	}
}

// control calls the sandbox's control API and decodes its JSON answer.
func (d *daemonProc) control(path string, params url.Values, out any) {
	d.t.Helper()
	resp, err := http.PostForm(d.sandbox+path, params)
	if err != nil {
		d.t.Fatalf("sandbox %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("sandbox %s %v: HTTP %d %s", path, params, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			d.t.Fatalf("sandbox %s: %v in %s", path, err, b)
		}
	}
}

// say makes a simulated user send a message and returns its Yunhu record.
func (d *daemonProc) say(params url.Values) record {
	d.t.Helper()
	var r record
	d.control("/sandbox/say", params, &r)
	return r
}

// sent returns every send-message request Yunhu received from the account.
func (d *daemonProc) sent() []sentMessage {
	d.t.Helper()
	var s []sentMessage
	d.control("/sandbox/sent", nil, &s)
	return s
}

// waitSent waits until Yunhu received at least n messages from the
// account and returns them all.
func (d *daemonProc) waitSent(what string, n int) []sentMessage {
	d.t.Helper()
	var s []sentMessage
	waitUntil(d.t, what, func() bool {
		s = d.sent()
		return len(s) >= n
	})
	return s
}

// fetch downloads a URL as the official clients do (the CDN wants their
// Referer).
func fetch(t *testing.T, u string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Referer", "https://myapp.jwznb.com/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", u, resp.StatusCode, b)
	}
	return b
}

// record is a Yunhu message as the sandbox shows it.
type record struct {
	MsgID       string  `json:"msg_id"`
	ChatType    int32   `json:"chat_type"`
	ChatID      string  `json:"chat_id"`
	SenderID    string  `json:"sender_id"`
	ContentType int32   `json:"content_type"`
	Content     content `json:"content"`
	QuoteMsgID  string  `json:"quote_msg_id"`
	RecallTime  int64   `json:"recall_time"`
}

type content struct {
	Text        string   `json:"text"`
	MentionedID []string `json:"mentioned_id"`
	Image       string   `json:"image"`
	ImageURL    string   `json:"image_url"`
}

// sentMessage is one send-message request as the sandbox shows it.
type sentMessage struct {
	UserID  string `json:"user_id"`
	Code    int32  `json:"code"`
	Msg     string `json:"msg"`
	Request struct {
		MsgID       string  `json:"msg_id"`
		ChatID      string  `json:"chat_id"`
		ChatType    int32   `json:"chat_type"`
		ContentType int32   `json:"content_type"`
		Content     content `json:"content"`
		QuoteMsgID  string  `json:"quote_msg_id"`
	} `json:"request"`
}

func (s sentMessage) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// botProc is a ZeroBot bot running in a child process.
type botProc struct {
	cmd *exec.Cmd
	out syncBuffer
}

// startBot runs this test binary as a bot (see runBot), killed when the
// test ends.
func startBot(t *testing.T, mode, url, token string) *botProc {
	t.Helper()
	b := &botProc{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	b.cmd.Env = append(os.Environ(), envBotMode+"="+mode, envBotURL+"="+url, envBotToken+"="+token,
		"GORACE=atexit_sleep_ms=0")
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		out := b.out.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the ZeroBot process has a data race")
		}
		if t.Failed() {
			t.Logf("bot output:\n%s", out)
		}
	})
	return b
}

// freeLoopbackAddr returns an address on 127.0.0.1 that was free a moment
// ago, for a server that insists on binding its own listener.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
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
