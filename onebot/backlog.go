package onebot

import (
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// A backlog keeps the events a forward WebSocket server's event clients
// would have had while none was connected, and hands them to the next
// one, so that events published while a framework restarts (or before it
// first connects: the messages the daemon catches up on after its own
// restart) are not lost. Reverse WS and HTTP POST keep their own queues.
//
// What is kept, exactly:
//
//   - Only events published while zero event clients ("/" or "/event") of
//     the server are connected, plus, when the last one leaves, the events
//     still queued for it and those whose write failed (wsConn.pending:
//     they may not have reached the peer), in order before the newer ones.
//     While a client is connected nothing is kept: events go to the
//     clients' own queues.
//   - Never heartbeats or lifecycle events: they are stale by the time a
//     client reconnects, and each connection gets its own "connect".
//   - At most maxCount events and maxBytes bytes: beyond either the oldest
//     are dropped (logged once per offline spell, counted).
//   - For at most maxAge: older events are dropped when handed over. A
//     framework that restarts is back within seconds to a minute; an event
//     several minutes old is one a bot should no longer answer (the chat
//     has moved on), and a bot away longer resyncs from the history
//     actions anyway.
//
// The first event client to connect takes the whole backlog, in order,
// after its lifecycle connect frame and before any live event; a second
// client connecting at the same time gets only live events, so no event
// is delivered twice. The Hub's lock makes the handover atomic with
// respect to Publish (Hub.mu).
type backlog struct {
	name     string
	log      *zap.Logger
	maxCount int
	maxBytes int64
	maxAge   time.Duration

	clients int // event clients connected; guarded by the hub's mu (exclusive)

	mu      sync.Mutex // guards what follows: publishers hold the hub's mu shared only
	events  []event    // oldest first
	bytes   int64      // len(data) over events
	dropped uint64     // dropped in this offline spell, for the handover's log
	warned  bool       // the first drop of this offline spell was logged

	stats *kindCounters // the ws kind's counters; set by addBacklog under the hub's mu
}

// Backlog defaults for WSOptions.
const (
	// DefaultBacklogBytes bounds a forward WS server's backlog in bytes:
	// 1024 ordinary events take about 1 MiB, so this leaves room for long
	// messages while bounding the worst case (many near-limit events).
	DefaultBacklogBytes = 16 << 20
	// DefaultBacklogMaxAge is how long a forward WS server keeps an event
	// for a client that is not there (see backlog).
	DefaultBacklogMaxAge = 5 * time.Minute
)

func newBacklog(name string, log *zap.Logger, count int, bytes int64, age time.Duration) *backlog {
	return &backlog{name: name, log: log, maxCount: count, maxBytes: bytes, maxAge: age}
}

// offer keeps e, dropping the oldest beyond the bounds. Called by
// Publish with the hub's mu held shared.
func (b *backlog) offer(e event) {
	if b.stats != nil {
		b.stats.published.Add(1)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.push(e)
}

// push appends e and enforces the bounds; b.mu is held.
func (b *backlog) push(e event) {
	b.events = append(b.events, e)
	b.bytes += int64(len(e.data))
	for len(b.events) > 0 && (len(b.events) > b.maxCount || b.bytes > b.maxBytes) {
		// Let the dropped event's bytes go now; the slot itself is
		// reclaimed when append next moves the array.
		b.bytes -= int64(len(b.events[0].data))
		b.events[0] = event{}
		b.events = b.events[1:]
		b.dropped++
		if b.stats != nil {
			b.stats.dropped.Add(1)
		}
		if !b.warned {
			b.warned = true
			b.log.Warn("no event client connected and the event buffer is full: dropping the oldest events",
				zap.String("server", b.name), zap.Int("buffer_size", b.maxCount), zap.Int64("buffer_bytes", b.maxBytes))
		}
	}
}

// len is how many events b keeps now.
func (b *backlog) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

// take empties the backlog and returns the events not older than maxAge
// at now; called with the hub's mu held exclusively.
func (b *backlog) take(now time.Time) []event {
	b.mu.Lock()
	defer b.mu.Unlock()
	evs, dropped := b.events, b.dropped
	b.events, b.bytes, b.dropped, b.warned = nil, 0, 0, false
	expired := 0
	for expired < len(evs) && now.Sub(evs[expired].at) > b.maxAge {
		expired++
	}
	evs = evs[expired:]
	if len(evs) > 0 || dropped > 0 || expired > 0 {
		b.log.Info("an event client connected: delivering the events kept while none was",
			zap.String("server", b.name), zap.Int("events", len(evs)),
			zap.Uint64("dropped_over_bound", dropped), zap.Int("dropped_expired", expired))
	}
	return evs
}

// restore keeps, when the last client leaves, the events it did not get:
// first those whose write failed, then those still queued for it. Called
// with the hub's mu held exclusively; the backlog is empty then.
func (b *backlog) restore(pending []event, queued <-chan event, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range slices.Concat(pending, drain(queued)) {
		if e.heartbeat || e.lifecycle {
			continue
		}
		if e.at.IsZero() {
			// Published while a client was connected: it is as old as the
			// client's leaving, as far as the age limit is concerned.
			e.at = now
		}
		b.push(e)
	}
}

// drain takes what is queued in ch without waiting.
func drain(ch <-chan event) []event {
	var out []event
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

// join subscribes an event client of b's group (b may be nil: no
// backlog). The first client of the group takes the backlog's events,
// which it must write before anything from its queue.
func (h *Hub) join(b *backlog, name string, size int, policy overflowPolicy) (*subscription, []event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.subscribeLocked(name, size, policy)
	if b == nil {
		return s, nil
	}
	b.clients++
	if b.clients > 1 {
		return s, nil
	}
	h.setHold(b, false)
	return s, b.take(time.Now())
}

// leave unsubscribes s, joined with b. When it was the group's last
// client, the backlog starts keeping events again, beginning with
// pending (events s took but may not have delivered) and what is still
// queued in s.
func (h *Hub) leave(b *backlog, s *subscription, pending []event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsubscribeLocked(s)
	if b == nil {
		return
	}
	b.clients--
	if b.clients > 0 {
		return
	}
	b.restore(pending, s.ch, time.Now())
	h.setHold(b, true)
}

// addBacklog starts b keeping events (its group has no client yet);
// removeBacklog stops it for good.
func (h *Hub) addBacklog(b *backlog) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b.stats = h.counters("ws")
	h.setHold(b, b.clients == 0)
}

func (h *Hub) removeBacklog(b *backlog) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.setHold(b, false)
}

// setHold adds b to or removes it from holds; h.mu is held exclusively.
// holds is replaced, never modified, like subs.
func (h *Hub) setHold(b *backlog, on bool) {
	holds := slices.DeleteFunc(slices.Clone(h.holds), func(o *backlog) bool { return o == b })
	if on {
		holds = append(holds, b)
	}
	h.holds = holds
}
