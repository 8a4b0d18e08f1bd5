package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// Ingest: backend events → OneBot events.
//
//	Backend.Run ─Sink.Deliver─▶ bounded queue ─▶ ingest goroutine:
//	    take what is queued (a batch) → dedupe (store.MessageID) →
//	    one store.PutMessagesAliased for the batch's new messages and the
//	    aliases of their new non-numeric chats and senders (one fsync) →
//	    build and publish the events, in order → Deliver returns
//	backfill goroutine (after a reconnect) ─▶ the same queue
//
// Deliver returns once every event of its batch has been handled: stored
// and published, or dropped as a duplicate, or (for an event held during
// a backfill) once it is released and handled. A backend acknowledges to
// its server only then, so nothing acknowledged can be lost in a crash.
//
// A message_id is durable before any event carries it: a bot that calls
// get_msg or delete_msg on it at once finds it; so are the aliases of the
// user_id and group_id it carries, written in the same commit. One
// goroutine does all of this, so the order of each chat is the order of
// the backend, and there is no race with itself over which message is new.
//
// The ingest goroutine never waits for a member list: a group's member
// list (for the sender's role and card) is fetched by the member cache's
// background fetchers, and until it arrives the events of that group carry
// role member and no card (members.go).
//
// Exactly once: a message is reported when the store has no id for it yet,
// or has one not marked Reported, which only a record the pipeline did
// not write has: an own message stored by send_msg before its echo
// arrived, or the placeholder of a quoted message never seen. The account's own messages
// (sent from any device or by this daemon) become message_sent events when
// ReportSelfMessage is on and nothing otherwise; they never become message
// events.

const (
	// ingestQueue bounds the events waiting for the ingest goroutine.
	// When it is full, Deliver waits, which stops the backend's reader:
	// the backend is the only producer that can be slowed down.
	ingestQueue = 16384
	// maxIngestBatch bounds what one round of the ingest goroutine takes,
	// and so one PutMessages: the store's own commit limit. Batches grow
	// with the store's latency, so that a slow disk costs latency, not
	// throughput.
	maxIngestBatch = 4096
	// recentMessages is how many message ids the ingest goroutine
	// remembers the conversation of, for edits and appends, which do not
	// always say which conversation they belong to.
	recentMessages = 1 << 16
)

// item is one unit of work for the ingest goroutine: an event from the
// backend, or progress from a backfill round.
type item struct {
	ev   platform.Event
	fill *fill
	// d is the Deliver call the event came with; nil for fills.
	d *delivery
}

// delivery is one Deliver call waiting for its events to be handled.
type delivery struct {
	left int           // events not handled yet; the ingest goroutine's
	err  error         // the first failure to store one of them
	done chan struct{} // closed when left reaches 0
}

// ingest is the state of one receive call. Fields without a comment
// belong to the ingest goroutine.
type ingest struct {
	b       *Bridge
	ch      chan item
	stop    <-chan struct{} // receive's context is done
	members *memberCache
	tracker *tracker

	chunk   []platform.Message // live messages not yet stored
	buf     []byte             // event encoding buffer (the hub copies)
	streams []streamAppend     // appends not yet stored
	recent  recentIndex
	// handledDs are the deliveries of events dispatched since the last
	// flush; settle counts them down once the flush made them durable.
	handledDs []*delivery
	// failed: a store write of this round failed; the deliveries it
	// settles report it, so the backend does not acknowledge.
	failed error

	// Backfill coordination (backfill.go).
	connects     int
	offlineSince time.Time
	round        uint64
	cancelRound  context.CancelFunc
	rounds       sync.WaitGroup
	holdAll      bool
	pending      map[platform.Conv]bool
	held         []heldItem
	heldIDs      map[string]platform.Conv
}

// receive runs the backend's receive loop and the ingest pipeline until
// ctx is done.
func (b *Bridge) receive(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	tr := newTracker(b)
	tr.load()
	in := &ingest{
		b:       b,
		ch:      make(chan item, ingestQueue),
		stop:    ctx.Done(),
		members: b.members,
		tracker: tr,
		recent:  newRecentIndex(recentMessages),
		heldIDs: map[string]platform.Conv{},
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){in.loop, in.members.run, tr.run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	err := b.backend.Run(ctx, in)
	cancel()
	wg.Wait()
	b.online.Store(false)
	// Cursors the last ticks did not write yet; the store is still open
	// (the daemon closes it after the bridge returns).
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer fcancel()
	tr.flush(fctx)
	if parent.Err() != nil {
		return nil
	}
	return err
}

// Deliver is the platform.Sink the backend's Run delivers into.
func (in *ingest) Deliver(ctx context.Context, events []platform.Event) error {
	if len(events) == 0 {
		return nil
	}
	d := &delivery{left: len(events), done: make(chan struct{})}
	for _, ev := range events {
		switch ev := ev.(type) {
		case platform.Online:
			if !in.b.online.Swap(true) {
				in.b.log.Info("backend online", zap.String("backend", in.b.backend.Name()))
			}
		case platform.Offline:
			switch {
			case !in.b.online.Swap(false):
			case ev.Err == nil || errors.Is(ev.Err, context.Canceled):
				in.b.log.Info("backend offline", zap.String("backend", in.b.backend.Name()))
			default:
				in.b.log.Warn("backend offline; it reconnects", zap.String("backend", in.b.backend.Name()), zap.Error(ev.Err))
			}
		}
		select {
		case in.ch <- item{ev: ev, d: d}:
		case <-in.stop:
			return context.Canceled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-d.done:
		return d.err
	case <-in.stop:
		return context.Canceled
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handled notes that an item's event needs no more than the next flush.
func (in *ingest) handled(it item) {
	if it.d != nil {
		in.handledDs = append(in.handledDs, it.d)
	}
}

// settle counts down the deliveries whose events the last flush made
// durable, and ends the Deliver calls that have nothing left.
func (in *ingest) settle() {
	for _, d := range in.handledDs {
		if d.err == nil {
			d.err = in.failed
		}
		if d.left--; d.left == 0 {
			close(d.done)
		}
	}
	clear(in.handledDs)
	in.handledDs = in.handledDs[:0]
	in.failed = nil
}

// loop is the ingest goroutine.
func (in *ingest) loop(ctx context.Context) {
	defer func() {
		if in.cancelRound != nil {
			in.cancelRound()
		}
		in.rounds.Wait()
	}()
	batch := make([]item, 0, maxIngestBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-in.ch:
			batch = append(batch[:0], it)
		}
	drain:
		for len(batch) < maxIngestBatch {
			select {
			case it := <-in.ch:
				batch = append(batch, it)
			default:
				break drain
			}
		}
		for _, it := range batch {
			in.dispatch(ctx, it)
		}
		in.flush(ctx)
		in.settle()
		clear(batch)
	}
}

// dispatch handles one item: messages join the chunk stored at the next
// flush; anything that refers to stored messages flushes first, so that
// the backend's order holds. An event held for a backfill is handled when
// it is released.
func (in *ingest) dispatch(ctx context.Context, it item) {
	if it.fill != nil {
		in.flush(ctx)
		in.onFill(ctx, it.fill)
		return
	}
	switch ev := it.ev.(type) {
	case platform.Received:
		conv := ev.Message.Conv
		if in.holding(conv) {
			in.hold(ctx, conv, it)
			return
		}
		in.recent.put(ev.Message.ID, conv)
		in.chunk = append(in.chunk, ev.Message)
	case platform.Recalled:
		if in.holding(ev.Conv) {
			in.hold(ctx, ev.Conv, it)
			return
		}
		in.flush(ctx)
		in.recall(ctx, ev.Conv, ev)
	case platform.Edited:
		conv, ok := in.locate(ev.MsgID, ev.Conv)
		if in.holdAll || ok && in.pending[conv] {
			in.hold(ctx, conv, it)
			return
		}
		in.flush(ctx)
		in.edit(ctx, conv, ok, ev)
	case platform.Appended:
		conv, ok := in.locate(ev.MsgID, ev.Conv)
		if in.holdAll || ok && in.pending[conv] {
			in.hold(ctx, conv, it)
			return
		}
		if !ok {
			in.b.log.Debug("append to an unknown message", zap.String("msg_id", ev.MsgID))
			break
		}
		in.addStream(conv, ev)
	case platform.Online:
		in.flush(ctx)
		in.connected(ctx)
	case platform.Offline:
		if in.offlineSince.IsZero() { // since the last completed backfill
			in.offlineSince = in.b.now()
		}
	case platform.Request:
		in.flush(ctx)
		in.request(ctx, ev)
	case platform.MemberLeft, platform.MemberJoined, platform.MemberMuted:
		in.flush(ctx)
		in.groupNotice(ctx, ev)
	case platform.MembersChanged:
		in.members.forget(ev.GroupID)
	}
	in.handled(it)
}

// flush stores and reports what the chunk holds, then applies stream
// chunks (which may refer to messages of the chunk).
func (in *ingest) flush(ctx context.Context) {
	if len(in.chunk) > 0 {
		in.emit(ctx, in.chunk, true)
		clear(in.chunk)
		in.chunk = in.chunk[:0]
	}
	if len(in.streams) > 0 {
		in.applyStreams(ctx)
	}
}

// locate finds the conversation of a stored or held message from its id
// and what an edit or append says about it: the recent index first, then
// the store under each conversation the event may mean. A private edit
// may name the account itself as the conversation (as Yunhu's pushes to
// the receiver do), which the store cannot be asked about.
func (in *ingest) locate(msgID string, c platform.Conv) (platform.Conv, bool) {
	if k, ok := in.recent.get(msgID); ok {
		return k, true
	}
	if k, ok := in.heldIDs[msgID]; ok {
		return k, true
	}
	kinds := []platform.Kind{c.Kind}
	if c.Kind == 0 {
		kinds = []platform.Kind{platform.KindGroup, platform.KindPrivate}
	}
	for _, k := range kinds {
		if c.ID == "" || k == platform.KindPrivate && c.ID == in.b.self() {
			continue
		}
		conv := platform.Conv{Kind: k, ID: c.ID}
		if _, err := in.b.store.MessageID(convKey(conv), msgID); err == nil {
			return conv, true
		}
	}
	return platform.Conv{}, false
}

// entry is a message on its way to the store and the hub.
type entry struct {
	m      *platform.Message
	key    platform.Conv
	quote  int32 // message_id of the quoted message, 0 if none
	member memberInfo
	known  bool // member found in the member list
	// backfill: fetched from history rather than pushed live.
	backfill bool
}

// emit stores the messages not reported yet and publishes their events,
// in the order given. A message quoting one stored in the same call is
// stored after it, in a later PutMessages, so its reply segment can name
// the quoted message's id.
//
// live says the messages come from the backend's live events (not from
// history). A live
// message from someone else whose seq is above the last one reported in
// its chat by this run is new without asking the store: duplicates come
// from history, which is only read (and merged in seq order) before the
// chat's live pushes, and from the account's own sends.
func (in *ingest) emit(ctx context.Context, msgs []platform.Message, live bool) {
	entries := make([]entry, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if m.ID == "" || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		key := m.Conv
		in.recent.put(m.ID, key)
		fresh := live && m.Sender.ID != in.b.self() && m.Seq > 0 && m.Seq > in.tracker.reported(key)
		if !fresh && in.reported(ctx, key, m) {
			in.tracker.advance(key, m.Seq, m.Time)
			continue
		}
		entries = append(entries, entry{m: m, key: key, backfill: !live})
	}
	start := 0
	run := make(map[string]bool)
	for i := range entries {
		if q := entries[i].m.QuoteID; q != "" && run[q] {
			in.put(ctx, entries[start:i])
			start = i
			clear(run)
		}
		run[entries[i].m.ID] = true
	}
	in.put(ctx, entries[start:])
}

// reported says whether m was reported already. A message known only from
// history (backfill) as recalled since is reported recalled now.
func (in *ingest) reported(ctx context.Context, key platform.Conv, m *platform.Message) bool {
	id, err := in.b.store.MessageID(convKey(key), m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	var rec store.Message
	if err == nil {
		rec, err = in.b.store.Message(id)
	}
	if err != nil {
		in.b.log.Error("look up message; not reporting it", zap.String("msg_id", m.ID), zap.Error(err))
		return true
	}
	if !rec.Reported {
		return false // stored by send_msg or as a quote, never reported
	}
	if m.Recalled && !rec.Recalled {
		own, isOwn := in.b.ownRecalls.take(m.ID)
		in.recallStored(ctx, key, id, rec, m.RecallTime, "", own, isOwn)
	}
	return true
}

// put stores a run of new messages with one PutMessages and publishes
// their events. If the store fails, nothing is published (an event must
// not carry an id the store may not keep) and the cursor does not move;
// only a backfill before the chat's next message can bring them back.
func (in *ingest) put(ctx context.Context, run []entry) {
	if len(run) == 0 {
		return
	}
	if !in.resolveQuotes(ctx, run) {
		return
	}
	recs := make([]store.Message, len(run))
	forms := make([]formatted, len(run))
	var segsOf []segment.Message // for the message log only
	if in.b.opts.LogMessages {
		segsOf = make([]segment.Message, len(run))
	}
	self := in.b.self()
	for i := range run {
		e := &run[i]
		m := e.m
		names := in.privateNames(m)
		if e.key.Kind == platform.KindGroup && !m.Sender.Bot && m.Sender.ID != "" {
			e.member, e.known = in.members.peek(e.key.ID, m.Sender.ID)
			// The account's and the sender's own names are known even
			// before the group's member list has been fetched.
			group, known := e.key.ID, names
			names = func(id string) []string { return append(in.members.names(group, id), known(id)...) }
		}
		segs, err := in.b.decode(ctx, e.key, m.Content, names)
		if err != nil {
			in.b.log.Error("convert message; not reporting it", zap.String("msg_id", m.ID), zap.Error(err))
			segs = segment.Message{segment.Text("[message could not be converted]")}
		}
		if e.quote != 0 {
			segs = append(segment.Message{segment.Reply(itoa(int64(e.quote)))}, segs...)
		}
		forms[i] = in.b.format(segs)
		if segsOf != nil {
			segsOf[i] = segs
		}
		recs[i] = store.Message{
			Conv: convKey(e.key), MsgID: m.ID, Seq: m.Seq, Reported: true,
			SenderID: m.Sender.ID, SenderName: m.Sender.Name, Time: m.Time,
			Self: m.Sender.ID == self, Recalled: m.Recalled, Body: forms[i].array,
		}
	}
	// The OneBot numbers of new non-numeric senders and chats are
	// allocated in the messages' own commit, not one commit each when
	// the events are built.
	aliasIDs := make([]string, 0, 2*len(run))
	for i := range run {
		aliasIDs = append(aliasIDs, run[i].key.ID, run[i].m.Sender.ID)
	}
	ids, err := in.b.store.PutMessagesAliased(ctx, recs, aliasIDs)
	if err != nil {
		in.failed = err
		if ctx.Err() == nil {
			in.b.log.Error("store messages; they are not reported now", zap.Int("messages", len(recs)), zap.Error(err))
		}
		return
	}
	backfilled := 0
	defer func() {
		if f := in.b.opts.OnBackfill; f != nil && backfilled > 0 {
			f(backfilled)
		}
	}()
	for i := range run {
		e := &run[i]
		in.tracker.advance(e.key, e.m.Seq, e.m.Time)
		if e.m.Recalled {
			continue // sent and recalled while we were away: nothing to show
		}
		if e.backfill {
			backfilled++
		}
		if segsOf != nil && e.m.Sender.ID != self {
			// The account's own messages are the echoes of what it sent
			// (logged as sent) or what it wrote elsewhere.
			in.b.logReceived(e.key, e.m, ids[i], segsOf[i], e.backfill)
		}
		ev, err := in.messageEvent(ctx, e, ids[i], forms[i], in.buf[:0])
		if err != nil {
			in.b.log.Error("build message event", zap.String("msg_id", e.m.ID), zap.Error(err))
			continue
		}
		if ev == nil {
			continue
		}
		in.buf = ev
		if err := in.b.hub.Publish(json.RawMessage(ev)); err != nil {
			in.b.log.Error("publish message event", zap.Error(err))
		}
	}
}

// resolveQuotes finds the message_id of every quoted message. A quoted
// message the store does not know (older than the bridge, or pruned) gets
// an id now, with a placeholder record without body, so the reply segment
// still carries a number that get_msg answers for (by asking the
// backend's History).
func (in *ingest) resolveQuotes(ctx context.Context, run []entry) bool {
	var holders []store.Message
	var waiting []int // run index of each entry waiting for a placeholder
	index := map[string]int{}
	for i := range run {
		e := &run[i]
		q := e.m.QuoteID
		if q == "" {
			continue
		}
		id, err := in.b.store.MessageID(convKey(e.key), q)
		if err == nil {
			e.quote = id
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			in.b.log.Warn("look up quoted message", zap.String("msg_id", q), zap.Error(err))
			continue
		}
		if _, ok := index[q]; !ok {
			index[q] = len(holders)
			holders = append(holders, store.Message{Conv: convKey(e.key), MsgID: q})
		}
		waiting = append(waiting, i)
	}
	if len(holders) == 0 {
		return true
	}
	ids, err := in.b.store.PutMessages(ctx, holders)
	if err != nil {
		in.failed = err
		if ctx.Err() == nil {
			in.b.log.Error("store quoted messages; not reporting the messages quoting them now", zap.Error(err))
		}
		return false
	}
	for _, i := range waiting {
		run[i].quote = ids[index[run[i].m.QuoteID]]
	}
	return true
}

// privateNames are the names a mention in a private chat may use (and, in
// a group, those known before its member list has been fetched): the
// account's and the sender's.
func (in *ingest) privateNames(m *platform.Message) mentionNames {
	me := in.b.identity()
	self, selfName := me.ID, me.Name
	return func(id string) []string {
		switch id {
		case self:
			return []string{selfName}
		case m.Sender.ID:
			return []string{m.Sender.Name}
		}
		return nil
	}
}

// messageEvent appends the JSON of a stored message's event to dst; nil
// means none (the account's own message while ReportSelfMessage is off).
func (in *ingest) messageEvent(ctx context.Context, e *entry, id int32, f formatted, dst []byte) ([]byte, error) {
	m := e.m
	post := postMessage
	if m.Sender.ID == in.b.self() {
		if !in.b.opts.ReportSelfMessage {
			return nil, nil
		}
		post = postMessageSent
	}
	uid, err := in.b.oneBotID(ctx, m.Sender.ID)
	if err != nil {
		return nil, err
	}
	peer, err := in.b.oneBotID(ctx, e.key.ID)
	if err != nil {
		return nil, err
	}
	t := m.Time
	if t.IsZero() {
		t = in.b.now()
	}
	selfID := in.b.selfNumber()
	if e.key.Kind == platform.KindGroup {
		s := groupSender{UserID: uid, Nickname: m.Sender.Name, Sex: sexUnknown, Role: roleMember, Title: m.Sender.Title}
		if e.known {
			s.Nickname = e.member.name
			s.Card = in.members.learnCard(e.key.ID, m.Sender.ID, m.Sender.Name, e.member, e.known)
			s.Role = string(e.member.role)
			if s.Title == "" {
				s.Title = e.member.title
			}
		}
		ev := groupMessageEvent{
			Time: t.Unix(), SelfID: selfID, PostType: post, MessageType: messageGroup, SubType: subNormal,
			MessageID: id, GroupID: peer, UserID: uid, Message: f.post, RawMessage: f.raw, Sender: s,
		}
		return ev.appendJSON(dst), nil
	}
	target := selfID
	if post == postMessageSent {
		target = peer
	}
	ev := privateMessageEvent{
		Time: t.Unix(), SelfID: selfID, PostType: post, MessageType: messagePrivate, SubType: subFriend,
		MessageID: id, UserID: uid, TargetID: target, Message: f.post, RawMessage: f.raw,
		Sender: privateSender{UserID: uid, Nickname: m.Sender.Name, Sex: sexUnknown},
	}
	return ev.appendJSON(dst), nil
}

// recentIndex remembers the conversation of the last n message ids, forgetting
// the oldest first.
type recentIndex struct {
	m    map[string]platform.Conv
	ring []string
	next int
}

func newRecentIndex(n int) recentIndex {
	return recentIndex{m: make(map[string]platform.Conv), ring: make([]string, n)}
}

func (r *recentIndex) put(id string, k platform.Conv) {
	if _, ok := r.m[id]; ok || id == "" {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.m, old)
	}
	r.ring[r.next] = id
	r.m[id] = k
	r.next = (r.next + 1) % len(r.ring)
}

func (r *recentIndex) get(id string) (platform.Conv, bool) {
	k, ok := r.m[id]
	return k, ok
}
