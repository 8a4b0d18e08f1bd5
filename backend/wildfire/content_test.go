package wildfire

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/internal/mediahost"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

func TestDecode(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	names := func(uid string) []string {
		if uid == alice {
			return []string{"Alice"}
		}
		return nil
	}
	quoted := base64.StdEncoding.EncodeToString([]byte(`{"quote":{"u":9007199254740993,"i":"bob","n":"Bob","d":"hi"}}`))
	for _, c := range []struct {
		name string
		p    wf.Payload
		want string
	}{
		{"text", text("hello"), "hello"},
		{"mentions", wf.Payload{Type: typeText, SearchableContent: "hi @Alice how", MentionedType: mentionSome, MentionedTarget: []string{alice, bob}},
			"[CQ:at,qq=bob]hi [CQ:at,qq=alice]how"},
		{"mention all", wf.Payload{Type: typeText, SearchableContent: "@所有人 meeting", MentionedType: mentionAll}, "[CQ:at,qq=all]meeting"},
		{"quote is not in the body", wf.Payload{Type: typeText, SearchableContent: "yes", Base64edData: quoted}, "yes"},
		{"voice", wf.Payload{Type: typeVoice, MediaType: mediaVoice, RemoteMediaURL: "https://x/a.amr", Content: `{"duration":3}`},
			"[CQ:record,file=https://x/a.amr,url=https://x/a.amr,duration=3]"},
		{"image", wf.Payload{Type: typeImage, MediaType: mediaImage, RemoteMediaURL: "https://x/a.jpg", Base64edData: "dGh1bWI="},
			"[CQ:image,file=https://x/a.jpg,url=https://x/a.jpg]"},
		{"file", wf.Payload{Type: typeFile, MediaType: mediaFile, RemoteMediaURL: "https://x/r.pdf", SearchableContent: "r.pdf", Content: "1234"},
			"[CQ:file,file=https://x/r.pdf,url=https://x/r.pdf,name=r.pdf,file_size=1234]"},
		{"video", wf.Payload{Type: typeVideo, MediaType: mediaVideo, RemoteMediaURL: "https://x/v.mp4"}, "[CQ:video,file=https://x/v.mp4,url=https://x/v.mp4]"},
		{"sticker", wf.Payload{Type: typeSticker, MediaType: mediaSticker, RemoteMediaURL: "https://x/s.gif"},
			"[CQ:image,file=https://x/s.gif,url=https://x/s.gif,sub_type=1]"},
		{"image without URL", wf.Payload{Type: typeImage}, "&#91;image&#93;"},
		{"location", wf.Payload{Type: typeLocation, SearchableContent: "Shanghai"}, "&#91;location: Shanghai&#93;"},
		{"card", wf.Payload{Type: typeCard}, "&#91;contact card&#93;"},
		{"unknown", wf.Payload{Type: 4000}, "&#91;a WildfireChat message of content type 4000&#93;"},
	} {
		got, err := b.Decode(context.Background(), platform.Conv{Kind: platform.KindGroup, ID: g1}, c.p, names)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: %s, %v\nwant %s", c.name, got, err, c.want)
		}
	}
	if q := quoteOf(&wf.Payload{Type: typeText, Base64edData: quoted}); q != "9007199254740993" {
		t.Errorf("quote id = %q, want the uid exactly", q)
	}
	if _, err := b.Decode(context.Background(), platform.Conv{}, "text", nil); err == nil {
		t.Error("Decode accepted content that is not a payload")
	}
}

func encodeOne(t *testing.T, b *Backend, conv platform.Conv, msg segment.Message, env platform.EncodeEnv) []sendRequest {
	t.Helper()
	outs, err := b.Encode(context.Background(), conv, msg, env)
	if err != nil {
		t.Fatalf("Encode(%s) = %v", msg, err)
	}
	reqs := make([]sendRequest, len(outs))
	for i, o := range outs {
		if o.ID != "" || o.Token != "" || o.Conv != conv {
			t.Errorf("outgoing %d: ID %q Token %q Conv %+v; the server assigns ids and echoes nothing", i, o.ID, o.Token, o.Conv)
		}
		reqs[i] = o.Payload.(sendRequest)
	}
	return reqs
}

func TestEncode(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	env := platform.EncodeEnv{Name: func(_ context.Context, uid string) string {
		if uid == alice {
			return "Alice"
		}
		return ""
	}}
	reqs := encodeOne(t, b, group, segment.Message{segment.Text("hi "), segment.At(alice), segment.Text("look"),
		segment.Image("https://x/a.png"), segment.Text("bye")}, env)
	want := []sendRequest{
		{wf.Conversation{Type: convGroup, Target: g1}, wf.Payload{Type: typeText, SearchableContent: "hi @Alice look", PersistFlag: persistCounted,
			MentionedType: mentionSome, MentionedTarget: []string{alice}}},
		{wf.Conversation{Type: convGroup, Target: g1}, wf.Payload{Type: typeImage, MediaType: mediaImage, RemoteMediaURL: "https://x/a.png", PersistFlag: persistCounted}},
		{wf.Conversation{Type: convGroup, Target: g1}, wf.Payload{Type: typeText, SearchableContent: "bye", PersistFlag: persistCounted}},
	}
	if !reflect.DeepEqual(reqs, want) {
		t.Errorf("parts:\n%+v\nwant\n%+v", reqs, want)
	}

	private := platform.Conv{Kind: platform.KindPrivate, ID: alice}
	for _, c := range []struct {
		seg  segment.Segment
		want wf.Payload
	}{
		{segment.Record("https://x/a.amr"), wf.Payload{Type: typeVoice, MediaType: mediaVoice, RemoteMediaURL: "https://x/a.amr", PersistFlag: persistCounted}},
		{segment.Video("https://x/v.mp4"), wf.Payload{Type: typeVideo, MediaType: mediaVideo, RemoteMediaURL: "https://x/v.mp4", PersistFlag: persistCounted}},
		{segment.File("https://x/r.pdf", "r.pdf"), wf.Payload{Type: typeFile, MediaType: mediaFile, RemoteMediaURL: "https://x/r.pdf", SearchableContent: "r.pdf", PersistFlag: persistCounted}},
		{func() segment.Segment { s := segment.Image("https://x/s.gif"); s.Set("sub_type", "1"); return s }(),
			wf.Payload{Type: typeSticker, MediaType: mediaSticker, RemoteMediaURL: "https://x/s.gif", PersistFlag: persistCounted}},
	} {
		reqs := encodeOne(t, b, private, segment.Message{c.seg}, platform.EncodeEnv{})
		if len(reqs) != 1 || reqs[0].Conv != (wf.Conversation{Type: convPrivate, Target: alice}) || !reflect.DeepEqual(reqs[0].Payload, c.want) {
			t.Errorf("%s: %+v\nwant %+v", c.seg, reqs, c.want)
		}
	}

	// At all in a group is mentionedType 2, written as the clients write it.
	reqs = encodeOne(t, b, group, segment.Message{segment.AtAll(), segment.Text("meeting")}, platform.EncodeEnv{})
	if p := reqs[0].Payload; p.MentionedType != mentionAll || p.SearchableContent != "@所有人 meeting" {
		t.Errorf("at all: %+v", p)
	}

	// A reply quotes from the first text message, uid exact.
	quote := &platform.Quote{MsgID: "9007199254740993", SenderID: bob, Sender: "Bob", Body: segment.Message{segment.Text("hi")}}
	reqs = encodeOne(t, b, group, segment.Message{segment.Reply(quote.MsgID), segment.Text("yes")}, platform.EncodeEnv{Quote: quote})
	raw, _ := base64.StdEncoding.DecodeString(reqs[0].Payload.Base64edData)
	if string(raw) != `{"quote":{"u":9007199254740993,"i":"bob","n":"Bob","d":"hi"}}` || quoteOf(&reqs[0].Payload) != quote.MsgID {
		t.Errorf("quote data = %s", raw)
	}

	for _, c := range []struct {
		conv platform.Conv
		msg  segment.Message
		env  platform.EncodeEnv
	}{
		{private, segment.Message{segment.AtAll()}, platform.EncodeEnv{}},
		{group, segment.Message{segment.Face("1")}, platform.EncodeEnv{}},
		{group, segment.Message{segment.Text("  ")}, platform.EncodeEnv{}},
		{group, segment.Message{segment.Reply("5"), segment.Text("x")}, platform.EncodeEnv{}},
		{group, segment.Message{segment.Reply(quote.MsgID), segment.Image("https://x/a.png")}, platform.EncodeEnv{Quote: quote}},
		{group, segment.Message{segment.Image("base64://AAAA")}, platform.EncodeEnv{Media: base64Media}}, // no media hosting
	} {
		_, err := b.Encode(context.Background(), c.conv, c.msg, c.env)
		var bp *platform.BadParamError
		if !errors.As(err, &bp) {
			t.Errorf("Encode(%s) = %v, want a bad parameter", c.msg, err)
		}
	}
}

// base64Media is the core's media reader for base64:// only.
func base64Media(_ context.Context, param, ref string) ([]byte, string, error) {
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ref, "base64://"))
	if err != nil || !strings.HasPrefix(ref, "base64://") {
		return nil, "", platform.BadParamf("%s: not base64", param)
	}
	return data, "", nil
}

func TestEncodeHostsLocalMediaServedByTheHandler(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	img := buf.Bytes()
	var b *Backend
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.Handler().ServeHTTP(w, r) }))
	defer srv.Close()
	b = newBackend(t, newClient(), func(o *Options) {
		o.Media = mediahost.Options{Dir: t.TempDir(), PublicURL: srv.URL + "/media", MaxBytes: 1 << 20}
	})
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	outs, err := b.Encode(context.Background(), group,
		segment.Message{segment.Image("base64://" + base64.StdEncoding.EncodeToString(img))}, platform.EncodeEnv{Media: base64Media})
	if err != nil {
		t.Fatal(err)
	}
	u := outs[0].Payload.(sendRequest).Payload.RemoteMediaURL
	if !strings.HasPrefix(u, srv.URL+"/media/") || !strings.HasSuffix(u, ".png") {
		t.Fatalf("remoteMediaUrl = %q", u)
	}
	if f := outs[0].Body[0]; f.Value("file") != u || f.Value("url") != u {
		t.Errorf("stored segment = %s, want the URL, not the bytes", f)
	}
	// Media are served to anyone (the platform's clients fetch them),
	// without the callback's secret or allow-list.
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, img) {
		t.Errorf("GET %s = %d, %d bytes; want the image", u, resp.StatusCode, len(got))
	}
	_, err = b.Encode(context.Background(), group,
		segment.Message{segment.Record("base64://" + base64.StdEncoding.EncodeToString(img))}, platform.EncodeEnv{Media: base64Media})
	var bp *platform.BadParamError
	if !errors.As(err, &bp) {
		t.Errorf("an image sent as a record = %v, want a bad parameter", err)
	}
}
