package yunhu

import (
	"testing"
	"time"
)

// frameBytes builds a server frame: {1: {1 seq, 2 cmd}, 2: {1 type_url, 2 payload}} (§6.2).
func frameBytes(seq, cmd, typeURL string, payload pb) []byte {
	b := pb{}.msg(1, pb{}.str(1, seq).str(2, cmd))
	if payload != nil {
		b = b.msg(2, pb{}.str(1, typeURL).msg(2, payload))
	}
	return b
}

// pushMsg builds a PushMessage with push numbering (§6.3).
func pushMsg(id string, seq int64) pb {
	sender := pb{}.str(1, "7357777").varint(2, 1).str(3, "Bob").str(4, "av").msg(7, pb{}.varint(1, 3).str(3, "T").str(4, "#FFFFFFFF"))
	content := pb{}.str(1, "hi @Ann").str(6, "7356666").str(9, "sticker/x.gif").str(3, "https://chat-img.jwznb.com/sticker/x.gif").
		varint(25, 11).varint(26, 12)
	return pb{}.str(1, id).msg(2, sender).str(3, "7356666").str(4, "big").varint(5, 2).msg(6, content).
		varint(7, 7).varint(8, 1700000000456).msg(9, pb{}.varint(1, 999).str(2, "MAC")).str(11, "q9").varint(12, seq).
		varint(13, 0) // 13 unknown
}

func TestGoldenPushMessage(t *testing.T) {
	f, err := decodeFrame(frameBytes("s1", "push_message", "type.googleapis.com/proto.PushMessage", pushMsg("m1", 1145)))
	if err != nil {
		t.Fatal(err)
	}
	if f.seq != "s1" || f.cmd != "push_message" {
		t.Fatalf("info = %q %q", f.seq, f.cmd)
	}
	mp, ok := f.push.(MessagePush)
	if !ok {
		t.Fatalf("push = %T", f.push)
	}
	m := mp.Message
	if m.ID != "m1" || m.RecvID != "7356666" || m.Chat != (Chat{ID: "big", Type: ChatTypeGroup}) || m.ContentType != ContentSticker ||
		m.Seq != 1145 || m.QuoteID != "q9" || !m.Time.Equal(time.UnixMilli(1700000000456)) || m.Recalled() {
		t.Errorf("message = %+v", m)
	}
	if m.Sender.ID != "7357777" || m.Sender.Name != "Bob" || m.Sender.Type != ChatTypeUser || m.Sender.Tags[0].Text != "T" {
		t.Errorf("sender = %+v", m.Sender)
	}
	if m.Content.Text != "hi @Ann" || m.Content.Mentions[0] != "7356666" || m.Content.Image != "sticker/x.gif" ||
		m.Content.ImageURL != "https://chat-img.jwznb.com/sticker/x.gif" || m.Content.StickerItemID != 11 || m.Content.StickerPackID != 12 {
		t.Errorf("content = %+v", m.Content)
	}
	if m.Command == nil || m.Command.ID != 999 || m.Command.Name != "MAC" {
		t.Errorf("cmd = %+v", m.Command)
	}
	if p := m.Peer("7356666"); p != m.Chat {
		t.Errorf("group peer = %+v", p)
	}
}

func TestGoldenPushPrivatePeer(t *testing.T) {
	// Private from a peer: chat_id is my id, the peer is the sender (§6.3).
	in := pb{}.str(1, "m").msg(2, pb{}.str(1, "7357777").varint(2, 1)).str(3, "7356666").str(4, "7356666").varint(5, 1).varint(7, 1).varint(12, 3)
	f, err := decodeFrame(frameBytes("s", "push_message", TypeURLPushMessage, in))
	if err != nil {
		t.Fatal(err)
	}
	if p := f.push.(MessagePush).Message.Peer("7356666"); p != (Chat{ID: "7357777", Type: ChatTypeUser}) {
		t.Errorf("peer = %+v", p)
	}
	// My own echo: the peer is recv_id.
	echo := pb{}.str(1, "m").msg(2, pb{}.str(1, "7356666").varint(2, 1)).str(3, "7357777").str(4, "7357777").varint(5, 1).varint(7, 1)
	f, err = decodeFrame(frameBytes("s", "push_message", TypeURLPushMessage, echo))
	if err != nil {
		t.Fatal(err)
	}
	if p := f.push.(MessagePush).Message.Peer("7356666"); p != (Chat{ID: "7357777", Type: ChatTypeUser}) {
		t.Errorf("echo peer = %+v", p)
	}
}

func TestGoldenPushRecall(t *testing.T) {
	// A recall is a push_message with delete_timestamp (10) set (§6.4).
	payload := pb{}.str(1, "m1").msg(2, pb{}.str(1, "7357777")).str(3, "7356666").str(4, "big").varint(5, 2).
		varint(7, 1).varint(8, 1700000009000).varint(10, 1700000009001).varint(12, 1145)
	f, err := decodeFrame(frameBytes("s2", "push_message", TypeURLPushMessage, payload))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := f.push.(RecallPush)
	if !ok {
		t.Fatalf("push = %T", f.push)
	}
	if r.MsgID != "m1" || r.Seq != 1145 || r.Chat != (Chat{ID: "big", Type: ChatTypeGroup}) || r.RecvID != "7356666" ||
		!r.Time.Equal(time.UnixMilli(1700000009001)) || r.Sender.ID != "7357777" {
		t.Errorf("recall = %+v", r)
	}
}

func TestGoldenPushEdit(t *testing.T) {
	// edit_message carries 1, 3, 4, 6{1,2,8}, 7, 11, 14 and no sender or seq (§6.5).
	payload := pb{}.str(1, "m1").str(3, "big").str(4, "big").msg(6, pb{}.str(1, "new text").str(2, "[]").str(8, "Q")).
		varint(7, 3).str(11, "q").varint(14, 1700000010000)
	f, err := decodeFrame(frameBytes("s3", "edit_message", TypeURLPushMessage, payload))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := f.push.(EditPush)
	if !ok {
		t.Fatalf("push = %T", f.push)
	}
	if e.MsgID != "m1" || e.Chat.ID != "big" || e.RecvID != "big" || e.ContentType != ContentMarkdown || e.Content.Text != "new text" ||
		e.Content.Buttons != "[]" || e.Content.QuoteText != "Q" || e.QuoteID != "q" || !e.EditTime.Equal(time.UnixMilli(1700000010000)) {
		t.Errorf("edit = %+v", e)
	}
}

func TestGoldenPushOthers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		want  Push
	}{
		{"heartbeat_ack", frameBytes("hb", "heartbeat_ack", "", nil), nil},
		{"invite", frameBytes("i", "invite_apply", "", nil), InvitePush{}},
		{"stream", frameBytes("s", "stream_message", TypeURLStreamMessage, pb{}.str(1, "m").str(2, "7356666").str(3, "75282754").str(4, "more ")),
			StreamPush{MsgID: "m", RecvID: "7356666", ChatID: "75282754", Text: "more "}},
		{"draft", frameBytes("d", "draft_input", TypeURLMsgInput, pb{}.str(1, "big").str(2, "typing")), DraftPush{ChatID: "big", Input: "typing"}},
		{"board", frameBytes("b", "bot_board_message", "", pb{}.str(1, "75282754").str(2, "big").varint(3, 2).str(4, "board").varint(5, 2).varint(6, 1700000000000).str(7, "Botty")),
			BotBoardPush{BotID: "75282754", Chat: Chat{ID: "big", Type: ChatTypeGroup}, Content: "board", ContentType: 2, BotName: "Botty", UpdateTime: time.UnixMilli(1700000000000)}},
		{"file send", frameBytes("f", "file_send_message", TypeURLPushMessage, pb{}.str(1, "a").str(2, "b").varint(3, 1).str(4, "candidate").str(5, "{}").str(6, "dev")),
			FileSendPush{SendUserID: "a", UserID: "b", SendType: "candidate", Data: "{}", SendDeviceID: "dev"}},
		{"hang up", frameBytes("h", "live_video_user_hang_up", TypeURLLiveMessage, pb{}.str(1, "call").str(5, "live_video_user_hang_up")), HangUpPush{MsgID: "call"}},
		{"unknown cmd", frameBytes("u", "brand_new_cmd", "type.googleapis.com/proto.New", pb{}.str(1, "x")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeFrame(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if f.push != tc.want {
				t.Errorf("push = %#v, want %#v", f.push, tc.want)
			}
		})
	}
	if _, err := decodeFrame([]byte{0x0a, 0xff}); err == nil {
		t.Error("truncated frame decoded without error")
	}
}
