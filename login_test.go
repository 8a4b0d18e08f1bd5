package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// loginWorld is a simulated Yunhu on loopback and a config file naming it,
// with database.path in a fresh directory (where -login saves the token).
type loginWorld struct {
	sim    *sim.Server
	config string // config file path
	dir    string // database.path's directory
}

func newLoginWorld(t *testing.T, extra string) *loginWorld {
	t.Helper()
	s := sim.New(sim.Options{})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	urls := sim.Endpoints(ts.URL)
	dir := filepath.Join(t.TempDir(), "state")
	path := writeConfig(t, "yunhu:\n  api-url: "+urls.API+"\n  ws-url: "+urls.WS+"\n  upload-url: "+urls.Upload+"\n"+
		"database:\n  path: "+filepath.Join(dir, "d.db")+"\nservers:\n  - ws:\n      address: 127.0.0.1:0\n"+extra)
	return &loginWorld{sim: s, config: path, dir: dir}
}

// child runs the real command line in a child process (see TestMain) with
// stdin fed from a pipe, as a script would, and waits for it.
func child(t *testing.T, env []string, stdin string, args ...string) output {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "YUNHU_ONEBOT_TEST_CHILD=1", "YUNHU_ONEBOT_TEST_ARGS="+strings.Join(args, " "),
		"GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("child: %v", err)
	}
	return output{code, stdout.String(), stderr.String()}
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestLoginThenDaemon is the whole path a new user takes: -login with the
// password piped on stdin saves a 0600 token file beside the database;
// the daemon, started afterwards with no account.token and no
// YUNHU_TOKEN, logs in to Yunhu with that token, and says where it came
// from without showing it.
func TestLoginThenDaemon(t *testing.T) {
	w := newLoginWorld(t, "")
	out := child(t, nil, sim.Password+"\n", "-login", "-c", w.config, "-email", sim.EmailFor(sim.SelfID))
	if out.code != exitOK || !strings.Contains(out.stdout, `Signed in as "Sim Self" (user id 1000001)`) {
		t.Fatalf("login: code %d\nstdout %s\nstderr %s", out.code, out.stdout, out.stderr)
	}
	path := filepath.Join(w.dir, "token")
	tok := readToken(t, path)
	if tok == "" || tok == sim.DefaultToken {
		t.Fatalf("saved token %q: want the one the sign-in issued", tok)
	}
	if !strings.Contains(out.stdout, path) {
		t.Errorf("stdout does not say where the token went: %s", out.stdout)
	}
	for _, secret := range []string{sim.Password, tok} {
		if strings.Contains(out.stdout+out.stderr, secret) {
			t.Errorf("a secret was printed:\n%s\n%s", out.stdout, out.stderr)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(w.dir, ".token-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// The daemon, from the real command line, with nothing but the file.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "YUNHU_ONEBOT_TEST_CHILD=1", "YUNHU_ONEBOT_TEST_ARGS=-c "+w.config,
		"GORACE=atexit_sleep_ms=0", "YUNHU_TOKEN=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logBuf.WriteString(sc.Text() + "\n")
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	onlineErr := w.sim.WaitOnline(ctx, sim.SelfID, 1)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-logDone
	waitErr := cmd.Wait()
	log := logBuf.String()
	if onlineErr != nil {
		t.Fatalf("the daemon did not log in with the saved token: %v\n%s", onlineErr, log)
	}
	if waitErr != nil {
		t.Errorf("daemon exit: %v\n%s", waitErr, log)
	}
	var rest int
	for _, r := range w.sim.Requests() {
		if strings.HasPrefix(r.Path, "/v1/user/") && strings.HasSuffix(r.Path, "-login") {
			continue
		}
		if strings.HasPrefix(r.Path, "/v1/") {
			rest++
			if r.Token != tok {
				t.Errorf("%s %s with token %q, want the saved one", r.Method, r.Path, r.Token)
			}
		}
	}
	if rest == 0 {
		t.Error("the daemon made no REST call")
	}
	if !strings.Contains(log, path+" (saved by -login)") {
		t.Errorf("the log does not name the token's source:\n%s", log)
	}
	if strings.Contains(log, tok) {
		t.Errorf("the token appears in the log:\n%s", log)
	}
}

// TestLoginPhone signs in with a mobile number and the code piped on stdin.
func TestLoginPhone(t *testing.T) {
	w := newLoginWorld(t, "")
	out := child(t, nil, sim.SMSCode+"\n", "-login", "-c", w.config, "-phone", sim.PhoneFor(sim.AliceID))
	if out.code != exitOK || !strings.Contains(out.stdout, `"Alice" (user id 1000002)`) {
		t.Fatalf("code %d\nstdout %s\nstderr %s", out.code, out.stdout, out.stderr)
	}
	// The user is told how to get the code, since this command cannot ask
	// Yunhu to send it.
	if !strings.Contains(out.stderr, "picture check") {
		t.Errorf("no instructions for getting the code:\n%s", out.stderr)
	}
	readToken(t, filepath.Join(w.dir, "token"))
}

// TestLoginRefused: a sign-in Yunhu refuses exits non-zero with Yunhu's
// reason, saves nothing and leaves an earlier token in place.
func TestLoginRefused(t *testing.T) {
	w := newLoginWorld(t, "")
	path := filepath.Join(w.dir, "token")
	if err := saveToken(path, "earlier-token"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin, why string
		args             []string
	}{
		{"wrong password", "hunter2\n", "密码错误", []string{"-email", sim.EmailFor(sim.SelfID)}},
		{"unknown account", sim.Password + "\n", "账号不存在", []string{"-email", "nobody@sim.invalid"}},
		{"wrong code", "654321\n", "验证码错误", []string{"-phone", sim.PhoneFor(sim.SelfID)}},
		{"nothing on stdin", "", "stdin ended", []string{"-email", sim.EmailFor(sim.SelfID)}},
	} {
		out := child(t, nil, tc.stdin, append([]string{"-login", "-c", w.config}, tc.args...)...)
		if out.code != exitError || !strings.Contains(out.stderr, tc.why) {
			t.Errorf("%s: code %d, stderr %q; want %d and %q", tc.name, out.code, out.stderr, exitError, tc.why)
		}
		if tc.stdin != "" && strings.Contains(out.stdout+out.stderr, strings.TrimSpace(tc.stdin)) {
			t.Errorf("%s: the secret was printed", tc.name)
		}
		if got := readToken(t, path); got != "earlier-token" {
			t.Errorf("%s: token file now %q", tc.name, got)
		}
	}
	for _, args := range [][]string{{"-login"}, {"-email", "a@b.c"}, {"-login", "-email", "a@b.c", "-phone", "1"}} {
		if out := runCLI(t, nil, append(args, "-c", w.config)...); out.code != exitUsage {
			t.Errorf("%v: code %d, want %d (%s)", args, out.code, exitUsage, out.stderr)
		}
	}
}

// TestLoginSandbox signs in to the throwaway simulator; its token goes
// beside the sandbox database and never replaces the real one.
func TestLoginSandbox(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, "database:\n  path: "+filepath.Join(dir, "d.db")+"\n")
	out := child(t, nil, sim.SMSCode+"\n", "-login", "-sandbox", "-c", path, "-phone", sim.PhoneFor(sim.SelfID))
	if out.code != exitOK || !strings.Contains(out.stdout, `"Sim Self"`) || !strings.Contains(out.stderr, sim.SMSCode) {
		t.Fatalf("code %d\nstdout %s\nstderr %s", out.code, out.stdout, out.stderr)
	}
	readToken(t, filepath.Join(dir, "token.sandbox"))
	if _, err := os.Stat(filepath.Join(dir, "token")); !os.IsNotExist(err) {
		t.Errorf("the sandbox wrote the real token file: %v", err)
	}
}

// TestTokenPrecedence: account.token and YUNHU_TOKEN win over the saved
// file. Each is set to a token Yunhu refuses while the file holds a good
// one, so the daemon stops with "rejected" only if it used the setting.
func TestTokenPrecedence(t *testing.T) {
	const bad = "99999999-2222-4333-8444-555555555555"
	for _, tc := range []struct {
		name  string
		extra string
		env   map[string]string
	}{
		{"account.token", "account:\n  token: " + bad + "\n", nil},
		{"YUNHU_TOKEN", "", map[string]string{"YUNHU_TOKEN": bad}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newLoginWorld(t, tc.extra)
			if out := child(t, nil, sim.Password+"\n", "-login", "-c", w.config, "-email", sim.EmailFor(sim.SelfID)); out.code != exitOK {
				t.Fatalf("login: %d %s", out.code, out.stderr)
			} else if tc.extra != "" && !strings.Contains(out.stdout, "is used instead of the saved token") {
				t.Errorf("login did not warn that account.token wins:\n%s", out.stdout)
			}
			before := len(w.sim.Requests()) // the sign-in's own calls
			done := make(chan output, 1)
			go func() { done <- runCLI(t, tc.env, "-c", w.config) }()
			select {
			case out := <-done:
				if out.code != exitNoPerm || !strings.Contains(out.stderr, "rejected by Yunhu") || !strings.Contains(out.stderr, `"source": "`+tc.name) {
					t.Errorf("code %d, stderr:\n%s", out.code, out.stderr)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("the daemon kept running: it used the saved token")
			}
			for _, r := range w.sim.Requests()[before:] {
				if strings.HasPrefix(r.Path, "/v1/") && r.Token != bad {
					t.Errorf("%s sent with another token than %s", r.Path, tc.name)
				}
			}
		})
	}
}

// TestTokenFileRefused: a token file others can read, or one holding no
// token, stops the start with a message instead of being used or ignored.
func TestTokenFileRefused(t *testing.T) {
	w := newLoginWorld(t, "")
	path := filepath.Join(w.dir, "token")
	if err := saveToken(path, sim.DefaultToken); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, nil, "-c", w.config); out.code != exitConfig || !strings.Contains(out.stderr, "chmod 600") {
		t.Errorf("world-readable: code %d, stderr %q", out.code, out.stderr)
	}
	if err := os.WriteFile(path, []byte("\n \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, nil, "-c", w.config); out.code != exitConfig || !strings.Contains(out.stderr, "not a token") {
		t.Errorf("empty: code %d, stderr %q", out.code, out.stderr)
	}
}
