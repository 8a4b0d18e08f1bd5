package fake_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/backend/fake"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// waitTimeout bounds every wait; it asserts nothing about speed.
const waitTimeout = 10 * time.Second

var (
	privateConv = platform.Conv{Kind: platform.KindPrivate, ID: peer}
	groupConv   = platform.Conv{Kind: platform.KindGroup, ID: groupID}
)

// sink records what Run delivers. While gate is set, Deliver waits for a
// value on it before returning (the core committing slowly).
type sink struct {
	mu      sync.Mutex
	events  []platform.Event
	changed chan struct{}
	gate    chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{})} }

func (s *sink) Deliver(ctx context.Context, events []platform.Event) error {
	s.mu.Lock()
	s.events = append(s.events, events...)
	close(s.changed)
	s.changed = make(chan struct{})
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return ctx.Err()
}

// wait waits until cond holds for the events so far and returns them.
func (s *sink) wait(t *testing.T, what string, cond func([]platform.Event) bool) []platform.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		events, changed := s.events, s.changed
		s.mu.Unlock()
		if cond(events) {
			return events
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("gave up after %v waiting for %s; events: %+v", waitTimeout, what, events)
		}
	}
}

// received returns the Received events with message id id.
func received(events []platform.Event, id string) []platform.Received {
	var out []platform.Received
	for _, ev := range events {
		if r, ok := ev.(platform.Received); ok && r.Message.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func count[T platform.Event](events []platform.Event) int {
	n := 0
	for _, ev := range events {
		if _, ok := ev.(T); ok {
			n++
		}
	}
	return n
}

// run runs b until the test ends.
func run(t *testing.T, b *fake.Backend, s *sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, s) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return within %v", waitTimeout)
		}
	})
}

func newBackend(srv *fake.Server, user string) *fake.Backend {
	return fake.NewBackend(fake.BackendOptions{Server: srv, Account: user, Backoff: func(int) time.Duration { return time.Millisecond }})
}

// online starts a backend for user and waits for its first Online.
func online(t *testing.T, srv *fake.Server, user string) (*fake.Backend, *sink) {
	t.Helper()
	b, s := newBackend(srv, user), newSink()
	run(t, b, s)
	s.wait(t, "online", func(ev []platform.Event) bool { return count[platform.Online](ev) == 1 })
	return b, s
}

func encode(t *testing.T, b *fake.Backend, conv platform.Conv, msg segment.Message) platform.Outgoing {
	t.Helper()
	outs, err := b.Encode(context.Background(), conv, msg, platform.EncodeEnv{})
	if err != nil || len(outs) != 1 {
		t.Fatalf("Encode %v: %v, %d messages", msg, err, len(outs))
	}
	return outs[0]
}

// TestServerAssignsIDs: Encode leaves the id to the server and gives a
// token; Send answers the server's id; the account's own push echoes the
// token, and only the account's.
func TestServerAssignsIDs(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b, mine := online(t, srv, account)
	_, theirs := online(t, srv, peer)
	out := encode(t, b, groupConv, segment.Message{segment.Text("hello")})
	if out.ID != "" || out.Token == "" {
		t.Fatalf("Outgoing ID %q Token %q; want the server to assign the id, and a token", out.ID, out.Token)
	}
	sent, err := b.Send(context.Background(), &out)
	if err != nil || sent.ID == "" || sent.Seq != 1 {
		t.Fatalf("Send: %+v, %v; want the server's id at seq 1", sent, err)
	}
	echo := mine.wait(t, "the echo", func(ev []platform.Event) bool { return len(received(ev, sent.ID)) == 1 })
	if got := received(echo, sent.ID)[0].Message; got.Token != out.Token || got.Sender.ID != account {
		t.Errorf("echo %+v; want token %q from the account", got, out.Token)
	}
	other := theirs.wait(t, "the peer's copy", func(ev []platform.Event) bool { return len(received(ev, sent.ID)) == 1 })
	if got := received(other, sent.ID)[0].Message; got.Token != "" || got.Conv != groupConv {
		t.Errorf("the peer's copy %+v; want no token, in the group", got)
	}
	out2 := encode(t, b, groupConv, segment.Message{segment.Text("again")})
	if out2.Token == out.Token {
		t.Errorf("two sends share the token %q", out.Token)
	}
}

// TestRedeliversUnacked: a push whose Deliver had not returned when the
// connection dropped was never acknowledged, so the server pushes it
// again after the reconnect; once delivered, it is acknowledged.
func TestRedeliversUnacked(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b, s := newBackend(srv, account), newSink()
	gate := make(chan struct{})
	s.gate = gate
	run(t, b, s)
	gate <- struct{}{} // the first Online
	id, err := srv.Say(groupConv, peer, "hold me")
	if err != nil {
		t.Fatal(err)
	}
	s.wait(t, "the first delivery", func(ev []platform.Event) bool { return len(received(ev, id)) == 1 })
	if n := srv.Unacked(account); n != 1 {
		t.Fatalf("%d unacknowledged pushes while Deliver runs; want 1", n)
	}
	srv.Drop()
	gate <- struct{}{} // Deliver returns; the ack is lost with the connection
	s.mu.Lock()
	s.gate = nil
	s.mu.Unlock()
	close(gate) // whatever was waiting on it goes on
	events := s.wait(t, "the redelivery", func(ev []platform.Event) bool { return len(received(ev, id)) == 2 })
	if srv.Connects(account) < 2 || count[platform.Offline](events) < 1 {
		t.Errorf("connects %d, events %+v; want a reconnect after an Offline", srv.Connects(account), events)
	}
	waitFor(t, "the ack", func() bool { return srv.Unacked(account) == 0 })
}

// TestNoReplayWhileAway: what is said while the account has no
// connection is never pushed; History.Missed returns it.
func TestNoReplayWhileAway(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b, s := online(t, srv, account)
	release := srv.Hold()
	s.wait(t, "offline", func(ev []platform.Event) bool { return count[platform.Offline](ev) == 1 })
	var said []string
	for i := range 3 {
		id, err := srv.Say(groupConv, peer, fmt.Sprint("away ", i))
		if err != nil {
			t.Fatal(err)
		}
		said = append(said, id)
	}
	if srv.Connected(account) {
		t.Fatal("connected while held")
	}
	release()
	s.wait(t, "online again", func(ev []platform.Event) bool { return count[platform.Online](ev) == 2 })
	// A message said now is pushed; nothing said before comes with it.
	live, err := srv.Say(groupConv, peer, "back")
	if err != nil {
		t.Fatal(err)
	}
	events := s.wait(t, "the live message", func(ev []platform.Event) bool { return len(received(ev, live)) == 1 })
	for _, id := range said {
		if n := len(received(events, id)); n != 0 {
			t.Errorf("message %s said while away was pushed %d times", id, n)
		}
	}
	missed, err := b.Missed(context.Background(), groupConv, 0, time.Time{})
	if err != nil || len(missed) != 4 {
		t.Fatalf("Missed: %d messages, %v; want 4", len(missed), err)
	}
	for i, m := range missed[:3] {
		if m.ID != said[i] || m.Seq != int64(i+1) {
			t.Errorf("Missed[%d] = %s at seq %d; want %s at %d", i, m.ID, m.Seq, said[i], i+1)
		}
	}
	after, err := b.Missed(context.Background(), groupConv, 2, time.Time{})
	if err != nil || len(after) != 2 || after[0].Seq != 3 {
		t.Errorf("Missed after seq 2: %+v, %v; want seqs 3 and 4", after, err)
	}
}

// TestDropReconnect: Drop makes Run report Offline, reconnect and report
// Online.
func TestDropReconnect(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	_, s := online(t, srv, account)
	if n := srv.Drop(); n != 1 {
		t.Fatalf("Drop closed %d connections; want 1", n)
	}
	events := s.wait(t, "a reconnect", func(ev []platform.Event) bool { return count[platform.Online](ev) == 2 })
	if _, ok := events[1].(platform.Offline); !ok || !errors.Is(events[1].(platform.Offline).Err, fake.ErrDropped) {
		t.Errorf("events %+v; want Online, Offline(dropped), Online", events)
	}
	waitFor(t, "the connection", func() bool { return srv.Connected(account) })
}

// TestSendFailures: a definite failure is a definite *platform.Error and
// stores nothing; a lost answer is not definite, and the message exists.
func TestSendFailures(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b := newBackend(srv, account)
	srv.Fail(account, 1, true)
	srv.Fail(account, 1, false)
	out := encode(t, b, privateConv, segment.Message{segment.Text("x")})
	_, err := b.Send(context.Background(), &out)
	var pe *platform.Error
	if !errors.As(err, &pe) || !pe.Definite {
		t.Fatalf("refused send: %v; want a definite *platform.Error", err)
	}
	if n := len(srv.Messages(account, privateConv)); n != 0 {
		t.Fatalf("%d messages after a refused send", n)
	}
	_, err = b.Send(context.Background(), &out)
	if err == nil || (errors.As(err, &pe) && pe.Definite) {
		t.Fatalf("lost answer: %v; want an error that is not definite", err)
	}
	if n := len(srv.Messages(account, privateConv)); n != 1 {
		t.Fatalf("%d messages after a lost answer; want 1", n)
	}
	if _, err := b.Send(context.Background(), &out); err != nil {
		t.Fatalf("third send: %v", err)
	}
	// The peer's sends were not affected.
	if _, err := srv.Say(asPeer(privateConv), peer, "fine"); err != nil {
		t.Fatal(err)
	}
}

// TestContent: Encode carries text, mentions, images by URL and a
// reply, Decode reads them back, and whatever the fake cannot carry is a
// bad parameter naming the segment.
func TestContent(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b := newBackend(srv, account)
	ctx := context.Background()
	msg := segment.Message{segment.At(peer), segment.Text(" look"), segment.Image("https://example.com/a.png")}
	out := encode(t, b, groupConv, msg)
	sent, err := b.Send(ctx, &out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Message(ctx, groupConv, sent.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Decode(ctx, groupConv, m.Content, nil)
	if err != nil || segment.FormatCQ(got) != segment.FormatCQ(out.Body) {
		t.Errorf("Decode: %v, %v; the body sent was %v", got, err, out.Body)
	}
	outs, err := b.Encode(ctx, groupConv, segment.Message{segment.Reply(sent.ID), segment.Text("re")},
		platform.EncodeEnv{Quote: &platform.Quote{MsgID: sent.ID}})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := b.Send(ctx, &outs[0])
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := b.Message(ctx, groupConv, reply.ID); m == nil || m.QuoteID != sent.ID {
		t.Errorf("the reply's QuoteID: %+v; want %s", m, sent.ID)
	}
	for _, c := range []struct {
		conv platform.Conv
		msg  segment.Message
		want string
	}{
		{groupConv, segment.Message{segment.Face("1")}, "face"},
		{groupConv, segment.Message{segment.Image("file:///etc/passwd")}, "image"},
		{privateConv, segment.Message{segment.AtAll()}, "at all"},
		{groupConv, segment.Message{segment.Text(string(make([]byte, fake.MaxText+1)))}, "bytes of text"},
		{groupConv, segment.Message{}, "nothing"},
		{groupConv, segment.Message{segment.Reply(sent.ID), segment.Text("x")}, "reply"},
	} {
		_, err := b.Encode(ctx, c.conv, c.msg, platform.EncodeEnv{})
		var bad *platform.BadParamError
		if !errors.As(err, &bad) || !strings.Contains(bad.Msg, c.want) {
			t.Errorf("Encode %v: %v; want a bad parameter naming %q", c.msg, err, c.want)
		}
	}
}

// TestRecalls: the account's Recall withdraws its message; a peer's
// recall is pushed as Recalled naming the peer.
func TestRecalls(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b, s := online(t, srv, account)
	id, err := srv.Say(groupConv, peer, "oops")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Recall(peer, id); err != nil {
		t.Fatal(err)
	}
	events := s.wait(t, "the recall", func(ev []platform.Event) bool { return count[platform.Recalled](ev) == 1 })
	for _, ev := range events {
		if r, ok := ev.(platform.Recalled); ok && (r.MsgID != id || r.Operator != peer || r.Sender.ID != peer || r.Conv != groupConv) {
			t.Errorf("Recalled %+v; want %s by the peer in the group", r, id)
		}
	}
	out := encode(t, b, privateConv, segment.Message{segment.Text("mine")})
	sent, err := b.Send(context.Background(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Recall(context.Background(), privateConv, []string{sent.ID}); err != nil {
		t.Fatal(err)
	}
	if m, _ := b.Message(context.Background(), privateConv, sent.ID); m == nil || !m.Recalled {
		t.Errorf("after Recall: %+v; want it recalled", m)
	}
	err = b.Recall(context.Background(), groupConv, []string{sent.ID})
	if !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Recall in the wrong conversation: %v; want ErrNotFound", err)
	}
	// The peer may not recall the account's message.
	var r *fake.Refusal
	if err := srv.Recall(peer, sent.ID); !errors.As(err, &r) {
		t.Errorf("the peer recalls the account's message: %v; want a refusal", err)
	}
}

// TestGroupAdmin: the owner kicks and mutes; the pushes become
// MemberLeft and MemberMuted; a muted member cannot send; a plain member
// cannot kick.
func TestGroupAdmin(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b, s := online(t, srv, account)
	ctx := context.Background()
	if err := b.Mute(ctx, groupID, peer, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Say(groupConv, peer, "muted?"); err == nil {
		t.Error("a muted member sent a message")
	}
	if err := b.Kick(ctx, groupID, peer, true); !isUnsupported(err) {
		t.Errorf("Kick with rejectAgain: %v; want unsupported", err)
	}
	if err := b.Kick(ctx, groupID, peer, false); err != nil {
		t.Fatal(err)
	}
	events := s.wait(t, "mute and kick", func(ev []platform.Event) bool {
		return count[platform.MemberMuted](ev) == 1 && count[platform.MemberLeft](ev) == 1
	})
	for _, ev := range events {
		switch e := ev.(type) {
		case platform.MemberMuted:
			if e.UserID != peer || e.Operator != account || e.Duration != 2*time.Second {
				t.Errorf("MemberMuted %+v; want the peer for 2s (rounded up) by the account", e)
			}
		case platform.MemberLeft:
			if e.UserID != peer || e.Operator != account || e.GroupID != groupID {
				t.Errorf("MemberLeft %+v; want the peer removed by the account", e)
			}
		}
	}
	members, err := b.Members(ctx, groupID)
	if err != nil || len(members) != 1 || members[0].Role != platform.RoleOwner {
		t.Errorf("Members after the kick: %+v, %v; want the owner alone", members, err)
	}
	// A plain member cannot kick the owner.
	if err := srv.Join(groupID, peer, platform.RoleMember); err != nil {
		t.Fatal(err)
	}
	var r *fake.Refusal
	if err := srv.Kick(peer, groupID, account); !errors.As(err, &r) {
		t.Errorf("a member kicks the owner: %v; want a refusal", err)
	}
}

// TestSlowClientDropped: a client that takes no pushes is disconnected
// after MaxQueue of them, and gets the unacknowledged ones again, in
// order, when it reconnects.
func TestSlowClientDropped(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	c, err := srv.Connect(account)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range fake.MaxQueue + 1 {
		id, err := srv.Say(groupConv, peer, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := c.Receive(ctx, 1); !errors.Is(err, fake.ErrSlow) {
		t.Fatalf("Receive on the slow connection: %v; want ErrSlow", err)
	}
	if n := srv.Unacked(account); n != fake.MaxQueue {
		t.Fatalf("%d unacknowledged; want the bound %d", n, fake.MaxQueue)
	}
	c2, err := srv.Connect(account)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var got []string
	for len(got) < fake.MaxQueue {
		pushes, err := c2.Receive(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pushes {
			got = append(got, p.Message.ID)
			if err := c2.Ack(p.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The oldest push was forgotten (history covers it); the rest come
	// in order.
	for i, id := range got {
		if id != ids[i+1] {
			t.Fatalf("redelivered[%d] = %s; want %s", i, id, ids[i+1])
		}
	}
	if n := srv.Unacked(account); n != 0 {
		t.Errorf("%d unacknowledged after the acks", n)
	}
}

// TestHistoryBefore: Before pages backwards, oldest first, and bounds
// the count.
func TestHistoryBefore(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b := newBackend(srv, account)
	var ids []string
	for i := range 5 {
		id, err := srv.Say(groupConv, peer, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ctx := context.Background()
	newest, err := b.Before(ctx, groupConv, "", 2)
	if err != nil || len(newest) != 2 || newest[0].ID != ids[3] || newest[1].ID != ids[4] {
		t.Fatalf("Before newest 2: %+v, %v", newest, err)
	}
	older, err := b.Before(ctx, groupConv, ids[3], 10)
	if err != nil || len(older) != 3 || older[0].ID != ids[0] {
		t.Fatalf("Before %s: %+v, %v", ids[3], older, err)
	}
	if _, err := b.Before(ctx, groupConv, "nope", 1); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Before an unknown id: %v; want ErrNotFound", err)
	}
	active, err := b.Active(ctx, time.Time{})
	if err != nil || len(active) != 1 || active[0] != groupConv {
		t.Errorf("Active: %+v, %v; want the group", active, err)
	}
}

// TestUnknownAccount: a backend for a user the server does not know is
// unauthorized, in Self and in Run.
func TestUnknownAccount(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	b := newBackend(srv, "nobody")
	if _, err := b.Self(context.Background()); !errors.Is(err, platform.ErrUnauthorized) {
		t.Errorf("Self: %v; want ErrUnauthorized", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.Run(ctx, newSink()); !errors.Is(err, platform.ErrUnauthorized) {
		t.Errorf("Run: %v; want ErrUnauthorized", err)
	}
}

func isUnsupported(err error) bool {
	var u *platform.UnsupportedError
	return errors.As(err, &u)
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAnswerAfterEcho: with AnswerAfterEcho, Send returns only once the
// sender's echo has been delivered and acknowledged.
func TestAnswerAfterEcho(t *testing.T) {
	srv := newWorld(t, fake.Options{AnswerAfterEcho: true})
	b, s := online(t, srv, account)
	out := encode(t, b, groupConv, segment.Message{segment.Text("echo first")})
	sent, err := b.Send(context.Background(), &out)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	echoed := received(s.events, sent.ID)
	s.mu.Unlock()
	if len(echoed) != 1 || echoed[0].Message.Token != out.Token {
		t.Fatalf("when Send returned the sink had %+v; want the echo with token %q", echoed, out.Token)
	}
	if n := srv.Unacked(account); n != 0 {
		t.Errorf("%d pushes unacknowledged after the answer", n)
	}
	// With no connection there is no echo to wait for.
	release := srv.Hold()
	defer release()
	if _, err := srv.Send(context.Background(), account, groupConv, fake.Content{{Text: "alone"}}, "", "t"); err != nil {
		t.Fatal(err)
	}
}

// TestDropAtAck: with DropAtAck, the next ack closes the connection
// instead of being taken, and the push it covered comes again.
func TestDropAtAck(t *testing.T) {
	srv := newWorld(t, fake.Options{})
	_, s := online(t, srv, account)
	srv.DropAtAck(account)
	id, err := srv.Say(groupConv, peer, "twice")
	if err != nil {
		t.Fatal(err)
	}
	events := s.wait(t, "the redelivery", func(ev []platform.Event) bool { return len(received(ev, id)) == 2 })
	if count[platform.Offline](events) != 1 || srv.Connects(account) != 2 {
		t.Errorf("events %+v, %d connects; want one drop between the deliveries", events, srv.Connects(account))
	}
	waitFor(t, "the ack", func() bool { return srv.Unacked(account) == 0 })
}
