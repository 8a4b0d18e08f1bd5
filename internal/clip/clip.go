// Package clip shortens text quoted in errors and logs: a parameter value
// may be megabytes of base64, and a message preview a whole essay.
package clip

import "unicode/utf8"

// Bytes shortens s to about n bytes, cutting on a character boundary and
// marking the cut with "…".
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
