package bridge

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// stdJSON is what the hub writes for a value: encoding/json without HTML
// escaping.
func stdJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

var trickyStrings = []string{
	"", "plain", `q"uote\back`, "new\nline\r\ttab\b\f", "\x00\x01\x1f\x7f", "<&>",
	"中文 😀", "\u2028\u2029", "bad \xff\xfe utf8", "\xe4\xb8", "end\\",
}

// TestAppendJSONString holds the string encoder equal to encoding/json's
// on tricky and random input.
func TestAppendJSONString(t *testing.T) {
	in := append([]string(nil), trickyStrings...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		in = append(in, string(b))
	}
	for _, s := range in {
		if got, want := appendJSONString(nil, s), stdJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// TestEventEncoders holds the hand-written message event encoders equal to
// encoding/json on the structs, field order included.
func TestEventEncoders(t *testing.T) {
	for _, s := range trickyStrings {
		msg := json.RawMessage(`[{"type":"text","data":{"text":"x"}}]`)
		p := privateMessageEvent{
			Time: 1700000000, SelfID: 1, PostType: postMessage, MessageType: messagePrivate, SubType: subFriend,
			MessageID: 2147483647, UserID: 4503599627370497, TargetID: 1, Message: msg, RawMessage: s,
			Sender: privateSender{UserID: 4503599627370497, Nickname: s, Sex: sexUnknown},
		}
		if got, want := p.appendJSON(nil), stdJSON(t, &p); !bytes.Equal(got, want) {
			t.Errorf("private %q:\n got %s\nwant %s", s, got, want)
		}
		g := groupMessageEvent{
			Time: 1, SelfID: 2, PostType: postMessageSent, MessageType: messageGroup, SubType: subNormal,
			MessageID: 3, GroupID: 4, UserID: 5, Message: json.RawMessage(`"a string"`), RawMessage: s,
			Sender: groupSender{UserID: 5, Nickname: s, Card: s, Sex: sexUnknown, Role: roleOwner, Title: s, Area: s, Level: s},
		}
		if got, want := g.appendJSON(nil), stdJSON(t, &g); !bytes.Equal(got, want) {
			t.Errorf("group %q:\n got %s\nwant %s", s, got, want)
		}
	}
}
