package wukongim

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// Outgoing messages. A WuKongIM message has one content type, so a OneBot
// message becomes one or more, in segment order:
//
//	text, at                 one text message per run (at writes "@name "
//	                         and adds the uid to mention.uids; at all sets
//	                         mention.all, in groups only)
//	image, record, video, file
//	                         one media message each, by URL (media.go)
//	reply                    the reply field of the first message
//
// Every segment is checked and every medium written before anything is
// sent. The server assigns message ids; each part's client_msg_no is the
// Outgoing's Token.

// maxPayload bounds one outgoing payload, as the store bounds a record.
const maxPayload = 1 << 20

// part is one WuKongIM message of an outgoing OneBot message.
type part struct {
	p    Payload
	segs segment.Message
}

// encoder accumulates the parts of one outgoing message.
type encoder struct {
	b    *Backend
	ctx  context.Context
	conv platform.Conv
	env  platform.EncodeEnv

	parts []part

	text     strings.Builder
	mention  Mention
	textSegs segment.Message

	reply    *Reply
	replySeg segment.Segment
}

// Encode turns msg into the WuKongIM messages that carry it into conv.
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
	if e.reply != nil {
		e.parts[0].p.Reply = e.reply
		e.parts[0].segs = append(segment.Message{e.replySeg}, e.parts[0].segs...)
	}
	channel, typ := channelOf(conv)
	out := make([]platform.Outgoing, len(e.parts))
	for i := range e.parts {
		raw, err := encodePayload(&e.parts[i].p)
		if err != nil {
			return nil, platform.BadParamf("message: %v", err)
		}
		if len(raw) > maxPayload {
			return nil, platform.BadParamf("message: too large: one WuKongIM message of it would be %d bytes, the limit is %d (send long text in several messages)", len(raw), maxPayload)
		}
		token := newClientMsgNo()
		out[i] = platform.Outgoing{
			Conv:  conv,
			Token: token,
			Body:  e.parts[i].segs,
			Payload: wk.RPCSendRequest{
				Header: wk.Header{RedDot: true}, ChannelID: channel, ChannelType: typ,
				ClientMsgNo: token, Payload: raw,
			},
		}
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
		return e.addReply(i, s)
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
		return platform.BadParamf("message[%d]: anonymous: WuKongIM has no anonymous messages (add ignore=1 to send normally)", i)
	default:
		return platform.BadParamf("message[%d]: segment %q cannot be sent on WuKongIM", i, s.Type)
	}
	return nil
}

// addAt writes "@name " into the text run and the uid into its mention.
func (e *encoder) addAt(i int, s segment.Segment) error {
	qq := s.Value("qq")
	switch {
	case qq == "":
		return platform.BadParamf("message[%d]: at.qq: empty", i)
	case qq == segment.AtAllQQ:
		if e.conv.Kind != platform.KindGroup {
			return platform.BadParamf("message[%d]: at all: only in a group", i)
		}
		e.mention.All = true
		e.text.WriteString("@all ")
	default:
		if len(e.mention.UIDs) >= maxMentions {
			return platform.BadParamf("message[%d]: at: more than %d mentions in one message", i, maxMentions)
		}
		e.text.WriteString("@" + e.mentionName(qq, s.Value("name")) + " ")
		e.mention.UIDs = append(e.mention.UIDs, qq)
	}
	e.textSegs = append(e.textSegs, s)
	return nil
}

// mentionName is the name written after "@": the segment's own, the
// core's (member card or name), the directory's, else the uid.
func (e *encoder) mentionName(uid, given string) string {
	if given != "" {
		return given
	}
	if e.env.Name != nil {
		if n := e.env.Name(e.ctx, uid); n != "" {
			return n
		}
	}
	return cmp.Or(e.b.dir.userName(uid), uid)
}

// addReply quotes a stored message of the conversation: the SDKs' reply
// field, with the quoted text as its payload so that clients can show it.
func (e *encoder) addReply(i int, s segment.Segment) error {
	if e.reply != nil {
		return platform.BadParamf("message[%d]: reply: only one reply segment per message", i)
	}
	q := e.env.Quote
	if q == nil || q.MsgID == "" || q.MsgID != s.Value("id") {
		return platform.BadParamf("message[%d]: reply.id: expected a message_id of this conversation, got %q", i, clip.Bytes(s.Value("id"), 40))
	}
	quoted, _ := encodePayload(&Payload{Type: typeText, Content: clip.Bytes(q.Body.PlainText(), 200)})
	seq, _ := e.b.seqs.get(e.conv, q.MsgID)
	e.reply = &Reply{
		MessageID: idString(q.MsgID), MessageSeq: num(seq),
		FromUID: q.SenderID, FromName: q.Sender, Payload: quoted,
	}
	e.replySeg = s
	return nil
}

// flushText ends the pending text run as a text message; a run of white
// space only is no message.
func (e *encoder) flushText() {
	text, segs, m := e.text.String(), e.textSegs, e.mention
	e.text.Reset()
	e.textSegs, e.mention = nil, Mention{}
	if strings.TrimSpace(text) == "" && len(m.UIDs) == 0 && !m.All {
		return
	}
	p := Payload{Type: typeText, Content: text}
	if len(m.UIDs) > 0 || m.All {
		p.Mention = &m
	}
	e.parts = append(e.parts, part{p: p, segs: segs})
}

// newClientMsgNo returns a fresh client_msg_no in the server's own form
// (32 hex digits).
func newClientMsgNo() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
