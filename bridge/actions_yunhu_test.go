package bridge_test

import (
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

func TestEditMsg(t *testing.T) {
	e := newActEnv(t)
	alice := userN(t, sim.AliceID)
	id := e.send("send_private_msg", map[string]any{"user_id": alice, "message": "frist"})
	rec, _ := e.store.Message(id)
	e.ok("edit_msg", map[string]any{"message_id": id, "message": "first"})
	e.ok("edit_msg", map[string]any{"message_id": id, "message": []any{seg("markdown", map[string]any{"content": "**first**"})}})
	if r, _ := e.sim.Lookup(rec.MsgID); r.Content.GetText() != "**first**" || r.ContentType != yunhu.ContentMarkdown || r.EditTime == 0 {
		t.Fatalf("after edits: %+v", r)
	}
	got := decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": id}))
	if got.RawMessage != "[CQ:markdown,content=**first**]" {
		t.Errorf("stored body after edit: %s", got.RawMessage)
	}

	type edits struct {
		Total int `json:"total"`
		Edits []struct {
			Time        int64  `json:"time"`
			ContentType int32  `json:"content_type"`
			RawMessage  string `json:"raw_message"`
		} `json:"edits"`
	}
	h := decode[edits](t, e.ok("get_msg_edit_history", map[string]any{"message_id": id}))
	if h.Total != 2 || len(h.Edits) != 2 || h.Edits[0].RawMessage != "frist" || h.Edits[1].RawMessage != "first" || h.Edits[0].Time == 0 {
		t.Errorf("edit history %+v", h)
	}

	r := e.fail("edit_msg", map[string]any{"message_id": id, "message": "a[CQ:image,file=" + b64(pngBytes(t, 1, 1)) + "]"}, 1400)
	if !strings.Contains(r.Message, "text, markdown or html") {
		t.Errorf("edit into two messages: %s", r.Message)
	}
	_, theirs := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "hers"})
	e.fail("edit_msg", map[string]any{"message_id": theirs, "message": "mine now"}, 1400)
	e.fail("edit_msg", map[string]any{"message_id": id}, 1400)
}

func TestDeleteMsgBatch(t *testing.T) {
	e := newActEnv(t)
	a := e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": "1"})
	b := e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": "2"})
	c := e.send("send_group_msg", map[string]any{"group_id": e.groupN(sim.GroupBigID), "message": "3"})
	e.ok("delete_msg_batch", map[string]any{"message_ids": []any{a, itoa(int64(b)), c}})
	for _, id := range []int32{a, b, c} {
		rec, _ := e.store.Message(id)
		if r, _ := e.sim.Lookup(rec.MsgID); r.RecallTime == 0 {
			t.Errorf("message %d not recalled", id)
		}
	}
	if n := countRequests(e, yunhu.PathRecallMessageBatch); n != 2 {
		t.Errorf("%d batch calls, want one per chat", n)
	}
	e.fail("delete_msg_batch", map[string]any{"message_ids": []any{}}, 1400)
	e.fail("delete_msg_batch", map[string]any{"message_ids": []any{a, 99999}}, 1400)
}

func TestForwardMsgAndClickButton(t *testing.T) {
	e := newActEnv(t)
	_, src := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupAdminID, Text: "pass it on"})
	e.ok("forward_msg", map[string]any{"message_id": src, "targets": []any{
		map[string]any{"group_id": e.groupN(sim.GroupBigID)}, map[string]any{"user_id": userN(t, sim.BobID)},
	}})
	for _, c := range []struct {
		id  string
		typ int32
	}{{sim.GroupBigID, yunhu.ChatTypeGroup}, {sim.BobID, yunhu.ChatTypeUser}} {
		h := e.sim.History(sim.SelfID, c.id, c.typ)
		if len(h) == 0 || h[len(h)-1].Content.GetText() != "pass it on" {
			t.Errorf("no copy in %s", c.id)
		}
	}
	e.fail("forward_msg", map[string]any{"message_id": src, "targets": []any{map[string]any{}}}, 1400)
	e.fail("forward_msg", map[string]any{"message_id": src}, 1400)

	_, botMsg := e.inject(sim.Message{From: sim.BotID, ChatID: sim.SelfID, ChatType: yunhu.ChatTypeBot, Text: "pick"})
	e.ok("click_button", map[string]any{"message_id": botMsg, "value": "yes"})
	if countRequests(e, yunhu.PathButtonReport) != 1 {
		t.Error("no button report")
	}
	e.fail("click_button", map[string]any{"message_id": botMsg}, 1400)
}
