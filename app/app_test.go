package app

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// testConfig is the default config on loopback ports of the system's
// choosing, with the metrics listener on, pointed at a Yunhu nobody
// answers (New dials nothing; only Run does).
func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Database.Path = filepath.Join(t.TempDir(), "app.db")
	cfg.Account.Token = "token-for-a-test"
	cfg.Yunhu.APIURL, cfg.Yunhu.WSURL, cfg.Yunhu.UploadURL = "http://127.0.0.1:1", "ws://127.0.0.1:1/ws", "http://127.0.0.1:1"
	cfg.Servers = config.DefaultServers()
	cfg.Servers[0].HTTP.Address, cfg.Servers[1].WS.Address = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Metrics.Address = "127.0.0.1:0"
	return &cfg
}

// TestNewFailureReleasesEverything: a port in use fails New with the
// config key that names it, and leaves nothing open: the store's file
// lock is free again.
func TestNewFailureReleasesEverything(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t)
	cfg.Metrics.Address = taken.Addr().String() // bound last, after the servers

	_, err = New(context.Background(), cfg, Options{Log: zaptest.NewLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "metrics.address") {
		t.Fatalf("New with metrics.address in use: %v, want an error naming metrics.address", err)
	}
	db, err := store.Open(store.Options{Path: cfg.Database.Path})
	if err != nil {
		t.Fatalf("the store is still held after New failed: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRunServesThenReleases: the listeners New binds serve once Run runs
// (the HTTP API answers, OnReady sees them in config order with the
// metrics listener last), and once Run returns every listener is closed
// and the store is released.
func TestRunServesThenReleases(t *testing.T) {
	cfg := testConfig(t)
	ready := make(chan []net.Addr, 1)
	stopping := make(chan struct{})
	a, err := New(context.Background(), cfg, Options{
		Log:     zaptest.NewLogger(t),
		Version: "test",
		OnReady: func(addrs []net.Addr) { ready <- addrs },
		OnStop:  func() { close(stopping) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Addrs()) != 3 || a.Metrics == nil {
		t.Fatalf("addresses %v, metrics %v: want the HTTP API, the WebSocket and metrics", a.Addrs(), a.Metrics)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	addrs := <-ready
	for i, want := range a.Addrs() {
		if addrs[i].String() != want.String() {
			t.Fatalf("OnReady got %v, want %v", addrs, a.Addrs())
		}
	}
	resp, err := http.Get("http://" + addrs[0].String() + "/get_version_info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the HTTP API answered %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addrs[2].String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz answered %d", resp.StatusCode)
	}

	cancel()
	<-stopping
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, addr := range addrs {
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			c.Close()
			t.Errorf("%v still accepts connections after Run returned", addr)
		}
	}
	db, err := store.Open(store.Options{Path: cfg.Database.Path})
	if err != nil {
		t.Fatalf("the store is still held after Run returned: %v", err)
	}
	_ = db.Close()
	if err := a.Close(); err != nil {
		t.Errorf("Close after Run: %v", err)
	}
}
