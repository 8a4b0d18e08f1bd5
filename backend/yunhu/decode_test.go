package yunhu

import (
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// TestDecodeContent pins the segments of every Yunhu content type (the
// mapping table of decode.go, a public contract). At segments carry the
// Yunhu user id; the core maps it.
func TestDecodeContent(t *testing.T) {
	b, err := New(Options{Client: nopPlatform{}, KV: newMemKV()})
	if err != nil {
		t.Fatal(err)
	}
	names := func(id string) []string {
		return map[string][]string{
			sim.BobID: {"Bob", "Bobby"}, sim.CarolID: {"Carol"}, sim.SelfID: {"Sim Self"},
		}[id]
	}
	const img = "https://chat-img.jwznb.com/abc.png"
	cases := []struct {
		name string
		ct   yh.ContentType
		c    yh.Content
		want string // CQ
	}{
		{"text", yh.ContentText, yh.Content{Text: "plain & [x]"}, "plain &amp; &#91;x&#93;"},
		{"mentions", yh.ContentText, yh.Content{Text: "@Bob hello @Carol", Mentions: []string{sim.BobID, sim.CarolID}},
			"[CQ:at,qq=1000003] hello [CQ:at,qq=1000004]"},
		{"mention of self", yh.ContentText, yh.Content{Text: "@Sim Self ping", Mentions: []string{sim.SelfID}},
			"[CQ:at,qq=1000001] ping"},
		{"mention by another name", yh.ContentText, yh.Content{Text: "@Bobby yo", Mentions: []string{sim.BobID}},
			"[CQ:at,qq=1000003] yo"},
		{"mention of a longer name", yh.ContentText, yh.Content{Text: "@Bobby2 x @Bob", Mentions: []string{sim.BobID}},
			"@Bobby2 x [CQ:at,qq=1000003]"},
		{"mention not in the text", yh.ContentText, yh.Content{Text: "hey", Mentions: []string{sim.BobID}},
			"[CQ:at,qq=1000003]hey"},
		{"mention of an unknown name", yh.ContentText, yh.Content{Text: "hi @Zed!", Mentions: []string{sim.DaveID}},
			"hi [CQ:at,qq=1000005]"},
		{"mention of all", yh.ContentText, yh.Content{Text: "@全体成员 meeting", Mentions: []string{"all"}},
			"[CQ:at,qq=all] meeting"},
		{"markdown with mentions", yh.ContentMarkdown, yh.Content{Text: "**b**", Mentions: []string{sim.BobID, sim.BobID}},
			"[CQ:at,qq=1000003][CQ:markdown,content=**b**]"},
		{"image", yh.ContentImage, yh.Content{ImageURL: img}, "[CQ:image,file=" + img + ",url=" + img + "]"},
		{"image with caption", yh.ContentImage, yh.Content{ImageURL: img, Text: "look"}, "[CQ:image,file=" + img + ",url=" + img + "]look"},
		{"html", yh.ContentHTML, yh.Content{Text: "<b>x</b>"}, "[CQ:html,content=<b>x</b>]"},
		{"file", yh.ContentFile, yh.Content{FileURL: "https://f/disk/f.txt", FileName: "f.txt", FileSize: 12},
			"[CQ:file,file=https://f/disk/f.txt,name=f.txt,url=https://f/disk/f.txt,file_size=12]"},
		{"form", yh.ContentForm, yh.Content{Form: `{"a":"b"}`}, `[CQ:form,form={"a":"b"}]`},
		{"post", yh.ContentPost, yh.Content{PostID: "77", PostTitle: "T", PostContent: "C", PostType: "1"},
			"[CQ:share,url=,title=T,content=C,post_id=77,post_type=1]"},
		{"pack sticker", yh.ContentSticker, yh.Content{ImageURL: "https://i/sticker/s.webp", Image: "sticker/s.webp", StickerItemID: 5, StickerPackID: 9},
			"[CQ:image,file=https://i/sticker/s.webp,url=https://i/sticker/s.webp,sub_type=sticker,path=sticker/s.webp,sticker_item_id=5,sticker_pack_id=9]"},
		{"expression", yh.ContentSticker, yh.Content{ImageURL: "https://i/expression/e.png", Image: "expression/e.png", ExpressionID: "321"},
			"[CQ:image,file=https://i/expression/e.png,url=https://i/expression/e.png,sub_type=expression,path=expression/e.png,expression_id=321]"},
		{"video", yh.ContentVideo, yh.Content{VideoURL: "https://v/v.mp4"}, "[CQ:video,file=https://v/v.mp4,url=https://v/v.mp4]"},
		{"audio", yh.ContentAudio, yh.Content{AudioURL: "https://a/a.m4a", AudioSeconds: 3}, "[CQ:record,file=https://a/a.m4a,url=https://a/a.m4a]"},
		{"voice call", yh.ContentVoiceCall, yh.Content{CallStatusText: "通话时长 00:05"}, "&#91;语音通话&#93; 通话时长 00:05"},
		{"video call", yh.ContentVideoCall, yh.Content{CallText: "room"}, "&#91;视频通话&#93; room"},
		{"a2ui", yh.ContentA2UI, yh.Content{Text: `{"ui":1}`}, `[CQ:a2ui,content={"ui":1}]`},
		{"buttons", yh.ContentText, yh.Content{Text: "pick", Buttons: `[[{"text":"A","actionType":3,"value":"a"}]]`},
			`pick[CQ:button,buttons=&#91;&#91;{"text":"A"&#44;"actionType":3&#44;"value":"a"}&#93;&#93;]`},
		{"tip", 99, yh.Content{Tip: "系统提示"}, "系统提示"},
		{"unknown type", 98, yh.Content{}, "&#91;unsupported message type 98&#93;"},
	}
	for _, tc := range cases {
		got, err := b.Decode(t.Context(), platform.Conv{Kind: platform.KindGroup, ID: sim.GroupOwnedID}, Content{Type: tc.ct, Body: tc.c}, names)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if cqs := segment.FormatCQ(got); cqs != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, cqs, tc.want)
		}
	}
	// A pointer decodes the same; anything else is refused.
	if got, err := b.Decode(t.Context(), platform.Conv{}, &Content{Type: yh.ContentText, Body: yh.Content{Text: "p"}}, nil); err != nil || segment.FormatCQ(got) != "p" {
		t.Errorf("*Content: %v %v", got, err)
	}
	if _, err := b.Decode(t.Context(), platform.Conv{}, "text", nil); err == nil {
		t.Error("a string decoded as Yunhu content")
	}
}

// TestDecodeReceived: a pushed message's content, as the simulator sends
// it, decodes through Received.
func TestDecodeReceived(t *testing.T) {
	w := newWorld(t)
	e := w.backend()
	s := newSink()
	e.run(s)
	inject(t, w, sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, ContentType: yh.ContentImage,
		Content: &yunhupb.MsgContent{Image: "abc.png", Text: "look"}})
	r := s.wait(t, "the message", 1, notOnline)[0].(platform.Received)
	got, err := e.b.Decode(e.ctx, r.Message.Conv, r.Message.Content, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := w.srv.URL + "/cdn/img/abc.png"
	if want := "[CQ:image,file=" + u + ",url=" + u + "]look"; segment.FormatCQ(got) != want {
		t.Errorf("got %s, want %s", segment.FormatCQ(got), want)
	}
}

// nopPlatform is a Platform for tests that must not reach Yunhu: every
// call panics through the nil interface it embeds.
type nopPlatform struct{ Platform }
