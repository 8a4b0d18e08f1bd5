package wildfire

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/internal/mediahost"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

// Outgoing messages. A WildfireChat message has one content type, so a
// OneBot message becomes one or more, in segment order:
//
//	text, at             one text message per run (at writes "@name " and
//	                     adds the uid to mentionedTarget; at all sets
//	                     mentionedType 2, in groups only)
//	image                an image (3), or a sticker (7) for sub_type 1
//	record, video, file  a voice (2), video (6) or file (5) message
//	reply                the quote of the first text message
//
// Media travel by URL (remoteMediaUrl): an http(s) URL as it is, a local
// file or base64 hosted by package mediahost. Every segment is checked
// and every medium hosted before anything is sent. The server assigns
// message uids and does not echo the robot's sends.

// sendRequest is an Outgoing's payload.
type sendRequest struct {
	Conv    wf.Conversation
	Payload wf.Payload
}

// part is one WildfireChat message of an outgoing OneBot message.
type part struct {
	p    wf.Payload
	segs segment.Message
}

// maxText bounds one text message, as the store bounds a record.
const maxText = 1 << 20

// encoder accumulates the parts of one outgoing message.
type encoder struct {
	b    *Backend
	ctx  context.Context
	conv platform.Conv
	env  platform.EncodeEnv

	parts []part

	text     strings.Builder
	mentions []string
	all      bool
	textSegs segment.Message

	replySeg *segment.Segment
}

// Encode turns msg into the WildfireChat messages that carry it into conv.
func (b *Backend) Encode(ctx context.Context, conv platform.Conv, msg segment.Message, env platform.EncodeEnv) ([]platform.Outgoing, error) {
	e := &encoder{b: b, ctx: ctx, conv: conv, env: env}
	for i, s := range msg {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := e.add(i, s); err != nil {
			return nil, err
		}
	}
	e.flushText()
	if len(e.parts) == 0 {
		return nil, platform.BadParamf("message: nothing to send (no text or media)")
	}
	if e.replySeg != nil {
		if err := e.attachQuote(); err != nil {
			return nil, err
		}
	}
	wconv := wf.Conversation{Type: convPrivate, Target: conv.ID}
	if conv.Kind == platform.KindGroup {
		wconv.Type = convGroup
	}
	out := make([]platform.Outgoing, len(e.parts))
	for i := range e.parts {
		if len(e.parts[i].p.SearchableContent) > maxText {
			return nil, platform.BadParamf("message: text too long: %d bytes, the limit is %d (send it in several messages)", len(e.parts[i].p.SearchableContent), maxText)
		}
		out[i] = platform.Outgoing{Conv: conv, Body: e.parts[i].segs, Payload: sendRequest{Conv: wconv, Payload: e.parts[i].p}}
	}
	return out, nil
}

func (e *encoder) add(i int, s segment.Segment) error {
	switch s.Type {
	case segment.TypeText:
		if t := s.Value("text"); t != "" {
			e.text.WriteString(t)
			e.textSegs = append(e.textSegs, s)
		}
	case segment.TypeAt:
		return e.addAt(i, s)
	case segment.TypeReply:
		if e.replySeg != nil {
			return platform.BadParamf("message[%d]: reply: only one reply segment per message", i)
		}
		q := e.env.Quote
		if q == nil || q.MsgID == "" || q.MsgID != s.Value("id") {
			return platform.BadParamf("message[%d]: reply.id: expected a message_id of this conversation, got %q", i, clip.Bytes(s.Value("id"), 40))
		}
		if _, err := parseUID(q.MsgID); err != nil {
			return platform.BadParamf("message[%d]: reply.id: %v", i, err)
		}
		e.replySeg = &s
	case segment.TypeImage, segment.TypeRecord, segment.TypeVideo, segment.TypeFile:
		e.flushText()
		p, stored, err := e.b.mediaPayload(e.ctx, i, s, e.env)
		if err != nil {
			return err
		}
		e.parts = append(e.parts, part{p: p, segs: segment.Message{stored}})
	case segment.TypeAnonymous:
		if v, ok := s.Flag("ignore"); ok && v {
			return nil
		}
		return platform.BadParamf("message[%d]: anonymous: WildfireChat has no anonymous messages (add ignore=1 to send normally)", i)
	default:
		return platform.BadParamf("message[%d]: segment %q cannot be sent on WildfireChat", i, s.Type)
	}
	return nil
}

// addAt writes "@name " into the text run and the uid into its mentions.
func (e *encoder) addAt(i int, s segment.Segment) error {
	qq := s.Value("qq")
	switch {
	case qq == "":
		return platform.BadParamf("message[%d]: at.qq: empty", i)
	case qq == segment.AtAllQQ:
		if e.conv.Kind != platform.KindGroup {
			return platform.BadParamf("message[%d]: at all: only in a group", i)
		}
		e.all = true
		e.text.WriteString("@所有人 ")
	default:
		if len(e.mentions) >= maxMentions {
			return platform.BadParamf("message[%d]: at: more than %d mentions in one message", i, maxMentions)
		}
		name := s.Value("name")
		if name == "" && e.env.Name != nil {
			name = e.env.Name(e.ctx, qq)
		}
		if name == "" {
			name = firstNonEmpty(e.b.names.get(qq), qq)
		}
		e.text.WriteString("@" + name + " ")
		e.mentions = append(e.mentions, qq)
	}
	e.textSegs = append(e.textSegs, s)
	return nil
}

// flushText ends the pending text run as a text message; a run of white
// space only is no message.
func (e *encoder) flushText() {
	text, segs, ms, all := e.text.String(), e.textSegs, e.mentions, e.all
	e.text.Reset()
	e.textSegs, e.mentions, e.all = nil, nil, false
	if strings.TrimSpace(text) == "" && len(ms) == 0 && !all {
		return
	}
	p := wf.Payload{Type: typeText, SearchableContent: text, PersistFlag: persistCounted}
	switch {
	case all:
		p.MentionedType = mentionAll
	case len(ms) > 0:
		p.MentionedType, p.MentionedTarget = mentionSome, ms
	}
	e.parts = append(e.parts, part{p: p, segs: segs})
}

// attachQuote puts the quote into the first text message, the only kind
// WildfireChat's clients show a quote on.
func (e *encoder) attachQuote() error {
	q := e.env.Quote
	for i := range e.parts {
		if e.parts[i].p.Type != typeText {
			continue
		}
		raw, _ := json.Marshal(struct {
			Quote quote `json:"quote"`
		}{quote{UID: json.Number(q.MsgID), User: q.SenderID, Name: q.Sender, Digest: clip.Bytes(q.Body.PlainText(), 100)}})
		e.parts[i].p.Base64edData = base64.StdEncoding.EncodeToString(raw)
		e.parts[i].segs = append(segment.Message{*e.replySeg}, e.parts[i].segs...)
		return nil
	}
	return platform.BadParamf("message: reply: WildfireChat quotes only from a text message; add some text")
}

// mediaPayload prepares an image, record, video or file segment: the
// payload to send and the segment as the store keeps it (its URL, never
// its bytes).
func (b *Backend) mediaPayload(ctx context.Context, i int, s segment.Segment, env platform.EncodeEnv) (wf.Payload, segment.Segment, error) {
	p := wf.Payload{PersistFlag: persistCounted}
	switch s.Type {
	case segment.TypeImage:
		p.Type, p.MediaType = typeImage, mediaImage
		if st := s.Value("sub_type"); st == "1" {
			p.Type, p.MediaType = typeSticker, mediaSticker
		}
	case segment.TypeRecord:
		p.Type, p.MediaType = typeVoice, mediaVoice
	case segment.TypeVideo:
		p.Type, p.MediaType = typeVideo, mediaVideo
	case segment.TypeFile:
		p.Type, p.MediaType = typeFile, mediaFile
	}
	url, data, name, err := b.media.Resolve(ctx, i, s, env.Media, mediahost.Platform{
		Name: "WildfireChat", NoFiles: "WildfireChat's robot API uploads no files", Key: "wildfire.media",
	})
	if err != nil {
		return p, s, err
	}
	p.RemoteMediaURL = url
	size := int64(len(data))
	stored := segment.Segment{Type: s.Type}
	stored.Set("file", p.RemoteMediaURL)
	stored.Set("url", p.RemoteMediaURL)
	switch s.Type {
	case segment.TypeImage:
		if p.Type == typeSticker {
			stored.Set("sub_type", "1")
		}
	case segment.TypeRecord, segment.TypeVideo:
		if d, ok := s.Int("duration"); ok && d > 0 {
			raw, _ := json.Marshal(map[string]int64{"duration": d})
			p.Content = string(raw)
			stored.Set("duration", strconv.FormatInt(d, 10))
		}
	case segment.TypeFile:
		if name == "" {
			name = "file"
		}
		if size == 0 {
			if n, ok := s.Int("file_size"); ok && n > 0 {
				size = n
			}
		}
		p.SearchableContent = name
		stored.Set("name", name)
		if size > 0 {
			p.Content = strconv.FormatInt(size, 10)
			stored.Set("file_size", p.Content)
		}
	}
	return p, stored, nil
}

// Send sends one encoded message over the robot API; the server assigns
// its uid. A refusal the server explained is definite; a transport
// failure leaves the message's fate unknown.
func (b *Backend) Send(ctx context.Context, out *platform.Outgoing) (platform.Sent, error) {
	req, ok := out.Payload.(sendRequest)
	if !ok {
		return platform.Sent{}, fmt.Errorf("wildfire: send: payload %T is not an encoded WildfireChat message", out.Payload)
	}
	res, err := b.c.Send(ctx, req.Conv, req.Payload)
	if err != nil {
		return platform.Sent{}, apiError("send", err)
	}
	if res.MessageUID == 0 {
		return platform.Sent{}, errors.New("wildfire: send: the server answered without a message uid")
	}
	sent := platform.Sent{ID: msgID(res.MessageUID), Time: b.now()}
	if res.Timestamp > 0 {
		sent.Time = time.UnixMilli(res.Timestamp)
	}
	return sent, nil
}

// recallNeedsAdmin is why recalling is refused without the admin API.
const recallNeedsAdmin = "recalling needs wildfire.admin-secret: the community edition's robot API has no recall (it is declared but not routed), only the admin API recalls"

// Recall recalls messages one by one through the admin API, as the
// robot, stopping at the first failure.
func (b *Backend) Recall(ctx context.Context, _ platform.Conv, msgIDs []string) error {
	if !b.c.HasAdmin() {
		return platform.Unsupportedf("%s", recallNeedsAdmin)
	}
	for _, id := range msgIDs {
		uid, err := parseUID(id)
		if err != nil {
			return err
		}
		if err := b.c.Recall(ctx, b.robot.ID, uid); err != nil {
			return apiError("recall "+id, err)
		}
	}
	return nil
}
