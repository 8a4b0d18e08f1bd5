package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

func hexID(i int) string { return fmt.Sprintf("%032x", i) }

func TestSendIsListableWithIncreasingSeq(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 1; i <= 3; i++ {
		if st := e.send(DefaultToken, hexID(i), GroupOwnedID, yunhu.ChatTypeGroup, fmt.Sprint("g", i)); st.GetCode() != 1 {
			t.Fatalf("send %d: %v", i, st)
		}
	}
	// A second chat has its own counter.
	if st := e.send(DefaultToken, hexID(10), AliceID, yunhu.ChatTypeUser, "hi"); st.GetCode() != 1 {
		t.Fatalf("private send: %v", st)
	}
	recs := e.list(DefaultToken, GroupOwnedID, yunhu.ChatTypeGroup, "", 10)
	if got := seqs(recs); !slices.Equal(got, []int64{3, 2, 1}) {
		t.Fatalf("group seqs %v, want newest first 3,2,1", got)
	}
	r := recs[0]
	if r.MsgId != hexID(3) || r.Content.GetText() != "g3" || r.Direction != yunhu.DirectionRight ||
		r.Sender.GetChatId() != SelfID || r.SendTime == 0 || r.ContentType != yunhu.ContentText {
		t.Errorf("record %v", r)
	}
	// Alice sees the same record from the left, under the same seq.
	if got := e.list(TokenFor(AliceID), GroupOwnedID, yunhu.ChatTypeGroup, "", 1); got[0].Direction != yunhu.DirectionLeft || got[0].MsgSeq != 3 {
		t.Errorf("alice view %v", got)
	}
	priv := e.list(TokenFor(AliceID), SelfID, yunhu.ChatTypeUser, "", 10)
	if len(priv) != 1 || priv[0].MsgSeq != 1 || priv[0].Content.GetText() != "hi" {
		t.Errorf("private chat from alice's side: %v", priv)
	}

	sent := e.s.Sent()
	if len(sent) != 4 || sent[0].UserID != SelfID || sent[0].Request.GetMsgId() != hexID(1) ||
		sent[0].Request.GetContent().GetText() != "g1" || sent[0].Code != yunhu.CodeOK {
		t.Fatalf("Sent() = %v", sent)
	}

	// Retrying an id is an idempotent success: nothing is stored twice.
	if st := e.send(DefaultToken, hexID(3), GroupOwnedID, yunhu.ChatTypeGroup, "g3"); st.GetCode() != 1 {
		t.Errorf("retry: %v", st)
	}
	if n := len(e.list(DefaultToken, GroupOwnedID, yunhu.ChatTypeGroup, "", 10)); n != 3 {
		t.Errorf("after retry %d records", n)
	}
	// Another author reusing the id is refused.
	if st := e.send(TokenFor(AliceID), hexID(3), GroupOwnedID, yunhu.ChatTypeGroup, "x"); st.GetCode() != yunhu.CodeFailed {
		t.Errorf("foreign reuse: %v", st)
	}
	if got := e.s.Sent(); got[len(got)-1].Code != yunhu.CodeFailed {
		t.Errorf("rejected send not recorded with its code: %v", got[len(got)-1])
	}
}

func TestSendValidation(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name     string
		token    string
		chatID   string
		chatType int32
		ct       int32
		content  *yunhupb.MsgContent
	}{
		{"empty text", DefaultToken, AliceID, 1, yunhu.ContentText, &yunhupb.MsgContent{}},
		{"not a friend", DefaultToken, CarolID, 1, yunhu.ContentText, &yunhupb.MsgContent{Text: "x"}},
		{"not a member", TokenFor(DaveID), GroupBigID, 2, yunhu.ContentText, &yunhupb.MsgContent{Text: "x"}},
		{"no such group", DefaultToken, "999999999", 2, yunhu.ContentText, &yunhupb.MsgContent{Text: "x"}},
		{"bot not added", TokenFor(BobID), BotID, 3, yunhu.ContentText, &yunhupb.MsgContent{Text: "x"}},
		{"image without key", DefaultToken, AliceID, 1, yunhu.ContentImage, &yunhupb.MsgContent{}},
		{"file without name", DefaultToken, AliceID, 1, yunhu.ContentFile, &yunhupb.MsgContent{FileUrl: "disk/a.txt"}},
		{"bad chat type", DefaultToken, AliceID, 9, yunhu.ContentText, &yunhupb.MsgContent{Text: "x"}},
	} {
		st := e.proto(yunhu.PathSendMessage, tc.token, &yunhupb.SendMessageRequest{
			MsgId: newMsgID(), ChatId: tc.chatID, ChatType: tc.chatType, ContentType: tc.ct, Content: tc.content,
		}, nil)
		if st.GetCode() != yunhu.CodeFailed || st.GetMsg() == "" {
			t.Errorf("%s: %v", tc.name, st)
		}
	}
	// Gagged members and limited types are refused in groups.
	if err := e.s.Gag(GroupBigID, SelfID, 600); err != nil {
		t.Fatal(err)
	}
	if st := e.send(DefaultToken, newMsgID(), GroupBigID, 2, "x"); st.GetMsg() != msgGagged {
		t.Errorf("gagged: %v", st)
	}
	if r := e.post(pathMsgTypeLimit, DefaultToken, map[string]any{"groupId": GroupOwnedID, "type": "2,3"}); r.Code != 1 {
		t.Fatalf("msg-type-limit: %+v", r)
	}
	st := e.proto(yunhu.PathSendMessage, TokenFor(BobID), &yunhupb.SendMessageRequest{
		MsgId: newMsgID(), ChatId: GroupOwnedID, ChatType: 2, ContentType: yunhu.ContentMarkdown,
		Content: &yunhupb.MsgContent{Text: "# x"},
	}, nil)
	if st.GetMsg() != msgLimitedType {
		t.Errorf("limited type: %v", st)
	}
	// Bot chat works for a user who added the bot; quotes of unknown ids
	// are dropped, not refused.
	st = e.proto(yunhu.PathSendMessage, DefaultToken, &yunhupb.SendMessageRequest{
		MsgId: hexID(1), ChatId: BotID, ChatType: 3, ContentType: 1, QuoteMsgId: "nope",
		Content: &yunhupb.MsgContent{Text: "/help"}, CommandId: BotCommandID,
	}, nil)
	if st.GetCode() != 1 {
		t.Fatalf("bot chat: %v", st)
	}
	recs := e.list(DefaultToken, BotID, 3, "", 5)
	if len(recs) != 1 || recs[0].QuoteMsgId != "" || recs[0].Cmd.GetId() != BotCommandID || recs[0].Cmd.GetName() != "help" {
		t.Errorf("bot chat record %v", recs)
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t, Options{})
	var ids []string
	for i := 1; i <= 40; i++ {
		r := e.inject(Message{From: AliceID, ChatID: GroupBigID, Text: fmt.Sprint(i)})
		if r.Seq != int64(i) {
			t.Fatalf("inject %d got seq %d", i, r.Seq)
		}
		ids = append(ids, r.MsgID)
	}
	// list-message: newest first, strictly older than the anchor.
	if got := seqs(e.list(DefaultToken, GroupBigID, 2, "", 5)); !slices.Equal(got, []int64{40, 39, 38, 37, 36}) {
		t.Errorf("newest 5: %v", got)
	}
	if got := seqs(e.list(DefaultToken, GroupBigID, 2, ids[35], 3)); !slices.Equal(got, []int64{35, 34, 33}) {
		t.Errorf("older than 36: %v", got)
	}
	if got := seqs(e.list(DefaultToken, GroupBigID, 2, ids[1], 10)); !slices.Equal(got, []int64{1}) {
		t.Errorf("older than 2: %v", got)
	}
	if got := e.list(DefaultToken, GroupBigID, 2, "unknown", 10); len(got) != 0 {
		t.Errorf("unknown anchor: %v", seqs(got))
	}

	mid := func(req *yunhupb.ListMessageByMidSeqRequest) []int64 {
		req.ChatId, req.ChatType = GroupBigID, 2
		resp := &yunhupb.ListMessageResponse{}
		e.mustOK(yunhu.PathListMessageByMidSeq, DefaultToken, req, resp)
		if resp.Total != int64(len(resp.Messages)) {
			t.Errorf("total %d for %d records", resp.Total, len(resp.Messages))
		}
		return seqs(resp.Messages)
	}
	// By id (msg_seq -1 as the SDK sends): anchor plus msg_count newer,
	// anchor last.
	if got := mid(&yunhupb.ListMessageByMidSeqRequest{MsgId: ids[9], MsgSeq: -1, MsgCount: 3}); !slices.Equal(got, []int64{13, 12, 11, 10}) {
		t.Errorf("mid by id: %v", got)
	}
	if got := mid(&yunhupb.ListMessageByMidSeqRequest{MsgId: ids[38], MsgSeq: -1, MsgCount: 5}); !slices.Equal(got, []int64{40, 39}) {
		t.Errorf("mid near the end: %v", got)
	}
	if got := mid(&yunhupb.ListMessageByMidSeqRequest{MsgSeq: 20, MsgCount: 1}); !slices.Equal(got, []int64{21, 20}) {
		t.Errorf("mid by seq: %v", got)
	}
	if got := mid(&yunhupb.ListMessageByMidSeqRequest{MsgId: "nope", MsgSeq: -1, MsgCount: 1}); len(got) != 0 {
		t.Errorf("mid unknown: %v", got)
	}

	bySeq := func(start int64) []int64 {
		resp := &yunhupb.ListMessageResponse{}
		e.mustOK(yunhu.PathListMessageBySeq, DefaultToken, &yunhupb.ListMessageBySeqRequest{
			MsgStart: start, ChatId: GroupBigID, ChatType: 2,
		}, resp)
		return seqs(resp.Messages)
	}
	got := bySeq(0)
	if len(got) != yunhu.BySeqMax || got[0] != 40 || got[30] != 10 {
		t.Errorf("by-seq 0: %v", got)
	}
	if got := bySeq(10); len(got) != 9 || got[0] != 9 || got[8] != 1 {
		t.Errorf("by-seq 10: %v", got)
	}

	// A record deleted "for me" disappears for me only.
	if r := e.post(yunhu.PathDeleteMessage, DefaultToken, map[string]any{"chatId": GroupBigID, "msgId": ids[39], "chatType": 2}); r.Code != 1 {
		t.Fatalf("delete: %+v", r)
	}
	if got := seqs(e.list(DefaultToken, GroupBigID, 2, "", 1)); !slices.Equal(got, []int64{39}) {
		t.Errorf("after delete: %v", got)
	}
	if got := seqs(e.list(TokenFor(CarolID), GroupBigID, 2, "", 1)); !slices.Equal(got, []int64{40}) {
		t.Errorf("others after delete: %v", got)
	}
	// Non-members cannot list a group.
	if st := e.proto(yunhu.PathListMessage, TokenFor(DaveID), &yunhupb.ListMessageRequest{ChatId: GroupBigID, ChatType: 2}, nil); st.GetCode() != yunhu.CodeFailed {
		t.Errorf("outsider list: %v", st)
	}
}

// TestRecordAndPushNumbering pins the numbering trap (§7 #10) with
// protowire: msg_seq is field 10 of a record but 12 of a push.
func TestRecordAndPushNumbering(t *testing.T) {
	e := newEnv(t, Options{})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	r := e.inject(Message{From: AliceID, ChatID: SelfID, Text: "hello"})

	_, raw, err := ws.read()
	if err != nil {
		t.Fatal(err)
	}
	info := field(t, raw, 1, protowire.BytesType)
	if cmd := string(field(t, info, 2, protowire.BytesType)); cmd != yunhu.WSCmdPushMessage {
		t.Fatalf("cmd %q", cmd)
	}
	data := field(t, raw, 2, protowire.BytesType)
	if u := string(field(t, data, 1, protowire.BytesType)); u != yunhu.TypeURLPushMessage {
		t.Fatalf("type url %q", u)
	}
	pm := field(t, data, 2, protowire.BytesType)
	if got := varint(t, pm, 12); got != uint64(r.Seq) {
		t.Errorf("push field 12 (msg_seq) = %d", got)
	}
	if got := string(field(t, field(t, pm, 6, protowire.BytesType), 1, protowire.BytesType)); got != "hello" {
		t.Errorf("push content (6.1) = %q", got)
	}
	if got := varint(t, pm, 7); got != yunhu.ContentText {
		t.Errorf("push content_type (7) = %d", got)
	}
	// Private message from a peer: chat_id and recv_id are my id (§6.3).
	if got := string(field(t, pm, 4, protowire.BytesType)); got != SelfID {
		t.Errorf("push chat_id = %q", got)
	}

	body := protowire.AppendTag(nil, 2, protowire.VarintType)
	body = protowire.AppendVarint(body, 10)
	body = protowire.AppendTag(body, 4, protowire.VarintType)
	body = protowire.AppendVarint(body, yunhu.ChatTypeUser)
	body = protowire.AppendTag(body, 5, protowire.BytesType)
	body = protowire.AppendString(body, AliceID)
	_, resp := e.do(http.MethodPost, yunhu.PathListMessage, DefaultToken, body)
	rec := field(t, resp, 2, protowire.BytesType)
	if got := varint(t, rec, 10); got != uint64(r.Seq) {
		t.Errorf("record field 10 (msg_seq) = %d", got)
	}
	if got := string(field(t, field(t, rec, 5, protowire.BytesType), 1, protowire.BytesType)); got != "hello" {
		t.Errorf("record content (5.1) = %q", got)
	}
	if got := string(field(t, rec, 3, protowire.BytesType)); got != yunhu.DirectionLeft {
		t.Errorf("record direction (3) = %q", got)
	}
}

func TestEchoToEverySession(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := e.dial(), e.dial()
	a.loginAndWait(SelfID, DefaultToken)
	b.loginAndWait(SelfID, DefaultToken)
	alice := e.dial()
	alice.loginAndWait(AliceID, TokenFor(AliceID))

	// Sent over REST: both of self's sockets get the echo, including the
	// one "belonging" to the sender, addressed to the peer (§6.3).
	if st := e.send(DefaultToken, hexID(1), AliceID, yunhu.ChatTypeUser, "to alice"); st.GetCode() != 1 {
		t.Fatal(st)
	}
	for _, ws := range []*wsClient{a, b} {
		pm := ws.push(yunhu.WSCmdPushMessage)
		if pm.Sender.GetChatId() != SelfID || pm.ChatId != AliceID || pm.RecvId != AliceID ||
			pm.ChatType != yunhu.ChatTypeUser || pm.MsgSeq != 1 || pm.Content.GetText() != "to alice" {
			t.Errorf("echo %v", pm)
		}
	}
	pm := alice.push(yunhu.WSCmdPushMessage)
	if pm.ChatId != AliceID || pm.RecvId != AliceID || pm.Sender.GetChatId() != SelfID {
		t.Errorf("peer's view %v", pm)
	}

	// Group message from Alice: everyone in the group, Alice's own echo too.
	r := e.inject(Message{From: AliceID, ChatID: GroupOwnedID, Text: "to group", QuoteMsgID: "unknown"})
	for _, ws := range []*wsClient{a, b, alice} {
		pm := ws.push(yunhu.WSCmdPushMessage)
		if pm.MsgId != r.MsgID || pm.ChatId != GroupOwnedID || pm.ChatType != yunhu.ChatTypeGroup || pm.MsgSeq != 1 || pm.QuoteMsgId != "" {
			t.Errorf("group push %v", pm)
		}
	}
	// Self's nickname-less sender name in a group where Carol has one.
	e.inject(Message{From: CarolID, ChatID: GroupBigID, Text: "nick"})
	if pm := a.push(yunhu.WSCmdPushMessage); pm.Sender.GetName() != "Carol in big" {
		t.Errorf("group nickname not applied: %v", pm.Sender)
	}
}

func TestRecallAndEdit(t *testing.T) {
	e := newEnv(t, Options{})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	r := e.inject(Message{From: CarolID, ChatID: GroupAdminID, Text: "oops"})
	ws.push(yunhu.WSCmdPushMessage)

	// Bob, a plain member, may not recall Carol's message; self (admin) may.
	if err := e.s.Recall(BobID, r.MsgID); err == nil {
		t.Error("member recalled another member's message")
	}
	st := e.proto(yunhu.PathRecallMessage, DefaultToken, &yunhupb.RecallMessageRequest{
		MsgId: []string{r.MsgID}, ChatId: GroupAdminID, ChatType: yunhu.ChatTypeGroup,
	}, nil)
	if st.GetCode() != 1 {
		t.Fatalf("recall: %v", st)
	}
	pm := ws.push(yunhu.WSCmdPushMessage)
	if pm.MsgId != r.MsgID || pm.DeleteTimestamp == 0 || pm.MsgSeq != r.Seq || pm.Content.GetText() != "" {
		t.Errorf("recall push %v", pm)
	}
	recs := e.list(DefaultToken, GroupAdminID, 2, "", 5)
	if len(recs) != 1 || recs[0].RecallTime == 0 || recs[0].MsgSeq != r.Seq {
		t.Errorf("recalled record %v", recs)
	}
	// A batch with one unknown id changes nothing.
	mine := e.inject(Message{From: AliceID, ChatID: GroupAdminID, Text: "mine"})
	ws.push(yunhu.WSCmdPushMessage)
	st = e.proto(yunhu.PathRecallMessageBatch, DefaultToken, &yunhupb.RecallMessageRequest{
		MsgId: []string{mine.MsgID, "nope"}, ChatId: GroupAdminID, ChatType: 2,
	}, nil)
	if got, _ := e.s.Lookup(mine.MsgID); st.GetCode() != yunhu.CodeFailed || got.RecallTime != 0 {
		t.Errorf("partial batch: %v, %v", st, got)
	}

	// Edit: own message only, text-like kinds interchangeable.
	if st := e.send(DefaultToken, hexID(7), GroupAdminID, 2, "v1"); st.GetCode() != 1 {
		t.Fatal(st)
	}
	ws.push(yunhu.WSCmdPushMessage)
	if err := e.s.Edit(AliceID, hexID(7), 0, &yunhupb.MsgContent{Text: "hijack"}); err == nil {
		t.Error("non-author edited")
	}
	st = e.proto(yunhu.PathEditMessage, DefaultToken, &yunhupb.SendMessageRequest{
		MsgId: hexID(7), ChatId: GroupAdminID, ChatType: 2, ContentType: yunhu.ContentMarkdown,
		Content: &yunhupb.MsgContent{Text: "**v2**"},
	}, nil)
	if st.GetCode() != 1 {
		t.Fatalf("edit: %v", st)
	}
	ed := ws.push(yunhu.WSCmdEditMessage)
	if ed.MsgId != hexID(7) || ed.Content.GetText() != "**v2**" || ed.ContentType != yunhu.ContentMarkdown ||
		ed.EditTime == 0 || ed.Sender != nil || ed.MsgSeq != 0 || ed.ChatId != GroupAdminID || ed.RecvId != GroupAdminID {
		t.Errorf("edit push %v", ed)
	}
	st = e.proto(yunhu.PathEditMessage, DefaultToken, &yunhupb.SendMessageRequest{
		MsgId: hexID(7), ChatId: GroupAdminID, ChatType: 2, ContentType: yunhu.ContentAudio,
		Content: &yunhupb.MsgContent{AudioUrl: "a.m4a"},
	}, nil)
	if st.GetCode() != yunhu.CodeFailed {
		t.Errorf("kind change allowed: %v", st)
	}
	r2 := e.post(yunhu.PathListMessageEditRecord, DefaultToken, map[string]any{"msgId": hexID(7), "size": 10, "page": 1})
	var hist struct {
		Total int `json:"total"`
		List  []struct {
			MsgID       string `json:"msgId"`
			ContentType int32  `json:"contentType"`
			ContentOld  string `json:"contentOld"`
			CreateTime  int64  `json:"createTime"`
			MsgTime     int64  `json:"msgTime"`
		} `json:"list"`
	}
	if err := json.Unmarshal(r2.Data, &hist); err != nil || hist.Total != 1 || len(hist.List) != 1 {
		t.Fatalf("edit record %s: %v", r2.Data, err)
	}
	if h := hist.List[0]; h.ContentOld != `{"text":"v1"}` || h.ContentType != yunhu.ContentText || h.MsgTime == 0 || h.CreateTime == 0 {
		t.Errorf("edit record entry %+v", h)
	}
	if recs := e.list(DefaultToken, GroupAdminID, 2, "", 1); recs[0].EditTime == 0 || recs[0].Content.GetText() != "**v2**" {
		t.Errorf("edited record %v", recs[0])
	}
}

func TestForwardAndStream(t *testing.T) {
	e := newEnv(t, Options{})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	src := e.inject(Message{From: BotID, ChatID: SelfID, ChatType: yunhu.ChatTypeBot, Text: "part1"})
	pm := ws.push(yunhu.WSCmdPushMessage)
	if pm.ChatId != BotID || pm.RecvId != SelfID || pm.Sender.GetChatType() != yunhu.ChatTypeBot {
		t.Errorf("bot push %v", pm)
	}
	if err := e.s.StreamAppend(src.MsgID, " part2"); err != nil {
		t.Fatal(err)
	}
	f := ws.frame()
	if f.Info.GetCmd() != yunhu.WSCmdStreamMessage || f.Data.GetTypeUrl() != yunhu.TypeURLStreamMessage {
		t.Fatalf("stream frame %v", f)
	}
	if got, _ := e.s.Lookup(src.MsgID); got.Content.GetText() != "part1 part2" {
		t.Errorf("stored after stream: %q", got.Content.GetText())
	}

	r := e.post(yunhu.PathMessageForward, DefaultToken, map[string]any{
		"msgId": src.MsgID, "chatType": 3,
		"receive": []map[string]any{{"chatId": AliceID, "chatType": 1}, {"chatId": GroupBigID, "chatType": 2}},
	})
	if r.Code != 1 {
		t.Fatalf("forward: %+v", r)
	}
	for i := 0; i < 2; i++ {
		pm := ws.push(yunhu.WSCmdPushMessage)
		if pm.Sender.GetChatId() != SelfID || pm.Content.GetText() != "part1 part2" || pm.MsgId == src.MsgID || pm.MsgSeq != 1 {
			t.Errorf("forwarded copy %v", pm)
		}
	}
	// An unreachable target fails the whole call and copies nothing.
	r = e.post(yunhu.PathMessageForward, DefaultToken, map[string]any{
		"msgId": src.MsgID, "chatType": 3,
		"receive": []map[string]any{{"chatId": BobID, "chatType": 1}, {"chatId": CarolID, "chatType": 1}},
	})
	if r.Code != yunhu.CodeFailed || len(e.s.History(SelfID, BobID, 1)) != 0 {
		t.Errorf("forward to non-friend: %+v", r)
	}
}
