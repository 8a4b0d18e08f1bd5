package wukongim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// Content (the WuKongIM SDKs' convention: the payload is the base64 of a
// JSON object; the server never reads it). The mapping, type by type:
//
//	text (1)            text, with each mention.uids entry as an at
//	                    segment where its "@name" stands in the text
//	                    (mentions that cannot be placed lead the message),
//	                    mention.all as at all
//	image (2), gif (3)  image{file, url}
//	voice (4)           record{file, url, duration = timeTrad}
//	video (5)           video{file, url, cover, duration = second}
//	file (8)            file{file, name, url, file_size}
//	merged forward (11) text: "[merged forward]" and one line per message
//	cmd (99)            messageRevoke is a recall (run.go); other
//	                    commands are not messages
//	other               the payload's content, else
//	                    "[unsupported message type N]"
//
// A reply is the payload's reply field {message_id, message_seq,
// from_uid, from_name, payload}; the core adds the reply segment from
// Message.QuoteID.

// The SDKs' content types.
const (
	typeText         = 1
	typeImage        = 2
	typeGIF          = 3
	typeVoice        = 4
	typeVideo        = 5
	typeFile         = 8
	typeMergeForward = 11
	typeCmd          = 99
)

// cmdRevoke is the command of a recall (TangSengDaoDao and the SDKs).
const cmdRevoke = "messageRevoke"

// Payload is a message's payload: the JSON object the SDKs put in the
// base64 payload, with the fields of every content type the backend
// reads or writes.
type Payload struct {
	Type    int      `json:"type"`
	Content string   `json:"content,omitempty"`
	Mention *Mention `json:"mention,omitempty"`
	Reply   *Reply   `json:"reply,omitempty"`

	// Media.
	URL      string `json:"url,omitempty"`
	Width    num    `json:"width,omitempty"`
	Height   num    `json:"height,omitempty"`
	TimeTrad num    `json:"timeTrad,omitempty"` // voice, seconds
	Cover    string `json:"cover,omitempty"`    // video
	Second   num    `json:"second,omitempty"`   // video, seconds
	Name     string `json:"name,omitempty"`     // file
	Size     num    `json:"size,omitempty"`     // file, bytes

	// Command (99).
	Cmd   string          `json:"cmd,omitempty"`
	Param json.RawMessage `json:"param,omitempty"`

	// Merged forward (11).
	Users []forwardUser `json:"users,omitempty"`
	Msgs  []forwardMsg  `json:"msgs,omitempty"`
}

// Mention is the SDKs' mention field: the uids mentioned, or everyone.
type Mention struct {
	UIDs []string `json:"uids,omitempty"`
	All  flag     `json:"all,omitempty"`
}

// Reply is the SDKs' reply field: the quoted message.
type Reply struct {
	MessageID  idString        `json:"message_id"`
	MessageSeq num             `json:"message_seq,omitempty"`
	FromUID    string          `json:"from_uid,omitempty"`
	FromName   string          `json:"from_name,omitempty"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

type forwardUser struct {
	UID  string `json:"uid"`
	Name string `json:"name"`
}

type forwardMsg struct {
	FromUID string          `json:"from_uid"`
	Payload json.RawMessage `json:"payload"`
}

// revokeParam is the param of a messageRevoke command.
type revokeParam struct {
	MessageID   idString `json:"message_id"`
	ChannelID   string   `json:"channel_id"`
	ChannelType num      `json:"channel_type"`
}

// num is a number some client may have written as a string or a float;
// anything unreadable is 0 rather than a payload that fails to decode.
type num int64

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = num(v)
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1<<62 && f < 1<<62 {
		*n = num(f)
	} else {
		*n = 0
	}
	return nil
}

// idString is a message id, written by the SDKs as a string and by some
// servers as a number.
type idString string

func (s *idString) UnmarshalJSON(b []byte) error {
	*s = idString(strings.Trim(string(b), `"`))
	if *s == "null" {
		*s = ""
	}
	return nil
}

// flag is a boolean some SDKs write as 1 and others as true; it is
// written as 1.
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	s := string(b)
	*f = flag(s == "true" || s == "1" || s == `"1"`)
	return nil
}

func (f flag) MarshalJSON() ([]byte, error) {
	if f {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

// Content is a message body as WuKongIM carries it: Message.Content holds
// one, and Decode takes it back.
type Content struct {
	Payload Payload
	// Unreadable is set when the payload was no JSON object.
	Unreadable bool
}

// parsePayload reads a payload. Anything but a JSON object is unreadable
// and shows as such: the server stores whatever a client sent.
func parsePayload(raw []byte) Content {
	var p Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Content{Unreadable: true}
	}
	return Content{Payload: p}
}

// Decode turns a Content into segments, without the reply.
func (b *Backend) Decode(_ context.Context, _ platform.Conv, content any, names func(userID string) []string) (segment.Message, error) {
	var c Content
	switch v := content.(type) {
	case Content:
		c = v
	case *Content:
		if v == nil {
			return nil, fmt.Errorf("wukongim: decode: nil content")
		}
		c = *v
	default:
		return nil, fmt.Errorf("wukongim: decode: %T is not WuKongIM content", content)
	}
	if c.Unreadable {
		return segment.Message{segment.Text("[unreadable message payload]")}, nil
	}
	return payloadSegments(&c.Payload, names), nil
}

// payloadSegments converts a payload to segments. names may be nil.
func payloadSegments(p *Payload, names func(string) []string) segment.Message {
	var out segment.Message
	media := func(s segment.Segment) segment.Message {
		s.Set("url", p.URL)
		return append(out, s)
	}
	switch p.Type {
	case typeText:
		out = textSegments(p.Content, p.Mention, names)
	case typeImage, typeGIF:
		out = media(segment.Image(p.URL))
	case typeVoice:
		s := segment.Record(p.URL)
		if p.TimeTrad > 0 {
			s.Set("duration", strconv.FormatInt(int64(p.TimeTrad), 10))
		}
		out = media(s)
	case typeVideo:
		s := segment.Video(p.URL)
		if p.Cover != "" {
			s.Set("cover", p.Cover)
		}
		if p.Second > 0 {
			s.Set("duration", strconv.FormatInt(int64(p.Second), 10))
		}
		out = media(s)
	case typeFile:
		s := segment.File(p.URL, p.Name)
		if p.Size > 0 {
			s.Set("file_size", strconv.FormatInt(int64(p.Size), 10))
		}
		out = media(s)
	case typeMergeForward:
		out = segment.AppendText(out, forwardText(p))
	case typeCmd:
		out = segment.AppendText(out, "[command "+clip.Bytes(p.Cmd, 40)+"]")
	default:
		text := p.Content
		if text == "" {
			text = fmt.Sprintf("[unsupported message type %d]", p.Type)
		}
		out = segment.AppendText(out, text)
	}
	if len(out) == 0 {
		out = segment.Message{segment.Text("")}
	}
	return out
}

// maxForwardLines bounds the lines a merged forward renders as.
const maxForwardLines = 50

// forwardText renders a merged forward: a header, then "name: preview"
// per message. The original messages are not addressable, so nothing
// more can be offered.
func forwardText(p *Payload) string {
	names := make(map[string]string, len(p.Users))
	for _, u := range p.Users {
		names[u.UID] = u.Name
	}
	var sb strings.Builder
	sb.WriteString("[merged forward]")
	for i, m := range p.Msgs {
		if i == maxForwardLines {
			fmt.Fprintf(&sb, "\n… %d more", len(p.Msgs)-i)
			break
		}
		var inner Payload
		preview := "[unreadable]"
		if json.Unmarshal(m.Payload, &inner) == nil {
			preview = plainPreview(&inner)
		}
		who := names[m.FromUID]
		if who == "" {
			who = m.FromUID
		}
		sb.WriteString("\n" + who + ": " + clip.Bytes(preview, 200))
	}
	return sb.String()
}

// plainPreview is a payload as one line of text, media as labels.
func plainPreview(p *Payload) string {
	switch p.Type {
	case typeText:
		return p.Content
	case typeImage, typeGIF:
		return "[image]"
	case typeVoice:
		return "[voice]"
	case typeVideo:
		return "[video]"
	case typeFile:
		return "[file] " + p.Name
	case typeMergeForward:
		return "[merged forward]"
	}
	if p.Content != "" {
		return p.Content
	}
	return fmt.Sprintf("[message type %d]", p.Type)
}

// textSegments splits a text at its mentions: each mentioned uid becomes
// an at segment where "@name" (one of its names, or the uid) stands in the
// text, in order, taking the single space the clients write after it;
// mentions not found lead the message. mention.all is placed the same way
// at "@all" or "@所有人".
func textSegments(text string, m *Mention, names func(string) []string) segment.Message {
	var ms []segment.Mention
	if m != nil {
		if m.All {
			ms = append(ms, segment.Mention{QQ: segment.AtAllQQ, Names: []string{"all", "所有人"}})
		}
		seen := map[string]bool{}
		for _, uid := range m.UIDs {
			if uid == "" || seen[uid] || len(ms) >= maxMentions {
				continue
			}
			seen[uid] = true
			var ns []string
			if names != nil {
				ns = names(uid)
			}
			ms = append(ms, segment.Mention{QQ: uid, Names: append(ns, uid)})
		}
	}
	return segment.PlaceMentions(text, ms)
}

// maxMentions bounds the mentions of one message, both ways.
const maxMentions = 100

// encodePayload is the JSON of an outgoing payload; HTML escaping is off
// so that text reaches other clients as written.
func encodePayload(p *Payload) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
