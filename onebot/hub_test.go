package onebot

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"go.uber.org/zap"
)

func TestPublishMarshalsOnce(t *testing.T) {
	hub, _ := newHub(nil, 1)
	a := hub.subscribe("a", 4, dropOldest)
	b := hub.subscribe("b", 4, disconnect)
	defer hub.unsubscribe(a)
	defer hub.unsubscribe(b)
	if err := hub.Publish(map[string]any{"post_type": "notice", "html": "<&>"}); err != nil {
		t.Fatal(err)
	}
	ea, eb := <-a.ch, <-b.ch
	if unsafe.SliceData(ea.data) != unsafe.SliceData(eb.data) {
		t.Error("subscribers got different copies: the event was marshalled more than once")
	}
	if string(ea.data) != `{"html":"<&>","post_type":"notice"}` {
		t.Errorf("data = %s (HTML must not be escaped)", ea.data)
	}
	if err := hub.Publish(map[string]any{"bad": make(chan int)}); err == nil {
		t.Error("unmarshallable event accepted")
	}
}

func TestPublishRawIsCopied(t *testing.T) {
	hub, _ := newHub(nil, 1)
	s := hub.subscribe("s", 4, dropOldest)
	defer hub.unsubscribe(s)
	buf := []byte(`{"post_type":"message"}`)
	_ = hub.Publish(buf)
	_ = hub.Publish(json.RawMessage(`{"n":2}`))
	copy(buf, "XXXXXXXX")
	if got := string((<-s.ch).data); got != `{"post_type":"message"}` {
		t.Errorf("event changed with the caller's buffer: %s", got)
	}
	if got := string((<-s.ch).data); got != `{"n":2}` {
		t.Errorf("raw message = %s", got)
	}
}

func TestDropOldest(t *testing.T) {
	log, logs := testLog(t)
	hub, _ := newHub(log, 1)
	s := hub.subscribe("slow", 3, dropOldest)
	defer hub.unsubscribe(s)
	s.online.Store(true)
	for i := range 10 {
		_ = hub.Publish(json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
	}
	for _, want := range []string{`{"n":7}`, `{"n":8}`, `{"n":9}`} {
		if got := string((<-s.ch).data); got != want {
			t.Errorf("got %s, want %s (newest kept, in order)", got, want)
		}
	}
	if s.dropped.Load() != 7 {
		t.Errorf("dropped = %d, want 7", s.dropped.Load())
	}
	if n := logs.FilterMessageSnippet("event queue full").Len(); n != 1 {
		t.Errorf("%d warnings for one burst, want 1 (rate limited)", n)
	}
}

func TestHeartbeatsNeverCrowdOutEvents(t *testing.T) {
	hub, _ := newHub(nil, 1)
	s := hub.subscribe("s", 2, dropOldest)
	defer hub.unsubscribe(s)
	hb := &HeartbeatEvent{PostType: PostTypeMetaEvent, MetaEventType: MetaEventHeartbeat}

	_ = hub.Publish(hb) // offline: not queued at all
	if len(s.ch) != 0 {
		t.Fatal("heartbeat queued for an offline subscriber")
	}
	s.online.Store(true)
	_ = hub.Publish(json.RawMessage(`{"n":1}`))
	_ = hub.Publish(json.RawMessage(`{"n":2}`))
	_ = hub.Publish(hb) // full: the heartbeat is the one dropped
	if a, b := string((<-s.ch).data), string((<-s.ch).data); a != `{"n":1}` || b != `{"n":2}` {
		t.Errorf("queue = %s %s, want both events kept", a, b)
	}
	_ = hub.Publish(hb)
	if e := <-s.ch; !e.heartbeat {
		t.Error("heartbeat not marked")
	}
}

func TestDisconnectPolicy(t *testing.T) {
	hub, _ := newHub(nil, 1)
	s := hub.subscribe("s", 1, disconnect)
	_ = hub.Publish(json.RawMessage(`{}`))
	select {
	case <-s.overflow:
		t.Fatal("overflow before the queue was full")
	default:
	}
	_ = hub.Publish(json.RawMessage(`{}`))
	_ = hub.Publish(json.RawMessage(`{}`))
	<-s.overflow
	if s.dropped.Load() != 2 {
		t.Errorf("dropped = %d", s.dropped.Load())
	}
	hub.unsubscribe(s)
	_ = hub.Publish(json.RawMessage(`{}`))
	if len(s.ch) != 1 {
		t.Error("an unsubscribed queue still receives events")
	}
}

func TestLifecycleEvent(t *testing.T) {
	hub, id := newHub(nil, 0)
	var ev map[string]any
	_ = json.Unmarshal(hub.lifecycle(LifecycleConnect), &ev)
	if ev["self_id"] != 0.0 || ev["post_type"] != "meta_event" || ev["meta_event_type"] != "lifecycle" || ev["sub_type"] != "connect" {
		t.Errorf("lifecycle = %v", ev)
	}
	id.set(123456)
	_ = json.Unmarshal(hub.lifecycle(LifecycleEnable), &ev)
	if ev["self_id"] != 123456.0 || ev["sub_type"] != "enable" || ev["time"].(float64) < 1e9 {
		t.Errorf("lifecycle = %v", ev)
	}
}

// TestHubStats: the per-transport counts a metrics scrape reads. A full
// queue's losses are counted as dropped, events still queued as depth,
// and a forward WS server's backlog counts under ws while no client is
// there.
func TestHubStats(t *testing.T) {
	h := NewHub(HubOptions{})
	post := h.subscribe("http-post http://127.0.0.1:1/", 1, dropOldest)
	post.online.Store(true)
	b := newBacklog("127.0.0.1:6700", zap.NewNop(), 2, DefaultBacklogBytes, DefaultBacklogMaxAge)
	h.addBacklog(b)
	defer h.removeBacklog(b)
	for range 3 {
		if err := h.Publish(json.RawMessage(`{"post_type":"message"}`)); err != nil {
			t.Fatal(err)
		}
	}
	want := []TransportStats{
		{Transport: "http-post", Published: 3, Dropped: 2, Connected: 1, Queued: 1},
		{Transport: "ws", Published: 3, Dropped: 1, Queued: 2},
	}
	if got := h.Stats(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
	// A subscriber that leaves (twice, by mistake) keeps its counts in its
	// transport's totals, once: counters never go back.
	h.unsubscribe(post)
	h.unsubscribe(post)
	want[0].Connected, want[0].Queued = 0, 0
	if got := h.Stats(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Stats() after the subscriber left = %+v, want %+v", got, want)
	}
}
