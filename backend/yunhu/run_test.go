package yunhu

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

func notOnline(ev platform.Event) bool {
	switch ev.(type) {
	case platform.Online, platform.Offline:
		return false
	}
	return true
}

func inject(t *testing.T, w *world, m sim.Message) sim.Record {
	t.Helper()
	rec, err := w.sim.Inject(m)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRunEvents: pushes become events in the socket's order, each in the
// conversation the account addresses: the peer of a private chat (also
// for the account's own echo), the bot of a bot chat, the group.
func TestRunEvents(t *testing.T) {
	w := newWorld(t)
	var kinds []string
	var kindsN atomic.Int32
	e := w.backend(func(o *Options) {
		o.OnPush = func(k string) { kinds = append(kinds, k); kindsN.Add(1) }
	})
	s := newSink()
	run := e.run(s)

	group := inject(t, w, sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "hello"})
	private := inject(t, w, sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "psst"})
	echo := inject(t, w, sim.Message{From: sim.SelfID, ChatID: sim.AliceID, Text: "from my phone"})
	bot := inject(t, w, sim.Message{From: sim.BotID, ChatID: sim.SelfID, Text: "beep"})
	tagged := inject(t, w, sim.Message{From: sim.AliceID, ChatID: sim.GroupBigID, Text: "as admin"})
	if err := w.sim.Edit(sim.AliceID, group.MsgID, yh.ContentText, &yunhupb.MsgContent{Text: "hello again"}); err != nil {
		t.Fatal(err)
	}
	if err := w.sim.Edit(sim.AliceID, private.MsgID, yh.ContentText, &yunhupb.MsgContent{Text: "psst!"}); err != nil {
		t.Fatal(err)
	}
	if err := w.sim.StreamAppend(bot.MsgID, " boop"); err != nil {
		t.Fatal(err)
	}
	if err := w.sim.Recall(sim.AliceID, group.MsgID); err != nil {
		t.Fatal(err)
	}
	got := s.wait(t, "nine events", 9, notOnline)

	groupConv := platform.Conv{Kind: platform.KindGroup, ID: sim.GroupOwnedID}
	alice := platform.Conv{Kind: platform.KindPrivate, ID: sim.AliceID}
	botConv := platform.Conv{Kind: platform.KindPrivate, ID: sim.BotID}
	checkReceived := func(i int, rec sim.Record, conv platform.Conv, senderID string, bot bool, text string) platform.Message {
		t.Helper()
		r, ok := got[i].(platform.Received)
		if !ok {
			t.Fatalf("event %d: %T %+v, want Received", i, got[i], got[i])
		}
		m := r.Message
		c, _ := m.Content.(Content)
		if m.Conv != conv || m.ID != rec.MsgID || m.Seq != rec.Seq || m.Sender.ID != senderID || m.Sender.Bot != bot ||
			c.Type != yh.ContentText || c.Body.Text != text || m.Time.UnixMilli() != rec.SendTime {
			t.Errorf("event %d: %+v, want %s in %v from %s", i, m, rec.MsgID, conv, senderID)
		}
		return m
	}
	checkReceived(0, group, groupConv, sim.AliceID, false, "hello")
	checkReceived(1, private, alice, sim.AliceID, false, "psst")
	checkReceived(2, echo, alice, sim.SelfID, false, "from my phone")
	checkReceived(3, bot, botConv, sim.BotID, true, "beep")
	if m := checkReceived(4, tagged, platform.Conv{Kind: platform.KindGroup, ID: sim.GroupBigID}, sim.AliceID, false, "as admin"); m.Sender.Title != "管理" || m.Sender.Name == "" {
		t.Errorf("sender of a tagged member: %+v", m.Sender)
	}
	// Edits carry no chat type; a private one names the account.
	if ed, ok := got[5].(platform.Edited); !ok || ed.MsgID != group.MsgID || ed.Conv != (platform.Conv{ID: sim.GroupOwnedID}) ||
		ed.Content.(Content).Body.Text != "hello again" || ed.Time.IsZero() {
		t.Errorf("group edit: %#v", got[5])
	}
	if ed, ok := got[6].(platform.Edited); !ok || ed.MsgID != private.MsgID || !ed.Conv.IsZero() || ed.Content.(Content).Body.Text != "psst!" {
		t.Errorf("private edit: %#v", got[6])
	}
	if ap, ok := got[7].(platform.Appended); !ok || ap.MsgID != bot.MsgID || ap.Text != " boop" || ap.Conv.ID != sim.BotID {
		t.Errorf("stream: %#v", got[7])
	}
	if rc, ok := got[8].(platform.Recalled); !ok || rc.MsgID != group.MsgID || rc.Conv != groupConv || rc.Seq != group.Seq ||
		rc.Sender.ID != sim.AliceID || rc.Time.IsZero() {
		t.Errorf("recall: %#v", got[8])
	}
	waitFor(t, "every push counted", func() bool { return kindsN.Load() >= 9 })
	if err := run.stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if want := "message message message message message edit edit stream recall"; fmt.Sprint(kinds) != "["+want+"]" {
		t.Errorf("OnPush kinds %v, want [%s]", kinds, want)
	}

	// The bot chat is remembered: a send to the bot uses its chat type.
	outs, err := e.b.Encode(e.ctx, botConv, segment.Message{segment.Text("hi bot")}, platform.EncodeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Send(e.ctx, &outs[0]); err != nil {
		t.Fatal(err)
	}
	sent := w.sim.Sent()
	if last := sent[len(sent)-1]; last.Request.ChatType != yh.ChatTypeBot || last.Request.ChatId != sim.BotID || last.Code != yh.CodeOK {
		t.Errorf("send to the bot: %v code %d", last.Request, last.Code)
	}
}

// TestRunBatchesUnderSlowSink: while Deliver is busy, the socket reader
// queues pushes up to the queue's bound and then waits; what is queued is
// delivered as one batch, in order.
func TestRunBatchesUnderSlowSink(t *testing.T) {
	w := newWorld(t)
	var pushes atomic.Int32
	e := w.backend(func(o *Options) { o.OnPush = func(string) { pushes.Add(1) } })
	const queue = 4
	e.b.queue = queue
	s := gated()
	if _, err := e.b.Self(e.ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.b.Run(ctx, s) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the first Deliver (Online) to begin", func() bool { return s.entered.Load() == 1 })

	const n = 20
	var recs []sim.Record
	for i := range n {
		recs = append(recs, inject(t, w, sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("m", i)}))
	}
	// Deliver holds Online; the queue holds 4 messages and the reader
	// waits with the fifth. It must not read further.
	waitFor(t, "the reader to fill the queue", func() bool { return pushes.Load() >= queue+1 })
	if got := pushes.Load(); got != queue+1 {
		t.Fatalf("the reader took %d pushes while Deliver was blocked; the queue holds %d", got, queue)
	}
	s.release()
	got := s.wait(t, "every message", n, notOnline)
	for i, ev := range got {
		if r, ok := ev.(platform.Received); !ok || r.Message.ID != recs[i].MsgID {
			t.Fatalf("event %d: %#v, want %s", i, ev, recs[i].MsgID)
		}
	}
	s.mu.Lock()
	second := len(s.batches[1])
	s.mu.Unlock()
	// The queued four at least, and whatever the reader added while the
	// batch was being taken.
	if second < queue {
		t.Errorf("the batch after the blocked Deliver has %d events, want the %d queued", second, queue)
	}
	if _, ok := s.batches[0][0].(platform.Online); !ok {
		t.Errorf("first batch %#v", s.batches[0])
	}
}

// TestRunTokenRevoked: a token revoked while running stops Run with an
// error that matches both platform.ErrUnauthorized and yh.ErrUnauthorized.
func TestRunTokenRevoked(t *testing.T) {
	w := newWorld(t)
	e := w.backend()
	s := newSink()
	run := e.run(s)
	w.sim.RevokeToken(sim.DefaultToken)
	select {
	case <-run.done:
	case <-e.ctx.Done():
		t.Fatal("Run did not stop after the token was revoked")
	}
	err := run.err
	if !errors.Is(err, platform.ErrUnauthorized) || !errors.Is(err, yh.ErrUnauthorized) {
		t.Fatalf("Run: %v; want ErrUnauthorized of both packages", err)
	}
	if s.count(func(ev platform.Event) bool { _, ok := ev.(platform.Offline); return ok }) == 0 {
		t.Error("no Offline before stopping")
	}
	if _, err := e.b.Self(e.ctx); !errors.Is(err, platform.ErrUnauthorized) {
		t.Errorf("Self with a revoked token: %v", err)
	}
}
