package wildfire

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMessagePrivate(t *testing.T) {
	// In a private callback conv.target is the robot; the peer is sender.
	body := `{"messageId":590123456789012345,"sender":"alice","conv":{"type":0,"target":"bot1","line":0},"payload":{"type":1,"searchableContent":"hi <bot>","pushContent":"","pushData":"","content":"","mediaType":0,"remoteMediaUrl":"","persistFlag":3,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":""},"toUsers":[],"timestamp":1795447738123}`
	m, err := ParseMessage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := Message{MessageID: 590123456789012345, Sender: "alice", Conv: Conversation{Type: 0, Target: "bot1"},
		Payload: Payload{Type: 1, SearchableContent: "hi <bot>", PersistFlag: 3, MentionedTarget: []string{}},
		ToUsers: []string{}, Timestamp: 1795447738123}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("\n got %+v\nwant %+v", m, want)
	}
}

func TestParseMessageGroupWithMediaAndClient(t *testing.T) {
	body := `{"messageId":9007199254740993,"sender":"alice","conv":{"type":1,"target":"g1","line":0},"payload":{"type":3,"searchableContent":"[图片]","pushContent":"","pushData":"","content":"","base64edData":"/9j/4AAQ","mediaType":1,"remoteMediaUrl":"http://127.0.0.1/fs/a.jpg","persistFlag":3,"expireDuration":0,"mentionedType":1,"mentionedTarget":["bot1"],"extra":""},"toUsers":["bot1"],"timestamp":1795447738124,"client":{"platform":2,"clientId":"c-42"}}`
	m, err := ParseMessage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != 9007199254740993 {
		t.Fatalf("messageId %d: not exact above 2^53", m.MessageID)
	}
	if m.Conv != (Conversation{Type: 1, Target: "g1"}) || m.Payload.Base64edData != "/9j/4AAQ" || m.Payload.MediaType != 1 ||
		m.Payload.RemoteMediaURL != "http://127.0.0.1/fs/a.jpg" || m.Payload.MentionedType != 1 ||
		!reflect.DeepEqual(m.Payload.MentionedTarget, []string{"bot1"}) || !reflect.DeepEqual(m.ToUsers, []string{"bot1"}) {
		t.Fatalf("message %+v", m)
	}
	if m.Client == nil || *m.Client != (ClientInfo{Platform: 2, ClientID: "c-42"}) {
		t.Fatalf("client %+v", m.Client)
	}
}

func TestParseMessageRecallRepublish(t *testing.T) {
	// A recall reaches the robot as the same messageId with payload type
	// 80: content the operator, base64edData the uid as text, pushData
	// {"messageUid":N}, extra the recalled content (B.5.1).
	body := `{"messageId":590123456789012345,"sender":"alice","conv":{"type":1,"target":"g1","line":0},"payload":{"type":80,"searchableContent":"","pushContent":"","pushData":"{\"messageUid\":590123456789012345}","content":"alice","base64edData":"NTkwMTIzNDU2Nzg5MDEyMzQ1","mediaType":0,"remoteMediaUrl":"","persistFlag":1,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":"{\"sc\":\"hello\",\"t\":1}"},"toUsers":[],"timestamp":1795447799000}`
	m, err := ParseMessage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	p := m.Payload
	if m.MessageID != 590123456789012345 || p.Type != 80 || p.Content != "alice" || p.Base64edData != "NTkwMTIzNDU2Nzg5MDEyMzQ1" ||
		p.PushData != `{"messageUid":590123456789012345}` || p.Extra != `{"sc":"hello","t":1}` {
		t.Fatalf("recall %+v", m)
	}
}

func TestParseMessageRefusesBadShapes(t *testing.T) {
	const conv, payload = `"conv":{"type":1,"target":"g1","line":0}`, `"payload":{"type":1}`
	cases := map[string]string{
		"empty":               ``,
		"array":               `[]`,
		"string":              `"x"`,
		"truncated":           `{"messageId":1,"sender":"a",` + conv,
		"trailing data":       `{"messageId":1,"sender":"a",` + conv + `,` + payload + `} {}`,
		"no messageId":        `{"sender":"a",` + conv + `,` + payload + `}`,
		"zero messageId":      `{"messageId":0,"sender":"a",` + conv + `,` + payload + `}`,
		"string messageId":    `{"messageId":"5","sender":"a",` + conv + `,` + payload + `}`,
		"float messageId":     `{"messageId":5.9e17,"sender":"a",` + conv + `,` + payload + `}`,
		"messageId overflow":  `{"messageId":9223372036854775808,"sender":"a",` + conv + `,` + payload + `}`,
		"no sender":           `{"messageId":1,` + conv + `,` + payload + `}`,
		"no conv":             `{"messageId":1,"sender":"a",` + payload + `}`,
		"conv without target": `{"messageId":1,"sender":"a","conv":{"type":1},` + payload + `}`,
		"no payload":          `{"messageId":1,"sender":"a",` + conv + `}`,
		"payload not object":  `{"messageId":1,"sender":"a",` + conv + `,"payload":"x"}`,
		"type as string":      `{"messageId":1,"sender":"a",` + conv + `,"payload":{"type":"1"}}`,
		"toUsers not list":    `{"messageId":1,"sender":"a",` + conv + `,` + payload + `,"toUsers":"bot1"}`,
	}
	for name, body := range cases {
		if m, err := ParseMessage([]byte(body)); err == nil {
			t.Errorf("%s: accepted as %+v", name, m)
		} else if !strings.HasPrefix(err.Error(), "wildfire: message: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
	// Fields a newer server adds do not break parsing.
	if _, err := ParseMessage([]byte(`{"messageId":1,"sender":"a",` + conv + `,` + payload + `,"senderUserInfo":{"userId":"a"}}`)); err != nil {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestParseRecallNotice(t *testing.T) {
	// OutputRecallMessageData as the recallmsg forward posts it.
	body := `{"message":{"messageId":590123456789012345,"sender":"alice","conv":{"type":1,"target":"g1","line":0},"payload":{"type":1,"searchableContent":"oops","pushContent":"","pushData":"","content":"","mediaType":0,"remoteMediaUrl":"","persistFlag":3,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":""},"toUsers":[],"timestamp":1795447738123},"userId":"bob","timestamp":1795447799000,"isAdmin":true}`
	n, err := ParseRecallNotice([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if n.Operator != "bob" || n.MessageUID != 590123456789012345 || n.Time != 1795447799000 || !n.IsAdmin ||
		n.Message.Sender != "alice" || n.Message.Payload.SearchableContent != "oops" || n.Message.Conv.Target != "g1" {
		t.Fatalf("notice %+v", n)
	}
	for name, bad := range map[string]string{
		"no userId":          `{"message":{"messageId":1,"sender":"a","conv":{"target":"g"},"payload":{"type":1}},"timestamp":1}`,
		"no message":         `{"userId":"bob","timestamp":1}`,
		"message incomplete": `{"message":{"messageId":1,"sender":"a"},"userId":"bob","timestamp":1}`,
		"isAdmin not bool":   `{"message":{"messageId":1,"sender":"a","conv":{"target":"g"},"payload":{"type":1}},"userId":"bob","isAdmin":"yes"}`,
		"not an object":      `null`,
	} {
		if _, err := ParseRecallNotice([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "wildfire: recall notice: ") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"messageId":1,"sender":"a","conv":{"type":1,"target":"g1","line":0},"payload":{"type":1}}`))
	f.Add([]byte(`{"message":{},"userId":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := ParseMessage(body); err == nil && (m.MessageID == 0 || m.Sender == "" || m.Conv.Target == "") {
			t.Fatalf("accepted an incomplete message %+v", m)
		}
		if n, err := ParseRecallNotice(body); err == nil && (n.Operator == "" || n.MessageUID == 0) {
			t.Fatalf("accepted an incomplete notice %+v", n)
		}
	})
}
