package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

type historyData struct {
	Messages []getMsgData `json:"messages"`
}

func texts(t *testing.T, h historyData) []string {
	t.Helper()
	var out []string
	for _, m := range h.Messages {
		out = append(out, m.RawMessage)
	}
	return out
}

func TestGroupMsgHistory(t *testing.T) {
	e := newActEnv(t)
	g := e.groupN(sim.GroupOwnedID)
	var recs []string
	for i := 1; i <= 6; i++ {
		rec, err := e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("m", i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec.MsgID)
	}
	// m7 is already known to the bridge; m4 is recalled.
	_, seen := e.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: "m7"})
	if err := e.sim.Recall(sim.AliceID, recs[3]); err != nil {
		t.Fatal(err)
	}

	h := decode[historyData](t, e.ok("get_group_msg_history", map[string]any{"group_id": g, "count": 4}))
	if got := strings.Join(texts(t, h), ","); got != "m5,m6,m7" {
		t.Fatalf("newest 4 minus the recalled: %s", got)
	}
	last := h.Messages[len(h.Messages)-1]
	if last.MessageID != seen || last.Sender.UserID != userN(t, sim.BobID) || last.GroupID == nil || *last.GroupID != g {
		t.Errorf("entry %+v, want message_id %d", last, seen)
	}
	// Every entry has a message_id that get_msg knows.
	for _, m := range h.Messages {
		got := decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": m.MessageID}))
		if got.RawMessage != m.RawMessage {
			t.Errorf("get_msg %d: %q, history said %q", m.MessageID, got.RawMessage, m.RawMessage)
		}
	}
	// message_seq: the page ends with that message (go-cqhttp).
	h = decode[historyData](t, e.ok("get_group_msg_history", map[string]any{"group_id": g, "message_seq": h.Messages[0].MessageID, "count": 3}))
	if got := strings.Join(texts(t, h), ","); got != "m3,m5" {
		t.Errorf("before m5: %s", got)
	}
	// Shamrock's action, and the whole history by default.
	h = decode[historyData](t, e.ok("get_history_msg", map[string]any{"message_type": "group", "group_id": g}))
	if got := strings.Join(texts(t, h), ","); got != "m1,m2,m3,m5,m6,m7" {
		t.Errorf("default count: %s", got)
	}

	_, elsewhere := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupAdminID, Text: "x"})
	if r := e.fail("get_group_msg_history", map[string]any{"group_id": g, "message_seq": elsewhere}, 1400); !strings.Contains(r.Message, "message_seq") {
		t.Errorf("other chat: %s", r.Message)
	}
	e.fail("get_group_msg_history", map[string]any{}, 1400)
	e.fail("get_history_msg", map[string]any{"message_type": "group"}, 1400)
}

func TestPrivateHistory(t *testing.T) {
	e := newActEnv(t)
	alice := userN(t, sim.AliceID)
	e.send("send_private_msg", map[string]any{"user_id": alice, "message": "q [CQ:at,qq=1000002]"})
	rec, err := e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "a"})
	if err != nil {
		t.Fatal(err)
	}
	h := decode[historyData](t, e.ok("get_history_msg", map[string]any{"message_type": "private", "user_id": alice, "count": 10}))
	if got := strings.Join(texts(t, h), ","); got != "q [CQ:at,qq=1000002],a" {
		t.Fatalf("history %s", got)
	}
	if h.Messages[0].Sender.UserID != userN(t, sim.SelfID) || h.Messages[1].Sender.UserID != alice || h.Messages[1].MessageType != "private" {
		t.Errorf("senders %+v", h.Messages)
	}
	// The listed message got its id in the chat's key, as ingest would.
	id, err := e.store.MessageID(simConvKey(yunhu.ChatTypeUser, sim.AliceID), rec.MsgID)
	if err != nil || id != h.Messages[1].MessageID {
		t.Errorf("stored as %d (%v), listed as %d", id, err, h.Messages[1].MessageID)
	}
	// The same call again maps to the same ids.
	h2 := decode[historyData](t, e.ok("get_history_msg", map[string]any{"user_id": alice}))
	if len(h2.Messages) != 2 || h2.Messages[1].MessageID != id {
		t.Errorf("second call %+v", h2.Messages)
	}
}

// TestHistoryBeforeEvent: a message the bot reads in history before the
// bridge has received it (the push socket was down) still arrives as an
// event after the reconnect, once, with the message_id history gave it.
func TestHistoryBeforeEvent(t *testing.T) {
	e := newActEnv(t)
	events := e.events()
	g := e.groupN(sim.GroupOwnedID)
	e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "before"})
	if ev := nextEvent(t, events); ev["raw_message"] != "before" {
		t.Fatalf("event %v", ev)
	}
	e.sim.SilenceAll()
	if _, err := e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "missed"}); err != nil {
		t.Fatal(err)
	}
	h := decode[historyData](t, e.ok("get_group_msg_history", map[string]any{"group_id": g, "count": 1}))
	if len(h.Messages) != 1 || h.Messages[0].RawMessage != "missed" {
		t.Fatalf("history %+v", h)
	}
	logins := e.sim.Logins(sim.SelfID)
	e.sim.DropAll()
	waitFor(t, "reconnect", func() bool { return e.sim.Logins(sim.SelfID) > logins })
	ev := nextEvent(t, events)
	if ev["raw_message"] != "missed" || ev["message_id"] != float64(h.Messages[0].MessageID) {
		t.Fatalf("event %v, want message_id %d", ev, h.Messages[0].MessageID)
	}
	e.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "marker"})
	if ev := nextEvent(t, events); ev["raw_message"] != "marker" {
		t.Fatalf("event before the marker: %v", ev)
	}
}

// TestBotHistory: the history of a private chat with a bot, asked for
// before the bridge has met the bot.
func TestBotHistory(t *testing.T) {
	e := newActEnv(t)
	e.sim.SilenceAll() // the bridge must learn about the bot elsewhere
	if _, err := e.sim.Inject(sim.Message{From: sim.BotID, ChatID: sim.SelfID, ChatType: yunhu.ChatTypeBot, Text: "beep"}); err != nil {
		t.Fatal(err)
	}
	h := decode[historyData](t, e.ok("get_history_msg", map[string]any{"message_type": "private", "user_id": userN(t, sim.BotID)}))
	if len(h.Messages) != 1 || h.Messages[0].RawMessage != "beep" || h.Messages[0].Sender.UserID != userN(t, sim.BotID) {
		t.Fatalf("bot history %+v", h)
	}
}

func TestSendForwardMsg(t *testing.T) {
	e := newActEnv(t)
	owned, admin := e.groupN(sim.GroupOwnedID), e.groupN(sim.GroupAdminID)
	_, src := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupAdminID, Text: "worth forwarding"})
	before := len(e.sim.History(sim.SelfID, sim.GroupOwnedID, yunhu.ChatTypeGroup))

	data := e.ok("send_group_forward_msg", map[string]any{"group_id": owned, "messages": []any{
		seg("node", map[string]any{"name": "Alice", "uin": "1000002", "content": "line one\nline two"}),
		seg("node", map[string]any{"name": "Bob", "uin": "1000003", "content": []any{seg("text", map[string]any{"text": "pic: "}), seg("image", map[string]any{"file": "https://example.com/a.png"})}}),
		seg("node", map[string]any{"id": src}),
		seg("node", map[string]any{"name": "Carol", "content": "[CQ:face,id=1]"}),
	}})
	hist := e.sim.History(sim.SelfID, sim.GroupOwnedID, yunhu.ChatTypeGroup)[before:]
	if len(hist) != 3 {
		t.Fatalf("%d messages in the target, want markdown, forwarded copy, markdown", len(hist))
	}
	want0 := "> **Alice**: line one\n> line two\n\n> **Bob**: pic: ![图片](https://example.com/a.png)"
	if hist[0].ContentType != yunhu.ContentMarkdown || hist[0].Content.GetText() != want0 {
		t.Errorf("rendered nodes %d %q", hist[0].ContentType, hist[0].Content.GetText())
	}
	if hist[1].Content.GetText() != "worth forwarding" || hist[1].SenderID != sim.SelfID {
		t.Errorf("forwarded copy %+v", hist[1])
	}
	if hist[2].Content.GetText() != "> **Carol**: [表情]" {
		t.Errorf("last node %q", hist[2].Content.GetText())
	}
	res := decode[struct {
		MessageID int32 `json:"message_id"`
	}](t, data)
	if rec, err := e.store.Message(res.MessageID); err != nil || rec.MsgID != hist[0].MsgID {
		t.Errorf("message_id %d is not the first rendered message", res.MessageID)
	}

	// Id nodes only: message_id is the first forwarded copy's, durable, so
	// that get_msg and delete_msg work on it (a 0 broke a later recall).
	for _, c := range []struct {
		action, param string
		n             int64
		chatID        string
		chatType      int32
	}{
		{"send_private_forward_msg", "user_id", userN(t, sim.BobID), sim.BobID, yunhu.ChatTypeUser},
		{"send_group_forward_msg", "group_id", owned, sim.GroupOwnedID, yunhu.ChatTypeGroup},
	} {
		before := len(e.sim.History(sim.SelfID, c.chatID, c.chatType))
		data = e.ok(c.action, map[string]any{c.param: c.n, "messages": []any{seg("node", map[string]any{"id": src}), seg("node", map[string]any{"id": src})}})
		copies := e.sim.History(sim.SelfID, c.chatID, c.chatType)[before:]
		res := decode[struct {
			MessageID int32 `json:"message_id"`
		}](t, data)
		if len(copies) != 2 || res.MessageID == 0 {
			t.Fatalf("%s: %d copies, message_id %d", c.action, len(copies), res.MessageID)
		}
		if rec, err := e.store.Message(res.MessageID); err != nil || rec.MsgID != copies[0].MsgID {
			t.Errorf("%s: message_id %d is %+v (%v), not the first copy %s", c.action, res.MessageID, rec, err, copies[0].MsgID)
		}
		got := decode[struct {
			RawMessage string `json:"raw_message"`
		}](t, e.ok("get_msg", map[string]any{"message_id": res.MessageID}))
		if got.RawMessage != "worth forwarding" {
			t.Errorf("%s: get_msg of the copy: %q", c.action, got.RawMessage)
		}
		e.ok("delete_msg", map[string]any{"message_id": res.MessageID})
		if r, _ := e.sim.Lookup(copies[0].MsgID); r.RecallTime == 0 {
			t.Errorf("%s: delete_msg of the copy's message_id recalled nothing", c.action)
		}
	}
	e.fail("send_group_forward_msg", map[string]any{"group_id": admin, "messages": []any{seg("text", map[string]any{"text": "x"})}}, 1400)
	e.fail("send_group_forward_msg", map[string]any{"group_id": admin, "messages": []any{seg("node", map[string]any{"id": 99999})}}, 1400)
	e.fail("send_group_forward_msg", map[string]any{"group_id": admin}, 1400)
	r := e.fail("get_forward_msg", map[string]any{"id": "x"}, 1404)
	if !strings.Contains(r.Wording, "merged-forward") {
		t.Errorf("get_forward_msg wording %q", r.Wording)
	}
}
