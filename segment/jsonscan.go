package segment

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner: just enough of RFC 8259 to check any value and to
// read strings, numbers and literals without going through reflection.

func (d *decoder) literal(lit string) error {
	if strings.HasPrefix(d.s[d.pos:], lit) {
		d.pos += len(lit)
		return nil
	}
	return d.unexpected()
}

// number checks the JSON number grammar at d.pos and moves past it.
func (d *decoder) number() error {
	s, i := d.s, d.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		return d.unexpected()
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			d.pos = i
			return d.unexpected()
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			d.pos = i
			return d.unexpected()
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return nil
}

// skip checks the JSON value at d.pos and moves past it; depth is the
// number of arrays and objects that enclose it, counted from the top of the
// document as encoding/json does, so that both accept the same nesting.
func (d *decoder) skip(depth int) error {
	d.ws()
	if d.pos >= len(d.s) {
		return d.unexpected()
	}
	switch d.s[d.pos] {
	case '"':
		_, _, _, err := d.scanString()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case '{', '[':
	default:
		return d.number()
	}
	if depth+1 > maxDepth {
		return d.syntax("nested too deeply")
	}
	closer := byte(']')
	obj := d.s[d.pos] == '{'
	if obj {
		closer = '}'
	}
	d.pos++
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == closer {
		d.pos++
		return nil
	}
	for {
		if obj {
			d.ws()
			if d.pos >= len(d.s) || d.s[d.pos] != '"' {
				return d.unexpected()
			}
			if _, _, _, err := d.scanString(); err != nil {
				return err
			}
			if err := d.next(':'); err != nil {
				return err
			}
		}
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		d.ws()
		if d.pos < len(d.s) && d.s[d.pos] == closer {
			d.pos++
			return nil
		}
		if err := d.next(','); err != nil {
			return err
		}
	}
}

// jsonStop marks the bytes that end the fast scan of a JSON string.
var jsonStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// scanString checks the JSON string at d.pos and moves past it. The
// contents are d.s[start:end]; clean means they need no unescaping: no
// escapes and valid UTF-8.
func (d *decoder) scanString() (start, end int, clean bool, err error) {
	start = d.pos + 1
	// Short strings (keys, types, ids) are done in one pass of a byte loop.
	s := d.s
	var high byte
	i, lim := start, min(len(s), start+16)
	for ; i < lim; i++ {
		switch c := s[i]; {
		case c == '"':
			d.pos = i + 1
			return start, i, high < utf8.RuneSelf || validUTF8(s[start:i]), nil
		case c == '\\' || c < 0x20:
			return d.scanEscaped(start)
		default:
			high |= c
		}
	}
	// Longer ones mostly have no escape either: find the quote and check
	// the rest of what lies before it with vector and word-wide scans.
	if q := indexQuote(s[i:]); q >= 0 {
		if ok, h := plainJSON(s[i : i+q]); ok {
			end = i + q
			d.pos = end + 1
			return start, end, (!h && high < utf8.RuneSelf) || validUTF8(s[start:end]), nil
		}
	}
	return d.scanEscaped(start)
}

// scanEscaped is scanString for strings with escapes or errors, byte by
// byte.
func (d *decoder) scanEscaped(start int) (_, end int, clean bool, err error) {
	s := d.s
	i := start
	clean = true
	var high byte
	for {
		for i < len(s) && !jsonStop[s[i]] {
			high |= s[i]
			i++
		}
		if i >= len(s) {
			d.pos = i
			return 0, 0, false, d.syntax("unterminated string")
		}
		switch c := s[i]; {
		case c == '"':
			end = i
			d.pos = i + 1
			if clean && high >= utf8.RuneSelf {
				clean = validUTF8(s[start:end])
			}
			return start, end, clean, nil
		case c == '\\':
			clean = false
			i++
			if i >= len(s) {
				d.pos = i
				return 0, 0, false, d.syntax("unterminated string")
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 > len(s) || !isHex4(s[i+1:i+5]) {
					d.pos = i
					return 0, 0, false, d.syntax(`invalid \u escape`)
				}
				i += 5
			default:
				d.pos = i
				return 0, 0, false, d.syntax("invalid escape")
			}
		default:
			d.pos = i
			return 0, 0, false, d.syntax("control character in string")
		}
	}
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// str reads the JSON string at d.pos and returns its value.
func (d *decoder) str() (string, error) {
	s, e, clean, err := d.scanString()
	if err != nil || clean {
		return d.s[s:e], err
	}
	return string(appendUnquoted(make([]byte, 0, e-s), d.s[s:e])), nil
}

// strSpan is str for a string that goes into the message.
func (d *decoder) strSpan() (span, error) {
	s, e, clean, err := d.scanString()
	if err != nil || clean {
		return sub(s, e), err
	}
	return d.sc.own(string(appendUnquoted(make([]byte, 0, e-s), d.s[s:e]))), nil
}

// appendUnquoted appends the value of the checked JSON string contents v
// to dst. Invalid UTF-8 and lone surrogates become U+FFFD, as in
// encoding/json.
func appendUnquoted(dst []byte, v string) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '\\':
			i++
			switch v[i] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(v[i+1:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' {
						r2 = hex4(v[i+3:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, v[i])
			}
			i++
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(v) && v[j] != '\\' && v[j] < utf8.RuneSelf {
				j++
			}
			dst = append(dst, v[i:j]...)
			i = j
		default:
			r, n := utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, v[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

func hex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
