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
