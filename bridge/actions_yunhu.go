package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Yunhu's extensions, named in the OneBot style (README "Extensions"):
//
//	edit_msg              {message_id, message, auto_escape} → null
//	delete_msg_batch      {message_ids: [..]} → null
//	forward_msg           {message_id, targets: [{group_id} | {user_id}]} → null
//	click_button          {message_id, value} → null
//	get_msg_edit_history  {message_id} → {total, edits: [{time, content_type, message, raw_message}]}

// editMsg replaces the content of one of the account's messages. Yunhu
// edits text, markdown and html (into each other too), so the new message
// must be exactly one of those; its quote and mentions go along.
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
		return nil, onebot.ErrBadParams("message_id: %d is not the account's own message; Yunhu lets only the author edit", id)
	}
	msg, err := b.decodeMessage(req.Action, p.Message, bool(p.AutoEscape))
	if err != nil {
		return nil, err
	}
	chat := recordChat(rec)
	parts, err := b.buildOutgoing(ctx, chat, msg)
	if err != nil {
		return nil, err
	}
	ct := parts[0].out.ContentType
	if len(parts) != 1 || (ct != yunhu.ContentText && ct != yunhu.ContentMarkdown && ct != yunhu.ContentHTML) {
		return nil, onebot.ErrBadParams("message: an edit must be one text, markdown or html message (Yunhu edits nothing else), this is %d messages", len(parts))
	}
	out := parts[0].out
	out.ID = rec.MsgID
	if err := b.platform.EditMessage(ctx, out); err != nil {
		return nil, platformError("edit message", err)
	}
	body := parts[0].segs
	if err := b.store.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.Body = segment.AppendJSON(nil, body)
		return nil
	}); err != nil {
		b.log.Warn("record an edit", zap.Int32("message_id", id), zap.Error(err))
	}
	return nil, nil
}

// deleteMsgBatch recalls several messages, one Yunhu call per chat.
// Yunhu checks a batch as a whole: either all of a chat's messages are
// recalled or none (one that may not be recalled fails its chat's batch).
func (b *Bridge) deleteMsgBatch(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageIDs []onebot.Int32 `json:"message_ids" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if len(p.MessageIDs) == 0 {
		return nil, onebot.ErrBadParams("message_ids: empty")
	}
	var chats []yunhu.Chat
	byChat := map[yunhu.Chat][]string{}
	parts := map[yunhu.Chat][][]string{} // each message's Yunhu ids, first part first
	for _, n := range p.MessageIDs {
		rec, err := b.storedMessage(int32(n), "message_ids")
		if err != nil {
			return nil, err
		}
		c := recordChat(rec)
		if _, ok := byChat[c]; !ok {
			chats = append(chats, c)
		}
		ids := append([]string{rec.MsgID}, b.partMsgIDs(int32(n), rec)...)
		parts[c] = append(parts[c], ids)
		for _, msgID := range ids {
			if !slices.Contains(byChat[c], msgID) {
				byChat[c] = append(byChat[c], msgID)
			}
		}
	}
	for _, c := range chats {
		// As delete_msg: the account is the operator, one notice per
		// OneBot message.
		var undo []func()
		for _, ids := range parts[c] {
			undo = append(undo, b.ownRecalls.add(b.now(), ids))
		}
		if err := b.platform.RecallBatch(ctx, c, byChat[c]); err != nil {
			for _, u := range undo {
				u()
			}
			return nil, platformError("recall messages in "+c.ID, err)
		}
	}
	return nil, nil
}

// forwardTarget is one chat of forward_msg's targets.
type forwardTarget struct {
	GroupID *onebot.Int64 `json:"group_id"`
	UserID  *onebot.Int64 `json:"user_id"`
}

// forwardMsg copies a message into other chats in one Yunhu call (§2.8).
// The copies' ids are not returned by Yunhu; they arrive as message
// events like any other message of the account.
func (b *Bridge) forwardMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageID onebot.Int32    `json:"message_id" onebot:"required"`
		Targets   []forwardTarget `json:"targets" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := b.storedMessage(int32(p.MessageID), "message_id")
	if err != nil {
		return nil, err
	}
	if len(p.Targets) == 0 {
		return nil, onebot.ErrBadParams("targets: empty")
	}
	chats := make([]yunhu.Chat, 0, len(p.Targets))
	for _, t := range p.Targets {
		c, ok, err := b.resolveChat(t.GroupID, t.UserID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, onebot.ErrBadParams("targets: each target needs group_id or user_id")
		}
		chats = append(chats, c)
	}
	if err := b.platform.Forward(ctx, rec.MsgID, yunhu.ChatType(rec.ChatType), chats); err != nil {
		return nil, platformError("forward message", err)
	}
	return nil, nil
}

// clickButton reports a click on a button of a bot's message (actionType
// 3, §2.7): the bot receives value as if the account had clicked.
func (b *Bridge) clickButton(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageID onebot.Int32  `json:"message_id" onebot:"required"`
		Value     onebot.String `json:"value" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := b.storedMessage(int32(p.MessageID), "message_id")
	if err != nil {
		return nil, err
	}
	if err := b.ensureLogin(ctx); err != nil {
		return nil, err
	}
	if err := b.platform.ButtonReport(ctx, recordChat(rec), rec.MsgID, b.self(), string(p.Value)); err != nil {
		return nil, platformError("report button click", err)
	}
	return nil, nil
}

// editHistory is get_msg_edit_history's data: total is Yunhu's count of
// edits; edits are the previous versions, oldest first, each with the
// time it was replaced (seconds).
type editHistory struct {
	Total int         `json:"total"`
	Edits []editEntry `json:"edits"`
}

type editEntry struct {
	Time        int64           `json:"time"`
	ContentType int32           `json:"content_type"`
	Message     json.RawMessage `json:"message"`
	RawMessage  string          `json:"raw_message"`
}

// editHistoryPage and maxEditHistory bound get_msg_edit_history: a
// message edited more than a few hundred times is not a use case.
const (
	editHistoryPage = 50
	maxEditHistory  = 500
)

func (b *Bridge) getMsgEditHistory(ctx context.Context, req *onebot.Request) (any, error) {
	var p messageIDParam
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := b.storedMessage(int32(p.MessageID), "message_id")
	if err != nil {
		return nil, err
	}
	// Yunhu may serve fewer edits than asked on a page that is not the
	// last and may leave total out (yunhu.CollectPages).
	all, total, err := yunhu.CollectPages(0, maxEditHistory, func(page int) ([]yunhu.EditRecord, int, error) {
		return b.platform.ListEditRecords(ctx, rec.MsgID, page, editHistoryPage)
	}, func(e yunhu.EditRecord) int64 { return e.ID })
	if err != nil {
		return nil, platformError("list edits", err)
	}
	if total == 0 {
		total = len(all)
	}
	slices.SortStableFunc(all, func(x, y yunhu.EditRecord) int { return cmp.Compare(x.MsgTime, y.MsgTime) })
	out := editHistory{Total: total, Edits: make([]editEntry, 0, len(all))}
	for _, e := range all {
		var c editContent
		if err := json.Unmarshal([]byte(e.ContentOld), &c); err != nil {
			b.log.Warn("decode an edit record", zap.Int64("id", e.ID), zap.Error(err))
		}
		content := c.content()
		segs, err := b.contentSegments(ctx, yunhu.ContentType(e.ContentType), &content, nil)
		if err != nil {
			return nil, onebot.ErrFailed("convert an edit record", err)
		}
		f := b.format(segs)
		out.Edits = append(out.Edits, editEntry{
			Time: time.UnixMilli(e.MsgTime).Unix(), ContentType: e.ContentType, Message: f.post, RawMessage: f.raw,
		})
	}
	return out, nil
}

// editContent is the previous content in an edit record: MsgContent with
// camelCase keys (§2.6). Numbers may come as JSON numbers or strings.
type editContent struct {
	Text           string       `json:"text"`
	Buttons        string       `json:"buttons"`
	ImageURL       string       `json:"imageUrl"`
	FileName       string       `json:"fileName"`
	FileURL        string       `json:"fileUrl"`
	MentionedID    []string     `json:"mentionedId"`
	Form           string       `json:"form"`
	QuoteMsgText   string       `json:"quoteMsgText"`
	Image          string       `json:"image"`
	PostID         string       `json:"postId"`
	PostTitle      string       `json:"postTitle"`
	PostContent    string       `json:"postContent"`
	PostType       string       `json:"postType"`
	ExpressionID   string       `json:"expressionId"`
	FileSize       onebot.Int64 `json:"fileSize"`
	VideoURL       string       `json:"videoUrl"`
	AudioURL       string       `json:"audioUrl"`
	AudioTime      onebot.Int64 `json:"audioTime"`
	StickerItemID  onebot.Int64 `json:"stickerItemId"`
	StickerPackID  onebot.Int64 `json:"stickerPackId"`
	CallText       string       `json:"callText"`
	CallStatusText string       `json:"callStatusText"`
	Tip            string       `json:"tip"`
}

func (c editContent) content() yunhu.Content {
	return yunhu.Content{
		Text: c.Text, Buttons: c.Buttons, Mentions: c.MentionedID, ImageURL: c.ImageURL, Image: c.Image,
		FileName: c.FileName, FileURL: c.FileURL, FileSize: int64(c.FileSize),
		VideoURL: c.VideoURL, AudioURL: c.AudioURL, AudioSeconds: int64(c.AudioTime), Form: c.Form,
		QuoteText: c.QuoteMsgText, PostID: c.PostID, PostTitle: c.PostTitle, PostContent: c.PostContent, PostType: c.PostType,
		ExpressionID: c.ExpressionID, StickerItemID: int64(c.StickerItemID), StickerPackID: int64(c.StickerPackID),
		CallText: c.CallText, CallStatusText: c.CallStatusText, Tip: c.Tip,
	}
}
