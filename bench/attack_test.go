package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/e2e"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Attacks on the real daemon binary with its default limits (one shared
// limiter: 256 actions and 128 MiB of request memory at once, 1429 beyond
// them; a WebSocket connection with more than 16 MiB of unwritten replies
// is closed with 1008; a 512 MiB soft memory limit). Before those bounds
// these attacks drove the daemon to 2.5–6 GB of RSS. Each is bounded in
// count and time, runs against a fresh daemon per b.N iteration (VmHWM is
// the process's peak, so one process per scenario), and reports:
//
//   - idle-RSS-MiB: before the attack; peak-RSS-MiB: VmHWM at its end;
//     end-RSS-MiB: VmRSS the moment the attackers are gone;
//   - settled-RSS-MiB and settle-s: VmRSS once the idle daemon is back
//     within twice its idle RSS (polled for up to 30 s; settle-s is 30 and
//     settled-RSS the value then if it never is);
//   - ok, refused-1429, other: the answers the attackers got (for the
//     _async and _rate_limited floods "ok" is the "async" answer);
//   - daemon-cpu-s: the CPU time the daemon spent during the attack.
//
// Nothing here asserts on a time or a size; the benchmarks fail only if
// the daemon does not answer a normal get_login_info afterwards. ns/op is
// the attack's length and means little. Run them one at a time:
//
//	go test -run xxx -bench Attack -benchtime 1x ./bench/

const (
	// attackFor bounds the timed attacks.
	attackFor = 10 * time.Second
	// bigParam is the padding of the flood calls: a 40 MiB string, as a
	// client sending base64 media would.
	bigParam = 40 << 20
	// settleFor bounds the wait for the idle daemon to give memory back;
	// it checks every 10 s (daemon.go, memoryReturner).
	settleFor = 30 * time.Second
)

// tally counts the answers attackers got.
type tally struct{ ok, refused, other atomic.Int64 }

// count classifies one HTTP answer or WS reply: wantStatus is what an
// accepted call answers ("ok", or "async" for a background call).
func (t *tally) count(status int, raw []byte, wantStatus string) {
	switch r := gjson.GetBytes(raw, "retcode"); {
	case status == http.StatusOK && r.Exists() && r.Int() == 1429:
		t.refused.Add(1)
	case status == http.StatusOK && gjson.GetBytes(raw, "status").Str == wantStatus:
		t.ok.Add(1)
	default:
		t.other.Add(1)
	}
}

// attackMetrics sums per-iteration figures to report their mean.
type attackMetrics map[string]float64

// benchAttack runs attack once per b.N iteration against a fresh daemon
// and reports the mean of the figures described above and of any the
// attack adds.
func benchAttack(b *testing.B, attack func(b *testing.B, d *runningDaemon, t *tally, m attackMetrics)) {
	sum := attackMetrics{}
	b.StopTimer()
	for range b.N {
		d := startRealDaemon(b)
		time.Sleep(2 * time.Second) // the start-up garbage is collected
		idle := d.memory(b)
		cpu0 := cpuTime(b, d.PID())

		var t tally
		m := attackMetrics{}
		b.StartTimer()
		attack(b, d, &t, m)
		b.StopTimer()
		end := d.memory(b)
		cpu := cpuTime(b, d.PID()) - cpu0
		checkHealthy(b, d)

		settled, waited := settle(b, d, 2*idle.RSS)
		m["idle-RSS-MiB"] = float64(idle.RSS) / mib
		m["peak-RSS-MiB"] = float64(end.HWM) / mib
		m["end-RSS-MiB"] = float64(end.RSS) / mib
		m["settled-RSS-MiB"] = float64(settled.RSS) / mib
		m["settle-s"] = waited.Seconds()
		m["ok"] = float64(t.ok.Load())
		m["refused-1429"] = float64(t.refused.Load())
		m["other"] = float64(t.other.Load())
		m["daemon-cpu-s"] = cpu.Seconds()
		for k, v := range m {
			sum[k] += v
		}
		b.Logf("idle %s; peak VmHWM %.0f MiB; at the end %s; settled to %s after %.1f s; answers: %d ok, %d refused with 1429, %d other",
			idle, float64(end.HWM)/mib, end, settled, waited.Seconds(), t.ok.Load(), t.refused.Load(), t.other.Load())
		d.Kill()
	}
	for k, v := range sum {
		b.ReportMetric(v/float64(b.N), k)
	}
}

// settle polls the idle daemon's RSS until it is at most target, for up
// to settleFor, and returns the last reading and how long it took.
func settle(b *testing.B, d *runningDaemon, target int64) (e2e.Memory, time.Duration) {
	start := time.Now()
	for {
		m := d.memory(b)
		waited := time.Since(start)
		if m.RSS <= target || waited >= settleFor {
			return m, min(waited, settleFor)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkHealthy fails the benchmark unless a normal get_login_info over
// HTTP answers retcode 0. A 1429 while the daemon lets go of what the
// attack left (a background call still running) is retried for a while.
func checkHealthy(b *testing.B, d *runningDaemon) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		status, raw, err := e2e.PostJSON(ctx, "http://"+d.addrs["http"]+"/get_login_info", "application/json", strings.NewReader("{}"))
		if err == nil && status == http.StatusOK && gjson.GetBytes(raw, "retcode").Int() == 0 &&
			gjson.GetBytes(raw, "data.user_id").Exists() {
			return
		}
		if err == nil && gjson.GetBytes(raw, "retcode").Int() == 1429 && ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		b.Fatalf("get_login_info after the attack: HTTP %d %s, %v", status, e2e.Shorten(raw), err)
	}
}

// cpuTime is the user plus system CPU time a process has used, from
// /proc/<pid>/stat (in clock ticks of 1/100 s, USER_HZ on Linux).
func cpuTime(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces; the fields after it do not.
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(f) < 13 {
		b.Fatalf("unexpected /proc/%d/stat: %q", pid, raw)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(utime+stime) * (time.Second / 100)
}

// paddedBody is a JSON params object with a string of n bytes.
func paddedBody(n int) []byte {
	body := make([]byte, 0, n+16)
	body = append(body, `{"pad":"`...)
	body = append(body, bytes.Repeat([]byte("x"), n)...)
	return append(body, `"}`...)
}

// attackClient is an HTTP client for concurrent attackers, so that their
// connections are theirs and closed at the end.
func attackClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true,
	}}
}

// post sends one body, counts the answer and returns it; a transport
// error counts as other, unless ctx ended the request (the attack's end).
func post(ctx context.Context, c *http.Client, url string, body []byte, t *tally, wantStatus string) []byte {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.other.Add(1)
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var buf bytes.Buffer
		if _, err = buf.ReadFrom(resp.Body); err == nil {
			t.count(resp.StatusCode, buf.Bytes(), wantStatus)
			return buf.Bytes()
		}
	}
	if ctx.Err() == nil {
		t.other.Add(1)
	}
	return nil
}

// BenchmarkAttackUnreadReplies is attack (a): 3 forward-WS clients send
// get_login_info calls with 1 MiB echoes as fast as the daemon takes them
// and never read a reply, for 10 s; a client the daemon disconnects
// connects again. The answers counted are those found in each client's
// socket once it stops (most are lost when the daemon closes the
// connection); conns-closed is how many connections the daemon closed
// for unread replies (from its log), frames-sent the calls written.
func BenchmarkAttackUnreadReplies(b *testing.B) {
	benchAttack(b, func(b *testing.B, d *runningDaemon, t *tally, m attackMetrics) {
		const clients = 3
		url := "ws://" + d.addrs["ws"] + "/"
		echo := strings.Repeat("e", 1<<20)
		deadline := time.Now().Add(attackFor)
		var sent, dials, dialErrs atomic.Int64
		var wg sync.WaitGroup
		for i := range clients {
			frame := fmt.Appendf(nil, `{"action":"get_login_info","params":{},"echo":"%d-%s"}`, i, echo)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					c, err := dialNotReading(url)
					if err != nil {
						dialErrs.Add(1)
						time.Sleep(100 * time.Millisecond)
						continue
					}
					dials.Add(1)
					_ = c.SetWriteDeadline(deadline)
					for time.Now().Before(deadline) {
						if c.WriteMessage(websocket.TextMessage, frame) != nil {
							break // closed by the daemon, or the attack is over
						}
						sent.Add(1)
					}
					// Now read what reached the socket, briefly.
					_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
					for {
						_, raw, err := c.ReadMessage()
						if err != nil {
							break
						}
						if gjson.GetBytes(raw, "echo").Exists() {
							t.count(http.StatusOK, raw, "ok")
						}
					}
					_ = c.Close()
				}
			}()
		}
		wg.Wait()
		m["frames-sent"] = float64(sent.Load())
		m["conns-opened"] = float64(dials.Load())
		m["conns-refused"] = float64(dialErrs.Load())
		closed := strings.Count(d.Log(), "disconnected a client that sends calls without reading their replies")
		m["conns-closed"] = float64(closed)

		// The WebSocket server answers normal calls too.
		ws, err := e2e.DialWS(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ws.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			raw, err := ws.Call(ctx, "get_login_info", json.RawMessage(`{}`))
			if err == nil && gjson.GetBytes(raw, "retcode").Int() == 1429 && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if err != nil || gjson.GetBytes(raw, "retcode").Int() != 0 {
				b.Fatalf("WS get_login_info after the attack: %v %s", err, e2e.Shorten(raw))
			}
			break
		}
	})
}

// dialNotReading dials with a 32 KiB socket receive buffer, so that a
// client that does not read stops the daemon's writes after a few MiB
// and its replies pile up in the daemon.
func dialNotReading(url string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
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

// floodBackground posts calls of 40 MiB params to action from 16
// concurrent clients, 200 in all (bounded to 2 minutes).
func floodBackground(b *testing.B, d *runningDaemon, t *tally, action string) {
	const clients, calls = 16, 200
	body := paddedBody(bigParam)
	url := "http://" + d.addrs["http"] + "/" + action
	c := attackClient(clients)
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= calls && ctx.Err() == nil {
				post(ctx, c, url, body, t, "async")
			}
		}()
	}
	wg.Wait()
}

// BenchmarkAttackRateLimitedFlood is attack (b): 200 get_status_rate_limited
// calls with 40 MiB params from 16 concurrent HTTP clients. The queue runs
// one call per 500 ms, and queued params may hold half the request memory.
func BenchmarkAttackRateLimitedFlood(b *testing.B) {
	benchAttack(b, func(b *testing.B, d *runningDaemon, t *tally, _ attackMetrics) {
		floodBackground(b, d, t, "get_status_rate_limited")
	})
}

// BenchmarkAttackAsyncFlood is attack (c): 200 get_status_async calls
// with 40 MiB params from 16 concurrent HTTP clients.
func BenchmarkAttackAsyncFlood(b *testing.B) {
	benchAttack(b, func(b *testing.B, d *runningDaemon, t *tally, _ attackMetrics) {
		floodBackground(b, d, t, "get_status_async")
	})
}

// BenchmarkAttackLargeBodies is attack (d): 32 concurrent HTTP clients post
// get_status with 40 MiB bodies, one after another, for 10 s.
func BenchmarkAttackLargeBodies(b *testing.B) {
	benchAttack(b, func(b *testing.B, d *runningDaemon, t *tally, _ attackMetrics) {
		const clients = 32
		body := paddedBody(bigParam)
		url := "http://" + d.addrs["http"] + "/get_status"
		c := attackClient(clients)
		defer c.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), attackFor)
		defer cancel()
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					post(ctx, c, url, body, t, "ok")
				}
			}()
		}
		wg.Wait()
	})
}

// BenchmarkAttackHostileCQ is attack (e): a send_group_msg whose message
// is "[CQ:image,file=" repeated to 40 MiB (an unterminated code
// 2.8 million times), posted 3 times one after another. It reports the
// daemon's CPU time and the wall time until each answer per byte of
// input; its answer (retcode 1400: too large for one Yunhu message; HTTP
// 400) is counted as other and logged.
func BenchmarkAttackHostileCQ(b *testing.B) {
	benchAttack(b, func(b *testing.B, d *runningDaemon, t *tally, m attackMetrics) {
		const posts, unit = 3, "[CQ:image,file="
		msg := strings.Repeat(unit, bigParam/len(unit))
		body := []byte(`{"group_id":` + sim.GroupOwnedID + `,"message":"` + msg + `"}`)
		url := "http://" + d.addrs["http"] + "/send_group_msg"
		c := attackClient(1)
		defer c.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var wall time.Duration
		var answer []byte
		cpu0 := cpuTime(b, d.PID())
		for range posts {
			t0 := time.Now()
			answer = post(ctx, c, url, body, t, "ok")
			wall += time.Since(t0)
		}
		b.Logf("answer: %s", e2e.Shorten(answer))
		cpu := cpuTime(b, d.PID()) - cpu0
		in := float64(posts * len(body))
		m["cpu-ns/B"] = float64(cpu) / in
		m["wall-ns/B"] = float64(wall) / in
		m["input-MiB"] = float64(len(body)) / mib
	})
}
