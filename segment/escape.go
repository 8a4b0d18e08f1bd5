package segment

import (
	"encoding/binary"
	"slices"
	"strings"
)

// EscapeText escapes s for the text between CQ codes: & [ ] become &amp;
// &#91; &#93;. It returns s itself when nothing needs escaping.
func EscapeText(s string) string { return escapeString(s, false) }

// EscapeValue escapes s for a CQ parameter value: like EscapeText, and ','
// becomes &#44;. It returns s itself when nothing needs escaping.
func EscapeValue(s string) string { return escapeString(s, true) }

func escapeString(s string, value bool) string {
	if !needsEscape(s, value) {
		return s
	}
	if len(s) <= smallFormat-smallFormat/8 {
		var stack [smallFormat]byte
		return string(appendEscaped(stack[:0], s, value))
	}
	return string(appendEscaped(make([]byte, 0, len(s)+len(s)/8), s, value))
}

// AppendEscapedText appends s escaped as text to dst.
func AppendEscapedText(dst []byte, s string) []byte { return appendEscaped(dst, s, false) }

// AppendEscapedValue appends s escaped as a parameter value to dst.
func AppendEscapedValue(dst []byte, s string) []byte { return appendEscaped(dst, s, true) }

// shortScan is the length below which a byte loop beats the vectorised
// strings.IndexByte, whose call and setup cost about as much as this many
// bytes of a plain loop.
const shortScan = 16

// escText marks the bytes escaped in text; values also escape ','.
var escText = [256]bool{'&': true, '[': true, ']': true}

func isSpecial(c byte, value bool) bool {
	return escText[c] || (value && c == ',')
}

func needsEscape(s string, value bool) bool {
	if len(s) < shortScan {
		for i := 0; i < len(s); i++ {
			if isSpecial(s[i], value) {
				return true
			}
		}
		return false
	}
	return strings.IndexByte(s, '&') >= 0 || strings.IndexByte(s, '[') >= 0 ||
		strings.IndexByte(s, ']') >= 0 || (value && strings.IndexByte(s, ',') >= 0)
}

// nextByte returns the index of the first c in s at or after from, or
// len(s).
func nextByte(s string, c byte, from int) int {
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return len(s)
}

// appendEscaped appends s to dst with the text or the value escapes.
//
// Long strings keep one cursor per special byte, each advanced with
// strings.IndexByte, so clean stretches are skipped at vector speed and the
// string is scanned once per special byte however many there are. Short
// strings, where the calls would cost more than they save, are scanned byte
// by byte.
func appendEscaped(dst []byte, s string, value bool) []byte {
	last := 0
	if len(s) < shortScan {
		for i := 0; i < len(s); i++ {
			if c := s[i]; isSpecial(c, value) {
				dst = append(append(dst, s[last:i]...), entities[c]...)
				last = i + 1
			}
		}
		return append(dst, s[last:]...)
	}
	amp, open, close, comma := nextByte(s, '&', 0), nextByte(s, '[', 0), nextByte(s, ']', 0), len(s)
	if value {
		comma = nextByte(s, ',', 0)
	}
	for {
		i := min(amp, open, close, comma)
		if i == len(s) {
			return append(dst, s[last:]...)
		}
		c := s[i]
		dst = append(dst, s[last:i]...)
		if len(s)-i > 3 {
			dst = appendEntity(dst, c)
		} else {
			dst = append(dst, entities[c]...)
		}
		last = i + 1
		switch c {
		case '&':
			amp = nextByte(s, '&', last)
		case '[':
			open = nextByte(s, '[', last)
		case ']':
			close = nextByte(s, ']', last)
		default:
			comma = nextByte(s, ',', last)
		}
	}
}

// appendEntity appends the entity of c. It writes the five bytes with one
// word store where a plain append would call memmove for them: signed URLs
// have an '&' every few dozen bytes. The store writes three bytes past the
// entity, so the caller must have at least that much more to append: then
// nothing past the final result is touched.
func appendEntity(dst []byte, c byte) []byte {
	n := len(dst)
	if cap(dst)-n < 8 {
		dst = slices.Grow(dst, 8)
	}
	binary.LittleEndian.PutUint64(dst[n:n+8], entityWords[c])
	return dst[:n+5]
}

var entities = [256]string{'&': "&amp;", '[': "&#91;", ']': "&#93;", ',': "&#44;"}

// entityWords holds the entities as little-endian words, for one store.
var entityWords = func() (w [256]uint64) {
	for c, e := range entities {
		for k := len(e) - 1; k >= 0; k-- {
			w[c] = w[c]<<8 | uint64(e[k])
		}
	}
	return w
}()

// appendUnescaped appends s, decoded as a parameter value (value) or as
// text, to dst.
func appendUnescaped(dst []byte, s string, value bool) []byte {
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		if c, n := entity(s[i:], value); n > 0 {
			dst = append(dst, c)
			s = s[i+n:]
		} else {
			dst = append(dst, '&')
			s = s[i+1:]
		}
	}
}

// Unescape decodes a CQ parameter value: &amp; &#91; &#93; &#44;. Any
// other '&' is kept as it is. It returns s itself when it contains no
// entity.
func Unescape(s string) string { return unescape(s, true) }

// UnescapeText decodes the text between CQ codes: &amp; &#91; &#93; only.
// message/string.md makes &#44; an escape of parameter values alone: in
// text ',' is never escaped, so a "&#44;" there is what the sender wrote
// (go-cqhttp and OneBot's own codec keep it too). Any other '&' is kept as
// it is. It returns s itself when it contains no entity.
func UnescapeText(s string) string { return unescape(s, false) }

func unescape(s string, value bool) string {
	i := strings.IndexByte(s, '&')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	unescapeTo(&b, s, i, value)
	return b.String()
}

// unescapeTo writes s, unescaped, to b; i is the index of the first '&'.
func unescapeTo(b *strings.Builder, s string, i int, value bool) {
	for {
		b.WriteString(s[:i])
		s = s[i:]
		if c, n := entity(s, value); n > 0 {
			b.WriteByte(c)
			s = s[n:]
		} else {
			b.WriteByte('&')
			s = s[1:]
		}
		i = strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return
		}
	}
}

// entity decodes the entity at the start of s, which begins with '&', and
// returns the character and the entity's length, or n == 0 if there is none;
// &#44; is an entity of values only.
func entity(s string, value bool) (c byte, n int) {
	if len(s) >= 5 {
		switch s[1:5] {
		case "amp;":
			return '&', 5
		case "#91;":
			return '[', 5
		case "#93;":
			return ']', 5
		case "#44;":
			if value {
				return ',', 5
			}
		}
	}
	return 0, 0
}
