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

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
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
	if err == nil {
		slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		_ = master.Close()
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	return master, slave
}

// TestLoginPasswordNotEchoed types the password on a real terminal: the
// prompt appears there, the terminal's echo is off while the password is
// read (so it is never shown), and the sign-in works.
func TestLoginPasswordNotEchoed(t *testing.T) {
	w := newLoginWorld(t, "")
	master, slave := openPTY(t)
	defer master.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "YUNHU_ONEBOT_TEST_CHILD=1", "GORACE=atexit_sleep_ms=0",
		"YUNHU_ONEBOT_TEST_ARGS=-login -c "+w.config+" -email "+sim.EmailFor(sim.SelfID))
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &stdout, slave
	if err := cmd.Start(); err != nil {
		_ = slave.Close()
		t.Fatal(err)
	}

	// Everything the terminal shows, until the child's end of it closes.
	var mu sync.Mutex
	var screen bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once no process holds the terminal open
			}
		}
	}()
	shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }

	// Type only once the prompt is up and echo is off; typing earlier
	// would be echoed by the terminal itself, whatever the program does.
	deadline := time.Now().Add(15 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(shown(), "Password for ") && tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			_ = slave.Close()
			t.Fatalf("no prompt with echo off; the terminal shows %q", shown())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := master.Write([]byte(sim.Password + "\r")); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	_ = slave.Close()
	select {
	case <-readDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not close")
	}
	if err != nil {
		t.Fatalf("login: %v\nterminal: %q\nstdout: %s", err, shown(), stdout.String())
	}
	if strings.Contains(shown(), sim.Password) {
		t.Errorf("the password was shown: %q", shown())
	}
	if !strings.Contains(stdout.String(), "Signed in as") {
		t.Errorf("stdout %q", stdout.String())
	}
	readToken(t, filepath.Join(w.dir, "token"))
}
