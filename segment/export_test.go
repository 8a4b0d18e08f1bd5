package segment

// ScannedBytes parses s as ParseCQ does and returns how many bytes the
// parser's searches for delimiters went over: a count, not a time, so that
// a test can check that parsing stays linear.
func ScannedBytes(s string, drop bool) int {
	_, _, n := parseCounted(s, drop)
	return n
}
