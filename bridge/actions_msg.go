package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Message actions (api/public.md): send, recall, get, mark read.

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
// the message was sent, as get_msg reports it until Yunhu's echo brings
// the server's own.
type sendResult struct {
	MessageID int32 `json:"message_id"`
	Time      int64 `json:"time"`
}

func (b *Bridge) sendPrivateMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p sendParams
	chat, err := b.decodeUser(req, &p, &p.UserID)
	if err != nil {
		return nil, err
	}
	return b.send(ctx, req.Action, chat, p)
}

func (b *Bridge) sendGroupMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p sendParams
	chat, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	return b.send(ctx, req.Action, chat, p)
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
			typ = "group"
		case p.UserID != nil:
			typ = "private"
		default:
			return nil, onebot.ErrBadParams("message_type: required when neither group_id nor user_id is given")
		}
	}
	var (
		chat yunhu.Chat
		err  error
	)
	switch typ {
	case "group":
		if p.GroupID == nil {
			return nil, onebot.ErrBadParams("group_id: required for message_type group")
		}
		chat, err = b.groupChat("group_id", int64(*p.GroupID))
	case "private":
		if p.UserID == nil {
			return nil, onebot.ErrBadParams("user_id: required for message_type private")
		}
		chat, err = b.userChat("user_id", int64(*p.UserID))
	default:
		return nil, onebot.ErrBadParams("message_type: expected private or group, got %q", clipParam(typ, 40))
	}
	if err != nil {
		return nil, err
	}
	return b.send(ctx, req.Action, chat, p)
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

func (b *Bridge) send(ctx context.Context, action string, chat yunhu.Chat, p sendParams) (any, error) {
	msg, err := b.decodeMessage(action, p.Message, bool(p.AutoEscape))
	if err != nil {
		return nil, err
	}
	id, at, err := b.sendMessage(ctx, chat, msg)
	if err != nil {
		return nil, err
	}
	return sendResult{MessageID: id, Time: at.Unix()}, nil
}

// partsKey names the store entry listing the other message_ids of a OneBot
// message that became several Yunhu messages, keyed by the first one.
func partsKey(first int32) string { return "sent-parts/" + strconv.FormatInt(int64(first), 10) }

// sendMessage sends msg into chat and returns the message_id of the first
// Yunhu message it became (see outbound.go) and the time it was sent.
func (b *Bridge) sendMessage(ctx context.Context, chat yunhu.Chat, msg segment.Message) (int32, time.Time, error) {
	parts, err := b.buildOutgoing(ctx, chat, msg)
	if err != nil {
		return 0, time.Time{}, err
	}
	if err := b.ensureLogin(ctx); err != nil {
		return 0, time.Time{}, err
	}
	at := b.now()
	ids := make([]int32, 0, len(parts))
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
	for i, part := range parts {
		id, err := b.sendPart(ctx, part, at)
		var ae *yunhu.APIError
		if err != nil && i == 0 && chat.Type == yunhu.ChatTypeUser && errors.As(err, &ae) && b.lookupBot(ctx, chat.ID) {
			// After a restart the bridge may not know yet that a private
			// chat is with a bot: Yunhu refuses the user chat type, and the
			// address book tells.
			chat.Type = yunhu.ChatTypeBot
			for j := range parts {
				parts[j].out.Chat = chat
			}
			id, err = b.sendPart(ctx, parts[0], at)
		}
		if err != nil {
			if i > 0 {
				return 0, time.Time{}, onebot.ErrFailed(fmt.Sprintf("sent %d of %d Yunhu messages (the first is message_id %d), then: %s",
					i, len(parts), ids[0], failureText(err)), err)
			}
			return 0, time.Time{}, err
		}
		ids = append(ids, id)
	}
	b.logSent(chat, ids[0], msg)
	return ids[0], at, nil
}

// failureText is what an action error tells the client.
func failureText(err error) string {
	var ae *onebot.ActionError
	if errors.As(err, &ae) {
		return ae.Msg
	}
	return err.Error()
}

// sendPart sends one Yunhu message. Its record is written, durably, before
// the message exists: the echo push then finds the id already allocated
// (and completes the record with the seq), so the message_id in the
// response is the one every later event carries. The msg_id is chosen
// here, so a retried request (the client retries on transport errors)
// names the same message and the server does not send it twice.
func (b *Bridge) sendPart(ctx context.Context, part outPart, at time.Time) (int32, error) {
	part.out.ID = yunhu.NewMessageID()
	me := b.identity()
	rec := store.Message{
		ChatType: int32(part.out.Chat.Type), ChatID: part.out.Chat.ID, MsgID: part.out.ID,
		SenderID: me.ID, SenderName: me.Name, Time: at, Self: true,
		Body: part.body,
	}
	id, err := b.store.PutMessage(ctx, rec)
	if err != nil {
		return 0, onebot.ErrFailed("record the message", err)
	}
	if _, err := b.platform.SendMessage(ctx, part.out); err != nil {
		b.dropUnsent(ctx, id, err)
		return 0, platformError("send message", err)
	}
	return id, nil
}

// dropUnsent takes back the record of a send that failed, so that nothing
// a bot reads (get_msg, history, a reply) claims the message exists. A
// refusal (Yunhu answered, e.g. 对方不是你的好友) is definite: the record
// goes. Any other failure (a timeout, a reply lost on the way back, an
// HTTP error) may hide a message that went out: the record stays, marked
// Unsent and hidden from reads, so that its echo, should it come, finds
// the id and completes the record as for any other send.
func (b *Bridge) dropUnsent(ctx context.Context, id int32, cause error) {
	ctx = context.WithoutCancel(ctx)
	var (
		ae  *yunhu.APIError
		err error
	)
	if errors.As(cause, &ae) && ae.HTTPStatus == http.StatusOK {
		err = b.store.DeleteMessage(ctx, id)
	} else {
		err = b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
			m.Unsent = m.Seq == 0 // the echo may have completed it already
			return nil
		})
	}
	if err != nil {
		b.log.Warn("take back the record of a failed send", zap.Int32("message_id", id), zap.Error(err))
	}
}

// lookupBot asks the address book whether id is one of the account's
// bots, remembering every bot it lists.
func (b *Bridge) lookupBot(ctx context.Context, id string) bool {
	book, err := b.platform.AddressBook(ctx)
	if err != nil {
		return false
	}
	for _, c := range book.Bots {
		b.rememberBot(c.ID)
	}
	return b.privateChat(id).Type == yunhu.ChatTypeBot
}

// messageIDParam is the parameter of actions that take one message_id.
type messageIDParam struct {
	MessageID onebot.Int32 `json:"message_id" onebot:"required"`
}

// deleteMsg recalls a message, and with it the other Yunhu messages the
// same OneBot message became. Yunhu's refusal (not the author, not an
// admin, not a member) is passed on.
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
	chat := recordChat(rec)
	// Announced before the call: the recall's push may be handled before
	// Yunhu's answer arrives.
	undo := b.ownRecalls.add(b.now(), ids)
	if len(ids) == 1 {
		err = b.platform.Recall(ctx, chat, rec.MsgID)
	} else {
		err = b.platform.RecallBatch(ctx, chat, ids)
	}
	if err != nil {
		undo()
		return nil, platformError("recall message", err)
	}
	return nil, nil
}

// partMsgIDs returns the Yunhu ids of the other parts of a sent message.
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
		if r, err := b.store.Message(id); err == nil && r.ChatType == rec.ChatType && r.ChatID == rec.ChatID {
			out = append(out, r.MsgID)
		}
	}
	return out
}

// msgSender is the sender object of get_msg and history entries: the
// message event's sender (a groupSender in groups, with the member's
// name, card and role as the event gives them), plus Shamrock's uid, the
// sender's Yunhu id.
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
	peer, err := b.oneBotID(ctx, rec.ChatID)
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
	if rec.ChatType == yunhu.ChatTypeGroup {
		info.MessageType, info.GroupID, info.TargetID = messageGroup, peer, 0
		// As the message event (ingest.go): the member's real name, the
		// name the message showed as card when it differs, the role.
		s := &info.Sender.groupSender
		s.Role = roleMember
		if m, known := b.members.lookup(ctx, rec.ChatID, rec.SenderID); known {
			s.Nickname = m.name
			s.Card = b.members.learnCard(rec.ChatID, rec.SenderID, rec.SenderName, m, known)
			s.Role = roleOf(m.level)
		}
	}
	return info, nil
}

// getMsg answers from the store. A record without a body (one whose push
// could not be converted, say) is fetched from Yunhu and completed.
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
	if len(rec.Body) == 0 {
		m, err := b.platform.GetMessage(ctx, recordChat(rec), rec.MsgID)
		if err != nil {
			return nil, platformError("fetch message", err)
		}
		rec = b.completeRecord(ctx, id, rec, recordChat(rec), m)
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

// resolveChat maps the group_id / user_id pair many actions take, the
// group winning, to a chat; ok is false when neither is given.
func (b *Bridge) resolveChat(group, user *onebot.Int64) (chat yunhu.Chat, ok bool, err error) {
	switch {
	case group != nil:
		chat, err = b.groupChat("group_id", int64(*group))
	case user != nil:
		chat, err = b.userChat("user_id", int64(*user))
	default:
		return chat, false, nil
	}
	return chat, true, err
}

// markMsgAsRead clears the unread count of a conversation
// (dismiss-notification, §3.7); Yunhu marks whole chats, not messages.
func (b *Bridge) markMsgAsRead(ctx context.Context, req *onebot.Request) (any, error) {
	var p readParams
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	var chatID string
	if p.MessageID != nil {
		rec, err := b.storedMessage(int32(*p.MessageID), "message_id")
		if err != nil {
			return nil, err
		}
		chatID = rec.ChatID
	} else {
		chat, ok, err := b.resolveChat(p.GroupID, p.UserID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, onebot.ErrBadParams("message_id: required (or group_id / user_id)")
		}
		chatID = chat.ID
	}
	if err := b.platform.DismissNotification(ctx, chatID); err != nil {
		return nil, platformError("mark read", err)
	}
	return nil, nil
}

// clearMsgs is Shamrock's "clear the local message cache". The bridge's
// only local messages are the id map, which must outlive everything for
// message_ids to stay stable, and history stays on Yunhu's server; so
// there is nothing to clear and the call succeeds after checking its
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
	if _, _, err := b.resolveChat(p.GroupID, p.UserID); err != nil {
		return nil, err
	}
	return nil, nil
}
