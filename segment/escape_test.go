package segment_test

import (
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		in, text, value string
	}{
		{"", "", ""},
		{"plain 中文 😀", "plain 中文 😀", "plain 中文 😀"},
		{"&", "&amp;", "&amp;"},
		{"[", "&#91;", "&#91;"},
		{"]", "&#93;", "&#93;"},
		{",", ",", "&#44;"},
		{"=", "=", "="}, // '=' has no entity; only the first one of a parameter splits
		{"&amp;", "&amp;amp;", "&amp;amp;"},
		{"&#44;", "&amp;#44;", "&amp;#44;"},
		// string.md's own example.
		{"- [x] 使用 `&data` 获取地址", "- &#91;x&#93; 使用 `&amp;data` 获取地址", "- &#91;x&#93; 使用 `&amp;data` 获取地址"},
		{"震惊,小伙睡觉前居然...", "震惊,小伙睡觉前居然...", "震惊&#44;小伙睡觉前居然..."},
		{"http://baidu.com/?a=1&b=2", "http://baidu.com/?a=1&amp;b=2", "http://baidu.com/?a=1&amp;b=2"},
		{"[CQ:face,id=1]", "&#91;CQ:face,id=1&#93;", "&#91;CQ:face&#44;id=1&#93;"},
		{"\xff\xfe", "\xff\xfe", "\xff\xfe"}, // bytes pass through
	}
	for _, tt := range tests {
		if got := segment.EscapeText(tt.in); got != tt.text {
			t.Errorf("EscapeText(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := segment.EscapeValue(tt.in); got != tt.value {
			t.Errorf("EscapeValue(%q) = %q, want %q", tt.in, got, tt.value)
		}
		if got := string(segment.AppendEscapedText([]byte("x"), tt.in)); got != "x"+tt.text {
			t.Errorf("AppendEscapedText(%q) = %q", tt.in, got)
		}
		if got := string(segment.AppendEscapedValue([]byte("x"), tt.in)); got != "x"+tt.value {
			t.Errorf("AppendEscapedValue(%q) = %q", tt.in, got)
		}
		for _, esc := range []string{tt.text, tt.value} {
			if got := segment.Unescape(esc); got != tt.in {
				t.Errorf("Unescape(%q) = %q, want %q", esc, got, tt.in)
			}
		}
		if got := segment.UnescapeText(tt.text); got != tt.in {
			t.Errorf("UnescapeText(%q) = %q, want %q", tt.text, got, tt.in)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"&amp;&#91;&#93;&#44;", "&[],"},
		{"&#44; outside a code", ", outside a code"},
		{"&unknown;", "&unknown;"},
		{"&", "&"},
		{"&&amp;", "&&"},
		{"&am", "&am"},
		{"&amp", "&amp"},
		{"&#91", "&#91"},
		{"&#92;", "&#92;"},
		{"&AMP;", "&AMP;"},
		{"&amp;amp;", "&amp;"}, // one pass only
		{"a&#91;b&#93;c", "a[b]c"},
		{"\xff&amp;\xfe", "\xff&\xfe"},
	}
	for _, tt := range tests {
		if got := segment.Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnescapeText: in text only &amp; &#91; &#93; are escapes
// (message/string.md); &#44; escapes ',' in parameter values alone.
func TestUnescapeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"&amp;&#91;&#93;&#44;", "&[]&#44;"},
		{"a&#44;b", "a&#44;b"},
		{"&amp;#44;", "&#44;"},
		{"&#44", "&#44"},
		{"&unknown;", "&unknown;"},
		{"&&amp;", "&&"},
		{"&amp;amp;", "&amp;"}, // one pass only
		{"a&#91;b&#93;c", "a[b]c"},
		{"\xff&amp;\xfe", "\xff&\xfe"},
	}
	for _, tt := range tests {
		if got := segment.UnescapeText(tt.in); got != tt.want {
			t.Errorf("UnescapeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := segment.Unescape("a&#44;b"); got != "a,b" {
		t.Errorf("Unescape(%q) = %q: a value's &#44; must decode", "a&#44;b", got)
	}
	// Whatever the text, escaping it and reading it back as text is the
	// identity, &#44; included.
	for _, s := range []string{"a&#44;b", "&#44;", "&amp;#44;,", "[&#44;]"} {
		if got := segment.UnescapeText(segment.EscapeText(s)); got != s {
			t.Errorf("UnescapeText(EscapeText(%q)) = %q", s, got)
		}
	}
}

func TestEscapeNoAlloc(t *testing.T) {
	s := "nothing to escape here, 一点也没有"
	if n := testing.AllocsPerRun(100, func() { _ = segment.EscapeText(s) }); n != 0 {
		t.Errorf("EscapeText allocates %v times for clean input", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = segment.Unescape(s) }); n != 0 {
		t.Errorf("Unescape allocates %v times for clean input", n)
	}
}
