package bridge

import (
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// TestPreview: a log line shows a message's text on one line, media as
// markers, and never more than previewRunes runes of it.
func TestPreview(t *testing.T) {
	long := strings.Repeat("云湖", 30) // 60 runes
	for _, c := range []struct {
		name string
		msg  segment.Message
		want string
	}{
		{"text", segment.Message{segment.Text("hello")}, "hello"},
		{"media markers", segment.Message{segment.Text("look "), segment.Image("a.png"), segment.Record("v.amr"), segment.Video("v.mp4")}, "look [图片][语音][视频]"},
		{"mention", segment.Message{segment.At("123"), segment.Text(" hi")}, "@123 hi"},
		{"reply and unknown type", segment.Message{segment.Reply("7"), {Type: "dice"}}, "[回复][dice]"},
		{"one line", segment.Message{segment.Text("a\nb\tc\x00d")}, "a b cd"},
		{"clipped", segment.Message{segment.Text(long)}, string([]rune(long)[:previewRunes]) + "…"},
		{"clipped in a marker", segment.Message{segment.Text(strings.Repeat("x", previewRunes-2)), segment.Image("a.png")}, strings.Repeat("x", previewRunes-2) + "[图…"},
		{"exactly the limit", segment.Message{segment.Text(strings.Repeat("x", previewRunes))}, strings.Repeat("x", previewRunes)},
	} {
		if got := preview(c.msg); got != c.want {
			t.Errorf("%s: preview = %q, want %q", c.name, got, c.want)
		}
	}
}
