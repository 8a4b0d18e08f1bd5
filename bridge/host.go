package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// hostAdapter is the core as a backend's extension actions see it
// (platform.Host): the id maps, the store and the send pipeline, in the
// same terms the core's own actions use, so that an extension answers
// exactly as a core action would.
type hostAdapter struct{ b *Bridge }

var _ platform.Host = (*hostAdapter)(nil)

// Self is the account, zero before login.
func (h *hostAdapter) Self() platform.Account {
	me := h.b.identity()
	return platform.Account{ID: me.ID, Name: me.Name}
}

// PlatformID maps a OneBot id parameter back to the platform id.
func (h *hostAdapter) PlatformID(param string, n int64) (string, error) {
	return h.b.platformID(param, n)
}

// OneBotID maps a platform id to its OneBot number.
func (h *hostAdapter) OneBotID(ctx context.Context, id string) (int64, error) {
	return h.b.oneBotID(ctx, id)
}

// Stored returns a stored message by message_id. Parts lists the platform
// ids of every message it became when sent, its own MsgID first; a
// message received, or sent as one, has just that one.
func (h *hostAdapter) Stored(param string, messageID int32) (platform.StoredMessage, error) {
	rec, err := h.b.storedMessage(messageID, param)
	if err != nil {
		return platform.StoredMessage{}, err
	}
	body, err := segment.DecodeJSON(rec.Body, false)
	if err != nil {
		body = nil // a corrupt body reads as empty, as get_msg reads it
	}
	return platform.StoredMessage{
		ID: messageID, Conv: recordConv(rec), MsgID: rec.MsgID, Seq: rec.Seq,
		SenderID: rec.SenderID, Sender: rec.SenderName, Time: rec.Time,
		Self: rec.Self, Recalled: rec.Recalled, Body: body,
		Parts: append([]string{rec.MsgID}, h.b.partMsgIDs(messageID, rec)...),
	}, nil
}

// MessageID returns the message_id of a platform message, storing a
// record without body for one the store does not know (get_msg completes
// it from History when asked).
func (h *hostAdapter) MessageID(ctx context.Context, conv platform.Conv, msgID string) (int32, error) {
	if conv.IsZero() || msgID == "" {
		return 0, errors.New("message id: no conversation or msg id")
	}
	key := convKey(conv)
	id, err := h.b.store.MessageID(key, msgID)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("message id of %s: %w", msgID, err)
	}
	id, err = h.b.store.PutMessage(ctx, store.Message{Conv: key, MsgID: msgID})
	if err != nil {
		return 0, fmt.Errorf("record message %s: %w", msgID, err)
	}
	return id, nil
}

// Decode is Backend.Decode followed by the core's id mapping: the
// segments a bot would see.
func (h *hostAdapter) Decode(ctx context.Context, conv platform.Conv, content any) (segment.Message, error) {
	return h.b.decodeContent(ctx, conv, content)
}

// Encode prepares msg, in OneBot ids, for Backend.Encode or Editor.Edit,
// as send_msg does.
func (h *hostAdapter) Encode(ctx context.Context, conv platform.Conv, msg segment.Message) (segment.Message, platform.EncodeEnv, error) {
	return h.b.prepareEncode(ctx, conv, msg)
}

// Send sends msg into conv as send_msg does.
func (h *hostAdapter) Send(ctx context.Context, conv platform.Conv, msg segment.Message) (int32, time.Time, error) {
	return h.b.sendMessage(ctx, conv, msg)
}

// Recalling announces that the account is recalling msgIDs, as delete_msg
// does: the first reports with the account as operator, the rest quietly.
func (h *hostAdapter) Recalling(msgIDs []string) (undo func()) {
	return h.b.ownRecalls.add(h.b.now(), msgIDs)
}

// UpdateBody replaces a stored message's body; body is in OneBot ids, as
// Decode returns it and get_msg answers it.
func (h *hostAdapter) UpdateBody(ctx context.Context, messageID int32, body segment.Message) error {
	raw := segment.AppendJSON(nil, body)
	if len(raw) > maxRecordBody {
		return fmt.Errorf("update message %d: body of %d bytes, the limit is %d", messageID, len(raw), maxRecordBody)
	}
	if err := h.b.store.UpdateMessage(ctx, messageID, func(m *store.Message) error {
		m.Body = raw
		return nil
	}); err != nil {
		return fmt.Errorf("update message %d: %w", messageID, err)
	}
	return nil
}
