package segment_test

// Hostile inputs: the shapes that make a naive parser quadratic (unclosed
// openings, unbalanced brackets, long runs of delimiters and escapes,
// repeated nulls). The benchmarks run each at several sizes and report
// ns/B, which stays flat across the sizes when the work is linear; the
// fuzz seeds in testdata/fuzz hold small versions of the same shapes.
//
//	go test -run xxx -bench Hostile -benchtime 3x ./segment/

import (
	"fmt"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// hostileShape builds an input of about n bytes.
type hostileShape struct {
	name string
	make func(n int) string
}

// repeatTo repeats unit to about n bytes, between head and tail.
func repeatTo(head, unit, tail string, n int) string {
	return head + strings.Repeat(unit, max(1, (n-len(head)-len(tail))/len(unit))) + tail
}

func shapeOf(head, unit, tail string) func(int) string {
	return func(n int) string { return repeatTo(head, unit, tail, n) }
}

// cqShapes are string-form messages.
var cqShapes = []hostileShape{
	{"open", shapeOf("", "[CQ:", "")},
	{"open_image", shapeOf("", "[CQ:image,file=", "")},
	{"open_then_close", shapeOf("", "[CQ:", "]")},
	{"brackets", shapeOf("", "[", "")},
	{"closers", shapeOf("", "]", "")},
	{"nested", shapeOf("", "[CQ:a,b=[CQ:c,d=]]", "")},
	{"unbalanced", shapeOf("", "[[CQ:x]]][CQ:", "")},
	{"amps", shapeOf("", "&", "")},
	{"entities", shapeOf("", "&#91;&amp;&#44", "")},
	{"commas", shapeOf("[CQ:a", ",", "]")},
	{"params", shapeOf("[CQ:a", ",k=&amp;v", "]")},
	{"long_value", shapeOf("[CQ:image,file=", "x&amp;", "")},
	{"mixed_invalid", shapeOf("", "hi [CQ:] & [CQ:a b] [CQ:c,d] [CQ:e,=f] [CQ:g,h=i] ", "")},
	{"text_codes", shapeOf("", "[CQ:text,text=a&#44;]x[CQ:", "")},
}

// jsonShapes are array-form messages, as the raw JSON value of message.
var jsonShapes = []hostileShape{
	{"segments", shapeOf("[", `{"type":"at","data":{"qq":"1"}},`, `{"type":"at"}]`)},
	{"nulls", func(n int) string {
		k := max(1, n/32)
		return `{"type":"x","data":{` + strings.Repeat(`"a":"1",`, k) + strings.Repeat(`"b":null,`, k) + `"c":null}}`
	}},
	{"dup_null", shapeOf(`{"type":"x","data":{`, `"a":"\n",`, `"a":null}}`)},
	{"null_keys", func(n int) string {
		var b strings.Builder
		b.WriteString(`{"type":"x","data":{`)
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, `"k%d":"v","n%d":null,`, i, i)
		}
		b.WriteString(`"z":null}}`)
		return b.String()
	}},
	{"escapes", shapeOf(`{"type":"text","data":{"text":"`, `\u0041\n\"`, `"}}`)},
	{"deep", func(n int) string {
		d := min(n/2, 9000)
		return `{"type":"x","data":{"v":` + strings.Repeat("[", d) + strings.Repeat("]", d) + `}}`
	}},
	{"cq_string", func(n int) string { return `"` + strings.Repeat("[CQ:", max(1, n/4)) + `"` }},
	{"unterminated", shapeOf(`{"type":"x","data":{"a":"`, `\\`, ``)},
}

var hostileSizes = []int{64 << 10, 1 << 20, 8 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// reportPerByte records the time per input byte, the figure that must not
// grow with the size.
func reportPerByte(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/B")
}

func BenchmarkHostileParseCQ(b *testing.B) {
	for _, sh := range cqShapes {
		for _, n := range hostileSizes {
			in := sh.make(n)
			for _, drop := range []bool{false, true} {
				mode := "keep"
				if drop {
					mode = "drop"
				}
				o := segment.Options{DropInvalid: drop}
				b.Run(sh.name+"/"+mode+"/"+sizeName(n), func(b *testing.B) {
					b.SetBytes(int64(len(in)))
					for b.Loop() {
						sink, _ = o.ParseCQ(in)
					}
					reportPerByte(b, len(in))
				})
			}
		}
	}
}

func BenchmarkHostileDecodeJSON(b *testing.B) {
	for _, sh := range jsonShapes {
		for _, n := range hostileSizes {
			in := []byte(sh.make(n))
			b.Run(sh.name+"/"+sizeName(n), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					sink, _, _ = segment.Options{}.DecodeJSON(in)
				}
				reportPerByte(b, len(in))
			})
		}
	}
}

// BenchmarkHostileFormat formats and escapes what the hostile strings
// parse to, and escapes them raw.
func BenchmarkHostileFormat(b *testing.B) {
	for _, sh := range cqShapes {
		for _, n := range hostileSizes {
			in := sh.make(n)
			m, _ := segment.ParseCQ(in)
			b.Run(sh.name+"/"+sizeName(n), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				var buf []byte
				for b.Loop() {
					buf = segment.AppendCQ(buf[:0], m)
					buf = segment.AppendJSON(buf, m)
					buf = segment.AppendEscapedValue(buf, in)
				}
				reportPerByte(b, len(in))
			})
		}
	}
}

// TestParseCQLinear parses every hostile shape at two sizes and checks,
// by counting rather than timing, that the searches went over each byte a
// bounded number of times: a parser that searched to the end of the input
// once per unterminated code would count hundreds of times the input.
// The result is also checked against the reference reading.
func TestParseCQLinear(t *testing.T) {
	for _, sh := range cqShapes {
		for _, n := range []int{4 << 10, 1 << 20} {
			in := sh.make(n)
			for _, drop := range []bool{false, true} {
				if got := segment.ScannedBytes(in, drop); got > 6*len(in)+16 {
					t.Errorf("%s/%d drop=%v: searches went over %d bytes of a %d-byte input", sh.name, n, drop, got, len(in))
				}
			}
			if n < 1<<20 {
				checkParse(t, in)
			}
		}
	}
}

// TestParseCQInvalidBounded checks that a message of a million malformed
// codes reports MaxInvalid of them, the first ones, and is still kept as
// text or dropped whole.
func TestParseCQInvalidBounded(t *testing.T) {
	in := strings.Repeat("[CQ:image,file=", 1<<16)
	m, inv := segment.ParseCQ(in)
	if len(inv) != segment.MaxInvalid {
		t.Fatalf("%d invalid codes reported, want %d", len(inv), segment.MaxInvalid)
	}
	for i, v := range inv {
		if v.Offset != 15*i || v.Code != "[CQ:image,file=" || v.Reason != "unterminated" {
			t.Fatalf("invalid[%d] = %+v", i, v)
		}
	}
	if !m.Equal(M{txt(in)}) {
		t.Errorf("kept as text: got %d segments", len(m))
	}
	m, inv = segment.Options{DropInvalid: true}.ParseCQ(in)
	if m != nil || len(inv) != segment.MaxInvalid {
		t.Errorf("dropped: got %d segments, %d invalid", len(m), len(inv))
	}
}

// TestInvalidStringClipped checks that the log line of an unterminated
// code that runs to the end of a huge message stays short.
func TestInvalidStringClipped(t *testing.T) {
	code := "[CQ:image,file=" + strings.Repeat("x", 1<<20)
	_, inv := segment.ParseCQ("a" + code)
	if len(inv) != 1 || inv[0].Code != code {
		t.Fatalf("got %v", inv)
	}
	s := inv[0].String()
	want := `invalid CQ code at offset 1 (unterminated): "[CQ:image,file=` + strings.Repeat("x", 120-15) + `"… (1048591 bytes)`
	if s != want {
		t.Errorf("String() = %q\nwant %q", s, want)
	}
}

// TestDecodeJSONNulls checks null data values against a plain reading of
// the rule, on random objects with few keys, many duplicates, escaped
// values and nulls: a null removes every earlier pair of its key and
// leaves later ones. Each object is also checked against encoding/json.
func TestDecodeJSONNulls(t *testing.T) {
	keys := []string{"a", "b", `c\"`, "d"}
	values := []string{`"1"`, `"\n"`, `"x\u0041y"`, "2", "true", "null", "null", `{"n":null}`}
	decoded := map[string]string{`"1"`: "1", `"\n"`: "\n", `"x\u0041y"`: "xAy", "2": "2", "true": "true", `{"n":null}`: `{"n":null}`}
	g := newGen(7)
	for range 3000 {
		var b strings.Builder
		b.WriteString(`{"type":"x","data":{`)
		var want []segment.Pair
		for i, n := 0, g.r.IntN(12); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			k, v := keys[g.r.IntN(len(keys))], values[g.r.IntN(len(values))]
			fmt.Fprintf(&b, `"%s":%s`, k, v)
			key := strings.ReplaceAll(k, `\"`, `"`)
			if v != "null" {
				want = append(want, segment.Pair{Key: key, Value: decoded[v]})
				continue
			}
			kept := want[:0]
			for _, p := range want {
				if p.Key != key {
					kept = append(kept, p)
				}
			}
			want = kept
		}
		b.WriteString(`}}`)
		raw := []byte(b.String())
		m, err := segment.DecodeJSON(raw, false)
		if err != nil || len(m) != 1 || !m.Equal(segment.Message{{Type: "x", Data: want}}) {
			t.Fatalf("DecodeJSON(%s) = %#v, %v; want data %#v", raw, m, err, want)
		}
		checkDecodeJSON(t, raw)
	}
}
