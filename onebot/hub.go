package onebot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// HubOptions configures a Hub.
type HubOptions struct {
	Log *zap.Logger
	// SelfID returns the bot account's id. It is 0 until the platform
	// session knows it (after login); meta events built before then carry
	// self_id 0, and reverse WebSocket waits for a non-zero id before it
	// dials, since frameworks key bots by X-Self-ID. nil means always 0.
	SelfID func() int64
}

// Hub fans events out to the transports. Publish marshals an event once
// and hands the same bytes to every subscriber's bounded queue without
// ever waiting for a subscriber: a stalled subscriber loses events (each
// counted, warned about at most every few seconds), and nobody else
// notices. Backlogs (backlog.go) keep events for a group of subscribers
// while none of them is there.
type Hub struct {
	log    *zap.Logger
	selfID func() int64
	// loginPending: a SelfID func was given, so an id of 0 means the
	// platform has not logged in yet, rather than "no platform at all".
	loginPending bool

	// mu is held shared by Publish for its fan-out and exclusively by
	// every change to subs and holds, so that a change (a client joining
	// or leaving a backlog's group) falls between two events, never in
	// the middle of one: an event is then either in the backlog or in the
	// new client's queue, never in both or neither. A change takes
	// microseconds, the only time Publish can wait.
	mu    sync.RWMutex
	subs  atomic.Pointer[[]*subscription] // replaced whole under mu
	holds []*backlog                      // backlogs with no client: they keep events; replaced whole under mu

	// transports counts events per transport kind (the first word of a
	// subscriber's name: ws, ws-reverse, http-post), for Stats: those of
	// subscribers gone (added as each leaves) and of backlogs. Entries are
	// added under mu and never removed; the kinds are a fixed few, so the
	// map stays small. A live subscriber counts in its own fields, which
	// sit beside the queue Publish touches anyway.
	transports map[string]*transportCounters
}

// transportCounters are one transport kind's event counts.
type transportCounters struct {
	published atomic.Uint64 // events handed to its queues (heartbeats to offline subscribers excluded)
	dropped   atomic.Uint64 // events lost to a full queue or a full backlog
}

// TransportStats is what Stats reports for one transport kind.
type TransportStats struct {
	Transport string // ws, ws-reverse or http-post
	// Published counts the events handed to the transport's queues (and
	// backlogs) and
	// Dropped those of them lost to a full queue (or a full backlog of a
	// forward WS server with no client), over the hub's life.
	Published, Dropped uint64
	// Connected is how many of its subscribers deliver now: open forward
	// WS event connections, connected reverse WS, webhooks whose last
	// delivery worked.
	Connected int
	// Queued is how many events wait in its queues and backlogs now.
	Queued int
}

// Stats reports every transport kind that has subscribed so far, sorted
// by name. It takes the hub's lock shared and reads counters; it is meant
// for a metrics scrape, not for the event path.
func (h *Hub) Stats() []TransportStats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	byName := make(map[string]*TransportStats, len(h.transports))
	out := make([]TransportStats, 0, len(h.transports))
	for name, c := range h.transports {
		out = append(out, TransportStats{Transport: name, Published: c.published.Load(), Dropped: c.dropped.Load()})
	}
	slices.SortFunc(out, func(a, b TransportStats) int { return strings.Compare(a.Transport, b.Transport) })
	for i := range out {
		byName[out[i].Transport] = &out[i]
	}
	for _, s := range *h.subs.Load() {
		if t := byName[s.stats.kind]; t != nil {
			t.Published += s.published.Load()
			t.Dropped += s.dropped.Load()
			t.Queued += len(s.ch)
			if s.online.Load() {
				t.Connected++
			}
		}
	}
	for _, b := range h.holds {
		if b.stats != nil {
			if t := byName[b.stats.kind]; t != nil {
				t.Queued += b.len()
			}
		}
	}
	return out
}

// counters returns the counters of the transport kind of a subscriber
// named name, creating them; h.mu is held exclusively.
func (h *Hub) counters(name string) *kindCounters {
	kind, _, _ := strings.Cut(name, " ")
	if h.transports == nil {
		h.transports = map[string]*transportCounters{}
	}
	c := h.transports[kind]
	if c == nil {
		c = &transportCounters{}
		h.transports[kind] = c
	}
	return &kindCounters{kind: kind, transportCounters: c}
}

// kindCounters is a transport's counters with its kind's name.
type kindCounters struct {
	kind string
	*transportCounters
}

// NewHub returns a Hub with no subscribers.
func NewHub(opts HubOptions) *Hub {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	pending := opts.SelfID != nil
	if opts.SelfID == nil {
		opts.SelfID = func() int64 { return 0 }
	}
	h := &Hub{log: opts.Log, selfID: opts.SelfID, loginPending: pending}
	h.subs.Store(&[]*subscription{})
	return h
}

// SelfID is the bot account's id, 0 while unknown.
func (h *Hub) SelfID() int64 { return h.selfID() }

// waitSelfID waits, at most max, for the account id when the platform has
// not logged in yet, and reports whether an id is known (always true when
// the Hub was built without a SelfID func, which stays 0).
func (h *Hub) waitSelfID(ctx context.Context, max time.Duration) bool {
	if !h.loginPending || h.selfID() != 0 {
		return true
	}
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
			if h.selfID() != 0 {
				return true
			}
		}
	}
}

// Publish delivers ev to every subscriber. ev is marshalled once; a
// json.RawMessage or []byte is taken as the event's JSON (copied, so the
// caller may reuse its buffer) and must be one JSON object without an
// "echo" key (frameworks take any frame with echo for an action reply).
// Publish never blocks; the error is the marshalling error.
func (h *Hub) Publish(ev any) error {
	e, err := encodeEvent(ev)
	if err != nil {
		return fmt.Errorf("publish event: %w", err)
	}
	h.publish(e)
	return nil
}

func encodeEvent(ev any) (event, error) {
	switch v := ev.(type) {
	case json.RawMessage:
		return event{data: append([]byte(nil), v...)}, nil
	case []byte:
		return event{data: append([]byte(nil), v...)}, nil
	case *HeartbeatEvent, HeartbeatEvent:
		b, err := marshal(v)
		return event{data: b, heartbeat: true}, err
	case *LifecycleEvent, LifecycleEvent:
		b, err := marshal(v)
		return event{data: b, lifecycle: true}, err
	}
	b, err := marshal(ev)
	return event{data: b}, err
}

func (h *Hub) publish(e event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range *h.subs.Load() {
		s.offer(e)
	}
	if len(h.holds) > 0 && !e.heartbeat && !e.lifecycle {
		e.at = time.Now()
		for _, b := range h.holds {
			b.offer(e)
		}
	}
}

// event is one marshalled event as queued for subscribers; data is shared
// by every queue and never modified.
type event struct {
	data []byte
	// heartbeat events are never kept for a subscriber that is offline,
	// and never push a real event out of a full queue: ZeroBot drops them
	// on arrival and they are stale by the time a peer reconnects.
	heartbeat bool
	// lifecycle events, like heartbeats, are never kept by a backlog:
	// each connection gets its own "connect".
	lifecycle bool
	// at is when a backlog took the event (zero elsewhere), to drop it
	// once it is older than the backlog's age limit.
	at time.Time
}

// overflowPolicy says what a full queue does with one more event.
type overflowPolicy int

const (
	// dropOldest makes room by discarding the oldest queued event.
	dropOldest overflowPolicy = iota
	// disconnect gives the subscriber up: overflow is closed, and the
	// owner drops the connection (a forward WS client that cannot keep up
	// reconnects and resyncs, instead of silently missing events).
	disconnect
)

// subscription is one subscriber's queue.
type subscription struct {
	hub    *Hub
	name   string
	ch     chan event
	policy overflowPolicy
	log    *zap.Logger

	// online says whether the subscriber is delivering; heartbeats are
	// only queued while it is.
	online atomic.Bool

	stats     *kindCounters // its transport kind's, which it adds its counts to when it leaves
	published atomic.Uint64 // events handed to the queue, over the subscription's life
	dropped   atomic.Uint64 // events lost to overflow, over the subscription's life
	warnings  logLimiter

	overflow     chan struct{} // closed on first overflow under the disconnect policy
	overflowOnce sync.Once
}

// subscribe adds a subscriber with a queue of size events. Pair it with
// unsubscribe.
func (h *Hub) subscribe(name string, size int, policy overflowPolicy) *subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subscribeLocked(name, size, policy)
}

// subscribeLocked is subscribe with h.mu held.
func (h *Hub) subscribeLocked(name string, size int, policy overflowPolicy) *subscription {
	if size <= 0 {
		size = DefaultQueueSize
	}
	s := &subscription{
		hub:      h,
		name:     name,
		ch:       make(chan event, size),
		policy:   policy,
		log:      h.log,
		warnings: logLimiter{every: 10 * time.Second},
		overflow: make(chan struct{}),
		stats:    h.counters(name),
	}
	old := *h.subs.Load()
	subs := make([]*subscription, len(old), len(old)+1)
	copy(subs, old)
	subs = append(subs, s)
	h.subs.Store(&subs)
	return s
}

// unsubscribe removes s; events still queued are discarded.
func (h *Hub) unsubscribe(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsubscribeLocked(s)
}

// unsubscribeLocked is unsubscribe with h.mu held.
func (h *Hub) unsubscribeLocked(s *subscription) {
	old := *h.subs.Load()
	subs := make([]*subscription, 0, len(old))
	for _, o := range old {
		if o != s {
			subs = append(subs, o)
		}
	}
	if len(subs) == len(old) {
		return // not subscribed (any more)
	}
	h.subs.Store(&subs)
	// No Publish runs now (mu is held exclusively): the counts are final.
	s.stats.published.Add(s.published.Load())
	s.stats.dropped.Add(s.dropped.Load())
}

// offer queues e without blocking.
func (s *subscription) offer(e event) {
	if e.heartbeat && !s.online.Load() {
		return
	}
	s.published.Add(1)
	select {
	case s.ch <- e:
		return
	default:
	}
	if s.policy == disconnect {
		s.dropped.Add(1)
		s.overflowOnce.Do(func() { close(s.overflow) })
		return
	}
	if e.heartbeat {
		s.drop()
		return
	}
	// Make room by dropping the oldest. Other publishers may race for the
	// slot; after a few rounds drop the new event instead of spinning.
	for range 4 {
		select {
		case <-s.ch:
			s.drop()
		default:
		}
		select {
		case s.ch <- e:
			return
		default:
		}
	}
	s.drop()
}

func (s *subscription) drop() {
	total := s.dropped.Add(1)
	if ok, held := s.warnings.allow(); ok {
		s.log.Warn("event queue full: dropping the oldest events for a subscriber that cannot keep up",
			zap.String("subscriber", s.name), zap.Int("queue", cap(s.ch)),
			zap.Uint64("dropped_total", total), zap.Uint64("dropped_since_last_warning", held+1))
	}
}
