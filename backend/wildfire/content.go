package wildfire

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

// WildfireChat content types (ProtoConstants.ContentType). 2 is voice and
// 3 image, not the other way round.
const (
	typeText     = 1
	typeVoice    = 2
	typeImage    = 3
	typeLocation = 4
	typeFile     = 5
	typeVideo    = 6
	typeSticker  = 7
	typeLink     = 8
	typeCard     = 10
	typeComposit = 11
	typeRecall   = 80
	typeDelete   = 81
	typeTyping   = 91

	typeGroupFirst     = 104
	typeGroupCreate    = 104
	typeGroupAdd       = 105
	typeGroupKick      = 106
	typeGroupQuit      = 107
	typeGroupDismiss   = 108
	typeGroupMute      = 113
	typeGroupMuteMem   = 118
	typeGroupKickShown = 120
	typeGroupQuitShown = 121
	typeGroupLast      = 123
)

// Payload media types.
const (
	mediaImage   = 1
	mediaVoice   = 2
	mediaVideo   = 3
	mediaFile    = 4
	mediaSticker = 7
)

// Mentions.
const (
	mentionSome = 1
	mentionAll  = 2
)

// persistCounted is the persist flag of ordinary messages: stored, and
// counted as unread, as the clients send them.
const persistCounted = 3

// mutedIndefinitely is the length reported for a mute WildfireChat gives
// no end for (a whole-group mute, a member mute): it lasts until lifted.
const mutedIndefinitely = time.Duration(math.MaxInt32) * time.Second

// maxMentions bounds the mentions of one message, both ways.
const maxMentions = 100

// messageEvents is what a message callback means: a Received message, a
// Recalled one (type 80, the server's rewrite of a recalled message,
// re-sent with the same messageId), group events for group
// notifications, or nothing for conversations OneBot has none for and
// contents that carry nothing.
func (b *Backend) messageEvents(m *wf.Message) []platform.Event {
	conv, ok := b.convOf(m)
	if !ok {
		b.log.Debug("callback of a conversation OneBot has none for; dropped",
			zap.Int("conv_type", m.Conv.Type), zap.String("sender", clip.Bytes(m.Sender, 64)))
		return nil
	}
	at := time.Time{}
	if m.Timestamp > 0 {
		at = time.UnixMilli(m.Timestamp)
	}
	p := &m.Payload
	switch {
	case p.Type == typeRecall:
		return []platform.Event{platform.Recalled{
			Conv: conv, MsgID: msgID(m.MessageID), Operator: p.Content,
			Sender: platform.Sender{ID: m.Sender, Name: b.names.get(m.Sender)},
		}}
	case p.Type == typeDelete || p.Type == typeTyping:
		return nil
	case p.Type >= typeGroupFirst && p.Type <= typeGroupLast:
		if conv.Kind != platform.KindGroup {
			return nil
		}
		return b.groupNotice(conv.ID, p, at)
	}
	pm := platform.Message{
		Conv: conv, ID: msgID(m.MessageID), Time: at,
		Sender:  platform.Sender{ID: m.Sender, Name: b.names.get(m.Sender)},
		QuoteID: quoteOf(p),
		Content: *p,
	}
	return []platform.Event{platform.Received{Message: pm}}
}

// convOf is the conversation of a callback as the robot addresses it:
// the group, or the peer (the sender, or the target of the robot's own
// message); false for other conversation types, and for a private
// message between two others (a server-wide forward).
func (b *Backend) convOf(m *wf.Message) (platform.Conv, bool) {
	switch m.Conv.Type {
	case convGroup:
		return platform.Conv{Kind: platform.KindGroup, ID: m.Conv.Target}, m.Conv.Target != ""
	case convPrivate:
		switch {
		case m.Sender == b.robot.ID && m.Conv.Target != b.robot.ID:
			return platform.Conv{Kind: platform.KindPrivate, ID: m.Conv.Target}, m.Conv.Target != ""
		case m.Conv.Target == b.robot.ID:
			return platform.Conv{Kind: platform.KindPrivate, ID: m.Sender}, m.Sender != ""
		}
	}
	return platform.Conv{}, false
}

// recallNotice is the event of a recall forward (OutputRecallMessageData).
func (b *Backend) recallNotice(n *wf.RecallNotice) platform.Event {
	conv, ok := b.convOf(&n.Message)
	if !ok {
		return nil
	}
	ev := platform.Recalled{
		Conv: conv, MsgID: msgID(n.MessageUID), Operator: n.Operator,
		Sender: platform.Sender{ID: n.Message.Sender, Name: b.names.get(n.Message.Sender)},
	}
	if n.Time > 0 {
		ev.Time = time.UnixMilli(n.Time)
	}
	return ev
}

// groupNotification is the JSON a group notification carries in
// base64edData (GroupNotificationBinaryContent): the group, the
// operator, a value (a name, "1"/"0"), the members concerned, a member.
type groupNotification struct {
	G  string   `json:"g"`
	O  string   `json:"o"`
	N  string   `json:"n"`
	Ms []string `json:"ms"`
	M  string   `json:"m"`
}

// groupNotice turns a group notification into member events; one whose
// data cannot be read, or that changes something no other event reports,
// is MembersChanged, so that the core drops what it cached.
func (b *Backend) groupNotice(group string, p *wf.Payload, at time.Time) []platform.Event {
	var n groupNotification
	raw, err := base64.StdEncoding.DecodeString(p.Base64edData)
	if err == nil {
		err = json.Unmarshal(raw, &n)
	}
	if err != nil {
		b.log.Debug("group notification without readable data", zap.Int("type", p.Type), zap.Error(err))
		return []platform.Event{platform.MembersChanged{GroupID: group}}
	}
	if n.G != "" {
		group = n.G
	}
	members := n.Ms
	if len(members) > maxNoticeMembers {
		members = members[:maxNoticeMembers]
	}
	var out []platform.Event
	switch p.Type {
	case typeGroupAdd:
		for _, u := range members {
			out = append(out, platform.MemberJoined{GroupID: group, UserID: u, Operator: n.O, Invited: n.O != "" && n.O != u, Time: at})
		}
	case typeGroupKick, typeGroupKickShown:
		for _, u := range members {
			out = append(out, platform.MemberLeft{GroupID: group, UserID: u, Operator: n.O, Time: at})
		}
	case typeGroupQuit, typeGroupQuitShown:
		if n.O != "" {
			out = append(out, platform.MemberLeft{GroupID: group, UserID: n.O, Time: at})
		}
	case typeGroupDismiss:
		out = append(out, platform.MemberLeft{GroupID: group, UserID: b.robot.ID, Operator: n.O, Time: at})
	case typeGroupMute:
		out = append(out, platform.MemberMuted{GroupID: group, Operator: n.O, Duration: muteLength(n.N), Time: at})
	case typeGroupMuteMem:
		for _, u := range members {
			out = append(out, platform.MemberMuted{GroupID: group, UserID: u, Operator: n.O, Duration: muteLength(n.N), Time: at})
		}
	}
	if len(out) == 0 {
		out = append(out, platform.MembersChanged{GroupID: group})
	}
	return out
}

// maxNoticeMembers bounds the events one notification becomes.
const maxNoticeMembers = 1000

// muteLength reads a mute notification's value: "0" lifts, anything else
// mutes until lifted.
func muteLength(v string) time.Duration {
	if v == "0" {
		return 0
	}
	return mutedIndefinitely
}

// quote is what a text message's base64edData carries when it quotes
// another (the clients' QuoteInfo): its uid, author, author's name and a
// digest.
type quote struct {
	UID    json.Number `json:"u"`
	User   string      `json:"i,omitempty"`
	Name   string      `json:"n,omitempty"`
	Digest string      `json:"d,omitempty"`
}

// quoteOf is the id of the message a text message quotes, "" if none.
func quoteOf(p *wf.Payload) string {
	if p.Type != typeText || p.Base64edData == "" {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(p.Base64edData)
	if err != nil {
		return ""
	}
	var v struct {
		Quote *quote `json:"quote"`
	}
	if json.Unmarshal(raw, &v) != nil || v.Quote == nil {
		return ""
	}
	if n, err := strconv.ParseInt(v.Quote.UID.String(), 10, 64); err == nil && n > 0 {
		return msgID(n)
	}
	return ""
}

// Decode turns a received payload into segments.
func (b *Backend) Decode(_ context.Context, _ platform.Conv, content any, names func(userID string) []string) (segment.Message, error) {
	var p wf.Payload
	switch v := content.(type) {
	case wf.Payload:
		p = v
	case *wf.Payload:
		if v == nil {
			return nil, fmt.Errorf("wildfire: decode: nil content")
		}
		p = *v
	default:
		return nil, fmt.Errorf("wildfire: decode: %T is not WildfireChat content", content)
	}
	return payloadSegments(&p, names), nil
}

// payloadSegments is the OneBot form of a payload: text with mentions,
// one medium, or readable text for contents OneBot has no segment for.
func payloadSegments(p *wf.Payload, names func(string) []string) segment.Message {
	media := func(typ string) segment.Message {
		s := segment.Segment{Type: typ}
		s.Set("file", p.RemoteMediaURL)
		s.Set("url", p.RemoteMediaURL)
		return segment.Message{s}
	}
	switch p.Type {
	case typeText:
		return textSegments(p.SearchableContent, p, names)
	case typeImage, typeSticker:
		if p.RemoteMediaURL == "" {
			break
		}
		m := media(segment.TypeImage)
		if p.Type == typeSticker {
			m[0].Set("sub_type", "1")
		}
		return m
	case typeVoice, typeVideo:
		if p.RemoteMediaURL == "" {
			break
		}
		m := media(map[int]string{typeVoice: segment.TypeRecord, typeVideo: segment.TypeVideo}[p.Type])
		if d := duration(p.Content); d > 0 {
			m[0].Set("duration", strconv.FormatInt(d, 10))
		}
		return m
	case typeFile:
		if p.RemoteMediaURL == "" {
			break
		}
		m := media(segment.TypeFile)
		if p.SearchableContent != "" {
			m[0].Set("name", p.SearchableContent)
		}
		if n, err := strconv.ParseInt(p.Content, 10, 64); err == nil && n > 0 {
			m[0].Set("file_size", strconv.FormatInt(n, 10))
		}
		return m
	}
	return segment.Message{segment.Text(readable(p))}
}

// readable is the text shown for a content OneBot has no segment for.
func readable(p *wf.Payload) string {
	title := clip.Bytes(strings.TrimSpace(p.SearchableContent), 200)
	label := map[int]string{
		typeImage: "image", typeVoice: "voice", typeVideo: "video", typeFile: "file", typeSticker: "sticker",
		typeLocation: "location", typeLink: "link", typeCard: "contact card", typeComposit: "merged messages",
	}[p.Type]
	switch {
	case label != "" && title != "":
		return "[" + label + ": " + title + "]"
	case label != "":
		return "[" + label + "]"
	case title != "":
		return title
	}
	return fmt.Sprintf("[a WildfireChat message of content type %d]", p.Type)
}

// duration reads the length of a voice or video: content is
// {"duration": seconds} as the clients write it.
func duration(content string) int64 {
	var v struct {
		Duration json.Number `json:"duration"`
	}
	if json.Unmarshal([]byte(content), &v) != nil {
		return 0
	}
	f, err := v.Duration.Float64()
	if err != nil || f <= 0 || f > math.MaxInt32 {
		return 0
	}
	return int64(f)
}

// textSegments splits a text around its mentions: an at segment where
// "@name" (one of its names, or the uid) stands in the text, in order,
// taking the single space the clients write after it; mentions not found
// lead the message. A mention of all is placed the same way at
// "@所有人" or "@all".
func textSegments(text string, p *wf.Payload, names func(string) []string) segment.Message {
	var ms []segment.Mention
	switch p.MentionedType {
	case mentionAll:
		ms = append(ms, segment.Mention{QQ: segment.AtAllQQ, Names: []string{"所有人", "all"}})
	case mentionSome:
		seen := map[string]bool{}
		for _, uid := range p.MentionedTarget {
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
	out := segment.PlaceMentions(text, ms)
	if len(out) == 0 {
		return segment.Message{segment.Text("")}
	}
	return out
}
