package wukongim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// fill stores n messages seq 1..n in g1, timestamps t0+seq.
func fill(f *fakeWK, n int64) {
	for seq := int64(1); seq <= n; seq++ {
		f.add(g1, 2, msg(1000+seq, seq, alice, g1, 2, text(fmt.Sprint("m", seq))))
	}
}

func seqsOf(msgs []platform.Message) (first, last int64, ascending bool) {
	ascending = true
	for i := range msgs {
		if i > 0 && msgs[i].Seq != msgs[i-1].Seq+1 {
			ascending = false
		}
	}
	if len(msgs) > 0 {
		first, last = msgs[0].Seq, msgs[len(msgs)-1].Seq
	}
	return first, last, ascending
}

func syncWindows(f *fakeWK) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s string
	for _, r := range f.syncs {
		s += fmt.Sprintf("[mode %d start %d end %d limit %d]", r.PullMode, r.StartSeq, r.EndSeq, r.Limit)
	}
	return s
}

func TestMissedAfterPagesUpWhileMore(t *testing.T) {
	f := newFake()
	fill(f, 250)
	b := newBackend(t, f, nil, nil)
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	msgs, err := b.Missed(context.Background(), group, 20, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	first, last, asc := seqsOf(msgs)
	if len(msgs) != 230 || first != 21 || last != 250 || !asc {
		t.Errorf("Missed(after 20) = %d messages %d..%d ascending %v, want 230 messages 21..250 ascending", len(msgs), first, last, asc)
	}
	want := "[mode 1 start 21 end 0 limit 100][mode 1 start 121 end 0 limit 100][mode 1 start 221 end 0 limit 100]"
	if got := syncWindows(f); got != want {
		t.Errorf("windows = %s\nwant %s", got, want)
	}
	if msgs[0].ID != "1021" || msgs[0].Sender.ID != alice || msgs[0].Conv != group || !msgs[0].Time.Equal(t0.Add(21*time.Second)) {
		t.Errorf("first = %+v", msgs[0])
	}
}

func TestMissedSincePagesDownToSince(t *testing.T) {
	f := newFake()
	fill(f, 250)
	b := newBackend(t, f, nil, nil)
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	msgs, err := b.Missed(context.Background(), group, 0, t0.Add(120*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	first, last, asc := seqsOf(msgs)
	if len(msgs) != 131 || first != 120 || last != 250 || !asc {
		t.Errorf("Missed(since seq 120) = %d messages %d..%d ascending %v, want 131 messages 120..250 ascending", len(msgs), first, last, asc)
	}
	want := "[mode 0 start 0 end 0 limit 100][mode 0 start 150 end 0 limit 100]"
	if got := syncWindows(f); got != want {
		t.Errorf("windows = %s\nwant %s", got, want)
	}
}

func TestMissedPrivateNormalisesBothDirectionsAndMarksRecalls(t *testing.T) {
	f := newFake()
	// History names the addressed uid: alice's messages name the bot,
	// the bot's name alice.
	f.add(alice, 1, msg(1, 1, alice, self, 1, text("hi bot")))
	f.add(alice, 1, msg(2, 2, self, alice, 1, text("hi alice")))
	f.add(alice, 1, msg(3, 3, alice, self, 1, `{"type":99,"cmd":"messageRevoke","param":{"message_id":"1"}}`))
	b := newBackend(t, f, nil, nil)
	conv := platform.Conv{Kind: platform.KindPrivate, ID: alice}
	msgs, err := b.Missed(context.Background(), conv, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2 (the command is none)", len(msgs))
	}
	for _, m := range msgs {
		if m.Conv != conv {
			t.Errorf("message %s in %+v, want %+v", m.ID, m.Conv, conv)
		}
	}
	if !msgs[0].Recalled || msgs[1].Recalled || msgs[1].Sender.ID != self {
		t.Errorf("messages = %+v, want the first recalled and the second the bot's", msgs)
	}
}

func TestMissedFailureIsAnError(t *testing.T) {
	f := newFake()
	f.apiErr = &wk.APIError{Status: 500, Path: "/channel/messagesync"}
	b := newBackend(t, f, nil, nil)
	if _, err := b.Missed(context.Background(), platform.Conv{Kind: platform.KindGroup, ID: g1}, 3, time.Time{}); err == nil {
		t.Error("Missed over a failing server: no error")
	}
}

func TestActiveFiltersAndNormalises(t *testing.T) {
	f := newFake()
	f.convs = []wk.Conversation{
		{ChannelID: alice, ChannelType: 1, Timestamp: t0.Unix() + 50},
		{ChannelID: g1, ChannelType: 2, Timestamp: t0.Unix() + 10},
		{ChannelID: "g2", ChannelType: 2, Timestamp: t0.Unix() - 10}, // before since
		{ChannelID: self, ChannelType: 1, Timestamp: t0.Unix() + 60, Recents: []wk.Message{{FromUID: bob, ChannelID: self, ChannelType: 1}}},
		{ChannelID: "cs", ChannelType: 3, Timestamp: t0.Unix() + 60},
	}
	b := newBackend(t, f, nil, nil)
	convs, err := b.Active(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []platform.Conv{{Kind: platform.KindPrivate, ID: alice}, {Kind: platform.KindGroup, ID: g1}, {Kind: platform.KindPrivate, ID: bob}}
	if fmt.Sprint(convs) != fmt.Sprint(want) {
		t.Errorf("Active = %v, want %v", convs, want)
	}
	if f.calls[0] != "conversation_sync bot1 1" {
		t.Errorf("call = %q", f.calls[0])
	}
}

func TestMessageAndBefore(t *testing.T) {
	f := newFake()
	fill(f, 30)
	b := newBackend(t, f, nil, nil)
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	ctx := context.Background()

	// Unknown to the backend: found by scanning back from the newest.
	m, err := b.Message(ctx, group, "1005")
	if err != nil || m.Seq != 5 || m.ID != "1005" {
		t.Fatalf("Message(1005) = %+v, %v", m, err)
	}
	// Seen since: read by its seq.
	if m, err := b.Message(ctx, group, "1007"); err != nil || m.Seq != 7 {
		t.Fatalf("Message(1007) = %+v, %v", m, err)
	}
	if last := f.calls[len(f.calls)-1]; last != "messages bot1 g1 [7]" {
		t.Errorf("last call %q, want the read by seq", last)
	}
	if _, err := b.Message(ctx, group, "424242"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Message(unknown) = %v, want ErrNotFound", err)
	}

	before, err := b.Before(ctx, group, "1010", 4)
	if first, last, asc := seqsOf(before); err != nil || len(before) != 4 || first != 6 || last != 9 || !asc {
		t.Errorf("Before(1010, 4) = %d messages %d..%d, %v; want 6..9", len(before), first, last, err)
	}
	newest, err := b.Before(ctx, group, "", 3)
	if first, last, _ := seqsOf(newest); err != nil || len(newest) != 3 || first != 28 || last != 30 {
		t.Errorf("Before(\"\", 3) = %d messages %d..%d, %v; want 28..30", len(newest), first, last, err)
	}
	if none, err := b.Before(ctx, group, "1001", 5); err != nil || len(none) != 0 {
		t.Errorf("Before(first) = %v, %v; want nothing", none, err)
	}
}
