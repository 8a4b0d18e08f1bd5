package segment_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// refUnescape is an independent statement of the entity rules.
var refUnescape = strings.NewReplacer("&amp;", "&", "&#91;", "[", "&#93;", "]", "&#44;", ",").Replace

// refUnescapeText is the same for text, where &#44; is no escape
// (message/string.md escapes ',' in parameter values only).
var refUnescapeText = strings.NewReplacer("&amp;", "&", "&#91;", "[", "&#93;", "]").Replace

var refType = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// refParse is a plain reading of string.md, slow and obvious, that the fast
// parser is checked against: a code runs from "[CQ:" to the first ']' (or,
// unterminated, to the first '[' or the end); its body splits at ',' into
// the type and parameters, and each parameter at its first '='.
func refParse(s string, drop bool) (segment.Message, []segment.Invalid) {
	var m segment.Message
	var inv []segment.Invalid
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			m = append(m, segment.Text(text.String()))
		}
		text.Reset()
	}
	off := 0
	for {
		i := strings.Index(s[off:], "[CQ:")
		if i < 0 {
			text.WriteString(refUnescapeText(s[off:]))
			break
		}
		text.WriteString(refUnescapeText(s[off : off+i]))
		start := off + i
		var end int
		var reason string
		var seg segment.Segment
		j := strings.IndexAny(s[start+1:], "[]")
		switch {
		case j < 0:
			end, reason = len(s), "unterminated"
		case s[start+1+j] == '[':
			end, reason = start+1+j, "unterminated"
		default:
			end = start + 1 + j + 1
			seg, reason = refCode(s[start+4 : end-1])
		}
		switch {
		case reason != "":
			if len(inv) < segment.MaxInvalid {
				inv = append(inv, segment.Invalid{Offset: start, Code: s[start:end], Reason: reason})
			}
			if !drop {
				text.WriteString(refUnescapeText(s[start:end]))
			}
		case seg.Type == "text":
			text.WriteString(seg.Value("text"))
		default:
			flush()
			m = append(m, seg)
		}
		off = end
	}
	flush()
	return m, inv
}

func refCode(body string) (segment.Segment, string) {
	parts := strings.Split(body, ",")
	seg := segment.Segment{Type: parts[0]}
	switch {
	case parts[0] == "":
		return seg, "empty type"
	case !refType.MatchString(parts[0]):
		return seg, "illegal character in type"
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok:
			return seg, "parameter without '='"
		case k == "":
			return seg, "empty parameter name"
		}
		seg.Data = append(seg.Data, segment.Pair{Key: refUnescape(k), Value: refUnescape(v)})
	}
	return seg, ""
}

// canonical reports why m is not in the form ParseCQ produces, or "".
func canonical(m segment.Message) string {
	for i, s := range m {
		if s.Type == "text" {
			switch {
			case len(s.Data) != 1 || s.Data[0].Key != "text":
				return fmt.Sprintf("[%d] text segment with data %v", i, s.Data)
			case s.Data[0].Value == "":
				return fmt.Sprintf("[%d] empty text", i)
			case i > 0 && m[i-1].Type == "text":
				return fmt.Sprintf("[%d] adjacent text", i)
			}
			continue
		}
		if !refType.MatchString(s.Type) {
			return fmt.Sprintf("[%d] type %q", i, s.Type)
		}
		for _, p := range s.Data {
			if p.Key == "" || strings.Contains(p.Key, "=") {
				return fmt.Sprintf("[%d] key %q", i, p.Key)
			}
		}
	}
	return ""
}

func sameInvalid(a, b []segment.Invalid) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// validUTF8 reports whether every type, key and value of m is valid UTF-8,
// the condition for the array form to be lossless.
func validUTF8(m segment.Message) bool {
	for _, s := range m {
		if !utf8.ValidString(s.Type) {
			return false
		}
		for _, p := range s.Data {
			if !utf8.ValidString(p.Key) || !utf8.ValidString(p.Value) {
				return false
			}
		}
	}
	return true
}

// gen builds random messages from pieces chosen to hit every escape and
// every delimiter.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) gen { return gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

var pieces = []string{
	"a", "b", "z", "0", "1", " ", "  ", "\n", "\t", "中", "文", "😀",
	"&", "[", "]", ",", "=", ";", "#", "4", "9", "amp", "&amp;", "&#44;",
	"&#91;", "&#93;", "&#", "&am", "[CQ:", "[CQ:face,id=1]", "CQ:", ":",
	"\u2028", "\u2029", `"`, `\`, "\x00", "\x1f", "\x7f", "http://example.com/?a=1&b=2",
	"\xff", "\xe2\x80",
}

var types = []string{"face", "image", "at", "reply", "record", "video", "json", "xml",
	"node", "markdown", "mface", "x-ext", "a.b", "A_1", "rps", "shake"}

func (g gen) str(max int) string {
	var b strings.Builder
	for n := g.r.IntN(max + 1); n > 0; n-- {
		b.WriteString(pieces[g.r.IntN(len(pieces))])
	}
	return b.String()
}

func (g gen) key() string {
	for {
		k := strings.ReplaceAll(g.str(3), "=", "")
		if k != "" {
			return k
		}
	}
}

// message returns a random canonical message.
func (g gen) message() segment.Message {
	var m segment.Message
	for n := g.r.IntN(8); n > 0; n-- {
		if g.r.IntN(3) == 0 {
			t := g.str(6)
			if t == "" {
				continue
			}
			if len(m) > 0 && m[len(m)-1].Type == "text" {
				m[len(m)-1] = segment.Text(m[len(m)-1].Value("text") + t)
			} else {
				m = append(m, segment.Text(t))
			}
			continue
		}
		s := segment.Segment{Type: types[g.r.IntN(len(types))]}
		for k := g.r.IntN(4); k > 0; k-- {
			s.Data = append(s.Data, segment.Pair{Key: g.key(), Value: g.str(5)})
		}
		m = append(m, s)
	}
	return m
}

func mustCanonical(t *testing.T, m segment.Message) {
	t.Helper()
	if why := canonical(m); why != "" {
		t.Fatalf("not canonical: %s: %#v", why, m)
	}
}
