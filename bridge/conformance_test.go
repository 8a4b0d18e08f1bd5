package bridge_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// TestLoginInfoNeverHalfPublished: frameworks call get_login_info the
// moment they connect, which may be while Run (and other calls) log in.
// An answer is either a failure or the whole account: never user_id 0
// beside a known account, nor a name without its id.
func TestLoginInfoNeverHalfPublished(t *testing.T) {
	e := newIdleActEnv(t)
	want := userN(t, sim.SelfID)
	const callers, calls = 4, 50
	var wg sync.WaitGroup
	errs := make(chan string, callers*calls)
	start := make(chan struct{})
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range calls {
				r := e.call("get_login_info", nil)
				if r.Status != onebot.StatusOK {
					continue
				}
				info := decode[struct {
					UserID   int64  `json:"user_id"`
					Nickname string `json:"nickname"`
				}](t, r.Data)
				if info.UserID != want || info.Nickname != "Sim Self" {
					errs <- string(r.Data)
				}
			}
		}()
	}
	close(start)
	e.start()
	wg.Wait()
	close(errs)
	for bad := range errs {
		t.Errorf("get_login_info during login answered %s; want user_id %d, nickname Sim Self", bad, want)
	}
}

// TestMemberListPastShortPages: Yunhu may serve fewer members per page
// than asked, and leave total out; a 23-member group must list 23 with
// the server's page at 20 (one short of the client's 50) and at 7.
func TestMemberListPastShortPages(t *testing.T) {
	e := newActEnv(t)
	if _, err := e.sim.AddMembers(sim.GroupOwnedID, 19); err != nil {
		t.Fatal(err)
	}
	g := e.groupN(sim.GroupOwnedID)
	for _, pageMax := range []int{20, 7} {
		e.sim.SetPaging(pageMax, true)
		list := decode[[]struct {
			UserID int64 `json:"user_id"`
		}](t, e.ok("get_group_member_list", map[string]any{"group_id": g, "no_cache": true}))
		ids := map[int64]bool{}
		for _, m := range list {
			ids[m.UserID] = true
		}
		if len(list) != 23 || len(ids) != 23 {
			t.Errorf("page of %d: %d members (%d distinct), want 23", pageMax, len(list), len(ids))
		}
		info := decode[struct {
			MemberCount int `json:"member_count"`
		}](t, e.ok("get_group_info", map[string]any{"group_id": g, "no_cache": true}))
		if info.MemberCount != 23 {
			t.Errorf("page of %d: member_count %d, want 23", pageMax, info.MemberCount)
		}
	}
}

// TestHistoryPastShortPages: a history read of 25 gets 25 messages when
// Yunhu serves 7 a page.
func TestHistoryPastShortPages(t *testing.T) {
	e := newActEnv(t)
	for i := range 30 {
		if _, err := e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("h", i)}); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.SetPaging(7, true)
	h := decode[struct {
		Messages []struct {
			RawMessage string `json:"raw_message"`
		} `json:"messages"`
	}](t, e.ok("get_group_msg_history", map[string]any{"group_id": e.groupN(sim.GroupOwnedID), "count": 25}))
	if len(h.Messages) != 25 {
		t.Fatalf("%d messages, want 25", len(h.Messages))
	}
	for i, m := range h.Messages {
		if want := fmt.Sprint("h", i+5); m.RawMessage != want {
			t.Errorf("message %d = %q, want %q (oldest first, the newest 25)", i, m.RawMessage, want)
		}
	}
}

// until returns the events before the first message event whose text is
// marker (the marker itself left out): a marker injected after an action
// closes the events that action caused, since pushes arrive in order.
func until(t *testing.T, e *actEnv, events <-chan map[string]any, marker string) []map[string]any {
	t.Helper()
	e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: marker})
	var out []map[string]any
	for {
		ev := nextEvent(t, events)
		if ev["post_type"] == "message" && ev["raw_message"] == marker {
			return out
		}
		out = append(out, ev)
	}
}

// recallNotices returns the recall notices among evs.
func recallNotices(evs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if n := ev["notice_type"]; n == "group_recall" || n == "friend_recall" {
			out = append(out, ev)
		}
	}
	return out
}

// TestOwnRecallNotices: a recall the account makes with delete_msg (or
// delete_msg_batch) reports the account as operator_id, and a message sent
// as several Yunhu messages gives one notice, with the message_id the bot
// was given; a recall by someone else keeps the author as operator.
func TestOwnRecallNotices(t *testing.T) {
	e := newActEnv(t)
	events := e.events()
	self := userN(t, sim.SelfID)
	bob := userN(t, sim.BobID)
	num := func(v any) int64 { f, _ := v.(float64); return int64(f) }
	check := func(what string, evs []map[string]any, id int32, user, operator int64) {
		t.Helper()
		n := recallNotices(evs)
		if len(n) != 1 {
			t.Fatalf("%s: %d recall notices, want 1: %v", what, len(n), n)
		}
		ev := n[0]
		if num(ev["message_id"]) != int64(id) || num(ev["user_id"]) != user || num(ev["operator_id"]) != operator {
			t.Errorf("%s: notice %v, want message_id %d user_id %d operator_id %d", what, ev, id, user, operator)
		}
	}

	// A message sent as four Yunhu messages, recalled by its sender.
	g := e.groupN(sim.GroupOwnedID)
	img := b64(pngBytes(t, 1, 1))
	split := e.send("send_group_msg", map[string]any{"group_id": g, "message": "look:[CQ:image,file=" + img + "]\n[CQ:image,file=" + img + "]and this"})
	e.ok("delete_msg", map[string]any{"message_id": split})
	check("own split message", until(t, e, events, "m1"), split, self, self)

	// Bob's message recalled by the account as an admin.
	_, bobs := e.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupAdminID, Text: "spam"})
	until(t, e, events, "m2")
	e.ok("delete_msg", map[string]any{"message_id": bobs})
	check("member's message by the admin", until(t, e, events, "m3"), bobs, bob, self)

	// delete_msg_batch, likewise.
	_, bobs2 := e.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupAdminID, Text: "spam 2"})
	split2 := e.send("send_group_msg", map[string]any{"group_id": e.groupN(sim.GroupAdminID), "message": "a[CQ:image,file=" + img + "]b"})
	until(t, e, events, "m4")
	e.ok("delete_msg_batch", map[string]any{"message_ids": []any{bobs2, split2}})
	evs := recallNotices(until(t, e, events, "m5"))
	if len(evs) != 2 {
		t.Fatalf("delete_msg_batch of 2 messages: %d notices: %v", len(evs), evs)
	}
	check("batch, Bob's", evs[:1], bobs2, bob, self)
	check("batch, own split", evs[1:], split2, self, self)

	// Bob recalls his own: the operator is Bob, as before.
	rec, bobs3 := e.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupAdminID, Text: "typo"})
	until(t, e, events, "m6")
	if err := e.sim.Recall(sim.BobID, rec.MsgID); err != nil {
		t.Fatal(err)
	}
	check("Bob's own recall", until(t, e, events, "m7"), bobs3, bob, bob)
}

// TestRefusedSendLeavesNoRecord: a send Yunhu refuses leaves nothing a bot
// can read back (get_msg of every id the bridge handed out or skipped);
// a send whose reply was lost after Yunhu stored it is hidden until its
// echo arrives, and the echo's message_sent carries an id get_msg then
// answers.
func TestRefusedSendLeavesNoRecord(t *testing.T) {
	e := newActEnv(t, func(o *bridge.Options) { o.ReportSelfMessage = true })
	events := e.events()
	alice, dave := userN(t, sim.AliceID), userN(t, sim.DaveID)
	first := e.send("send_private_msg", map[string]any{"user_id": alice, "message": "before"})
	r := e.fail("send_private_msg", map[string]any{"user_id": dave, "message": "refused"}, 100)
	if !strings.Contains(r.Message, "对方不是你的好友") {
		t.Fatalf("refusal %q", r.Message)
	}
	// Every retry fails before Yunhu stores anything: ambiguous to the
	// bridge, so the record stays, hidden.
	e.sim.FailNext(3, 502, yunhu.PathSendMessage)
	e.fail("send_private_msg", map[string]any{"user_id": alice, "message": "lost"}, 100)
	last := e.send("send_private_msg", map[string]any{"user_id": alice, "message": "after"})
	for id := first + 1; id < last; id++ {
		r := e.call("get_msg", map[string]any{"message_id": id})
		if r.Status == onebot.StatusOK {
			t.Errorf("get_msg %d of a message never sent answered %s", id, r.Data)
		}
		e.fail("delete_msg", map[string]any{"message_id": id}, 1400)
	}
	h := decode[struct {
		Messages []struct {
			RawMessage string `json:"raw_message"`
		} `json:"messages"`
	}](t, e.ok("get_history_msg", map[string]any{"message_type": "private", "user_id": alice, "count": 20}))
	for _, m := range h.Messages {
		if m.RawMessage == "refused" || m.RawMessage == "lost" {
			t.Errorf("history lists %q", m.RawMessage)
		}
	}

	// Stored by Yunhu, every reply lost: the send fails, the echo comes.
	e.sim.FailNextAfterCommit(3, 502, yunhu.PathSendMessage)
	e.fail("send_private_msg", map[string]any{"user_id": alice, "message": "went out"}, 100)
	var echoed float64
	for echoed == 0 {
		ev := nextEvent(t, events)
		if ev["post_type"] == "message_sent" && ev["raw_message"] == "went out" {
			echoed, _ = ev["message_id"].(float64)
		}
	}
	got := decode[struct {
		RawMessage string `json:"raw_message"`
	}](t, e.ok("get_msg", map[string]any{"message_id": int32(echoed)}))
	if got.RawMessage != "went out" {
		t.Errorf("get_msg of the echoed id: %q", got.RawMessage)
	}
}

// TestStrangerInfoOfBot: a bot's id, as get_friend_list lists it and as
// the user_id of its private messages, answers get_stranger_info with the
// bot's profile, whether or not the bridge has met the bot yet.
func TestStrangerInfoOfBot(t *testing.T) {
	e := newActEnv(t)
	type info struct {
		UserID   int64  `json:"user_id"`
		Nickname string `json:"nickname"`
	}
	bot := userN(t, sim.BotID)
	// Not met yet: nothing has listed the address book.
	if got := decode[info](t, e.ok("get_stranger_info", map[string]any{"user_id": bot})); got.UserID != bot || got.Nickname != "EchoBot" {
		t.Errorf("bot not met yet: %+v", got)
	}
	friends := decode[[]info](t, e.ok("get_friend_list", nil))
	listed := false
	for _, f := range friends {
		if f.UserID == bot {
			listed = true
			if got := decode[info](t, e.ok("get_stranger_info", map[string]any{"user_id": f.UserID})); got != f {
				t.Errorf("get_stranger_info %+v, get_friend_list %+v", got, f)
			}
		}
	}
	if !listed {
		t.Fatalf("get_friend_list %+v lists no bot %d", friends, bot)
	}
	// A stranger that is no bot still fails as before.
	e.fail("get_stranger_info", map[string]any{"user_id": 99999999}, 100)
}

// TestMentionSpacingRoundTrips: the official clients write "@name " before
// the text (as the sandbox's at= does). A message event of such a text,
// sent back as it came, writes the same Yunhu text, and that text read
// back gives the same segments; a framework's "[CQ:at,qq=X] hi" gets one
// space after the name, not two.
func TestMentionSpacingRoundTrips(t *testing.T) {
	e := newActEnv(t)
	events := e.events()
	g := e.groupN(sim.GroupOwnedID)
	alice, bob := sim.AliceID, sim.BobID
	// event returns the raw_message of the next message event.
	event := func(from, text string, mentions ...string) string {
		t.Helper()
		e.inject(sim.Message{From: from, ChatID: sim.GroupOwnedID, Content: &yunhupb.MsgContent{Text: text, MentionedId: mentions}})
		for {
			if ev := nextEvent(t, events); ev["post_type"] == "message" {
				raw, _ := ev["raw_message"].(string)
				return raw
			}
		}
	}
	// sendBack sends raw into the group and returns the Yunhu text written.
	sendBack := func(raw string) string {
		t.Helper()
		before := len(e.sim.Sent())
		e.send("send_group_msg", map[string]any{"group_id": g, "message": raw})
		return e.sent(before)[0].Request.Content.GetText()
	}
	for _, c := range []struct {
		official string // as an official client writes it
		mentions []string
		event    string
	}{
		{"@Alice hi", []string{alice}, "[CQ:at,qq=1000002] hi"},
		{"@Alice @Bob hi", []string{alice, bob}, "[CQ:at,qq=1000002] [CQ:at,qq=1000003] hi"},
		{"hi @Alice ", []string{alice}, "hi [CQ:at,qq=1000002]"},
		{"@Alice  two spaces", []string{alice}, "[CQ:at,qq=1000002]  two spaces"},
	} {
		got := event(sim.CarolID, c.official, c.mentions...)
		if got != c.event {
			t.Errorf("%q read as %q, want %q", c.official, got, c.event)
		}
		written := sendBack(got)
		if written != c.official {
			t.Errorf("event %q sent back wrote %q, the official client wrote %q", got, written, c.official)
		}
		if again := event(sim.CarolID, written, c.mentions...); again != got {
			t.Errorf("%q read back as %q, first read %q", written, again, got)
		}
	}
	// What frameworks write: one space after the name either way.
	for raw, want := range map[string]string{
		"[CQ:at,qq=1000002] hi": "@Alice hi",
		"[CQ:at,qq=1000002]hi":  "@Alice hi",
		"[CQ:at,qq=1000002]":    "@Alice ",
	} {
		if got := sendBack(raw); got != want {
			t.Errorf("%q wrote %q, want %q", raw, got, want)
		}
	}
}

// TestGetMsgSenderMatchesEvent: get_msg, get_history_msg and
// get_group_msg_history describe a message's sender as its message event
// did, field by field (nickname the user's name, card the group
// nickname, role), plus Shamrock's uid and target_id; send_* answer the
// time get_msg then reports.
func TestGetMsgSenderMatchesEvent(t *testing.T) {
	e := newActEnv(t)
	events := e.events()
	next := func() map[string]any {
		t.Helper()
		for {
			if ev := nextEvent(t, events); ev["post_type"] == "message" {
				return ev
			}
		}
	}
	num := func(v any) int64 { f, _ := v.(float64); return int64(f) }
	same := func(what string, ev, got map[string]any) {
		t.Helper()
		evSender, _ := ev["sender"].(map[string]any)
		gotSender, _ := got["sender"].(map[string]any)
		if len(evSender) == 0 {
			t.Fatalf("%s: event has no sender: %v", what, ev)
		}
		for k, v := range evSender {
			if gv, ok := gotSender[k]; !ok || gv != v {
				t.Errorf("%s: sender.%s = %v (present %v), the event has %v", what, k, gv, ok, v)
			}
		}
		for _, k := range []string{"time", "message_type", "message_id", "raw_message", "user_id", "group_id"} {
			if got[k] != ev[k] {
				t.Errorf("%s: %s = %v, the event has %v", what, k, got[k], ev[k])
			}
		}
		if gotSender["uid"] == "" || gotSender["uid"] == nil {
			t.Errorf("%s: sender.uid missing: %v", what, gotSender)
		}
	}
	historyEntry := func(action string, params map[string]any, id int64) map[string]any {
		t.Helper()
		var h struct {
			Messages []map[string]any `json:"messages"`
		}
		if err := json.Unmarshal(e.ok(action, params), &h); err != nil {
			t.Fatal(err)
		}
		for _, m := range h.Messages {
			if num(m["message_id"]) == id {
				return m
			}
		}
		t.Fatalf("%s %v: no message %d in %v", action, params, id, h.Messages)
		return nil
	}
	getMsg := func(id int64) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(e.ok("get_msg", map[string]any{"message_id": id}), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	// Carol has a group nickname in big; Alice is an admin of owned.
	for _, c := range []struct{ from, group, role, card string }{
		{sim.CarolID, sim.GroupBigID, "member", "Carol in big"},
		{sim.AliceID, sim.GroupOwnedID, "admin", ""},
	} {
		// As a framework does at start; without it the first message
		// of a group carries the fallback role member (members.go).
		e.ok("get_group_member_list", map[string]any{"group_id": e.groupN(c.group)})
		e.sim.Inject(sim.Message{From: c.from, ChatID: c.group, Text: "hello from " + c.from})
		ev := next()
		s, _ := ev["sender"].(map[string]any)
		if s["role"] != c.role || s["card"] != c.card || s["nickname"] != e.sim.User(c.from).Name {
			t.Errorf("event sender %v, want role %s card %q nickname %s", s, c.role, c.card, e.sim.User(c.from).Name)
		}
		id := num(ev["message_id"])
		same("get_msg in "+c.group, ev, getMsg(id))
		g := e.groupN(c.group)
		same("get_group_msg_history in "+c.group, ev, historyEntry("get_group_msg_history", map[string]any{"group_id": g}, id))
		same("get_history_msg in "+c.group, ev, historyEntry("get_history_msg", map[string]any{"message_type": "group", "group_id": g}, id))
	}

	// Private: the event's sender, and target_id the peer (Shamrock).
	e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "hi in private"})
	ev := next()
	got := getMsg(num(ev["message_id"]))
	same("private get_msg", ev, got)
	if alice := userN(t, sim.AliceID); num(got["target_id"]) != alice || num(got["peer_id"]) != alice {
		t.Errorf("private get_msg target_id %v peer_id %v, want %d", got["target_id"], got["peer_id"], alice)
	}
	if s, _ := got["sender"].(map[string]any); s["uid"] != sim.AliceID {
		t.Errorf("sender.uid %v, want %s", s["uid"], sim.AliceID)
	}

	// send_* answer the time of the send; get_msg reports it, or Yunhu's
	// own once the echo has come, which is no earlier.
	var sent struct {
		MessageID int64 `json:"message_id"`
		Time      int64 `json:"time"`
	}
	before := time.Now().Unix()
	if err := json.Unmarshal(e.ok("send_group_msg", map[string]any{"group_id": e.groupN(sim.GroupOwnedID), "message": "timed"}), &sent); err != nil {
		t.Fatal(err)
	}
	gm := num(getMsg(sent.MessageID)["time"])
	after := time.Now().Unix()
	if sent.Time < before || sent.Time > after || gm < sent.Time || gm > after {
		t.Errorf("send_group_msg time %d, get_msg time %d, sent within [%d, %d]", sent.Time, gm, before, after)
	}
}
