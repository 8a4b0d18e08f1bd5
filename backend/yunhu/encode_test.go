package yunhu

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Segments → the Yunhu messages Encode prepares (payloads) and, sent, what
// the simulator receives.

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
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:], 1000)
	binary.BigEndian.PutUint32(mvhd[16:], seconds*1000)
	return append(box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41")), box("moov", box("mvhd", mvhd))...)
}

func silkBytes() []byte { return append([]byte("\x02#!SILK_V3"), make([]byte, 64)...) }

func b64(data []byte) string { return "base64://" + base64.StdEncoding.EncodeToString(data) }

func md5Hex(data []byte) string {
	s := md5.Sum(data)
	return hex.EncodeToString(s[:])
}

func seg(typ string, kv ...string) segment.Segment {
	s := segment.Segment{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Set(kv[i], kv[i+1])
	}
	return s
}

var (
	groupOwned = platform.Conv{Kind: platform.KindGroup, ID: sim.GroupOwnedID}
	aliceConv  = platform.Conv{Kind: platform.KindPrivate, ID: sim.AliceID}
)

// encoder is a logged-in backend for Encode and Send.
func encoder(t *testing.T) (*world, *env) {
	t.Helper()
	w := newWorld(t)
	e := w.backend()
	if _, err := e.b.Self(e.ctx); err != nil {
		t.Fatal(err)
	}
	return w, e
}

// encode encodes msg and returns the outgoing messages and their payloads.
func (e *env) encode(t *testing.T, conv platform.Conv, msg segment.Message, env platform.EncodeEnv) ([]platform.Outgoing, []yh.Outgoing) {
	t.Helper()
	outs, err := e.b.Encode(e.ctx, conv, msg, env)
	if err != nil {
		t.Fatalf("encode %s: %v", segment.FormatCQ(msg), err)
	}
	ps := make([]yh.Outgoing, len(outs))
	for i := range outs {
		p, err := payload(&outs[i])
		if err != nil {
			t.Fatal(err)
		}
		if outs[i].ID == "" || p.ID != outs[i].ID || outs[i].Conv != conv || p.Chat.ID != conv.ID {
			t.Fatalf("part %d: id %q payload %q conv %v chat %v", i, outs[i].ID, p.ID, outs[i].Conv, p.Chat)
		}
		ps[i] = p
	}
	return outs, ps
}

func TestEncodeTextWithMentions(t *testing.T) {
	_, e := encoder(t)
	named := platform.EncodeEnv{Name: func(_ context.Context, id string) string {
		return map[string]string{sim.AliceID: "Alice"}[id]
	}}
	msg := segment.Message{
		segment.Text("hi "), segment.At(sim.AliceID), segment.Text("and "),
		seg("at", "qq", sim.BobID, "name", "B"), segment.At(sim.AliceID),
	}
	outs, ps := e.encode(t, groupOwned, msg, named)
	if len(ps) != 1 || ps[0].ContentType != yh.ContentText || ps[0].Chat.Type != yh.ChatTypeGroup {
		t.Fatalf("payloads %+v", ps)
	}
	if got, want := ps[0].Content.Text, "hi @Alice and @B @Alice "; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if got := strings.Join(ps[0].Content.Mentions, ","); got != sim.AliceID+","+sim.BobID {
		t.Errorf("mentions %s", got)
	}
	if segment.FormatCQ(outs[0].Body) != segment.FormatCQ(msg) {
		t.Errorf("body %s, want the segments as given", segment.FormatCQ(outs[0].Body))
	}
	// A bot in the group, which the core does not know by name, is found
	// in the group's bot list; a user by profile.
	_, ps = e.encode(t, groupOwned, segment.Message{segment.At(sim.BotID)}, named)
	if got := ps[0].Content.Text; got != "@EchoBot " {
		t.Errorf("bot mention %q", got)
	}
	_, ps = e.encode(t, groupOwned, segment.Message{segment.At(sim.CarolID), segment.Text(" hi")}, platform.EncodeEnv{})
	if got := ps[0].Content.Text; got != "@Carol hi" {
		t.Errorf("profile name %q", got)
	}
}

func TestEncodeMentionErrors(t *testing.T) {
	_, e := encoder(t)
	_, err := e.b.Encode(e.ctx, groupOwned, cq("[CQ:at,qq=all] everyone"), platform.EncodeEnv{})
	if !badParam(err, "qq=all") || !badParam(err, "Yunhu") {
		t.Errorf("at all: %v", err)
	}
	_, err = e.b.Encode(e.ctx, groupOwned, segment.Message{segment.At("")}, platform.EncodeEnv{})
	if !badParam(err, "at.qq") {
		t.Errorf("empty qq: %v", err)
	}
}

func TestEncodeReply(t *testing.T) {
	_, e := encoder(t)
	quote := &platform.Quote{MsgID: "q1", SenderID: sim.AliceID, Sender: "Alice", Body: cq("question?")}
	msg := segment.Message{segment.Reply("q1"), segment.Text("answer"), segment.Markdown("**b**")}
	outs, ps := e.encode(t, groupOwned, msg, platform.EncodeEnv{Quote: quote})
	if len(ps) != 2 || ps[0].QuoteID != "q1" || ps[0].Content.QuoteText != "Alice: question?" || ps[0].Content.Text != "answer" {
		t.Fatalf("first part %+v", ps[0])
	}
	if ps[1].QuoteID != "" || ps[1].Content.QuoteText != "" {
		t.Errorf("the quote went on the second part too: %+v", ps[1])
	}
	if got := segment.FormatCQ(outs[0].Body); got != "[CQ:reply,id=q1]answer" {
		t.Errorf("body of the first part %s", got)
	}
	// A quoted image is previewed with its URL.
	quote.Body = cq("[CQ:image,file=x.png,url=https://i/x.png]")
	_, ps = e.encode(t, groupOwned, msg[:2], platform.EncodeEnv{Quote: quote})
	if c := ps[0].Content; c.QuoteText != "Alice: [图片]" || c.QuoteImageURL != "https://i/x.png" || c.QuoteImageName != "x.png" {
		t.Errorf("image quote %+v", c)
	}
	if _, err := e.b.Encode(e.ctx, groupOwned, segment.Message{segment.Reply("other"), segment.Text("x")}, platform.EncodeEnv{Quote: quote}); !badParam(err, "reply.id") {
		t.Errorf("reply without its quote: %v", err)
	}
	if _, err := e.b.Encode(e.ctx, groupOwned, segment.Message{segment.Reply("q1"), segment.Reply("q1"), segment.Text("x")}, platform.EncodeEnv{Quote: quote}); !badParam(err, "only one reply") {
		t.Errorf("two replies: %v", err)
	}
}

func TestEncodeMarkdownHTMLA2UI(t *testing.T) {
	_, e := encoder(t)
	for typ, ct := range map[string]yh.ContentType{"markdown": yh.ContentMarkdown, "html": yh.ContentHTML, "a2ui": yh.ContentA2UI} {
		_, ps := e.encode(t, aliceConv, segment.Message{seg(typ, "content", "<b>"+typ+"</b>")}, platform.EncodeEnv{})
		if ps[0].ContentType != ct || ps[0].Content.Text != "<b>"+typ+"</b>" {
			t.Errorf("%s: %+v", typ, ps[0])
		}
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, segment.Message{seg("markdown", "content", " ")}, platform.EncodeEnv{}); !badParam(err, "markdown.content") {
		t.Errorf("empty markdown: %v", err)
	}
}

func countPath(w *world, path string) int {
	n := 0
	for _, r := range w.sim.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func TestEncodeMedia(t *testing.T) {
	w, e := encoder(t)
	env := mediaEnv()
	img := pngBytes(t, 3, 2)
	outs, ps := e.encode(t, aliceConv, segment.Message{seg("image", "file", b64(img))}, env)
	key := md5Hex(img) + ".png"
	if ps[0].ContentType != yh.ContentImage || ps[0].Content.Image != key {
		t.Fatalf("image %+v", ps[0])
	}
	if got, ok := w.sim.Object(yh.BucketImage, key); !ok || !bytes.Equal(got, img) {
		t.Error("image not uploaded")
	}
	if m := ps[0].Media; m == nil || m.Width != 3 || m.Height != 2 {
		t.Errorf("media %+v", ps[0].Media)
	}
	if got, want := segment.FormatCQ(outs[0].Body), "[CQ:image,file="+key+",url="+yh.DefaultImageCDN+key+",file_size="+itoa(int64(len(img)))+"]"; got != want {
		t.Errorf("stored image %s, want %s (never the bytes)", got, want)
	}

	_, ps = e.encode(t, aliceConv, segment.Message{seg("record", "file", b64(wavBytes(3)))}, env)
	if ps[0].ContentType != yh.ContentAudio || ps[0].Content.AudioURL == "" || ps[0].Content.AudioSeconds != 3 {
		t.Fatalf("record %+v", ps[0])
	}
	_, ps = e.encode(t, aliceConv, segment.Message{seg("record", "file", b64(silkBytes()), "duration", "7")}, env)
	if ps[0].Content.AudioSeconds != 7 {
		t.Errorf("duration param: %d", ps[0].Content.AudioSeconds)
	}
	_, ps = e.encode(t, aliceConv, segment.Message{seg("video", "file", b64(mp4Bytes(5)))}, env)
	if ps[0].ContentType != yh.ContentVideo || !strings.HasSuffix(ps[0].Content.VideoURL, ".mp4") {
		t.Fatalf("video %+v", ps[0])
	}
	_, ps = e.encode(t, aliceConv, segment.Message{seg("file", "file", b64([]byte("report")), "name", "report.txt")}, env)
	if c := ps[0].Content; ps[0].ContentType != yh.ContentFile || c.FileName != "report.txt" || !strings.HasPrefix(c.FileURL, yh.KeyPrefixFile) || c.FileSize != 6 {
		t.Fatalf("file %+v", ps[0])
	}

	// A hosted key is sent again without an upload.
	uploads := countPath(w, sim.PathUpload)
	_, ps = e.encode(t, aliceConv, segment.Message{seg("image", "file", key)}, env)
	if ps[0].Content.Image != key || countPath(w, sim.PathUpload) != uploads {
		t.Errorf("key reuse: %+v, uploads %d → %d", ps[0], uploads, countPath(w, sim.PathUpload))
	}
	// Bytes of the wrong kind, and what the core's reader refuses.
	if _, err := e.b.Encode(e.ctx, aliceConv, segment.Message{seg("image", "file", b64([]byte("plain text")))}, env); !badParam(err, "image.file: the data is not an image") {
		t.Errorf("text as an image: %v", err)
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, cq("text first[CQ:image,file=https://example.invalid/x.png]"), env); !badParam(err, "cannot be read") {
		t.Errorf("unreadable medium: %v", err)
	}
}

// TestEncodeSplit: text and media become several Yunhu messages in
// order, each with its own msg_id; buttons go on the last.
func TestEncodeSplit(t *testing.T) {
	_, e := encoder(t)
	img := b64(pngBytes(t, 1, 1))
	rows := `[[{"text":"Open","actionType":1,"url":"https://example.com"}]]`
	msg := cq("look:[CQ:image,file=" + img + "]\n[CQ:image,file=" + img + "]and this")
	msg = append(msg, segment.Button(rows))
	outs, ps := e.encode(t, groupOwned, msg, mediaEnv())
	var types []yh.ContentType
	ids := map[string]bool{}
	for i, p := range ps {
		types = append(types, p.ContentType)
		ids[outs[i].ID] = true
	}
	if want := []yh.ContentType{yh.ContentText, yh.ContentImage, yh.ContentImage, yh.ContentText}; !slicesEqual(types, want) {
		t.Fatalf("content types %v, want %v (the blank line between images is no message)", types, want)
	}
	if len(ids) != 4 {
		t.Errorf("ids %v: want four distinct", ids)
	}
	if ps[0].Content.Text != "look:" || ps[3].Content.Text != "and this" || ps[3].Content.Buttons == "" || ps[0].Content.Buttons != "" {
		t.Errorf("parts %+v", ps)
	}
	if last := outs[3].Body; last[len(last)-1].Type != segment.TypeButton {
		t.Errorf("buttons not in the last part's body: %s", segment.FormatCQ(last))
	}
}

func slicesEqual[T comparable](a, b []T) bool {
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

func TestEncodeStickerFormShareButtons(t *testing.T) {
	_, e := encoder(t)
	none := platform.EncodeEnv{}
	_, ps := e.encode(t, aliceConv, segment.Message{seg("image", "file", "https://cdn.invalid/sticker/abc.gif", "url", "https://cdn.invalid/sticker/abc.gif",
		"sub_type", "sticker", "path", "sticker/abc.gif", "sticker_item_id", "12", "sticker_pack_id", "34")}, none)
	if c := ps[0].Content; ps[0].ContentType != yh.ContentSticker || c.Image != "sticker/abc.gif" || c.StickerItemID != 12 || c.StickerPackID != 34 {
		t.Fatalf("sticker %+v", ps[0])
	}
	_, ps = e.encode(t, aliceConv, segment.Message{seg("image", "file", "x", "sub_type", "expression", "path", "expression/def.png", "expression_id", "99")}, none)
	if c := ps[0].Content; ps[0].ContentType != yh.ContentSticker || c.Image != "expression/def.png" || c.ExpressionID != "99" {
		t.Fatalf("expression %+v", ps[0])
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, cq("[CQ:face,id=14]"), none); !badParam(err, "face") {
		t.Errorf("QQ face: %v", err)
	}

	_, ps = e.encode(t, aliceConv, segment.Message{seg("form", "form", `{"a":{"id":"a","type":"input","value":"x"}}`, "command_id", "1001")}, none)
	if ps[0].ContentType != yh.ContentForm || ps[0].CommandID != sim.BotCommandID {
		t.Fatalf("form %+v", ps[0])
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, segment.Message{seg("form", "form", "{")}, none); !badParam(err, "form.form") {
		t.Errorf("bad form: %v", err)
	}
	_, ps = e.encode(t, aliceConv, segment.Message{seg("share", "url", "", "title", "T", "content", "C", "post_id", "77", "post_type", "2")}, none)
	if c := ps[0].Content; ps[0].ContentType != yh.ContentPost || c.PostID != "77" || c.PostTitle != "T" || c.PostType != "2" {
		t.Fatalf("post %+v", ps[0])
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, cq("[CQ:share,url=https://example.com,title=x]"), none); !badParam(err, "share") {
		t.Errorf("link share: %v", err)
	}

	rows := `[[{"text":"Open","actionType":1,"url":"https://example.com"}],[{"text":"Ping","actionType":3,"value":"p"}]]`
	_, ps = e.encode(t, aliceConv, segment.Message{segment.Text("choose"), segment.Button(rows)}, none)
	var got, want any
	_ = json.Unmarshal([]byte(ps[0].Content.Buttons), &got)
	_ = json.Unmarshal([]byte(rows), &want)
	if g, _ := json.Marshal(got); ps[0].Content.Text != "choose" || string(g) == "null" || !jsonSame(got, want) {
		t.Fatalf("buttons %+v", ps[0])
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, segment.Message{segment.Text("x"), segment.Button("nope")}, none); !badParam(err, "button.buttons") {
		t.Errorf("bad buttons: %v", err)
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, segment.Message{segment.Button(rows)}, none); !badParam(err, "nothing to send") {
		t.Errorf("buttons alone: %v", err)
	}
}

func jsonSame(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestEncodeUnsupportedSegments(t *testing.T) {
	_, e := encoder(t)
	for _, typ := range []string{"dice", "rps", "shake", "poke", "music", "xml", "json", "location", "contact", "node", "forward", "made_up"} {
		_, err := e.b.Encode(e.ctx, aliceConv, segment.Message{segment.Text("before"), seg(typ, "type", "qq", "id", "1")}, platform.EncodeEnv{})
		if !badParam(err, typ) {
			t.Errorf("%s: %v does not name it", typ, err)
		}
	}
	if _, err := e.b.Encode(e.ctx, aliceConv, cq("[CQ:anonymous]hi"), platform.EncodeEnv{}); !badParam(err, "anonymous") {
		t.Errorf("anonymous: %v", err)
	}
	_, ps := e.encode(t, aliceConv, cq("[CQ:anonymous,ignore=1]hi"), platform.EncodeEnv{})
	if ps[0].Content.Text != "hi" {
		t.Errorf("anonymous ignore: %+v", ps[0])
	}
	long := strings.Repeat("x", maxRecordBody+1)
	if _, err := e.b.Encode(e.ctx, aliceConv, segment.Message{segment.Text(long)}, platform.EncodeEnv{}); !badParam(err, "too large") {
		t.Errorf("a part too large to record: %v", err)
	}
}

// TestSendBotFallback: a private chat refused as a user chat whose peer
// the address book lists as a bot is sent as a bot chat, and the bot is
// remembered for the next send.
func TestSendBotFallback(t *testing.T) {
	w, e := encoder(t)
	botConv := platform.Conv{Kind: platform.KindPrivate, ID: sim.BotID}
	// The address book cannot be read when Encode asks: the bot is not
	// known yet, and the payload goes out as a user chat.
	w.sim.FailNext(1, 400, yh.PathAddressBookList)
	outs, ps := e.encode(t, botConv, cq("hello bot"), platform.EncodeEnv{})
	if ps[0].Chat.Type != yh.ChatTypeUser {
		t.Fatalf("payload chat %+v: the test needs the bot unknown", ps[0].Chat)
	}
	before := len(w.sim.Sent())
	sent, err := e.b.Send(e.ctx, &outs[0])
	if err != nil {
		t.Fatal(err)
	}
	got := w.sim.Sent()[before:]
	if len(got) != 2 || got[0].Request.ChatType != yh.ChatTypeUser || got[0].Code == yh.CodeOK ||
		got[1].Request.ChatType != yh.ChatTypeBot || got[1].Code != yh.CodeOK || got[1].Request.MsgId != outs[0].ID || sent.ID != outs[0].ID {
		t.Fatalf("sends %+v, sent %+v", got, sent)
	}
	_, ps = e.encode(t, botConv, cq("again"), platform.EncodeEnv{})
	if ps[0].Chat.Type != yh.ChatTypeBot {
		t.Errorf("the bot was not remembered: %+v", ps[0].Chat)
	}
}

// TestSendErrors: Yunhu's refusal is definite (nothing was sent) and
// carries its text; an HTTP failure leaves the send's fate unknown.
func TestSendErrors(t *testing.T) {
	w, e := encoder(t)
	dave := platform.Conv{Kind: platform.KindPrivate, ID: sim.DaveID}
	outs, _ := e.encode(t, dave, cq("hello stranger"), platform.EncodeEnv{})
	_, err := e.b.Send(e.ctx, &outs[0])
	var pe *platform.Error
	if !errors.As(err, &pe) || !pe.Definite || pe.Msg == "" || strings.Contains(pe.Msg, "/v1/") {
		t.Fatalf("refused send: %#v", err)
	}
	var ae *yh.APIError
	if !errors.As(err, &ae) || ae.Msg != pe.Msg {
		t.Errorf("the Yunhu error is not reachable: %v", err)
	}

	outs, _ = e.encode(t, aliceConv, cq("hello friend"), platform.EncodeEnv{})
	w.sim.FailNext(1, 400, yh.PathSendMessage)
	_, err = e.b.Send(e.ctx, &outs[0])
	if !errors.As(err, &pe) || pe.Definite {
		t.Fatalf("HTTP failure: %#v, want an ambiguous *platform.Error", err)
	}
	if sent, err := e.b.Send(e.ctx, &outs[0]); err != nil || sent.ID != outs[0].ID {
		t.Fatalf("the retry under the same id: %+v %v", sent, err)
	}
}

// TestEdit: an edit is one text, markdown or html message; it replaces
// the content under the same id and returns the body to store.
func TestEdit(t *testing.T) {
	w, e := encoder(t)
	outs, _ := e.encode(t, aliceConv, cq("first"), platform.EncodeEnv{})
	if _, err := e.b.Send(e.ctx, &outs[0]); err != nil {
		t.Fatal(err)
	}
	body, err := e.b.Edit(e.ctx, aliceConv, outs[0].ID, segment.Message{segment.Markdown("**second**")}, platform.EncodeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if segment.FormatCQ(body) != "[CQ:markdown,content=**second**]" {
		t.Errorf("body %s", segment.FormatCQ(body))
	}
	if rec, ok := w.sim.Lookup(outs[0].ID); !ok || rec.ContentType != yh.ContentMarkdown || rec.Content.GetText() != "**second**" {
		t.Errorf("the simulator holds %+v", rec)
	}
	_, err = e.b.Edit(e.ctx, aliceConv, outs[0].ID, cq("a[CQ:image,file="+b64(pngBytes(t, 1, 1))+"]"), mediaEnv())
	if !badParam(err, "an edit must be one text, markdown or html message") {
		t.Errorf("edit into two messages: %v", err)
	}
}

// TestRecall recalls one message with one call and several with a batch;
// Yunhu's refusal is passed on.
func TestRecall(t *testing.T) {
	w, e := encoder(t)
	outs, _ := e.encode(t, aliceConv, cq("one[CQ:markdown,content=two]three"), platform.EncodeEnv{})
	var ids []string
	for i := range outs {
		sent, err := e.b.Send(e.ctx, &outs[i])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sent.ID)
	}
	if err := e.b.Recall(e.ctx, aliceConv, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Recall(e.ctx, aliceConv, ids[1:]); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if r, ok := w.sim.Lookup(id); !ok || r.RecallTime == 0 {
			t.Errorf("%s not recalled", id)
		}
	}
	if countPath(w, yh.PathRecallMessage) != 1 || countPath(w, yh.PathRecallMessageBatch) != 1 {
		t.Errorf("recall calls: %d single, %d batch", countPath(w, yh.PathRecallMessage), countPath(w, yh.PathRecallMessageBatch))
	}
	theirs := inject(t, w, sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "mine"})
	var pe *platform.Error
	if err := e.b.Recall(e.ctx, aliceConv, []string{theirs.MsgID}); !errors.As(err, &pe) || pe.Msg == "" {
		t.Errorf("recalling Alice's message: %v", err)
	}
}
