// Package segment is the OneBot v11 message model and its two wire forms:
// the CQ-code string and the segment array
// (shared/reference/onebot-11/message/string.md, array.md, segment.md).
//
// # Model
//
// A Message is a list of Segments. A Segment has a Type ("text", "image",
// "at", ...) and Data, an ordered list of key/value Pairs. Data is a list and
// not a map so that output is deterministic and a message that went in as
// "[CQ:image,file=a,url=b]" comes out the same way. Every value is a string,
// as in the CQ form: numbers and booleans from the array form are kept as the
// text they were written with.
//
// A text segment carries its content in the "text" key. In the string form
// text is not a CQ code but the escaped characters between codes, so a text
// segment has exactly one pair; other keys on a text segment are not
// representable as a string and are dropped by FormatCQ.
//
// Besides the types of segment.md, the package names the extensions this
// bridge uses for what Yunhu can show: markdown, html, file, button and form
// (see the Type constants).
//
// # Strings
//
// ParseCQ never fails. A CQ code that does not follow string.md (no closing
// bracket, an empty or malformed type, a parameter without '=') is kept as
// literal text, as go-cqhttp does by default, and is reported as an Invalid
// so that the caller can log it (the first MaxInvalid of them);
// Options.DropInvalid removes such codes instead (config
// message.ignore-invalid-cqcode). Adjacent text, including text produced by
// malformed codes, is merged into one segment, and empty text is dropped,
// so a parsed message is always in canonical form.
//
// Every parser and formatter here runs in time linear in its input, on
// hostile input too (unterminated codes, runs of brackets, escapes or
// nulls): a message is at most a request body, tens of megabytes, and a
// quadratic pass over that would hold a core for hours.
//
// Parsing does not copy: types, keys and values that contain no escape are
// substrings of the input, and whatever had to be unescaped shares one
// string per message. A parsed message therefore keeps its input alive.
//
// # Arrays
//
// DecodeJSON reads the message parameter in every form frameworks send: a
// CQ string, one segment object or an array of them. data may be null, and
// numbers and booleans become the text they are written as (frameworks send
// at.qq as 123 as well as "123"). AppendJSON writes the array form with
// every value a JSON string, as array.md prescribes.
//
// # Round trips
//
// For every canonical message m (valid type names, non-empty keys without
// '=', text segments non-empty, holding one "text" pair and never adjacent),
// ParseCQ(FormatCQ(m)) equals m; for every string s that FormatCQ produced,
// FormatCQ(ParseCQ(s)) == s byte for byte. The array form is lossless for
// every message with non-empty types and valid UTF-8:
// DecodeJSON(AppendJSON(m)) equals m. The string form carries any bytes;
// the array form replaces invalid UTF-8 with U+FFFD.
package segment

import (
	"strconv"
	"strings"
)

// Pair is one parameter of a segment, in the order it was given.
type Pair struct {
	Key, Value string
}

// Segment is one element of a message: a typed piece such as text, an image
// or a mention, with its parameters in order.
type Segment struct {
	Type string
	// Data holds the parameters. It is nil when there are none. Segments
	// returned by the parsers may share one backing array, each with its
	// capacity cut to its length, so appending to one never writes into
	// another.
	Data []Pair
}

// Message is a whole OneBot message, the value of a "message" field.
type Message []Segment

// Get returns the value of key. If the key occurs more than once the last
// occurrence wins, as it does for a duplicated key in a JSON object.
func (s Segment) Get(key string) (string, bool) {
	for i := len(s.Data) - 1; i >= 0; i-- {
		if s.Data[i].Key == key {
			return s.Data[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of key, or "" if it is absent.
func (s Segment) Value(key string) string {
	v, _ := s.Get(key)
	return v
}

// Set gives key the value v. An existing key keeps its position and loses
// any duplicates; a new key is appended.
func (s *Segment) Set(key, v string) {
	for i := range s.Data {
		if s.Data[i].Key != key {
			continue
		}
		// Copy before writing: Data may share its array with other
		// segments or with a caller's slice.
		d := make([]Pair, 0, len(s.Data))
		d = append(d, s.Data[:i]...)
		d = append(d, Pair{key, v})
		for _, p := range s.Data[i+1:] {
			if p.Key != key {
				d = append(d, p)
			}
		}
		s.Data = d
		return
	}
	s.Data = append(s.Data[:len(s.Data):len(s.Data)], Pair{key, v})
}

// Del removes every occurrence of key.
func (s *Segment) Del(key string) {
	if _, ok := s.Get(key); !ok {
		return
	}
	var d []Pair
	for _, p := range s.Data {
		if p.Key != key {
			d = append(d, p)
		}
	}
	s.Data = d
}

// Int returns the value of key as a decimal integer. Frameworks send ids
// such as at.qq and reply.id either as JSON numbers or strings; both arrive
// here as the same text.
func (s Segment) Int(key string) (int64, bool) {
	v, ok := s.Get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// Flag returns the value of a switch parameter such as image.cache or
// record.magic. segment.md allows 0/1, no/yes and false/true; ok is false
// when the key is absent or holds anything else, so the caller applies its
// own default.
func (s Segment) Flag(key string) (v, ok bool) {
	switch s.Value(key) {
	case "1", "yes", "true":
		return true, true
	case "0", "no", "false":
		return false, true
	}
	return false, false
}

// String returns the segment in CQ form (escaped text for a text segment).
func (s Segment) String() string {
	return FormatCQ(Message{s})
}

// String returns the message in CQ form; it is FormatCQ(m).
func (m Message) String() string {
	return FormatCQ(m)
}

// PlainText returns the content of the text segments joined together,
// without escaping; every other segment is skipped.
func (m Message) PlainText() string {
	var only string
	n, count := 0, 0
	for _, s := range m {
		if s.Type == TypeText {
			only = s.Value("text")
			n += len(only)
			count++
		}
	}
	if count <= 1 {
		return only
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range m {
		if s.Type == TypeText {
			b.WriteString(s.Value("text"))
		}
	}
	return b.String()
}

// Find returns the first segment of type typ.
func (m Message) Find(typ string) (Segment, bool) {
	for _, s := range m {
		if s.Type == typ {
			return s, true
		}
	}
	return Segment{}, false
}

// Equal reports whether m and o have the same segments with the same pairs
// in the same order. A nil and an empty Data are equal.
func (m Message) Equal(o Message) bool {
	if len(m) != len(o) {
		return false
	}
	for i := range m {
		if m[i].Type != o[i].Type || len(m[i].Data) != len(o[i].Data) {
			return false
		}
		for j, p := range m[i].Data {
			if p != o[i].Data[j] {
				return false
			}
		}
	}
	return true
}
