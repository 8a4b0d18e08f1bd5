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

// String describes the problem in one line, for logging. A long code is
// cut to its first maxShown bytes: an unterminated code runs to the end of
// the message, which may be megabytes.
func (v Invalid) String() string {
	if len(v.Code) > maxShown {
		return fmt.Sprintf("invalid CQ code at offset %d (%s): %q… (%d bytes)", v.Offset, v.Reason, v.Code[:maxShown], len(v.Code))
	}
	return fmt.Sprintf("invalid CQ code at offset %d (%s): %q", v.Offset, v.Reason, v.Code)
}

// maxShown is how much of a malformed code Invalid.String shows.
const maxShown = 120

const (
	reasonUnterminated = "unterminated"
	reasonEmptyType    = "empty type"
	reasonTypeChar     = "illegal character in type"
	reasonNoEquals     = "parameter without '='"
	reasonEmptyKey     = "empty parameter name"
)

// ParseCQ parses a message in string form with the default Options: CQ
// codes are decoded and malformed ones kept as literal text. It never fails;
// the second result lists the malformed codes, the first MaxInvalid of
// them, and is nil when there are none. Its time is linear in len(s)
// whatever s holds.
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
	// Field by field, for the reason given in scratch.message.
	b := new(block1)
	b.pairs[0].Key = TypeText
	b.pairs[0].Value = v
	b.segs[0].Type = TypeText
	b.segs[0].Data = b.pairs[:]
	return b.segs[:]
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
	// or len(s). close is the offset of the first ']' at or after the
	// last code's body, or len(s); closeAt moves it forward. amp is the
	// offset of the first '&' at or after ampFrom, or len(s); ampIn moves
	// it forward.
	open, close  int
	amp, ampFrom int

	// scanned counts the bytes the searches for delimiters went over, so
	// that a test can check that parsing is linear without timing it.
	scanned int
}

// next returns the offset of the first c in s at or after from, or len(s).
func (p *parser) next(c byte, from int) int {
	i := nextByte(p.s, c, from)
	p.scanned += i - from
	return i
}

// closeAt returns the offset of the first ']' at or after b, or len(s).
// Codes are read left to right, so the answer found for one code stands
// for the next ones until b passes it. Searching afresh for each code
// would make a run of unterminated codes quadratic: "[CQ:" repeated n
// times, with no ']' anywhere, would search to the end n times.
func (p *parser) closeAt(b int) int {
	if p.close < b {
		p.close = p.next(']', b)
	}
	return p.close
}

// ampIn returns the offset of the first '&' in s[a:b], or -1. Queries
// mostly move forward through the input, so one cursor answers most of
// them without a search.
func (p *parser) ampIn(a, b int) int {
	if a < p.ampFrom {
		i := strings.IndexByte(p.s[a:b], '&')
		if i >= 0 {
			p.scanned += i
			return a + i
		}
		p.scanned += b - a
		return -1
	}
	if p.amp < a {
		p.amp, p.ampFrom = p.next('&', a), a
	}
	if p.amp < b {
		return p.amp
	}
	return -1
}

func parseCQ(s string, drop bool) (Message, []Invalid) {
	m, inv, _ := parseCounted(s, drop)
	return m, inv
}

// parseCounted is parseCQ that also returns parser.scanned.
func parseCounted(s string, drop bool) (Message, []Invalid, int) {
	i, n := indexCode(s, 0)
	if i < 0 {
		if s == "" {
			return nil, nil, n
		}
		return textMessage(UnescapeText(s)), nil, n
	}
	p := parser{s: s, sc: getScratch(s), amp: -1, close: -1, scanned: n}
	pos := 0
	for i >= 0 {
		p.addRange(pos, i)
		end, reason := p.code(i)
		if reason != "" {
			if len(p.invalid) < MaxInvalid {
				p.invalid = append(p.invalid, Invalid{Offset: i, Code: s[i:end], Reason: reason})
			}
			if !drop {
				p.addRange(i, end)
			}
		}
		pos = end
		// code found the first '[' after the code's start; when it lies
		// ahead, the search for the next code starts there.
		i, n = indexCode(s, max(pos, p.open))
		p.scanned += n
	}
	p.addRange(pos, len(s))
	p.flushText()
	m := p.sc.message(false)
	p.sc.release()
	return m, p.invalid, p.scanned
}

// MaxInvalid bounds the malformed codes ParseCQ reports: the first
// MaxInvalid of them. Each report takes ten times the bytes of "[CQ:",
// the shortest malformed code, and a caller only logs them.
const MaxInvalid = 64

// indexCode returns the offset of the first "[CQ:" in s at or after from, or
// -1, and the number of bytes it searched. It is cheaper than strings.Index
// for this: a raw '[' is rare outside codes, so the first one found is
// nearly always the answer.
func indexCode(s string, from int) (at, scanned int) {
	for {
		// Codes often follow one another, and the caller starts from the
		// '[' it already knows of: then there is nothing to search.
		if from >= len(s) || s[from] != '[' {
			i := strings.IndexByte(s[from:], '[')
			if i < 0 {
				return -1, scanned + len(s) - from
			}
			from += i
			scanned += i
		}
		if strings.HasPrefix(s[from:], "[CQ:") {
			return from, scanned
		}
		from++
		scanned++
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
		p.extra = appendUnescaped(make([]byte, 0, p.te-p.ts+b-a), p.s[p.ts:p.te], false)
	}
	p.extra = appendUnescaped(p.extra, p.s[a:b], false)
}

// addString adds unescaped text to the pending text.
func (p *parser) addString(v string) {
	if v == "" {
		return
	}
	if p.extra == nil {
		p.extra = appendUnescaped(make([]byte, 0, p.te-p.ts+len(v)), p.s[p.ts:p.te], false)
	}
	p.extra = append(p.extra, v...)
}

// flushText emits the pending text, if any, as a text segment.
func (p *parser) flushText() {
	sc := p.sc
	start := len(sc.pairs)
	switch {
	case p.extra != nil:
		v := p.extra
		p.extra, p.ts, p.te = nil, 0, 0
		if len(v) == 0 {
			return
		}
		sc.addBuffered(span{spanText, 0}, v)
	case p.ts < p.te:
		if amp := p.ampIn(p.ts, p.te); amp >= 0 {
			sc.addDecoded(span{spanText, 0}, p.ts, amp, p.te, false)
		} else {
			sc.addPair(span{spanText, 0}, sub(p.ts, p.te), false)
		}
		p.ts, p.te = 0, 0
	default:
		return
	}
	sc.addSeg(span{spanText, 0}, start, start+1)
}

// typeChar marks the bytes a CQ type may hold: ASCII letters, digits, '_',
// '-' and '.'. string.md does not list the characters; these cover every
// type in use and keep a malformed code from passing as a new type.
var typeChar = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	return t
}()

// code parses the CQ code at s[i:], which starts with "[CQ:". A valid code
// is appended to the message (or, for a text code, to the pending text). It
// returns the offset just past the code and, for a malformed code, why.
//
// The brackets, and the end of a long value, are found with
// strings.IndexByte, which is vectorised: a byte-at-a-time loop over a
// 300-byte URL would cost more than the rest of the code. Types, keys and
// short values are read byte by byte, which for them is cheaper than a
// call.
func (p *parser) code(i int) (end int, reason string) {
	s := p.s
	b := i + 4 // the body, between "[CQ:" and ']'
	close := p.closeAt(b)
	p.open = p.next('[', b)
	if p.open < close {
		return p.open, reasonUnterminated
	}
	if close == len(s) {
		return len(s), reasonUnterminated
	}
	end = close + 1
	// The type runs to the first ','.
	t := b
	for t < close && typeChar[s[t]] {
		t++
	}
	switch {
	case t < close && s[t] != ',':
		return end, reasonTypeChar
	case t == b:
		return end, reasonEmptyType
	}
	isText := s[b:t] == TypeText
	sc := p.sc
	start := len(sc.pairs)
	var text string // for a text code, the value of its last text key
	// Each parameter runs from the ',' at at to the next ',' or close, and
	// its key to the first '='.
	for at := t; at < close; {
		ks := at + 1
		e, keyAmp := ks, false
		for e < close && s[e] != '=' && s[e] != ',' {
			keyAmp = keyAmp || s[e] == '&'
			e++
		}
		if e == close || s[e] == ',' {
			sc.truncate(start)
			return end, reasonNoEquals
		}
		if e == ks {
			sc.truncate(start)
			return end, reasonEmptyKey
		}
		k := sub(ks, e)
		if keyAmp {
			k = sc.own(Unescape(s[ks:e]))
		}
		vs, ve, amp := e+1, close, -1
		if close-vs < shortScan {
			for j := vs; j < close; j++ {
				if c := s[j]; c == ',' {
					ve = j
					break
				} else if c == '&' && amp < 0 {
					amp = j
				}
			}
		} else {
			if j := strings.IndexByte(s[vs:close], ','); j >= 0 {
				ve = vs + j
			}
			amp = p.ampIn(vs, ve)
		}
		switch {
		case isText:
			if sc.str(k) == "text" {
				text = s[vs:ve]
				if amp >= 0 {
					text = Unescape(text)
				}
			}
		case amp >= 0:
			sc.addDecoded(k, vs, amp, ve, true)
		default:
			sc.addPair(k, sub(vs, ve), false)
		}
		at = ve
	}
	if isText {
		p.addString(text)
		return end, ""
	}
	// The pending text comes first; its pair goes after the code's, which
	// is fine since each segment records where its pairs are.
	n := len(sc.pairs)
	p.flushText()
	sc.addSeg(sub(b, t), start, n)
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
