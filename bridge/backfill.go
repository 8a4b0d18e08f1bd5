package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// No lost messages (issue 6). Yunhu does not replay pushes missed while
// the socket was down, so every Connected after the first (and the first,
// when an earlier run left cursors) starts a backfill round:
//
//  1. The ingest goroutine holds every live push from Connected on.
//  2. The round's goroutine makes a plan: every chat with a cursor that
//     was active within Options.BackfillWindow, plus every chat of the
//     conversation list with activity since the socket went down (new
//     chats have no cursor). Live pushes of chats outside the plan are
//     released at once.
//  3. For each chat it pages list-message backwards from the newest until
//     it reaches the cursor (or, without one, the time the socket went
//     down), and hands the messages to the ingest goroutine, which merges
//     them with the chat's held pushes, sorts by seq and reports what the
//     store has not seen: each message exactly once, in order.
//
// list-message-by-seq would do as well (the simulator serves it as "seq
// below msg_start", 31 at a time), but its direction is only inferred
// (§2.5.4) while list-message's is documented (§2.5.2).
//
// A new Connected cancels a round in progress and starts over; holding
// continues, so nothing is released out of order. Held pushes are bounded
// by maxHeld: beyond it everything is released and order is given up
// rather than memory.
//
// Cursors (the last seq reported per chat) live in the store. The ingest
// goroutine records them in memory; tracker.run writes them every
// cursorFlushInterval with concurrent SetCursor calls, which the store's
// group commit turns into one fsync. After a crash they lag by at most
// that much, and the store's message ids make the overlap harmless. The
// store cannot list its cursors, so the tracker also keeps the set of
// chats (with their last activity) under one key/value entry.

const (
	// defaultBackfillWindow: chats quiet for longer are not backfilled
	// (Options.BackfillWindow overrides it).
	defaultBackfillWindow = 7 * 24 * time.Hour
	// backfillPage is the list-message page size; maxBackfillPages caps
	// one chat's catch-up (older gaps are logged and skipped).
	backfillPage     = 50
	maxBackfillPages = 40
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
	// chatsKey is the store key of the tracked chats.
	chatsKey = "bridge/chats"
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
	chats []chatKey
	chat  chatKey
	msgs  []yunhu.Message
}

// heldItem is a push held while its chat is being backfilled.
type heldItem struct {
	key chatKey
	it  item
}

// target is one chat a round fetches.
type target struct {
	chat      chatKey
	cursor    int64
	hasCursor bool
}

// connected starts a backfill round if there is anything to catch up on.
func (in *ingest) connected(ctx context.Context) {
	in.connects++
	in.requests.poke()
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

// holding says whether pushes of chat key must wait for the backfill.
func (in *ingest) holding(key chatKey) bool {
	return in.holdAll || in.pending[key]
}

// hold keeps a push until its chat's backfill is in.
func (in *ingest) hold(ctx context.Context, key chatKey, it item) {
	if mp, ok := it.push.(yunhu.MessagePush); ok {
		in.heldIDs[mp.Message.ID] = key
	}
	in.held = append(in.held, heldItem{key: key, it: it})
	if len(in.held) > maxHeld {
		in.b.log.Warn("too many pushes held during backfill; releasing them, order may suffer", zap.Int("held", len(in.held)))
		in.holdAll = false
		in.pending = nil
		in.release(ctx, func(chatKey) bool { return true })
	}
}

// release dispatches, in arrival order, the held pushes whose chat match
// selects.
func (in *ingest) release(ctx context.Context, match func(chatKey) bool) {
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
		if mp, ok := h.it.push.(yunhu.MessagePush); ok {
			delete(in.heldIDs, mp.Message.ID)
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
		in.pending = make(map[chatKey]bool, len(f.chats))
		for _, c := range f.chats {
			in.pending[c] = true
		}
		in.release(ctx, func(k chatKey) bool { return !in.pending[k] })
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
				m := h.it.push.(yunhu.MessagePush).Message
				delete(in.heldIDs, m.ID)
				msgs = append(msgs, m)
			default:
				others = append(others, h)
			}
		}
		clear(in.held[len(keep):])
		in.held = keep
		slices.SortStableFunc(msgs, func(a, b yunhu.Message) int { return cmp.Compare(a.Seq, b.Seq) })
		delete(in.pending, f.chat)
		in.emit(ctx, msgs, false)
		for _, h := range others {
			in.dispatch(ctx, h.it)
		}
		in.flush(ctx)
	case fillDone:
		in.pending = nil
		in.offlineSince = time.Time{}
		in.release(ctx, func(chatKey) bool { return true })
		if in.cancelRound != nil {
			in.cancelRound()
			in.cancelRound = nil
		}
	}
}

func isMessage(it item) bool {
	_, ok := it.push.(yunhu.MessagePush)
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
	chats := make([]chatKey, len(targets))
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
// and conversations active since the socket went down.
func (in *ingest) plan(ctx context.Context, since time.Time) []target {
	var out []target
	planned := map[chatKey]bool{}
	add := func(c chatKey) {
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
	convs, err := in.b.platform.Conversations(pctx)
	if err != nil {
		if ctx.Err() == nil {
			in.b.log.Warn("backfill: conversation list; new chats are not caught up", zap.Error(err))
		}
		return out
	}
	for _, c := range convs {
		if c.Chat.ID == "" || c.Time.Before(since) {
			continue
		}
		if c.Chat.Type == yunhu.ChatTypeBot {
			in.b.rememberBot(c.Chat.ID)
		}
		add(keyOf(c.Chat))
	}
	return out
}

// fetchMissed pages one chat's history backwards until the cursor (or
// since, without one). A chat it cannot read yields what it got.
func (in *ingest) fetchMissed(ctx context.Context, t target, since time.Time) []yunhu.Message {
	chat := yunhu.Chat{ID: t.chat.ID, Type: t.chat.Type}
	var out []yunhu.Message
	before := ""
	for page := 0; ; page++ {
		if page == maxBackfillPages {
			in.b.log.Warn("backfill: gap too long; older messages skipped",
				zap.String("chat", t.chat.ID), zap.Int("fetched", len(out)))
			return out
		}
		msgs, err := in.listPage(ctx, chat, before)
		if err != nil {
			if ctx.Err() == nil {
				in.b.log.Error("backfill: read history; messages may be missing",
					zap.String("chat", t.chat.ID), zap.Error(err))
			}
			return out
		}
		reached := false
		oldest := -1
		for i := range msgs {
			m := &msgs[i]
			if t.hasCursor && m.Seq <= t.cursor || !t.hasCursor && m.Time.Before(since) {
				reached = true
				continue
			}
			out = append(out, *m)
			if oldest < 0 || m.Seq < msgs[oldest].Seq {
				oldest = i
			}
		}
		// A short page is not the end: Yunhu may serve fewer than asked.
		// The end is the cursor, an empty page, or a page with nothing
		// older than the last (a server serving the same page again).
		if reached || oldest < 0 || msgs[oldest].ID == before {
			return out
		}
		before = msgs[oldest].ID
	}
}

// listPage reads one page, trying again on failure.
func (in *ingest) listPage(ctx context.Context, chat yunhu.Chat, before string) ([]yunhu.Message, error) {
	var err error
	for attempt := 0; attempt < backfillAttempts; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(yunhu.DefaultBackoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		var msgs []yunhu.Message
		if msgs, err = in.b.platform.ListMessages(ctx, chat, before, backfillPage); err == nil {
			return msgs, nil
		}
	}
	return nil, err
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
	Type   yunhu.ChatType `json:"type"`
	ID     string         `json:"id"`
	Active int64          `json:"active"` // unix seconds
}

// tracker records cursors and chat activity for the ingest goroutine and
// writes them to the store from its own goroutine (run).
type tracker struct {
	b *Bridge

	mu         sync.Mutex
	chats      map[chatKey]*chatState // guarded by mu
	dirty      map[chatKey]bool       // guarded by mu: cursor to write
	indexDirty bool                   // guarded by mu
	loaded     bool                   // guarded by mu: an earlier run left chats
}

func newTracker(b *Bridge) *tracker {
	return &tracker{b: b, chats: map[chatKey]*chatState{}, dirty: map[chatKey]bool{}}
}

// load reads the chats an earlier run tracked.
func (t *tracker) load() {
	v, err := t.b.store.Get(chatsKey)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	var list []trackedChat
	if err == nil {
		err = json.Unmarshal(v, &list)
	}
	if err != nil {
		t.b.log.Warn("read tracked chats; no backfill for chats from earlier runs", zap.Error(err))
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range list {
		at := time.Unix(c.Active, 0)
		t.chats[chatKey{c.Type, c.ID}] = &chatState{active: at, indexed: at}
		if c.Type == yunhu.ChatTypeBot {
			t.b.rememberBot(c.ID)
		}
	}
	t.loaded = len(t.chats) > 0
}

// empty says whether no earlier run left chats to catch up on.
func (t *tracker) empty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.loaded
}

// advance records that a message of seq at time at was reported.
func (t *tracker) advance(key chatKey, seq int64, at time.Time) {
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
func (t *tracker) reported(key chatKey) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.chats[key]; st != nil {
		return st.seq
	}
	return 0
}

// cursor is the last seq reported in a chat, by this run or an earlier one.
func (t *tracker) cursor(key chatKey) (int64, bool) {
	t.mu.Lock()
	seq := int64(0)
	if st := t.chats[key]; st != nil {
		seq = st.seq
	}
	t.mu.Unlock()
	stored, err := t.b.store.Cursor(int32(key.Type), key.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.b.log.Warn("read cursor", zap.String("chat", key.ID), zap.Error(err))
	}
	if err == nil && stored > seq {
		seq = stored
	}
	return seq, seq > 0
}

// activeSince lists the chats with a message at or after t.
func (t *tracker) activeSince(at time.Time) []chatKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []chatKey
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
	cursors := make(map[chatKey]int64, len(t.dirty))
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

	// Concurrent calls share one commit (the store's group commit).
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	var failed sync.Map
	for k, seq := range cursors {
		g.Go(func() error {
			if err := t.b.store.SetCursor(gctx, int32(k.Type), k.ID, seq); err != nil {
				failed.Store(k, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	t.mu.Lock()
	for k, seq := range cursors {
		if _, bad := failed.Load(k); bad {
			t.dirty[k] = true
		} else if st := t.chats[k]; st != nil && seq > st.written {
			st.written = seq
		}
	}
	t.mu.Unlock()
	failed.Range(func(k, err any) bool {
		if ctx.Err() == nil {
			t.b.log.Warn("write cursor; retrying", zap.String("chat", k.(chatKey).ID), zap.Any("error", err))
		}
		return false // one line is enough
	})

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
		list = append(list, trackedChat{Type: k.Type, ID: k.ID, Active: st.active.Unix()})
	}
	slices.SortFunc(list, func(a, b trackedChat) int {
		if c := cmp.Compare(b.Active, a.Active); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(list) > maxTrackedChats {
		for _, c := range list[maxTrackedChats:] {
			delete(t.chats, chatKey{c.Type, c.ID})
			delete(t.dirty, chatKey{c.Type, c.ID})
		}
		list = list[:maxTrackedChats]
	}
	for _, c := range list {
		st := t.chats[chatKey{c.Type, c.ID}]
		st.indexed = st.active
	}
	return list
}
