//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// ttyLogin is -login running in a child process on a pseudo-terminal.
type ttyLogin struct {
	t             *testing.T
	cmd           *exec.Cmd
	master, slave *os.File
	stdout        bytes.Buffer
	mu            sync.Mutex
	screen        bytes.Buffer // everything the terminal showed
	readDone      chan struct{}
}

// startTTYLogin starts -login with the terminal as stdin and stderr, and
// returns once the prompt is shown and echo is off: typing earlier would be
// echoed by the terminal itself, whatever the program does.
func startTTYLogin(t *testing.T, config string) *ttyLogin {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	}
	var slave *os.File
	if err == nil {
		slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		_ = master.Close()
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	l := &ttyLogin{t: t, master: master, slave: slave, readDone: make(chan struct{})}
	l.cmd = exec.Command(os.Args[0], "-test.run=^$")
	l.cmd.Env = append(os.Environ(), "YUNHU_ONEBOT_TEST_CHILD=1", "GORACE=atexit_sleep_ms=0",
		"YUNHU_ONEBOT_TEST_ARGS=-login -c "+config+" -email "+sim.EmailFor(sim.SelfID))
	l.cmd.Stdin, l.cmd.Stdout, l.cmd.Stderr = slave, &l.stdout, slave
	if err := l.cmd.Start(); err != nil {
		_ = slave.Close()
		_ = master.Close()
		t.Fatal(err)
	}
	go func() {
		defer close(l.readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			l.mu.Lock()
			l.screen.Write(buf[:n])
			l.mu.Unlock()
			if err != nil {
				return // EIO once no process holds the terminal open
			}
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(l.shown(), "Password for ") || l.echo() {
		if time.Now().After(deadline) {
			_ = l.cmd.Process.Kill()
			l.wait()
			t.Fatalf("no prompt with echo off; the terminal shows %q", l.shown())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return l
}

func (l *ttyLogin) shown() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.screen.String()
}

// echo reports whether the terminal echoes what is typed.
func (l *ttyLogin) echo() bool {
	tio, err := unix.IoctlGetTermios(int(l.slave.Fd()), unix.TCGETS)
	if err != nil {
		l.t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// wait waits for the child and the terminal reader, and returns the exit
// code; the terminal stays readable by echo() until the master closes.
func (l *ttyLogin) wait() int {
	_ = l.cmd.Wait()
	l.t.Cleanup(func() { _ = l.slave.Close(); _ = l.master.Close() })
	_ = l.slave.Close() // the reader sees EIO once no end but ours is open
	select {
	case <-l.readDone:
	case <-time.After(10 * time.Second):
		l.t.Fatal("the terminal did not close")
	}
	return l.cmd.ProcessState.ExitCode()
}

// TestLoginPasswordNotEchoed types the password on a real terminal: the
// prompt appears there, echo is off while the password is read (so it is
// never shown), and the sign-in works.
func TestLoginPasswordNotEchoed(t *testing.T) {
	w := newLoginWorld(t, "")
	l := startTTYLogin(t, w.config)
	if _, err := l.master.Write([]byte(sim.Password + "\r")); err != nil {
		t.Fatal(err)
	}
	if code := l.wait(); code != exitOK {
		t.Fatalf("exit %d\nterminal: %q\nstdout: %s", code, l.shown(), l.stdout.String())
	}
	if strings.Contains(l.shown(), sim.Password) {
		t.Errorf("the password was shown: %q", l.shown())
	}
	if !strings.Contains(l.stdout.String(), "Signed in as") {
		t.Errorf("stdout %q", l.stdout.String())
	}
	readToken(t, filepath.Join(w.dir, "token"))
}

// TestLoginInterruptRestoresEcho: Ctrl-C at the password prompt ends the
// command with status 130 and leaves the terminal echoing again.
func TestLoginInterruptRestoresEcho(t *testing.T) {
	w := newLoginWorld(t, "")
	l := startTTYLogin(t, w.config)
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// Read the terminal's mode before the slave end is closed by wait.
	_ = l.cmd.Wait()
	if code := l.cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if !l.echo() {
		t.Error("the terminal was left with echo off")
	}
	_ = l.slave.Close()
	<-l.readDone
	_ = l.master.Close()
	if _, err := os.Stat(filepath.Join(w.dir, "token")); !os.IsNotExist(err) {
		t.Errorf("a token file exists after an interrupted sign-in: %v", err)
	}
}
