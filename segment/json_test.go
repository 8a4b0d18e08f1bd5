package segment_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want M
	}{
		{"CQ string", `"[CQ:face,id=178]看看&amp;"`, M{seg("face", "id", "178"), txt("看看&")}},
		{"escaped JSON string", `"[CQ:at,qq=1]\n\u4f60\ud83d\ude00"`, M{seg("at", "qq", "1"), txt("\n你😀")}},
		{"empty string", `""`, nil},
		{"one object", `{"type":"image","data":{"file":"a.jpg"}}`, M{seg("image", "file", "a.jpg")}},
		{"array", `[{"type":"reply","data":{"id":"3"}},{"type":"text","data":{"text":"hi"}}]`,
			M{seg("reply", "id", "3"), txt("hi")}},
		{"empty array", `[]`, nil},
		{"white space", " \n\t[ { \"type\" : \"at\" , \"data\" : { \"qq\" : 1 } } ]\r\n", M{seg("at", "qq", "1")}},
		{"data null", `[{"type":"shake","data":null}]`, M{seg("shake")}},
		{"data absent", `[{"type":"shake"}]`, M{seg("shake")}},
		{"data empty", `[{"type":"shake","data":{}}]`, M{seg("shake")}},
		{"numbers as written", `{"type":"x","data":{"a":123,"b":-0,"c":1e3,"d":1.50,"e":-2E-7,"f":12345678901234567890}}`,
			M{seg("x", "a", "123", "b", "-0", "c", "1e3", "d", "1.50", "e", "-2E-7", "f", "12345678901234567890")}},
		{"booleans", `{"type":"image","data":{"cache":true,"proxy":false}}`, M{seg("image", "cache", "true", "proxy", "false")}},
		{"null value is absent", `{"type":"image","data":{"file":"a","url":null}}`, M{seg("image", "file", "a")}},
		{"null removes a duplicate", `{"type":"x","data":{"a":"1","b":"2","a":null,"c":"\n"}}`, M{seg("x", "b", "2", "c", "\n")}},
		{"null then value", `{"type":"x","data":{"a":null,"a":"1"}}`, M{seg("x", "a", "1")}},
		{"nested values kept raw", `{"type":"node","data":{"content":[ {"type":"face","data":{"id":"1"}} ],"o":{"k":[1,"]"]}}}`,
			M{seg("node", "content", `[ {"type":"face","data":{"id":"1"}} ]`, "o", `{"k":[1,"]"]}`)}},
		{"escapes in values", `{"type":"text","data":{"text":"a\"b\\c\/d\b\f\n\r\t\u0000\u2028"}}`,
			M{txt("a\"b\\c/d\b\f\n\r\t\x00\u2028")}},
		{"escaped key", `{"type":"x","data":{"\u0061b":"1"}}`, M{seg("x", "ab", "1")}},
		{"escaped member names", `{"t\u0079pe":"x","d\u0061ta":{"a":"1"}}`, M{seg("x", "a", "1")}},
		{"lone surrogate", `{"type":"x","data":{"a":"\ud800\u0041\udc00"}}`, M{seg("x", "a", "\uFFFDA\uFFFD")}},
		{"invalid UTF-8", "{\"type\":\"x\",\"data\":{\"a\":\"\xff\xe4\xb8\"}}", M{seg("x", "a", "\uFFFD\uFFFD\uFFFD")}},
		{"duplicate keys kept in order", `{"type":"x","data":{"a":"1","b":"2","a":"3"}}`, M{seg("x", "a", "1", "b", "2", "a", "3")}},
		{"last type wins", `{"type":1,"type":"x"}`, M{seg("x")}},
		{"last data wins", `{"type":"x","data":{"a":"1"},"data":{"b":"\u0032"}}`, M{seg("x", "b", "2")}},
		{"bad data replaced", `{"type":"x","data":[1],"data":null}`, M{seg("x")}},
		{"unknown members ignored", `{"id":[1,{"x":null}],"type":"x","extra":"y"}`, M{seg("x")}},
		{"Koishi image", `[{"type":"image","data":{"file":"base64://AAAA","cache":0}}]`,
			M{seg("image", "file", "base64://AAAA", "cache", "0")}},
		{"text segment not parsed", `[{"type":"text","data":{"text":"[CQ:face,id=1]"}}]`, M{txt("[CQ:face,id=1]")}},
		{"adjacent text kept", `[{"type":"text","data":{"text":"a"}},{"type":"text","data":{"text":"b"}}]`, M{txt("a"), txt("b")}},
		{"number message", `123`, M{txt("123")}},
		{"boolean message", `true`, M{txt("true")}},
		{"null message", `null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := segment.DecodeJSON([]byte(tt.in), false)
			if err != nil {
				t.Fatalf("DecodeJSON(%s): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("DecodeJSON(%s)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			checkDecodeJSON(t, []byte(tt.in))
		})
	}
}

func TestDecodeJSONAutoEscape(t *testing.T) {
	got, err := segment.DecodeJSON([]byte(`"[CQ:face,id=1]&amp;"`), true)
	if err != nil || !got.Equal(M{txt("[CQ:face,id=1]&amp;")}) {
		t.Errorf("got %#v %v", got, err)
	}
	// auto_escape only concerns strings.
	got, err = segment.DecodeJSON([]byte(`[{"type":"text","data":{"text":"&amp;"}}]`), true)
	if err != nil || !got.Equal(M{txt("&amp;")}) {
		t.Errorf("got %#v %v", got, err)
	}
}

func TestDecodeJSONInvalid(t *testing.T) {
	o := segment.Options{DropInvalid: true}
	m, inv, err := o.DecodeJSON([]byte(`"a[CQ:face,id]b"`))
	if err != nil || !m.Equal(M{txt("ab")}) || len(inv) != 1 || inv[0].Reason != "parameter without '='" {
		t.Errorf("got %#v %v %v", m, inv, err)
	}
	m, inv, err = segment.Options{}.DecodeJSONString(`"a[CQ:face,id]b"`)
	if err != nil || !m.Equal(M{txt("a[CQ:face,id]b")}) || len(inv) != 1 {
		t.Errorf("got %#v %v %v", m, inv, err)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, "message: empty"},
		{`  `, "message: empty"},
		{`[{"data":{}}]`, "message[0].type: missing"},
		{`[{"type":"a"},{"type":"b"},{"data":null}]`, "message[2].type: missing"},
		{`{"data":{}}`, "message.type: missing"},
		{`[{"type":1}]`, "message[0].type: not a string"},
		{`[{"type":null}]`, "message[0].type: not a string"},
		{`[{"type":""}]`, "message[0].type: empty"},
		{`[{"type":"x","data":"a"}]`, "message[0].data: not an object"},
		{`[{"type":"x","data":[]}]`, "message[0].data: not an object"},
		{`[{"type":"x"},"[CQ:face,id=1]"]`, "message[1]: not an object"},
		{`[1]`, "message[0]: not an object"},
		{`[{"type":"x"}`, "message[0]: invalid JSON at offset 13: unexpected end"},
		{`[{"type":"x"},]`, "message[1]: invalid JSON at offset 14: unexpected ']'"},
		{`[{"type":"x","data":{"a":tru}}]`, "message[0].data.a: invalid JSON at offset 25: unexpected 't'"},
		{`[{"type":"x","data":{"a":01}}]`, "message[0].data: invalid JSON at offset 26: unexpected '1'"},
		{`[{"type":"x","data":{"a":1.}}]`, "message[0].data.a: invalid JSON at offset 27: unexpected '}'"},
		{`[{"type":"x","data":{"a":"b}}]`, "message[0].data.a: invalid JSON at offset 30: unterminated string"},
		{"[{\"type\":\"x\",\"data\":{\"a\":\"\n\"}}]", "message[0].data.a: invalid JSON at offset 26: control character in string"},
		{`[{"type":"x","data":{"a":"\x"}}]`, "message[0].data.a: invalid JSON at offset 27: invalid escape"},
		{`[{"type":"x","data":{"a":"\u12"}}]`, `message[0].data.a: invalid JSON at offset 27: invalid \u escape`},
		{`[{"type":"x","data":{"a":1 "b":2}}]`, "message[0].data: invalid JSON at offset 27: unexpected '\"'"},
		{`{"type":"x"} {}`, "message: invalid JSON at offset 13: data after the value"},
		{`"a" "b"`, "message: invalid JSON at offset 4: data after the value"},
		{`nul`, "message: invalid JSON at offset 0: unexpected 'n'"},
		{`-`, "message: invalid JSON at offset 1: unexpected end"},
		{`'a'`, "message: invalid JSON at offset 0: unexpected '\\''"},
		{`[{"type":"x","data":{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}}]`,
			"message[0].data.a: invalid JSON at offset 10022: nested too deeply"},
		{`{"type":"x","data":{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}}`,
			"message.data.a: invalid JSON at offset 10022: nested too deeply"},
	}
	for _, tt := range tests {
		m, err := segment.DecodeJSON([]byte(tt.in), false)
		if err == nil || err.Error() != tt.want {
			t.Errorf("DecodeJSON(%.60s) = %v, %v; want error %q", tt.in, m, err, tt.want)
		}
		if m != nil {
			t.Errorf("DecodeJSON(%.60s) returned a message with its error", tt.in)
		}
		checkDecodeJSON(t, []byte(tt.in))
	}
}

// TestDecodeJSONDepth checks the deepest nesting accepted, which must be
// encoding/json's.
func TestDecodeJSONDepth(t *testing.T) {
	for _, in := range []string{
		`[{"type":"x","data":{"a":` + strings.Repeat("[", 9997) + strings.Repeat("]", 9997) + `}}]`,
		`{"type":"x","data":{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}}`,
		`[{"type":"x","id":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}]`,
	} {
		if !json.Valid([]byte(in)) {
			t.Fatal("test input too deep for encoding/json")
		}
		if _, err := segment.DecodeJSON([]byte(in), false); err != nil {
			t.Errorf("nesting encoding/json accepts: %v", err)
		}
		checkDecodeJSON(t, []byte(in))
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		m    M
		want string
	}{
		{nil, `[]`},
		{M{seg("shake")}, `[{"type":"shake","data":{}}]`},
		{M{seg("at", "qq", "123"), txt("hi")}, `[{"type":"at","data":{"qq":"123"}},{"type":"text","data":{"text":"hi"}}]`},
		{M{seg("x", "b", "1", "a", "2")}, `[{"type":"x","data":{"b":"1","a":"2"}}]`},
		{M{txt("\"\\/\b\f\n\r\t\x00\x1f\x7f<>&")}, `[{"type":"text","data":{"text":"\"\\/\u0008\u000c\n\r\t\u0000\u001f` + "\x7f" + `<>&"}}]`},
		{M{txt("a\u2028b\u2029c中😀")}, `[{"type":"text","data":{"text":"a\u2028b\u2029c中😀"}}]`},
		{M{txt("\xffa\xe2\x80\u2028\xe2")}, "[{\"type\":\"text\",\"data\":{\"text\":\"\uFFFDa\uFFFD\uFFFD\\u2028\uFFFD\"}}]"},
		{M{seg("\"t\"", "k\n", "v")}, `[{"type":"\"t\"","data":{"k\n":"v"}}]`},
	}
	for _, tt := range tests {
		got := string(segment.AppendJSON([]byte("<"), tt.m))
		if got != "<"+tt.want {
			t.Errorf("AppendJSON(%#v)\n got %s\nwant %s", tt.m, got[1:], tt.want)
		}
		if !json.Valid([]byte(tt.want)) {
			t.Errorf("invalid JSON %s", tt.want)
		}
		b, err := tt.m.MarshalJSON()
		if err != nil || string(b) != tt.want {
			t.Errorf("MarshalJSON = %s, %v", b, err)
		}
	}
}

// TestMarshalInStruct checks the json.Marshaler and json.Unmarshaler
// implementations as an event or an action uses them.
func TestMarshalInStruct(t *testing.T) {
	type event struct {
		Message M      `json:"message"`
		Raw     string `json:"raw_message"`
	}
	m := M{seg("reply", "id", "1"), txt("a<b"), seg("image", "file", "x,y")}
	b, err := json.Marshal(event{Message: m, Raw: m.String()})
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json re-escapes '<' in the Marshaler's output.
	want := `{"message":[{"type":"reply","data":{"id":"1"}},{"type":"text","data":{"text":"a\u003cb"}},{"type":"image","data":{"file":"x,y"}}],"raw_message":"[CQ:reply,id=1]a\u003cb[CQ:image,file=x\u0026#44;y]"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	for _, in := range []string{string(b), `{"message":"[CQ:reply,id=1]a<b[CQ:image,file=x&#44;y]"}`} {
		var e event
		if err := json.Unmarshal([]byte(in), &e); err != nil {
			t.Fatal(err)
		}
		if !e.Message.Equal(m) {
			t.Errorf("Unmarshal(%s) = %#v", in, e.Message)
		}
	}
	var e event
	err = json.Unmarshal([]byte(`{"message":[{"data":{}}]}`), &e)
	if err == nil || !strings.Contains(err.Error(), "message[0].type: missing") {
		t.Errorf("Unmarshal of a bad message: %v", err)
	}
	var nilMsg M
	if b, _ := json.Marshal(nilMsg); string(b) != "[]" {
		t.Errorf("nil message marshals as %s", b)
	}
}

func TestDecodeContent(t *testing.T) {
	tests := []struct {
		in   string
		want M
	}{
		{`[{"type":"face","data":{"id":"123"}},{"type":"text","data":{"text":"哈喽～"}}]`, M{seg("face", "id", "123"), txt("哈喽～")}},
		{` {"type":"face","data":{"id":"1"}}`, M{seg("face", "id", "1")}},
		{"[CQ:face,id=123]哈喽～", M{seg("face", "id", "123"), txt("哈喽～")}},
		{"[1,2]", M{txt("[1,2]")}},
		{"plain", M{txt("plain")}},
	}
	for _, tt := range tests {
		if got := segment.DecodeContent(tt.in); !got.Equal(tt.want) {
			t.Errorf("DecodeContent(%q) = %#v", tt.in, got)
		}
	}
}

// checkDecodeJSON compares DecodeJSON with encoding/json: both must accept
// the same documents, and agree on every segment type and on the value of
// every data key, with the last duplicate winning and null meaning absent.
func checkDecodeJSON(t *testing.T, raw []byte) {
	t.Helper()
	got, err := segment.DecodeJSON(raw, false)
	if !json.Valid(raw) {
		if err == nil {
			t.Fatalf("DecodeJSON accepted invalid JSON %q as %#v", raw, got)
		}
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if e := dec.Decode(&v); e != nil {
		t.Fatalf("encoding/json: %v", e)
	}
	want, ok := expectMessage(v)
	if !ok {
		if err == nil {
			t.Fatalf("DecodeJSON accepted %q as %#v; want an error", raw, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("DecodeJSON(%q): %v; want %#v", raw, err, want)
	}
	if len(got) != len(want) {
		t.Fatalf("DecodeJSON(%q) = %#v; want %d segments", raw, got, len(want))
	}
	for i, w := range want {
		if got[i].Type != w.typ {
			t.Fatalf("DecodeJSON(%q)[%d].Type = %q, want %q", raw, i, got[i].Type, w.typ)
		}
		seen := map[string]bool{}
		for _, p := range got[i].Data {
			if seen[p.Key] {
				continue
			}
			seen[p.Key] = true
			wv, ok := w.data[p.Key]
			gv, _ := got[i].Get(p.Key)
			if !ok || !sameValue(gv, wv) {
				t.Fatalf("DecodeJSON(%q)[%d].%s = %q, want %#v", raw, i, p.Key, gv, wv)
			}
		}
		for k, wv := range w.data {
			if !seen[k] && wv != nil {
				t.Fatalf("DecodeJSON(%q)[%d] lacks key %q", raw, i, k)
			}
		}
	}
}

type wantSeg struct {
	typ  string
	data map[string]any
}

// expectMessage applies the documented rules to a value decoded by
// encoding/json; ok is false where DecodeJSON must fail.
func expectMessage(v any) ([]wantSeg, bool) {
	text := func(s string) ([]wantSeg, bool) {
		m, _ := segment.ParseCQ(s)
		var w []wantSeg
		for _, s := range m {
			d := map[string]any{}
			for _, p := range s.Data {
				d[p.Key] = p.Value
			}
			w = append(w, wantSeg{s.Type, d})
		}
		return w, true
	}
	one := func(v any) (wantSeg, bool) {
		o, ok := v.(map[string]any)
		if !ok {
			return wantSeg{}, false
		}
		typ, ok := o["type"].(string)
		if !ok || typ == "" {
			return wantSeg{}, false
		}
		switch d := o["data"].(type) {
		case nil:
			return wantSeg{typ, nil}, true
		case map[string]any:
			return wantSeg{typ, d}, true
		}
		return wantSeg{}, false
	}
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return text(v)
	case json.Number:
		return text(string(v))
	case bool:
		if v {
			return text("true")
		}
		return text("false")
	case map[string]any:
		s, ok := one(v)
		return []wantSeg{s}, ok
	case []any:
		var w []wantSeg
		for _, e := range v {
			s, ok := one(e)
			if !ok {
				return nil, false
			}
			w = append(w, s)
		}
		return w, true
	}
	return nil, false
}

func sameValue(got string, want any) bool {
	switch w := want.(type) {
	case string:
		return got == w
	case json.Number:
		return got == string(w)
	case bool:
		return got == map[bool]string{true: "true", false: "false"}[w]
	case map[string]any, []any:
		dec := json.NewDecoder(strings.NewReader(got))
		dec.UseNumber()
		var v any
		return dec.Decode(&v) == nil && reflect.DeepEqual(v, w)
	}
	return false
}

// TestJSONStringPositions moves each byte that needs care through every
// position of strings of every short length, across the eight-byte words
// the scanners work in.
func TestJSONStringPositions(t *testing.T) {
	specials := []string{"\x00", "\x1f", "\n", `"`, `\`, "\u2028", "\u2029", "\u2027", "\xe2", "\xe2\x80", "é", "中", "\x7f"}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, c := range specials {
				s := strings.Repeat("a", pos) + c + strings.Repeat("b", n-pos)
				b := segment.AppendJSON(nil, M{txt(s)})
				var out []struct{ Data map[string]string }
				if err := json.Unmarshal(b, &out); err != nil {
					t.Fatalf("AppendJSON(%q) = %s: %v", s, b, err)
				}
				if got, want := out[0].Data["text"], sanitize(M{txt(s)})[0].Value("text"); got != want {
					t.Fatalf("AppendJSON(%q) = %s, decodes to %q", s, b, got)
				}
				if bytes.Contains(b, []byte("\u2028")) || bytes.Contains(b, []byte("\u2029")) || bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 }) {
					t.Fatalf("AppendJSON(%q) = %q leaves a raw control or separator", s, b)
				}
				back, err := segment.DecodeJSON(b, false)
				if err != nil || back.PlainText() != out[0].Data["text"] {
					t.Fatalf("DecodeJSON(%s) = %#v, %v", b, back, err)
				}
				raw := []byte(`"` + s + `"`)
				checkDecodeJSON(t, raw)
			}
		}
	}
}

// TestUTF8Edges runs byte strings built around the boundaries of UTF-8
// (lead bytes, continuation ranges, surrogates, overlongs) through both
// directions of the array form.
func TestUTF8Edges(t *testing.T) {
	alphabet := []string{"a", "\x7f", "\x80", "\xbf", "\xc0", "\xc1", "\xc2", "\xdf", "\xe0", "\xe1", "\xec",
		"\xed", "\xee", "\xef", "\xf0", "\xf4", "\xf5", "\xff", "\xa0", "\x9f", "\x90", "\x8f",
		"中", "\u2028", "😀", "\U0010FFFF", "\uFFFD", "\xed\xa0\x80", "\xe0\x80\x80", "\xf4\x90\x80\x80"}
	g := newGen(9)
	for range 20000 {
		var b strings.Builder
		for n := g.r.IntN(12); n > 0; n-- {
			b.WriteString(alphabet[g.r.IntN(len(alphabet))])
		}
		s := b.String()
		want := sanitize(M{txt(s)})[0].Value("text")
		out := segment.AppendJSON(nil, M{txt(s)})
		if back, err := segment.DecodeJSON(out, false); err != nil || back.PlainText() != want {
			t.Fatalf("%q: AppendJSON gives %q, decoding to %#v, %v", s, out, back, err)
		}
		raw := append(append([]byte(`"`), s...), '"')
		if got, err := segment.DecodeJSON(raw, true); err != nil || got.PlainText() != want {
			t.Fatalf("DecodeJSON(%q) = %#v, %v; want %q", raw, got, err, want)
		}
	}
}
