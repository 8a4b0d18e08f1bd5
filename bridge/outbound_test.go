package bridge_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Outgoing segments → what Yunhu receives (sim.Sent shows the decoded
// send-message request).

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wavBytes is a PCM WAV of the given length: 8 kHz, 8 bit, mono.
func wavBytes(seconds int) []byte {
	const rate = 8000
	data := make([]byte, rate*seconds)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate), uint16(1), uint16(8)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// mp4Bytes is the skeleton of an MP4: ftyp, then moov holding mvhd with
// the given duration.
func mp4Bytes(seconds uint32) []byte {
	box := func(typ string, body []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
		return append(append(out, typ...), body...)
	}
	mvhd := make([]byte, 100)                   // version 0
	binary.BigEndian.PutUint32(mvhd[12:], 1000) // timescale
	binary.BigEndian.PutUint32(mvhd[16:], seconds*1000)
	return append(box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41")), box("moov", box("mvhd", mvhd))...)
}

// silkBytes is the start of a SILK voice file (Tencent's silk_v3), whose
// length nothing in the bridge reads.
func silkBytes() []byte { return append([]byte("\x02#!SILK_V3"), make([]byte, 64)...) }

func b64(data []byte) string { return "base64://" + base64.StdEncoding.EncodeToString(data) }

func md5Hex(data []byte) string {
	s := md5.Sum(data)
	return hex.EncodeToString(s[:])
}

func seg(typ string, data map[string]any) map[string]any {
	return map[string]any{"type": typ, "data": data}
}

func TestOutboundTextWithMentions(t *testing.T) {
	e := newActEnv(t)
	g := e.groupN(sim.GroupOwnedID)
	e.send("send_group_msg", map[string]any{"group_id": g, "message": []any{
		seg("text", map[string]any{"text": "hi "}),
		seg("at", map[string]any{"qq": userN(t, sim.AliceID)}),
		seg("text", map[string]any{"text": "and "}),
		seg("at", map[string]any{"qq": sim.BobID, "name": "B"}), // string id, name given
		seg("at", map[string]any{"qq": userN(t, sim.AliceID)}),  // a second mention of Alice
	}})
	r := e.lastSent().Request
	if r.ContentType != yunhu.ContentText || r.ChatId != sim.GroupOwnedID || r.ChatType != yunhu.ChatTypeGroup {
		t.Fatalf("sent %v", r)
	}
	if got, want := r.Content.GetText(), "hi @Alice and @B @Alice "; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if got := strings.Join(r.Content.GetMentionedId(), ","); got != sim.AliceID+","+sim.BobID {
		t.Errorf("mentions %s", got)
	}
	// A bot in the group is found by name too.
	e.send("send_group_msg", map[string]any{"group_id": g, "message": []any{seg("at", map[string]any{"qq": sim.BotID})}})
	if got := e.lastSent().Request.Content.GetText(); got != "@EchoBot " {
		t.Errorf("bot mention %q", got)
	}
}

func TestOutboundMentionErrors(t *testing.T) {
	e := newActEnv(t)
	g := e.groupN(sim.GroupOwnedID)
	n := len(e.sim.Sent())
	r := e.fail("send_group_msg", map[string]any{"group_id": g, "message": "[CQ:at,qq=all] everyone"}, 1400)
	if !strings.Contains(r.Message, "qq=all") || !strings.Contains(r.Message, "Yunhu") {
		t.Errorf("at all: %s", r.Message)
	}
	r = e.fail("send_group_msg", map[string]any{"group_id": g, "message": "[CQ:at,qq=4503599627370999] x"}, 1400)
	if !strings.Contains(r.Message, "at.qq") {
		t.Errorf("unknown alias: %s", r.Message)
	}
	r = e.fail("send_group_msg", map[string]any{"group_id": g, "message": "[CQ:at,qq=abc] x"}, 1400)
	if !strings.Contains(r.Message, "at.qq") {
		t.Errorf("bad qq: %s", r.Message)
	}
	if len(e.sim.Sent()) != n {
		t.Error("a refused message was partly sent")
	}
}

func TestOutboundReply(t *testing.T) {
	e := newActEnv(t)
	g := e.groupN(sim.GroupOwnedID)
	rec, id := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "question?"})
	sent := e.send("send_group_msg", map[string]any{"group_id": g, "message": []any{
		seg("reply", map[string]any{"id": id}), seg("text", map[string]any{"text": "answer"}),
	}})
	got := decode[getMsgData](t, e.ok("get_msg", map[string]any{"message_id": sent}))
	if want := "[CQ:reply,id=" + itoa(int64(id)) + "]answer"; got.RawMessage != want {
		t.Errorf("get_msg of the reply: %q, want %q", got.RawMessage, want)
	}
	r := e.lastSent().Request
	if r.QuoteMsgId != rec.MsgID || r.Content.GetQuoteMsgText() != "Alice: question?" || r.Content.GetText() != "answer" {
		t.Fatalf("sent %v", r)
	}
	// The quote goes on the first message only.
	e.send("send_group_msg", map[string]any{"group_id": g, "message": []any{
		seg("reply", map[string]any{"id": id}), seg("text", map[string]any{"text": "a"}),
		seg("markdown", map[string]any{"content": "**b**"}),
	}})
	s := e.sim.Sent()
	if first, second := s[len(s)-2].Request, s[len(s)-1].Request; first.QuoteMsgId != rec.MsgID || second.QuoteMsgId != "" {
		t.Errorf("quotes %q %q", first.QuoteMsgId, second.QuoteMsgId)
	}

	e.fail("send_group_msg", map[string]any{"group_id": g, "message": "[CQ:reply,id=99999]x"}, 1400)
	_, other := e.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupAdminID, Text: "elsewhere"})
	r2 := e.fail("send_group_msg", map[string]any{"group_id": g, "message": []any{seg("reply", map[string]any{"id": other}), seg("text", map[string]any{"text": "x"})}}, 1400)
	if !strings.Contains(r2.Message, "another chat") {
		t.Errorf("other chat: %s", r2.Message)
	}
}

func TestOutboundMarkdownHTMLA2UI(t *testing.T) {
	e := newActEnv(t)
	u := userN(t, sim.AliceID)
	for typ, ct := range map[string]int32{"markdown": yunhu.ContentMarkdown, "html": yunhu.ContentHTML, "a2ui": yunhu.ContentA2UI} {
		e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg(typ, map[string]any{"content": "<b>" + typ + "</b>"})}})
		r := e.lastSent().Request
		if r.ContentType != ct || r.Content.GetText() != "<b>"+typ+"</b>" {
			t.Errorf("%s: sent %v", typ, r)
		}
	}
	r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("markdown", map[string]any{"content": " "})}}, 1400)
	if !strings.Contains(r.Message, "markdown.content") {
		t.Errorf("empty markdown: %s", r.Message)
	}
}

func TestOutboundMedia(t *testing.T) {
	e := newActEnv(t)
	u := userN(t, sim.AliceID)
	img := pngBytes(t, 3, 2)
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("image", map[string]any{"file": b64(img), "cache": 0})}})
	r := e.lastSent().Request
	key := md5Hex(img) + ".png"
	if r.ContentType != yunhu.ContentImage || r.Content.GetImage() != key {
		t.Fatalf("image sent %v", r)
	}
	if got, ok := e.sim.Object(yunhu.BucketImage, key); !ok || !bytes.Equal(got, img) {
		t.Error("image not uploaded")
	}
	if r.Media.GetImageWidth() != 3 || r.Media.GetImageHeight() != 2 {
		t.Errorf("media %v", r.Media)
	}

	wav := wavBytes(3)
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("record", map[string]any{"file": b64(wav)})}})
	r = e.lastSent().Request
	if r.ContentType != yunhu.ContentAudio || r.Content.GetAudioUrl() == "" || r.Content.GetAudioTime() != 3 {
		t.Fatalf("record sent %v", r)
	}
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("record", map[string]any{"file": b64(silkBytes()), "duration": 7})}})
	if got := e.lastSent().Request.Content.GetAudioTime(); got != 7 {
		t.Errorf("duration param: %d", got)
	}

	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("video", map[string]any{"file": b64(mp4Bytes(5))})}})
	r = e.lastSent().Request
	if r.ContentType != yunhu.ContentVideo || !strings.HasSuffix(r.Content.GetVideoUrl(), ".mp4") {
		t.Fatalf("video sent %v", r)
	}

	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("file", map[string]any{"file": b64([]byte("report")), "name": "report.txt"})}})
	r = e.lastSent().Request
	if r.ContentType != yunhu.ContentFile || r.Content.GetFileName() != "report.txt" || !strings.HasPrefix(r.Content.GetFileUrl(), yunhu.KeyPrefixFile) || r.Content.GetFileSize() != 6 {
		t.Fatalf("file sent %v", r)
	}

	// A hosted key (a received image's file name) is sent again without
	// an upload.
	uploads := countRequests(e, sim.PathUpload)
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("image", map[string]any{"file": key})}})
	if r := e.lastSent().Request; r.Content.GetImage() != key || countRequests(e, sim.PathUpload) != uploads {
		t.Errorf("key reuse: %v", r)
	}
}

func countRequests(e *actEnv, path string) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// TestOutboundSplit: a OneBot message with text and media becomes several
// Yunhu messages in order; the response's id is the first, delete_msg on
// it recalls them all, get_msg returns the first.
func TestOutboundSplit(t *testing.T) {
	e := newActEnv(t)
	g := e.groupN(sim.GroupOwnedID)
	before := len(e.sim.Sent())
	img := b64(pngBytes(t, 1, 1))
	id := e.send("send_group_msg", map[string]any{"group_id": g, "message": "look:[CQ:image,file=" + img + "]\n[CQ:image,file=" + img + "]and this"})
	sent := e.sent(before)
	var types []int32
	for _, s := range sent {
		types = append(types, s.Request.ContentType)
	}
	if want := []int32{yunhu.ContentText, yunhu.ContentImage, yunhu.ContentImage, yunhu.ContentText}; !equalInts(types, want) {
		t.Fatalf("content types %v, want %v (the blank line between images is no message)", types, want)
	}
	if sent[0].Request.Content.GetText() != "look:" || sent[3].Request.Content.GetText() != "and this" {
		t.Errorf("texts %q %q", sent[0].Request.Content.GetText(), sent[3].Request.Content.GetText())
	}
	rec, err := e.store.Message(id)
	if err != nil || rec.MsgID != sent[0].Request.MsgId || !rec.Self {
		t.Fatalf("message_id %d maps to %+v (%v), want the first part", id, rec, err)
	}
	e.ok("delete_msg", map[string]any{"message_id": id})
	for i, s := range sent {
		if r, ok := e.sim.Lookup(s.Request.MsgId); !ok || r.RecallTime == 0 {
			t.Errorf("part %d not recalled", i)
		}
	}
}

func equalInts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOutboundStickerFormShareButtons(t *testing.T) {
	e := newActEnv(t)
	u := userN(t, sim.AliceID)

	// A sticker as inbound.go reports it, sent back.
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("image", map[string]any{
		"file": "https://cdn.invalid/sticker/abc.gif", "url": "https://cdn.invalid/sticker/abc.gif", "sub_type": "sticker",
		"path": "sticker/abc.gif", "sticker_item_id": 12, "sticker_pack_id": "34",
	})}})
	r := e.lastSent().Request
	if r.ContentType != yunhu.ContentSticker || r.Content.GetImage() != "sticker/abc.gif" || r.Content.GetStickerItemId() != 12 || r.Content.GetStickerPackId() != 34 {
		t.Fatalf("sticker sent %v", r)
	}
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("image", map[string]any{
		"file": "x", "sub_type": "expression", "path": "expression/def.png", "expression_id": "99",
	})}})
	if r := e.lastSent().Request; r.ContentType != yunhu.ContentSticker || r.Content.GetImage() != "expression/def.png" || r.Content.GetExpressionId() != "99" {
		t.Fatalf("expression sent %v", r)
	}
	if r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:face,id=14]"}, 1400); !strings.Contains(r.Message, "face") {
		t.Errorf("QQ face: %s", r.Message)
	}

	e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.BotID), "message": []any{seg("form", map[string]any{"form": `{"a":{"id":"a","type":"input","value":"x"}}`, "command_id": sim.BotCommandID})}})
	if r := e.lastSent().Request; r.ContentType != yunhu.ContentForm || r.CommandId != sim.BotCommandID || r.ChatType != yunhu.ChatTypeBot {
		t.Fatalf("form sent %v", r)
	}

	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("share", map[string]any{"url": "", "title": "T", "content": "C", "post_id": "77", "post_type": "2"})}})
	if r := e.lastSent().Request; r.ContentType != yunhu.ContentPost || r.Content.GetPostId() != "77" || r.Content.GetPostTitle() != "T" || r.Content.GetPostType() != "2" {
		t.Fatalf("post sent %v", r)
	}
	if r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:share,url=https://example.com,title=x]"}, 1400); !strings.Contains(r.Message, "share") {
		t.Errorf("link share: %s", r.Message)
	}

	rows := `[[{"text":"Open","actionType":1,"url":"https://example.com"}],[{"text":"Ping","actionType":3,"value":"p"}]]`
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{
		seg("text", map[string]any{"text": "choose"}),
		map[string]any{"type": "button", "data": map[string]any{"buttons": json.RawMessage(rows)}},
	}})
	r = e.lastSent().Request
	var got, want any
	_ = json.Unmarshal([]byte(r.Content.GetButtons()), &got)
	_ = json.Unmarshal([]byte(rows), &want)
	if r.Content.GetText() != "choose" || !jsonEqual(got, want) {
		t.Fatalf("buttons sent %v", r)
	}
	if r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("text", map[string]any{"text": "x"}), seg("button", map[string]any{"buttons": "nope"})}}, 1400); !strings.Contains(r.Message, "button.buttons") {
		t.Errorf("bad buttons: %s", r.Message)
	}
	if r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("button", map[string]any{"buttons": rows})}}, 1400); !strings.Contains(r.Message, "nothing to send") {
		t.Errorf("buttons alone: %s", r.Message)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y) && len(x) > 4
}

func TestOutboundUnsupportedSegments(t *testing.T) {
	e := newActEnv(t)
	u := userN(t, sim.AliceID)
	n := len(e.sim.Sent())
	for _, typ := range []string{"dice", "rps", "shake", "poke", "music", "xml", "json", "location", "contact", "node", "forward", "made_up"} {
		r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{
			seg("text", map[string]any{"text": "before"}), seg(typ, map[string]any{"type": "qq", "id": "1", "data": "{}"}),
		}}, 1400)
		if !strings.Contains(r.Message, typ) {
			t.Errorf("%s: message %q does not name it", typ, r.Message)
		}
	}
	e.fail("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:anonymous]hi"}, 1400)
	if len(e.sim.Sent()) != n {
		t.Fatal("a refused message was partly sent")
	}
	e.send("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:anonymous,ignore=1]hi"})
	if got := e.lastSent().Request.Content.GetText(); got != "hi" {
		t.Errorf("anonymous ignore: %q", got)
	}
	// A bad medium fails the whole message before its text goes out.
	n = len(e.sim.Sent())
	e.fail("send_private_msg", map[string]any{"user_id": u, "message": "text first[CQ:image,file=base64://%%%]"}, 1400)
	if len(e.sim.Sent()) != n {
		t.Fatal("text sent although the image failed")
	}
}

func TestOutboundCQOptions(t *testing.T) {
	u := userN(t, sim.AliceID)
	t.Run("kept", func(t *testing.T) {
		e := newActEnv(t)
		e.send("send_private_msg", map[string]any{"user_id": u, "message": "a[CQ:bad"})
		if got := e.lastSent().Request.Content.GetText(); got != "a[CQ:bad" {
			t.Errorf("text %q", got)
		}
		e.send("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:at,qq=1000002]", "auto_escape": true})
		if got := e.lastSent().Request.Content.GetText(); got != "[CQ:at,qq=1000002]" {
			t.Errorf("auto_escape: %q", got)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		e := newActEnv(t, func(o *bridge.Options) { o.IgnoreInvalidCQCode = true })
		e.send("send_private_msg", map[string]any{"user_id": u, "message": "a[CQ:bad"})
		if got := e.lastSent().Request.Content.GetText(); got != "a" {
			t.Errorf("text %q", got)
		}
	})
}
