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
// re-hosts it as its platform wants): the platform holds one more
// message from the account, and get_msg answers an image. The image goes
// alone: a platform may carry text and an image as two messages, and
// get_msg answers the first.
func testSendImage(t *testing.T, h Harness) {
	img := pngBytes(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(img)
	}))
	t.Cleanup(srv.Close)
	k := newKit(t, h)
	k.learnIDs()
	mine := func() int {
		n := 0
		for _, m := range k.held(k.group) {
			if m.SenderID == k.w.Account() {
				n++
			}
		}
		return n
	}
	before := mine()
	id := k.send(k.group, []params{{"type": "image", "data": params{"file": srv.URL + "/picture.png"}}})
	if after := mine(); after != before+1 {
		t.Errorf("the platform holds %d messages from the account, %d before the send; want one more", after, before)
	}
	got := k.getMsg(id)
	if segs := got.Get("message").Array(); len(segs) != 1 || segs[0].Get("type").Str != "image" {
		t.Errorf("get_msg %d: message %s; want one image", id, got.Get("message").Raw)
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
