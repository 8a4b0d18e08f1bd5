package wukongim

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// eventNames lists the ids of the Received events, and "online" /
// "offline" / "recalled:<id>" for the others, in order.
func eventNames(evs []platform.Event) []string {
	var out []string
	for _, e := range evs {
		switch e := e.(type) {
		case platform.Online:
			out = append(out, "online")
		case platform.Offline:
			out = append(out, "offline")
		case platform.Received:
			out = append(out, e.Message.ID)
		case platform.Recalled:
			out = append(out, "recalled:"+e.MsgID)
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	return out
}

func TestRunDeliversInOrderAndAcksOnlyAfterDeliver(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	sink := &recordingSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	var early atomic.Int32
	f.onAck = func() {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if f.ackCount() >= sink.delivered {
			early.Add(1) // an ack for a push whose Deliver has not returned
		}
	}
	startRun(t, b, sink)
	f.events <- wk.Connected{}
	for i := int64(1); i <= 5; i++ {
		f.events <- wk.Recv{Message: msg(100+i, i, alice, g1, 2, text(fmt.Sprint("m", i)))}
	}
	<-sink.entered // the first Deliver is held
	if n := f.ackCount(); n != 0 {
		t.Fatalf("%d acks while the first Deliver is held, want 0", n)
	}
	close(sink.gate)
	waitFor(t, "5 acks", func() bool { return f.ackCount() == 5 })
	if n := early.Load(); n != 0 {
		t.Errorf("%d acks came before their Deliver returned", n)
	}
	got := fmt.Sprint(eventNames(sink.snapshot()))
	if want := "[online 101 102 103 104 105]"; got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
}

func TestRunFailedDeliverIsNotAcked(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	sink := &recordingSink{fail: errBoom}
	startRun(t, b, sink)
	f.events <- wk.Recv{Message: msg(101, 1, alice, g1, 2, text("lost"))}
	waitFor(t, "the failed Deliver", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.fail == nil
	})
	f.events <- wk.Recv{Message: msg(102, 2, alice, g1, 2, text("kept"))}
	waitFor(t, "the second push delivered", func() bool { return len(sink.snapshot()) == 1 })
	waitFor(t, "its ack", func() bool { return f.ackCount() == 1 })
	if got := fmt.Sprint(eventNames(sink.snapshot())); got != "[102]" {
		t.Errorf("events = %s, want [102]", got)
	}
	if n := f.ackCount(); n != 1 {
		t.Errorf("acks = %d, want 1: the push whose Deliver failed must not be acknowledged", n)
	}
}

func TestRunConnectionEventsAndDroppedPushes(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	sink := &recordingSink{}
	startRun(t, b, sink)
	f.events <- wk.Connected{}
	f.events <- wk.Recv{Message: msg(201, 1, alice, g1, 2, `{"type":99,"cmd":"syncMessageExtra","param":{}}`)}
	f.events <- wk.Recv{Message: msg(202, 1, alice, "cs1", 3, text("customer service"))}
	f.events <- wk.Kicked{ReasonCode: 12, Reason: "login in other device"}
	f.events <- wk.Disconnected{Err: errBoom} // already offline: nothing more
	f.events <- wk.Connected{}
	f.events <- wk.Recv{Message: msg(203, 2, alice, g1, 2, text("after"))}
	waitFor(t, "every push acknowledged", func() bool { return f.ackCount() == 3 })
	waitFor(t, "the last event", func() bool { return len(sink.snapshot()) == 4 })
	if got := fmt.Sprint(eventNames(sink.snapshot())); got != "[online offline online 203]" {
		t.Errorf("events = %s, want [online offline online 203]", got)
	}
}

func TestRunUnauthorized(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, func(o *Options) {
		o.Receiver = runError{f, fmt.Errorf("3 connects refused: %w", wk.ErrUnauthorized)}
	})
	err := b.Run(context.Background(), &recordingSink{})
	if !errors.Is(err, platform.ErrUnauthorized) || !errors.Is(err, wk.ErrUnauthorized) {
		t.Fatalf("Run = %v, want an error matching platform.ErrUnauthorized and wk.ErrUnauthorized", err)
	}
}

func TestPrivateIDNormalisation(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	cases := []struct {
		name string
		m    wk.Message
		from string
	}{
		{"push names the peer", msg(1, 1, alice, alice, 1, text("a")), alice},
		{"history names the addressed uid (the bot)", msg(2, 2, alice, self, 1, text("b")), alice},
		{"the bot's own, from another device", msg(3, 3, self, alice, 1, text("c")), self},
	}
	for _, c := range cases {
		ev, ok := b.event(&c.m).(platform.Received)
		if !ok {
			t.Fatalf("%s: no Received", c.name)
		}
		want := platform.Conv{Kind: platform.KindPrivate, ID: alice}
		if ev.Message.Conv != want || ev.Message.Sender.ID != c.from {
			t.Errorf("%s: conv %+v sender %q, want %+v sender %q", c.name, ev.Message.Conv, ev.Message.Sender.ID, want, c.from)
		}
	}
	// And back: a send to the private chat names the peer.
	conv := platform.Conv{Kind: platform.KindPrivate, ID: alice}
	outs, err := b.Encode(context.Background(), conv, textMsg("hi"), platform.EncodeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Send(context.Background(), &outs[0]); err != nil {
		t.Fatal(err)
	}
	if s := f.sent[0]; s.ChannelID != alice || s.ChannelType != 1 {
		t.Errorf("send to %s/%d, want %s/1", s.ChannelID, s.ChannelType, alice)
	}
}

func TestOwnPushesAreDeliveredAsOwnMessages(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	sink := &recordingSink{}
	startRun(t, b, sink)
	own := msg(301, 4, self, g1, 2, text("from my phone"))
	own.ClientMsgNo = "c0ffee"
	f.events <- wk.Recv{Message: own}
	waitFor(t, "the own message", func() bool { return len(sink.snapshot()) == 1 })
	ev := sink.snapshot()[0].(platform.Received)
	if ev.Message.Sender.ID != self || ev.Message.Sender.Name != "Bot" || ev.Message.ID != "301" || ev.Message.Token != "c0ffee" {
		t.Errorf("own message = %+v, want sender %s, id 301, token c0ffee", ev.Message, self)
	}
	waitFor(t, "its ack", func() bool { return f.ackCount() == 1 })
}

func TestRunStopsWhileBackPressured(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	b.queue = 1
	sink := &recordingSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, sink) }()
	for i := int64(1); i <= 10; i++ {
		f.events <- wk.Recv{Message: msg(i, i, alice, g1, 2, text("x"))}
	}
	<-sink.entered // the delivering goroutine holds one batch, the queue is full, the reader waits
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after its context ended", err)
	}
	if n := f.ackCount(); n != 0 {
		t.Errorf("%d acks, want none: nothing was delivered", n)
	}
}
