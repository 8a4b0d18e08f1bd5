package bridge_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// getMsgData is get_msg's data as a client reads it.
type getMsgData struct {
	Time        int64  `json:"time"`
	MessageType string `json:"message_type"`
	MessageID   int32  `json:"message_id"`
	RealID      int32  `json:"real_id"`
	Sender      struct {
		UserID   int64  `json:"user_id"`
		Nickname string `json:"nickname"`
	} `json:"sender"`
	Message    json.RawMessage `json:"message"`
	RawMessage string          `json:"raw_message"`
	GroupID    *int64          `json:"group_id"`
	UserID     int64           `json:"user_id"`
	PeerID     int64           `json:"peer_id"`
}

func TestSendActions(t *testing.T) {
	e := newActEnv(t)
	alice, owned := userN(t, sim.AliceID), e.groupN(sim.GroupOwnedID)
	big := e.groupN(sim.GroupBigID)
	if big < 1<<52 {
		t.Fatalf("group big got %d, want an alias", big)
	}
	cases := []struct {
		action   string
		params   map[string]any
		chatID   string
		chatType int32
	}{
		{"send_private_msg", map[string]any{"user_id": alice, "message": "p"}, sim.AliceID, yunhu.ChatTypeUser},
		{"send_private_msg", map[string]any{"user_id": sim.AliceID, "message": "p"}, sim.AliceID, yunhu.ChatTypeUser}, // id as a string
		{"send_group_msg", map[string]any{"group_id": owned, "message": "g"}, sim.GroupOwnedID, yunhu.ChatTypeGroup},
		{"send_group_msg", map[string]any{"group_id": strconv.FormatInt(big, 10), "message": "g"}, sim.GroupBigID, yunhu.ChatTypeGroup}, // Koishi: big ids as strings
		{"send_msg", map[string]any{"group_id": big, "message": "m"}, sim.GroupBigID, yunhu.ChatTypeGroup},
		{"send_msg", map[string]any{"user_id": alice, "message": "m"}, sim.AliceID, yunhu.ChatTypeUser},
		{"send_msg", map[string]any{"message_type": "private", "user_id": alice, "group_id": owned, "message": "m"}, sim.AliceID, yunhu.ChatTypeUser},
		{"send_msg", map[string]any{"message_type": "group", "user_id": alice, "group_id": owned, "message": "m"}, sim.GroupOwnedID, yunhu.ChatTypeGroup},
		// A bot the bridge has not met yet: the address book tells.
		{"send_private_msg", map[string]any{"user_id": userN(t, sim.BotID), "message": "hi bot"}, sim.BotID, yunhu.ChatTypeBot},
	}
	for _, c := range cases {
		id := e.send(c.action, c.params)
		r := e.lastSent().Request
		if r.ChatId != c.chatID || r.ChatType != c.chatType {
			t.Errorf("%s %v: sent to %s/%d", c.action, c.params, r.ChatId, r.ChatType)
		}
		// Durable before the response: the store has the record.
		rec, err := e.store.Message(id)
		if err != nil || rec.MsgID != r.MsgId || !rec.Self || rec.SenderID != sim.SelfID || rec.Conv != simConvKey(c.chatType, c.chatID) {
			t.Errorf("%s: record %+v, %v", c.action, rec, err)
		}
	}

	for params, want := range map[string]string{
		`{"message":"x"}`: "message_type",
		`{"message_type":"discuss","user_id":1,"message":"x"}`: "message_type",
		`{"message_type":"group","user_id":1,"message":"x"}`:   "group_id",
		`{"user_id":1000002}`:                         "message",
		`{"user_id":"x","message":"m"}`:               "user_id",
		`{"group_id":4503599627370999,"message":"m"}`: "group_id",
	} {
		r := e.router.Handle(e.ctx, "send_msg", json.RawMessage(params))
		if r.Retcode != 1400 || !strings.Contains(r.Message, want) {
			t.Errorf("send_msg %s: %d %q, want 1400 naming %s", params, r.Retcode, r.Message, want)
		}
	}
	r := e.fail("send_private_msg", map[string]any{"user_id": userN(t, sim.DaveID), "message": "stranger"}, 100)
	if !strings.Contains(r.Message, "对方不是你的好友") {
		t.Errorf("Yunhu's refusal not passed on: %q", r.Message)
	}
}

// TestSendRetryIsIdempotent: the reply of send-message is lost after the
// server stored it; the client retries with the same msg_id and Yunhu
// does not store a second message.
func TestSendRetryIsIdempotent(t *testing.T) {
	e := newActEnv(t)
	e.sim.FailNextAfterCommit(1, 502, yunhu.PathSendMessage)
	id := e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": "once"})
	var n int
	for _, r := range e.sim.History(sim.SelfID, sim.AliceID, yunhu.ChatTypeUser) {
		if r.Content.GetText() == "once" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d copies stored", n)
	}
	rec, _ := e.store.Message(id)
	if _, ok := e.sim.Lookup(rec.MsgID); !ok {
		t.Error("message_id does not name the stored message")
	}
}

func TestGetMsg(t *testing.T) {
	e := newActEnv(t)
	owned := e.groupN(sim.GroupOwnedID)
	id := e.send("send_group_msg", map[string]any{"group_id": owned, "message": "hi [CQ:at,qq=1000002]"})
	got := decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": id}))
	if got.MessageID != id || got.RealID != id || got.MessageType != "group" || got.GroupID == nil || *got.GroupID != owned ||
		got.Sender.UserID != userN(t, sim.SelfID) || got.Sender.Nickname != "Sim Self" || got.UserID != got.Sender.UserID || got.PeerID != owned {
		t.Fatalf("get_msg %+v", got)
	}
	if d := time.Since(time.Unix(got.Time, 0)); d < 0 || d > time.Minute {
		t.Errorf("time %d", got.Time)
	}
	if string(got.Message) != `[{"type":"text","data":{"text":"hi "}},{"type":"at","data":{"qq":"1000002"}}]` || got.RawMessage != "hi [CQ:at,qq=1000002]" {
		t.Errorf("message %s / %s", got.Message, got.RawMessage)
	}

	_, in := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "private"})
	got = decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": in}))
	if got.MessageType != "private" || got.GroupID != nil || got.Sender.UserID != userN(t, sim.AliceID) || got.PeerID != userN(t, sim.AliceID) {
		t.Errorf("private get_msg %+v", got)
	}

	e.fail("get_msg", map[string]any{"message_id": 99999}, 1400)
	e.fail("get_msg", map[string]any{}, 1400)
}

// TestGetMsgFetchesMissingBody: a record without a body is completed from
// Yunhu.
func TestGetMsgFetchesMissingBody(t *testing.T) {
	e := newActEnv(t)
	e.sim.SilenceAll() // the push never reaches the bridge
	rec, err := e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "fetched"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.store.PutMessage(e.ctx, store.Message{Conv: simConvKey(yunhu.ChatTypeGroup, sim.GroupOwnedID), MsgID: rec.MsgID})
	if err != nil {
		t.Fatal(err)
	}
	got := decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": id}))
	if got.RawMessage != "fetched" || got.Sender.UserID != userN(t, sim.AliceID) || got.Sender.Nickname != "Alice" {
		t.Fatalf("get_msg %+v", got)
	}
	if stored, _ := e.store.Message(id); len(stored.Body) == 0 {
		t.Error("body not stored")
	}
}

func TestGetMsgStringFormat(t *testing.T) {
	e := newActEnv(t, func(o *bridge.Options) { o.PostFormat = "string" })
	id := e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{seg("text", map[string]any{"text": "[x]"})}})
	got := decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": id}))
	if string(got.Message) != `"&#91;x&#93;"` {
		t.Errorf("message %s", got.Message)
	}
}

func TestDeleteMsg(t *testing.T) {
	e := newActEnv(t)
	// Own message.
	id := e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": "oops"})
	e.ok("delete_msg", map[string]any{"message_id": id})
	rec, _ := e.store.Message(id)
	if r, _ := e.sim.Lookup(rec.MsgID); r.RecallTime == 0 {
		t.Error("own message not recalled")
	}
	// Another member's, as an admin.
	in, inID := e.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupAdminID, Text: "spam"})
	e.ok("delete_msg", map[string]any{"message_id": strconv.Itoa(int(inID))})
	if r, _ := e.sim.Lookup(in.MsgID); r.RecallTime == 0 {
		t.Error("member's message not recalled")
	}
	// Not allowed: self is a plain member of big.
	_, bobs := e.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupBigID, Text: "owner speaks"})
	r := e.fail("delete_msg", map[string]any{"message_id": bobs}, 100)
	if !strings.Contains(r.Message, "无权撤回该消息") {
		t.Errorf("Yunhu's refusal not passed on: %q", r.Message)
	}
	e.fail("delete_msg", map[string]any{"message_id": 123456}, 1400)
}

func TestMarkMsgAsReadAndClearMsgs(t *testing.T) {
	e := newActEnv(t)
	_, id := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "unread"})
	e.ok("mark_msg_as_read", map[string]any{"message_id": id})
	e.ok("mark_msg_as_read", map[string]any{"user_id": userN(t, sim.AliceID)})
	if n := countRequests(e, yunhu.PathDismissNotification); n != 2 {
		t.Errorf("%d dismiss-notification calls", n)
	}
	e.fail("mark_msg_as_read", map[string]any{}, 1400)
	e.ok("clear_msgs", map[string]any{"message_type": "group", "group_id": e.groupN(sim.GroupOwnedID)})
	e.fail("clear_msgs", map[string]any{"group_id": 4503599627370999}, 1400)
}
