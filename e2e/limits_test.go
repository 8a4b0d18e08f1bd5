package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
)

// TestUnreadRepliesAttack runs attack (a) against the whole pipeline with
// the daemon's default limits (but 16 calls in flight per connection):
// forward WebSocket clients send calls with 1 MiB echoes and never read a
// reply. Unbounded, this grew the daemon by 2.5 GB in 10 s; now each
// connection is closed once its unwritten replies pass 16 MiB (the cause
// in the log), the live heap stays within the 128 MiB request memory, and
// the daemon answers normally afterwards.
func TestUnreadRepliesAttack(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(), core))
	// 16 in-flight calls per connection (the daemon allows 64): 2 × 16
	// slots of a 2 MiB frame buffer and a 1 MiB reply never exhaust the
	// 128 MiB request memory, so what closes the connections is their
	// unread replies, whatever the scheduling.
	s := Start(t, Options{Log: log, WSConn: onebot.ConnOptions{MaxInFlight: 16}})

	var base, peak atomic.Uint64
	base.Store(liveHeap())
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := liveHeap(); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	const conns, calls = 2, 150 // 300 MiB of echoes offered
	clients := make([]*websocket.Conn, conns)
	var wg sync.WaitGroup
	for i := range clients {
		c, err := dialNotReading(s.WSURL + "/api")
		if err != nil {
			close(stop)
			<-sampled
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
		frame := fmt.Appendf(nil, `{"action":"get_login_info","params":{},"echo":"%d-%s"}`, i, bytes.Repeat([]byte("e"), 1<<20))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				_ = c.SetWriteDeadline(time.Now().Add(WaitTimeout))
				if c.WriteMessage(websocket.TextMessage, frame) != nil {
					return // closed by the daemon
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	grew := float64(int64(peak.Load())-int64(base.Load())) / (1 << 20)
	t.Logf("whole pipeline, %d clients × %d calls with 1 MiB echoes, never reading: live heap %.1f MiB before, peak growth %.1f MiB",
		conns, calls, float64(base.Load())/(1<<20), grew)
	if grew > 160 {
		t.Errorf("live heap grew %.0f MiB under the attack, want under 160 (request memory 128 MiB)", grew)
	}

	for i, c := range clients {
		for {
			_ = c.SetReadDeadline(time.Now().Add(WaitTimeout))
			if _, _, err := c.ReadMessage(); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("connection %d still open after the attack", i)
				}
				break
			}
		}
	}
	WaitFor(t, "the log to name the cause", func() bool {
		return logs.FilterMessage("disconnected a client that sends calls without reading their replies").Len() == conns
	})

	// Healthy: both transports answer a normal call.
	s.MustHTTP("get_login_info", "{}")
	ws, err := DialWS(s.WSURL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	raw, err := ws.Call(ctx, "get_login_info", json.RawMessage(`{}`))
	if err != nil || !strings.Contains(string(raw), `"retcode":0`) {
		t.Fatalf("WS call after the attack: %v %s", err, Shorten(raw))
	}
}

// liveHeap is the heap marked live by a GC run now.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// dialNotReading dials with a 32 KiB socket receive buffer: a client that
// does not read then stops the daemon's writes after a few MiB.
func dialNotReading(url string) (*websocket.Conn, error) {
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(32 << 10)
		}
		return c, err
	}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	return c, nil
}
