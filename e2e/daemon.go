package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real daemon, as a child process: what a crash, a resource limit or
// a resident-memory figure is only honest about.

// BuildDaemon builds the yunhu-onebot binary into dir (without the race
// detector: the daemon's own code is race-tested in process).
func BuildDaemon(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "yunhu-onebot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/yunhu-onebot/yunhu-onebot")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the daemon: %w\n%s", err, out)
	}
	return bin, nil
}

// DaemonConfig returns a configuration file body: the given sections
// (YAML, top-level keys), a JSON info log, heartbeats off, and the
// database at dbPath with any further database keys given ("key: value").
func DaemonConfig(dbPath string, sections string, database ...string) string {
	db := "database:\n  path: " + strconv.Quote(dbPath) + "\n"
	for _, kv := range database {
		db += "  " + kv + "\n"
	}
	return db +
		"log:\n  level: info\n  format: json\n" +
		"heartbeat:\n  interval: 0\n" + sections
}

// Daemon is a running daemon process with its JSON log.
type Daemon struct {
	tb  testing.TB
	cmd *exec.Cmd

	mu      sync.Mutex // guards the fields below
	entries []map[string]any
	raw     bytes.Buffer

	logDone chan struct{}
	exited  chan struct{}
	waitErr error
}

// StartDaemon runs argv (the daemon binary and its flags, possibly behind
// a launcher) with env added to the environment. The process is killed
// when the test ends if it is still running.
func StartDaemon(tb testing.TB, env []string, argv ...string) *Daemon {
	tb.Helper()
	return StartDaemonWith(tb, nil, env, argv...)
}

// StartDaemonWith is StartDaemon with setup, when not nil, called on the
// command before it starts (to run it as another user, say).
func StartDaemonWith(tb testing.TB, setup func(*exec.Cmd), env []string, argv ...string) *Daemon {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "YUNHU_TOKEN=")
	cmd.Env = append(cmd.Env, env...)
	if setup != nil {
		setup(cmd)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	d := &Daemon{tb: tb, cmd: cmd, logDone: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go d.readLog(stderr)
	go func() {
		<-d.logDone
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	tb.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		if tb.Failed() {
			tb.Logf("daemon log:\n%s", d.Log())
		}
	})
	return d
}

func (d *Daemon) readLog(r io.Reader) {
	defer close(d.logDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e map[string]any
		d.mu.Lock()
		d.raw.Write(line)
		d.raw.WriteByte('\n')
		if json.Unmarshal(line, &e) == nil {
			d.entries = append(d.entries, e)
		}
		d.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// PID is the process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Log is everything the daemon wrote to stderr so far.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.raw.String()
}

// Find returns the first log entry match accepts, or nil.
func (d *Daemon) Find(match func(map[string]any) bool) map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.entries {
		if match(e) {
			return e
		}
	}
	return nil
}

// WaitReady waits for the "ready" log entry and returns the bound
// addresses by logger name ("http", "ws") and, in -sandbox, the
// simulator's base URL under "sandbox". It fails the test if the daemon
// exits first.
func (d *Daemon) WaitReady() map[string]string {
	d.tb.Helper()
	WaitFor(d.tb, "the daemon to be ready", func() bool {
		select {
		case <-d.exited:
			d.tb.Fatalf("the daemon exited before it was ready: %v\n%s", d.waitErr, d.Log())
		default:
		}
		return d.Find(func(e map[string]any) bool { return e["msg"] == "ready" }) != nil
	})
	addrs := map[string]string{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.entries {
		switch {
		case e["msg"] == "listening":
			addrs[fmt.Sprint(e["logger"])] = fmt.Sprint(e["address"])
		case e["logger"] == "sandbox" && e["url"] != nil:
			addrs["sandbox"] = fmt.Sprint(e["url"])
		}
	}
	return addrs
}

// Exited is closed once the process has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Wait waits at most WaitTimeout for the process to exit and returns its
// exit code (-1 if a signal ended it).
func (d *Daemon) Wait() int {
	d.tb.Helper()
	select {
	case <-d.exited:
	case <-time.After(WaitTimeout):
		d.tb.Fatalf("the daemon did not exit within %v\n%s", WaitTimeout, d.Log())
	}
	return d.cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL and waits for the process to be gone.
func (d *Daemon) Kill() {
	d.tb.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	d.Wait()
}

// Stop sends SIGTERM, as systemd does, and returns the exit code.
func (d *Daemon) Stop() int {
	d.tb.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	return d.Wait()
}

// Memory is a process's memory from /proc/<pid>/status, in bytes: VmRSS
// and its anonymous (heap, stacks) and file-backed (binary, mapped
// database) parts, and the peak VmHWM.
type Memory struct {
	RSS, Anon, File, HWM int64
}

func (m Memory) String() string {
	const mib = 1 << 20
	return fmt.Sprintf("RSS %.1f MiB (anon %.1f, file %.1f)", float64(m.RSS)/mib, float64(m.Anon)/mib, float64(m.File)/mib)
}

// ReadMemory reads /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			m.RSS = n << 10
		case "RssAnon":
			m.Anon = n << 10
		case "RssFile":
			m.File = n << 10
		case "VmHWM":
			m.HWM = n << 10
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}
