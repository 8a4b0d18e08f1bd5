package conformance

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testReply: a reply to the peer's message quotes it on the platform,
// and get_msg answers the reply segment with the quoted message_id.
func testReply(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	asked := k.marker("a question")
	askedID := k.say(k.group, asked)
	quoted := k.waitMessage(asked).Get("message_id").Int()
	answer := k.marker("the answer")
	id := k.send(k.group, []params{
		{"type": "reply", "data": params{"id": fmt.Sprint(quoted)}},
		text(answer),
	})
	held := k.heldWith(k.group, answer)
	if len(held) != 1 || held[0].QuoteID != askedID {
		t.Errorf("the platform holds %+v; want one message quoting %s", held, askedID)
	}
	got := k.getMsg(id)
	var replies []string
	for _, s := range got.Get("message").Array() {
		if s.Get("type").Str == "reply" {
			replies = append(replies, s.Get("data.id").String())
		}
	}
	if len(replies) != 1 || replies[0] != fmt.Sprint(quoted) || !strings.Contains(plainText(got), answer) {
		t.Errorf("get_msg %d: message %s; want one reply to %d and %q", id, got.Get("message").Raw, quoted, answer)
	}
}

// testSendImage: an image given by URL is sent (the backend uploads or
// re-hosts it as its platform wants), and get_msg answers an image.
func testSendImage(t *testing.T, h Harness) {
	img := pngBytes(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(img)
	}))
	t.Cleanup(srv.Close)
	k := newKit(t, h)
	k.learnIDs()
	caption := k.marker("with a picture")
	id := k.send(k.group, []params{
		text(caption),
		{"type": "image", "data": params{"file": srv.URL + "/picture.png"}},
	})
	if held := k.heldWith(k.group, caption); len(held) != 1 || held[0].SenderID != k.w.Account() {
		t.Errorf("the platform holds %+v; want one message from the account", held)
	}
	got := k.getMsg(id)
	images := 0
	for _, s := range got.Get("message").Array() {
		if s.Get("type").Str == "image" {
			images++
		}
	}
	if images != 1 || !strings.Contains(plainText(got), caption) {
		t.Errorf("get_msg %d: message %s; want %q and one image", id, got.Get("message").Raw, caption)
	}
}

// pngBytes is a small valid PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
