package bridge

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// No lost messages. A platform need not replay what was pushed while the
// backend was offline, so every Online after the first (and the first,
// when an earlier run left cursors) starts a backfill round, if the
// backend has platform.History:
//
//  1. The ingest goroutine holds every live event from Online on.
//  2. The round's goroutine makes a plan: every chat with a cursor that
//     was active within Options.BackfillWindow, plus every conversation
//     History.Active lists with activity since the backend went offline
//     (new chats have no cursor). Live events of chats outside the plan
//     are released at once.
//  3. For each chat it asks History.Missed for what came after the
//     cursor (or, without one, since the backend went offline), and
//     hands the messages to the ingest goroutine, which merges them with
//     the chat's held events, sorts by seq and reports what the store has
//     not seen: each message exactly once, in order.
//
// A new Connected cancels a round in progress and starts over; holding
// continues, so nothing is released out of order. Held pushes are bounded
// by maxHeld: beyond it everything is released and order is given up
// rather than memory.
//
// Cursors (the last seq reported per chat, 8 bytes big-endian so that the
// store's byte order is seq order) live in the store. The ingest
// goroutine records them in memory; tracker.run writes them every
// cursorFlushInterval with one SetCursors call, one commit. After a crash they lag by at most
// that much, and the store's message ids make the overlap harmless. The
// store cannot list its cursors, so the tracker also keeps the set of
// chats (with their last activity) under one key/value entry.

const (
	// defaultBackfillWindow: chats quiet for longer are not backfilled
	// (Options.BackfillWindow overrides it).
	defaultBackfillWindow = 7 * 24 * time.Hour
	// backfillParallel chats are fetched at once.
	backfillParallel = 4
	// backfillAttempts is how often a failed page is tried.
	backfillAttempts = 3
	// planTimeout bounds the conversation list read while pushes wait.
	planTimeout = 10 * time.Second
	// sinceMargin widens "since the socket went down" for server clocks
	// that run behind ours.
	sinceMargin = 2 * time.Minute
	// maxHeld bounds the pushes held during a round.
	maxHeld = 20000

	cursorFlushInterval = 500 * time.Millisecond
	// chatsKey is the store key of the tracked chats; legacyChatsKey
	// where the schema 2 store kept them, keyed by Yunhu chat types
	// (platform.V2Keys maps them).
	chatsKey       = "core/chats"
	legacyChatsKey = "bridge/chats"
	// maxTrackedChats bounds the tracked chats (and keeps their JSON well
	// below the store's 1 MiB value limit); the least recently active are
	// forgotten first.
	maxTrackedChats = 10000
	// activityResolution: a chat's activity is rewritten in the store
	// only when it moved by this much.
	activityResolution = time.Hour
)

// fillKind is the kind of progress a backfill round reports.
type fillKind int

const (
	fillPlan fillKind = iota // chats: the chats the round will fetch
	fillChat                 // chat, msgs: what one chat missed
	fillDone                 // the round is over
)

// fill is backfill progress, sent through the ingest queue.
type fill struct {
	kind  fillKind
	round uint64
	chats []platform.Conv
	chat  platform.Conv
	msgs  []platform.Message
}

// heldItem is an event held while its chat is being backfilled.
type heldItem struct {
	key platform.Conv
	it  item
}

// target is one chat a round fetches.
type target struct {
	chat      platform.Conv
	cursor    int64
	hasCursor bool
}

// connected starts a backfill round if there is anything to catch up on.
func (in *ingest) connected(ctx context.Context) {
	in.connects++
	if in.b.history == nil {
		return // nothing to catch up with
	}
	if in.connects == 1 && in.tracker.empty() {
		return // a first start: there is no "missed"
	}
	since := in.offlineSince // the first drop since the last completed round
	if since.IsZero() {
		since = in.tracker.lastActive() // a restart
	}
	since = since.Add(-sinceMargin)
	if in.cancelRound != nil {
		in.cancelRound()
	}
	in.round++
	rctx, cancel := context.WithCancel(ctx)
	in.cancelRound = cancel
	in.holdAll = true
	round := in.round
	in.rounds.Add(1)
	go func() {
		defer in.rounds.Done()
		in.backfill(rctx, round, since)
	}()
}

// holding says whether events of chat key must wait for the backfill.
func (in *ingest) holding(key platform.Conv) bool {
	return in.holdAll || in.pending[key]
}

// hold keeps an event until its chat's backfill is in.
func (in *ingest) hold(ctx context.Context, key platform.Conv, it item) {
	if r, ok := it.ev.(platform.Received); ok {
		in.heldIDs[r.Message.ID] = key
	}
	in.held = append(in.held, heldItem{key: key, it: it})
	if len(in.held) > maxHeld {
		in.b.log.Warn("too many events held during backfill; releasing them, order may suffer", zap.Int("held", len(in.held)))
		in.holdAll = false
		in.pending = nil
		in.release(ctx, func(platform.Conv) bool { return true })
	}
}

// release dispatches, in arrival order, the held events whose chat match
// selects.
func (in *ingest) release(ctx context.Context, match func(platform.Conv) bool) {
	var out []heldItem
	keep := in.held[:0]
	for _, h := range in.held {
		if match(h.key) {
			out = append(out, h)
		} else {
			keep = append(keep, h)
		}
	}
	clear(in.held[len(keep):])
	in.held = keep
	for _, h := range out {
		if r, ok := h.it.ev.(platform.Received); ok {
			delete(in.heldIDs, r.Message.ID)
		}
		in.dispatch(ctx, h.it)
	}
	in.flush(ctx)
}

// onFill applies a round's progress; progress of a cancelled round is
// ignored (the current round fetches again).
func (in *ingest) onFill(ctx context.Context, f *fill) {
	if f.round != in.round {
		return
	}
	switch f.kind {
	case fillPlan:
		in.holdAll = false
		in.pending = make(map[platform.Conv]bool, len(f.chats))
		for _, c := range f.chats {
			in.pending[c] = true
		}
		in.release(ctx, func(k platform.Conv) bool { return !in.pending[k] })
	case fillChat:
		if !in.pending[f.chat] {
			in.emit(ctx, f.msgs, false) // released early (maxHeld): just dedupe
			return
		}
		msgs := f.msgs
		var others []heldItem
		keep := in.held[:0]
		for _, h := range in.held {
			switch {
			case h.key != f.chat:
				keep = append(keep, h)
			case isMessage(h.it):
				m := h.it.ev.(platform.Received).Message
				delete(in.heldIDs, m.ID)
				msgs = append(msgs, m)
				in.handled(h.it)
			default:
				others = append(others, h)
			}
		}
		clear(in.held[len(keep):])
		in.held = keep
		slices.SortStableFunc(msgs, func(a, b platform.Message) int { return cmp.Compare(a.Seq, b.Seq) })
		delete(in.pending, f.chat)
		in.emit(ctx, msgs, false)
		for _, h := range others {
			in.dispatch(ctx, h.it)
		}
		in.flush(ctx)
	case fillDone:
		in.pending = nil
		in.offlineSince = time.Time{}
		in.release(ctx, func(platform.Conv) bool { return true })
		if in.cancelRound != nil {
			in.cancelRound()
			in.cancelRound = nil
		}
	}
}

func isMessage(it item) bool {
	_, ok := it.ev.(platform.Received)
	return ok
}

// send hands an item to the ingest goroutine; false once ctx is done.
func (in *ingest) send(ctx context.Context, it item) bool {
	select {
	case in.ch <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

// backfill runs one round (see the top of this file).
func (in *ingest) backfill(ctx context.Context, round uint64, since time.Time) {
	targets := in.plan(ctx, since)
	chats := make([]platform.Conv, len(targets))
	for i, t := range targets {
		chats[i] = t.chat
	}
	if !in.send(ctx, item{fill: &fill{kind: fillPlan, round: round, chats: chats}}) {
		return
	}
	var fetched atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(backfillParallel)
	for _, t := range targets {
		g.Go(func() error {
			msgs := in.fetchMissed(gctx, t, since)
			fetched.Add(int64(len(msgs)))
			if !in.send(gctx, item{fill: &fill{kind: fillChat, round: round, chat: t.chat, msgs: msgs}}) {
				return gctx.Err()
			}
			return nil
		})
	}
	if g.Wait() != nil {
		return
	}
	if in.send(ctx, item{fill: &fill{kind: fillDone, round: round}}) {
		in.b.log.Info("caught up after reconnecting", zap.Int("chats", len(targets)),
			zap.Int64("messages_since_cursors", fetched.Load()))
	}
}

// plan lists the chats to fetch: tracked chats active within the window,
// and conversations active since the backend went offline.
func (in *ingest) plan(ctx context.Context, since time.Time) []target {
	var out []target
	planned := map[platform.Conv]bool{}
	add := func(c platform.Conv) {
		if planned[c] {
			return
		}
		planned[c] = true
		cur, ok := in.tracker.cursor(c)
		out = append(out, target{chat: c, cursor: cur, hasCursor: ok})
	}
	for _, c := range in.tracker.activeSince(in.b.now().Add(-in.b.opts.BackfillWindow)) {
		add(c)
	}
	pctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	convs, err := in.b.history.Active(pctx, since)
	if err != nil {
		if ctx.Err() == nil {
			in.b.log.Warn("backfill: conversation list; new chats are not caught up", zap.Error(err))
		}
		return out
	}
	for _, c := range convs {
		if c.ID != "" {
			add(c)
		}
	}
	return out
}

// fetchMissed asks the backend for what one chat missed after its cursor
// (or since, without one), trying again on failure. A chat it cannot read
// yields nothing; its held events are reported as they are.
func (in *ingest) fetchMissed(ctx context.Context, t target, since time.Time) []platform.Message {
	after := int64(0)
	if t.hasCursor {
		after = t.cursor
	}
	var err error
	for attempt := 0; attempt < backfillAttempts; attempt++ {
		if attempt > 0 {
			timer := time.NewTimer(loginBackoff(attempt - 1))
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-timer.C:
			}
		}
		var msgs []platform.Message
		if msgs, err = in.b.history.Missed(ctx, t.chat, after, since); err == nil {
			// A backend's history may name conversations its own way
			// (WuKongIM's private channel ids differ between pushes and
			// history); the core files them under the chat it asked for.
			for i := range msgs {
				msgs[i].Conv = t.chat
			}
			return msgs
		}
	}
	if ctx.Err() == nil {
		in.b.log.Error("backfill: read history; messages may be missing",
			zap.String("chat", t.chat.ID), zap.Error(err))
	}
	return nil
}

// chatState is what the tracker knows of one chat.
type chatState struct {
	seq     int64     // highest seq reported (0: none in this run)
	written int64     // highest seq written to the store's cursor
	active  time.Time // time of the newest message
	indexed time.Time // active as last written under chatsKey
}

// trackedChat is one entry under chatsKey.
type trackedChat struct {
	Kind   platform.Kind `json:"kind"`
	ID     string        `json:"id"`
	Active int64         `json:"active"` // unix seconds
}

// legacyTrackedChat is an entry under legacyChatsKey.
type legacyTrackedChat struct {
	Type   int32  `json:"type"`
	ID     string `json:"id"`
	Active int64  `json:"active"`
}

// tracker records cursors and chat activity for the ingest goroutine and
// writes them to the store from its own goroutine (run).
type tracker struct {
	b *Bridge

	mu         sync.Mutex
	chats      map[platform.Conv]*chatState // guarded by mu
	dirty      map[platform.Conv]bool       // guarded by mu: cursor to write
	indexDirty bool                         // guarded by mu
	loaded     bool                         // guarded by mu: an earlier run left chats
}

func newTracker(b *Bridge) *tracker {
	return &tracker{b: b, chats: map[platform.Conv]*chatState{}, dirty: map[platform.Conv]bool{}}
}

// load reads the chats an earlier run tracked.
func (t *tracker) load() {
	list, err := t.readChats()
	if err != nil {
		t.b.log.Warn("read tracked chats; no backfill for chats from earlier runs", zap.Error(err))
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range list {
		at := time.Unix(c.Active, 0)
		t.chats[platform.Conv{Kind: c.Kind, ID: c.ID}] = &chatState{active: at, indexed: at}
	}
	t.loaded = len(t.chats) > 0
	if t.loaded {
		t.indexDirty = true // rewrites a list read from legacyChatsKey under chatsKey
	}
}

// readChats reads the tracked chats, from legacyChatsKey when a schema 2
// store left them there and the backend can map them.
func (t *tracker) readChats() ([]trackedChat, error) {
	var list []trackedChat
	v, err := t.b.store.Get(chatsKey)
	if err == nil {
		return list, json.Unmarshal(v, &list)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	v2, ok := t.b.backend.(platform.V2Keys)
	if !ok {
		return nil, nil
	}
	if v, err = t.b.store.Get(legacyChatsKey); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var legacy []legacyTrackedChat
	if err := json.Unmarshal(v, &legacy); err != nil {
		return nil, err
	}
	for _, c := range legacy {
		conv := v2.ConvFromV2(c.Type, c.ID)
		list = append(list, trackedChat{Kind: conv.Kind, ID: conv.ID, Active: c.Active})
	}
	return list, nil
}

// empty says whether no earlier run left chats to catch up on.
func (t *tracker) empty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.loaded
}

// advance records that a message of seq at time at was reported.
func (t *tracker) advance(key platform.Conv, seq int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.chats[key]
	if st == nil {
		st = &chatState{}
		t.chats[key] = st
		t.indexDirty = true
	}
	if seq > st.seq {
		st.seq = seq
		if seq > st.written {
			t.dirty[key] = true
		}
	}
	if at.After(st.active) {
		st.active = at
		if at.Sub(st.indexed) >= activityResolution {
			t.indexDirty = true
		}
	}
}

// reported is the last seq reported in a chat by this run; 0 if none.
func (t *tracker) reported(key platform.Conv) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.chats[key]; st != nil {
		return st.seq
	}
	return 0
}

// cursor is the last seq reported in a chat, by this run or an earlier one.
func (t *tracker) cursor(key platform.Conv) (int64, bool) {
	t.mu.Lock()
	seq := int64(0)
	if st := t.chats[key]; st != nil {
		seq = st.seq
	}
	t.mu.Unlock()
	v, err := t.b.store.Cursor(convKey(key))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.b.log.Warn("read cursor", zap.String("chat", key.ID), zap.Error(err))
	}
	if err == nil && len(v) == 8 {
		if stored := int64(binary.BigEndian.Uint64(v)); stored > seq {
			seq = stored
		}
	}
	return seq, seq > 0
}

// activeSince lists the chats with a message at or after t.
func (t *tracker) activeSince(at time.Time) []platform.Conv {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []platform.Conv
	for k, st := range t.chats {
		if !st.active.Before(at) {
			out = append(out, k)
		}
	}
	return out
}

// lastActive is the newest activity of any chat.
func (t *tracker) lastActive() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, st := range t.chats {
		if st.active.After(last) {
			last = st.active
		}
	}
	return last
}

// run writes cursors every cursorFlushInterval until ctx is done; the
// last write is receive's, after the ingest goroutine stopped.
func (t *tracker) run(ctx context.Context) {
	tick := time.NewTicker(cursorFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.flush(ctx)
		}
	}
}

// flush writes the cursors that moved and, when it changed, the chat set.
func (t *tracker) flush(ctx context.Context) {
	t.mu.Lock()
	cursors := make(map[platform.Conv]int64, len(t.dirty))
	for k := range t.dirty {
		if st := t.chats[k]; st != nil { // nil: forgotten (snapshotLocked)
			cursors[k] = st.seq
		}
	}
	clear(t.dirty)
	var list []trackedChat
	if t.indexDirty {
		list = t.snapshotLocked()
		t.indexDirty = false
	}
	t.mu.Unlock()

	if len(cursors) > 0 {
		batch := make([]store.Cursor, 0, len(cursors))
		for k, seq := range cursors {
			batch = append(batch, store.Cursor{Conv: convKey(k), Value: binary.BigEndian.AppendUint64(nil, uint64(seq))})
		}
		err := t.b.store.SetCursors(ctx, batch)
		t.mu.Lock()
		for k, seq := range cursors {
			if err != nil {
				t.dirty[k] = true
			} else if st := t.chats[k]; st != nil && seq > st.written {
				st.written = seq
			}
		}
		t.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			t.b.log.Warn("write cursors; retrying", zap.Int("chats", len(batch)), zap.Error(err))
		}
	}

	if list == nil {
		return
	}
	v, err := json.Marshal(list)
	if err == nil {
		err = t.b.store.Set(ctx, chatsKey, v)
	}
	if err != nil {
		if ctx.Err() == nil {
			t.b.log.Warn("write tracked chats; retrying", zap.Error(err))
		}
		t.mu.Lock()
		t.indexDirty = true
		t.mu.Unlock()
	}
}

// snapshotLocked lists the tracked chats, newest activity first, and
// forgets those beyond maxTrackedChats.
func (t *tracker) snapshotLocked() []trackedChat {
	list := make([]trackedChat, 0, len(t.chats))
	for k, st := range t.chats {
		list = append(list, trackedChat{Kind: k.Kind, ID: k.ID, Active: st.active.Unix()})
	}
	slices.SortFunc(list, func(a, b trackedChat) int {
		if c := cmp.Compare(b.Active, a.Active); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(list) > maxTrackedChats {
		for _, c := range list[maxTrackedChats:] {
			delete(t.chats, platform.Conv{Kind: c.Kind, ID: c.ID})
			delete(t.dirty, platform.Conv{Kind: c.Kind, ID: c.ID})
		}
		list = list[:maxTrackedChats]
	}
	for _, c := range list {
		st := t.chats[platform.Conv{Kind: c.Kind, ID: c.ID}]
		st.indexed = st.active
	}
	return list
}
