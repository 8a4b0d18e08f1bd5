package bridge

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// History (go-cqhttp get_group_msg_history, Shamrock get_history_msg) on
// platform.History. Forwarding is no core matter: a backend that can
// forward registers send_*_forward_msg as extensions.

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
		conv platform.Conv
		err  error
	)
	switch p.MessageType {
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
	case "":
		var ok bool
		conv, ok, err = b.resolveConv(p.GroupID, p.UserID)
		if err == nil && !ok {
			return nil, onebot.ErrBadParams("message_type: required (or group_id / user_id)")
		}
	default:
		return nil, onebot.ErrBadParams("message_type: expected private or group, got %q", clip.Bytes(p.MessageType, 40))
	}
	if err != nil {
		return nil, err
	}
	return b.readHistory(ctx, conv, p)
}

func (b *Bridge) getGroupMsgHistory(ctx context.Context, req *onebot.Request) (any, error) {
	var p historyParams
	conv, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	return b.readHistory(ctx, conv, p)
}

// readHistory returns up to count messages of conv, oldest first, ending
// with the message message_seq names (as go-cqhttp, whose page ends with
// the message at message_seq, and Shamrock, which starts from that
// message backwards), or with the newest when it is 0 or absent. Recalled
// messages are left out. Messages the bridge has not seen yet get their
// message_id here, so every entry can be quoted, fetched and recalled.
func (b *Bridge) readHistory(ctx context.Context, conv platform.Conv, p historyParams) (any, error) {
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
		if rec.Conv != convKey(conv) {
			return nil, onebot.ErrBadParams("message_seq: message %d is in another chat", anchorID)
		}
		anchorRec, before = &rec, rec.MsgID
		count--
	}
	if b.history == nil {
		return b.storedHistory(ctx, conv, anchorID, anchorRec, int(count))
	}
	var msgs []platform.Message
	if count > 0 {
		var err error
		msgs, err = b.history.Before(ctx, conv, before, int(count))
		if err != nil {
			return nil, platformError("list messages", err)
		}
		if len(msgs) > int(count) {
			msgs = msgs[len(msgs)-int(count):] // the newest count, should a backend give more
		}
	}
	ids, recs, err := b.mapHistory(ctx, conv, msgs)
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

// maxStoredHistoryScan bounds the records one history call of a backend
// without History looks at (store.Recent).
const maxStoredHistoryScan = 200_000

// storedHistory is readHistory for a platform with no history API: the
// messages the daemon stored (received, sent and reported), count of them
// before the anchor, oldest first, the anchor last.
func (b *Bridge) storedHistory(ctx context.Context, conv platform.Conv, anchorID int32, anchorRec *store.Message, count int) (any, error) {
	var ids []int32
	var recs []store.Message
	if count > 0 {
		var err error
		if ids, recs, err = b.store.Recent(convKey(conv), anchorID, count, maxStoredHistoryScan); err != nil {
			return nil, onebot.ErrFailed("read stored messages", err)
		}
		slices.Reverse(ids)
		slices.Reverse(recs)
	}
	if anchorRec != nil {
		ids, recs = append(ids, anchorID), append(recs, *anchorRec)
	}
	out := historyResult{Messages: make([]msgInfo, 0, len(ids))}
	for i, rec := range recs {
		if rec.Recalled || len(rec.Body) == 0 {
			continue // recalled, or a placeholder of a quoted message never seen
		}
		info, err := b.msgInfoOf(ctx, ids[i], rec)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, info)
	}
	return out, nil
}

// mapHistory gives every listed message its message_id and record: the
// stored one when the bridge has it (its body may be richer, e.g. the
// segments a bot sent), else a new record, allocated in one write.
func (b *Bridge) mapHistory(ctx context.Context, conv platform.Conv, msgs []platform.Message) ([]int32, []store.Message, error) {
	ids := make([]int32, len(msgs))
	recs := make([]store.Message, len(msgs))
	var (
		fresh []store.Message
		where []int
	)
	key := convKey(conv)
	for i := range msgs {
		id, err := b.store.MessageID(key, msgs[i].ID)
		if err == nil {
			var rec store.Message
			rec, err = b.store.Message(id)
			if err == nil {
				rec.Recalled = rec.Recalled || msgs[i].Recalled
				rec.Unsent = false // the platform lists it: it was sent
				if len(rec.Body) == 0 {
					// A placeholder (a quoted message never seen): complete it.
					rec = b.completeRecord(ctx, id, rec, conv, &msgs[i])
				}
				ids[i], recs[i] = id, rec
				continue
			}
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, nil, onebot.ErrFailed("message lookup failed", err)
		}
		fresh = append(fresh, b.recordOf(ctx, conv, &msgs[i]))
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

// noNames is Backend.Decode's names for content read outside the ingest
// path: no names are known beyond what the content carries.
func noNames(string) []string { return nil }

// decodeContent is Backend.Decode followed by the mapping of mentions to
// OneBot ids: the segments a bot sees. On a decode error it returns what
// was decoded with the error.
func (b *Bridge) decodeContent(ctx context.Context, conv platform.Conv, content any) (segment.Message, error) {
	body, err := b.backend.Decode(ctx, conv, content, noNames)
	mapped, merr := b.toOneBot(ctx, body)
	if merr != nil {
		return nil, merr
	}
	return mapped, err
}

// recordOf is the store record of a message read from the platform's
// history, its body decoded as events decode received messages, the quote
// included when the quoted message has an id. Reported stays false: a
// message a bot read in history before the bridge received it is still
// delivered as an event, exactly once, when it arrives.
func (b *Bridge) recordOf(ctx context.Context, conv platform.Conv, m *platform.Message) store.Message {
	body, err := b.decodeContent(ctx, conv, m.Content)
	if err != nil {
		b.log.Warn("convert a listed message", zap.String("msg_id", m.ID), zap.Error(err))
	}
	if m.QuoteID != "" {
		if qid, err := b.store.MessageID(convKey(conv), m.QuoteID); err == nil {
			body = append(segment.Message{segment.Reply(strconv.FormatInt(int64(qid), 10))}, body...)
		}
	}
	// Not Reported: a message a bot read in history before the bridge
	// received it is still delivered as an event, exactly once, when it
	// arrives (ingest.go, reported).
	return store.Message{
		Conv: convKey(conv), MsgID: m.ID, Seq: m.Seq,
		SenderID: m.Sender.ID, SenderName: m.Sender.Name, Time: m.Time,
		Self: m.Sender.ID == b.self(), Recalled: m.Recalled,
		Body: segment.AppendJSON(nil, body),
	}
}

// completeRecord fills a stored record that has no body from the message
// the platform returned, in the store and in the returned copy. A failed
// write only costs the next caller a fetch.
func (b *Bridge) completeRecord(ctx context.Context, id int32, rec store.Message, conv platform.Conv, m *platform.Message) store.Message {
	fresh := b.recordOf(ctx, conv, m)
	fill := func(r *store.Message) {
		r.Body, r.SenderID, r.SenderName, r.Time = fresh.Body, fresh.SenderID, fresh.SenderName, fresh.Time
		r.Self, r.Recalled = fresh.Self, r.Recalled || fresh.Recalled
		if r.Seq == 0 {
			r.Seq = fresh.Seq
		}
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
