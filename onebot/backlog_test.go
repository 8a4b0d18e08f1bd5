package onebot

import (
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// msgEvent is a message event numbered n, padded to about pad bytes.
func msgEvent(n, pad int) json.RawMessage {
	return json.RawMessage(`{"post_type":"message","self_id":10001,"n":` + strconv.Itoa(n) +
		`,"pad":"` + strings.Repeat("x", pad) + `"}`)
}

// holding reports whether the server's backlog keeps events now, i.e.
// the server has seen its last event client leave.
func holding(f *wsFixture) bool {
	f.hub.mu.RLock()
	defer f.hub.mu.RUnlock()
	return slices.Contains(f.hub.holds, f.ws.backlog)
}

// readLifecycle reads the connect frame every event connection starts with.
func readLifecycle(t *testing.T, c *websocket.Conn) {
	t.Helper()
	if ev := decode(t, readFrame(t, c)); ev["meta_event_type"] != "lifecycle" || ev["sub_type"] != "connect" {
		t.Fatalf("first frame %v, want lifecycle connect", ev)
	}
}

// readNumbers reads message events until the one numbered until and
// returns the numbers seen, in order; a heartbeat or lifecycle frame
// fails the test.
func readNumbers(t *testing.T, c *websocket.Conn, until int) []int {
	t.Helper()
	var got []int
	for {
		ev := decode(t, readFrame(t, c))
		if ev["post_type"] != "message" {
			t.Fatalf("unexpected frame %v after %v", ev, got)
		}
		n := int(ev["n"].(float64))
		got = append(got, n)
		if n == until {
			return got
		}
	}
}

func span(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// TestWSBacklog: events published while no event client is connected
// reach the next one, in order and once, after its lifecycle frame and
// before live events; so do events published between a client's
// disconnect and its reconnect. Heartbeats are never kept, and an /api
// client neither takes nor blocks the backlog.
func TestWSBacklog(t *testing.T) {
	f := newWSFixture(t, nil, WSOptions{BufferSize: 100})
	for i := range 10 {
		_ = f.hub.Publish(msgEvent(i, 10))
		_ = f.hub.Publish(&HeartbeatEvent{PostType: "meta_event", MetaEventType: "heartbeat"})
	}
	api := f.dial(t, "/api") // not an event client: the backlog stays
	if r := decode(t, call(t, api, `{"action":"get_login_info","echo":1}`)); r["echo"] != 1.0 {
		t.Fatalf("/api: %v", r)
	}
	c := f.dial(t, "/event")
	readLifecycle(t, c)
	_ = f.hub.Publish(msgEvent(10, 10)) // live, after the backlog
	if got := readNumbers(t, c, 10); !slices.Equal(got, span(0, 10)) {
		t.Fatalf("first client got %v, want 0..10 in order", got)
	}
	c.Close()
	eventually(t, "the server to see the client leave", func() bool { return holding(f) })
	for i := 11; i < 14; i++ {
		_ = f.hub.Publish(msgEvent(i, 10))
	}
	c = f.dial(t, "/")
	readLifecycle(t, c)
	_ = f.hub.Publish(msgEvent(14, 10))
	if got := readNumbers(t, c, 14); !slices.Equal(got, span(11, 14)) {
		t.Fatalf("after reconnecting got %v, want 11..14: what was published while away, once", got)
	}
	if holding(f) {
		t.Fatal("the backlog keeps events while a client is connected")
	}
}

// TestWSBacklogOneTaker: two clients connecting at the same time share
// the backlog without duplicates: the first takes all of it, the other
// gets live events only.
func TestWSBacklogOneTaker(t *testing.T) {
	const kept = 50
	for round := range 5 {
		f := newWSFixture(t, nil, WSOptions{BufferSize: 100})
		for i := range kept {
			_ = f.hub.Publish(msgEvent(i, 10))
		}
		conns := make([]*websocket.Conn, 2)
		var wg sync.WaitGroup
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, _, err := websocket.DefaultDialer.Dial(wsURL(f.srv, "/"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				conns[i] = c
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, c := range conns {
			t.Cleanup(func() { c.Close() })
			readLifecycle(t, c) // both have joined: the marker reaches both
		}
		_ = f.hub.Publish(msgEvent(kept, 10))
		var all []int
		takers := 0
		for _, c := range conns {
			got := readNumbers(t, c, kept)
			switch {
			case slices.Equal(got, span(0, kept)):
				takers++
			case !slices.Equal(got, []int{kept}):
				t.Fatalf("round %d: a client got %v: want all of the backlog or none of it", round, got)
			}
			all = append(all, got...)
		}
		if takers != 1 || len(all) != kept+2 {
			t.Fatalf("round %d: %d clients took the backlog (%d events in all), want exactly one", round, takers, len(all))
		}
	}
}

// TestWSBacklogBounds: beyond buffer-size or the byte bound the oldest are
// dropped, logged once; events older than the age limit are dropped at
// delivery.
func TestWSBacklogBounds(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		log, logs := testLog(t)
		f := newWSFixture(t, log, WSOptions{BufferSize: 5})
		for i := range 20 {
			_ = f.hub.Publish(msgEvent(i, 10))
		}
		c := f.dial(t, "/")
		readLifecycle(t, c)
		_ = f.hub.Publish(msgEvent(20, 10))
		if got := readNumbers(t, c, 20); !slices.Equal(got, span(15, 20)) {
			t.Fatalf("got %v, want the newest 5 (15..19) then 20", got)
		}
		if n := logs.FilterMessageSnippet("dropping the oldest events").Len(); n != 1 {
			t.Errorf("%d warnings about dropped events, want 1", n)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		size := len(msgEvent(0, 300))
		f := newWSFixture(t, nil, WSOptions{BufferSize: 100, BufferBytes: int64(3 * size)})
		for i := range 10 {
			_ = f.hub.Publish(msgEvent(i, 300))
		}
		c := f.dial(t, "/")
		readLifecycle(t, c)
		_ = f.hub.Publish(msgEvent(10, 300))
		if got := readNumbers(t, c, 10); !slices.Equal(got, span(7, 10)) {
			t.Fatalf("got %v, want the 3 that fit in the byte bound (7..9) then 10", got)
		}
	})
	t.Run("age", func(t *testing.T) {
		f := newWSFixture(t, nil, WSOptions{BufferSize: 100, BufferMaxAge: time.Nanosecond})
		for i := range 5 {
			_ = f.hub.Publish(msgEvent(i, 10))
		}
		time.Sleep(time.Millisecond) // older than a nanosecond, whatever the clock
		c := f.dial(t, "/")
		readLifecycle(t, c)
		_ = f.hub.Publish(msgEvent(5, 10))
		if got := readNumbers(t, c, 5); !slices.Equal(got, []int{5}) {
			t.Fatalf("got %v, want only the live event: the kept ones expired", got)
		}
	})
	t.Run("off", func(t *testing.T) {
		f := newWSFixture(t, nil, WSOptions{})
		_ = f.hub.Publish(msgEvent(0, 10))
		c := f.dial(t, "/")
		readLifecycle(t, c)
		_ = f.hub.Publish(msgEvent(1, 10))
		if got := readNumbers(t, c, 1); !slices.Equal(got, []int{1}) {
			t.Fatalf("buffer-size 0 kept events: got %v", got)
		}
	})
}

// TestBacklogLeaveKeepsUndelivered: when the last client leaves, the
// events it took but may not have written (pending) and those still in its
// queue are kept, in that order, before events published afterwards, as
// a reverse WS connection hands them to the next one.
func TestBacklogLeaveKeepsUndelivered(t *testing.T) {
	h, _ := newHub(nil, 10001)
	b := newBacklog("test", h.log, 100, DefaultBacklogBytes, DefaultBacklogMaxAge)
	h.addBacklog(b)
	_ = h.Publish(msgEvent(0, 1))
	s, evs := h.join(b, "a", 10, disconnect)
	if len(evs) != 1 {
		t.Fatalf("join took %d events, want 1", len(evs))
	}
	_ = h.Publish(msgEvent(2, 1)) // queued, never written
	_ = h.Publish(msgEvent(3, 1))
	h.leave(b, s, []event{{data: msgEvent(1, 1)}}) // a write that failed
	_ = h.Publish(msgEvent(4, 1))
	_, evs = h.join(b, "b", 10, disconnect)
	var got []int
	for _, e := range evs {
		var v struct{ N int }
		if err := json.Unmarshal(e.data, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v.N)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("the next client gets %v, want 1..4 in order", got)
	}
}

// TestWSBacklogMemoryBounded publishes far more than the byte bound with
// no client connected: the heap stays near the bound, whatever the count
// allows.
func TestWSBacklogMemoryBounded(t *testing.T) {
	const bound = 1 << 20
	f := newWSFixture(t, nil, WSOptions{BufferSize: 1_000_000, BufferBytes: bound})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	ev := msgEvent(0, 1000)
	for range 50_000 { // 50 MB published
		_ = f.hub.Publish(ev)
	}
	grown := int64(heap()) - int64(before)
	f.ws.backlog.mu.Lock()
	n, bytes := len(f.ws.backlog.events), f.ws.backlog.bytes
	f.ws.backlog.mu.Unlock()
	if bytes > bound || n > bound/len(ev) {
		t.Fatalf("backlog holds %d events, %d bytes: over the %d-byte bound", n, bytes, bound)
	}
	if grown > 8*bound {
		t.Fatalf("heap grew %d KiB for a %d KiB bound", grown>>10, bound>>10)
	}
	t.Logf("50,000 events of %d bytes: %d kept (%d KiB), heap +%d KiB", len(ev), n, bytes>>10, grown>>10)
}

// BenchmarkHubPublish: the cost of one Publish of a ~200-byte event with
// no subscriber, and with a forward WS server's backlog at its bound (no
// client connected: each event drops the oldest).
func BenchmarkHubPublish(b *testing.B) {
	ev := msgEvent(0, 150)
	b.Run("no-subscribers", func(b *testing.B) {
		h, _ := newHub(nil, 10001)
		b.ReportAllocs()
		for b.Loop() {
			_ = h.Publish(ev)
		}
	})
	b.Run("backlog-full", func(b *testing.B) {
		h, _ := newHub(nil, 10001)
		h.addBacklog(newBacklog("bench", h.log, 1024, DefaultBacklogBytes, DefaultBacklogMaxAge))
		b.ReportAllocs()
		for b.Loop() {
			_ = h.Publish(ev)
		}
	})
}
