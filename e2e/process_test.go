package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// A re-executed test binary is a launcher: with envLaunch set to a byte
// count it lowers RLIMIT_FSIZE to it and execs its arguments, so that the
// daemon it starts cannot grow any file past that size (writes fail with
// EFBIG, as they fail with ENOSPC on a full disk; Go ignores SIGXFSZ).
const envLaunch = "E2E_LAUNCH_FSIZE"

func launch() int {
	n, err := strconv.ParseUint(os.Getenv(envLaunch), 10, 64)
	if err != nil || len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "launcher: %s=%q, args %q\n", envLaunch, os.Getenv(envLaunch), os.Args)
		return 2
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintf(os.Stderr, "launcher: setrlimit: %v\n", err)
		return 2
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if len(kv) < len(envLaunch) || kv[:len(envLaunch)] != envLaunch {
			env = append(env, kv)
		}
	}
	err = syscall.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintf(os.Stderr, "launcher: exec %s: %v\n", os.Args[1], err)
	return 2
}

// withFileLimit returns argv behind the launcher.
func withFileLimit(bytes int64, argv ...string) (env []string, out []string) {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return []string{envLaunch + "=" + strconv.FormatInt(bytes, 10)}, append([]string{exe}, argv...)
}

var daemonBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// daemonBinary builds the daemon once per test binary; -short skips the
// tests that need it.
func daemonBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the daemon binary; skipped with -short")
	}
	daemonBuild.once.Do(func() {
		daemonBuild.dir, daemonBuild.err = os.MkdirTemp("", "e2e-daemon")
		if daemonBuild.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		daemonBuild.bin, daemonBuild.err = BuildDaemon(ctx, daemonBuild.dir)
	})
	if daemonBuild.err != nil {
		t.Fatal(daemonBuild.err)
	}
	return daemonBuild.bin
}

// removeDaemonBuild deletes the binary after the tests.
func removeDaemonBuild() {
	if daemonBuild.dir != "" {
		_ = os.RemoveAll(daemonBuild.dir)
	}
}

// simSections starts a simulator in the test process and returns the
// configuration sections that point a non-sandbox daemon at it, with an
// HTTP API on a free loopback port.
func simSections(t *testing.T) (*sim.Server, string) {
	s := sim.New(sim.Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	urls := sim.Endpoints(srv.URL)
	return s, "account:\n  token: " + sim.DefaultToken + "\n  platform: linux\n" +
		"yunhu:\n  api-url: " + urls.API + "\n  ws-url: " + urls.WS + "\n  upload-url: " + urls.Upload + "\n  timeout: 5\n" +
		"servers:\n  - http:\n      address: 127.0.0.1:0\n"
}

// writeConfig writes a configuration file readable by anyone into dir.
func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openDir is a fresh directory that every user may enter, for a daemon
// run as another user.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e-db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asUnprivileged returns the environment for running the daemon as a user
// that file permissions apply to: nobody when the tests run as root (root
// ignores them), else the current user.
func asUnprivileged(t *testing.T, cmdDir string) *syscall.SysProcAttr {
	if os.Geteuid() != 0 {
		return nil
	}
	// nobody must reach the binary.
	if err := os.Chmod(cmdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}

// expectStartError runs the daemon and checks that it exits with status 1
// and logs an error naming database.path and want.
func expectStartError(t *testing.T, d *Daemon, want ...string) {
	t.Helper()
	if code := d.Wait(); code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", code, d.Log())
	}
	log := d.Log()
	for _, w := range append([]string{"database.path"}, want...) {
		if !strings.Contains(log, w) {
			t.Errorf("the start-up error does not say %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
		t.Errorf("the daemon crashed instead of reporting:\n%s", log)
	}
	if e := d.Find(func(e map[string]any) bool { return e["level"] == "error" }); e != nil {
		t.Logf("start-up error: %v", e["error"])
	}
}

// TestDatabaseUnwritable starts the daemon on a database it cannot write:
// a read-only directory or file, a path below a regular file, a device
// that is always full, and a file-size limit reached at start. Each is a
// clear error at start (exit status 1, the key and the cause named). A
// limit reached later, while serving, fails actions and events with an
// error in the log and leaves the daemon running and answering.
func TestDatabaseUnwritable(t *testing.T) {
	bin := daemonBinary(t)

	t.Run("read-only directory", func(t *testing.T) {
		dir := openDir(t)
		dbDir := filepath.Join(dir, "db")
		if err := os.Mkdir(dbDir, 0o555); err != nil {
			t.Fatal(err)
		}
		cfg := writeConfig(t, dir, DaemonConfig(filepath.Join(dbDir, "yunhu-onebot.db"), "servers:\n  - http:\n      address: 127.0.0.1:0\n"))
		d := startDaemonAs(t, asUnprivileged(t, filepath.Dir(bin)), nil, bin, "-sandbox", "-c", cfg)
		expectStartError(t, d, "permission denied")
	})

	t.Run("read-only file", func(t *testing.T) {
		dir := openDir(t)
		db := filepath.Join(dir, "yunhu-onebot.db")
		cfg := writeConfig(t, dir, DaemonConfig(db, "servers:\n  - http:\n      address: 127.0.0.1:0\n"))
		// A database made by an earlier run, now read-only.
		first := StartDaemon(t, nil, bin, "-sandbox", "-c", cfg)
		first.WaitReady()
		if code := first.Stop(); code != 0 {
			t.Fatalf("first run: exit status %d\n%s", code, first.Log())
		}
		sandboxDB := strings.TrimSuffix(db, ".db") + ".sandbox.db"
		if err := os.Chmod(sandboxDB, 0o444); err != nil {
			t.Fatal(err)
		}
		d := startDaemonAs(t, asUnprivileged(t, filepath.Dir(bin)), nil, bin, "-sandbox", "-c", cfg)
		expectStartError(t, d, "permission denied")
	})

	t.Run("path below a regular file", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "not-a-directory")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := writeConfig(t, dir, DaemonConfig(filepath.Join(file, "yunhu-onebot.db"), "servers:\n  - http:\n      address: 127.0.0.1:0\n"))
		expectStartError(t, StartDaemon(t, nil, bin, "-sandbox", "-c", cfg), "not a directory")
	})

	t.Run("full device", func(t *testing.T) {
		if fi, err := os.Stat("/dev/full"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Skip("no /dev/full on this machine")
		}
		_, sections := simSections(t)
		dir := t.TempDir()
		// Not -sandbox, which would put the database next to /dev/full.
		cfg := writeConfig(t, dir, DaemonConfig("/dev/full", sections))
		expectStartError(t, StartDaemon(t, nil, bin, "-c", cfg), "no space left on device")
	})

	t.Run("file-size limit at start", func(t *testing.T) {
		dir := t.TempDir()
		cfg := writeConfig(t, dir, DaemonConfig(filepath.Join(dir, "yunhu-onebot.db"), "servers:\n  - http:\n      address: 127.0.0.1:0\n"))
		env, argv := withFileLimit(4096, bin, "-sandbox", "-c", cfg)
		expectStartError(t, StartDaemon(t, env, argv...), "file too large")
	})

	t.Run("file-size limit while serving", func(t *testing.T) {
		s, sections := simSections(t)
		dir := t.TempDir()
		cfg := writeConfig(t, dir, DaemonConfig(filepath.Join(dir, "yunhu-onebot.db"), sections))
		env, argv := withFileLimit(256<<10, bin, "-c", cfg)
		d := StartDaemon(t, env, argv...)
		api := "http://" + d.WaitReady()["http"]
		online, cancel := context.WithTimeout(context.Background(), WaitTimeout)
		defer cancel()
		if err := s.WaitOnline(online, sim.SelfID, 1); err != nil {
			t.Fatal(err)
		}
		// Each call is bounded (PostJSON), the loop by its count: one
		// deadline for all of them would be a timed assertion.
		ctx := context.Background()
		// Fill the file: sent messages get their ids until the limit.
		var failure Reply
		for i := 0; ; i++ {
			if i == 20000 {
				t.Fatal("20000 messages fit under a 256 KiB file-size limit")
			}
			status, raw, err := PostJSON(ctx, api+"/send_group_msg", "application/json",
				strings.NewReader(`{"group_id":`+sim.GroupOwnedID+`,"message":"`+strings.Repeat("x", 200)+`"}`))
			if err != nil {
				t.Fatalf("send_group_msg %d: %v\n%s", i, err, d.Log())
			}
			r, err := ParseReply(raw)
			if err != nil {
				t.Fatalf("send_group_msg %d: HTTP %d %v", i, status, err)
			}
			if r.Retcode != 0 {
				failure = r
				t.Logf("send_group_msg %d failed: HTTP %d %+v", i, status, r)
				break
			}
		}
		if failure.Retcode != 100 {
			t.Errorf("the failure at the limit: %+v; want retcode 100", failure)
		}
		// Pushes keep arriving and cannot be stored either.
		for i := range 50 {
			if _, err := s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "after " + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		WaitFor(t, "the write failure in the log", func() bool {
			return strings.Contains(d.Log(), "file too large")
		})
		// Still up, still answering.
		for _, action := range []string{"get_status", "get_login_info", "get_group_list"} {
			status, raw, err := PostJSON(ctx, api+"/"+action, "application/json", strings.NewReader(`{}`))
			if err != nil || status != http.StatusOK {
				t.Errorf("%s after the limit: HTTP %d, %v, %s", action, status, err, raw)
			}
		}
		select {
		case <-d.Exited():
			t.Fatalf("the daemon exited\n%s", d.Log())
		default:
		}
		if code := d.Stop(); code != 0 && code != 1 {
			t.Errorf("SIGTERM: exit status %d", code)
		}
		if log := d.Log(); strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
			t.Errorf("the daemon crashed:\n%s", log)
		}
	})
}

// startDaemonAs is StartDaemon with process attributes (another user).
func startDaemonAs(t *testing.T, attr *syscall.SysProcAttr, env []string, argv ...string) *Daemon {
	t.Helper()
	if attr == nil {
		return StartDaemon(t, env, argv...)
	}
	return StartDaemonWith(t, func(cmd *exec.Cmd) { cmd.SysProcAttr = attr }, env, argv...)
}

// TestKillUnderLoad runs the daemon binary for an account on a simulated
// Yunhu, sends messages through its HTTP API and makes a simulated user
// talk while a forward-WS client collects the events, kills it with
// SIGKILL in the middle of it,
// and starts it again on the same database: every message_id handed out
// before the crash still answers get_msg with its own message, no id was
// given to two messages, and ids handed out after the restart are new.
func TestKillUnderLoad(t *testing.T) {
	bin := daemonBinary(t)
	dir := t.TempDir()
	// A real account's setup, not -sandbox, whose database starts empty on
	// every run: the simulated Yunhu and the database outlive the crash.
	s, sections := simSections(t)
	cfg := writeConfig(t, dir, DaemonConfig(filepath.Join(dir, "yunhu-onebot.db"),
		sections+"  - ws:\n      address: 127.0.0.1:0\n"))

	var (
		mu    sync.Mutex
		given = map[int64]string{} // message_id → text, as the daemon told us
		dups  []string
	)
	record := func(id int64, text string) {
		mu.Lock()
		defer mu.Unlock()
		if old, ok := given[id]; ok && old != text {
			dups = append(dups, fmt.Sprintf("message_id %d for %q and %q", id, old, text))
		}
		given[id] = text
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(given)
	}

	d := StartDaemon(t, nil, bin, "-c", cfg)
	addrs := d.WaitReady()
	api := "http://" + addrs["http"]
	waitLogins(t, s, 1)
	c, err := DialWS("ws://"+addrs["ws"]+"/", func(raw []byte) {
		if IsMessageEvent(raw) {
			record(gjson.GetBytes(raw, "message_id").Int(), gjson.GetBytes(raw, "raw_message").Str)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Load: four senders and one simulated user, until the daemon dies
	// (or the test ends early). Each call is bounded (PostJSON).
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var load sync.WaitGroup
	for g := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			for i := 0; ctx.Err() == nil; i++ {
				text := fmt.Sprintf("out %d-%d", g, i)
				_, raw, err := PostJSON(ctx, api+"/send_group_msg", "application/json",
					strings.NewReader(`{"group_id":`+sim.GroupOwnedID+`,"message":"`+text+`"}`))
				if err != nil {
					return // killed
				}
				if r, err := ParseReply(raw); err == nil && r.Retcode == 0 {
					record(gjson.GetBytes(r.Data, "message_id").Int(), text)
				}
			}
		}()
	}
	exited := d.Exited()
	load.Add(1)
	go func() {
		defer load.Done()
		// Until the daemon dies, at most 2000 messages, a millisecond apart.
		for i := 0; i < 2000 && ctx.Err() == nil; i++ {
			select {
			case <-exited:
				return
			case <-time.After(time.Millisecond):
			}
			if _, err := s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "in " + strconv.Itoa(i)}); err != nil {
				t.Errorf("Alice could not speak: %v", err)
				return
			}
		}
	}()
	WaitFor(t, "400 message ids handed out", func() bool { return count() >= 400 })
	d.Kill()
	load.Wait()
	c.Close()
	mu.Lock()
	before := maps.Clone(given)
	mu.Unlock()
	var maxID int64
	for id := range before {
		maxID = max(maxID, id)
		if id <= 0 {
			t.Errorf("message_id %d handed out", id)
		}
	}

	logins := s.Logins(sim.SelfID)
	d = StartDaemon(t, nil, bin, "-c", cfg)
	addrs = d.WaitReady()
	api = "http://" + addrs["http"]
	waitLogins(t, s, logins+1)
	bad := 0
	for id, text := range before {
		_, raw, err := PostJSON(ctx, api+"/get_msg", "application/json", strings.NewReader(`{"message_id":`+strconv.FormatInt(id, 10)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReply(raw)
		if err != nil || r.Retcode != 0 || gjson.GetBytes(r.Data, "raw_message").Str != text {
			if bad++; bad <= 10 {
				t.Errorf("get_msg %d (%q) after the crash: %s", id, text, Shorten(raw))
			}
		}
	}
	// New ids continue the sequence: none handed out before is reused.
	for i := range 20 {
		r := mustPost(t, api+"/send_group_msg", `{"group_id":`+sim.GroupOwnedID+`,"message":"after `+strconv.Itoa(i)+`"}`)
		if id := gjson.GetBytes(r.Data, "message_id").Int(); id <= maxID {
			t.Errorf("after the restart, message_id %d (the highest before was %d)", id, maxID)
		}
	}
	for _, dup := range dups {
		t.Error(dup)
	}
	t.Logf("%d message ids handed out before SIGKILL (highest %d); %d failed get_msg after the restart", len(before), maxID, bad)
	if code := d.Stop(); code != 0 {
		t.Errorf("SIGTERM after the restart: exit status %d", code)
	}
}

// waitLogins waits until the account's push socket has logged in to the
// simulator n times in all (the daemon is up and receiving pushes).
func waitLogins(t *testing.T, s *sim.Server, n int) {
	t.Helper()
	WaitFor(t, "the daemon's push socket to log in", func() bool { return s.Logins(sim.SelfID) >= n })
}

// mustPost calls an HTTP API action that must succeed.
func mustPost(t *testing.T, url, body string) Reply {
	t.Helper()
	status, raw, err := PostJSON(context.Background(), url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReply(raw)
	if err != nil || status != http.StatusOK || r.Retcode != 0 {
		t.Fatalf("%s %s: HTTP %d %s", url, body, status, Shorten(raw))
	}
	return r
}
