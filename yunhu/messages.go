package yunhu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Outgoing is a message to send or an edit to apply (§2.2, §2.3).
type Outgoing struct {
	// ID is the message id: for SendMessage, empty means a fresh one is
	// generated; for EditMessage, the message to edit.
	ID          string
	Chat        Chat
	ContentType ContentType
	Content     Content
	QuoteID     string     // message replied to; the server ignores unknown ids
	CommandID   int64      // bot command (Instruction.ID), if any
	Media       *MediaInfo // upload metadata for image/video/audio, optional
}

// MediaInfo is the upload metadata the official app attaches to media
// messages (SendMessageRequest.media, §2.2).
type MediaInfo struct {
	Key    string
	Hash   string
	MIME   string
	Suffix string // extension without dot
	Width  int64
	Height int64
	Size   int64
}

func (o *Outgoing) pb() *yunhupb.SendMessageRequest {
	r := &yunhupb.SendMessageRequest{
		MsgId: o.ID, ChatId: o.Chat.ID, ChatType: int32(o.Chat.Type),
		Content: o.Content.pb(), ContentType: int32(o.ContentType),
		CommandId: o.CommandID, QuoteMsgId: o.QuoteID,
	}
	if m := o.Media; m != nil {
		r.Media = &yunhupb.Media{
			FileKey: m.Key, FileKey2: m.Key, FileHash: m.Hash, FileType: m.MIME, FileSuffix: m.Suffix,
			ImageWidth: m.Width, ImageHeight: m.Height, FileSize: m.Size,
		}
	}
	return r
}

// SendMessage sends m and returns its id. The sender chooses the id, so the
// call is retried safely: a repeated request names the same message.
// The server does not return the message's seq; it arrives with the echo push.
func (c *Client) SendMessage(ctx context.Context, m Outgoing) (string, error) {
	if m.ID == "" {
		m.ID = NewMessageID()
	}
	var resp yunhupb.StatusResponse
	if err := c.callProto(ctx, http.MethodPost, PathSendMessage, m.pb(), &resp, true); err != nil {
		return "", fmt.Errorf("send message to %s %s: %w", m.Chat.Type, m.Chat.ID, err)
	}
	return m.ID, nil
}

// EditMessage replaces the content of the account's own message m.ID.
// Text-like types (text, markdown, html) may change into each other only.
func (c *Client) EditMessage(ctx context.Context, m Outgoing) error {
	if m.ID == "" {
		return errors.New("edit message: empty id")
	}
	var resp yunhupb.StatusResponse
	if err := c.callProto(ctx, http.MethodPost, PathEditMessage, m.pb(), &resp, false); err != nil {
		return fmt.Errorf("edit %s: %w", m.ID, err)
	}
	return nil
}

// Recall recalls one message in chat.
func (c *Client) Recall(ctx context.Context, chat Chat, msgID string) error {
	req := &yunhupb.RecallMessageRequest{MsgId: []string{msgID}, ChatId: chat.ID, ChatType: int32(chat.Type)}
	var resp yunhupb.StatusResponse
	if err := c.callProto(ctx, http.MethodPost, PathRecallMessage, req, &resp, false); err != nil {
		return fmt.Errorf("recall %s: %w", msgID, err)
	}
	return nil
}

// RecallBatch recalls several messages of one chat in a single call.
func (c *Client) RecallBatch(ctx context.Context, chat Chat, msgIDs []string) error {
	req := &yunhupb.RecallMessageRequest{MsgId: msgIDs, ChatId: chat.ID, ChatType: int32(chat.Type)}
	var resp yunhupb.StatusResponse
	if err := c.callProto(ctx, http.MethodPost, PathRecallMessageBatch, req, &resp, false); err != nil {
		return fmt.Errorf("recall %d messages in %s: %w", len(msgIDs), chat.ID, err)
	}
	return nil
}

// listReply runs a list-message* call and converts the records.
func (c *Client) listReply(ctx context.Context, path string, chat Chat, req proto.Message) ([]Message, error) {
	var resp yunhupb.ListMessageResponse
	if err := c.callProto(ctx, http.MethodPost, path, req, &resp, true); err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(resp.GetMessages()))
	for _, r := range resp.GetMessages() {
		out = append(out, messageFromRecord(chat, r))
	}
	return out, nil
}

// ListMessages returns up to count messages of chat strictly older than the
// message before (empty = the newest), in the server's order (newest first in
// practice; sort by Seq when order matters).
func (c *Client) ListMessages(ctx context.Context, chat Chat, before string, count int) ([]Message, error) {
	req := &yunhupb.ListMessageRequest{MsgCount: int64(count), MsgId: before, ChatType: int32(chat.Type), ChatId: chat.ID}
	msgs, err := c.listReply(ctx, PathListMessage, chat, req)
	if err != nil {
		return nil, fmt.Errorf("list messages of %s: %w", chat.ID, err)
	}
	return msgs, nil
}

// ListMessagesBySeq returns at most BySeqMax messages of chat with a seq
// below start (0 = the newest); the anchor itself is excluded.
func (c *Client) ListMessagesBySeq(ctx context.Context, chat Chat, start int64) ([]Message, error) {
	req := &yunhupb.ListMessageBySeqRequest{MsgStart: start, ChatType: int32(chat.Type), ChatId: chat.ID}
	msgs, err := c.listReply(ctx, PathListMessageBySeq, chat, req)
	if err != nil {
		return nil, fmt.Errorf("list messages of %s by seq %d: %w", chat.ID, start, err)
	}
	return msgs, nil
}

// ListMessagesAround returns the message msgID of chat plus up to count newer
// ones (list-message-by-mid-seq, §2.5.3). An unknown id yields a list that
// lacks it.
func (c *Client) ListMessagesAround(ctx context.Context, chat Chat, msgID string, count int) ([]Message, error) {
	req := &yunhupb.ListMessageByMidSeqRequest{
		// -1 = "anchor by id", as the real clients send it (§7 #15).
		MsgSeq: -1, ChatType: int32(chat.Type), ChatId: chat.ID, MsgCount: int64(count), MsgId: msgID,
	}
	msgs, err := c.listReply(ctx, PathListMessageByMidSeq, chat, req)
	if err != nil {
		return nil, fmt.Errorf("list messages around %s: %w", msgID, err)
	}
	return msgs, nil
}

// GetMessage fetches one message of chat by id; ErrNotFound if it does not
// exist. The record is found by id, never by position (§2.5.3).
func (c *Client) GetMessage(ctx context.Context, chat Chat, msgID string) (*Message, error) {
	msgs, err := c.ListMessagesAround(ctx, chat, msgID, 1)
	if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	if i := slices.IndexFunc(msgs, func(m Message) bool { return m.ID == msgID }); i >= 0 {
		return &msgs[i], nil
	}
	return nil, fmt.Errorf("get message %s: %w", msgID, ErrNotFound)
}

// EditRecord is one previous version of an edited message (§2.6).
type EditRecord struct {
	ID          int64  `json:"id"`
	MsgID       string `json:"msgId"`
	ContentType int32  `json:"contentType"`
	ContentOld  string `json:"contentOld"` // JSON of the previous content (camelCase MsgContent keys)
	CreateTime  int64  `json:"createTime"` // ms, original creation
	MsgTime     int64  `json:"msgTime"`    // ms, time of this edit
}

// ListEditRecords returns a page (1-based) of msgID's edit history and the
// total number of edits.
func (c *Client) ListEditRecords(ctx context.Context, msgID string, page, size int) ([]EditRecord, int, error) {
	req := struct {
		MsgID string `json:"msgId"`
		Size  int    `json:"size"`
		Page  int    `json:"page"`
	}{msgID, size, page}
	var data struct {
		Total int          `json:"total"`
		List  []EditRecord `json:"list"`
	}
	if err := c.callJSON(ctx, PathListMessageEditRecord, req, &data, true); err != nil {
		return nil, 0, fmt.Errorf("list edit records of %s: %w", msgID, err)
	}
	return data.List, data.Total, nil
}

// ButtonReport reports a click on a type-3 button of message msgID to its bot.
func (c *Client) ButtonReport(ctx context.Context, chat Chat, msgID, userID, value string) error {
	req := &yunhupb.ButtonReportRequest{MsgId: msgID, ChatType: int32(chat.Type), ChatId: chat.ID, UserId: userID, ButtonValue: value}
	var resp yunhupb.StatusResponse
	if err := c.callProto(ctx, http.MethodPost, PathButtonReport, req, &resp, false); err != nil {
		return fmt.Errorf("button report on %s: %w", msgID, err)
	}
	return nil
}

// Forward copies message msgID (from a chat of kind srcType) into every target
// chat; the copies get new ids that the server does not return (§2.8).
func (c *Client) Forward(ctx context.Context, msgID string, srcType ChatType, targets []Chat) error {
	type target struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
	}
	req := struct {
		MsgID    string   `json:"msgId"`
		ChatType int32    `json:"chatType"`
		Receive  []target `json:"receive"`
	}{MsgID: msgID, ChatType: int32(srcType)}
	for _, t := range targets {
		req.Receive = append(req.Receive, target{t.ID, int32(t.Type)})
	}
	if err := c.callJSON(ctx, PathMessageForward, req, nil, false); err != nil {
		return fmt.Errorf("forward %s: %w", msgID, err)
	}
	return nil
}

// DeleteForMe hides a message from the account's own history; unlike a
// recall, other members still see it (§2.9).
func (c *Client) DeleteForMe(ctx context.Context, chat Chat, msgID string) error {
	req := struct {
		ChatID   string `json:"chatId"`
		MsgID    string `json:"msgId"`
		ChatType int32  `json:"chatType"`
	}{chat.ID, msgID, int32(chat.Type)}
	if err := c.callJSON(ctx, PathDeleteMessage, req, nil, false); err != nil {
		return fmt.Errorf("delete %s: %w", msgID, err)
	}
	return nil
}
