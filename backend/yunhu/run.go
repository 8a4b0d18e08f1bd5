package yunhu

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Receive: Yunhu pushes → platform events.
//
//	yh.Client.Run ─onPush─▶ bounded queue ─▶ delivering goroutine:
//	    take what is queued (a batch) → sink.Deliver
//
// The socket reader only translates and queues: it must not wait for the
// core's commit per push, or a slow disk would stall the socket. The
// delivering goroutine takes everything queued as one batch, so batches
// grow with the commit's latency and a slow disk costs latency, not
// throughput. A full queue makes the reader wait, which is the only
// back-pressure: the push socket is the only producer that can be slowed.
//
// Friend and group requests are read by the request watcher (requests.go)
// after every invite push and every (re)connection; it delivers its own
// batches.

const (
	// ingestQueue bounds the events waiting for the delivering goroutine.
	ingestQueue = 16384
	// maxDeliverBatch bounds one Deliver: the store's own commit limit.
	maxDeliverBatch = 4096
)

// Content is a message body as Yunhu gives it: Message.Content and
// Edited.Content carry one, and Decode takes it back.
type Content struct {
	Type yh.ContentType
	Body yh.Content
}

// Run receives pushes until ctx is done and delivers them into sink in
// the socket's order. It returns nil once ctx is done, and an error
// matching platform.ErrUnauthorized (and yh.ErrUnauthorized) when Yunhu
// rejected the token for good while running.
func (b *Backend) Run(parent context.Context, sink platform.Sink) error {
	if _, err := b.ensureSelf(parent); err != nil {
		if parent.Err() != nil {
			return nil
		}
		if errors.Is(err, platform.ErrUnauthorized) {
			return fmt.Errorf("account.token rejected by Yunhu: %w", err)
		}
		// The push client learns the account itself; only private
		// chats' echoes need it here, and Self is retried below.
		b.log.Warn("log in before receiving; continuing", zap.Error(err))
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	r := &receiver{
		b:        b,
		ctx:      ctx,
		ch:       make(chan platform.Event, b.queue),
		stop:     ctx.Done(),
		requests: newRequestWatcher(b, sink),
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){r.deliver(sink), r.requests.run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	err := b.client.Run(ctx, r.onPush)
	cancel()
	wg.Wait()
	switch {
	case errors.Is(err, yh.ErrUnauthorized):
		// Revoked while running (yh authwatch): the same line as a
		// token rejected at start.
		return fmt.Errorf("account.token rejected by Yunhu: %w", classify(err))
	case parent.Err() != nil:
		return nil
	}
	return err
}

// receiver is the state of one Run.
type receiver struct {
	b        *Backend
	ctx      context.Context // Run's
	ch       chan platform.Event
	stop     <-chan struct{}
	requests *requestWatcher
}

// onPush is called by the socket reader for each push, in order.
func (r *receiver) onPush(p yh.Push) {
	b := r.b
	if b.onPush != nil {
		if kind := pushKind(p); kind != "" {
			b.onPush(kind)
		}
	}
	var ev platform.Event
	switch p := p.(type) {
	case yh.Connected:
		// The core logs the backend going online and offline.
		if b.selfID() == "" {
			_, _ = b.Self(r.ctx) // the client just logged in with it
		}
		r.requests.poke()
		ev = platform.Online{}
	case yh.Disconnected:
		ev = platform.Offline{Err: p.Err}
	case yh.MessagePush:
		ev = platform.Received{Message: b.message(&p.Message)}
	case yh.RecallPush:
		m := yh.Message{Chat: p.Chat, RecvID: p.RecvID, Sender: p.Sender}
		ev = platform.Recalled{
			Conv: convOf(b.chatOf(&m)), MsgID: p.MsgID, Seq: p.Seq,
			Sender: sender(&p.Sender), Time: p.Time,
		}
	case yh.EditPush:
		ev = platform.Edited{
			Conv: b.pushConv(p.Chat), MsgID: p.MsgID, QuoteID: p.QuoteID,
			Content: Content{Type: p.ContentType, Body: p.Content}, Time: p.EditTime,
		}
	case yh.StreamPush:
		ev = platform.Appended{Conv: b.pushConv(yh.Chat{ID: p.ChatID}), MsgID: p.MsgID, Text: p.Text}
	case yh.InvitePush:
		r.requests.poke()
		return
	default: // drafts, file shares, hang-ups, bot boards: nothing OneBot has
		return
	}
	select {
	case r.ch <- ev:
	case <-r.stop:
	}
}

// pushConv is the conversation an edit or stream push names, as far as
// it tells: these pushes carry no chat type (Kind 0 then), and a private
// one pushed to its receiver names the receiver, the account, which is
// no conversation: the core then finds the message by its id.
func (b *Backend) pushConv(c yh.Chat) platform.Conv {
	if c.ID == "" || c.ID == b.selfID() && c.Type != yh.ChatTypeGroup {
		return platform.Conv{}
	}
	switch c.Type {
	case yh.ChatTypeGroup:
		return platform.Conv{Kind: platform.KindGroup, ID: c.ID}
	case yh.ChatTypeUser, yh.ChatTypeBot:
		return platform.Conv{Kind: platform.KindPrivate, ID: c.ID}
	}
	return platform.Conv{ID: c.ID}
}

// deliver returns the delivering goroutine: it takes what is queued, up
// to maxDeliverBatch, and delivers it as one batch, until ctx is done.
func (r *receiver) deliver(sink platform.Sink) func(context.Context) {
	return func(ctx context.Context) {
		batch := make([]platform.Event, 0, maxDeliverBatch)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-r.ch:
				batch = append(batch[:0], ev)
			}
		drain:
			for len(batch) < maxDeliverBatch {
				select {
				case ev := <-r.ch:
					batch = append(batch, ev)
				default:
					break drain
				}
			}
			if err := sink.Deliver(ctx, batch); err != nil && ctx.Err() == nil {
				r.b.log.Error("deliver pushes", zap.Int("events", len(batch)), zap.Error(err))
			}
			clear(batch)
		}
	}
}

// pushKind names p for Options.OnPush; "" for the socket's own
// Connected and Disconnected.
func pushKind(p yh.Push) string {
	switch p.(type) {
	case yh.MessagePush:
		return "message"
	case yh.RecallPush:
		return "recall"
	case yh.EditPush:
		return "edit"
	case yh.StreamPush:
		return "stream"
	case yh.InvitePush:
		return "invite"
	case yh.DraftPush:
		return "draft"
	case yh.FileSendPush:
		return "file_send"
	case yh.HangUpPush:
		return "hang_up"
	case yh.BotBoardPush:
		return "bot_board"
	}
	return ""
}

// message is the platform form of a pushed or listed message.
func (b *Backend) message(m *yh.Message) platform.Message {
	return platform.Message{
		Conv: convOf(b.chatOf(m)), ID: m.ID, Seq: m.Seq, Sender: sender(&m.Sender),
		Time: m.Time, QuoteID: m.QuoteID, Recalled: m.Recalled(), RecallTime: m.RecallTime,
		Content: Content{Type: m.ContentType, Body: m.Content},
	}
}

// sender is the platform form of a message's author.
func sender(s *yh.Sender) platform.Sender {
	return platform.Sender{ID: s.ID, Name: s.Name, Bot: s.Type == yh.ChatTypeBot, Title: title(s)}
}

// title is the member tag shown next to the sender's name, Yunhu's
// closest thing to a QQ group title.
func title(s *yh.Sender) string {
	if len(s.Tags) > 0 {
		return s.Tags[0].Text
	}
	if len(s.OldTags) > 0 {
		return s.OldTags[0]
	}
	return ""
}
