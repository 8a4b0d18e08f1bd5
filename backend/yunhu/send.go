package yunhu

import (
	"context"
	"errors"
	"fmt"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// payload is the Yunhu request of an encoded message.
func payload(out *platform.Outgoing) (yh.Outgoing, error) {
	switch p := out.Payload.(type) {
	case yh.Outgoing:
		return p, nil
	case *yh.Outgoing:
		if p != nil {
			return *p, nil
		}
	}
	return yh.Outgoing{}, fmt.Errorf("send: payload %T is not a Yunhu message", out.Payload)
}

// Send sends one encoded message under the msg_id Encode chose. A private
// chat refused as a user chat whose peer the address book lists as a bot
// is sent again as a bot chat, and the bot remembered: after a restart
// the backend may not know yet that a private chat is with a bot. A
// refusal Yunhu answered (HTTP 200 with a failure code, e.g.
// 对方不是你的好友) is definite; any other failure leaves the message's
// fate unknown.
func (b *Backend) Send(ctx context.Context, out *platform.Outgoing) (platform.Sent, error) {
	p, err := payload(out)
	if err != nil {
		return platform.Sent{}, err
	}
	if out.ID != "" {
		p.ID = out.ID
	}
	if p.ID == "" {
		p.ID = yh.NewMessageID()
	}
	if p.Chat.Type == yh.ChatTypeUser && b.isBot(p.Chat.ID) {
		p.Chat.Type = yh.ChatTypeBot // an earlier part found out
	}
	id, err := b.client.SendMessage(ctx, p)
	var ae *yh.APIError
	if err != nil && p.Chat.Type == yh.ChatTypeUser && errors.As(err, &ae) && b.lookupBot(ctx, p.Chat.ID) {
		p.Chat.Type = yh.ChatTypeBot
		id, err = b.client.SendMessage(ctx, p)
	}
	if err != nil {
		return platform.Sent{}, classify(err)
	}
	if id == "" {
		id = p.ID
	}
	return platform.Sent{ID: id}, nil
}

// Recall recalls messages of one conversation: one call for one message,
// one batch call for several (Yunhu checks a batch as a whole: all are
// recalled or none).
func (b *Backend) Recall(ctx context.Context, conv platform.Conv, msgIDs []string) error {
	chat := b.chatFor(ctx, conv)
	switch len(msgIDs) {
	case 0:
		return nil
	case 1:
		return classify(b.client.Recall(ctx, chat, msgIDs[0]))
	}
	return classify(b.client.RecallBatch(ctx, chat, msgIDs))
}
