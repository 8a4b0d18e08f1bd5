package segment_test

import (
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

type M = segment.Message
type S = segment.Segment
type P = segment.Pair

func seg(typ string, kv ...string) S {
	s := S{Type: typ}
	for i := 0; i < len(kv); i += 2 {
		s.Data = append(s.Data, P{Key: kv[i], Value: kv[i+1]})
	}
	return s
}

func txt(s string) S { return segment.Text(s) }

func TestParseCQ(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want M
	}{
		{"empty", "", nil},
		{"plain", "hello", M{txt("hello")}},
		{"spec example", "[CQ:face,id=178]看看我刚拍的照片[CQ:image,file=123.jpg]",
			M{seg("face", "id", "178"), txt("看看我刚拍的照片"), seg("image", "file", "123.jpg")}},
		{"no params", "[CQ:shake]", M{seg("shake")}},
		{"several params", "[CQ:share,title=标题,url=http://baidu.com]",
			M{seg("share", "title", "标题", "url", "http://baidu.com")}},
		{"'=' in value", "[CQ:share,title=标题中有=等号,url=http://baidu.com]",
			M{seg("share", "title", "标题中有=等号", "url", "http://baidu.com")}},
		{"escaped value", "[CQ:share,title=震惊&#44;小伙睡觉前居然...,url=http://baidu.com/?a=1&amp;b=2]",
			M{seg("share", "title", "震惊,小伙睡觉前居然...", "url", "http://baidu.com/?a=1&b=2")}},
		{"escaped text", "&#91;第一部分&#93;[CQ:image,file=123.jpg]图片之后的部分，表情：[CQ:face,id=123]",
			M{txt("[第一部分]"), seg("image", "file", "123.jpg"), txt("图片之后的部分，表情："), seg("face", "id", "123")}},
		{"empty value", "[CQ:image,file=,url=]", M{seg("image", "file", "", "url", "")}},
		{"spaces kept", "[CQ:at,qq= 1 , name=a b]", M{seg("at", "qq", " 1 ", " name", "a b")}},
		{"newline in value", "[CQ:json,data={\n}]", M{seg("json", "data", "{\n}")}},
		{"duplicate keys kept", "[CQ:image,file=a,file=b]", M{seg("image", "file", "a", "file", "b")}},
		{"escaped key", "[CQ:x,a&#44;b=1]", M{seg("x", "a,b", "1")}},
		{"adjacent codes", "[CQ:reply,id=1][CQ:at,qq=2]", M{seg("reply", "id", "1"), seg("at", "qq", "2")}},
		{"text code merges", "a[CQ:text,text=b&#44;c]d", M{txt("ab,cd")}},
		{"empty text code vanishes", "[CQ:face,id=1][CQ:text][CQ:face,id=2]", M{seg("face", "id", "1"), seg("face", "id", "2")}},
		{"stray ]", "a]b", M{txt("a]b")}},
		{"stray [", "a[b", M{txt("a[b")}},
		{"lower-case cq is text", "[cq:face,id=1]", M{txt("[cq:face,id=1]")}},
		// string.md: &#44; escapes ',' in parameter values only; in text it
		// is what was written.
		{"&#44; outside a code is kept", "a&#44;b", M{txt("a&#44;b")}},
		{"&#44; in a value decodes", "[CQ:x,v=a&#44;b]", M{seg("x", "v", "a,b")}},
		{"&#44; in text around a code", "a&#44;[CQ:face,id=1]&#44;&amp;&#91;&#93;", M{txt("a&#44;"), seg("face", "id", "1"), txt("&#44;&[]")}},
		{"&#44; in a text code's value decodes", "a&#44;[CQ:text,text=&#44;]b", M{txt("a&#44;,b")}},
		{"unknown entity", "&unknown;", M{txt("&unknown;")}},
		{"bare &", "a & b", M{txt("a & b")}},
		{"invalid UTF-8 kept", "\xff[CQ:x,v=\xfe]\xfd", M{txt("\xff"), seg("x", "v", "\xfe"), txt("\xfd")}},
		{"type chars", "[CQ:a.b-c_D9]", M{seg("a.b-c_D9")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, inv := segment.ParseCQ(tt.in)
			if !got.Equal(tt.want) {
				t.Errorf("ParseCQ(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			if inv != nil {
				t.Errorf("ParseCQ(%q) reported %v", tt.in, inv)
			}
			mustCanonical(t, got)
		})
	}
}

func TestParseCQMalformed(t *testing.T) {
	tests := []struct {
		in      string
		text    string // the whole message when kept as text
		dropped M      // the message with DropInvalid
		reasons []string
	}{
		{"[CQ:", "[CQ:", nil, []string{"unterminated"}},
		{"a[CQ:face,id=1", "a[CQ:face,id=1", M{txt("a")}, []string{"unterminated"}},
		{"[CQ:face,id=1[CQ:at,qq=2]", "", M{seg("at", "qq", "2")}, []string{"unterminated"}},
		{"[CQ:]", "[CQ:]", nil, []string{"empty type"}},
		{"x[CQ:,id=1]y", "x[CQ:,id=1]y", M{txt("xy")}, []string{"empty type"}},
		{"[CQ:face,id]", "[CQ:face,id]", nil, []string{"parameter without '='"}},
		{"[CQ:face,id=1,]", "[CQ:face,id=1,]", nil, []string{"parameter without '='"}},
		{"[CQ:face,]", "[CQ:face,]", nil, []string{"parameter without '='"}},
		{"[CQ:face,=1]", "[CQ:face,=1]", nil, []string{"empty parameter name"}},
		{"[CQ:face ,id=1]", "[CQ:face ,id=1]", nil, []string{"illegal character in type"}},
		{"[CQ:fa ce]", "[CQ:fa ce]", nil, []string{"illegal character in type"}},
		{"[CQ:表情,id=1]", "[CQ:表情,id=1]", nil, []string{"illegal character in type"}},
		{"[CQ:a&amp;b]", "[CQ:a&b]", nil, []string{"illegal character in type"}},
		{"[CQ:face,id=&amp;", "[CQ:face,id=&", nil, []string{"unterminated"}},
		{"[CQ:face,id]x[CQ:", "[CQ:face,id]x[CQ:", M{txt("x")}, []string{"parameter without '='", "unterminated"}},
		{"a[CQ:]b[CQ:at,qq=1]c", "", M{txt("ab"), seg("at", "qq", "1"), txt("c")}, []string{"empty type"}},
	}
	for _, tt := range tests {
		got, inv := segment.ParseCQ(tt.in)
		if tt.text != "" && !got.Equal(M{txt(tt.text)}) {
			t.Errorf("ParseCQ(%q) = %#v, want text %q", tt.in, got, tt.text)
		}
		var reasons []string
		for _, v := range inv {
			reasons = append(reasons, v.Reason)
			if tt.in[v.Offset:v.Offset+len(v.Code)] != v.Code || !strings.HasPrefix(v.Code, "[CQ:") {
				t.Errorf("ParseCQ(%q): Invalid %+v does not point at the code", tt.in, v)
			}
		}
		if strings.Join(reasons, "|") != strings.Join(tt.reasons, "|") {
			t.Errorf("ParseCQ(%q) reasons = %q, want %q", tt.in, reasons, tt.reasons)
		}
		dropped, dinv := segment.Options{DropInvalid: true}.ParseCQ(tt.in)
		if !dropped.Equal(tt.dropped) {
			t.Errorf("DropInvalid ParseCQ(%q) = %#v, want %#v", tt.in, dropped, tt.dropped)
		}
		if !sameInvalid(inv, dinv) {
			t.Errorf("DropInvalid reports %v, default %v", dinv, inv)
		}
		mustCanonical(t, got)
		mustCanonical(t, dropped)
	}
	// The unterminated code ends at the next '[', so the code after it
	// survives.
	got, _ := segment.ParseCQ("[CQ:face,id=1[CQ:at,qq=2]")
	if want := (M{txt("[CQ:face,id=1"), seg("at", "qq", "2")}); !got.Equal(want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	if s := (segment.Invalid{Offset: 3, Code: "[CQ:]", Reason: "empty type"}).String(); s != `invalid CQ code at offset 3 (empty type): "[CQ:]"` {
		t.Errorf("Invalid.String() = %s", s)
	}
}

func TestParseCQAutoEscape(t *testing.T) {
	in := "[CQ:face,id=1]&amp;"
	got, inv := segment.Options{AutoEscape: true}.ParseCQ(in)
	if !got.Equal(M{txt(in)}) || inv != nil {
		t.Errorf("AutoEscape: got %#v %v", got, inv)
	}
	if got, _ := (segment.Options{AutoEscape: true}).ParseCQ(""); got != nil {
		t.Errorf("AutoEscape of empty string = %#v", got)
	}
}

// TestParseCQShares checks that parsed segments cannot write into each
// other through the shared backing array.
func TestParseCQShares(t *testing.T) {
	m, _ := segment.ParseCQ("[CQ:a,x=1]t[CQ:b,y=2]")
	m[0].Data = append(m[0].Data, P{"z", "3"})
	m[0].Set("x", "9")
	if v := m[1].Value("text"); v != "t" {
		t.Errorf("text segment changed to %q", v)
	}
	if v := m[2].Value("y"); v != "2" {
		t.Errorf("b.y changed to %q", v)
	}
}

func TestFormatCQ(t *testing.T) {
	tests := []struct {
		m    M
		want string
	}{
		{nil, ""},
		{M{txt("")}, ""},
		{M{txt("a[b]c&d,e")}, "a&#91;b&#93;c&amp;d,e"},
		{M{seg("shake")}, "[CQ:shake]"},
		{M{seg("rps", "", "")}, "[CQ:rps,=]"},
		{M{seg("share", "title", "震惊,小伙", "url", "http://x/?a=1&b=2")},
			"[CQ:share,title=震惊&#44;小伙,url=http://x/?a=1&amp;b=2]"},
		{M{seg("x", "a,b", "[v]")}, "[CQ:x,a&#44;b=&#91;v&#93;]"},
		{M{seg("text", "text", "a", "other", "b")}, "a"},
		{M{seg("text")}, ""},
		// A type that cannot be a CQ type is escaped, so it cannot smuggle
		// in another code; it reads back as text.
		{M{seg("at,qq=all][CQ:shake")}, "[CQ:at&#44;qq=all&#93;&#91;CQ:shake]"},
		{M{txt("a"), txt("b"), seg("face", "id", "1")}, "ab[CQ:face,id=1]"},
	}
	for _, tt := range tests {
		if got := segment.FormatCQ(tt.m); got != tt.want {
			t.Errorf("FormatCQ(%#v) = %q, want %q", tt.m, got, tt.want)
		}
		if got := string(segment.AppendCQ([]byte("<"), tt.m)); got != "<"+tt.want {
			t.Errorf("AppendCQ(%#v) = %q", tt.m, got)
		}
		if got := tt.m.String(); got != tt.want {
			t.Errorf("String() = %q", got)
		}
	}
	got, inv := segment.ParseCQ("[CQ:at&#44;qq=all&#93;&#91;CQ:shake]")
	if len(got) != 1 || got[0].Type != "text" || len(inv) != 1 {
		t.Errorf("smuggled code parsed as %#v %v", got, inv)
	}
}

func TestSegmentAccessors(t *testing.T) {
	s := seg("image", "file", "a", "cache", "0", "file", "b", "n", "42", "bad", "4x")
	if v, ok := s.Get("file"); !ok || v != "b" {
		t.Errorf("Get(file) = %q %v, want the last duplicate", v, ok)
	}
	if _, ok := s.Get("url"); ok {
		t.Error("Get(url) found a missing key")
	}
	if v := s.Value("url"); v != "" {
		t.Errorf("Value(url) = %q", v)
	}
	if n, ok := s.Int("n"); !ok || n != 42 {
		t.Errorf("Int(n) = %d %v", n, ok)
	}
	if _, ok := s.Int("bad"); ok {
		t.Error("Int(bad) accepted 4x")
	}
	if _, ok := s.Int("none"); ok {
		t.Error("Int(none) accepted a missing key")
	}
	for v, want := range map[string][2]bool{
		"1": {true, true}, "yes": {true, true}, "true": {true, true},
		"0": {false, true}, "no": {false, true}, "false": {false, true},
		"": {false, false}, "2": {false, false},
	} {
		x := seg("image", "cache", v)
		if got, ok := x.Flag("cache"); got != want[0] || ok != want[1] {
			t.Errorf("Flag(%q) = %v %v, want %v", v, got, ok, want)
		}
	}

	shared := []P{{"a", "1"}, {"b", "2"}, {"a", "3"}}
	s = S{Type: "x", Data: shared[:2]}
	s.Set("c", "4")
	if shared[2] != (P{"a", "3"}) {
		t.Error("Set wrote past the segment's data into the caller's array")
	}
	s = S{Type: "x", Data: shared}
	s.Set("a", "5")
	if want := (M{seg("x", "a", "5", "b", "2")}); !(M{s}).Equal(want) {
		t.Errorf("Set(a) = %v, want %v", s, want)
	}
	if shared[0] != (P{"a", "1"}) {
		t.Error("Set modified the caller's array")
	}
	s.Set("z", "6")
	s.Del("b")
	s.Del("missing")
	if want := (M{seg("x", "a", "5", "z", "6")}); !(M{s}).Equal(want) {
		t.Errorf("after Del: %v, want %v", s, want)
	}
	if got := seg("face", "id", "1").String(); got != "[CQ:face,id=1]" {
		t.Errorf("Segment.String() = %q", got)
	}
}

func TestMessageHelpers(t *testing.T) {
	m, _ := segment.ParseCQ("[CQ:reply,id=7]hello [CQ:at,qq=1] world&amp;")
	if got := m.PlainText(); got != "hello  world&" {
		t.Errorf("PlainText() = %q", got)
	}
	if got := (M{txt("only")}).PlainText(); got != "only" {
		t.Errorf("PlainText() = %q", got)
	}
	if got := (M{seg("face", "id", "1")}).PlainText(); got != "" {
		t.Errorf("PlainText() = %q", got)
	}
	if s, ok := m.Find("reply"); !ok || s.Value("id") != "7" {
		t.Errorf("Find(reply) = %v %v", s, ok)
	}
	if _, ok := m.Find("image"); ok {
		t.Error("Find(image) found one")
	}
	if !(M{S{Type: "x", Data: []P{}}}).Equal(M{S{Type: "x"}}) {
		t.Error("empty and nil data differ")
	}
	if (M{seg("x", "a", "1")}).Equal(M{seg("x", "a", "2")}) || (M{seg("x")}).Equal(M{seg("y")}) || (M{}).Equal(M{seg("x")}) {
		t.Error("Equal is too lenient")
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		s    S
		want string
	}{
		{segment.Text("a&b"), "a&amp;b"},
		{segment.Face("178"), "[CQ:face,id=178]"},
		{segment.Image("http://a/b.jpg"), "[CQ:image,file=http://a/b.jpg]"},
		{segment.Record("a.mp3"), "[CQ:record,file=a.mp3]"},
		{segment.Video("a.mp4"), "[CQ:video,file=a.mp4]"},
		{segment.At("10001000"), "[CQ:at,qq=10001000]"},
		{segment.AtAll(), "[CQ:at,qq=all]"},
		{segment.RPS(), "[CQ:rps]"},
		{segment.Dice(), "[CQ:dice]"},
		{segment.Shake(), "[CQ:shake]"},
		{segment.Poke("126", "2003"), "[CQ:poke,type=126,id=2003]"},
		{segment.Anonymous(), "[CQ:anonymous]"},
		{segment.Share("http://baidu.com", "百度"), "[CQ:share,url=http://baidu.com,title=百度]"},
		{segment.Contact("group", "100100"), "[CQ:contact,type=group,id=100100]"},
		{segment.Location("39.8969426", "116.3109099"), "[CQ:location,lat=39.8969426,lon=116.3109099]"},
		{segment.Music("163", "28949129"), "[CQ:music,type=163,id=28949129]"},
		{segment.CustomMusic("http://baidu.com", "http://baidu.com/1.mp3", "音乐标题"),
			"[CQ:music,type=custom,url=http://baidu.com,audio=http://baidu.com/1.mp3,title=音乐标题]"},
		{segment.Reply("123456"), "[CQ:reply,id=123456]"},
		{segment.Forward("123456"), "[CQ:forward,id=123456]"},
		{segment.Node("123456"), "[CQ:node,id=123456]"},
		{segment.CustomNode("10001000", "某人", "[CQ:face,id=123]哈喽～"),
			"[CQ:node,user_id=10001000,nickname=某人,content=&#91;CQ:face&#44;id=123&#93;哈喽～]"},
		{segment.XML("<?xml ..."), "[CQ:xml,data=<?xml ...]"},
		{segment.JSON(`{"app": 1}`), `[CQ:json,data={"app": 1}]`},
		{segment.Markdown("# 标题"), "[CQ:markdown,content=# 标题]"},
		{segment.HTML("<b>x</b>"), "[CQ:html,content=<b>x</b>]"},
		{segment.File("http://a/b.zip", "b.zip"), "[CQ:file,file=http://a/b.zip,name=b.zip]"},
		{segment.File("http://a/b.zip", ""), "[CQ:file,file=http://a/b.zip]"},
		{segment.Button(`[[{"text":"Open","actionType":1}]]`),
			`[CQ:button,buttons=&#91;&#91;{"text":"Open"&#44;"actionType":1}&#93;&#93;]`},
		{segment.Form(`{"a":1}`), `[CQ:form,form={"a":1}]`},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.s.Type, got, tt.want)
		}
		back, inv := segment.ParseCQ(tt.want)
		if !back.Equal(M{tt.s}) || inv != nil {
			t.Errorf("%s: %q parses to %#v %v", tt.s.Type, tt.want, back, inv)
		}
	}
}
