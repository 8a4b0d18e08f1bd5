package segment_test

// The seed corpora live in testdata/fuzz/<target>/ and run with every
// go test; a crasher found by fuzzing belongs there as a regression seed.

import (
	"encoding/json"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// FuzzParseCQ checks the parser against the reference reading of
// string.md, with and without DropInvalid, and that its output is canonical
// and survives a format and a parse.
func FuzzParseCQ(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		checkParse(t, s)
	})
}

// FuzzCQRoundTrip checks that whatever ParseCQ makes of s, formatting and
// parsing it again changes nothing, and that the array form and the string
// form sent as a JSON string carry the same message.
func FuzzCQRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		m, _ := segment.ParseCQ(s)
		cq := segment.FormatCQ(m)
		back, inv := segment.ParseCQ(cq)
		if !back.Equal(m) || inv != nil {
			t.Fatalf("ParseCQ(FormatCQ(m)) != m\n   s %q\n  cq %q\n   m %#v\nback %#v %v", s, cq, m, back, inv)
		}
		if again := segment.FormatCQ(back); again != cq {
			t.Fatalf("FormatCQ not stable: %q then %q", cq, again)
		}
		want := sanitize(m)
		arr, err := segment.DecodeJSON(segment.AppendJSON(nil, m), false)
		if err != nil || !arr.Equal(want) {
			t.Fatalf("array form of %#v decodes to %#v, %v", m, arr, err)
		}
		quoted, _ := json.Marshal(cq)
		str, err := segment.DecodeJSON(quoted, false)
		if err != nil || !str.Equal(want) {
			t.Fatalf("string form %s decodes to %#v, %v; want %#v", quoted, str, err, want)
		}
	})
}

// FuzzDecodeJSON checks DecodeJSON against encoding/json.
func FuzzDecodeJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeJSON(t, raw)
	})
}

// FuzzJSONRoundTrip checks that a decoded message encodes to valid JSON
// that decodes to the same message (up to U+FFFD for invalid UTF-8 kept in
// raw nested values), that encoding is stable, and that a canonical message
// also survives the string form.
func FuzzJSONRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := segment.DecodeJSON(raw, false)
		if err != nil {
			return
		}
		b := segment.AppendJSON(nil, m)
		if !json.Valid(b) {
			t.Fatalf("AppendJSON(%#v) = invalid JSON %q", m, b)
		}
		back, err := segment.DecodeJSON(b, false)
		want := sanitize(m)
		if err != nil || !back.Equal(want) {
			t.Fatalf("DecodeJSON(AppendJSON(m)) != m\n   m %#v\njson %s\nback %#v %v", m, b, back, err)
		}
		if again := segment.AppendJSON(nil, back); string(again) != string(b) {
			t.Fatalf("AppendJSON not stable: %s then %s", b, again)
		}
		if canonical(m) == "" {
			cq := segment.FormatCQ(m)
			if s, inv := segment.ParseCQ(cq); !s.Equal(m) || inv != nil {
				t.Fatalf("string form %q of %#v parses to %#v %v", cq, m, s, inv)
			}
		}
	})
}
