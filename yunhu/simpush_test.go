package yunhu_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// pushRun runs c.Run until the test ends, feeding pushes to ch.
func pushRun(t *testing.T, c *yunhu.Client, onPush func(yunhu.Push)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, onPush) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
}

func waitPush[T yunhu.Push](t *testing.T, ch <-chan yunhu.Push, match func(T) bool) T {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-ch:
			if v, ok := p.(T); ok && (match == nil || match(v)) {
				return v
			}
		case <-timeout:
			var zero T
			t.Fatalf("no %T push within 10s", zero)
			return zero
		}
	}
}

func TestSimPushes(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID, func(o *yunhu.Options) { o.HeartbeatInterval = 200 * time.Millisecond })
	alice := w.client(sim.AliceID)
	ch := make(chan yunhu.Push, 256)
	pushRun(t, c, func(p yunhu.Push) { ch <- p })
	waitPush[yunhu.Connected](t, ch, nil)
	if w.sim.Online(sim.SelfID) != 1 {
		t.Fatalf("online sessions = %d", w.sim.Online(sim.SelfID))
	}

	// A private message from Alice: chat_id is self, the peer is Alice.
	id, err := alice.SendMessage(ctx, text(yunhu.Chat{ID: sim.SelfID, Type: yunhu.ChatTypeUser}, "hi self"))
	ok(t, err)
	mp := waitPush(t, ch, func(p yunhu.MessagePush) bool { return p.Message.ID == id })
	m := mp.Message
	if m.Content.Text != "hi self" || m.Sender.ID != sim.AliceID || m.Seq == 0 || m.Time.IsZero() ||
		m.Peer(sim.SelfID) != (yunhu.Chat{ID: sim.AliceID, Type: yunhu.ChatTypeUser}) {
		t.Errorf("private push = %+v", m)
	}

	// Own messages are echoed; the peer of an own private echo is the receiver.
	own, err := c.SendMessage(ctx, text(yunhu.Chat{ID: sim.AliceID, Type: yunhu.ChatTypeUser}, "hi alice"))
	ok(t, err)
	echo := waitPush(t, ch, func(p yunhu.MessagePush) bool { return p.Message.ID == own }).Message
	if echo.Sender.ID != sim.SelfID || echo.Peer(sim.SelfID) != (yunhu.Chat{ID: sim.AliceID, Type: yunhu.ChatTypeUser}) {
		t.Errorf("echo = %+v", echo)
	}

	// Group message, edit and recall by Alice.
	g := yunhu.Chat{ID: sim.GroupOwnedID, Type: yunhu.ChatTypeGroup}
	gid, err := alice.SendMessage(ctx, text(g, "group hi"))
	ok(t, err)
	gm := waitPush(t, ch, func(p yunhu.MessagePush) bool { return p.Message.ID == gid }).Message
	if gm.Chat != g || gm.Peer(sim.SelfID) != g {
		t.Errorf("group push = %+v", gm)
	}
	ok(t, alice.EditMessage(ctx, yunhu.Outgoing{ID: gid, Chat: g, ContentType: yunhu.ContentText, Content: yunhu.Content{Text: "group hi!"}}))
	ed := waitPush(t, ch, func(p yunhu.EditPush) bool { return p.MsgID == gid })
	if ed.Content.Text != "group hi!" || ed.Chat.ID != sim.GroupOwnedID || ed.EditTime.IsZero() {
		t.Errorf("edit push = %+v", ed)
	}
	ok(t, alice.Recall(ctx, g, gid))
	rc := waitPush(t, ch, func(p yunhu.RecallPush) bool { return p.MsgID == gid })
	if rc.Seq != gm.Seq || rc.Chat.ID != sim.GroupOwnedID || rc.Time.IsZero() {
		t.Errorf("recall push = %+v (message seq %d)", rc, gm.Seq)
	}

	// A friend request arrives as a bare invite_apply.
	ok(t, w.client(sim.DaveID).Apply(ctx, yunhu.Chat{ID: sim.SelfID, Type: yunhu.ChatTypeUser}, "hey"))
	waitPush[yunhu.InvitePush](t, ch, nil)

	// A rejected login is retried until one succeeds.
	logins := w.sim.Logins(sim.SelfID)
	w.sim.RejectNextLogin()
	w.sim.RejectNextLogin()
	w.sim.DropAll()
	waitPush[yunhu.Disconnected](t, ch, nil)
	waitPush[yunhu.Connected](t, ch, nil)
	if got := w.sim.Logins(sim.SelfID); got != logins+1 {
		t.Errorf("successful logins %d → %d, want one more", logins, got)
	}
}

// TestSimPushSurvivesDrops drops the push socket 50 times while another user
// streams messages. Every message must reach the account exactly once
// through the socket or, for those sent while it was down, through the
// history backfill that Connected prompts — and no received frame may be
// lost or delivered twice by the client.
func TestSimPushSurvivesDrops(t *testing.T) {
	const drops = 50
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID, func(o *yunhu.Options) { o.HeartbeatInterval = time.Second })
	alice := w.client(sim.AliceID)
	g := yunhu.Chat{ID: sim.GroupOwnedID, Type: yunhu.ChatTypeGroup}

	var mu sync.Mutex
	pushed := map[string]int{}
	seen := map[string]bool{}
	var connected, disconnected int
	connectedCh := make(chan int, drops+2)
	pushRun(t, c, func(p yunhu.Push) {
		switch p := p.(type) {
		case yunhu.Connected:
			// What the bridge does: backfill what was sent while down.
			msgs, err := c.ListMessages(ctx, g, "", 100)
			mu.Lock()
			if err != nil {
				t.Errorf("backfill: %v", err)
			}
			for _, m := range msgs {
				seen[m.ID] = true
			}
			connected++
			n := connected
			mu.Unlock()
			connectedCh <- n
		case yunhu.Disconnected:
			mu.Lock()
			disconnected++
			mu.Unlock()
		case yunhu.MessagePush:
			if p.Message.Chat != g {
				return
			}
			mu.Lock()
			pushed[p.Message.ID]++
			seen[p.Message.ID] = true
			mu.Unlock()
		}
	})

	// The stream: Alice posts until the drops are over, then a few more.
	stop := make(chan struct{})
	var sent []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id, err := alice.SendMessage(ctx, text(g, "stream"))
			if err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			sent = append(sent, id)
			time.Sleep(time.Millisecond)
		}
	}()

	for i := 1; i <= drops+1; i++ {
		select {
		case n := <-connectedCh:
			if n != i {
				t.Fatalf("connected #%d, want #%d", n, i)
			}
		case <-ctx.Done():
			t.Fatalf("no reconnect after %d drops", i-1)
		}
		if i <= drops {
			time.Sleep(time.Duration(2+i%15) * time.Millisecond) // let some pushes through
			if n := w.sim.DropAll(); n != 1 {
				t.Fatalf("drop %d closed %d sockets", i, n)
			}
		}
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	// The last messages were sent while connected: they arrive by push.
	last := sent[len(sent)-1]
	for {
		mu.Lock()
		done := seen[last]
		mu.Unlock()
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("last message never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	if connected != drops+1 || disconnected != drops {
		t.Errorf("connected %d, disconnected %d; want %d, %d", connected, disconnected, drops+1, drops)
	}
	missing := 0
	for _, id := range sent {
		if !seen[id] {
			missing++
		}
	}
	for id, n := range pushed {
		if n != 1 {
			t.Errorf("message %s pushed %d times", id, n)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d messages never delivered", missing, len(sent))
	}
	t.Logf("%d messages, %d by push, %d drops", len(sent), len(pushed), drops)
}
