package main

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	wksim "github.com/yunhu-onebot/yunhu-onebot/wukongim/sim"
)

// TestWuKongIMRefusedTokenStopsTheDaemon: WuKongIM refuses a wrong token
// by saying nothing and closing the socket; after a few such refusals the
// daemon stops with status 77 and one line saying what to fix, without
// the token in it.
func TestWuKongIMRefusedTokenStopsTheDaemon(t *testing.T) {
	s := wksim.New(wksim.Options{Log: zap.NewNop(), AuthCloseDelay: 20 * time.Millisecond})
	api := httptest.NewServer(s.Handler())
	ws := httptest.NewServer(s.WSHandler())
	defer api.Close()
	defer ws.Close()
	defer s.Close()
	s.RegisterToken("bot1", "the-right-token", 2, 1)
	urls := wksim.Endpoints(api.URL, ws.URL)
	dir := t.TempDir()
	path := writeConfig(t, "backend: wukongim\nwukongim:\n  uid: bot1\n  token: a-wrong-token-0123456789\n"+
		"  api-url: "+urls.API+"\n  ws-url: "+urls.WS+"\n"+
		"database:\n  path: "+filepath.Join(dir, "d.db")+"\nservers:\n  - ws:\n      address: 127.0.0.1:0\n")
	done := make(chan output, 1)
	go func() { done <- runCLI(t, nil, "-c", path) }()
	select {
	case out := <-done:
		if out.code != exitNoPerm {
			t.Errorf("exit code %d, want %d\n%s", out.code, exitNoPerm, out.stderr)
		}
		for _, want := range []string{"token refused", "wukongim.token"} {
			if !strings.Contains(out.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
			}
		}
		if strings.Contains(out.stderr, "a-wrong-token-0123456789") {
			t.Errorf("the token appears in the log:\n%s", out.stderr)
		}
		assertOneCleanErrorLine(t, out.stderr)
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon kept running with a refused token")
	}
}
