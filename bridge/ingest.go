package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Ingest: Yunhu pushes → OneBot events.
//
//	yunhu.Client.Run ─onPush─▶ bounded queue ─▶ ingest goroutine:
//	    take what is queued (a batch) → dedupe (store.MessageID) →
//	    one store.PutMessagesAliased for the batch's new messages and the
//	    aliases of their new non-numeric chats and senders (one fsync) →
//	    build and publish the events, in order
//	backfill goroutine (after a reconnect) ─▶ the same queue
//
// A message_id is durable before any event carries it: a bot that calls
// get_msg or delete_msg on it at once finds it; so are the aliases of the
// user_id and group_id it carries, written in the same commit. One
// goroutine does all of this, so the order of each chat is the order of
// the socket, and there is no race with itself over which message is new.
//
// The ingest goroutine never waits for a member list: a group's member
// list (for the sender's role and card) is fetched by the member cache's
// background fetchers, and until it arrives the events of that group carry
// role member and no card (members.go).
//
// Exactly once: a message is reported when the store has no id for it yet,
// or has one with seq 0, which only a record the pipeline did not write
// has: an own message stored by send_msg before its echo arrived, or the
// placeholder of a quoted message never seen. The account's own messages
// (sent from any device or by this daemon) become message_sent events when
// ReportSelfMessage is on and nothing otherwise; they never become message
// events.

const (
	// ingestQueue bounds the pushes waiting for the ingest goroutine.
	// When it is full, onPush waits, which stops the socket reader: the
	// push socket is the only producer that can be slowed down.
	ingestQueue = 16384
	// maxIngestBatch bounds what one round of the ingest goroutine takes,
	// and so one PutMessages: the store's own commit limit. Batches grow
	// with the store's latency, so that a slow disk costs latency, not
	// throughput.
	maxIngestBatch = 4096
	// recentMessages is how many message ids the ingest goroutine
	// remembers the chat of, for edit and stream pushes, which do not
	// always say which conversation they belong to (§6.5).
	recentMessages = 1 << 16
)

// chatKey is a conversation as the store keys it (chatOf).
type chatKey struct {
	Type yunhu.ChatType
	ID   string
}

func keyOf(c yunhu.Chat) chatKey { return chatKey{c.Type, c.ID} }

// item is one unit of work for the ingest goroutine: a push from the
// socket, or progress from a backfill round.
type item struct {
	push yunhu.Push
	fill *fill
}

// ingest is the state of one receive call. Fields without a comment
// belong to the ingest goroutine.
type ingest struct {
	b        *Bridge
	ch       chan item
	stop     <-chan struct{} // receive's context is done
	members  *memberCache
	requests *requestWatcher
	tracker  *tracker

	chunk   []yunhu.Message // live messages not yet stored
	buf     []byte          // event encoding buffer (the hub copies)
	streams []streamAppend  // stream chunks not yet stored
	recent  recentIndex

	// Backfill coordination (backfill.go).
	connects     int
	offlineSince time.Time
	round        uint64
	cancelRound  context.CancelFunc
	rounds       sync.WaitGroup
	holdAll      bool
	pending      map[chatKey]bool
	held         []heldItem
	heldIDs      map[string]chatKey
}

// receive runs the push socket and the ingest pipeline until ctx is done.
func (b *Bridge) receive(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	tr := newTracker(b)
	tr.load()
	in := &ingest{
		b:        b,
		ch:       make(chan item, ingestQueue),
		stop:     ctx.Done(),
		members:  b.members,
		requests: newRequestWatcher(b),
		tracker:  tr,
		recent:   newRecentIndex(recentMessages),
		heldIDs:  map[string]chatKey{},
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){in.loop, in.members.run, in.requests.run, tr.run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	err := b.platform.Run(ctx, in.onPush)
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

// onPush is called by the socket reader for each push, in order.
func (in *ingest) onPush(p yunhu.Push) {
	if f := in.b.opts.OnPush; f != nil {
		if kind := pushKind(p); kind != "" {
			f(kind)
		}
	}
	switch p := p.(type) {
	case yunhu.Connected:
		if !in.b.online.Swap(true) {
			in.b.log.Info("push socket online")
		}
	case yunhu.Disconnected:
		switch {
		case !in.b.online.Swap(false):
		case errors.Is(p.Err, context.Canceled):
			in.b.log.Info("push socket closed")
		default:
			in.b.log.Warn("push socket offline; reconnecting", zap.Error(p.Err))
		}
	case yunhu.DraftPush, yunhu.FileSendPush, yunhu.HangUpPush, yunhu.BotBoardPush:
		return // nothing a OneBot client is told about
	}
	select {
	case in.ch <- item{push: p}:
	case <-in.stop:
	}
}

// pushKind names p for Options.OnPush; "" for the socket's own
// Connected and Disconnected.
func pushKind(p yunhu.Push) string {
	switch p.(type) {
	case yunhu.MessagePush:
		return "message"
	case yunhu.RecallPush:
		return "recall"
	case yunhu.EditPush:
		return "edit"
	case yunhu.StreamPush:
		return "stream"
	case yunhu.InvitePush:
		return "invite"
	case yunhu.DraftPush:
		return "draft"
	case yunhu.FileSendPush:
		return "file_send"
	case yunhu.HangUpPush:
		return "hang_up"
	case yunhu.BotBoardPush:
		return "bot_board"
	}
	return ""
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
		clear(batch)
	}
}

// dispatch handles one item: messages join the chunk stored at the next
// flush; anything that refers to stored messages flushes first, so that
// the socket's order holds.
func (in *ingest) dispatch(ctx context.Context, it item) {
	if it.fill != nil {
		in.flush(ctx)
		in.onFill(ctx, it.fill)
		return
	}
	switch p := it.push.(type) {
	case yunhu.MessagePush:
		key := keyOf(in.b.chatOf(&p.Message))
		if in.holding(key) {
			in.hold(ctx, key, it)
			return
		}
		in.recent.put(p.Message.ID, key)
		in.chunk = append(in.chunk, p.Message)
	case yunhu.RecallPush:
		m := yunhu.Message{Chat: p.Chat, RecvID: p.RecvID, Sender: p.Sender}
		key := keyOf(in.b.chatOf(&m))
		if in.holding(key) {
			in.hold(ctx, key, it)
			return
		}
		in.flush(ctx)
		in.recall(ctx, key, p)
	case yunhu.EditPush:
		key, ok := in.locate(p.MsgID, p.Chat)
		if in.holdAll || ok && in.pending[key] {
			in.hold(ctx, key, it)
			return
		}
		in.flush(ctx)
		in.edit(ctx, key, ok, p)
	case yunhu.StreamPush:
		key, ok := in.locate(p.MsgID, yunhu.Chat{ID: p.ChatID})
		if in.holdAll || ok && in.pending[key] {
			in.hold(ctx, key, it)
			return
		}
		if !ok {
			in.b.log.Debug("stream chunk for an unknown message", zap.String("msg_id", p.MsgID))
			return
		}
		in.addStream(key, p)
	case yunhu.Connected:
		in.flush(ctx)
		in.connected(ctx)
	case yunhu.Disconnected:
		if in.offlineSince.IsZero() { // since the last completed backfill
			in.offlineSince = in.b.now()
		}
	case yunhu.InvitePush:
		in.requests.poke()
	}
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
// and what an edit or stream push says about it: the recent index first,
// then the store under each chat the push may mean. A private edit pushed
// to its receiver names the receiver (the account) as the chat, which the
// store cannot be asked about.
func (in *ingest) locate(msgID string, c yunhu.Chat) (chatKey, bool) {
	if k, ok := in.recent.get(msgID); ok {
		return k, true
	}
	if k, ok := in.heldIDs[msgID]; ok {
		return k, true
	}
	types := []yunhu.ChatType{c.Type}
	if c.Type == 0 {
		types = []yunhu.ChatType{yunhu.ChatTypeGroup, yunhu.ChatTypeBot, yunhu.ChatTypeUser}
	}
	for _, t := range types {
		if c.ID == "" || t == yunhu.ChatTypeUser && c.ID == in.b.self() {
			continue
		}
		if _, err := in.b.store.MessageID(int32(t), c.ID, msgID); err == nil {
			return chatKey{t, c.ID}, true
		}
	}
	return chatKey{}, false
}

// entry is a message on its way to the store and the hub.
type entry struct {
	m      *yunhu.Message
	key    chatKey
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
// live says the messages come from the socket (not from history). A live
// message from someone else whose seq is above the last one reported in
// its chat by this run is new without asking the store: duplicates come
// from history, which is only read (and merged in seq order) before the
// chat's live pushes, and from the account's own sends.
func (in *ingest) emit(ctx context.Context, msgs []yunhu.Message, live bool) {
	entries := make([]entry, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if m.ID == "" || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		key := keyOf(in.b.chatOf(m))
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
func (in *ingest) reported(ctx context.Context, key chatKey, m *yunhu.Message) bool {
	id, err := in.b.store.MessageID(int32(key.Type), key.ID, m.ID)
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
	if rec.Seq == 0 {
		return false // stored by send_msg or as a quote, never reported
	}
	if m.Recalled() && !rec.Recalled {
		own, isOwn := in.b.ownRecalls.take(m.ID)
		in.recallStored(ctx, key, id, rec, m.RecallTime, own, isOwn)
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
		if e.key.Type == yunhu.ChatTypeGroup && m.Sender.Type != yunhu.ChatTypeBot && m.Sender.ID != "" {
			e.member, e.known = in.members.peek(e.key.ID, m.Sender.ID)
			// The account's and the sender's own names are known even
			// before the group's member list has been fetched.
			group, known := e.key.ID, names
			names = func(id string) []string { return append(in.members.names(group, id), known(id)...) }
		}
		segs, err := in.b.contentSegments(ctx, m.ContentType, &m.Content, names)
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
			ChatType: int32(e.key.Type), ChatID: e.key.ID, MsgID: m.ID, Seq: m.Seq,
			SenderID: m.Sender.ID, SenderName: m.Sender.Name, Time: m.Time,
			Self: m.Sender.ID == self, Recalled: m.Recalled(), Body: forms[i].array,
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
		if e.m.Recalled() {
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
// still carries a number that get_msg answers for (by asking Yunhu).
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
		id, err := in.b.store.MessageID(int32(e.key.Type), e.key.ID, q)
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
			holders = append(holders, store.Message{ChatType: int32(e.key.Type), ChatID: e.key.ID, MsgID: q})
		}
		waiting = append(waiting, i)
	}
	if len(holders) == 0 {
		return true
	}
	ids, err := in.b.store.PutMessages(ctx, holders)
	if err != nil {
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
func (in *ingest) privateNames(m *yunhu.Message) mentionNames {
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
	if e.key.Type == yunhu.ChatTypeGroup {
		s := groupSender{UserID: uid, Nickname: m.Sender.Name, Sex: sexUnknown, Role: roleMember, Title: title(&m.Sender)}
		if e.known {
			s.Nickname = e.member.name
			s.Card = in.members.learnCard(e.key.ID, m.Sender.ID, m.Sender.Name, e.member, e.known)
			s.Role = roleOf(e.member.level)
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

// title is the member tag shown next to the sender's name, Yunhu's
// closest thing to a QQ group title.
func title(s *yunhu.Sender) string {
	if len(s.Tags) > 0 {
		return s.Tags[0].Text
	}
	if len(s.OldTags) > 0 {
		return s.OldTags[0]
	}
	return ""
}

// recentIndex remembers the chat of the last n message ids, forgetting
// the oldest first.
type recentIndex struct {
	m    map[string]chatKey
	ring []string
	next int
}

func newRecentIndex(n int) recentIndex {
	return recentIndex{m: make(map[string]chatKey), ring: make([]string, n)}
}

func (r *recentIndex) put(id string, k chatKey) {
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

func (r *recentIndex) get(id string) (chatKey, bool) {
	k, ok := r.m[id]
	return k, ok
}
