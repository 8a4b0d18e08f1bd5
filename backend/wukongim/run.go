package wukongim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// Receive: JSON-RPC pushes → platform events.
//
//	Receiver.Run ─on─▶ bounded queue ─▶ delivering goroutine:
//	    take what is queued (a batch) → sink.Deliver → recvack each push
//
// The connection's reader only translates and queues, so a slow commit
// costs latency, not throughput; a full queue makes the reader wait, the
// only back-pressure there is. A push is acknowledged only after the
// Deliver that carried it returned nil: one that fails is not
// acknowledged, and WuKongIM pushes it again (or the catch-up after the
// next connect finds it). Pushes that carry no event (commands other than
// a recall, channels OneBot has none for) are acknowledged in turn with
// the rest.

const (
	// ingestQueue bounds the pushes waiting for the delivering goroutine.
	ingestQueue = 4096
	// maxDeliverBatch bounds one Deliver.
	maxDeliverBatch = 1024
)

// item is one queued push or connection event.
type item struct {
	ev  platform.Event // nil: nothing to deliver
	ack *wk.Ack        // nil: nothing to acknowledge
}

// receiver is the state of one Run.
type receiver struct {
	b      *Backend
	ch     chan item
	stop   <-chan struct{}
	online bool // the connection reader's own
}

// Run receives until ctx is done and delivers into sink in the
// connection's order. Its goroutines (delivery, the directory's writer,
// the mute schedule, the media pruner) all end before it returns. It
// returns nil once ctx is done, and an error matching
// platform.ErrUnauthorized when WuKongIM refused the token for good.
func (b *Backend) Run(parent context.Context, sink platform.Sink) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	r := &receiver{b: b, ch: make(chan item, b.queue), stop: ctx.Done()}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){r.deliver(sink), b.runDirectory, b.runUnbans, b.media.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	err := b.conn.Run(ctx, r.on)
	cancel()
	wg.Wait()
	b.flushDirectory(context.WithoutCancel(parent))
	switch {
	case errors.Is(err, wk.ErrUnauthorized):
		return fmt.Errorf("uid %q: %w", b.self.ID, refusedError{err})
	case parent.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("wukongim: receive: %w", err)
	}
	return nil
}

// on is called by the connection's reader for each event, in order.
func (r *receiver) on(e wk.Event) {
	b := r.b
	var it item
	switch e := e.(type) {
	case wk.Connected:
		// The core logs the backend going online and offline.
		r.online = true
		it.ev = platform.Online{}
	case wk.Disconnected:
		if !r.online {
			return
		}
		r.online = false
		it.ev = platform.Offline{Err: e.Err}
	case wk.Kicked:
		b.log.Warn("WuKongIM closed the connection: another device logged in with the bot's uid and device flag; reconnecting after a pause",
			zap.Int("reason_code", e.ReasonCode), zap.String("reason", e.Reason))
		if !r.online {
			return
		}
		r.online = false
		it.ev = platform.Offline{Err: fmt.Errorf("wukongim: kicked (reasonCode %d): %s", e.ReasonCode, e.Reason)}
	case wk.Recv:
		ack := e.Ack
		it.ack = &ack
		it.ev = b.event(&e.Message)
	default:
		return
	}
	select {
	case r.ch <- it:
	case <-r.stop:
	}
}

// deliver returns the delivering goroutine: it takes what is queued, up
// to maxDeliverBatch, delivers its events as one batch and then
// acknowledges its pushes, until ctx is done.
func (r *receiver) deliver(sink platform.Sink) func(context.Context) {
	return func(ctx context.Context) {
		events := make([]platform.Event, 0, maxDeliverBatch)
		acks := make([]wk.Ack, 0, maxDeliverBatch)
		for {
			var it item
			select {
			case <-ctx.Done():
				return
			case it = <-r.ch:
			}
			events, acks = events[:0], acks[:0]
			for {
				if it.ev != nil {
					events = append(events, it.ev)
				}
				if it.ack != nil {
					acks = append(acks, *it.ack)
				}
				if len(events) == maxDeliverBatch || len(acks) == maxDeliverBatch {
					break
				}
				select {
				case it = <-r.ch:
					continue
				default:
				}
				break
			}
			if len(events) > 0 {
				if err := sink.Deliver(ctx, events); err != nil {
					if ctx.Err() == nil {
						r.b.log.Error("deliver pushes; WuKongIM will push them again", zap.Int("events", len(events)), zap.Error(err))
					}
					clear(events)
					continue
				}
			}
			for _, a := range acks {
				if err := r.b.conn.Ack(a); err != nil {
					r.b.log.Debug("recvack", zap.Error(err))
				}
			}
			clear(events)
		}
	}
}

// event is the platform event of a pushed or listed message, nil for
// none: a messageRevoke command is a recall, other commands and channels
// OneBot has no conversation for carry nothing. The account's own
// messages (from another device, or read back from history) are
// Received like any other: the core tells them by their sender.
func (b *Backend) event(m *wk.Message) platform.Event {
	conv, ok := b.peerOf(m)
	if !ok {
		b.log.Debug("push of a channel type OneBot has no conversation for; dropped",
			zap.Uint8("channel_type", m.ChannelType), zap.String("channel", m.ChannelID))
		return nil
	}
	c := parsePayload(m.Payload)
	at := time.Unix(m.Timestamp, 0)
	if m.Timestamp == 0 {
		at = time.Time{}
	}
	if c.Payload.Type == typeCmd {
		return b.command(conv, m, &c.Payload, at)
	}
	id := msgID(m.MessageID)
	b.seqs.put(conv, id, m.MessageSeq)
	b.dir.seen(conv, m.FromUID)
	pm := platform.Message{
		Conv: conv, ID: id, Seq: m.MessageSeq, Time: at,
		Sender:  platform.Sender{ID: m.FromUID, Name: b.dir.displayName(m.FromUID)},
		Content: c,
	}
	if c.Payload.Reply != nil {
		pm.QuoteID = string(c.Payload.Reply.MessageID)
	}
	if m.FromUID == b.self.ID {
		pm.Token = m.ClientMsgNo
	}
	return platform.Received{Message: pm}
}

// command is the event of a command message: a recall for messageRevoke
// of a message in the same conversation, else none.
func (b *Backend) command(conv platform.Conv, m *wk.Message, p *Payload, at time.Time) platform.Event {
	if p.Cmd != cmdRevoke {
		b.log.Debug("command message dropped", zap.String("cmd", clip.Bytes(p.Cmd, 64)), zap.String("conv", conv.ID))
		return nil
	}
	var rp revokeParam
	if err := json.Unmarshal(p.Param, &rp); err != nil || rp.MessageID == "" {
		b.log.Debug("messageRevoke without a message id; dropped", zap.String("conv", conv.ID))
		return nil
	}
	return platform.Recalled{Conv: conv, MsgID: string(rp.MessageID), Operator: m.FromUID, Time: at}
}

// runDirectory writes what the directory learnt every flushEvery.
func (b *Backend) runDirectory(ctx context.Context) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.dir.flush(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("directory: write", zap.Error(err))
			}
		}
	}
}

// refusedError is the client's "token refused", which the core must also
// know as platform.ErrUnauthorized; it reads as the client's words alone.
type refusedError struct{ err error }

func (e refusedError) Error() string   { return e.err.Error() }
func (e refusedError) Unwrap() []error { return []error{e.err, platform.ErrUnauthorized} }
