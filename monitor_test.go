package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestDaemonServesMonitoring runs the daemon (sandbox) with
// metrics.address set: the monitoring listener is bound with the others
// and reported last, answers /healthz at once and /readyz once the
// account is logged in, serves the daemon's metrics, and is closed when
// the daemon stops.
func TestDaemonServesMonitoring(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Metrics.Address = "127.0.0.1:0"
	addrs := make(chan []net.Addr, 1)
	d := &daemon{cfg: cfg, log: zap.NewNop(), sandbox: true, getenv: func(string) string { return "" },
		onReady: func(a []net.Addr) { addrs <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	var bound []net.Addr
	select {
	case bound = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not get ready")
	}
	if len(bound) != 3 {
		t.Fatalf("bound %d listeners, want 3 (http, ws, metrics)", len(bound))
	}
	base := "http://" + bound[2].String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := get("/healthz"); status != http.StatusOK {
		t.Fatalf("/healthz: HTTP %d, want 200", status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := get("/readyz")
		if status == http.StatusOK {
			break
		}
		if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: ") {
			t.Fatalf("/readyz before login: HTTP %d %q, want 503 with a reason", status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never became ready: %q", body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	status, body := get("/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", status)
	}
	for _, want := range []string{
		`yunhu_onebot_yunhu_request_duration_seconds_count{endpoint="/v1/user/info"} `,
		"yunhu_onebot_ready 1",
		"yunhu_onebot_store_commit_duration_seconds_count ",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, cfg.Account.Token) {
		t.Error("/metrics contains the account token")
	}
	if status, _ := get("/nothing"); status != http.StatusNotFound {
		t.Errorf("/nothing: HTTP %d, want 404", status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("run did not return within %v", stopTimeout)
	}
	if c, err := net.DialTimeout("tcp", bound[2].String(), time.Second); err == nil {
		c.Close()
		t.Error("the metrics listener still accepts connections after stop")
	}
}
