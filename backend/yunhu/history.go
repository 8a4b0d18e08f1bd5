package yunhu

import (
	"cmp"
	"context"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// History over list-message, which pages a chat newest first before a
// message id (§2.5.2). list-message-by-seq would do as well (the
// simulator serves it as "seq below msg_start", 31 at a time), but its
// direction is only inferred (§2.5.4) while list-message's is documented.
// Yunhu may serve fewer messages than asked while older ones remain, and a
// server may serve the same page again: a short page is not the end; an
// empty one, or one with nothing older than the last, is.

const (
	// backfillPage is the list-message page size of Missed;
	// maxBackfillPages caps one chat's catch-up (older gaps are logged
	// and skipped).
	backfillPage     = 50
	maxBackfillPages = 40
	// backfillAttempts is how often a failed page is tried.
	backfillAttempts = 3
	// maxHistoryPages bounds the list-message calls of one Before.
	maxHistoryPages = 10
)

// Missed pages conv's history backwards from the newest message until the
// message at seq after (or, when after is 0, until since), and returns
// what lies beyond it, oldest first. A chat it cannot read yields what it
// got: the failure is logged, and the core's next catch-up tries again.
func (b *Backend) Missed(ctx context.Context, conv platform.Conv, after int64, since time.Time) ([]platform.Message, error) {
	chat := b.chatFor(ctx, conv)
	var got []yh.Message
	before := ""
	for page := 0; ; page++ {
		if page == maxBackfillPages {
			b.log.Warn("backfill: gap too long; older messages skipped",
				zap.String("chat", chat.ID), zap.Int("fetched", len(got)))
			break
		}
		msgs, err := b.listPage(ctx, chat, before)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			b.log.Error("backfill: read history; messages may be missing",
				zap.String("chat", chat.ID), zap.Error(err))
			break
		}
		reached := false
		oldest := -1
		for i := range msgs {
			m := &msgs[i]
			if after > 0 && m.Seq <= after || after <= 0 && m.Time.Before(since) {
				reached = true
				continue
			}
			got = append(got, *m)
			if oldest < 0 || m.Seq < msgs[oldest].Seq {
				oldest = i
			}
		}
		if reached || oldest < 0 || msgs[oldest].ID == before {
			break
		}
		before = msgs[oldest].ID
	}
	return b.oldestFirst(got), nil
}

// listPage reads one page of Missed, trying again on failure.
func (b *Backend) listPage(ctx context.Context, chat yh.Chat, before string) ([]yh.Message, error) {
	var err error
	for attempt := 0; attempt < backfillAttempts; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(yh.DefaultBackoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		var msgs []yh.Message
		if msgs, err = b.client.ListMessages(ctx, chat, before, backfillPage); err == nil {
			return msgs, nil
		}
	}
	return nil, classify(err)
}

// oldestFirst converts listed messages, without duplicates, in seq order
// (then time): Yunhu lists newest first and promises nothing else.
func (b *Backend) oldestFirst(msgs []yh.Message) []platform.Message {
	slices.SortStableFunc(msgs, func(x, y yh.Message) int {
		return cmp.Or(cmp.Compare(x.Seq, y.Seq), x.Time.Compare(y.Time))
	})
	out := make([]platform.Message, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	for i := range msgs {
		if msgs[i].ID == "" || seen[msgs[i].ID] {
			continue
		}
		seen[msgs[i].ID] = true
		out = append(out, b.message(&msgs[i]))
	}
	return out
}

// Active lists the conversations of the conversation list with a message
// since since, remembering the bots among them.
func (b *Backend) Active(ctx context.Context, since time.Time) ([]platform.Conv, error) {
	convs, err := b.client.Conversations(ctx)
	if err != nil {
		return nil, classify(err)
	}
	var out []platform.Conv
	for _, c := range convs {
		if c.Chat.Type == yh.ChatTypeBot {
			b.rememberBot(c.Chat.ID)
		}
		if c.Chat.ID == "" || c.Time.Before(since) {
			continue
		}
		out = append(out, convOf(c.Chat))
	}
	return out, nil
}

// Message reads one message; an error matching platform.ErrNotFound when
// Yunhu does not have it.
func (b *Backend) Message(ctx context.Context, conv platform.Conv, msgID string) (*platform.Message, error) {
	m, err := b.client.GetMessage(ctx, b.chatFor(ctx, conv), msgID)
	if err != nil {
		return nil, classify(err)
	}
	out := b.message(m)
	return &out, nil
}

// Before returns up to count messages of conv older than msgID ("" means
// the newest), oldest first. A private chat that lists nothing, or
// fails, as a user chat is tried as a bot chat when the address book
// lists the peer as a bot, as for sending. Yunhu may serve fewer than
// asked while older ones remain, so it asks again before the oldest so
// far until it has count, gets an empty page, or a page with nothing new
// (a server serving the same page again).
func (b *Backend) Before(ctx context.Context, conv platform.Conv, msgID string, count int) ([]platform.Message, error) {
	if count <= 0 {
		return nil, nil
	}
	chat := b.chatFor(ctx, conv)
	msgs, err := b.client.ListMessages(ctx, chat, msgID, count)
	if (err != nil || len(msgs) == 0) && msgID == "" && chat.Type == yh.ChatTypeUser && b.lookupBot(ctx, chat.ID) {
		chat.Type = yh.ChatTypeBot
		msgs, err = b.client.ListMessages(ctx, chat, msgID, count)
	}
	if err == nil {
		msgs, err = b.moreHistory(ctx, chat, msgs, count)
	}
	if err != nil {
		return nil, classify(err)
	}
	return b.oldestFirst(msgs), nil
}

// moreHistory completes a first page of history to count messages.
func (b *Backend) moreHistory(ctx context.Context, chat yh.Chat, msgs []yh.Message, count int) ([]yh.Message, error) {
	seen := make(map[string]bool, len(msgs))
	for i := range msgs {
		seen[msgs[i].ID] = true
	}
	page := msgs
	for range maxHistoryPages - 1 {
		if len(msgs) >= count || len(page) == 0 {
			break
		}
		oldest := slices.MinFunc(msgs, func(x, y yh.Message) int { return cmp.Compare(x.Seq, y.Seq) })
		more, err := b.client.ListMessages(ctx, chat, oldest.ID, count-len(msgs))
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
