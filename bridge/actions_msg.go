package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// Message actions (api/public.md): send, recall, get, edit, mark read.

// sendParams are the parameters of send_private_msg, send_group_msg and
// send_msg.
type sendParams struct {
	MessageType string          `json:"message_type"`
	UserID      *onebot.Int64   `json:"user_id"`
	GroupID     *onebot.Int64   `json:"group_id"`
	Message     json.RawMessage `json:"message" onebot:"required"`
	AutoEscape  onebot.Bool     `json:"auto_escape"`
}

// sendResult is the data of every send action; time (Shamrock's) is when
// the message was sent, as get_msg reports it until the platform's echo
// brings the server's own.
type sendResult struct {
	MessageID int32 `json:"message_id"`
	Time      int64 `json:"time"`
}

func (b *Bridge) sendPrivateMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p sendParams
	conv, err := b.decodeUser(req, &p, &p.UserID)
	if err != nil {
		return nil, err
	}
	return b.send(ctx, req.Action, conv, p)
}

func (b *Bridge) sendGroupMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p sendParams
	conv, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	return b.send(ctx, req.Action, conv, p)
}

// sendMsg takes message_type, or infers it from the ids given: group_id
// means a group, user_id alone a private chat (api/public.md).
func (b *Bridge) sendMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p sendParams
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	typ := p.MessageType
	if typ == "" {
		switch {
		case p.GroupID != nil:
			typ = messageGroup
		case p.UserID != nil:
			typ = messagePrivate
		default:
			return nil, onebot.ErrBadParams("message_type: required when neither group_id nor user_id is given")
		}
	}
	var (
		conv platform.Conv
		err  error
	)
	switch typ {
	case messageGroup:
		if p.GroupID == nil {
			return nil, onebot.ErrBadParams("group_id: required for message_type group")
		}
		conv, err = b.groupConv("group_id", int64(*p.GroupID))
	case messagePrivate:
		if p.UserID == nil {
			return nil, onebot.ErrBadParams("user_id: required for message_type private")
		}
		conv, err = b.userConv("user_id", int64(*p.UserID))
	default:
		return nil, onebot.ErrBadParams("message_type: expected private or group, got %q", clip.Bytes(typ, 40))
	}
	if err != nil {
		return nil, err
	}
	return b.send(ctx, req.Action, conv, p)
}

// decodeMessage reads a message parameter as the config says: auto_escape
// for strings, malformed CQ codes kept as text or dropped.
func (b *Bridge) decodeMessage(action string, raw json.RawMessage, autoEscape bool) (segment.Message, error) {
	msg, inv, err := segment.Options{AutoEscape: autoEscape, DropInvalid: b.opts.IgnoreInvalidCQCode}.DecodeJSON(raw)
	if err != nil {
		return nil, onebot.ErrBadParams("%v", err)
	}
	b.logInvalidCQ(action, inv)
	return msg, nil
}

// logInvalidCQ reports malformed CQ codes of an outgoing message; they were
// sent as text or dropped as Options.IgnoreInvalidCQCode says.
//
// The list holds at most segment.MaxInvalid codes and each line is cut
// short, so a hostile message cannot flood the log; nothing is formatted
// unless debug logging is on.
func (b *Bridge) logInvalidCQ(action string, inv []segment.Invalid) {
	if !b.log.Core().Enabled(zap.DebugLevel) {
		return
	}
	for _, v := range inv {
		b.log.Debug("malformed CQ code", zap.String("action", action), zap.String("code", v.String()),
			zap.Bool("dropped", b.opts.IgnoreInvalidCQCode))
	}
	if len(inv) == segment.MaxInvalid {
		b.log.Debug("malformed CQ codes: only the first are logged", zap.String("action", action),
			zap.Int("logged", len(inv)))
	}
}

func (b *Bridge) send(ctx context.Context, action string, conv platform.Conv, p sendParams) (any, error) {
	msg, err := b.decodeMessage(action, p.Message, bool(p.AutoEscape))
	if err != nil {
		return nil, err
	}
	id, at, err := b.sendMessage(ctx, conv, msg)
	if err != nil {
		return nil, err
	}
	return sendResult{MessageID: id, Time: at.Unix()}, nil
}

// partsKey names the store entry listing the other message_ids of a OneBot
// message that became several platform messages, keyed by the first one.
func partsKey(first int32) string { return "sent-parts/" + strconv.FormatInt(int64(first), 10) }

// maxRecordBody is the store's limit on a message body (store.Message): a
// part whose record would exceed it cannot be recorded, so it is not sent.
const maxRecordBody = 1 << 20

// backendTitle is the backend's name as a sentence shows it: "Yunhu" for
// "yunhu".
func (b *Bridge) backendTitle() string {
	name := b.backend.Name()
	r, n := utf8.DecodeRuneInString(name)
	if n == 0 {
		return "the platform"
	}
	return string(unicode.ToUpper(r)) + name[n:]
}

// sendMessage sends msg into conv and returns the message_id of the first
// platform message it became and the time it was sent.
//
// The backend encodes the whole message first (every segment checked,
// every medium uploaded), so a bad segment fails the action with nothing
// sent. Then each part is recorded before it is sent, durably: the echo
// then finds the id already allocated, so the message_id in the response
// is the one every later event carries. A part whose id the backend
// chooses is recorded under that id (a retried request names the same
// message, and the server does not send it twice); one whose id the
// server assigns is recorded pending and bound to the id Send returns.
func (b *Bridge) sendMessage(ctx context.Context, conv platform.Conv, msg segment.Message) (int32, time.Time, error) {
	if err := b.ensureLogin(ctx); err != nil {
		return 0, time.Time{}, err
	}
	pmsg, env, err := b.prepareEncode(ctx, conv, msg)
	if err != nil {
		return 0, time.Time{}, err
	}
	outs, err := b.backend.Encode(ctx, conv, pmsg, env)
	if err != nil {
		return 0, time.Time{}, encodeError(err)
	}
	if len(outs) == 0 {
		return 0, time.Time{}, onebot.ErrBadParams("message: nothing to send (no text or media)")
	}
	// Every body is checked before the first part goes out.
	bodies := make([][]byte, len(outs))
	for i := range outs {
		if outs[i].Conv.IsZero() {
			outs[i].Conv = conv
		}
		bodies[i], err = b.storedBody(ctx, conv, outs[i].Body)
		if err != nil {
			return 0, time.Time{}, err
		}
		if len(bodies[i]) > maxRecordBody {
			return 0, time.Time{}, onebot.ErrBadParams("message: too large: one %s message of it would be %d bytes as recorded, the limit is %d (send long text in several messages)",
				b.backendTitle(), len(bodies[i]), maxRecordBody)
		}
	}
	at := b.now()
	ids := make([]int32, 0, len(outs))
	defer func() {
		// Recorded even when a later part failed, so that delete_msg on the
		// first still takes back what went out.
		if len(ids) > 1 {
			rest, _ := json.Marshal(ids[1:])
			if err := b.store.Set(context.WithoutCancel(ctx), partsKey(ids[0]), rest); err != nil {
				b.log.Warn("record the parts of a sent message", zap.Int32("message_id", ids[0]), zap.Error(err))
			}
		}
	}()
	for i := range outs {
		id, err := b.sendPart(ctx, conv, &outs[i], bodies[i], at)
		if err != nil {
			if i > 0 {
				return 0, time.Time{}, onebot.ErrFailed(fmt.Sprintf("sent %d of %d %s messages (the first is message_id %d), then: %s",
					i, len(outs), b.backendTitle(), ids[0], failureText(err)), err)
			}
			return 0, time.Time{}, err
		}
		ids = append(ids, id)
	}
	b.logSent(conv, ids[0], msg)
	return ids[0], at, nil
}

// encodeError is the action's failure for a failed Backend.Encode: what
// the backend could not take is the client's to fix (1400), unless the
// platform itself refused (an upload, say) or cannot do it at all.
func encodeError(err error) error {
	var (
		ae *onebot.ActionError
		pe *platform.Error
		ue *platform.UnsupportedError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ue):
		return unsupportedForm("message", ue.Why)
	case errors.As(err, &pe):
		return platformError("", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return onebot.ErrFailed("prepare message: "+err.Error(), err)
	}
	var bp *platform.BadParamError
	if errors.As(err, &bp) {
		return onebot.ErrBadParams("%s", bp.Msg)
	}
	return onebot.ErrBadParams("%s", err.Error())
}

// failureText is what an action error tells the client.
func failureText(err error) string {
	var ae *onebot.ActionError
	if errors.As(err, &ae) {
		return ae.Msg
	}
	return err.Error()
}

// sendPart records and sends one platform message, returning its
// message_id.
func (b *Bridge) sendPart(ctx context.Context, conv platform.Conv, out *platform.Outgoing, body []byte, at time.Time) (int32, error) {
	me := b.identity()
	rec := store.Message{
		Conv: convKey(conv), MsgID: out.ID,
		SenderID: me.ID, SenderName: me.Name, Time: at, Self: true,
		Body: body,
	}
	var (
		id  int32
		err error
	)
	if out.ID != "" {
		id, err = b.store.PutMessage(ctx, rec)
	} else {
		id, err = b.store.PutPending(ctx, rec)
	}
	if err != nil {
		return 0, onebot.ErrFailed("record the message", err)
	}
	sent, err := b.backend.Send(ctx, out)
	if err != nil {
		b.dropUnsent(ctx, id, err)
		return 0, platformError("send message", err)
	}
	if out.ID != "" {
		return id, nil
	}
	if sent.ID == "" {
		// The backend broke its contract: the message went out, but there
		// is no id to find its echo or recall it by.
		b.dropUnsent(ctx, id, nil)
		return 0, onebot.ErrFailed("send message: the "+b.backend.Name()+" backend returned no message id", nil)
	}
	bound, err := b.store.BindPending(context.WithoutCancel(ctx), id, sent.ID, sent.Seq)
	if err == nil {
		return bound, nil
	}
	// The pending record went meanwhile (pruned, or the store is failing):
	// the message is out, so record it as any other.
	rec.MsgID, rec.Seq = sent.ID, sent.Seq
	if id, err = b.store.PutMessage(context.WithoutCancel(ctx), rec); err != nil {
		return 0, onebot.ErrFailed("record the sent message "+sent.ID, err)
	}
	return id, nil
}

// dropUnsent takes back the record of a send that failed, so that nothing
// a bot reads (get_msg, history, a reply) claims the message exists. A
// definite refusal (*platform.Error with Definite: the platform answered,
// e.g. 对方不是你的好友) deletes the record. Any other failure (a timeout,
// a reply lost on the way back) may hide a message that went out: the
// record stays, marked Unsent and hidden from reads, so that its echo,
// should it come, finds the id and completes the record as for any other
// send.
func (b *Bridge) dropUnsent(ctx context.Context, id int32, cause error) {
	ctx = context.WithoutCancel(ctx)
	var (
		pe  *platform.Error
		err error
	)
	if errors.As(cause, &pe) && pe.Definite {
		err = b.store.DeleteMessage(ctx, id)
	} else {
		err = b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
			m.Unsent = !m.Reported // the echo may have completed it already
			return nil
		})
	}
	if err != nil {
		b.log.Warn("take back the record of a failed send", zap.Int32("message_id", id), zap.Error(err))
	}
}

// prepareEncode readies msg, in OneBot ids, for Backend.Encode or
// Editor.Edit into conv: at segments get platform user ids, a reply
// segment the quoted message's platform id (and env.Quote its record),
// and env the core's media loader, the account and a name lookup.
func (b *Bridge) prepareEncode(ctx context.Context, conv platform.Conv, msg segment.Message) (segment.Message, platform.EncodeEnv, error) {
	me := b.identity()
	env := platform.EncodeEnv{
		Media: b.loadMedia,
		Self:  platform.Account{ID: me.ID, Name: me.Name},
		Name:  b.nameLookup(conv),
	}
	out, err := b.toPlatform(ctx, msg)
	if err != nil {
		return nil, env, err
	}
	replied := false
	for i := range out {
		if out[i].Type != segment.TypeReply {
			continue
		}
		if replied {
			return nil, env, onebot.ErrBadParams("reply: only one reply segment per message")
		}
		replied = true
		v := out[i].Value("id")
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, env, onebot.ErrBadParams("reply.id: expected a message_id, got %q", clip.Bytes(v, 40))
		}
		rec, err := b.storedMessage(int32(n), "reply.id")
		if err != nil {
			return nil, env, err
		}
		if rec.Conv != convKey(conv) {
			return nil, env, onebot.ErrBadParams("reply.id: message %d is in another chat", n)
		}
		body, _ := segment.DecodeJSON(rec.Body, false) // a corrupt body quotes as empty
		env.Quote = &platform.Quote{MsgID: rec.MsgID, SenderID: rec.SenderID, Sender: rec.SenderName, Body: body}
		// A copy: out may still be the caller's msg.
		out = append(segment.Message(nil), out...)
		seg := out[i]
		seg.Set("id", rec.MsgID)
		out[i] = seg
	}
	return out, env, nil
}

// nameLookup is EncodeEnv.Name for conv: the member's card or name in a
// group (from the member cache), else the user's profile name, each id
// looked up once per message.
func (b *Bridge) nameLookup(conv platform.Conv) func(ctx context.Context, userID string) string {
	var (
		mu    sync.Mutex
		names = map[string]string{}
	)
	return func(ctx context.Context, userID string) string {
		mu.Lock()
		n, ok := names[userID]
		mu.Unlock()
		if ok {
			return n
		}
		if conv.Kind == platform.KindGroup {
			if m, known := b.members.lookup(ctx, conv.ID, userID); known {
				n = m.card
				if n == "" {
					n = m.name
				}
			}
		}
		if n == "" && b.dir != nil {
			if u, err := b.dir.User(ctx, userID); err == nil && u != nil {
				n = u.Name
			}
		}
		mu.Lock()
		names[userID] = n
		mu.Unlock()
		return n
	}
}

// toPlatform maps the OneBot user ids of at segments in msg to platform
// ids (qq=all stays). msg is not changed; the result may share segments
// with it. A reply segment is the caller's (prepareEncode).
func (b *Bridge) toPlatform(ctx context.Context, msg segment.Message) (segment.Message, error) {
	out := msg
	copied := false
	for i := range msg {
		if msg[i].Type != segment.TypeAt {
			continue
		}
		qq := msg[i].Value("qq")
		if qq == segment.AtAllQQ {
			continue
		}
		n, err := strconv.ParseInt(qq, 10, 64)
		if err != nil {
			return nil, onebot.ErrBadParams("at.qq: expected a user id, got %q", clip.Bytes(qq, 40))
		}
		id, err := b.platformID("at.qq", n)
		if err != nil {
			return nil, err
		}
		if id == qq {
			continue
		}
		if !copied {
			out, copied = append(segment.Message(nil), msg...), true
		}
		seg := out[i]
		seg.Set("qq", id)
		out[i] = seg
	}
	return out, nil
}

// toOneBot maps the platform user ids of at segments in msg to OneBot
// ids (qq=all stays), allocating aliases as needed. msg is not changed;
// the result may share segments with it. Reply segments are the
// caller's: their id is a message id of one conversation.
func (b *Bridge) toOneBot(ctx context.Context, msg segment.Message) (segment.Message, error) {
	out := msg
	copied := false
	for i := range msg {
		if msg[i].Type != segment.TypeAt {
			continue
		}
		qq := msg[i].Value("qq")
		if qq == segment.AtAllQQ || qq == "" {
			continue
		}
		n, err := b.oneBotID(ctx, qq)
		if err != nil {
			return nil, fmt.Errorf("mention: %w", err)
		}
		s := strconv.FormatInt(n, 10)
		if s == qq {
			continue
		}
		if !copied {
			out, copied = append(segment.Message(nil), msg...), true
		}
		seg := out[i]
		seg.Set("qq", s)
		out[i] = seg
	}
	return out, nil
}

// oneBotBody maps a body in platform ids (Outgoing.Body, an edit's) to
// OneBot ids: mentions as toOneBot does, a reply to the message_id of the
// quoted message in conv. A reply to a message the store does not know
// is left out: there is no message_id to name it by.
func (b *Bridge) oneBotBody(ctx context.Context, conv platform.Conv, body segment.Message) (segment.Message, error) {
	out, err := b.toOneBot(ctx, body)
	if err != nil {
		return nil, err
	}
	mapped := make(segment.Message, 0, len(out))
	for _, seg := range out {
		if seg.Type == segment.TypeReply {
			id, err := b.store.MessageID(convKey(conv), seg.Value("id"))
			if err != nil {
				continue
			}
			seg.Set("id", strconv.FormatInt(int64(id), 10))
		}
		mapped = append(mapped, seg)
	}
	return mapped, nil
}

// storedBody is body, in platform ids, as the store keeps it.
func (b *Bridge) storedBody(ctx context.Context, conv platform.Conv, body segment.Message) ([]byte, error) {
	m, err := b.oneBotBody(ctx, conv, body)
	if err != nil {
		return nil, onebot.ErrFailed("map the ids of the message", err)
	}
	return segment.AppendJSON(nil, m), nil
}

// messageIDParam is the parameter of actions that take one message_id.
type messageIDParam struct {
	MessageID onebot.Int32 `json:"message_id" onebot:"required"`
}

// deleteMsg recalls a message, and with it the other platform messages
// the same OneBot message became. The platform's refusal (not the author,
// not an admin, not a member) is passed on.
func (b *Bridge) deleteMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p messageIDParam
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := b.storedMessage(int32(p.MessageID), "message_id")
	if err != nil {
		return nil, err
	}
	ids := append([]string{rec.MsgID}, b.partMsgIDs(int32(p.MessageID), rec)...)
	// Announced before the call: the recall's event may be handled before
	// the platform's answer arrives.
	undo := b.ownRecalls.add(b.now(), ids)
	if err := b.backend.Recall(ctx, recordConv(rec), ids); err != nil {
		undo()
		return nil, platformError("recall message", err)
	}
	return nil, nil
}

// partMsgIDs returns the platform ids of the other parts of a sent
// message.
func (b *Bridge) partMsgIDs(first int32, rec store.Message) []string {
	raw, err := b.store.Get(partsKey(first))
	if err != nil {
		return nil
	}
	var ids []int32
	if json.Unmarshal(raw, &ids) != nil {
		return nil
	}
	var out []string
	for _, id := range ids {
		if r, err := b.store.Message(id); err == nil && r.Conv == rec.Conv && r.MsgID != "" {
			out = append(out, r.MsgID)
		}
	}
	return out
}

// editMsg replaces the content of one of the account's messages
// (platform.Editor); what can be edited into what is the backend's to
// say. The stored body follows, so get_msg answers the new content.
func (b *Bridge) editMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageID  onebot.Int32    `json:"message_id" onebot:"required"`
		Message    json.RawMessage `json:"message" onebot:"required"`
		AutoEscape onebot.Bool     `json:"auto_escape"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if err := b.ensureLogin(ctx); err != nil {
		return nil, err
	}
	id := int32(p.MessageID)
	rec, err := b.storedMessage(id, "message_id")
	if err != nil {
		return nil, err
	}
	if rec.SenderID != b.self() {
		return nil, onebot.ErrBadParams("message_id: %d is not the account's own message; %s lets only the author edit", id, b.backendTitle())
	}
	msg, err := b.decodeMessage(req.Action, p.Message, bool(p.AutoEscape))
	if err != nil {
		return nil, err
	}
	conv := recordConv(rec)
	pmsg, env, err := b.prepareEncode(ctx, conv, msg)
	if err != nil {
		return nil, err
	}
	body, err := b.editor.Edit(ctx, conv, rec.MsgID, pmsg, env)
	if err != nil {
		var (
			ue *platform.UnsupportedError
			pe *platform.Error
		)
		switch {
		case errors.As(err, &ue):
			return nil, unsupportedForm(req.Action, ue.Why)
		case errors.As(err, &pe):
			return nil, platformError("edit message", err)
		}
		return nil, encodeError(err)
	}
	stored, err := b.storedBody(ctx, conv, body)
	if err != nil {
		b.log.Warn("record an edit", zap.Int32("message_id", id), zap.Error(err))
		return nil, nil
	}
	if err := b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.Body = stored
		return nil
	}); err != nil {
		b.log.Warn("record an edit", zap.Int32("message_id", id), zap.Error(err))
	}
	return nil, nil
}

// msgSender is the sender object of get_msg and history entries: the
// message event's sender (a groupSender in groups, with the member's
// name, card and role as the event gives them), plus Shamrock's uid, the
// sender's platform id.
type msgSender struct {
	groupSender
	UID string `json:"uid"`
}

// MarshalJSON writes a private message's sender with the fields of the
// private event's sender only, as the event does.
func (s msgSender) MarshalJSON() ([]byte, error) {
	if s.Role == "" {
		return json.Marshal(struct {
			privateSender
			UID string `json:"uid"`
		}{privateSender{UserID: s.UserID, Nickname: s.Nickname, Sex: s.Sex, Age: s.Age}, s.UID})
	}
	return json.Marshal(struct {
		groupSender
		UID string `json:"uid"`
	}{s.groupSender, s.UID})
}

// msgInfo is a stored message as get_msg returns it (api/public.md), with
// the fields go-cqhttp and Shamrock add: raw_message, group_id, user_id,
// peer_id (the group, or the other side of a private chat) and, for
// private messages, Shamrock's target_id (its name for peer_id).
type msgInfo struct {
	Time        int64           `json:"time"`
	MessageType string          `json:"message_type"`
	MessageID   int32           `json:"message_id"`
	RealID      int32           `json:"real_id"`
	Sender      msgSender       `json:"sender"`
	Message     json.RawMessage `json:"message"`
	RawMessage  string          `json:"raw_message"`
	GroupID     int64           `json:"group_id,omitempty"`
	UserID      int64           `json:"user_id"`
	PeerID      int64           `json:"peer_id"`
	TargetID    int64           `json:"target_id,omitempty"`
}

// msgInfoOf builds the get_msg shape of a stored message.
func (b *Bridge) msgInfoOf(ctx context.Context, id int32, rec store.Message) (msgInfo, error) {
	body, err := segment.DecodeJSON(rec.Body, false)
	if err != nil {
		body = nil // a corrupt body reads as empty rather than failing the call
	}
	sender, err := b.oneBotID(ctx, rec.SenderID)
	if err != nil {
		return msgInfo{}, onebot.ErrFailed("map sender id", err)
	}
	conv := recordConv(rec)
	peer, err := b.oneBotID(ctx, conv.ID)
	if err != nil {
		return msgInfo{}, onebot.ErrFailed("map chat id", err)
	}
	f := b.format(body)
	info := msgInfo{
		Time: rec.Time.Unix(), MessageType: messagePrivate, MessageID: id, RealID: id,
		Sender: msgSender{
			groupSender: groupSender{UserID: sender, Nickname: rec.SenderName, Sex: sexUnknown},
			UID:         rec.SenderID,
		},
		Message: f.post, RawMessage: f.raw,
		UserID: sender, PeerID: peer, TargetID: peer,
	}
	if conv.Kind == platform.KindGroup {
		info.MessageType, info.GroupID, info.TargetID = messageGroup, peer, 0
		// As the message event: the member's own name, their card (the
		// list's, or the name the message showed when it differs), the
		// role.
		s := &info.Sender.groupSender
		s.Role = string(platform.RoleMember)
		if m, known := b.members.lookup(ctx, conv.ID, rec.SenderID); known {
			s.Nickname = m.name
			s.Card = m.card
			if s.Card == "" && rec.SenderName != "" && rec.SenderName != m.name {
				s.Card = rec.SenderName
			}
			if m.role != "" {
				s.Role = string(m.role)
			}
			s.Title = m.title
		}
	}
	return info, nil
}

// getMsg answers from the store. A record without a body (one whose
// event could not be decoded, or a quoted message never received) is
// read from the platform's history, when it has one, and completed.
func (b *Bridge) getMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p messageIDParam
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	id := int32(p.MessageID)
	rec, err := b.storedMessage(id, "message_id")
	if err != nil {
		return nil, err
	}
	if len(rec.Body) == 0 && b.history != nil {
		conv := recordConv(rec)
		m, err := b.history.Message(ctx, conv, rec.MsgID)
		if err == nil && m == nil {
			err = fmt.Errorf("message %s: %w", rec.MsgID, platform.ErrNotFound)
		}
		if err != nil {
			return nil, platformError("fetch message", err)
		}
		rec = b.completeRecord(ctx, id, rec, conv, m)
	}
	return b.msgInfoOf(ctx, id, rec)
}

// readParams name what to mark read: a message's chat (go-cqhttp), or the
// chat itself.
type readParams struct {
	MessageID *onebot.Int32 `json:"message_id"`
	GroupID   *onebot.Int64 `json:"group_id"`
	UserID    *onebot.Int64 `json:"user_id"`
}

// resolveConv maps the group_id / user_id pair many actions take, the
// group winning, to a conversation; ok is false when neither is given.
func (b *Bridge) resolveConv(group, user *onebot.Int64) (conv platform.Conv, ok bool, err error) {
	switch {
	case group != nil:
		conv, err = b.groupConv("group_id", int64(*group))
	case user != nil:
		conv, err = b.userConv("user_id", int64(*user))
	default:
		return conv, false, nil
	}
	return conv, true, err
}

// markMsgAsRead marks a conversation read (platform.Reader); platforms
// mark whole conversations, not messages.
func (b *Bridge) markMsgAsRead(ctx context.Context, req *onebot.Request) (any, error) {
	var p readParams
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	var conv platform.Conv
	if p.MessageID != nil {
		rec, err := b.storedMessage(int32(*p.MessageID), "message_id")
		if err != nil {
			return nil, err
		}
		conv = recordConv(rec)
	} else {
		c, ok, err := b.resolveConv(p.GroupID, p.UserID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, onebot.ErrBadParams("message_id: required (or group_id / user_id)")
		}
		conv = c
	}
	if err := b.reader.MarkRead(ctx, conv); err != nil {
		return nil, platformError("mark read", err)
	}
	return nil, nil
}

// clearMsgs is Shamrock's "clear the local message cache". The bridge's
// only local messages are the id map, which must outlive everything for
// message_ids to stay stable, and history stays on the platform's server;
// so there is nothing to clear and the call succeeds after checking its
// parameters.
func (b *Bridge) clearMsgs(_ context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageType string        `json:"message_type"`
		GroupID     *onebot.Int64 `json:"group_id"`
		UserID      *onebot.Int64 `json:"user_id"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if _, _, err := b.resolveConv(p.GroupID, p.UserID); err != nil {
		return nil, err
	}
	return nil, nil
}
