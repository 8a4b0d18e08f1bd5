package segment

import "unicode/utf8"

// AppendJSON appends the array form of m to dst:
// [{"type":"at","data":{"qq":"123"}},...]. Keys keep their order and every
// value is written as a JSON string, which is what array.md prescribes and
// what ZeroBot and go-cqhttp clients expect; data is {} when a segment has
// no pairs, and an empty message is []. Strings are escaped as JSON
// requires, and U+2028 and U+2029 too so that the output can be embedded in
// JavaScript; each byte of invalid UTF-8 becomes U+FFFD (written as the
// character, so that the output does not depend on whether the message was
// already cleaned). HTML characters are not
// escaped, since the output is never embedded in HTML.
func AppendJSON(dst []byte, m Message) []byte {
	dst = append(dst, '[')
	for i, s := range m {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":`...)
		dst = appendJSONString(dst, s.Type)
		dst = append(dst, `,"data":{`...)
		for j, p := range s.Data {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, p.Key)
			dst = append(dst, ':')
			dst = appendJSONString(dst, p.Value)
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, ']')
}

// MarshalJSON returns the array form of m; see AppendJSON.
func (m Message) MarshalJSON() ([]byte, error) {
	n := 2
	for _, s := range m {
		n += len(s.Type) + 22
		for _, p := range s.Data {
			n += len(p.Key) + len(p.Value) + 6
		}
	}
	return AppendJSON(make([]byte, 0, n+n/16), m), nil
}

// UnmarshalJSON decodes any form DecodeJSON accepts, a string as CQ codes.
func (m *Message) UnmarshalJSON(b []byte) error {
	v, err := DecodeJSON(b, false)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// jsonSafe marks the ASCII bytes that go into a JSON string unchanged.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. One pass both validates
// UTF-8 and finds what needs escaping: ASCII without specials goes eight
// bytes at a time, runs of common three-byte characters (Chinese) in a
// tight loop, and only the rest rune by rune.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	last, i := 0, 0
	for i < len(s) {
		for i+8 <= len(s) {
			x := load64(s, i)
			if (x|less(x, 0x20)|equal(x, '"')|equal(x, '\\'))&msb != 0 {
				break
			}
			i += 8
		}
		for i+2 < len(s) && isCommon3(s[i], s[i+1], s[i+2]) {
			i += 3
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if !jsonSafe[c] {
				dst = appendJSONEscape(append(dst, s[last:i]...), c)
				last = i + 1
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(append(dst, s[last:i]...), "\uFFFD"...)
			last = i + 1
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[last:i]...), `\u202`...)
			dst = append(dst, hexDigits[r&0xF])
			last = i + n
		}
		i += n
	}
	dst = append(dst, s[last:]...)
	return append(dst, '"')
}

func appendJSONEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
