package yunhu

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// clockWorld is a world whose simulator clock the test sets.
func clockWorld(t *testing.T) (*world, *atomic.Int64) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli())
	w := newWorld(t, func(o *sim.Options) { o.Now = func() time.Time { return time.UnixMilli(now.Load()) } })
	return w, &now
}

// fill injects n group messages a minute apart and returns them.
func fill(t *testing.T, w *world, now *atomic.Int64, n int) []sim.Record {
	t.Helper()
	recs := make([]sim.Record, n)
	for i := range n {
		now.Add(time.Minute.Milliseconds())
		recs[i] = inject(t, w, sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("m", i)})
	}
	return recs
}

func checkRun(t *testing.T, what string, got []platform.Message, want []sim.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].MsgID || got[i].Seq != want[i].Seq || got[i].Conv != groupOwned {
			t.Fatalf("%s: message %d is %s seq %d in %v, want %s seq %d", what, i, got[i].ID, got[i].Seq, got[i].Conv, want[i].MsgID, want[i].Seq)
		}
	}
}

// TestMissed pages back to the cursor, or without one to since, over
// several pages (short ones too), and returns oldest first.
func TestMissed(t *testing.T) {
	w, now := clockWorld(t)
	recs := fill(t, w, now, 130)
	e := w.backend()
	if _, err := e.b.Self(e.ctx); err != nil {
		t.Fatal(err)
	}

	got, err := e.b.Missed(e.ctx, groupOwned, recs[29].Seq, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, "to a cursor", got, recs[30:])

	since := time.UnixMilli(recs[100].SendTime)
	got, err = e.b.Missed(e.ctx, groupOwned, 0, since)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, "to since", got, recs[100:])

	// A server that serves fewer than asked: a short page is not the end.
	w.sim.SetPaging(7, true)
	got, err = e.b.Missed(e.ctx, groupOwned, recs[9].Seq, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, "short pages", got, recs[10:])

	// Nothing missed.
	if got, err = e.b.Missed(e.ctx, groupOwned, recs[129].Seq, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("at the newest: %d messages, %v", len(got), err)
	}
}

// TestMissedLimit: a gap longer than the page limit is cut at the limit,
// keeping the newest.
func TestMissedLimit(t *testing.T) {
	w, now := clockWorld(t)
	w.sim.SetPaging(2, false)
	recs := fill(t, w, now, 2*maxBackfillPages+5)
	e := w.backend()
	got, err := e.b.Missed(e.ctx, groupOwned, 0, time.Time{}.Add(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, "cut", got, recs[len(recs)-2*maxBackfillPages:])
}

// TestHistoryReads: Before pages back from a message (or the newest),
// oldest first; Message reads one; Active lists the chats of the
// conversation list since a time.
func TestHistoryReads(t *testing.T) {
	w, now := clockWorld(t)
	recs := fill(t, w, now, 30)
	e := w.backend()
	if _, err := e.b.Self(e.ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.b.Before(e.ctx, groupOwned, "", 5)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, "newest", got, recs[25:])
	w.sim.SetPaging(3, true)
	got, err = e.b.Before(e.ctx, groupOwned, recs[20].MsgID, 8)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, "before a message, in short pages", got, recs[12:20])

	m, err := e.b.Message(e.ctx, groupOwned, recs[3].MsgID)
	if err != nil || m.ID != recs[3].MsgID || m.Content.(Content).Body.Text != "m3" || m.Sender.ID != sim.BobID {
		t.Fatalf("Message: %+v, %v", m, err)
	}
	if _, err := e.b.Message(e.ctx, groupOwned, "00000000000000000000000000000000"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("a missing message: %v", err)
	}

	now.Add(time.Hour.Milliseconds())
	inject(t, w, sim.Message{From: sim.BotID, ChatID: sim.SelfID, Text: "late"})
	convs, err := e.b.Active(e.ctx, time.UnixMilli(now.Load()-time.Minute.Milliseconds()))
	if err != nil {
		t.Fatal(err)
	}
	if want := []platform.Conv{{Kind: platform.KindPrivate, ID: sim.BotID}}; !slicesEqual(convs, want) {
		t.Errorf("active %v, want %v", convs, want)
	}
	if !e.b.isBot(sim.BotID) {
		t.Error("the conversation list's bot was not remembered")
	}
	convs, err = e.b.Active(e.ctx, time.Time{})
	if err != nil || len(convs) != 2 {
		t.Errorf("active since ever: %v, %v", convs, err)
	}
}
