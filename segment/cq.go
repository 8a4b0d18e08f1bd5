package segment

import (
	"fmt"
	"strings"
	"sync"
)

// Options say how a message given as a string is read.
type Options struct {
	// AutoEscape takes the whole string as plain text, without looking for
	// CQ codes or entities: the auto_escape parameter of send_msg.
	AutoEscape bool
	// DropInvalid removes malformed CQ codes instead of keeping them as
	// literal text: config message.ignore-invalid-cqcode. They are reported
	// either way.
	DropInvalid bool
}

// Invalid describes a malformed CQ code met by the parser.
type Invalid struct {
	// Offset is the byte offset of the code's '[' in the parsed string.
	Offset int
	// Code is the code as written: from "[CQ:" through its ']', or up to
	// the next '[' or the end of the string when it has no ']'.
	Code string
	// Reason says what is wrong: "unterminated", "empty type", "illegal
	// character in type", "parameter without '='" or "empty parameter
	// name".
	Reason string
}

// String describes the problem in one line, for logging.
func (v Invalid) String() string {
	return fmt.Sprintf("invalid CQ code at offset %d (%s): %q", v.Offset, v.Reason, v.Code)
}

const (
	reasonUnterminated = "unterminated"
	reasonEmptyType    = "empty type"
	reasonTypeChar     = "illegal character in type"
	reasonNoEquals     = "parameter without '='"
	reasonEmptyKey     = "empty parameter name"
)

// ParseCQ parses a message in string form with the default Options: CQ
// codes are decoded and malformed ones kept as literal text. It never fails;
// the second result lists the malformed codes, and is nil when there are
// none.
func ParseCQ(s string) (Message, []Invalid) {
	return parseCQ(s, false)
}

// ParseCQ parses a message in string form as o says. See the package
// documentation for the rules.
func (o Options) ParseCQ(s string) (Message, []Invalid) {
	if o.AutoEscape {
		if s == "" {
			return nil, nil
		}
		return textMessage(s), nil
	}
	return parseCQ(s, o.DropInvalid)
}

func textMessage(v string) Message {
	m, p := allocMessage(1, 1)
	p[0] = Pair{"text", v}
	m[0] = Segment{TypeText, p}
	return m
}

type parser struct {
	s       string
	sc      *scratch
	invalid []Invalid

	// The text not yet emitted: the escaped input s[ts:te] while it is one
	// run of the input, or, once it is not (a dropped code or a text code
	// interrupted it), the unescaped bytes in extra.
	ts, te int
	extra  []byte

	// open is the offset of the first '[' after the last code's "[CQ:",
	// or len(s). amp is the offset of the first '&' at or after ampFrom,
	// or len(s); hasAmp moves it forward.
	open         int
	amp, ampFrom int
}

// hasAmp reports whether s[a:b] contains '&'. Queries mostly move forward
// through the input, so one cursor answers most of them without a search.
func (p *parser) hasAmp(a, b int) bool {
	if a < p.ampFrom {
		return strings.IndexByte(p.s[a:b], '&') >= 0
	}
	if p.amp < a {
		p.amp, p.ampFrom = nextByte(p.s, '&', a), a
	}
	return p.amp < b
}

func parseCQ(s string, drop bool) (Message, []Invalid) {
	first := strings.Index(s, "[CQ:")
	if first < 0 {
		if s == "" {
			return nil, nil
		}
		return textMessage(Unescape(s)), nil
	}
	p := parser{s: s, sc: getScratch(s), amp: -1}
	pos, i := 0, first
	for {
		p.addRange(pos, i)
		end, reason := p.code(i)
		if reason != "" {
			p.invalid = append(p.invalid, Invalid{Offset: i, Code: s[i:end], Reason: reason})
			if !drop {
				p.addRange(i, end)
			}
		}
		pos = end
		// code found the first '[' after the code's start; when it lies
		// ahead, the search for the next code starts there.
		from := pos
		if p.open >= pos {
			from = p.open
		}
		if i = indexCode(s, from); i < 0 {
			p.addRange(pos, len(s))
			break
		}
	}
	p.flushText()
	m := p.sc.message(false)
	p.sc.release()
	return m, p.invalid
}

// indexCode returns the offset of the first "[CQ:" in s at or after from, or
// -1. It is cheaper than strings.Index for this: a raw '[' is rare outside
// codes, so the first one found is nearly always the answer.
func indexCode(s string, from int) int {
	for {
		i := strings.IndexByte(s[from:], '[')
		if i < 0 {
			return -1
		}
		from += i
		if strings.HasPrefix(s[from:], "[CQ:") {
			return from
		}
		from++
	}
}

// addRange adds the escaped input s[a:b] to the pending text.
func (p *parser) addRange(a, b int) {
	if a == b {
		return
	}
	if p.extra == nil {
		if p.ts == p.te {
			p.ts, p.te = a, b
			return
		}
		if p.te == a {
			p.te = b
			return
		}
		p.extra = appendUnescaped(make([]byte, 0, p.te-p.ts+b-a), p.s[p.ts:p.te])
	}
	p.extra = appendUnescaped(p.extra, p.s[a:b])
}

// addString adds unescaped text to the pending text.
func (p *parser) addString(v string) {
	if v == "" {
		return
	}
	if p.extra == nil {
		p.extra = appendUnescaped(make([]byte, 0, p.te-p.ts+len(v)), p.s[p.ts:p.te])
	}
	p.extra = append(p.extra, v...)
}

func appendUnescaped(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		if c, n := entity(s[i:]); n > 0 {
			dst = append(dst, c)
			s = s[i+n:]
		} else {
			dst = append(dst, '&')
			s = s[i+1:]
		}
	}
}

// flushText emits the pending text, if any, as a text segment.
func (p *parser) flushText() {
	sc := p.sc
	start := len(sc.pairs)
	switch {
	case p.extra != nil:
		v := string(p.extra)
		p.extra, p.ts, p.te = nil, 0, 0
		if v == "" {
			return
		}
		sc.addPair(span{spanText, 0}, sc.own(v), false)
	case p.ts < p.te:
		sc.addPair(span{spanText, 0}, sub(p.ts, p.te), p.hasAmp(p.ts, p.te))
		p.ts, p.te = 0, 0
	default:
		return
	}
	sc.addSeg(span{spanText, 0}, start, start+1)
}

// validType reports whether t can be a CQ type: ASCII letters, digits, '_',
// '-' and '.'. string.md does not list the characters; these cover every
// type in use and keep a malformed code from passing as a new type.
func validType(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// code parses the CQ code at s[i:], which starts with "[CQ:". A valid code
// is appended to the message (or, for a text code, to the pending text). It
// returns the offset just past the code and, for a malformed code, why.
//
// Every search is a strings.IndexByte over the code, which is vectorised:
// a byte-at-a-time loop would cost more than the whole budget for a 4 KB
// message.
func (p *parser) code(i int) (end int, reason string) {
	s := p.s
	body := s[i+4:]
	close := strings.IndexByte(body, ']')
	if close < 0 {
		close = len(body)
	}
	p.open = nextByte(s, '[', i+4)
	if p.open < i+4+close {
		return p.open, reasonUnterminated
	}
	if close == len(body) {
		return len(s), reasonUnterminated
	}
	body = body[:close]
	end = i + 4 + close + 1
	typ, params, hasParams := strings.Cut(body, ",")
	switch {
	case typ == "":
		return end, reasonEmptyType
	case !validType(typ):
		return end, reasonTypeChar
	}
	isText := typ == TypeText
	sc := p.sc
	start := len(sc.pairs)
	var text string // for a text code, the value of its last text key
	if hasParams {
		at := i + 4 + len(typ) + 1 // where params starts in s
		for {
			param, rest, more := strings.Cut(params, ",")
			eq := strings.IndexByte(param, '=')
			if eq <= 0 {
				sc.truncate(start)
				if eq < 0 {
					return end, reasonNoEquals
				}
				return end, reasonEmptyKey
			}
			k, v := sub(at, at+eq), sub(at+eq+1, at+len(param))
			if p.hasAmp(at, at+eq) {
				k = sc.own(Unescape(param[:eq]))
			}
			escaped := p.hasAmp(at+eq+1, at+len(param))
			if isText {
				if sc.str(k) == "text" {
					text = param[eq+1:]
					if escaped {
						text = Unescape(text)
					}
				}
			} else {
				sc.addPair(k, v, escaped)
			}
			if !more {
				break
			}
			at += len(param) + 1
			params = rest
		}
	}
	if isText {
		p.addString(text)
		return end, ""
	}
	// The pending text comes first; its pair goes after the code's, which
	// is fine since each segment records where its pairs are.
	n := len(sc.pairs)
	p.flushText()
	sc.addSeg(sub(i+4, i+4+len(typ)), start, n)
	return end, ""
}

// AppendCQ appends the string form of m to dst. Text is escaped with the
// text rules, types, keys and values with the value rules. A type or key
// that ParseCQ would reject is still escaped, so the output never contains
// more codes than m has segments: such a code comes back as literal text.
func AppendCQ(dst []byte, m Message) []byte {
	for _, s := range m {
		if s.Type == TypeText {
			dst = appendEscaped(dst, s.Value("text"), false)
			continue
		}
		dst = append(dst, "[CQ:"...)
		dst = appendEscaped(dst, s.Type, true)
		for _, p := range s.Data {
			dst = append(dst, ',')
			dst = appendEscaped(dst, p.Key, true)
			dst = append(dst, '=')
			dst = appendEscaped(dst, p.Value, true)
		}
		dst = append(dst, ']')
	}
	return dst
}

// FormatCQ returns the string form of m.
func FormatCQ(m Message) string {
	if len(m) == 1 && m[0].Type == TypeText {
		return EscapeText(m[0].Value("text"))
	}
	n := 0
	for _, s := range m {
		n += len(s.Type) + 5
		for _, p := range s.Data {
			n += len(p.Key) + len(p.Value) + 2
		}
	}
	// Format into scratch space, on the stack when it is small, and copy
	// the result out once: a strings.Builder would save the copy but pays
	// a write barrier on every append while the collector runs.
	if n <= smallFormat-smallFormat/8 {
		var stack [smallFormat]byte
		return string(AppendCQ(stack[:0], m))
	}
	bp := formatPool.Get().(*[]byte)
	b := AppendCQ((*bp)[:0], m)
	s := string(b)
	if cap(b) <= maxScratch {
		*bp = b
		formatPool.Put(bp)
	}
	return s
}

const (
	smallFormat = 512
	maxScratch  = 64 << 10
)

var formatPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}
