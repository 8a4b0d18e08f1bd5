package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// oneBotID maps a platform id (user, bot or group) to its OneBot number:
// the id itself when it is canonical decimal below store.AliasBase, its
// durable alias otherwise.
func (b *Bridge) oneBotID(ctx context.Context, platformID string) (int64, error) {
	n, err := b.store.ToInt(ctx, platformID)
	if err != nil {
		return 0, fmt.Errorf("map id %q: %w", platformID, err)
	}
	return n, nil
}

// platformID maps a OneBot id parameter back to the platform id. An alias
// that the store never handed out is a bad parameter, named by param.
func (b *Bridge) platformID(param string, n int64) (string, error) {
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

// convKey is the store's key of a conversation: its kind, then its id.
// It is reversible (parseConvKey), so a stored message names the
// conversation it belongs to.
func convKey(c platform.Conv) string {
	return string(rune('0'+c.Kind)) + c.ID
}

// parseConvKey is the inverse of convKey.
func parseConvKey(k string) (platform.Conv, bool) {
	if len(k) < 2 || k[0] < '1' || k[0] > '9' {
		return platform.Conv{}, false
	}
	return platform.Conv{Kind: platform.Kind(k[0] - '0'), ID: k[1:]}, true
}

// ConvKey is convKey for the daemon's wiring: the store's upgrade of a
// schema 2 file keys conversations the way the core reads them.
func ConvKey(c platform.Conv) string { return convKey(c) }

// recordConv is the conversation a stored message belongs to.
func recordConv(rec store.Message) platform.Conv {
	c, _ := parseConvKey(rec.Conv)
	return c
}
