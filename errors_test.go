package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// assertOneCleanErrorLine checks how a failed start reads: exactly one
// ERROR line, no Go stack trace under it, and no context said twice (as in
// "log in: log in: ...").
func assertOneCleanErrorLine(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"goroutine", ".go:", "main.cli", "runtime.main"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr holds %q (a stack trace):\n%s", bad, stderr)
		}
	}
	var errLines []string
	for line := range strings.Lines(stderr) {
		if strings.Contains(line, " ERROR ") {
			errLines = append(errLines, line)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("%d ERROR lines, want 1:\n%s", len(errLines), stderr)
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(errLines[0], ": ") {
		part = strings.TrimSpace(part)
		if seen[part] {
			t.Errorf("the error says %q twice: %s", part, errLines[0])
		}
		seen[part] = true
	}
}

// TestPortInUseReadsCleanly: a listen address another process holds stops
// the start with one line naming the key, and exit status 1 (a restart may
// find the port free).
func TestPortInUseReadsCleanly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path := writeConfig(t, "database:\n  path: "+filepath.Join(t.TempDir(), "d.db")+
		"\nservers:\n  - http:\n      address: "+taken.Addr().String()+"\n")
	out := runCLI(t, nil, "-sandbox", "-c", path)
	if out.code != exitError {
		t.Errorf("exit status %d, want %d", out.code, exitError)
	}
	if !strings.Contains(out.stderr, "servers[0].http.address: listen tcp "+taken.Addr().String()) {
		t.Errorf("stderr does not name the key and address:\n%s", out.stderr)
	}
	assertOneCleanErrorLine(t, out.stderr)
}

// TestDatabaseLockedReadsCleanly: a second daemon on a database another
// one holds stops with one line naming the file once, and exit status 1.
func TestDatabaseLockedReadsCleanly(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "d.db")
	// The first daemon: -sandbox keeps its data in d.sandbox.db.
	held, err := store.Open(store.Options{Path: sandboxPath(dbPath)})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	path := writeConfig(t, "database:\n  path: "+dbPath+"\nservers:\n  - ws:\n      address: 127.0.0.1:0\n")
	out := runCLI(t, nil, "-sandbox", "-c", path)
	if out.code != exitError {
		t.Errorf("exit status %d, want %d", out.code, exitError)
	}
	if !strings.Contains(out.stderr, "database is in use by another process") {
		t.Errorf("stderr does not say the database is in use:\n%s", out.stderr)
	}
	if n := strings.Count(out.stderr, sandboxPath(dbPath)); n != 1 {
		t.Errorf("the database file is named %d times, want once:\n%s", n, out.stderr)
	}
	assertOneCleanErrorLine(t, out.stderr)
}
