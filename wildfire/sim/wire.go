package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Conversation is a conversation as the server's JSON carries it: type 0
// private, 1 group (2-6 exist but are not modelled), target, line.
type Conversation struct {
	Type   int    `json:"type"`
	Target string `json:"target"`
	Line   int    `json:"line"`
}

// Payload is a MessagePayload with the server's JSON names, in the order the
// server writes them. Base64edData is omitted when there is no binary data,
// as the server omits it.
type Payload struct {
	Type              int      `json:"type"`
	SearchableContent string   `json:"searchableContent"`
	PushContent       string   `json:"pushContent"`
	PushData          string   `json:"pushData"`
	Content           string   `json:"content"`
	Base64edData      string   `json:"base64edData,omitempty"`
	MediaType         int      `json:"mediaType"`
	RemoteMediaURL    string   `json:"remoteMediaUrl"`
	PersistFlag       int      `json:"persistFlag"`
	ExpireDuration    int      `json:"expireDuration"`
	MentionedType     int      `json:"mentionedType"`
	MentionedTarget   []string `json:"mentionedTarget"`
	Extra             string   `json:"extra"`
}

// Message is a stored message as the server holds it (and as get_one and the
// callbacks show it).
type Message struct {
	ID        int64 // messageId: above 2^53, increasing
	Sender    string
	Conv      Conversation
	Payload   Payload
	ToUsers   []string
	Timestamp int64 // server time, ms
}

// outputMessage is OutputMessageData: the callback body and get_one result.
// The client field (platform, clientId) only appears with
// robot.callback_with_client_info and a client session, neither modelled.
type outputMessage struct {
	MessageID int64        `json:"messageId"`
	Sender    string       `json:"sender"`
	Conv      Conversation `json:"conv"`
	Payload   Payload      `json:"payload"`
	ToUsers   []string     `json:"toUsers"`
	Timestamp int64        `json:"timestamp"`
}

func toOutput(m *Message) outputMessage {
	to := m.ToUsers
	if to == nil {
		to = []string{}
	}
	return outputMessage{MessageID: m.ID, Sender: m.Sender, Conv: m.Conv, Payload: m.Payload, ToUsers: to, Timestamp: m.Timestamp}
}

// outputRecall is OutputRecallMessageData, posted to the recall-forward URL.
type outputRecall struct {
	Message   outputMessage `json:"message"`
	UserID    string        `json:"userId"`
	Timestamp int64         `json:"timestamp"`
	IsAdmin   bool          `json:"isAdmin"`
}

// envelope is RestResult. Result is omitted when nil, as Gson omits nulls.
type envelope struct {
	Code   int    `json:"code"`
	Msg    string `json:"msg"`
	Result any    `json:"result,omitempty"`
}

// marshal encodes like the server's Gson: no HTML escaping.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value marshalled here is built by the package from plain
		// fields; failing would be a programming error.
		panic(fmt.Sprintf("wfsim: marshal %T: %v", v, err))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// Error codes and their messages (cn.wildfirechat.common.ErrorCode).
const (
	CodeSuccess       = 0
	CodeServerError   = 4
	CodeNotInGroup    = 9
	CodeRecallExpired = 24
	CodeNotSigned     = 239
	CodeGroupMuted    = 241
	CodeSignExpired   = 243
	CodeAuthFailure   = 244
	CodeNoRight       = 248
	CodeOverFrequency = 250
	CodeInvalidParam  = 251
	CodeNotExist      = 253
)

var codeMsgs = map[int]string{
	0:   "success",
	4:   "server error",
	8:   "user forbidden",
	9:   "not in group",
	10:  "invalid message",
	24:  "time expired",
	239: "api not signed or sign parameter not completion",
	241: "group is muted",
	243: "sign expired",
	244: "auth failure",
	246: "user in black list",
	248: "no right to operate",
	249: "timeout",
	250: "over frequency",
	251: "Invalid parameter",
	253: "not exist",
	254: "not implement",
}

// CodeMessage is the server's message for an error code ("error" for codes
// the simulator does not know).
func CodeMessage(code int) string {
	if m, ok := codeMsgs[code]; ok {
		return m
	}
	return "error"
}

// Error is an API error code as the server answers it, returned by the Go
// API's operations that the server could refuse.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("wfsim: code %d: %s", e.Code, e.Msg) }

func apiErr(code int) error {
	if code == CodeSuccess {
		return nil
	}
	return &Error{Code: code, Msg: CodeMessage(code)}
}

// normalisePayload makes a payload look as the server stores and shows it:
// binary data re-encoded in standard base64, no nil target list. It fails
// as Java's Base64 decoder fails.
func normalisePayload(p Payload) (Payload, error) {
	if p.Base64edData != "" {
		data, err := decodeBase64(p.Base64edData)
		if err != nil {
			return p, err
		}
		p.Base64edData = base64.StdEncoding.EncodeToString(data)
	}
	if p.MentionedTarget == nil {
		p.MentionedTarget = []string{}
	} else {
		p.MentionedTarget = append([]string(nil), p.MentionedTarget...)
	}
	return p, nil
}

// decodeBase64 accepts padded and unpadded standard base64, like
// java.util.Base64.getDecoder.
func decodeBase64(s string) ([]byte, error) {
	if data, err := base64.StdEncoding.DecodeString(s); err == nil {
		return data, nil
	}
	data, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("java.lang.IllegalArgumentException: Illegal base64 character: %w", err)
	}
	return data, nil
}

// simpleJSON writes an object the way json-simple's JSONObject does for the
// recalled-content summary: the given key order, strings escaped with "/"
// as "\/" and control characters as \uXXXX.
type simpleField struct {
	key string
	str *string
	num *int64
}

func simpleJSON(fields []simpleField) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(simpleEscape(f.key))
		b.WriteString(`":`)
		switch {
		case f.str != nil:
			b.WriteByte('"')
			b.WriteString(simpleEscape(*f.str))
			b.WriteByte('"')
		case f.num != nil:
			b.WriteString(strconv.FormatInt(*f.num, 10))
		default:
			b.WriteString("null")
		}
	}
	b.WriteByte('}')
	return b.String()
}

func simpleEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '/':
			b.WriteString(`\/`)
		default:
			if r <= 0x1F || (r >= 0x7F && r <= 0x9F) || (r >= 0x2000 && r <= 0x20FF) {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// recalledContent is the summary the server keeps in the recall message's
// extra and answers from /admin/message/recall: keys in the order of the
// server's HashMap (sc, b, s, c, t, e, mt, mu, ts), b, mt and mu only when set.
func recalledContent(m *Message) string {
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }
	p := m.Payload
	f := []simpleField{{key: "sc", str: str(p.SearchableContent)}}
	if p.Base64edData != "" {
		f = append(f, simpleField{key: "b", str: str(p.Base64edData)})
	}
	f = append(f,
		simpleField{key: "s", str: str(m.Sender)},
		simpleField{key: "c", str: str(p.Content)},
		simpleField{key: "t", num: num(int64(p.Type))},
		simpleField{key: "e", str: str(p.Extra)},
	)
	if p.MediaType > 0 {
		f = append(f, simpleField{key: "mt", num: num(int64(p.MediaType))})
	}
	if p.RemoteMediaURL != "" {
		f = append(f, simpleField{key: "mu", str: str(p.RemoteMediaURL)})
	}
	f = append(f, simpleField{key: "ts", num: num(m.Timestamp)})
	return simpleJSON(f)
}

// groupNotice is GroupNotificationBinaryContent, Gson-encoded with nulls
// omitted: the base64edData of group notification messages.
type groupNotice struct {
	G  string    `json:"g"`
	O  string    `json:"o"`
	N  *string   `json:"n,omitempty"`
	Ms *[]string `json:"ms,omitempty"`
	M  *string   `json:"m,omitempty"`
}
