package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// History (go-cqhttp get_group_msg_history, Shamrock get_history_msg) and
// forwarding (send_group_forward_msg, send_private_forward_msg).

// defaultHistoryCount and maxHistoryCount bound one history call: 20 is
// Shamrock's default; the cap keeps a single action from paging through a
// chat's whole history.
const (
	defaultHistoryCount = 20
	maxHistoryCount     = 100
)

// historyParams are Shamrock's (message_type, user_id / group_id,
// message_seq, count); message_id is accepted for message_seq as NapCat
// names it.
type historyParams struct {
	MessageType string        `json:"message_type"`
	UserID      *onebot.Int64 `json:"user_id"`
	GroupID     *onebot.Int64 `json:"group_id"`
	MessageSeq  *onebot.Int64 `json:"message_seq"`
	MessageID   *onebot.Int64 `json:"message_id"`
	Count       *onebot.Int64 `json:"count"`
}

// historyResult is the data of both history actions.
type historyResult struct {
	Messages []msgInfo `json:"messages"`
}

func (b *Bridge) getHistoryMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p historyParams
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	var (
		chat yunhu.Chat
		err  error
	)
	switch p.MessageType {
	case messageGroup:
		if p.GroupID == nil {
			return nil, onebot.ErrBadParams("group_id: required for message_type group")
		}
		chat, err = b.groupChat("group_id", int64(*p.GroupID))
	case messagePrivate:
		if p.UserID == nil {
			return nil, onebot.ErrBadParams("user_id: required for message_type private")
		}
		chat, err = b.userChat("user_id", int64(*p.UserID))
	case "":
		var ok bool
		chat, ok, err = b.resolveChat(p.GroupID, p.UserID)
		if err == nil && !ok {
			return nil, onebot.ErrBadParams("message_type: required (or group_id / user_id)")
		}
	default:
		return nil, onebot.ErrBadParams("message_type: expected private or group, got %q", clipParam(p.MessageType, 40))
	}
	if err != nil {
		return nil, err
	}
	return b.history(ctx, chat, p)
}

func (b *Bridge) getGroupMsgHistory(ctx context.Context, req *onebot.Request) (any, error) {
	var p historyParams
	chat, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	return b.history(ctx, chat, p)
}

// history returns up to count messages of chat, oldest first, ending with
// the message message_seq names (as go-cqhttp, whose page ends with the
// message at message_seq, and Shamrock, which starts from that message
// backwards), or with the newest when it is 0 or absent. Recalled messages
// are left out. Messages the bridge has not seen yet get their message_id
// here, so every entry can be quoted, fetched and recalled.
func (b *Bridge) history(ctx context.Context, chat yunhu.Chat, p historyParams) (any, error) {
	count := int64(defaultHistoryCount)
	if p.Count != nil && *p.Count > 0 {
		count = min(int64(*p.Count), maxHistoryCount)
	}
	anchor := p.MessageSeq
	if anchor == nil || *anchor == 0 {
		anchor = p.MessageID
	}
	var (
		anchorRec *store.Message
		anchorID  int32
		before    string
	)
	if anchor != nil && *anchor != 0 {
		if *anchor < 0 || *anchor > 1<<31-1 {
			return nil, onebot.ErrBadParams("message_seq: %d is not a message_id", int64(*anchor))
		}
		anchorID = int32(*anchor)
		rec, err := b.storedMessage(anchorID, "message_seq")
		if err != nil {
			return nil, err
		}
		if chat.Type == yunhu.ChatTypeUser && rec.ChatType == yunhu.ChatTypeBot && rec.ChatID == chat.ID {
			chat.Type = yunhu.ChatTypeBot // a bot not met since the start
			b.rememberBot(chat.ID)
		}
		if rec.ChatType != int32(chat.Type) || rec.ChatID != chat.ID {
			return nil, onebot.ErrBadParams("message_seq: message %d is in another chat", anchorID)
		}
		anchorRec, before = &rec, rec.MsgID
		count--
	}
	var msgs []yunhu.Message
	if count > 0 {
		var err error
		msgs, err = b.platform.ListMessages(ctx, chat, before, int(count))
		if (err != nil || len(msgs) == 0) && before == "" && chat.Type == yunhu.ChatTypeUser && b.lookupBot(ctx, chat.ID) {
			// A private chat with a bot the bridge has not met since the
			// start: the address book tells, as for sending.
			chat.Type = yunhu.ChatTypeBot
			msgs, err = b.platform.ListMessages(ctx, chat, before, int(count))
		}
		if err == nil {
			msgs, err = b.moreHistory(ctx, chat, msgs, int(count))
		}
		if err != nil {
			return nil, platformError("list messages", err)
		}
	}
	// Oldest first: Yunhu lists newest first (§2.5.2), and says nothing it
	// promises; seq is the order.
	slices.SortStableFunc(msgs, func(x, y yunhu.Message) int {
		return cmp.Or(cmp.Compare(x.Seq, y.Seq), x.Time.Compare(y.Time))
	})
	ids, recs, err := b.mapHistory(ctx, chat, msgs)
	if err != nil {
		return nil, err
	}
	if anchorRec != nil {
		ids, recs = append(ids, anchorID), append(recs, *anchorRec)
	}
	out := historyResult{Messages: make([]msgInfo, 0, len(ids))}
	for i, rec := range recs {
		if rec.Recalled {
			continue
		}
		info, err := b.msgInfoOf(ctx, ids[i], rec)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, info)
	}
	return out, nil
}

// maxHistoryPages bounds the list-message calls of one history read.
const maxHistoryPages = 10

// moreHistory completes a first page of history to count messages: Yunhu
// may serve fewer than asked while older ones remain, so it asks again
// before the oldest so far until it has count, gets an empty page, or a
// page with nothing new (a server serving the same page again).
func (b *Bridge) moreHistory(ctx context.Context, chat yunhu.Chat, msgs []yunhu.Message, count int) ([]yunhu.Message, error) {
	seen := make(map[string]bool, len(msgs))
	for i := range msgs {
		seen[msgs[i].ID] = true
	}
	page := msgs
	for range maxHistoryPages - 1 {
		if len(msgs) >= count || len(page) == 0 {
			break
		}
		oldest := slices.MinFunc(msgs, func(x, y yunhu.Message) int { return cmp.Compare(x.Seq, y.Seq) })
		more, err := b.platform.ListMessages(ctx, chat, oldest.ID, count-len(msgs))
		if err != nil {
			return nil, err
		}
		page = page[:0:0]
		for i := range more {
			if !seen[more[i].ID] {
				seen[more[i].ID] = true
				page = append(page, more[i])
			}
		}
		msgs = append(msgs, page...)
	}
	return msgs, nil
}

// mapHistory gives every listed message its message_id and record: the
// stored one when the bridge has it (its body may be richer, e.g. the
// segments a bot sent), else a new record, allocated in one write.
func (b *Bridge) mapHistory(ctx context.Context, chat yunhu.Chat, msgs []yunhu.Message) ([]int32, []store.Message, error) {
	ids := make([]int32, len(msgs))
	recs := make([]store.Message, len(msgs))
	var (
		fresh []store.Message
		where []int
	)
	for i := range msgs {
		id, err := b.store.MessageID(int32(chat.Type), chat.ID, msgs[i].ID)
		if err == nil {
			var rec store.Message
			rec, err = b.store.Message(id)
			if err == nil {
				rec.Recalled = rec.Recalled || msgs[i].Recalled()
				rec.Unsent = false // Yunhu lists it: it was sent
				if len(rec.Body) == 0 {
					// A placeholder (a quoted message never seen): complete it.
					rec = b.completeRecord(ctx, id, rec, chat, &msgs[i])
				}
				ids[i], recs[i] = id, rec
				continue
			}
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, nil, onebot.ErrFailed("message lookup failed", err)
		}
		fresh = append(fresh, b.recordOf(ctx, chat, &msgs[i]))
		where = append(where, i)
	}
	if len(fresh) > 0 {
		got, err := b.store.PutMessages(ctx, fresh)
		if err != nil {
			return nil, nil, onebot.ErrFailed("record listed messages", err)
		}
		for j, i := range where {
			ids[i], recs[i] = got[j], fresh[j]
		}
	}
	return ids, recs, nil
}

// recordOf is the store record of a message fetched from Yunhu, its body
// converted as events convert pushes (inbound.go), the quote included when
// the quoted message has an id. Seq stays 0: to the ingest pipeline a
// record without seq is one never reported as an event, so a message a bot
// read in history before the bridge received it is still delivered as an
// event, exactly once, when it arrives (ingest.go, reported).
func (b *Bridge) recordOf(ctx context.Context, chat yunhu.Chat, m *yunhu.Message) store.Message {
	body, err := b.contentSegments(ctx, m.ContentType, &m.Content, nil)
	if err != nil {
		b.log.Warn("convert a listed message", zap.String("msg_id", m.ID), zap.Error(err))
	}
	if m.QuoteID != "" {
		if qid, err := b.store.MessageID(int32(chat.Type), chat.ID, m.QuoteID); err == nil {
			body = append(segment.Message{segment.Reply(itoa(int64(qid)))}, body...)
		}
	}
	return store.Message{
		ChatType: int32(chat.Type), ChatID: chat.ID, MsgID: m.ID,
		SenderID: m.Sender.ID, SenderName: m.Sender.Name, Time: m.Time,
		Self: m.Sender.ID == b.self(), Recalled: m.Recalled(),
		Body: segment.AppendJSON(nil, body),
	}
}

// completeRecord fills a stored record that has no body from the message
// Yunhu returned, in the store and in the returned copy. A failed write
// only costs the next caller a fetch.
func (b *Bridge) completeRecord(ctx context.Context, id int32, rec store.Message, chat yunhu.Chat, m *yunhu.Message) store.Message {
	fresh := b.recordOf(ctx, chat, m)
	fill := func(r *store.Message) {
		r.Body, r.SenderID, r.SenderName, r.Time = fresh.Body, fresh.SenderID, fresh.SenderName, fresh.Time
		r.Self, r.Recalled = fresh.Self, r.Recalled || fresh.Recalled
	}
	if err := b.store.UpdateMessage(ctx, id, func(r *store.Message) error {
		if len(r.Body) == 0 {
			fill(r)
		}
		return nil
	}); err != nil {
		b.log.Warn("complete a stored message", zap.Int32("message_id", id), zap.Error(err))
	}
	fill(&rec)
	return rec
}

// forwardParams are send_group_forward_msg's and send_private_forward_msg's;
// messages (go-cqhttp) or message (some NapCat callers) holds the nodes.
type forwardParams struct {
	GroupID  *onebot.Int64   `json:"group_id"`
	UserID   *onebot.Int64   `json:"user_id"`
	Messages json.RawMessage `json:"messages"`
	Message  json.RawMessage `json:"message"`
}

// forwardResult is the data of the forward actions. message_id is the
// first message sent: the rendered custom nodes, or the first forwarded
// copy. There is no forward_id: Yunhu has no merged-forward messages.
type forwardResult struct {
	MessageID int32 `json:"message_id"`
}

func (b *Bridge) sendGroupForwardMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p forwardParams
	chat, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	return b.sendForward(ctx, req.Action, chat, p)
}

func (b *Bridge) sendPrivateForwardMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p forwardParams
	chat, err := b.decodeUser(req, &p, &p.UserID)
	if err != nil {
		return nil, err
	}
	return b.sendForward(ctx, req.Action, chat, p)
}

// sendForward sends the nodes in order. Yunhu has no merged-forward
// message, so:
//   - a node with an id forwards that message as Yunhu forwards (a copy
//     in the chat, §2.8);
//   - consecutive custom nodes (name/uin/content) become one markdown
//     message, each node a quote "**name**: content".
//
// Every node is checked before anything is sent.
func (b *Bridge) sendForward(ctx context.Context, action string, chat yunhu.Chat, p forwardParams) (any, error) {
	raw := p.Messages
	if len(raw) == 0 || string(raw) == "null" {
		raw = p.Message
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, onebot.ErrBadParams("messages: required")
	}
	nodes, err := b.decodeMessage(action, raw, false)
	if err != nil {
		return nil, err
	}
	type step struct {
		forward  *store.Message // an existing message, or
		markdown string         // rendered custom nodes
	}
	var (
		steps   []step
		pending []string
	)
	flush := func() {
		if len(pending) > 0 {
			steps = append(steps, step{markdown: strings.Join(pending, "\n\n")})
			pending = nil
		}
	}
	for i, n := range nodes {
		if n.Type != segment.TypeNode {
			return nil, onebot.ErrBadParams("messages[%d]: expected a node segment, got %q", i, n.Type)
		}
		if v := n.Value("id"); v != "" {
			id, ok := n.Int("id")
			if !ok || id <= 0 || id > 1<<31-1 {
				return nil, onebot.ErrBadParams("messages[%d].id: expected a message_id, got %q", i, clipParam(v, 40))
			}
			rec, err := b.storedMessage(int32(id), "node.id")
			if err != nil {
				return nil, err
			}
			flush()
			steps = append(steps, step{forward: &rec})
			continue
		}
		content, ok := n.Get("content")
		if !ok {
			return nil, onebot.ErrBadParams("messages[%d]: a node needs id or content", i)
		}
		name := cmp.Or(n.Value("name"), n.Value("nickname"), n.Value("uin"), n.Value("user_id"))
		pending = append(pending, renderNode(name, segment.DecodeContent(content)))
	}
	flush()
	if len(steps) == 0 {
		return nil, onebot.ErrBadParams("messages: no nodes")
	}
	var first int32
	for _, s := range steps {
		if s.forward != nil {
			var newest int64
			if first == 0 {
				newest = b.newestSeq(ctx, chat)
			}
			if err := b.platform.Forward(ctx, s.forward.MsgID, yunhu.ChatType(s.forward.ChatType), []yunhu.Chat{chat}); err != nil {
				return nil, platformError("forward message", err)
			}
			if first == 0 && newest >= 0 {
				first = b.forwardedCopy(ctx, chat, newest)
			}
			continue
		}
		id, _, err := b.sendMessage(ctx, chat, segment.Message{segment.Markdown(s.markdown)})
		if err != nil {
			return nil, err
		}
		if first == 0 {
			first = id
		}
	}
	return forwardResult{MessageID: first}, nil
}

// forwardLookback is how many of a chat's newest messages forwardedCopy
// reads to find a copy.
const forwardLookback = 20

// newestSeq returns the seq of chat's newest message (0 for an empty
// chat), or -1 when the chat cannot be read.
func (b *Bridge) newestSeq(ctx context.Context, chat yunhu.Chat) int64 {
	msgs, err := b.platform.ListMessages(ctx, chat, "", 1)
	if err != nil {
		b.log.Warn("forward: read the chat before; the copy's message_id will be 0", zap.String("chat", chat.ID), zap.Error(err))
		return -1
	}
	var seq int64
	for i := range msgs {
		seq = max(seq, msgs[i].Seq)
	}
	return seq
}

// forwardedCopy returns the message_id of the copy a forward just made in
// chat, durable in the store (so get_msg and delete_msg work on it), or 0
// when it cannot be found. Yunhu does not return the copy's id (§2.8): it
// is the account's first message in chat after the newest one before the
// forward (a send of the account's that races with the forward may be
// taken for it).
func (b *Bridge) forwardedCopy(ctx context.Context, chat yunhu.Chat, newest int64) int32 {
	msgs, err := b.platform.ListMessages(ctx, chat, "", forwardLookback)
	if err != nil {
		b.log.Warn("forward: find the copy; its message_id will be 0", zap.String("chat", chat.ID), zap.Error(err))
		return 0
	}
	pick := -1
	for i := range msgs {
		if m := &msgs[i]; m.Seq > newest && m.Sender.ID == b.self() && (pick < 0 || m.Seq < msgs[pick].Seq) {
			pick = i
		}
	}
	if pick < 0 {
		b.log.Warn("forward: the copy is not listed; its message_id will be 0", zap.String("chat", chat.ID))
		return 0
	}
	ids, _, err := b.mapHistory(ctx, chat, msgs[pick:pick+1])
	if err != nil {
		b.log.Warn("forward: store the copy; its message_id will be 0", zap.String("chat", chat.ID), zap.Error(err))
		return 0
	}
	return ids[0]
}

// renderNode renders one custom node as a markdown quote: the name in bold,
// then the content, every line quoted. Images with a URL stay images;
// other media show as the labels quotes use.
func renderNode(name string, content segment.Message) string {
	var sb strings.Builder
	for _, s := range content {
		switch s.Type {
		case segment.TypeText:
			sb.WriteString(s.Value("text"))
		case segment.TypeImage:
			u := cmp.Or(s.Value("url"), s.Value("file"))
			if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
				sb.WriteString("![图片](" + u + ")")
			} else {
				sb.WriteString("[图片]")
			}
		case segment.TypeNode:
			sb.WriteString("[聊天记录]")
		default:
			t, _ := quotePreview(segment.Message{s})
			sb.WriteString(t)
		}
	}
	lines := strings.Split(sb.String(), "\n")
	lines[0] = "**" + name + "**: " + lines[0]
	return "> " + strings.Join(lines, "\n> ")
}
