package segment_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

const generated = 20000

// TestCQRoundTrip: ParseCQ(FormatCQ(m)) == m for canonical messages, and
// the string FormatCQ made survives a parse and a format byte for byte.
func TestCQRoundTrip(t *testing.T) {
	g := newGen(1)
	for range generated {
		m := g.message()
		mustCanonical(t, m)
		s := segment.FormatCQ(m)
		back, inv := segment.ParseCQ(s)
		if !back.Equal(m) || inv != nil {
			t.Fatalf("ParseCQ(FormatCQ(m)) != m\n   m %#v\n   s %q\nback %#v\n inv %v", m, s, back, inv)
		}
		if again := segment.FormatCQ(back); again != s {
			t.Fatalf("FormatCQ(ParseCQ(s)) != s\n   s %q\nagain %q", s, again)
		}
	}
}

// TestCanonicalStrings holds strings as well-behaved frameworks write them;
// each must come back byte for byte.
func TestCanonicalStrings(t *testing.T) {
	for _, s := range []string{
		"",
		"hello",
		"[CQ:face,id=178]看看我刚拍的照片[CQ:image,file=123.jpg]",
		"[CQ:reply,id=-2147483648][CQ:at,qq=10001000] 你好",
		"[CQ:share,title=震惊&#44;小伙睡觉前居然...,url=http://baidu.com/?a=1&amp;b=2]",
		"- &#91;x&#93; 使用 `&amp;data` 获取地址",
		"[CQ:node,user_id=10001000,nickname=某人,content=&#91;CQ:face&#44;id=123&#93;哈喽～]",
		"[CQ:image,file=,url= a b ]",
		"[CQ:rps][CQ:dice][CQ:shake]",
		"a,b=c",
		"[CQ:json,data={\"app\":\"com.tencent\"&#44;\"a\":&#91;1&#93;}]",
		"a&amp;#44;b[CQ:x,v=a&#44;b]", // a literal "&#44;" in text, a ',' in a value
	} {
		m, inv := segment.ParseCQ(s)
		if got := segment.FormatCQ(m); got != s || inv != nil {
			t.Errorf("FormatCQ(ParseCQ(%q)) = %q, %v", s, got, inv)
		}
	}
}

// TestJSONRoundTrip: DecodeJSON(AppendJSON(m)) == m for any message with
// non-empty types; invalid UTF-8 comes back as U+FFFD, byte by byte.
func TestJSONRoundTrip(t *testing.T) {
	g := newGen(2)
	for range generated {
		m := g.message()
		if g.r.IntN(4) == 0 {
			// Not canonical: adjacent and empty text, odd keys.
			m = append(m, segment.Text(""), segment.Text("x"), segment.Segment{Type: "t", Data: []segment.Pair{{Key: "", Value: "="}, {Key: "=", Value: ""}}})
		}
		b := segment.AppendJSON(nil, m)
		if !json.Valid(b) {
			t.Fatalf("AppendJSON(%#v) = invalid JSON %s", m, b)
		}
		back, err := segment.DecodeJSON(b, false)
		if err != nil || !back.Equal(sanitize(m)) {
			t.Fatalf("DecodeJSON(AppendJSON(m)) != m\n   m %#v\njson %s\nback %#v\n err %v", m, b, back, err)
		}
	}
}

// TestFormsAgree: the string form, the string form sent as a JSON string,
// and the array form of a canonical message decode to the same message.
func TestFormsAgree(t *testing.T) {
	g := newGen(3)
	for range generated {
		m := sanitize(g.message())
		cq := segment.FormatCQ(m)
		quoted, _ := json.Marshal(cq)
		fromString, err1 := segment.DecodeJSON(quoted, false)
		fromArray, err2 := segment.DecodeJSON(segment.AppendJSON(nil, m), false)
		if err1 != nil || err2 != nil || !fromString.Equal(m) || !fromArray.Equal(m) {
			t.Fatalf("forms disagree for %#v\nCQ %s\nstring %#v %v\narray %#v %v", m, quoted, fromString, err1, fromArray, err2)
		}
	}
}

// TestParseMatchesReference compares the parser with the plain reading of
// string.md in helpers_test.go on strings built to be almost CQ codes.
func TestParseMatchesReference(t *testing.T) {
	g := newGen(4)
	frags := []string{"[CQ:", "]", "[", ",", "=", "face", "text", "id", "1", " ", "&amp;", "&#44;", "&", "中", "\xff"}
	for range 5 * generated {
		var b strings.Builder
		for n := g.r.IntN(24); n > 0; n-- {
			b.WriteString(frags[g.r.IntN(len(frags))])
		}
		checkParse(t, b.String())
	}
}

// TestParseQuick runs testing/quick's random strings through the same
// checks; they rarely contain codes, but cover arbitrary bytes and runes.
func TestParseQuick(t *testing.T) {
	f := func(a, b string) bool {
		checkParse(t, a+"[CQ:"+b)
		checkParse(t, a)
		return !t.Failed()
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
}

// checkParse holds what must be true of ParseCQ for any input s.
func checkParse(t *testing.T, s string) {
	t.Helper()
	for _, drop := range []bool{false, true} {
		got, inv := segment.Options{DropInvalid: drop}.ParseCQ(s)
		want, winv := refParse(s, drop)
		if !got.Equal(want) || !sameInvalid(inv, winv) {
			t.Fatalf("ParseCQ(%q) drop=%v\n got %#v %v\nwant %#v %v", s, drop, got, inv, want, winv)
		}
		if why := canonical(got); why != "" {
			t.Fatalf("ParseCQ(%q) not canonical: %s", s, why)
		}
		f := segment.FormatCQ(got)
		back, binv := segment.ParseCQ(f)
		if !back.Equal(got) || binv != nil || segment.FormatCQ(back) != f {
			t.Fatalf("round trip of ParseCQ(%q) via %q = %#v %v", s, f, back, binv)
		}
	}
}

// sanitize replaces each byte of invalid UTF-8 with U+FFFD, as AppendJSON
// does.
func sanitize(m segment.Message) segment.Message {
	fix := func(s string) string {
		if utf8.ValidString(s) {
			return s
		}
		var b strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteString("\uFFFD")
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
		return b.String()
	}
	out := make(segment.Message, len(m))
	for i, s := range m {
		out[i].Type = fix(s.Type)
		for _, p := range s.Data {
			out[i].Data = append(out[i].Data, segment.Pair{Key: fix(p.Key), Value: fix(p.Value)})
		}
	}
	return out
}

// TestTextCommaEntityRoundTrip: text that holds "&#44;" keeps it through
// parse, format and parse (string.md: &#44; is an escape of values only),
// while the same bytes in a value decode to ','.
func TestTextCommaEntityRoundTrip(t *testing.T) {
	for _, text := range []string{"a&#44;b", "&#44;", "&#44;&#44;", "x&#44", "&amp;#44;", "&#91;&#44;&#93;", "中&#44;文"} {
		m, inv := segment.ParseCQ(text + "[CQ:x,v=" + text + "]")
		wantText := refUnescapeText(text)
		if inv != nil || len(m) != 2 || m[0].Value("text") != wantText || m[1].Value("v") != refUnescape(text) {
			t.Fatalf("ParseCQ(%q + code) = %#v %v; want text %q and value %q", text, m, inv, wantText, refUnescape(text))
		}
		cq := segment.FormatCQ(m)
		back, inv := segment.ParseCQ(cq)
		if !back.Equal(m) || inv != nil {
			t.Errorf("ParseCQ(FormatCQ(m)) != m for %q: %q gives %#v", text, cq, back)
		}
	}
}
