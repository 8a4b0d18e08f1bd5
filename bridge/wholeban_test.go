package bridge_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/backend/fake"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// mutingBackend is the fake backend with whole-group mute, recording
// the calls.
type mutingBackend struct {
	*fake.Backend
	mu    sync.Mutex
	calls []string
}

func (b *mutingBackend) MuteAll(_ context.Context, groupID string, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if on {
		b.calls = append(b.calls, "mute "+groupID)
	} else {
		b.calls = append(b.calls, "unmute "+groupID)
	}
	return nil
}

// TestSetGroupWholeBan: set_group_whole_ban reaches a backend with
// WholeMute (enable defaults to true), and answers 1404 naming the
// backend on one without it.
func TestSetGroupWholeBan(t *testing.T) {
	srv := fake.NewServer(fake.Options{})
	for _, u := range []fake.User{{ID: "10001", Name: "Self"}} {
		if err := srv.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	call := func(backend platform.Backend, params string) onebot.Response {
		t.Helper()
		st, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "b.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		router := onebot.NewRouter(onebot.RouterOptions{Log: zaptest.NewLogger(t)})
		opts := bridge.Options{Backend: backend, Store: st, Hub: onebot.NewHub(onebot.HubOptions{}), Router: router, Log: zaptest.NewLogger(t)}
		if _, err := bridge.New(opts); err != nil {
			t.Fatal(err)
		}
		gid, err := st.ToInt(context.Background(), "grp-a")
		if err != nil {
			t.Fatal(err)
		}
		return router.Handle(context.Background(), "set_group_whole_ban", json.RawMessage(strings.ReplaceAll(params, "GID", strconv.FormatInt(gid, 10))))
	}

	muting := &mutingBackend{Backend: fake.NewBackend(fake.BackendOptions{Server: srv, Account: "10001"})}
	if r := call(muting, `{"group_id":GID}`); r.Retcode != 0 {
		t.Fatalf("set_group_whole_ban: %+v", r)
	}
	if r := call(muting, `{"group_id":GID,"enable":false}`); r.Retcode != 0 {
		t.Fatalf("set_group_whole_ban enable=false: %+v", r)
	}
	if got := strings.Join(muting.calls, ","); got != "mute grp-a,unmute grp-a" {
		t.Errorf("MuteAll calls %q", got)
	}
	plain := fake.NewBackend(fake.BackendOptions{Server: srv, Account: "10001"})
	if r := call(plain, `{"group_id":GID}`); r.Retcode != onebot.RetcodeUnknownAction || !strings.Contains(r.Wording, "fake") {
		t.Errorf("without WholeMute: %+v, want 1404 naming the backend", r)
	}
}
