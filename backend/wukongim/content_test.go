package wukongim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

func textMsg(s string) segment.Message { return segment.Message{segment.Text(s)} }

func withURL(s segment.Segment, kv ...string) segment.Segment {
	for i := 0; i+1 < len(kv); i += 2 {
		s.Set(kv[i], kv[i+1])
	}
	return s
}

func TestDecodeEveryType(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	names := func(uid string) []string {
		if uid == alice {
			return []string{"Alice"}
		}
		return nil
	}
	cases := []struct {
		name    string
		payload string
		want    segment.Message
	}{
		{"text", `{"type":1,"content":"hello"}`, segment.Message{segment.Text("hello")}},
		{"text with mentions placed", `{"type":1,"content":"hi @Alice and @bob !","mention":{"uids":["alice","bob"]}}`,
			segment.Message{segment.Text("hi "), segment.At(alice), segment.Text("and "), segment.At(bob), segment.Text("!")}},
		{"mention not in the text leads", `{"type":1,"content":"hey","mention":{"uids":["carol"]}}`,
			segment.Message{segment.At("carol"), segment.Text("hey")}},
		{"mention all as 1", `{"type":1,"content":"@all meeting","mention":{"all":1}}`,
			segment.Message{segment.AtAll(), segment.Text("meeting")}},
		{"mention all as true", `{"type":1,"content":"@所有人 meeting","mention":{"all":true}}`,
			segment.Message{segment.AtAll(), segment.Text("meeting")}},
		{"image", `{"type":2,"url":"http://x/a.png","width":3,"height":2}`,
			segment.Message{withURL(segment.Image("http://x/a.png"), "url", "http://x/a.png")}},
		{"gif", `{"type":3,"url":"http://x/a.gif"}`,
			segment.Message{withURL(segment.Image("http://x/a.gif"), "url", "http://x/a.gif")}},
		{"voice", `{"type":4,"url":"http://x/v.mp3","timeTrad":7}`,
			segment.Message{withURL(segment.Record("http://x/v.mp3"), "duration", "7", "url", "http://x/v.mp3")}},
		{"video", `{"type":5,"url":"http://x/v.mp4","cover":"http://x/c.jpg","second":"12"}`,
			segment.Message{withURL(segment.Video("http://x/v.mp4"), "cover", "http://x/c.jpg", "duration", "12", "url", "http://x/v.mp4")}},
		{"file", `{"type":8,"url":"http://x/f.pdf","name":"f.pdf","size":1234}`,
			segment.Message{withURL(segment.File("http://x/f.pdf", "f.pdf"), "file_size", "1234", "url", "http://x/f.pdf")}},
		{"merged forward", `{"type":11,"users":[{"uid":"alice","name":"Alice"}],"msgs":[{"from_uid":"alice","payload":{"type":1,"content":"one"}},{"from_uid":"bob","payload":{"type":2,"url":"u"}}]}`,
			segment.Message{segment.Text("[merged forward]\nAlice: one\nbob: [image]")}},
		{"unknown type with content", `{"type":6,"content":"a place"}`, segment.Message{segment.Text("a place")}},
		{"unknown type", `{"type":42}`, segment.Message{segment.Text("[unsupported message type 42]")}},
		{"not JSON", `hello`, segment.Message{segment.Text("[unreadable message payload]")}},
	}
	for _, c := range cases {
		m := msg(1, 1, alice, g1, 2, c.payload)
		ev, ok := b.event(&m).(platform.Received)
		if !ok {
			t.Fatalf("%s: no Received", c.name)
		}
		got, err := b.Decode(context.Background(), ev.Message.Conv, ev.Message.Content, names)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !got.Equal(c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	if _, err := b.Decode(context.Background(), platform.Conv{}, "text", nil); err == nil {
		t.Error("Decode of foreign content: no error")
	}
}

func TestDecodeReplySetsQuoteID(t *testing.T) {
	b := newBackend(t, newFake(), nil, nil)
	m := msg(2, 2, alice, g1, 2, `{"type":1,"content":"yes","reply":{"message_id":"123","message_seq":1,"from_uid":"bob","payload":{"type":1,"content":"q"}}}`)
	ev := b.event(&m).(platform.Received)
	if ev.Message.QuoteID != "123" {
		t.Errorf("QuoteID = %q, want 123", ev.Message.QuoteID)
	}
	m = msg(3, 3, alice, g1, 2, `{"type":1,"content":"yes","reply":{"message_id":124}}`)
	if ev := b.event(&m).(platform.Received); ev.Message.QuoteID != "124" {
		t.Errorf("numeric reply id: QuoteID = %q, want 124", ev.Message.QuoteID)
	}
}

// encoded encodes msg into conv and returns the payloads.
func encoded(t *testing.T, b *Backend, conv platform.Conv, msg segment.Message, env platform.EncodeEnv) ([]string, []platform.Outgoing) {
	t.Helper()
	outs, err := b.Encode(context.Background(), conv, msg, env)
	if err != nil {
		t.Fatalf("Encode(%s): %v", msg, err)
	}
	var out []string
	for _, o := range outs {
		req := o.Payload.(wk.RPCSendRequest)
		if req.ClientMsgNo != o.Token || len(o.Token) != 32 {
			t.Errorf("client_msg_no %q, token %q: want the same 32 hex digits", req.ClientMsgNo, o.Token)
		}
		if o.ID != "" {
			t.Errorf("Outgoing.ID = %q, want \"\": the server assigns ids", o.ID)
		}
		out = append(out, string(req.Payload))
	}
	return out, outs
}

func TestEncodeEveryType(t *testing.T) {
	b := newBackend(t, newFake(), nil, func(o *Options) { o.Users = []Named{{ID: bob, Name: "Bob"}} })
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	names := func(_ context.Context, uid string) string {
		if uid == alice {
			return "Alice"
		}
		return ""
	}
	cases := []struct {
		name string
		msg  segment.Message
		want []string
	}{
		{"text", textMsg(`say "<hi>"`), []string{`{"type":1,"content":"say \"<hi>\""}`}},
		{"text and mentions", segment.Message{segment.Text("hi "), segment.At(alice), segment.At(bob), segment.At("carol"), segment.Text("!")},
			[]string{`{"type":1,"content":"hi @Alice @Bob @carol !","mention":{"uids":["alice","bob","carol"]}}`}},
		{"at all", segment.Message{segment.AtAll(), segment.Text("meeting")},
			[]string{`{"type":1,"content":"@all meeting","mention":{"all":1}}`}},
		{"image by URL", segment.Message{segment.Image("https://x/a.png")},
			[]string{`{"type":2,"url":"https://x/a.png"}`}},
		{"record by URL with duration", segment.Message{withURL(segment.Record("https://x/v.mp3"), "duration", "7")},
			[]string{`{"type":4,"url":"https://x/v.mp3","timeTrad":7}`}},
		{"video by URL", segment.Message{segment.Video("https://x/v.mp4")},
			[]string{`{"type":5,"url":"https://x/v.mp4"}`}},
		{"file by URL", segment.Message{withURL(segment.File("https://x/f.pdf", "f.pdf"), "file_size", "99")},
			[]string{`{"type":8,"url":"https://x/f.pdf","name":"f.pdf","size":99}`}},
		{"received image sent back by its url", segment.Message{withURL(segment.Image("a.png"), "url", "http://x/a.png")},
			[]string{`{"type":2,"url":"http://x/a.png"}`}},
		{"text, image, text", segment.Message{segment.Text("a"), segment.Image("https://x/a.png"), segment.Text("b")},
			[]string{`{"type":1,"content":"a"}`, `{"type":2,"url":"https://x/a.png"}`, `{"type":1,"content":"b"}`}},
	}
	for _, c := range cases {
		got, _ := encoded(t, b, group, c.msg, platform.EncodeEnv{Name: names})
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestEncodeReply(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	quoted := msg(555, 9, alice, g1, 2, text("question"))
	b.event(&quoted) // the backend learns its seq
	env := platform.EncodeEnv{Quote: &platform.Quote{MsgID: "555", SenderID: alice, Sender: "Alice", Body: textMsg("question")}}
	got, outs := encoded(t, b, group, segment.Message{segment.Reply("555"), segment.Text("answer"), segment.Image("https://x/a.png")}, env)
	want := []string{
		`{"type":1,"content":"answer","reply":{"message_id":"555","message_seq":9,"from_uid":"alice","from_name":"Alice","payload":{"type":1,"content":"question"}}}`,
		`{"type":2,"url":"https://x/a.png"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if body := outs[0].Body; len(body) != 2 || body[0].Type != segment.TypeReply {
		t.Errorf("first body = %s, want the reply first", body)
	}
}

func TestEncodeRefusals(t *testing.T) {
	b := newBackend(t, newFake(), nil, nil)
	private := platform.Conv{Kind: platform.KindPrivate, ID: alice}
	for _, m := range []segment.Message{
		{segment.Face("1")},
		{segment.AtAll()}, // not in a private chat
		{segment.Text("  ")},
		{segment.Reply("1"), segment.Text("x")}, // no quote found
	} {
		_, err := b.Encode(context.Background(), private, m, platform.EncodeEnv{})
		var bp *platform.BadParamError
		if !errors.As(err, &bp) {
			t.Errorf("Encode(%s) = %v, want a bad parameter", m, err)
		}
	}
}

func TestRecallBothWays(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, nil)
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	if err := b.Recall(context.Background(), group, []string{"123", "124"}); err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 2 {
		t.Fatalf("%d sends, want 2", len(f.sent))
	}
	want := `{"type":99,"cmd":"messageRevoke","param":{"message_id":"123","channel_id":"g1","channel_type":2}}`
	if got := string(f.sent[0].Payload); got != want || f.sent[0].ChannelID != g1 || f.sent[0].ChannelType != 2 {
		t.Errorf("recall sent %s to %s/%d, want %s to g1/2", got, f.sent[0].ChannelID, f.sent[0].ChannelType, want)
	}

	// Receiving one: a recall by its sender of a message in the chat.
	m := msg(900, 10, alice, self, 1, `{"type":99,"cmd":"messageRevoke","param":{"message_id":"777","channel_id":"bot1","channel_type":1}}`)
	ev, ok := b.event(&m).(platform.Recalled)
	if !ok {
		t.Fatalf("event = %T, want Recalled", b.event(&m))
	}
	if ev.Conv != (platform.Conv{Kind: platform.KindPrivate, ID: alice}) || ev.MsgID != "777" || ev.Operator != alice {
		t.Errorf("Recalled = %+v", ev)
	}
	if !ev.Time.Equal(t0.Add(10e9)) {
		t.Errorf("recall time %v, want %v", ev.Time, t0.Add(10e9))
	}

	// A failed recall stops at the first failure.
	f.sendErr = wk.ErrOffline
	f.sent = nil
	if err := b.Recall(context.Background(), group, []string{"1", "2"}); err == nil || len(f.sent) != 1 {
		t.Errorf("Recall while offline = %v after %d sends, want an error after 1", err, len(f.sent))
	}
}

func TestSendErrors(t *testing.T) {
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	private := platform.Conv{Kind: platform.KindPrivate, ID: alice}
	cases := []struct {
		conv     platform.Conv
		err      error
		definite bool
		text     string
	}{
		{group, &wk.ReasonError{Code: 3}, true, "not a member of the group"},
		{group, &wk.ReasonError{Code: 4}, true, "blacklisted in the group"},
		{private, &wk.ReasonError{Code: 4}, true, "blacklisted by this user"},
		{group, &wk.ReasonError{Code: 13}, true, "reasonCode 13"},
		{group, wk.ErrOffline, true, "not connected to WuKongIM"},
		{group, context.DeadlineExceeded, false, "deadline"},
	}
	for _, c := range cases {
		f := newFake()
		b := newBackend(t, f, nil, nil)
		outs, err := b.Encode(context.Background(), c.conv, textMsg("x"), platform.EncodeEnv{})
		if err != nil {
			t.Fatal(err)
		}
		f.sendErr = c.err
		_, err = b.Send(context.Background(), &outs[0])
		var pe *platform.Error
		definite := errors.As(err, &pe) && pe.Definite
		if err == nil || definite != c.definite || !strings.Contains(err.Error(), c.text) || !errors.Is(err, c.err) {
			t.Errorf("send failing with %v = %v (definite %v), want definite %v naming %q", c.err, err, definite, c.definite, c.text)
		}
	}

	f := newFake()
	b := newBackend(t, f, nil, nil)
	outs, _ := b.Encode(context.Background(), group, textMsg("x"), platform.EncodeEnv{})
	sent, err := b.Send(context.Background(), &outs[0])
	if err != nil || sent.ID != "9001" || sent.Seq != 1 || f.sent[0].ClientMsgNo != outs[0].Token {
		t.Errorf("Send = %+v, %v; client_msg_no %q, token %q", sent, err, f.sent[0].ClientMsgNo, outs[0].Token)
	}
}
