package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// samples collects durations from many goroutines.
type samples struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// quantile returns the q-quantile (0..1) of what was added.
func (s *samples) quantile(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.d) == 0 {
		return 0
	}
	slices.Sort(s.d)
	i := int(q * float64(len(s.d)-1))
	return s.d[i]
}

func (s *samples) mean() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range s.d {
		sum += d
	}
	return sum / time.Duration(len(s.d))
}

func (s *samples) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d)
}

// us reports a duration in microseconds as a benchmark metric.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// sleepUntilDue waits until call i of a run started at start, paced at
// rate calls a second, is due: calls fall on a fixed schedule, so one that
// ran late does not push the rest back.
func sleepUntilDue(start time.Time, i, rate int) {
	if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
		time.Sleep(d)
	}
}

// pacedLatency makes n calls of call at rate calls a second and reports
// the p50, p99 and p99.9 of their durations.
func pacedLatency(b *testing.B, rate, n int, call func(i int) error) {
	var lat samples
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		sleepUntilDue(start, i, rate)
		t0 := time.Now()
		if err := call(i); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(us(lat.quantile(0.5)), "p50-µs")
	b.ReportMetric(us(lat.quantile(0.99)), "p99-µs")
	b.ReportMetric(us(lat.quantile(0.999)), "p99.9-µs")
}

// window keeps a producer at most size events ahead of the slowest of
// its consumers, so that no queue on the way (the simulator drops a push
// session whose queue of 1,024 frames fills; a forward-WS client as far
// behind as its queue is disconnected) overflows: the figure measured is
// then what the path sustains, not what it drops.
type window struct {
	size int64
	sent atomic.Int64
	recv []atomic.Int64 // per consumer
	wake chan struct{}
}

func newWindow(size int64, consumers int) *window {
	return &window{size: size, recv: make([]atomic.Int64, consumers), wake: make(chan struct{}, 1)}
}

func (w *window) slowest() int64 {
	m := w.recv[0].Load()
	for i := 1; i < len(w.recv); i++ {
		m = min(m, w.recv[i].Load())
	}
	return m
}

// acquire waits until one more event may be sent; false once ctx is done.
func (w *window) acquire(ctx context.Context) bool {
	for w.sent.Load()-w.slowest() >= w.size {
		select {
		case <-w.wake:
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond): // never rely on a wake-up alone
		}
	}
	w.sent.Add(1)
	return true
}

// received counts one event for consumer i.
func (w *window) received(i int) {
	w.recv[i].Add(1)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// message is the i-th benchmark message: Alice in the group the account
// owns, as a member types it.
func message(i int) sim.Message {
	return sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "m" + strconv.Itoa(i) + " benchmark text"}
}

// indexOf parses the i back out of a message text.
func indexOf(text string) (int, bool) {
	rest, ok := strings.CutPrefix(text, "m")
	if !ok {
		return 0, false
	}
	n, _, _ := strings.Cut(rest, " ")
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// observer is a plain push-socket client of the simulator, logged in as
// the account on a device of its own: it sees each push the moment the
// simulator writes it, which is the reference for the daemon's added
// latency and the simulator's own ceiling.
type observer struct {
	conn *websocket.Conn
	done chan struct{}
}

// observe logs in and calls onFrame for each binary frame.
func observe(tb testing.TB, urls sim.URLs, onFrame func(raw []byte)) *observer {
	tb.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(urls.WS, nil)
	if err != nil {
		tb.Fatal(err)
	}
	login, _ := json.Marshal(map[string]any{"seq": "1", "cmd": yunhu.WSCmdLogin, "data": map[string]string{
		"userId": sim.SelfID, "token": sim.DefaultToken, "platform": "linux", "deviceId": "observer",
	}})
	if err := conn.WriteMessage(websocket.TextMessage, login); err != nil {
		tb.Fatal(err)
	}
	o := &observer{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for {
			typ, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage {
				onFrame(raw)
			}
		}
	}()
	return o
}

func (o *observer) close() {
	_ = o.conn.Close()
	<-o.done
}

// pushText decodes a push_message frame's text.
func pushText(raw []byte) (string, error) {
	var f yunhupb.PushFrame
	if err := proto.Unmarshal(raw, &f); err != nil {
		return "", err
	}
	if f.GetInfo().GetCmd() != yunhu.WSCmdPushMessage {
		return "", fmt.Errorf("cmd %q", f.GetInfo().GetCmd())
	}
	var m yunhupb.PushMessage
	if err := proto.Unmarshal(f.GetData().GetValue(), &m); err != nil {
		return "", err
	}
	return m.GetContent().GetText(), nil
}

// allocs measures the process's allocations across a run.
type allocs struct{ mallocs, bytes uint64 }

func readAllocs() allocs {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return allocs{m.Mallocs, m.TotalAlloc}
}

// per reports allocations and bytes per event since a.
func (a allocs) per(events int64) (float64, float64) {
	now := readAllocs()
	if events == 0 {
		return 0, 0
	}
	return float64(now.mallocs-a.mallocs) / float64(events), float64(now.bytes-a.bytes) / float64(events)
}
