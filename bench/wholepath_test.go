package bench

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/e2e"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// The whole path, in one process: the simulator's pushes (sim.Inject, on a
// loopback httptest server) → yunhu.Client → bridge (ids made durable in
// the store, group commit) → onebot.Hub → transports → OneBot clients on
// loopback; and OneBot actions the other way. The pipeline is the one the
// daemon runs (e2e.Start builds it with package app from the daemon's
// defaults, as the daemon does). Each benchmark runs once for a fixed time, whatever
// -benchtime says, and reports its figures as metrics; its ns/op is the
// length of that run and means nothing.

var (
	runFor  = flag.Duration("wp.time", 10*time.Second, "length of each whole-path throughput and latency run")
	callFor = flag.Duration("wp.calltime", 5*time.Second, "length of each action round-trip run")
	baseFor = flag.Duration("wp.basetime", 3*time.Second, "length of each baseline run")
)

// windowSize is how far the injector may run ahead of the slowest client:
// below the simulator's push queue (1,024 frames, beyond which it drops
// the session) and the forward-WS queue (1,024 events, beyond which the
// client is disconnected).
const windowSize = 768

// BenchmarkEvents is events/s sustained from the simulator's pushes to
// OneBot clients, every message_id durable before its event is written,
// next to a plain gorilla/websocket server writing a same-sized event in a
// loop to as many clients (the loopback's own limit).
func BenchmarkEvents(b *testing.B) {
	b.Run("forward-ws/clients=1", func(b *testing.B) { benchEvents(b, 1, false) })
	b.Run("forward-ws/clients=8", func(b *testing.B) { benchEvents(b, 8, false) })
	b.Run("reverse-ws/clients=1", func(b *testing.B) { benchEvents(b, 1, true) })
}

func benchEvents(b *testing.B, clients int, reverse bool) {
	win := newWindow(windowSize, clients)
	var last atomic.Pointer[[]byte] // the newest event client 0 received
	onEvent := func(i int) func([]byte) {
		return func(raw []byte) {
			if !e2e.IsMessageEvent(raw) {
				return
			}
			if i == 0 {
				last.Store(&raw)
			}
			win.received(i)
		}
	}
	opts := e2e.Options{Quiet: true}
	if reverse {
		fw, err := e2e.NewFramework(onEvent(0))
		if err != nil {
			b.Fatal(err)
		}
		defer fw.Stop()
		opts.ReverseWS = fw.URL()
		e2eStart := e2e.Start(b, opts)
		e2e.WaitFor(b, "the reverse WebSocket to connect", func() bool { return fw.Live() == 1 })
		runEvents(b, e2eStart, win, &last, clients)
		return
	}
	s := e2e.Start(b, opts)
	for i := range clients {
		c, err := e2e.DialWS(s.WSURL+"/", onEvent(i))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
	}
	runEvents(b, s, win, &last, clients)
}

func runEvents(b *testing.B, s *e2e.Stack, win *window, last *atomic.Pointer[[]byte], clients int) {
	inject := func(i int) {
		if _, err := s.Sim.Inject(message(i)); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: the member cache, the store's first pages, the buffers.
	ctx := context.Background()
	const warm = 500
	for i := 0; i < warm && win.acquire(ctx); i++ {
		inject(-1 - i)
	}
	e2e.WaitFor(b, "the warm-up events", func() bool { return win.slowest() >= warm })

	runtime.GC()
	a := readAllocs()
	b.ResetTimer()
	start := time.Now()
	base := win.sent.Load()
	rctx, cancel := context.WithTimeout(ctx, *runFor)
	defer cancel()
	n := 0
	for rctx.Err() == nil && win.acquire(rctx) {
		inject(n)
		n++
	}
	e2e.WaitFor(b, "the last events", func() bool { return win.slowest() >= base+int64(n) })
	elapsed := time.Since(start)
	b.StopTimer()
	events := win.slowest() - base
	perAlloc, perByte := a.per(events)

	// Durable: the id of the newest event maps back to its message.
	raw := *last.Load()
	id := gjson.GetBytes(raw, "message_id").Int()
	if rec, err := s.Store.Message(int32(id)); err != nil || rec.MsgID == "" {
		b.Fatalf("newest event %s: message_id %d not in the store: %+v, %v", e2e.Shorten(raw), id, rec, err)
	}

	rate := float64(events) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(perAlloc, "allocs/event")
	b.ReportMetric(perByte, "B/event")
	base1 := gorillaStream(b, clients, len(raw))
	b.ReportMetric(base1, "baseline-events/s")
	b.ReportMetric(rate/base1, "ratio")
	b.Logf("%d events in %v to %d client(s): %.0f events/s (each client gets every event); plain gorilla %.0f/s; %.1f allocs, %.0f B per event (whole process: simulator, daemon and clients)",
		events, elapsed.Round(time.Millisecond), clients, rate, base1, perAlloc, perByte)
}

// BenchmarkSimCeiling is the simulator's own push rate, with no daemon:
// sim.Inject to a plain push-socket client that only counts frames, and
// sim.Inject with nobody online (storing and bookkeeping alone). The
// whole path cannot be faster than the first.
func BenchmarkSimCeiling(b *testing.B) {
	b.Run("inject-to-socket", func(b *testing.B) {
		s, urls := newSim(b)
		win := newWindow(windowSize, 1)
		o := observe(b, urls, func([]byte) { win.received(0) })
		defer o.close()
		waitOnline(b, s, 1)
		runtime.GC()
		a := readAllocs()
		b.ResetTimer()
		ctx, cancel := context.WithTimeout(context.Background(), *runFor)
		defer cancel()
		start := time.Now()
		n := 0
		for ctx.Err() == nil && win.acquire(ctx) {
			if _, err := s.Inject(message(n)); err != nil {
				b.Fatal(err)
			}
			n++
		}
		e2e.WaitFor(b, "the last pushes", func() bool { return win.slowest() >= int64(n) })
		elapsed := time.Since(start)
		b.StopTimer()
		perAlloc, perByte := a.per(int64(n))
		b.ReportMetric(float64(n)/elapsed.Seconds(), "pushes/s")
		b.ReportMetric(perAlloc, "allocs/event")
		b.ReportMetric(perByte, "B/event")
	})
	b.Run("inject-no-socket", func(b *testing.B) {
		s, _ := newSim(b)
		ctx, cancel := context.WithTimeout(context.Background(), *runFor)
		defer cancel()
		start := time.Now()
		n := 0
		for ctx.Err() == nil {
			if _, err := s.Inject(message(n)); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "injects/s")
	})
}

func newSim(b *testing.B) (*sim.Server, sim.URLs) {
	s := sim.New(sim.Options{Log: zap.NewNop()})
	srv := httptest.NewServer(s.Handler())
	b.Cleanup(func() {
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return s, sim.Endpoints(srv.URL)
}

func waitOnline(b *testing.B, s *sim.Server, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), e2e.WaitTimeout)
	defer cancel()
	if err := s.WaitOnline(ctx, sim.SelfID, n); err != nil {
		b.Fatalf("%d push sessions online: %v", n, err)
	}
}

// BenchmarkAddedLatency pushes 1,000 messages a second and times each at
// three points: when sim.Inject is called, when a plain push-socket client
// logged in beside the daemon receives the push (the simulator's share),
// and when the OneBot client receives the event. "added" is the last
// minus the second: what the daemon adds to a push it was sent.
func BenchmarkAddedLatency(b *testing.B) {
	const rate = 1000
	s := e2e.Start(b, e2e.Options{Quiet: true})
	n := int(runFor.Seconds() * rate)
	injectAt := make([]atomic.Int64, n)
	pushAt := make([]atomic.Int64, n)
	eventAt := make([]atomic.Int64, n)
	var got atomic.Int64
	o := observe(b, s.URLs, func(raw []byte) {
		now := time.Now().UnixNano()
		if text, err := pushText(raw); err == nil {
			if i, ok := indexOf(text); ok && i >= 0 && i < n {
				pushAt[i].Store(now)
			}
		}
	})
	defer o.close()
	c, err := e2e.DialWS(s.WSURL+"/", func(raw []byte) {
		now := time.Now().UnixNano()
		if !e2e.IsMessageEvent(raw) {
			return
		}
		if i, ok := indexOf(gjson.GetBytes(raw, "raw_message").Str); ok && i >= 0 && i < n {
			eventAt[i].Store(now)
			got.Add(1)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	waitOnline(b, s.Sim, 2)
	for i := range 200 { // warm-up, not counted
		if _, err := s.Sim.Inject(message(-1 - i)); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	start := time.Now()
	for i := range n {
		sleepUntilDue(start, i, rate)
		injectAt[i].Store(time.Now().UnixNano())
		if _, err := s.Sim.Inject(message(i)); err != nil {
			b.Fatal(err)
		}
	}
	sent := time.Since(start)
	e2e.WaitFor(b, "every event", func() bool { return got.Load() == int64(n) })
	b.StopTimer()

	var added, whole, simOnly samples
	for i := range n {
		in, push, ev := injectAt[i].Load(), pushAt[i].Load(), eventAt[i].Load()
		if push == 0 {
			b.Fatalf("the observer missed push %d", i)
		}
		added.add(time.Duration(ev - push))
		whole.add(time.Duration(ev - in))
		simOnly.add(time.Duration(push - in))
	}
	b.ReportMetric(float64(n)/sent.Seconds(), "events/s")
	b.ReportMetric(us(added.quantile(0.5)), "added-p50-µs")
	b.ReportMetric(us(added.quantile(0.99)), "added-p99-µs")
	b.ReportMetric(us(whole.quantile(0.5)), "inject-to-event-p50-µs")
	b.ReportMetric(us(whole.quantile(0.99)), "inject-to-event-p99-µs")
	b.ReportMetric(us(simOnly.quantile(0.5)), "sim-p50-µs")
	b.ReportMetric(us(simOnly.quantile(0.99)), "sim-p99-µs")
}

// BenchmarkSendGroupMsg is send_group_msg round trips (request → the
// bridge → the simulator's send-message → durable message_id → response)
// over the HTTP API and forward WebSocket, with 1 and 16 concurrent
// callers. The simulator's own share is timed at its HTTP handler and
// reported apart (sim-*). Baselines in the same run: a plain net/http
// handler returning a fixed reply, and a plain gorilla/websocket echo.
func BenchmarkSendGroupMsg(b *testing.B) {
	for _, transport := range []string{"http", "ws"} {
		for _, callers := range []int{1, 16} {
			b.Run(transport+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				benchSend(b, transport, callers)
			})
		}
	}
}

func benchSend(b *testing.B, transport string, callers int) {
	var simTime samples
	timing := atomic.Bool{}
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != yunhu.PathSendMessage || !timing.Load() {
				h.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			h.ServeHTTP(w, r)
			simTime.add(time.Since(start))
		})
	}
	s := e2e.Start(b, e2e.Options{Quiet: true, WrapSim: wrap})
	var call func(ctx context.Context, body []byte) ([]byte, error)
	switch transport {
	case "http":
		url := s.HTTPURL + "/send_group_msg"
		call = func(ctx context.Context, body []byte) ([]byte, error) {
			_, raw, err := e2e.PostJSON(ctx, url, "application/json", bytesReader(body))
			return raw, err
		}
	case "ws":
		c, err := e2e.DialWS(s.WSURL+"/", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		call = func(ctx context.Context, body []byte) ([]byte, error) {
			return c.Call(ctx, "send_group_msg", body)
		}
	}
	body := func(i int) []byte {
		return []byte(`{"group_id":` + sim.GroupOwnedID + `,"message":"round trip ` + strconv.Itoa(i) + `"}`)
	}
	for i := range 50 { // warm-up
		if raw, err := call(context.Background(), body(i)); err != nil || gjson.GetBytes(raw, "retcode").Int() != 0 {
			b.Fatalf("warm-up send_group_msg: %s, %v", raw, err)
		}
	}

	timing.Store(true)
	b.ResetTimer()
	lat, rate := drive(b, callers, *callFor, func(ctx context.Context, i int) error {
		raw, err := call(ctx, body(i))
		if err == nil && gjson.GetBytes(raw, "retcode").Int() != 0 {
			b.Errorf("send_group_msg: %s", e2e.Shorten(raw))
		}
		return err
	})
	b.StopTimer()
	timing.Store(false)
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(us(lat.quantile(0.5)), "p50-µs")
	b.ReportMetric(us(lat.quantile(0.99)), "p99-µs")
	b.ReportMetric(us(simTime.quantile(0.5)), "sim-p50-µs")
	b.ReportMetric(us(simTime.quantile(0.99)), "sim-p99-µs")
	b.ReportMetric(float64(simTime.mean())/float64(lat.mean()), "sim-share")

	var baseRate float64
	if transport == "http" {
		baseRate = netHTTPBaseline(b, callers)
	} else {
		baseRate = gorillaEchoBaseline(b, callers)
	}
	b.ReportMetric(baseRate, "baseline-req/s")
	b.ReportMetric(rate/baseRate, "ratio")
}

// drive runs callers goroutines calling fn back to back for d and returns
// each call's latency and the rate of completed calls.
func drive(b *testing.B, callers int, d time.Duration, fn func(ctx context.Context, i int) error) (*samples, float64) {
	lat := &samples{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i += callers {
				t0 := time.Now()
				if err := fn(context.Background(), i); err != nil {
					b.Errorf("call: %v", err)
					return
				}
				lat.add(time.Since(t0))
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return lat, float64(done.Load()) / time.Since(start).Seconds()
}

// BenchmarkStoreCommit is the store's share of the added latency: one
// PutMessage every millisecond on its own, each returning once its
// mapping is durable (a bbolt commit: two fdatasyncs).
func BenchmarkStoreCommit(b *testing.B) {
	const rate = 1000
	st, err := store.Open(store.Options{Path: filepath.Join(b.TempDir(), "commit.db"), Log: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	pacedLatency(b, rate, int(runFor.Seconds()*rate), func(i int) error {
		_, err := st.PutMessage(ctx, store.Message{
			Conv: bridge.ConvKey(platform.Conv{Kind: platform.KindGroup, ID: sim.GroupOwnedID}), MsgID: yunhu.NewMessageID(), Seq: int64(i + 1), Reported: true,
			SenderID: sim.AliceID, SenderName: "Alice", Body: []byte(`[{"type":"text","data":{"text":"m1 benchmark text"}}]`),
		})
		return err
	})
}
