package bridge_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// A group's member list is fetched off the ingest goroutine: while the
// simulator holds the fetch, the message that triggered it and the
// messages of other chats are delivered, in order, with the fallback role
// member; once the fetch completes, later events carry the real role; and
// a fetch still held at shutdown is cancelled.
func TestMemberFetchDoesNotStallIngest(t *testing.T) {
	w := newEvWorld(t)
	release := w.sim.HoldNext(1, yunhu.PathGroupListMember)
	defer release()
	b := w.startBridge()

	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "first"})
	w.inject(sim.Message{From: sim.BobID, ChatID: sim.SelfID, Text: "private"})
	w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: "same group"})
	for _, want := range []struct{ text, role string }{{"first", "member"}, {"private", ""}, {"same group", "member"}} {
		ev := b.nextOf(t, "message")
		if ev.str("raw_message") != want.text || ev.str("sender", "role") != want.role {
			t.Fatalf("event %s, want %q with role %q", ev.raw, want.text, want.role)
		}
	}
	// The simulator logs a request when it ends: none has, so every event
	// above left while the member list was still held.
	if n := heldListRequests(w); n != 0 {
		t.Fatalf("%d held member-list requests ended before the release", n)
	}

	release()
	evWait(t, "the held member list answered", func() bool { return heldListRequests(w) == 1 })
	// The cache is filled just after the answer arrives; a bounded number
	// of messages shows the role turning from the fallback to the truth.
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("Alice never reported as admin after the member list arrived")
		}
		text := fmt.Sprintf("later %d", i)
		w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: text})
		ev := b.nextOf(t, "message")
		if ev.str("raw_message") != text {
			t.Fatalf("event %s, want %q", ev.raw, text)
		}
		if ev.str("sender", "role") == "admin" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Another group's list is held at shutdown: stopping cancels it rather
	// than waiting for it.
	w.sim.HoldNext(1, yunhu.PathGroupListMember) // never released
	w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupBigID, Text: "big"})
	if ev := b.nextOf(t, "message"); ev.str("sender", "role") != "member" {
		t.Fatalf("event %s, want the fallback role member", ev.raw)
	}
	evWait(t, "the second member list requested", func() bool { return w.sim.Faults() == 0 })
	b.stop()
	evWait(t, "the held fetch cancelled", func() bool { return heldListRequests(w) == 2 })
}

// heldListRequests counts the member-list requests the simulator held and
// that have ended.
func heldListRequests(w *evWorld) int {
	n := 0
	for _, r := range w.sim.Requests() {
		if r.Path == yunhu.PathGroupListMember && r.Fault == "hold" {
			n++
		}
	}
	return n
}

// Messages from many new chats with non-numeric ids that the ingest
// goroutine takes as one batch cost O(1) store commits, not one per new
// alias; and every alias is durable once its event is out.
func TestNewAliasesShareTheBatchCommit(t *testing.T) {
	const n = 64
	w := newEvWorld(t)
	var commits atomic.Int64
	var counting atomic.Bool
	gate := make(chan struct{})
	var gating atomic.Bool
	w.onCommit = func(int, time.Duration, error) {
		if gating.CompareAndSwap(true, false) {
			<-gate // holds the commit loop, and so the ingest goroutine
		}
		if counting.Load() {
			commits.Add(1)
		}
	}
	var pushes atomic.Int64
	w.onPush = func(string) { pushes.Add(1) }
	b := w.startBridge()

	// The first message's commit is held; the n messages behind it queue
	// up and are taken as one batch once it is released.
	gating.Store(true)
	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "gate"})
	evWait(t, "the gate message pushed", func() bool { return pushes.Load() >= 1 })
	for i := range n {
		pushGroupMessage(t, w, i, "hi")
	}
	evWait(t, "every message pushed", func() bool { return pushes.Load() == n+1 })
	counting.Store(true)
	close(gate)
	if ev := b.nextOf(t, "message"); ev.str("raw_message") != "gate" {
		t.Fatalf("first event %s, want the gate", ev.raw)
	}
	groups := make(map[int64]bool)
	users := make(map[int64]bool)
	first := make([][2]int64, n)
	for i := range n {
		ev := b.nextOf(t, "message")
		g, u := ev.num(t, "group_id"), ev.num(t, "user_id")
		if ev.str("raw_message") != "hi" || groups[g] || users[u] {
			t.Fatalf("event %d: %s; want a fresh group and user", i, ev.raw)
		}
		groups[g], users[u] = true, true
		first[i] = [2]int64{g, u}
	}
	// 1 for the gate, 1 or 2 for the batch (the last push may be a batch
	// of its own), and a few for a tick of the cursor tracker (every
	// 500 ms) that may fall inside; one commit per alias would be 2n more.
	if c := commits.Load(); c > 12 {
		t.Errorf("%d commits for %d messages from new chats, want O(1)", c, n)
	}

	// Every alias is on disk: the reopened store maps each number back.
	b.stop()
	st, err := store.Open(store.Options{Path: w.dbPath})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, ids := range first {
		for j, want := range []string{fmt.Sprintf("grp-%d", i), fmt.Sprintf("usr-%d", i)} {
			if got, err := st.FromInt(ids[j]); err != nil || got != want {
				t.Errorf("after restart %d is %q, %v; want %s", ids[j], got, err, want)
			}
		}
	}
}

// pushGroupMessage pushes a message in group grp-i from user usr-i, ids
// the simulator's world does not have and that are not numeric.
func pushGroupMessage(t *testing.T, w *evWorld, i int, text string) {
	t.Helper()
	pm := &yunhupb.PushMessage{
		MsgId:       fmt.Sprintf("%s-%d-%d", text, i, time.Now().UnixNano()),
		Sender:      &yunhupb.Sender{ChatId: fmt.Sprintf("usr-%d", i), ChatType: yunhu.ChatTypeUser, Name: fmt.Sprintf("User %d", i)},
		RecvId:      fmt.Sprintf("grp-%d", i),
		ChatId:      fmt.Sprintf("grp-%d", i),
		ChatType:    yunhu.ChatTypeGroup,
		Content:     &yunhupb.MsgContent{Text: text},
		ContentType: yunhu.ContentText,
		Timestamp:   time.Now().UnixMilli(),
	}
	if w.sim.PushFrame(sim.SelfID, yunhu.WSCmdPushMessage, yunhu.TypeURLPushMessage, pm) != 1 {
		t.Fatal("no push session")
	}
}
