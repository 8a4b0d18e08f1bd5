package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// TestInboundContent pins the segments of every Yunhu content type, as
// they reach a framework: raw_message (CQ) and, with post-format array,
// the array form of the same segments.
func TestInboundContent(t *testing.T) {
	w := newEvWorld(t)
	b := w.startBridge(func(o *bridge.Options) { o.PostFormat = "array" })
	group := func(ct int32, c *yunhupb.MsgContent) sim.Message {
		return sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, ContentType: ct, Content: c}
	}
	private := func(ct int32, c *yunhupb.MsgContent) sim.Message {
		return sim.Message{From: sim.AliceID, ChatID: sim.SelfID, ContentType: ct, Content: c}
	}
	cases := []struct {
		name string
		msg  sim.Message
		want string // raw_message, BASE standing for the simulator's URL
	}{
		{"text", private(yunhu.ContentText, &yunhupb.MsgContent{Text: "plain & [x]"}),
			"plain &amp; &#91;x&#93;"},
		{"mentions", group(yunhu.ContentText, &yunhupb.MsgContent{Text: "@Bob hello @Carol", MentionedId: []string{sim.BobID, sim.CarolID}}),
			"[CQ:at,qq=1000003] hello [CQ:at,qq=1000004]"},
		{"mention of self", group(yunhu.ContentText, &yunhupb.MsgContent{Text: "@Sim Self ping", MentionedId: []string{sim.SelfID}}),
			"[CQ:at,qq=1000001] ping"},
		{"mention by another name", group(yunhu.ContentText, &yunhupb.MsgContent{Text: "@Bobby yo", MentionedId: []string{sim.BobID}}),
			"[CQ:at,qq=1000003] yo"},
		{"mention not in the text", group(yunhu.ContentText, &yunhupb.MsgContent{Text: "hey", MentionedId: []string{sim.BobID}}),
			"[CQ:at,qq=1000003]hey"},
		{"image", private(yunhu.ContentImage, &yunhupb.MsgContent{Image: "abc.png"}),
			"[CQ:image,file=BASE/cdn/img/abc.png,url=BASE/cdn/img/abc.png]"},
		{"image with caption", private(yunhu.ContentImage, &yunhupb.MsgContent{Image: "abc.png", Text: "look"}),
			"[CQ:image,file=BASE/cdn/img/abc.png,url=BASE/cdn/img/abc.png]look"},
		{"markdown", private(yunhu.ContentMarkdown, &yunhupb.MsgContent{Text: "**b**"}),
			"[CQ:markdown,content=**b**]"},
		{"html", private(yunhu.ContentHTML, &yunhupb.MsgContent{Text: "<b>x</b>"}),
			"[CQ:html,content=<b>x</b>]"},
		{"file", private(yunhu.ContentFile, &yunhupb.MsgContent{FileUrl: "disk/f.txt", FileName: "f.txt", FileSize: 12}),
			"[CQ:file,file=BASE/cdn/file/disk/f.txt,name=f.txt,url=BASE/cdn/file/disk/f.txt,file_size=12]"},
		{"form", private(yunhu.ContentForm, &yunhupb.MsgContent{Form: `{"a":"b"}`}),
			`[CQ:form,form={"a":"b"}]`},
		{"post", private(yunhu.ContentPost, &yunhupb.MsgContent{PostId: "77", PostTitle: "T", PostContent: "C", PostType: "1"}),
			"[CQ:share,url=,title=T,content=C,post_id=77,post_type=1]"},
		{"pack sticker", private(yunhu.ContentSticker, &yunhupb.MsgContent{Image: "sticker/s.webp", StickerItemId: 5, StickerPackId: 9}),
			"[CQ:image,file=BASE/cdn/img/sticker/s.webp,url=BASE/cdn/img/sticker/s.webp,sub_type=sticker,path=sticker/s.webp,sticker_item_id=5,sticker_pack_id=9]"},
		{"expression", private(yunhu.ContentSticker, &yunhupb.MsgContent{Image: "expression/e.png", ExpressionId: "321"}),
			"[CQ:image,file=BASE/cdn/img/expression/e.png,url=BASE/cdn/img/expression/e.png,sub_type=expression,path=expression/e.png,expression_id=321]"},
		{"video", private(yunhu.ContentVideo, &yunhupb.MsgContent{VideoUrl: "v.mp4"}),
			"[CQ:video,file=BASE/cdn/video/v.mp4,url=BASE/cdn/video/v.mp4]"},
		{"audio", private(yunhu.ContentAudio, &yunhupb.MsgContent{AudioUrl: "a.m4a", AudioTime: 3}),
			"[CQ:record,file=BASE/cdn/audio/a.m4a,url=BASE/cdn/audio/a.m4a]"},
		{"voice call", private(yunhu.ContentVoiceCall, &yunhupb.MsgContent{CallStatusText: "通话时长 00:05"}),
			"&#91;语音通话&#93; 通话时长 00:05"},
		{"video call", private(yunhu.ContentVideoCall, &yunhupb.MsgContent{CallText: "room"}),
			"&#91;视频通话&#93; room"},
		{"a2ui", private(yunhu.ContentA2UI, &yunhupb.MsgContent{Text: `{"ui":1}`}),
			`[CQ:a2ui,content={"ui":1}]`},
		{"buttons", private(yunhu.ContentText, &yunhupb.MsgContent{Text: "pick", Buttons: `[[{"text":"A","actionType":3,"value":"a"}]]`}),
			`pick[CQ:button,buttons=&#91;&#91;{"text":"A"&#44;"actionType":3&#44;"value":"a"}&#93;&#93;]`},
		{"tip", private(99, &yunhupb.MsgContent{Tip: "系统提示"}),
			"系统提示"},
		{"unknown type", private(98, &yunhupb.MsgContent{}),
			"&#91;unsupported message type 98&#93;"},
	}
	for _, tc := range cases {
		w.inject(tc.msg)
		ev := b.nextOf(t, "message")
		raw := strings.ReplaceAll(ev.str("raw_message"), w.srv.URL, "BASE")
		if raw != tc.want {
			t.Errorf("%s: raw_message\n got %s\nwant %s", tc.name, raw, tc.want)
			continue
		}
		want, _ := segment.ParseCQ(strings.ReplaceAll(tc.want, "BASE", w.srv.URL))
		if wantJSON := `"message":` + string(segment.AppendJSON(nil, want)) + `,`; !strings.Contains(string(ev.raw), wantJSON) {
			t.Errorf("%s: event %s\nlacks %s", tc.name, ev.raw, wantJSON)
		}
	}
}

// TestInboundQuote: a quote becomes a leading reply segment with the
// quoted message's message_id; a quoted message the bridge never saw gets
// an id (and a placeholder record) on the spot.
func TestInboundQuote(t *testing.T) {
	w := newEvWorld(t)
	old := w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: "before the bridge"})
	b := w.startBridge()

	first := w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: "q"})
	firstID := b.nextOf(t, "message").num(t, "message_id")
	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "a", QuoteMsgID: first.MsgID})
	if ev := b.nextOf(t, "message"); ev.str("raw_message") != fmt.Sprintf("[CQ:reply,id=%d]a", firstID) {
		t.Errorf("reply to a known message: %s", ev.raw)
	}

	w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "b", QuoteMsgID: old.MsgID})
	ev := b.nextOf(t, "message")
	qid := b.storedID(t, old)
	if ev.str("raw_message") != fmt.Sprintf("[CQ:reply,id=%d]b", qid) {
		t.Errorf("reply to an unseen message: %s (its id %d)", ev.raw, qid)
	}
	if m, err := b.store.Message(qid); err != nil || m.Seq != 0 || len(m.Body) != 0 {
		t.Errorf("placeholder: %+v, %v", m, err)
	}

	// A message and a reply to it that arrive in one batch.
	for i := range 20 {
		m := w.inject(sim.Message{From: sim.BobID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("m", i)})
		w.inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("r", i), QuoteMsgID: m.MsgID})
	}
	for i := range 20 {
		m := b.nextOf(t, "message")
		r := b.nextOf(t, "message")
		if want := fmt.Sprintf("[CQ:reply,id=%d]r%d", m.num(t, "message_id"), i); r.str("raw_message") != want || m.str("raw_message") != fmt.Sprint("m", i) {
			t.Fatalf("pair %d: %s then %s", i, m.raw, r.raw)
		}
	}
}
