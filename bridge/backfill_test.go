package bridge_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// chatLog collects message events per conversation and checks them
// against what was sent: every message exactly once, in the order sent.
type chatLog struct {
	got map[string][]string // chat → raw_message in event order
	ids map[int64]bool
}

func newChatLog() *chatLog { return &chatLog{got: map[string][]string{}, ids: map[int64]bool{}} }

func (l *chatLog) add(t *testing.T, ev evEvent) {
	t.Helper()
	if ev.str("post_type") != "message" {
		t.Errorf("unexpected event %s", ev.raw)
		return
	}
	id := ev.num(t, "message_id")
	if l.ids[id] {
		t.Errorf("message_id %d reported twice: %s", id, ev.raw)
	}
	l.ids[id] = true
	chat := fmt.Sprint("private:", ev.get("user_id"))
	if ev.str("message_type") == "group" {
		chat = fmt.Sprint("group:", ev.get("group_id"))
	}
	l.got[chat] = append(l.got[chat], ev.str("raw_message"))
}

// collect reads events until every chat's last wanted message arrived.
func (l *chatLog) collect(t *testing.T, b *evBridge, want map[string][]string) {
	t.Helper()
	done := func() bool {
		for chat, w := range want {
			g := l.got[chat]
			if len(w) > 0 && !slices.Contains(g, w[len(w)-1]) {
				return false
			}
		}
		return true
	}
	for !done() {
		l.add(t, b.next(t, nil))
	}
}

func (l *chatLog) check(t *testing.T, want map[string][]string) {
	t.Helper()
	for chat, w := range want {
		g := l.got[chat]
		if slices.Equal(g, w) {
			continue
		}
		missing, dup := 0, 0
		seen := map[string]int{}
		for _, s := range g {
			seen[s]++
			if seen[s] == 2 {
				dup++
			}
		}
		for _, s := range w {
			if seen[s] == 0 {
				missing++
			}
		}
		t.Errorf("chat %s: %d events for %d messages, %d missing, %d duplicated, order %v",
			chat, len(g), len(w), missing, dup, firstDiff(g, w))
	}
	for chat, g := range l.got {
		if _, ok := want[chat]; !ok {
			t.Errorf("events in unexpected chat %s: %v", chat, g)
		}
	}
}

func firstDiff(g, w []string) string {
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("first differs at %d: %q, want %q", i, g[i], w[i])
		}
	}
	return "same prefix"
}

// sender makes one user write numbered messages into one chat until
// stopped, and remembers their texts in order.
type sender struct {
	from, chat, prefix string
	sent               []string
}

func (s *sender) run(t *testing.T, w *evWorld, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		text := fmt.Sprintf("%s-%d", s.prefix, i)
		if _, err := w.sim.Inject(sim.Message{From: s.from, ChatID: s.chat, Text: text}); err != nil {
			t.Errorf("inject: %v", err)
			return
		}
		s.sent = append(s.sent, text)
		time.Sleep(time.Millisecond)
	}
}

// TestBackfillAfterDrops drops the push socket 20 times while two users
// write, one in a group the bridge has seen before and one in a private
// chat it has not: after the dust settles every message was reported
// exactly once, in order per chat.
func TestBackfillAfterDrops(t *testing.T) {
	const drops = 20
	w := newEvWorld(t)
	b := w.startBridge()
	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "g-start"})
	log := newChatLog()
	log.add(t, b.next(t, nil))

	group := &sender{from: sim.AliceID, chat: sim.GroupOwnedID, prefix: "g"}
	private := &sender{from: sim.BobID, chat: sim.SelfID, prefix: "p"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go group.run(t, w, stop, &wg)
	go private.run(t, w, stop, &wg)

	var offline []string // sent while the socket surely was down
	for i := range drops {
		logins := w.sim.Logins(sim.SelfID)
		time.Sleep(time.Duration(3+i%7) * time.Millisecond) // let some pushes through
		if i == drops/2 {
			w.sim.FailNext(20, 503, sim.PathWS) // keep it down a while
		}
		if n := w.sim.DropAll(); n != 1 {
			t.Fatalf("drop %d closed %d sockets", i, n)
		}
		if i == drops/2 {
			evWait(t, "socket down", func() bool { return w.sim.Online(sim.SelfID) == 0 })
			for j := range 5 {
				text := fmt.Sprint("x-", j)
				w.inject(sim.Message{From: sim.CarolID, ChatID: sim.GroupBigID, Text: text})
				offline = append(offline, text)
			}
		}
		evWait(t, "reconnect", func() bool {
			on, _ := b.bridge.Status()
			return w.sim.Logins(sim.SelfID) > logins && on
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()

	want := map[string][]string{
		"group:100000001":        append([]string{"g-start"}, group.sent...),
		"private:1000003":        private.sent,
		"group:4503599627370497": offline,
	}
	log.collect(t, b, want)
	if err := b.quiet(200 * time.Millisecond); err != nil {
		t.Error(err)
	}
	log.check(t, want)
	t.Logf("%d group and %d private messages over %d drops", len(group.sent), len(private.sent), drops)
}

// TestBackfillAfterRestart: what was written while the daemon was stopped
// is reported after a restart on the same store, in order, exactly once —
// in chats seen before (from their cursors, more than one page) and in
// chats never seen (from the conversation list).
func TestBackfillAfterRestart(t *testing.T) { backfillAfterRestart(t, 0) }

// TestBackfillShortPages: Yunhu may serve fewer messages than asked per
// page while older ones remain, and leave total out; the catch-up must go
// on past a short page.
func TestBackfillShortPages(t *testing.T) { backfillAfterRestart(t, 7) }

// backfillAfterRestart runs the restart scenario with list-message pages
// of at most pageMax (0: as asked).
func backfillAfterRestart(t *testing.T, pageMax int) {
	w := newEvWorld(t)
	w.sim.SetPaging(pageMax, pageMax > 0)
	b := w.startBridge()
	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "before"})
	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "before too"})
	log := newChatLog()
	log.add(t, b.next(t, nil))
	log.add(t, b.next(t, nil))
	b.stop()

	want := map[string][]string{
		"group:100000001":        {"before"},
		"private:1000002":        {"before too"},
		"private:1000003":        nil,
		"group:4503599627370497": nil,
	}
	add := func(from, chat, key, text string) {
		w.inject(sim.Message{From: from, ChatID: chat, Text: text})
		want[key] = append(want[key], text)
	}
	for i := range 120 { // more than two list-message pages
		add(sim.AliceID, sim.GroupOwnedID, "group:100000001", fmt.Sprint("g", i))
	}
	// Sent and recalled while away: nothing to report.
	gone := w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "gone"})
	if err := w.sim.Recall(sim.AliceID, gone.MsgID); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		add(sim.AliceID, sim.SelfID, "private:1000002", fmt.Sprint("a", i))
		add(sim.BobID, sim.SelfID, "private:1000003", fmt.Sprint("b", i))
		add(sim.CarolID, sim.GroupBigID, "group:4503599627370497", fmt.Sprint("c", i))
	}

	b = w.startBridge()
	log.collect(t, b, want)
	if err := b.quiet(200 * time.Millisecond); err != nil {
		t.Error(err)
	}
	log.check(t, want)

	// And once more: a restart with nothing missed reports nothing.
	b.stop()
	b = w.startBridge()
	b.marker(t, "marker")
	if err := b.quiet(100 * time.Millisecond); err != nil {
		t.Error(err)
	}
}
