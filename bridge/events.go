package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// OneBot events built from backend events (shared/reference/onebot-11/event/
// message.md, notice.md, request.md). They are typed structs, not maps, so
// that the key order on the wire is the field order below and never
// changes between runs (golden tests pin it). Every id is a JSON number:
// ZeroBot fails on string ids (FRAMEWORKS.md #6).

// Post types.
const (
	postMessage     = "message"
	postMessageSent = "message_sent"
	postNotice      = "notice"
	postRequest     = "request"
)

// Message and notice values.
const (
	messagePrivate = "private"
	messageGroup   = "group"

	subFriend = "friend" // private messages, bot chats included
	subNormal = "normal" // group messages

	noticeGroupRecall  = "group_recall"
	noticeFriendRecall = "friend_recall"
	// noticeMessageEdit reports an edited message. QQ has no edits, so
	// neither go-cqhttp nor Shamrock defines one; the name follows their
	// snake_case notice names, and one type serves both kinds of chat with
	// message_type telling them apart, as message events do: a framework
	// needs a single handler, and a group edit is never confused with a
	// private one.
	noticeMessageEdit = "message_edit"

	requestTypeFriend = "friend"
	requestTypeGroup  = "group"
	requestSubAdd     = "add"
	requestSubInvite  = "invite"

	roleOwner  = "owner"
	roleAdmin  = "admin"
	roleMember = "member"

	sexUnknown = "unknown"
)

// privateSender is the sender object of a private message (message.md).
type privateSender struct {
	UserID   int64  `json:"user_id"`
	Nickname string `json:"nickname"`
	Sex      string `json:"sex"`
	Age      int32  `json:"age"`
}

// groupSender is the sender object of a group message (message.md). Sex,
// age, area and level are what no backend tells with a message; title is
// the sender's member title when the platform has one.
type groupSender struct {
	UserID   int64  `json:"user_id"`
	Nickname string `json:"nickname"`
	Card     string `json:"card"`
	Sex      string `json:"sex"`
	Age      int32  `json:"age"`
	Area     string `json:"area"`
	Level    string `json:"level"`
	Role     string `json:"role"`
	Title    string `json:"title"`
}

// privateMessageEvent is a private message, or with post_type
// message_sent the account's own private message. target_id is the
// receiver (go-cqhttp's extension): self_id for incoming messages, the
// peer for the account's own.
type privateMessageEvent struct {
	Time        int64           `json:"time"`
	SelfID      int64           `json:"self_id"`
	PostType    string          `json:"post_type"`
	MessageType string          `json:"message_type"`
	SubType     string          `json:"sub_type"`
	MessageID   int32           `json:"message_id"`
	UserID      int64           `json:"user_id"`
	TargetID    int64           `json:"target_id"`
	Message     json.RawMessage `json:"message"`
	RawMessage  string          `json:"raw_message"`
	Font        int32           `json:"font"`
	Sender      privateSender   `json:"sender"`
}

// groupMessageEvent is a group message (or message_sent). anonymous is
// always null: no backend has anonymous members.
type groupMessageEvent struct {
	Time        int64           `json:"time"`
	SelfID      int64           `json:"self_id"`
	PostType    string          `json:"post_type"`
	MessageType string          `json:"message_type"`
	SubType     string          `json:"sub_type"`
	MessageID   int32           `json:"message_id"`
	GroupID     int64           `json:"group_id"`
	UserID      int64           `json:"user_id"`
	Anonymous   *struct{}       `json:"anonymous"`
	Message     json.RawMessage `json:"message"`
	RawMessage  string          `json:"raw_message"`
	Font        int32           `json:"font"`
	Sender      groupSender     `json:"sender"`
}

// groupRecallNotice reports a recalled group message (notice.md).
// operator_id is the author: Yunhu's recall push does not say who
// recalled (YUNHU-WIRE §6.4).
type groupRecallNotice struct {
	Time       int64  `json:"time"`
	SelfID     int64  `json:"self_id"`
	PostType   string `json:"post_type"`
	NoticeType string `json:"notice_type"`
	GroupID    int64  `json:"group_id"`
	UserID     int64  `json:"user_id"`
	OperatorID int64  `json:"operator_id"`
	MessageID  int32  `json:"message_id"`
}

// friendRecallNotice reports a recalled private message (notice.md);
// user_id is the peer of the conversation.
type friendRecallNotice struct {
	Time       int64  `json:"time"`
	SelfID     int64  `json:"self_id"`
	PostType   string `json:"post_type"`
	NoticeType string `json:"notice_type"`
	UserID     int64  `json:"user_id"`
	MessageID  int32  `json:"message_id"`
}

// messageEditNotice reports an edited message: message_id is the original
// event's, user_id its author, group_id is present for group messages only,
// and message / raw_message hold the new content as message events do.
type messageEditNotice struct {
	Time        int64           `json:"time"`
	SelfID      int64           `json:"self_id"`
	PostType    string          `json:"post_type"`
	NoticeType  string          `json:"notice_type"`
	MessageType string          `json:"message_type"`
	MessageID   int32           `json:"message_id"`
	GroupID     int64           `json:"group_id,omitempty"`
	UserID      int64           `json:"user_id"`
	Message     json.RawMessage `json:"message"`
	RawMessage  string          `json:"raw_message"`
}

// friendRequestEvent is a friend request (request.md).
type friendRequestEvent struct {
	Time        int64  `json:"time"`
	SelfID      int64  `json:"self_id"`
	PostType    string `json:"post_type"`
	RequestType string `json:"request_type"`
	UserID      int64  `json:"user_id"`
	Comment     string `json:"comment"`
	Flag        string `json:"flag"`
}

// groupRequestEvent is a request to join a group the account manages
// (sub_type add) or an invitation of the account into a group (invite).
type groupRequestEvent struct {
	Time        int64  `json:"time"`
	SelfID      int64  `json:"self_id"`
	PostType    string `json:"post_type"`
	RequestType string `json:"request_type"`
	SubType     string `json:"sub_type"`
	GroupID     int64  `json:"group_id"`
	UserID      int64  `json:"user_id"`
	Comment     string `json:"comment"`
	Flag        string `json:"flag"`
}

// formatted is a message in both wire forms an event needs.
type formatted struct {
	array []byte          // segment array JSON: the store's Body
	post  json.RawMessage // the "message" field in the configured post format
	raw   string          // raw_message: always the CQ string
}

// format renders m for an event and the store. The "string" post format
// reuses the CQ text, quoted as a JSON string.
func (b *Bridge) format(m segment.Message) formatted {
	f := formatted{array: segment.AppendJSON(nil, m), raw: segment.FormatCQ(m)}
	if b.opts.PostFormat == "array" {
		f.post = f.array
	} else {
		f.post = appendJSONString(nil, f.raw)
	}
	return f
}

// appendJSONString appends s as a JSON string the way the hub's encoder
// writes strings (encoding/json without HTML escaping): control
// characters, quote and backslash escaped, U+2028 and U+2029 escaped,
// invalid UTF-8 as U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// itoa is strconv.FormatInt for ids in segment data.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// maxOwnRecalls and ownRecallTTL bound the recalls delete_msg announces
// to the ingest goroutine: an announcement whose event never comes (the
// platform lost it, or it came before the bridge ran) is forgotten after the TTL,
// and the oldest goes first beyond the count.
const (
	maxOwnRecalls = 4096
	ownRecallTTL  = 10 * time.Minute
)

// ownRecall is what delete_msg tells the ingest goroutine about a platform
// message it is recalling: the account is the operator, and a part after
// the first of a message sent as several is marked recalled without a
// notice of its own (the bot was given the first part's id only).
type ownRecall struct {
	quiet bool
	until time.Time
}

// ownRecalls are the recalls delete_msg is making, by platform message
// id. A platform's recall event need not say who made it, so the bridge
// remembers which ones it made itself.
type ownRecalls struct {
	mu    sync.Mutex
	byID  map[string]ownRecall
	order []string // insertion order, for eviction
}

func newOwnRecalls() *ownRecalls { return &ownRecalls{byID: map[string]ownRecall{}} }

// add announces the recall of ids (the first reports, the rest are quiet)
// and returns a function that takes the announcement back.
func (r *ownRecalls) add(now time.Time, ids []string) (undo func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.order) > 0 && (len(r.order)+len(ids) > maxOwnRecalls || !now.Before(r.byID[r.order[0]].until)) {
		delete(r.byID, r.order[0])
		r.order = r.order[1:]
	}
	for i, id := range ids {
		if _, ok := r.byID[id]; !ok {
			r.order = append(r.order, id)
		}
		r.byID[id] = ownRecall{quiet: i > 0, until: now.Add(ownRecallTTL)}
	}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, id := range ids {
			delete(r.byID, id) // order keeps the id until it is evicted
		}
	}
}

// take returns and forgets the announcement for msgID.
func (r *ownRecalls) take(msgID string) (ownRecall, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.byID[msgID]
	delete(r.byID, msgID)
	return o, ok
}

// recall reports a recall event. The recalled message keeps its message_id;
// one never seen (sent and recalled while the bridge was away, or older
// than the store) gets an id now, so that the notice carries a number.
// A message already marked recalled is not reported again, e.g. when
// delete_msg marked it before the platform echoed the recall.
func (in *ingest) recall(ctx context.Context, key platform.Conv, p platform.Recalled) {
	st := in.b.store
	own, isOwn := in.b.ownRecalls.take(p.MsgID)
	id, err := st.MessageID(convKey(key), p.MsgID)
	var rec store.Message
	switch {
	case err == nil:
		rec, err = st.Message(id)
	case errors.Is(err, store.ErrNotFound):
		rec = store.Message{
			Conv: convKey(key), MsgID: p.MsgID, Seq: p.Seq, Reported: true,
			SenderID: p.Sender.ID, SenderName: p.Sender.Name, Time: p.Time, Recalled: true,
		}
		id, err = st.PutMessage(ctx, rec)
		if err == nil {
			if !own.quiet {
				in.publishRecall(ctx, key, id, rec.SenderID, in.recallOperator(rec.SenderID, p.Operator, isOwn), p.Time)
			}
			return
		}
		in.failed = err
	}
	if err != nil {
		in.b.log.Error("recall: look up message", zap.String("msg_id", p.MsgID), zap.Error(err))
		return
	}
	if rec.Recalled {
		return
	}
	if rec.SenderID == "" {
		rec.SenderID = p.Sender.ID
	}
	in.recallStored(ctx, key, id, rec, p.Time, p.Operator, own, isOwn)
}

// recallOperator is who made a recall: the account when delete_msg did,
// else who the platform says, else the author.
func (in *ingest) recallOperator(author, operator string, own bool) string {
	switch {
	case own:
		return in.b.self()
	case operator != "":
		return operator
	}
	return author
}

// recallStored marks a stored message recalled and reports it, unless it
// is a quiet part of the account's own recall.
func (in *ingest) recallStored(ctx context.Context, key platform.Conv, id int32, rec store.Message, at time.Time, operator string, own ownRecall, isOwn bool) {
	err := in.b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.Recalled = true
		if m.SenderID == "" {
			m.SenderID = rec.SenderID
		}
		return nil
	})
	if err != nil {
		in.failed = err
		if ctx.Err() == nil { // a stop is not a failure
			in.b.log.Error("recall: mark message", zap.Int32("message_id", id), zap.Error(err))
		}
		return
	}
	if !own.quiet {
		in.publishRecall(ctx, key, id, rec.SenderID, in.recallOperator(rec.SenderID, operator, isOwn), at)
	}
}

// publishRecall publishes group_recall or friend_recall.
func (in *ingest) publishRecall(ctx context.Context, key platform.Conv, id int32, author, operator string, at time.Time) {
	if at.IsZero() {
		at = in.b.now()
	}
	peer, err := in.b.oneBotID(ctx, key.ID)
	if err != nil {
		in.b.log.Error("recall notice", zap.Error(err))
		return
	}
	var ev any
	if key.Kind == platform.KindGroup {
		var uid, op int64
		if author != "" {
			if uid, err = in.b.oneBotID(ctx, author); err != nil {
				in.b.log.Error("recall notice", zap.Error(err))
				return
			}
		}
		if op = uid; operator != author && operator != "" {
			if op, err = in.b.oneBotID(ctx, operator); err != nil {
				in.b.log.Error("recall notice", zap.Error(err))
				return
			}
		}
		ev = &groupRecallNotice{
			Time: at.Unix(), SelfID: in.b.selfNumber(), PostType: postNotice, NoticeType: noticeGroupRecall,
			GroupID: peer, UserID: uid, OperatorID: op, MessageID: id,
		}
	} else {
		ev = &friendRecallNotice{
			Time: at.Unix(), SelfID: in.b.selfNumber(), PostType: postNotice, NoticeType: noticeFriendRecall,
			UserID: peer, MessageID: id,
		}
	}
	if err := in.b.hub.Publish(ev); err != nil {
		in.b.log.Error("publish recall notice", zap.Error(err))
	}
}

// edit reports an edit and replaces the stored body. An edit of a
// message the store does not know cannot be placed (the event may not say
// which conversation it is in) and is only logged.
func (in *ingest) edit(ctx context.Context, key platform.Conv, found bool, p platform.Edited) {
	var id int32
	var err error
	if found {
		id, err = in.b.store.MessageID(convKey(key), p.MsgID)
	}
	if !found || errors.Is(err, store.ErrNotFound) {
		in.b.log.Debug("edit of an unknown message", zap.String("msg_id", p.MsgID))
		return
	}
	var rec store.Message
	if err == nil {
		rec, err = in.b.store.Message(id)
	}
	if err != nil {
		in.b.log.Error("edit: look up message", zap.String("msg_id", p.MsgID), zap.Error(err))
		return
	}
	var names mentionNames
	if key.Kind == platform.KindGroup {
		names = func(uid string) []string { return in.members.names(key.ID, uid) }
	}
	segs, err := in.b.decode(ctx, key, p.Content, names)
	if err != nil {
		in.b.log.Error("edit: convert message", zap.String("msg_id", p.MsgID), zap.Error(err))
		return
	}
	if p.QuoteID != "" {
		if q, err := in.b.store.MessageID(convKey(key), p.QuoteID); err == nil {
			segs = append(segment.Message{segment.Reply(itoa(int64(q)))}, segs...)
		}
	}
	f := in.b.format(segs)
	err = in.b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.Body = f.array
		return nil
	})
	if err != nil {
		in.failed = err
		in.b.log.Error("edit: store message", zap.Int32("message_id", id), zap.Error(err))
		return
	}
	ev := &messageEditNotice{
		Time: p.Time.Unix(), SelfID: in.b.selfNumber(), PostType: postNotice, NoticeType: noticeMessageEdit,
		MessageType: messagePrivate, MessageID: id, Message: f.post, RawMessage: f.raw,
	}
	if p.Time.IsZero() {
		ev.Time = in.b.now().Unix()
	}
	if rec.SenderID != "" {
		if ev.UserID, err = in.b.oneBotID(ctx, rec.SenderID); err != nil {
			in.b.log.Error("edit notice", zap.Error(err))
			return
		}
	}
	if key.Kind == platform.KindGroup {
		ev.MessageType = messageGroup
		if ev.GroupID, err = in.b.oneBotID(ctx, key.ID); err != nil {
			in.b.log.Error("edit notice", zap.Error(err))
			return
		}
	}
	if err := in.b.hub.Publish(ev); err != nil {
		in.b.log.Error("publish edit notice", zap.Error(err))
	}
}

// streamAppend is text a bot streamed onto one of its messages.
type streamAppend struct {
	key   platform.Conv
	msgID string
	text  string
}

// addStream queues an append. Chunks are not reported (a bot may
// stream dozens per second and frameworks know no such event); they only
// grow the stored body, so get_msg returns the text so far. The chunks of
// one batch are written together.
func (in *ingest) addStream(key platform.Conv, p platform.Appended) {
	for i := range in.streams {
		if s := &in.streams[i]; s.key == key && s.msgID == p.MsgID {
			s.text += p.Text
			return
		}
	}
	in.streams = append(in.streams, streamAppend{key: key, msgID: p.MsgID, text: p.Text})
}

// applyStreams appends the queued chunks to the stored bodies: to the
// last text, markdown or html segment, or as a new text segment.
func (in *ingest) applyStreams(ctx context.Context) {
	for _, s := range in.streams {
		id, err := in.b.store.MessageID(convKey(s.key), s.msgID)
		if err != nil {
			in.b.log.Debug("stream chunk for an unknown message", zap.String("msg_id", s.msgID), zap.Error(err))
			continue
		}
		err = in.b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
			body, err := segment.DecodeJSON(m.Body, false)
			if err != nil {
				return fmt.Errorf("decode stored body: %w", err)
			}
			m.Body = segment.AppendJSON(nil, appendStream(body, s.text))
			return nil
		})
		if err != nil {
			in.b.log.Error("stream: store message", zap.Int32("message_id", id), zap.Error(err))
		}
	}
	clear(in.streams)
	in.streams = in.streams[:0]
}

// appendStream adds streamed text to a message body.
func appendStream(body segment.Message, text string) segment.Message {
	for i := len(body) - 1; i >= 0; i-- {
		s := &body[i]
		switch s.Type {
		case segment.TypeText:
			*s = segment.Text(s.Value("text") + text)
			return body
		case segment.TypeMarkdown, segment.TypeHTML:
			s.Set("content", s.Value("content")+text)
			return body
		case segment.TypeButton:
			continue // buttons come last; the text is before them
		}
		break
	}
	return segment.AppendText(body, text)
}

// Message events are the hot path (issue 7 asks 20,000 a second); they
// are written by hand instead of through encoding/json, which spends more
// than the rest of the event's way on reflection and on re-validating the
// message field. TestEventEncoders holds them equal to encoding/json's
// output for the structs above.

func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendIntField(dst []byte, key string, n int64) []byte {
	return strconv.AppendInt(appendKey(dst, key), n, 10)
}

func appendStringField(dst []byte, key, s string) []byte {
	return appendJSONString(appendKey(dst, key), s)
}

// appendHead writes {"time":…,"self_id":…,"post_type":…,"message_type":…,"sub_type":…,"message_id":…
func appendHead(dst []byte, t, self int64, post, typ, sub string, id int32) []byte {
	dst = append(dst, `{"time":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = appendIntField(dst, "self_id", self)
	dst = appendStringField(dst, "post_type", post)
	dst = appendStringField(dst, "message_type", typ)
	dst = appendStringField(dst, "sub_type", sub)
	return appendIntField(dst, "message_id", int64(id))
}

func (e *privateMessageEvent) appendJSON(dst []byte) []byte {
	dst = appendHead(dst, e.Time, e.SelfID, e.PostType, e.MessageType, e.SubType, e.MessageID)
	dst = appendIntField(dst, "user_id", e.UserID)
	dst = appendIntField(dst, "target_id", e.TargetID)
	dst = append(appendKey(dst, "message"), e.Message...)
	dst = appendStringField(dst, "raw_message", e.RawMessage)
	dst = appendIntField(dst, "font", int64(e.Font))
	dst = append(dst, `,"sender":{"user_id":`...)
	dst = strconv.AppendInt(dst, e.Sender.UserID, 10)
	dst = appendStringField(dst, "nickname", e.Sender.Nickname)
	dst = appendStringField(dst, "sex", e.Sender.Sex)
	dst = appendIntField(dst, "age", int64(e.Sender.Age))
	return append(dst, '}', '}')
}

func (e *groupMessageEvent) appendJSON(dst []byte) []byte {
	dst = appendHead(dst, e.Time, e.SelfID, e.PostType, e.MessageType, e.SubType, e.MessageID)
	dst = appendIntField(dst, "group_id", e.GroupID)
	dst = appendIntField(dst, "user_id", e.UserID)
	dst = append(dst, `,"anonymous":null`...)
	dst = append(appendKey(dst, "message"), e.Message...)
	dst = appendStringField(dst, "raw_message", e.RawMessage)
	dst = appendIntField(dst, "font", int64(e.Font))
	s := &e.Sender
	dst = append(dst, `,"sender":{"user_id":`...)
	dst = strconv.AppendInt(dst, s.UserID, 10)
	dst = appendStringField(dst, "nickname", s.Nickname)
	dst = appendStringField(dst, "card", s.Card)
	dst = appendStringField(dst, "sex", s.Sex)
	dst = appendIntField(dst, "age", int64(s.Age))
	dst = appendStringField(dst, "area", s.Area)
	dst = appendStringField(dst, "level", s.Level)
	dst = appendStringField(dst, "role", s.Role)
	dst = appendStringField(dst, "title", s.Title)
	return append(dst, '}', '}')
}
