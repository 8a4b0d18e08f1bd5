package onebot

// Benchmarks for docs/PERFORMANCE.md ("onebot: transports"). Each onebot
// figure has a baseline next to it, measured in the same run over the same
// loopback: plain gorilla/websocket or plain net/http doing the least
// possible work, so the ratio shows what the protocol layer costs.
//
//	go test -run '^$' -bench . -benchtime 2s ./onebot/

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// benchEvent is a typical group message event (≈ 430 bytes).
var benchEvent = []byte(`{"time":1732368000,"self_id":8012345,"post_type":"message","message_type":"group",` +
	`"sub_type":"normal","message_id":123456,"group_id":6543210,"user_id":7654321,"anonymous":null,` +
	`"message":"[CQ:reply,id=123455]hello, this is a fairly ordinary chat message with [CQ:face,id=14]",` +
	`"raw_message":"[CQ:reply,id=123455]hello, this is a fairly ordinary chat message with [CQ:face,id=14]",` +
	`"font":0,"sender":{"user_id":7654321,"nickname":"someone","card":"","role":"member"}}`)

// receivers counts what each benchmark client has received.
type receivers struct {
	counts   []atomic.Int64
	progress chan struct{} // nudged as clients advance
	wg       sync.WaitGroup
}

func newReceivers(n int) *receivers {
	return &receivers{counts: make([]atomic.Int64, n), progress: make(chan struct{}, 1)}
}

func (r *receivers) min() int64 {
	m := r.counts[0].Load()
	for i := range r.counts[1:] {
		m = min(m, r.counts[i+1].Load())
	}
	return m
}

// read counts frames on c until it fails; after is called per frame.
func (r *receivers) read(i int, c *websocket.Conn) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
			// NextReader skips the rest of the previous frame: no copy.
			if n := r.counts[i].Add(1); n%32 == 0 {
				select {
				case r.progress <- struct{}{}:
				default:
				}
			}
		}
	}()
}

func (r *receivers) waitAll(b *testing.B, n int64) {
	deadline := time.Now().Add(time.Minute)
	for r.min() < n {
		if time.Now().After(deadline) {
			b.Fatalf("clients stuck at %d of %d", r.min(), n)
		}
		select {
		case <-r.progress:
		case <-time.After(time.Millisecond):
		}
	}
}

// BenchmarkEventThroughput: events/s from Hub.Publish to every one of N
// forward-WS clients, against a plain gorilla server writing the same
// bytes to N clients in a loop (the loopback limit). The publisher stays
// at most half a queue ahead of the slowest client, because a forward
// client that falls a whole queue behind is disconnected by design.
func BenchmarkEventThroughput(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d/gorilla", clients), func(b *testing.B) {
			benchGorillaThroughput(b, clients)
		})
		b.Run(fmt.Sprintf("clients=%d/onebot", clients), func(b *testing.B) {
			benchOnebotThroughput(b, clients)
		})
	}
}

func benchOnebotThroughput(b *testing.B, clients int) {
	hub := NewHub(HubOptions{SelfID: func() int64 { return 1 }})
	ws := NewWSServer(WSOptions{Router: NewRouter(RouterOptions{}), Hub: hub, Log: zap.NewNop()})
	srv := httptest.NewServer(ws)
	defer srv.Close()
	defer ws.Close()
	r := newReceivers(clients)
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/event"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, _, err := c.ReadMessage(); err != nil { // lifecycle
			b.Fatal(err)
		}
		r.read(i, c)
	}
	window := int64(DefaultQueueSize / 2)
	b.SetBytes(int64(len(benchEvent)))
	b.ResetTimer()
	for i := range int64(b.N) {
		for i-r.min() >= window {
			<-r.progress
		}
		_ = hub.Publish(benchEvent)
	}
	r.waitAll(b, int64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	ws.Close()
	r.wg.Wait()
}

func benchGorillaThroughput(b *testing.B, clients int) {
	n := b.N
	var writers sync.WaitGroup
	start := make(chan struct{})
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		writers.Add(1)
		go func() {
			defer writers.Done()
			defer c.Close()
			<-start
			for range n {
				if err := c.WriteMessage(websocket.TextMessage, benchEvent); err != nil {
					return
				}
			}
		}()
	}))
	defer srv.Close()
	r := newReceivers(clients)
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "/"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		r.read(i, c)
	}
	b.SetBytes(int64(len(benchEvent)))
	b.ResetTimer()
	close(start)
	r.waitAll(b, int64(n))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	writers.Wait()
	r.wg.Wait()
}

// BenchmarkEventLatency: publish-to-receive latency at a steady 2,000
// events/s to one forward-WS client, against a plain gorilla server that
// writes each event the moment it is due.
// gorilla-handoff is the same plain server with one writer goroutine fed
// by a channel: the goroutine handoff every queued design pays.
func BenchmarkEventLatency(b *testing.B) {
	b.Run("gorilla", func(b *testing.B) { benchLatency(b, "gorilla") })
	b.Run("gorilla-handoff", func(b *testing.B) { benchLatency(b, "handoff") })
	b.Run("onebot", func(b *testing.B) { benchLatency(b, "onebot") })
}

func benchLatency(b *testing.B, kind string) {
	viaOnebot := kind == "onebot"
	const rate = 2000
	var send func([]byte)
	var c *websocket.Conn
	dial := func(url string) {
		var err error
		if c, _, err = websocket.DefaultDialer.Dial(url, nil); err != nil {
			b.Fatal(err)
		}
	}
	if viaOnebot {
		hub := NewHub(HubOptions{SelfID: func() int64 { return 1 }})
		ws := NewWSServer(WSOptions{Router: NewRouter(RouterOptions{}), Hub: hub, Log: zap.NewNop()})
		srv := httptest.NewServer(ws)
		defer srv.Close()
		defer ws.Close()
		dial(wsURL(srv, "/event"))
		if _, _, err := c.ReadMessage(); err != nil { // lifecycle
			b.Fatal(err)
		}
		send = func(p []byte) { _ = hub.Publish(p) }
	} else {
		conns := make(chan *websocket.Conn, 1)
		up := websocket.Upgrader{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if sc, err := up.Upgrade(w, req, nil); err == nil {
				conns <- sc
			}
		}))
		defer srv.Close()
		dial(wsURL(srv, "/"))
		sc := <-conns
		defer sc.Close()
		send = func(p []byte) { _ = sc.WriteMessage(websocket.TextMessage, p) }
		if kind == "handoff" {
			ch := make(chan []byte, DefaultQueueSize)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for p := range ch {
					_ = sc.WriteMessage(websocket.TextMessage, p)
				}
			}()
			defer func() { close(ch); <-done }()
			send = func(p []byte) { ch <- p }
		}
	}
	defer c.Close()

	n := b.N
	sent := make([]int64, n)
	lat := make([]time.Duration, 0, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now().UnixNano()
			var seq int
			_, _ = fmt.Sscanf(string(p[len(`{"seq":`):]), "%d", &seq)
			lat = append(lat, time.Duration(now-atomic.LoadInt64(&sent[seq])))
		}
	}()
	pad := `,"pad":"` + strings.Repeat("x", len(benchEvent)-40) + `"}`
	// Event i is due at begin + i/rate. Timers here fire with ~1 ms
	// granularity, so at 2,000/s events go out in pairs about every 1 ms:
	// the rate holds, and the second of a pair waits for the first.
	b.ResetTimer()
	begin := time.Now()
	for i := range n {
		if d := time.Until(begin.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		p := []byte(fmt.Sprintf(`{"seq":%d%s`, i, pad))
		atomic.StoreInt64(&sent[i], time.Now().UnixNano())
		send(p)
	}
	<-done
	b.StopTimer()
	if len(lat) != n {
		b.Fatalf("received %d of %d", len(lat), n)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[n/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[n*99/100].Microseconds()), "p99-µs")
}

// BenchmarkHTTPAction: round trips/s of a no-op action over the HTTP API
// (with an access token, as deployed) for 1 and 8 concurrent callers with
// keep-alive, against a plain net/http handler that reads the body and
// writes a fixed OneBot reply.
func BenchmarkHTTPAction(b *testing.B) {
	router := NewRouter(RouterOptions{})
	router.Register("noop", func(context.Context, *Request) (any, error) { return nil, nil })
	onebot := NewHTTP(HTTPOptions{Router: router, AccessToken: "bench-token", Timeout: time.Minute})
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok","retcode":0,"data":null,"message":"","wording":""}`))
	})
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%d/net-http", callers), func(b *testing.B) { benchHTTP(b, plain, callers) })
		b.Run(fmt.Sprintf("callers=%d/onebot", callers), func(b *testing.B) { benchHTTP(b, onebot, callers) })
	}
}

func benchHTTP(b *testing.B, h http.Handler, callers int) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: callers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body := `{"user_id":7654321,"message":"hello"}`
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/noop", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer bench-token")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("HTTP %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
