package bridge_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// bigAlias is the OneBot id of the group "big": the first alias a fresh
// store hands out.
var bigAlias = store.AliasBase + 1

// TestMessageEventsGolden pins the exact bytes of message events: key
// order, numeric ids, sender objects with roles, cards and titles, the
// bot chat as a private chat, and the non-numeric group "big" as an alias.
func TestMessageEventsGolden(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge()
	// Roles and cards come from the member lists (members.go).
	b.warmMembers(t, sim.GroupOwnedID, sim.GroupBigID)
	cases := []struct {
		name string
		msg  sim.Message
		want string
	}{
		{"private", sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "hello"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"private","sub_type":"friend","message_id":1,"user_id":1000002,"target_id":1000001,"message":"hello","raw_message":"hello","font":0,"sender":{"user_id":1000002,"nickname":"Alice","sex":"unknown","age":0}}`},
		{"group admin", sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "hi [all]"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"group","sub_type":"normal","message_id":2,"group_id":100000001,"user_id":1000002,"anonymous":null,"message":"hi &#91;all&#93;","raw_message":"hi &#91;all&#93;","font":0,"sender":{"user_id":1000002,"nickname":"Alice","card":"","sex":"unknown","age":0,"area":"","level":"","role":"admin","title":""}}`},
		{"group member", sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: "b"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"group","sub_type":"normal","message_id":3,"group_id":100000001,"user_id":1000003,"anonymous":null,"message":"b","raw_message":"b","font":0,"sender":{"user_id":1000003,"nickname":"Bob","card":"","sex":"unknown","age":0,"area":"","level":"","role":"member","title":""}}`},
		{"big owner", sim.Message{From: sim.BobID, ChatID: sim.GroupBigID, Text: "big"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"group","sub_type":"normal","message_id":4,"group_id":4503599627370497,"user_id":1000003,"anonymous":null,"message":"big","raw_message":"big","font":0,"sender":{"user_id":1000003,"nickname":"Bob","card":"","sex":"unknown","age":0,"area":"","level":"","role":"owner","title":""}}`},
		{"big card", sim.Message{From: sim.CarolID, ChatID: sim.GroupBigID, Text: "c"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"group","sub_type":"normal","message_id":5,"group_id":4503599627370497,"user_id":1000004,"anonymous":null,"message":"c","raw_message":"c","font":0,"sender":{"user_id":1000004,"nickname":"Carol","card":"Carol in big","sex":"unknown","age":0,"area":"","level":"","role":"member","title":""}}`},
		{"big title", sim.Message{From: sim.AliceID, ChatID: sim.GroupBigID, Text: "a"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"group","sub_type":"normal","message_id":6,"group_id":4503599627370497,"user_id":1000002,"anonymous":null,"message":"a","raw_message":"a","font":0,"sender":{"user_id":1000002,"nickname":"Alice","card":"","sex":"unknown","age":0,"area":"","level":"","role":"admin","title":"管理"}}`},
		{"bot chat", sim.Message{From: sim.BotID, ChatID: sim.SelfID, Text: "beep"},
			`{"time":T,"self_id":1000001,"post_type":"message","message_type":"private","sub_type":"friend","message_id":7,"user_id":20000001,"target_id":1000001,"message":"beep","raw_message":"beep","font":0,"sender":{"user_id":20000001,"nickname":"EchoBot","sex":"unknown","age":0}}`},
	}
	for _, tc := range cases {
		rec := w.inject(tc.msg)
		ev := b.nextOf(t, "message")
		if got := w.normalize(ev.raw); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		if ev.num(t, "time") != rec.SendTime/1000 {
			t.Errorf("%s: time %d, want %d (seconds)", tc.name, ev.num(t, "time"), rec.SendTime/1000)
		}
	}
	// The bot's chat is a private chat with the bot, keyed by its id.
	if _, err := b.store.MessageID(simConvKey(yunhu.ChatTypeBot, sim.BotID), w.sim.History(sim.SelfID, sim.BotID, yunhu.ChatTypeBot)[0].MsgID); err != nil {
		t.Errorf("bot chat not keyed as the private chat with the bot: %v", err)
	}
}

// TestMessageEventArrayFormat: with post-format array the message field is
// the segment array and raw_message still the CQ string.
func TestMessageEventArrayFormat(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge(func(o *bridge.Options) { o.PostFormat = "array" })
	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "@Bob hi", Content: &yunhupb.MsgContent{
		Text: "@Bob hi", MentionedId: []string{sim.BobID}}})
	ev := b.nextOf(t, "message")
	want := `"message":[{"type":"at","data":{"qq":"1000003"}},{"type":"text","data":{"text":" hi"}}],"raw_message":"[CQ:at,qq=1000003] hi"`
	if !strings.Contains(string(ev.raw), want) {
		t.Errorf("event %s\nlacks %s", ev.raw, want)
	}
}

// TestSelfMessages: the account's own messages from another device are
// dropped by default and message_sent with report-self-message, never
// message events; either way they get ids (get_msg, replies).
func TestSelfMessages(t *testing.T) {
	t.Run("dropped", func(t *testing.T) {
		w := newEvWorld(t)
		b := w.startBridge()
		rec := w.inject(sim.Message{From: sim.SelfID, ChatID: sim.AliceID, Text: "from my phone"})
		w.inject(sim.Message{From: sim.SelfID, ChatID: sim.GroupOwnedID, Text: "group from my phone"})
		b.marker(t, "marker")
		if m, err := b.store.Message(b.storedID(t, rec)); err != nil || !m.Self || m.Seq != rec.Seq {
			t.Errorf("own message stored as %+v, %v", m, err)
		}
	})
	t.Run("reported", func(t *testing.T) {
		w := newEvWorld(t)
		b := w.startBridge(func(o *bridge.Options) { o.ReportSelfMessage = true })
		w.inject(sim.Message{From: sim.SelfID, ChatID: sim.AliceID, Text: "from my phone"})
		ev := b.next(t, nil)
		want := `{"time":T,"self_id":1000001,"post_type":"message_sent","message_type":"private","sub_type":"friend","message_id":1,"user_id":1000001,"target_id":1000002,"message":"from my phone","raw_message":"from my phone","font":0,"sender":{"user_id":1000001,"nickname":"Sim Self","sex":"unknown","age":0}}`
		if got := w.normalize(ev.raw); got != want {
			t.Errorf("private:\n got %s\nwant %s", got, want)
		}
		b.warmMembers(t, sim.GroupOwnedID)
		w.inject(sim.Message{From: sim.SelfID, ChatID: sim.GroupOwnedID, Text: "g"})
		ev = b.next(t, nil)
		if ev.str("post_type") != "message_sent" || ev.str("message_type") != "group" || ev.num(t, "user_id") != 1000001 ||
			ev.str("sender", "role") != "owner" || ev.num(t, "group_id") != 100000001 {
			t.Errorf("group own message: %s", ev.raw)
		}
		// An own message this daemon already stored (as send_msg does,
		// without seq) is reported once, when its echo arrives.
		id, err := b.store.PutMessage(b.ctx, store.Message{Conv: simConvKey(yunhu.ChatTypeUser, sim.AliceID),
			MsgID: "feedfacefeedfacefeedfacefeedface", SenderID: sim.SelfID, Self: true})
		if err != nil {
			t.Fatal(err)
		}
		w.inject(sim.Message{From: sim.SelfID, ChatID: sim.AliceID, MsgID: "feedfacefeedfacefeedfacefeedface", Text: "api"})
		ev = b.next(t, nil)
		if ev.str("post_type") != "message_sent" || ev.num(t, "message_id") != int64(id) {
			t.Errorf("echo of a stored own message: %s (stored as %d)", ev.raw, id)
		}
		b.marker(t, "marker")
	})
}

// TestRecallNotices: group_recall and friend_recall carry the message_id
// of the original event; the stored message is marked recalled; a recall
// of a message never seen still carries a (new) number.
func TestRecallNotices(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge()

	g := w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: "oops"})
	gid := b.nextOf(t, "message").num(t, "message_id")
	if err := w.sim.Recall(sim.AliceID, g.MsgID); err != nil { // an admin recalls Bob's message
		t.Fatal(err)
	}
	ev := b.nextOf(t, "notice")
	want := fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"notice","notice_type":"group_recall","group_id":100000001,"user_id":1000003,"operator_id":1000003,"message_id":%d}`, gid)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("group recall:\n got %s\nwant %s", got, want)
	}
	if m, err := b.store.Message(int32(gid)); err != nil || !m.Recalled {
		t.Errorf("stored message after recall: %+v, %v", m, err)
	}

	p := w.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "psst"})
	pid := b.nextOf(t, "message").num(t, "message_id")
	if err := w.sim.Recall(sim.AliceID, p.MsgID); err != nil {
		t.Fatal(err)
	}
	ev = b.nextOf(t, "notice")
	want = fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"notice","notice_type":"friend_recall","user_id":1000002,"message_id":%d}`, pid)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("friend recall:\n got %s\nwant %s", got, want)
	}

	// A recall of a message the bridge never saw.
	w.sim.PushFrame(sim.SelfID, yunhu.WSCmdPushMessage, yunhu.TypeURLPushMessage, &yunhupb.PushMessage{
		MsgId: "0123456789abcdef0123456789abcdef", ChatId: sim.GroupAdminID, ChatType: yunhu.ChatTypeGroup,
		RecvId: sim.SelfID, Sender: &yunhupb.Sender{ChatId: sim.CarolID, ChatType: yunhu.ChatTypeUser, Name: "Carol"},
		Content: &yunhupb.MsgContent{}, ContentType: yunhu.ContentText, Timestamp: time.Now().UnixMilli(),
		DeleteTimestamp: time.Now().UnixMilli(), MsgSeq: 99,
	})
	ev = b.nextOf(t, "notice")
	uid := ev.num(t, "message_id")
	if ev.str("notice_type") != "group_recall" || ev.num(t, "group_id") != 100000002 || ev.num(t, "user_id") != 1000004 ||
		uid <= pid {
		t.Errorf("recall of an unknown message: %s", ev.raw)
	}
	if m, err := b.store.Message(int32(uid)); err != nil || !m.Recalled || m.MsgID != "0123456789abcdef0123456789abcdef" {
		t.Errorf("unknown recalled message stored as %+v, %v", m, err)
	}
	// The same recall again is not reported twice.
	if err := w.sim.Recall(sim.AliceID, p.MsgID); err != nil {
		t.Fatal(err)
	}
	b.marker(t, "marker")
}

// TestEditNotice: an edit becomes notice message_edit with the original
// message_id, the author and the new content, and replaces the stored body.
func TestEditNotice(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge()
	g := w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "teh"})
	id := b.nextOf(t, "message").num(t, "message_id")
	if err := w.sim.Edit(sim.AliceID, g.MsgID, 0, &yunhupb.MsgContent{Text: "the"}); err != nil {
		t.Fatal(err)
	}
	ev := b.nextOf(t, "notice")
	want := fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"notice","notice_type":"message_edit","message_type":"group","message_id":%d,"group_id":100000001,"user_id":1000002,"message":"the","raw_message":"the"}`, id)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("group edit:\n got %s\nwant %s", got, want)
	}
	if m, err := b.store.Message(int32(id)); err != nil || string(m.Body) != `[{"type":"text","data":{"text":"the"}}]` {
		t.Errorf("stored after edit: %s, %v", m.Body, err)
	}

	// A private edit is pushed with the receiver (the account) as chat.
	p := w.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "a"})
	pid := b.nextOf(t, "message").num(t, "message_id")
	if err := w.sim.Edit(sim.AliceID, p.MsgID, yunhu.ContentMarkdown, &yunhupb.MsgContent{Text: "**a**"}); err != nil {
		t.Fatal(err)
	}
	ev = b.nextOf(t, "notice")
	want = fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"notice","notice_type":"message_edit","message_type":"private","message_id":%d,"user_id":1000002,"message":"[CQ:markdown,content=**a**]","raw_message":"[CQ:markdown,content=**a**]"}`, pid)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("private edit:\n got %s\nwant %s", got, want)
	}
}

// TestStreamAppend: stream chunks grow the stored body and report nothing.
func TestStreamAppend(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge()
	rec := w.inject(sim.Message{From: sim.BotID, ChatID: sim.SelfID, Text: "Thinking"})
	id := b.nextOf(t, "message").num(t, "message_id")
	for _, s := range []string{".", ".", ". done"} {
		if err := w.sim.StreamAppend(rec.MsgID, s); err != nil {
			t.Fatal(err)
		}
	}
	b.marker(t, "marker")
	evWait(t, "streamed body", func() bool {
		m, err := b.store.Message(int32(id))
		return err == nil && string(m.Body) == `[{"type":"text","data":{"text":"Thinking... done"}}]`
	})
}

// TestDurableBeforePublish: by the time a framework sees a message event,
// the message_id answers from the store.
func TestDurableBeforePublish(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge()
	const n = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if _, err := w.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: strconv.Itoa(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range n {
		ev := b.nextOf(t, "message")
		id := ev.num(t, "message_id")
		m, err := b.store.Message(int32(id))
		if err != nil {
			t.Fatalf("event %d: message_id %d not in the store yet: %v", i, id, err)
		}
		var body segment.Message
		if err := body.UnmarshalJSON(m.Body); err != nil || body.String() != strconv.Itoa(i) || ev.str("raw_message") != strconv.Itoa(i) {
			t.Fatalf("event %d: stored %s, event %s", i, m.Body, ev.raw)
		}
	}
	<-done
}

// TestIDsAcrossRestart: message ids, the alias of "big" and the reply
// target survive a restart of bridge and store; new messages get new ids.
func TestIDsAcrossRestart(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge()
	big := w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupBigID, Text: "one"})
	ev := b.nextOf(t, "message")
	bigID, firstID := ev.num(t, "group_id"), ev.num(t, "message_id")
	if bigID != bigAlias {
		t.Fatalf("big = %d, want %d", bigID, bigAlias)
	}
	b.stop()

	b = w.startBridge()
	w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupBigID, Text: "two", QuoteMsgID: big.MsgID})
	ev = b.nextOf(t, "message")
	if ev.num(t, "group_id") != bigID || ev.num(t, "message_id") <= firstID {
		t.Errorf("after restart: %s (big was %d, first id %d)", ev.raw, bigID, firstID)
	}
	if want := fmt.Sprintf("[CQ:reply,id=%d]two", firstID); ev.str("raw_message") != want {
		t.Errorf("reply after restart: %q, want %q", ev.str("raw_message"), want)
	}
	if err := w.sim.Recall(sim.BobID, big.MsgID); err != nil {
		t.Fatal(err)
	}
	if n := b.nextOf(t, "notice"); n.num(t, "message_id") != firstID || n.num(t, "group_id") != bigID {
		t.Errorf("recall after restart: %s, want message_id %d", n.raw, firstID)
	}
}

// TestRequestEvents: a friend request, a request to join a group the
// account owns and an invitation into a group become request events with
// flags, once each, also across a restart.
func TestRequestEvents(t *testing.T) {
	w := newEvWorld(t)
	ctx := t.Context()
	// Leave GroupAdminID first, so that Alice can invite the account back.
	if err := w.selfClient().DeleteFriend(ctx, yunhu.Chat{ID: sim.GroupAdminID, Type: yunhu.ChatTypeGroup}); err != nil {
		t.Fatal(err)
	}
	b := w.startBridge()

	fid, err := w.sim.Apply(sim.DaveID, sim.SelfID, yunhu.ChatTypeUser, "let me in")
	if err != nil {
		t.Fatal(err)
	}
	ev := b.nextOf(t, "request")
	want := fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"request","request_type":"friend","user_id":1000005,"comment":"let me in","flag":"friend:%d"}`, fid)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("friend request:\n got %s\nwant %s", got, want)
	}

	jid, err := w.sim.Apply(sim.DaveID, sim.GroupOwnedID, yunhu.ChatTypeGroup, "join?")
	if err != nil {
		t.Fatal(err)
	}
	ev = b.nextOf(t, "request")
	want = fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"request","request_type":"group","sub_type":"add","group_id":100000001,"user_id":1000005,"comment":"join?","flag":"group_add:%d"}`, jid)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("join request:\n got %s\nwant %s", got, want)
	}

	iid, err := w.sim.Invite(sim.AliceID, sim.SelfID, sim.GroupAdminID)
	if err != nil {
		t.Fatal(err)
	}
	ev = b.nextOf(t, "request")
	want = fmt.Sprintf(`{"time":T,"self_id":1000001,"post_type":"request","request_type":"group","sub_type":"invite","group_id":100000002,"user_id":1000002,"comment":"","flag":"group_invite:%d"}`, iid)
	if got := w.normalize(ev.raw); got != want {
		t.Errorf("invitation:\n got %s\nwant %s", got, want)
	}

	// Another invite_apply, a reconnect and a restart report nothing again.
	w.sim.PushFrame(sim.SelfID, yunhu.WSCmdInviteApply, "", nil)
	w.sim.DropAll()
	b.marker(t, "marker 1")
	if err := b.quiet(100 * time.Millisecond); err != nil {
		t.Error(err)
	}
	b.stop()
	b = w.startBridge()
	b.marker(t, "marker 2")
	if err := b.quiet(100 * time.Millisecond); err != nil {
		t.Error(err)
	}
}
