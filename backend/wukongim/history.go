package wukongim

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// History over /channel/messagesync, whose windows are per channel seq
// (dense, from 1): start inclusive, end exclusive (0: open), pull_mode 1
// reads newer from start and 0 older from start, and start 0 reads the
// newest page either way; results are ascending, more is set when the
// window was cut.

const (
	// syncPage is the messagesync page size.
	syncPage = 100
	// maxMissedPages caps one conversation's catch-up; what lies beyond
	// is logged and left to the next catch-up, which starts where this
	// one ended.
	maxMissedPages = 50
	// maxScanPages bounds the pages read back from the newest to find a
	// message the backend has no seq for.
	maxScanPages = 10
	// maxBefore bounds one Before.
	maxBefore = 100
	// seqCacheSize bounds the message id → seq map.
	seqCacheSize = 8192
)

// Missed returns the messages of conv after seq after (pull_mode 1 from
// after+1, page by page while more), or when after is 0 those since
// since (newest pages backwards until one reaches before since), oldest
// first. Commands are not messages: a recall among them marks its target
// as recalled if that is in the result too.
func (b *Backend) Missed(ctx context.Context, conv platform.Conv, after int64, since time.Time) ([]platform.Message, error) {
	channel, typ := channelOf(conv)
	req := wk.SyncRequest{LoginUID: b.self.ID, ChannelID: channel, ChannelType: typ, Limit: syncPage}
	var got []wk.Message
	if after > 0 {
		req.PullMode, req.StartSeq = 1, after+1
		for page := 0; ; page++ {
			if page == maxMissedPages {
				b.log.Warn("catch-up cut; the rest comes with the next one", zap.String("conv", conv.ID), zap.Int("messages", len(got)))
				break
			}
			res, err := b.api.MessageSync(ctx, req)
			if err != nil {
				return nil, apiError("read missed messages", err)
			}
			got = append(got, res.Messages...)
			last := req.StartSeq - 1
			for _, m := range res.Messages {
				last = max(last, m.MessageSeq)
			}
			if !res.More || len(res.Messages) == 0 || last < req.StartSeq {
				break
			}
			req.StartSeq = last + 1
		}
	} else {
		req.PullMode = 0
		for page := 0; ; page++ {
			if page == maxMissedPages {
				b.log.Warn("catch-up cut: older messages skipped", zap.String("conv", conv.ID), zap.Int("messages", len(got)))
				break
			}
			res, err := b.api.MessageSync(ctx, req)
			if err != nil {
				return nil, apiError("read recent messages", err)
			}
			got = append(got, res.Messages...)
			if len(res.Messages) == 0 {
				break
			}
			oldest := slices.MinFunc(res.Messages, func(x, y wk.Message) int { return cmp.Compare(x.MessageSeq, y.MessageSeq) })
			if oldest.MessageSeq <= 1 || time.Unix(oldest.Timestamp, 0).Before(since) ||
				(req.StartSeq != 0 && oldest.MessageSeq > req.StartSeq) {
				break
			}
			req.StartSeq = oldest.MessageSeq - 1
		}
		got = slices.DeleteFunc(got, func(m wk.Message) bool { return time.Unix(m.Timestamp, 0).Before(since) })
	}
	return b.historyMessages(conv, got), nil
}

// historyMessages converts listed messages of conv, ascending, without
// duplicates or commands; a recall command marks its target.
func (b *Backend) historyMessages(conv platform.Conv, msgs []wk.Message) []platform.Message {
	slices.SortStableFunc(msgs, func(x, y wk.Message) int { return cmp.Compare(x.MessageSeq, y.MessageSeq) })
	out := make([]platform.Message, 0, len(msgs))
	recalled := map[string]time.Time{}
	seen := make(map[int64]bool, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if seen[m.MessageSeq] {
			continue
		}
		seen[m.MessageSeq] = true
		switch ev := b.event(m).(type) {
		case platform.Received:
			if ev.Message.Conv == conv {
				out = append(out, ev.Message)
			}
		case platform.Recalled:
			recalled[ev.MsgID] = ev.Time
		}
	}
	for i := range out {
		if t, ok := recalled[out[i].ID]; ok {
			out[i].Recalled, out[i].RecallTime = true, t
		}
	}
	return out
}

// Active lists the conversations of /conversation/sync with a message
// since since.
func (b *Backend) Active(ctx context.Context, since time.Time) ([]platform.Conv, error) {
	convs, err := b.api.ConversationSync(ctx, b.self.ID, 1)
	if err != nil {
		return nil, apiError("list conversations", err)
	}
	var out []platform.Conv
	for _, c := range convs {
		if time.Unix(c.Timestamp, 0).Before(since) {
			continue
		}
		// The entry names the peer; normalise as for any message in
		// case a server names the addressed uid as its recents do.
		m := wk.Message{ChannelID: c.ChannelID, ChannelType: c.ChannelType}
		if len(c.Recents) > 0 {
			m.FromUID = c.Recents[0].FromUID
		}
		if conv, ok := b.peerOf(&m); ok && !slices.Contains(out, conv) {
			out = append(out, conv)
		}
	}
	return out, nil
}

// Message reads one message: by its seq when the backend saw it, else by
// scanning back from the newest.
func (b *Backend) Message(ctx context.Context, conv platform.Conv, id string) (*platform.Message, error) {
	m, err := b.find(ctx, conv, id)
	if err != nil {
		return nil, err
	}
	msgs := b.historyMessages(conv, []wk.Message{*m})
	if len(msgs) == 0 {
		return nil, fmt.Errorf("wukongim: message %s is a command, not a message: %w", id, platform.ErrNotFound)
	}
	return &msgs[0], nil
}

// find locates message id of conv.
func (b *Backend) find(ctx context.Context, conv platform.Conv, id string) (*wk.Message, error) {
	channel, typ := channelOf(conv)
	if seq, ok := b.seqs.get(conv, id); ok {
		msgs, err := b.api.MessagesBySeq(ctx, b.self.ID, channel, typ, []int64{seq})
		if err != nil {
			return nil, apiError("read message "+id, err)
		}
		for i := range msgs {
			if msgID(msgs[i].MessageID) == id {
				return &msgs[i], nil
			}
		}
	}
	req := wk.SyncRequest{LoginUID: b.self.ID, ChannelID: channel, ChannelType: typ, Limit: syncPage}
	for range maxScanPages {
		res, err := b.api.MessageSync(ctx, req)
		if err != nil {
			return nil, apiError("read message "+id, err)
		}
		oldest := int64(0)
		var found *wk.Message
		for i := range res.Messages {
			m := &res.Messages[i]
			b.seqs.put(conv, msgID(m.MessageID), m.MessageSeq)
			if msgID(m.MessageID) == id {
				found = m
			}
			if oldest == 0 || m.MessageSeq < oldest {
				oldest = m.MessageSeq
			}
		}
		if found != nil {
			return found, nil
		}
		if oldest <= 1 || (req.StartSeq != 0 && oldest > req.StartSeq) {
			break
		}
		req.StartSeq = oldest - 1
	}
	return nil, fmt.Errorf("wukongim: message %s not found in %s %s (searched the newest %d): %w",
		id, conv.Kind, conv.ID, maxScanPages*syncPage, platform.ErrNotFound)
}

// Before returns up to count messages of conv older than id ("" for the
// newest), oldest first.
func (b *Backend) Before(ctx context.Context, conv platform.Conv, id string, count int) ([]platform.Message, error) {
	count = min(count, maxBefore)
	if count <= 0 {
		return nil, nil
	}
	channel, typ := channelOf(conv)
	req := wk.SyncRequest{LoginUID: b.self.ID, ChannelID: channel, ChannelType: typ, Limit: count}
	if id != "" {
		m, err := b.find(ctx, conv, id)
		if err != nil {
			return nil, err
		}
		if m.MessageSeq <= 1 {
			return nil, nil
		}
		req.StartSeq = m.MessageSeq - 1
	}
	res, err := b.api.MessageSync(ctx, req)
	if err != nil {
		return nil, apiError("read history", err)
	}
	return b.historyMessages(conv, res.Messages), nil
}

// seqCache maps message ids to seqs for the messages the backend saw, so
// that Message and Before find one without scanning; the oldest entries
// go first.
type seqCache struct {
	mu   sync.Mutex
	m    map[seqKey]int64
	ring []seqKey
	next int
}

type seqKey struct {
	conv platform.Conv
	id   string
}

func newSeqCache(size int) *seqCache {
	return &seqCache{m: make(map[seqKey]int64, size), ring: make([]seqKey, 0, size)}
}

func (c *seqCache) put(conv platform.Conv, id string, seq int64) {
	if seq <= 0 || id == "" {
		return
	}
	k := seqKey{conv, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		c.m[k] = seq
		return
	}
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, k)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = seq
}

func (c *seqCache) get(conv platform.Conv, id string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, ok := c.m[seqKey{conv, id}]
	return seq, ok
}
