package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckShowsDefaultListeners: a file that leaves servers out gets the
// README's listeners, and -check says so.
func TestCheckShowsDefaultListeners(t *testing.T) {
	out := runCLI(t, nil, "-check", "-c", writeConfig(t, ""))
	if out.code != exitOK {
		t.Fatalf("exit status %d\n%s", out.code, out.stderr)
	}
	for _, want := range []string{"servers[0]: HTTP API on 127.0.0.1:5700", "servers[1]: forward WebSocket on 127.0.0.1:6700"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.stdout)
		}
	}
}

// TestCheckRefusesEmptyServers: servers: [] would start a daemon no bot
// can reach; it is a configuration error (78).
func TestCheckRefusesEmptyServers(t *testing.T) {
	path := writeConfig(t, "servers: []\n")
	for _, args := range [][]string{{"-check", "-c", path}, {"-sandbox", "-c", path}} {
		out := runCLI(t, nil, args...)
		if out.code != exitConfig || !strings.Contains(out.stderr, ":1: servers: is empty, so no bot could connect") {
			t.Errorf("%v: exit status %d, stderr %q", args, out.code, out.stderr)
		}
	}
}

// TestCheckWarns: an HTTP API open beyond loopback without a token and an
// unset ${VAR} pass -check (status 0) with a warning each.
func TestCheckWarns(t *testing.T) {
	path := writeConfig(t, "servers:\n  - http:\n      address: 0.0.0.0:5700\n  - ws:\n      address: 127.0.0.1:6700\n      access-token: ${H13_UNSET_TOKEN}\n")
	out := runCLI(t, nil, "-check", "-c", path)
	if out.code != exitOK {
		t.Fatalf("exit status %d\n%s", out.code, out.stderr)
	}
	for _, want := range []string{
		"warning: " + path + ":3: servers[0].http.address: 0.0.0.0:5700 is reachable beyond this host and has no access-token",
		"warning: " + path + ":6: servers[1].ws.access-token: ${H13_UNSET_TOKEN} is not set in the environment",
	} {
		if !strings.Contains(out.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
		}
	}
}

// TestStartLogsWarnings: the same warnings reach the log at start, where
// journald keeps them.
func TestStartLogsWarnings(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path := writeConfig(t, "database:\n  path: "+filepath.Join(t.TempDir(), "d.db")+
		"\nservers:\n  - http:\n      address: "+taken.Addr().String()+"\n      access-token: ${H13_UNSET_TOKEN}\n")
	out := runCLI(t, nil, "-sandbox", "-c", path)
	if !strings.Contains(out.stderr, "WARN configuration: "+path+":6: servers[0].http.access-token: ${H13_UNSET_TOKEN} is not set") {
		t.Errorf("the start did not log the warning:\n%s", out.stderr)
	}
}

// TestMigrateThenCheck: the README's migration, end to end through the
// command line: -migrate writes a configuration -check accepts, with the
// go-cqhttp listeners, and names what has no equivalent without showing
// a secret.
func TestMigrateThenCheck(t *testing.T) {
	mig := runCLI(t, nil, "-migrate", filepath.Join("migrate", "testdata", "gocq-config.yml"))
	if mig.code != exitOK {
		t.Fatalf("-migrate: exit status %d\n%s", mig.code, mig.stderr)
	}
	for _, want := range []string{"servers[4].pprof: go-cqhttp's profiling server has no equivalent", "account: go-cqhttp's QQ login"} {
		if !strings.Contains(mig.stderr, want) {
			t.Errorf("-migrate stderr lacks %q:\n%s", want, mig.stderr)
		}
	}
	for _, secret := range []string{"gocq-shared-token", "ws-own-token", "post-secret-1"} {
		if strings.Contains(mig.stderr, secret) {
			t.Errorf("-migrate shows %q on stderr", secret)
		}
		if !strings.Contains(mig.stdout, secret) {
			t.Errorf("-migrate lost %q", secret)
		}
	}
	check := runCLI(t, nil, "-check", "-c", writeConfig(t, mig.stdout))
	if check.code != exitOK {
		t.Fatalf("-check on the migrated file: exit status %d\n%s\n%s", check.code, check.stderr, mig.stdout)
	}
	for _, want := range []string{
		"servers[0]: HTTP API on 127.0.0.1:5700, access-token set, 2 post target(s)",
		"servers[1]: forward WebSocket on 0.0.0.0:6700, access-token set",
		"servers[2]: reverse WebSocket to ws://127.0.0.1:8081/onebot/v11/ws, access-token set",
	} {
		if !strings.Contains(check.stdout, want) {
			t.Errorf("-check stdout lacks %q:\n%s", want, check.stdout)
		}
	}

	if out := runCLI(t, nil, "-migrate", filepath.Join(t.TempDir(), "absent.yml")); out.code != exitConfig {
		t.Errorf("-migrate of a missing file: exit status %d, want %d", out.code, exitConfig)
	}
}
