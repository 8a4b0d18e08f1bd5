package segment

import (
	"strings"
	"unicode/utf8"
)

// Eight bytes at a time in a uint64 ("SIMD within a register"), for the
// checks that strings.IndexByte cannot do: JSON strings must be scanned for
// every control byte, and a byte loop costs several times as much.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load64 reads s[i:i+8] little-endian; the compiler turns it into one load.
func load64(s string, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// less marks (high bit) the bytes of x below n, for n <= 0x80. A borrow can
// also mark a byte above a marked one, so only the lowest mark is exact,
// which is all the callers use; a zero result is always exact.
func less(x uint64, n byte) uint64 {
	return (x - lsb*uint64(n)) &^ x & msb
}

// equal marks the bytes of x equal to c, with the same caveat as less.
func equal(x uint64, c byte) uint64 {
	return less(x^(lsb*uint64(c)), 1)
}

// plainJSON reports whether the JSON string contents s, known to hold no
// backslash, have no control byte, and whether they have any byte >= 0x80
// (and so need a UTF-8 check).
func plainJSON(s string) (ok, high bool) {
	var hi uint64
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		if less(x, 0x20) != 0 {
			return false, false
		}
		hi |= x
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return false, false
		}
		hi |= uint64(s[i])
	}
	return true, hi&msb != 0
}

// indexQuote returns the index in s of the '"' that closes a JSON string
// without escapes, or -1 if s has a backslash before its first '"' (or no
// '"' at all), in which case the caller takes the slow path.
func indexQuote(s string) int {
	q := strings.IndexByte(s, '"')
	if q < 0 || strings.IndexByte(s[:q], '\\') >= 0 {
		return -1
	}
	return q
}

// validUTF8 is utf8.ValidString, faster on text that mixes ASCII with
// three-byte characters (Chinese): it skips ASCII eight bytes at a time
// wherever it occurs, not only at the start, and runs of the common
// three-byte forms in a tight loop.
func validUTF8(s string) bool {
	i := 0
	for i < len(s) {
		for i+8 <= len(s) && load64(s, i)&msb == 0 {
			i += 8
		}
		for i+2 < len(s) && isCommon3(s[i], s[i+1], s[i+2]) {
			i += 3
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		i += n
	}
	return true
}

// isCommon3 reports whether a, b, c are a valid three-byte UTF-8 form with
// lead E1-EC or EE-EF, which accept any two continuation bytes (E0 and ED
// have narrower ranges), other than U+2028 and U+2029 (E2 80 A8/A9), which
// JSON output escapes.
func isCommon3(a, b, c byte) bool {
	return (a-0xE1 <= 0xEC-0xE1 || a&^1 == 0xEE) && (uint16(b)|uint16(c)<<8)&0xC0C0 == 0x8080 &&
		!(a == 0xE2 && b == 0x80 && c&^1 == 0xA8)
}
