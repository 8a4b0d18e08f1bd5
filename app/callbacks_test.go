package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/backend/fake"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// calledBackend is the fake backend with platform.Callbacks, as a platform
// that calls the daemon (WildfireChat) is.
type calledBackend struct {
	*fake.Backend
	addr    string
	handler http.Handler
}

func (b calledBackend) Handler() http.Handler   { return b.handler }
func (b calledBackend) CallbackAddress() string { return b.addr }

// TestBackendCallbacks: a backend with Callbacks gets its handler served
// on its address beside the OneBot listeners (after them, before the
// monitoring listener), from New on, and closed when Run returns.
func TestBackendCallbacks(t *testing.T) {
	srv := fake.NewServer(fake.Options{})
	if err := srv.AddUser(fake.User{ID: "10001", Name: "Self"}); err != nil {
		t.Fatal(err)
	}
	called := make(chan string, 1)
	cfg := testConfig(t)
	a, err := New(context.Background(), cfg, Options{
		Log: zaptest.NewLogger(t),
		Backend: func(_ *store.Store, log *zap.Logger) (platform.Backend, error) {
			return calledBackend{
				Backend: fake.NewBackend(fake.BackendOptions{Server: srv, Account: "10001", Log: log}),
				addr:    "127.0.0.1:0",
				handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					called <- r.URL.Path
					_, _ = io.WriteString(w, "stored")
				}),
			}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	addrs := a.Addrs()
	if len(addrs) != 4 {
		t.Fatalf("addresses %v: want the HTTP API, the WebSocket, the callback and metrics", addrs)
	}
	callback := addrs[2].String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	resp, err := http.Post("http://"+callback+"/hook/secret", "application/json", nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "stored" || <-called != "/hook/secret" {
		t.Errorf("callback answered %q", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	if c, err := net.DialTimeout("tcp", callback, time.Second); err == nil {
		c.Close()
		t.Errorf("the callback listener %s still accepts after Run returned", callback)
	}
}
