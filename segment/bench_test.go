package segment_test

// Benchmarks on a fixed corpus; the figures and targets are recorded in
// docs/PERFORMANCE.md. Run with
//
//	go test -run xxx -bench . -benchmem ./segment/

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

type benchCase struct {
	name string
	cq   string // the string form, as a framework sends it
	json []byte // the array form of the same message
	segs int
}

// imageURL returns a ~300-byte image URL whose escaped form contains
// &#44; and &amp;, like the signed CDN links real messages carry.
func imageURL(i int) string {
	return fmt.Sprintf("https://multimedia.nt.qq.com.cn/download?appid=1407&fileid=EhQ%03dVbA3Tj2x1Gm7kQ8sYdL0rN9wFhGIrYKIP-4ASEdkbM5lFpQ2WsUyRt0z8cAiQeF3xL%%2Cz%d"+
		"&spec=0&rkey=CAQSKAB6JWENi5LMtWVWVxS2RhcXmnnpQe%%2CR2fMsyCR6w,Yh8DrNcaO2Yj0Kb1MqLx&term=2,3,4&is_origin=0"+
		"&sha=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c&name=%d.jpg", i, i, i)
}

func benchCorpus() []benchCase {
	text40 := strings.Repeat("今天天气很好我们一起去公园散步吧", 3)[:40*3] // 40 characters
	var mixed segment.Message
	for i := range 30 {
		switch i % 4 {
		case 0:
			mixed = append(mixed, segment.Text(fmt.Sprintf("第%d段：大家好，这里是一段用来测试的普通文本 [注意] 含有少量需要转义的字符 & 以及 ASCII text for the benchmark. ", i)))
		case 1:
			mixed = append(mixed, segment.At(fmt.Sprint(10001000+i)))
		case 2:
			mixed = append(mixed, segment.Face(fmt.Sprint(100+i)))
		case 3:
			mixed = append(mixed, segment.Image(imageURL(i)))
		}
	}
	msgs := []struct {
		name string
		m    segment.Message
	}{
		{"text40", segment.Message{segment.Text(text40)}},
		{"reply_at_text", segment.Message{segment.Reply("1234567"), segment.At("10001000"), segment.Text(" 在吗？晚上一起吃饭")}},
		{"images3", segment.Message{segment.Image(imageURL(1)), segment.Image(imageURL(2)), segment.Image(imageURL(3))}},
		{"mixed4k", mixed},
	}
	var cs []benchCase
	for _, m := range msgs {
		cs = append(cs, benchCase{m.name, segment.FormatCQ(m.m), segment.AppendJSON(nil, m.m), len(m.m)})
	}
	return cs
}

// TestBenchCorpus pins the corpus to what docs/PERFORMANCE.md describes.
func TestBenchCorpus(t *testing.T) {
	for _, c := range benchCorpus() {
		m, inv := segment.ParseCQ(c.cq)
		if len(m) != c.segs || inv != nil {
			t.Errorf("%s: %d segments, %v", c.name, len(m), inv)
		}
		j, err := segment.DecodeJSON(c.json, false)
		if err != nil || !j.Equal(m) {
			t.Errorf("%s: array form disagrees: %v", c.name, err)
		}
		t.Logf("%s: %d segments, %d bytes CQ, %d bytes JSON", c.name, c.segs, len(c.cq), len(c.json))
		switch c.name {
		case "text40":
			if n := len([]rune(c.cq)); n != 40 {
				t.Errorf("text40 has %d characters", n)
			}
		case "images3":
			if !strings.Contains(c.cq, "&#44;") || !strings.Contains(c.cq, "&amp;") {
				t.Error("images3 lacks escapes")
			}
		case "mixed4k":
			if c.segs != 30 || len(c.cq) < 3900 || len(c.cq) > 4300 {
				t.Errorf("mixed4k: %d segments, %d bytes", c.segs, len(c.cq))
			}
		}
	}
}

var sink segment.Message

func BenchmarkParseCQ(b *testing.B) {
	for _, c := range benchCorpus() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.cq)))
			b.ReportAllocs()
			for b.Loop() {
				sink, _ = segment.ParseCQ(c.cq)
			}
		})
	}
}

func BenchmarkFormatCQ(b *testing.B) {
	for _, c := range benchCorpus() {
		m, _ := segment.ParseCQ(c.cq)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.cq)))
			b.ReportAllocs()
			var s string
			for b.Loop() {
				s = segment.FormatCQ(m)
			}
			_ = s
		})
	}
}

// BenchmarkAppendCQ formats into a reused buffer, as a transport writing
// many events would.
func BenchmarkAppendCQ(b *testing.B) {
	for _, c := range benchCorpus() {
		m, _ := segment.ParseCQ(c.cq)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.cq)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = segment.AppendCQ(buf[:0], m)
			}
		})
	}
}

// BenchmarkRoundTrip is a full parse and format of the string form.
func BenchmarkRoundTrip(b *testing.B) {
	for _, c := range benchCorpus() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.cq)))
			b.ReportAllocs()
			var s string
			for b.Loop() {
				m, _ := segment.ParseCQ(c.cq)
				s = segment.FormatCQ(m)
			}
			_ = s
		})
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	for _, c := range benchCorpus() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.json)))
			b.ReportAllocs()
			for b.Loop() {
				sink, _ = segment.DecodeJSON(c.json, false)
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, c := range benchCorpus() {
		m, _ := segment.ParseCQ(c.cq)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.json)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = segment.AppendJSON(buf[:0], m)
			}
		})
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	for _, c := range benchCorpus() {
		m, _ := segment.ParseCQ(c.cq)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.json)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = m.MarshalJSON()
			}
		})
	}
}

// The baselines run in the same process as the benchmarks above, so that
// their ratio holds however loaded the machine is. refParse is the plain
// reading of string.md the tests check the parser against (strings.Split,
// strings.Cut and a strings.Replacer per value); the JSON baselines are
// encoding/json into and out of a map per segment, which is how most Go
// OneBot code handles the array form.

func BenchmarkBaselineParseCQ(b *testing.B) {
	for _, c := range benchCorpus() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.cq)))
			b.ReportAllocs()
			for b.Loop() {
				sink, _ = refParse(c.cq, false)
			}
		})
	}
}

type mapSegment struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func BenchmarkBaselineDecodeJSON(b *testing.B) {
	for _, c := range benchCorpus() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.json)))
			b.ReportAllocs()
			for b.Loop() {
				var segs []mapSegment
				if err := json.Unmarshal(c.json, &segs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBaselineMarshalJSON(b *testing.B) {
	for _, c := range benchCorpus() {
		var segs []mapSegment
		if err := json.Unmarshal(c.json, &segs); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.json)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(segs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
