package segment_test

import (
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// TestAppendText: text merges into a text segment at the end, and empty
// text adds nothing.
func TestAppendText(t *testing.T) {
	m := segment.AppendText(nil, "")
	if len(m) != 0 {
		t.Fatalf("empty text appended: %v", m)
	}
	m = segment.AppendText(m, "a")
	m = segment.AppendText(m, "b")
	m = append(m, segment.At("1"))
	m = segment.AppendText(m, "c")
	if got := segment.FormatCQ(m); got != "ab[CQ:at,qq=1]c" || len(m) != 3 {
		t.Errorf("got %q in %d segments", got, len(m))
	}
}

// TestPlaceMentions: mentions land where their "@name" stands, taking one
// following space; unplaced ones lead; the earliest name wins.
func TestPlaceMentions(t *testing.T) {
	for _, c := range []struct {
		text string
		ms   []segment.Mention
		want string
	}{
		{"@Alice hi @Bob!", []segment.Mention{{QQ: "1", Names: []string{"Alice"}}, {QQ: "2", Names: []string{"Bob"}}}, "[CQ:at,qq=1]hi [CQ:at,qq=2]!"},
		{"hello", []segment.Mention{{QQ: "3", Names: []string{"Carol"}}}, "[CQ:at,qq=3]hello"},
		{"@所有人  go", []segment.Mention{{QQ: "all", Names: []string{"all", "所有人"}}}, "[CQ:at,qq=all] go"},
		{"x @u1 y", []segment.Mention{{QQ: "9", Names: []string{"", "Nine", "u1"}}}, "x [CQ:at,qq=9]y"},
		{"", nil, ""},
	} {
		if got := segment.FormatCQ(segment.PlaceMentions(c.text, c.ms)); got != c.want {
			t.Errorf("PlaceMentions(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
