package wukongim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

const (
	self  = "bot1"
	alice = "alice"
	bob   = "bob"
	g1    = "g1"
)

// t0 is the tests' clock: WuKongIM timestamps are unix seconds.
var t0 = time.Unix(1796196800, 0)

// fakeWK is WuKongIM as the backend sees it through API and Receiver: it
// keeps channels of messages and answers messagesync windows as the
// server does (start inclusive, end exclusive, pull_mode 1 newer and 0
// older, start 0 the newest page, ascending, more when cut), records
// every call, and pushes the events a test queues.
type fakeWK struct {
	mu       sync.Mutex
	channels map[chanKey][]wk.Message // ascending by seq
	convs    []wk.Conversation
	syncs    []wk.SyncRequest
	calls    []string
	callCh   chan string
	apiErr   error

	events  chan wk.Event
	acks    int
	onAck   func() // called with mu unlocked, before the ack counts
	sent    []wk.RPCSendRequest
	sendErr error
	offline int // the next sends fail with wk.ErrOffline
	nextID  int64
	runErr  error
	running chan struct{} // closed when Run starts
}

type chanKey struct {
	id  string
	typ uint8
}

func newFake() *fakeWK {
	return &fakeWK{
		channels: map[chanKey][]wk.Message{},
		callCh:   make(chan string, 100),
		events:   make(chan wk.Event, 100),
		nextID:   9000,
		running:  make(chan struct{}),
	}
}

// add stores a message in the channel the query endpoints name it by:
// a group by its id, a private chat by the peer (for login_uid self).
func (f *fakeWK) add(channel string, typ uint8, m wk.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := chanKey{channel, typ}
	f.channels[k] = append(f.channels[k], m)
}

func (f *fakeWK) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	select {
	case f.callCh <- call:
	default:
	}
}

func (f *fakeWK) MessageSync(_ context.Context, r wk.SyncRequest) (wk.SyncResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs = append(f.syncs, r)
	if f.apiErr != nil {
		return wk.SyncResult{}, f.apiErr
	}
	if r.LoginUID != self {
		return wk.SyncResult{}, fmt.Errorf("login_uid %q", r.LoginUID)
	}
	all := f.channels[chanKey{r.ChannelID, r.ChannelType}]
	var win []wk.Message
	for _, m := range all {
		in := true
		switch {
		case r.StartSeq == 0:
		case r.PullMode == 1:
			in = m.MessageSeq >= r.StartSeq && (r.EndSeq == 0 || m.MessageSeq < r.EndSeq)
		default:
			in = m.MessageSeq <= r.StartSeq && m.MessageSeq > r.EndSeq
		}
		if in {
			win = append(win, m)
		}
	}
	more := len(win) > r.Limit
	if more {
		if r.PullMode == 1 && r.StartSeq != 0 {
			win = win[:r.Limit]
		} else {
			win = win[len(win)-r.Limit:]
		}
	}
	return wk.SyncResult{Messages: slices.Clone(win), More: more}, nil
}

func (f *fakeWK) ConversationSync(_ context.Context, uid string, msgCount int) ([]wk.Conversation, error) {
	f.record(fmt.Sprintf("conversation_sync %s %d", uid, msgCount))
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.convs), f.apiErr
}

func (f *fakeWK) MessagesBySeq(_ context.Context, loginUID, channelID string, channelType uint8, seqs []int64) ([]wk.Message, error) {
	f.record(fmt.Sprintf("messages %s %s %v", loginUID, channelID, seqs))
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wk.Message
	for _, m := range f.channels[chanKey{channelID, channelType}] {
		if slices.Contains(seqs, m.MessageSeq) {
			out = append(out, m)
		}
	}
	return out, f.apiErr
}

func (f *fakeWK) RemoveSubscribers(_ context.Context, channelID string, channelType uint8, uids []string) error {
	f.record(fmt.Sprintf("subscriber_remove %s/%d %v", channelID, channelType, uids))
	return f.apiErr
}

func (f *fakeWK) BlacklistAdd(_ context.Context, channelID string, channelType uint8, uids []string) error {
	f.record(fmt.Sprintf("blacklist_add %s/%d %v", channelID, channelType, uids))
	return f.apiErr
}

func (f *fakeWK) BlacklistRemove(_ context.Context, channelID string, channelType uint8, uids []string) error {
	f.record(fmt.Sprintf("blacklist_remove %s/%d %v", channelID, channelType, uids))
	return f.apiErr
}

func (f *fakeWK) Run(ctx context.Context, on func(wk.Event)) error {
	close(f.running)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-f.events:
			on(e)
		}
	}
}

// RunError is a Receiver whose Run fails at once with err.
type runError struct {
	*fakeWK
	err error
}

func (r runError) Run(context.Context, func(wk.Event)) error { return r.err }

func (f *fakeWK) Ack(wk.Ack) error {
	if f.onAck != nil {
		f.onAck()
	}
	f.mu.Lock()
	f.acks++
	f.mu.Unlock()
	return nil
}

func (f *fakeWK) ackCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acks
}

func (f *fakeWK) Send(_ context.Context, r wk.RPCSendRequest) (wk.RPCSendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, r)
	if f.offline > 0 {
		f.offline--
		return wk.RPCSendResult{}, wk.ErrOffline
	}
	if f.sendErr != nil {
		return wk.RPCSendResult{}, f.sendErr
	}
	f.nextID++
	return wk.RPCSendResult{MessageID: f.nextID, MessageSeq: int64(len(f.sent)), ReasonCode: 1}, nil
}

// memKV is KV in memory.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Get(key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, platform.ErrNotFound)
	}
	return slices.Clone(v), nil
}

func (k *memKV) Set(_ context.Context, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = slices.Clone(v)
	return nil
}

func (k *memKV) value(key string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return string(k.m[key])
}

// newBackend returns a Backend over f and kv (new ones when nil).
func newBackend(t *testing.T, f *fakeWK, kv KV, mod func(*Options)) *Backend {
	t.Helper()
	if kv == nil {
		kv = newKV()
	}
	o := Options{API: f, Receiver: f, Self: self, Name: "Bot", KV: kv, Now: func() time.Time { return t0 }, OfflineWait: -1}
	if mod != nil {
		mod(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordingSink collects delivered events; gate, when set, holds every
// Deliver until the test releases it; fail makes the next Deliver fail.
type recordingSink struct {
	mu        sync.Mutex
	events    []platform.Event
	delivered int // Received events of Deliver calls that returned nil
	gate      chan struct{}
	entered   chan struct{}
	fail      error
}

func (s *recordingSink) Deliver(ctx context.Context, events []platform.Event) error {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		err := s.fail
		s.fail = nil
		return err
	}
	s.events = append(s.events, events...)
	for _, e := range events {
		if _, ok := e.(platform.Received); ok {
			s.delivered++
		}
	}
	return nil
}

func (s *recordingSink) snapshot() []platform.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// waitFor waits until cond holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// startRun runs b until the test ends, and returns Run's result channel.
func startRun(t *testing.T, b *Backend, sink platform.Sink) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return done
}

// msg is a stored or pushed message with a JSON payload.
func msg(id, seq int64, from, channel string, typ uint8, payload string) wk.Message {
	return wk.Message{
		MessageID: id, MessageSeq: seq, ClientMsgNo: fmt.Sprintf("c-%d", id), FromUID: from,
		ChannelID: channel, ChannelType: typ, Timestamp: t0.Unix() + seq, Payload: []byte(payload),
	}
}

func text(s string) string { return `{"type":1,"content":"` + s + `"}` }

var errBoom = errors.New("boom")
