package yunhu

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// memHost is the core as the extensions see it, kept in memory: numeric
// ids stand for themselves, others get numbers from 1<<40 on; messages
// are numbered in the order they are stored; Send encodes and sends
// through the backend as the core's send pipeline does.
type memHost struct {
	b    *Backend
	self platform.Account

	mu        sync.Mutex
	toNum     map[string]int64
	fromNum   map[int64]string
	msgs      []platform.StoredMessage // message_id i+1
	recalling [][]string
}

func newMemHost(b *Backend, self platform.Account) *memHost {
	return &memHost{b: b, self: self, toNum: map[string]int64{}, fromNum: map[int64]string{}}
}

func (h *memHost) Self() platform.Account { return h.self }

func (h *memHost) PlatformID(param string, n int64) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id, ok := h.fromNum[n]; ok {
		return id, nil
	}
	if n > 0 && n < 1<<40 {
		return strconv.FormatInt(n, 10), nil
	}
	return "", onebot.ErrBadParams("%s: %d is not a known id", param, n)
}

func (h *memHost) OneBotID(_ context.Context, id string) (int64, error) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 && n < 1<<40 {
		return n, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.toNum[id]; ok {
		return n, nil
	}
	n := int64(1<<40 + len(h.toNum))
	h.toNum[id], h.fromNum[n] = n, id
	return n, nil
}

func (h *memHost) Stored(param string, id int32) (platform.StoredMessage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id <= 0 || int(id) > len(h.msgs) {
		return platform.StoredMessage{}, onebot.ErrBadParams("%s: %d is not a known message_id", param, id)
	}
	return h.msgs[id-1], nil
}

// put stores a message and returns its message_id.
func (h *memHost) put(m platform.StoredMessage) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.msgs {
		if h.msgs[i].Conv == m.Conv && h.msgs[i].MsgID == m.MsgID {
			return int32(i + 1)
		}
	}
	m.ID = int32(len(h.msgs) + 1)
	h.msgs = append(h.msgs, m)
	return m.ID
}

func (h *memHost) MessageID(_ context.Context, conv platform.Conv, msgID string) (int32, error) {
	return h.put(platform.StoredMessage{Conv: conv, MsgID: msgID}), nil
}

func (h *memHost) Decode(ctx context.Context, conv platform.Conv, content any) (segment.Message, error) {
	return h.b.Decode(ctx, conv, content, nil)
}

func (h *memHost) Encode(_ context.Context, _ platform.Conv, msg segment.Message) (segment.Message, platform.EncodeEnv, error) {
	return msg, platform.EncodeEnv{Self: h.self}, nil
}

func (h *memHost) Send(ctx context.Context, conv platform.Conv, msg segment.Message) (int32, time.Time, error) {
	outs, err := h.b.Encode(ctx, conv, msg, platform.EncodeEnv{Self: h.self})
	if err != nil {
		return 0, time.Time{}, err
	}
	var first int32
	for i := range outs {
		sent, err := h.b.Send(ctx, &outs[i])
		if err != nil {
			return 0, time.Time{}, err
		}
		id := h.put(platform.StoredMessage{Conv: conv, MsgID: sent.ID, SenderID: h.self.ID, Self: true, Body: outs[i].Body})
		if i == 0 {
			first = id
		} else {
			h.mu.Lock()
			h.msgs[first-1].Parts = append(h.msgs[first-1].Parts, sent.ID)
			h.mu.Unlock()
		}
	}
	return first, time.Now(), nil
}

func (h *memHost) Recalling(msgIDs []string) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recalling = append(h.recalling, msgIDs)
	return func() {}
}

func (h *memHost) UpdateBody(context.Context, int32, segment.Message) error { return nil }

var _ platform.Host = (*memHost)(nil)

// extEnv is a logged-in backend with its extension actions on a router.
type extEnv struct {
	w      *world
	e      *env
	host   *memHost
	router *onebot.Router
}

func newExtEnv(t *testing.T) *extEnv {
	t.Helper()
	return newExtEnvOn(t, newWorld(t))
}

// newExtEnvOn is newExtEnv on a world of the test's.
func newExtEnvOn(t *testing.T, w *world) *extEnv {
	t.Helper()
	e := w.backend()
	acc, err := e.b.Self(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := newMemHost(e.b, acc)
	r := onebot.NewRouter(onebot.RouterOptions{})
	for name, fn := range e.b.Actions(h) {
		r.Register(name, fn)
	}
	return &extEnv{w: w, e: e, host: h, router: r}
}

// call runs an action as every transport does.
func (x *extEnv) call(t *testing.T, action string, params any) onebot.Response {
	t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return x.router.Handle(x.e.ctx, action, raw)
}

func (x *extEnv) ok(t *testing.T, action string, params any) json.RawMessage {
	t.Helper()
	r := x.call(t, action, params)
	if r.Status != onebot.StatusOK {
		t.Fatalf("%s %v: %s %d %s", action, params, r.Status, r.Retcode, r.Message)
	}
	return r.Data
}

func (x *extEnv) fail(t *testing.T, action string, params any, retcode int, want string) {
	t.Helper()
	r := x.call(t, action, params)
	if r.Status != onebot.StatusFailed || r.Retcode != retcode || !strings.Contains(r.Message+" "+r.Wording, want) {
		t.Errorf("%s %v: %s %d %q, want %d naming %q", action, params, r.Status, r.Retcode, r.Message, retcode, want)
	}
}

// stored injects a message and stores it in the host.
func (x *extEnv) stored(t *testing.T, m sim.Message, conv platform.Conv) (sim.Record, int32) {
	t.Helper()
	rec := inject(t, x.w, m)
	return rec, x.host.put(platform.StoredMessage{Conv: conv, MsgID: rec.MsgID, SenderID: rec.SenderID})
}

func TestDeleteMsgBatch(t *testing.T) {
	x := newExtEnv(t)
	n1, _, err := x.host.Send(x.e.ctx, groupOwned, cq("one[CQ:markdown,content=two]"))
	if err != nil {
		t.Fatal(err)
	}
	n2, _, err := x.host.Send(x.e.ctx, aliceConv, cq("three"))
	if err != nil {
		t.Fatal(err)
	}
	x.ok(t, "delete_msg_batch", map[string]any{"message_ids": []int32{n1, n2}})
	first, _ := x.host.Stored("", n1)
	second, _ := x.host.Stored("", n2)
	for _, id := range append(partIDs(first), second.MsgID) {
		if r, ok := x.w.sim.Lookup(id); !ok || r.RecallTime == 0 {
			t.Errorf("%s not recalled", id)
		}
	}
	if len(x.host.recalling) != 2 || len(x.host.recalling[0]) != 2 {
		t.Errorf("recalls announced %v", x.host.recalling)
	}
	x.fail(t, "delete_msg_batch", map[string]any{"message_ids": []int32{}}, 1400, "message_ids")
	x.fail(t, "delete_msg_batch", map[string]any{"message_ids": []int32{999}}, 1400, "message_ids")
	// Yunhu's refusal, with its chat named: only the author recalls a
	// private message.
	_, theirs := x.stored(t, sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "mine"}, aliceConv)
	x.fail(t, "delete_msg_batch", map[string]any{"message_ids": []int32{theirs}}, 100, "recall messages in "+sim.AliceID)
}

func TestForwardAndClick(t *testing.T) {
	x := newExtEnv(t)
	rec, id := x.stored(t, sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "worth sharing"}, groupOwned)
	before := len(x.w.sim.History(sim.SelfID, sim.BobID, yh.ChatTypeUser))
	x.ok(t, "forward_msg", map[string]any{"message_id": id, "targets": []any{
		map[string]any{"user_id": 1000003}, map[string]any{"group_id": 100000002},
	}})
	h := x.w.sim.History(sim.SelfID, sim.BobID, yh.ChatTypeUser)
	if len(h) != before+1 || h[len(h)-1].Content.GetText() != "worth sharing" {
		t.Errorf("copy to Bob: %+v", h)
	}
	x.fail(t, "forward_msg", map[string]any{"message_id": id, "targets": []any{}}, 1400, "targets")
	x.fail(t, "forward_msg", map[string]any{"message_id": id, "targets": []any{map[string]any{}}}, 1400, "targets")

	x.ok(t, "click_button", map[string]any{"message_id": id, "value": "p"})
	var found bool
	for _, r := range x.w.sim.Requests() {
		if r.Path == yh.PathButtonReport && strings.Contains(string(r.Body), rec.MsgID) && strings.Contains(string(r.Body), sim.SelfID) {
			found = true
		}
	}
	if !found {
		t.Error("no button report for the message by the account")
	}
	x.fail(t, "click_button", map[string]any{"message_id": id}, 1400, "value")
}

func TestGetMsgEditHistory(t *testing.T) {
	w, now := clockWorld(t)
	x := newExtEnvOn(t, w)
	rec, id := x.stored(t, sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "v1 @Bob", Content: &yunhupb.MsgContent{
		Text: "v1 @Bob", MentionedId: []string{sim.BobID},
	}}, groupOwned)
	for _, text := range []string{"v2", "v3"} {
		now.Add(time.Second.Milliseconds()) // edits are ordered by time
		if err := x.w.sim.Edit(sim.AliceID, rec.MsgID, yh.ContentText, &yunhupb.MsgContent{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	var got editHistory
	if err := json.Unmarshal(x.ok(t, "get_msg_edit_history", map[string]any{"message_id": id}), &got); err != nil {
		t.Fatal(err)
	}
	if got.Total != 2 || len(got.Edits) != 2 || got.Edits[0].RawMessage != "v1 [CQ:at,qq=1000003]" || got.Edits[1].RawMessage != "v2" ||
		string(got.Edits[1].Message) != `"v2"` || got.Edits[0].ContentType != yh.ContentText {
		t.Errorf("history %+v", got)
	}
}

func TestSendForwardMsg(t *testing.T) {
	x := newExtEnv(t)
	_, id := x.stored(t, sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "original"}, groupOwned)
	nodes := []any{
		map[string]any{"type": "node", "data": map[string]any{"name": "Ann", "uin": "1", "content": "line1\nline2"}},
		map[string]any{"type": "node", "data": map[string]any{"nickname": "Ben", "content": []any{
			map[string]any{"type": "image", "data": map[string]any{"file": "x", "url": "https://i/x.png"}},
		}}},
		map[string]any{"type": "node", "data": map[string]any{"id": id}},
	}
	data := x.ok(t, "send_group_forward_msg", map[string]any{"group_id": 100000002, "messages": nodes})
	var res forwardResult
	if err := json.Unmarshal(data, &res); err != nil || res.MessageID == 0 {
		t.Fatalf("result %s", data)
	}
	first, _ := x.host.Stored("", res.MessageID)
	h := x.w.sim.History(sim.SelfID, sim.GroupAdminID, yh.ChatTypeGroup)
	if len(h) != 2 || h[0].MsgID != first.MsgID || h[0].ContentType != yh.ContentMarkdown || h[1].Content.GetText() != "original" {
		t.Fatalf("group history %+v", h)
	}
	if want := "> **Ann**: line1\n> line2\n\n> **Ben**: ![图片](https://i/x.png)"; h[0].Content.GetText() != want {
		t.Errorf("rendered %q, want %q", h[0].Content.GetText(), want)
	}
	// A forward first: its copy is found and gets the message_id.
	data = x.ok(t, "send_private_forward_msg", map[string]any{"user_id": 1000002, "message": nodes[2:]})
	if err := json.Unmarshal(data, &res); err != nil || res.MessageID == 0 {
		t.Fatalf("forward result %s", data)
	}
	copied, _ := x.host.Stored("", res.MessageID)
	if r, ok := x.w.sim.Lookup(copied.MsgID); !ok || r.SenderID != sim.SelfID || r.Content.GetText() != "original" || copied.Conv != aliceConv {
		t.Errorf("copy %+v", copied)
	}

	x.fail(t, "send_group_forward_msg", map[string]any{"group_id": 100000002}, 1400, "messages")
	x.fail(t, "send_group_forward_msg", map[string]any{"messages": nodes}, 1400, "group_id")
	x.fail(t, "send_group_forward_msg", map[string]any{"group_id": 100000002, "messages": "[CQ:text,text=x]"}, 1400, "node")
	x.fail(t, "send_group_forward_msg", map[string]any{"group_id": 100000002, "messages": []any{
		map[string]any{"type": "node", "data": map[string]any{"id": "abc"}},
	}}, 1400, "messages[0].id")
	x.fail(t, "send_group_forward_msg", map[string]any{"group_id": 100000002, "messages": []any{
		map[string]any{"type": "node", "data": map[string]any{"name": "x"}},
	}}, 1400, "id or content")
}
