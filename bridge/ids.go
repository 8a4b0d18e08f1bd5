package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// oneBotID maps a Yunhu id (user, bot or group) to its OneBot number:
// the id itself when it is canonical decimal below store.AliasBase, its
// durable alias otherwise.
func (b *Bridge) oneBotID(ctx context.Context, yunhuID string) (int64, error) {
	n, err := b.store.ToInt(ctx, yunhuID)
	if err != nil {
		return 0, fmt.Errorf("map id %q: %w", yunhuID, err)
	}
	return n, nil
}

// yunhuID maps a OneBot id parameter back to the Yunhu id. An alias that
// the store never handed out is a bad parameter, named by param.
func (b *Bridge) yunhuID(param string, n int64) (string, error) {
	if n <= 0 {
		return "", onebot.ErrBadParams("%s: %d is not a valid id", param, n)
	}
	id, err := b.store.FromInt(n)
	if errors.Is(err, store.ErrNotFound) {
		return "", onebot.ErrBadParams("%s: %d is not a known id", param, n)
	}
	if err != nil {
		return "", onebot.ErrFailed("id lookup failed", err)
	}
	return id, nil
}

// chatOf is the conversation a message belongs to, as the account
// addresses it (§6.3 of the wire digest): the peer for private and bot
// chats, the group for groups. It is the store's chat key.
func (b *Bridge) chatOf(m *yunhu.Message) yunhu.Chat {
	c := m.Peer(b.self())
	if c.Type == yunhu.ChatTypeUser && m.Sender.Type == yunhu.ChatTypeBot && m.Sender.ID == c.ID {
		c.Type = yunhu.ChatTypeBot
	}
	if c.Type == yunhu.ChatTypeBot {
		b.rememberBot(c.ID)
	}
	return c
}

// rememberBot records that id is a bot, so that send_private_msg to it
// uses the bot chat type.
func (b *Bridge) rememberBot(id string) {
	b.mu.Lock()
	b.bots[id] = true
	b.mu.Unlock()
}

// privateChat is the private conversation with a user or a bot.
func (b *Bridge) privateChat(id string) yunhu.Chat {
	b.mu.Lock()
	bot := b.bots[id]
	b.mu.Unlock()
	if bot {
		return yunhu.Chat{ID: id, Type: yunhu.ChatTypeBot}
	}
	return yunhu.Chat{ID: id, Type: yunhu.ChatTypeUser}
}
