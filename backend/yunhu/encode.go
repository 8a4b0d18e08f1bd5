package yunhu

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/internal/mediakind"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Outgoing messages (README "Sending"). A OneBot message is a list of
// segments; a Yunhu message has exactly one content type. So one OneBot
// message becomes one or more Yunhu messages, sent in segment order:
//
//	text, at            one text message per run of adjacent text and at
//	                    segments; at fills mentioned_id and writes "@name "
//	image/record/video/file
//	                    one media message each (uploaded first)
//	markdown, html, a2ui
//	                    one message each, content types 3, 8 and 14
//	form                one form message (content type 5)
//	share with a post id
//	                    one post message (content type 6)
//	image with sub_type sticker or expression (as received)
//	                    one sticker message (content type 7)
//	reply               quotes, on the first message
//	button              rows of buttons, on the last message
//
// The send_* response's message_id is the first message's; delete_msg on it
// recalls every message the OneBot message became (the core records the
// others). Every segment is checked and every medium uploaded before the
// first message goes out, so a bad segment fails the whole action with
// 1400 and nothing half-sent.

// maxRecordBody is the store's limit on a message body (store.Message):
// a part whose record would exceed it cannot be sent with an id.
const maxRecordBody = 1 << 20

// outPart is one Yunhu message of an outgoing OneBot message.
type outPart struct {
	out  yh.Outgoing
	segs segment.Message // the OneBot segments it carries (media as sent, not their bytes)
}

// outBuilder accumulates the parts of one outgoing message.
type outBuilder struct {
	b    *Backend
	ctx  context.Context
	chat yh.Chat
	env  platform.EncodeEnv

	parts []outPart

	// The pending text run. mentioned holds the ids in mentions, so that a
	// message of many mentions is not quadratic.
	text      strings.Builder
	mentions  []string
	mentioned map[string]struct{}
	textSegs  segment.Message
	// atSep: an "@name" was just written, and the space the official
	// clients write after it is due, unless the text that follows starts
	// with white space of its own ("[CQ:at,qq=1] hi" is "@Alice hi").
	atSep bool

	quote      *yh.Content // quote fields for the first part
	quoteID    string
	replySeg   segment.Segment   // stored in the first part's body
	buttons    []json.RawMessage // rows, from every button segment
	buttonSegs segment.Message   // stored in the last part's body

	groupBots map[string]string // bot id → name in the group; nil until a group mention needs it
	names     map[string]string // every name mentionName found, so each id costs one lookup
}

// Encode converts msg into the Yunhu messages that carry it into conv,
// uploading media on the way. Nothing is sent. Each part gets its msg_id
// here, so that a retried send names the same message and the server
// does not send it twice.
func (b *Backend) Encode(ctx context.Context, conv platform.Conv, msg segment.Message, env platform.EncodeEnv) ([]platform.Outgoing, error) {
	chat := b.chatFor(ctx, conv)
	parts, err := b.buildOutgoing(ctx, chat, msg, env)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Outgoing, len(parts))
	for i := range parts {
		p := parts[i].out
		p.ID = yh.NewMessageID()
		out[i] = platform.Outgoing{Conv: conv, ID: p.ID, Body: parts[i].segs, Payload: p}
	}
	return out, nil
}

// buildOutgoing converts msg into the Yunhu messages that carry it into
// chat, uploading media on the way. Nothing is sent.
func (b *Backend) buildOutgoing(ctx context.Context, chat yh.Chat, msg segment.Message, env platform.EncodeEnv) ([]outPart, error) {
	ob := &outBuilder{b: b, ctx: ctx, chat: chat, env: env}
	for i, seg := range msg {
		// A message may hold a million segments: stop walking them once
		// the client has gone or the action's time is up.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := ob.add(i, seg); err != nil {
			return nil, err
		}
	}
	ob.flushText()
	if len(ob.parts) == 0 {
		return nil, platform.BadParamf("message: nothing to send (no text or media)")
	}
	first := &ob.parts[0].out
	if ob.quoteID != "" {
		first.QuoteID = ob.quoteID
		q := ob.quote
		first.Content.QuoteText, first.Content.QuoteImageURL, first.Content.QuoteImageName = q.QuoteText, q.QuoteImageURL, q.QuoteImageName
		ob.parts[0].segs = append(segment.Message{ob.replySeg}, ob.parts[0].segs...)
	}
	if len(ob.buttons) > 0 {
		rows, _ := json.Marshal(ob.buttons) // RawMessages checked in add
		last := &ob.parts[len(ob.parts)-1]
		last.out.Content.Buttons = string(rows)
		last.segs = append(last.segs, ob.buttonSegs...)
	}
	for i := range ob.parts {
		p := &ob.parts[i]
		p.out.Chat = chat
		// Checked here, not when the store refuses it: by then the parts
		// before it would have gone out.
		if n := len(segment.AppendJSON(nil, p.segs)); n > maxRecordBody {
			return nil, platform.BadParamf("message: too large: one Yunhu message of it would be %d bytes as recorded, the limit is %d (send long text in several messages)", n, maxRecordBody)
		}
	}
	return ob.parts, nil
}

func (ob *outBuilder) add(i int, seg segment.Segment) error {
	switch seg.Type {
	case segment.TypeText:
		ob.writeText(seg.Value("text"))
		ob.textSegs = append(ob.textSegs, seg)
	case segment.TypeAt:
		return ob.addAt(seg)
	case segment.TypeReply:
		return ob.addReply(seg)
	case segment.TypeImage, segment.TypeRecord, segment.TypeVideo, segment.TypeFile:
		if isStickerSegment(seg) {
			return ob.addSticker(seg)
		}
		ob.flushText()
		out, stored, err := ob.mediaOutgoing(seg)
		if err != nil {
			return err
		}
		ob.parts = append(ob.parts, outPart{out: out, segs: segment.Message{stored}})
	case segment.TypeFace:
		return ob.addSticker(seg)
	case segment.TypeMarkdown, segment.TypeHTML, typeA2UI:
		content := seg.Value("content")
		if strings.TrimSpace(content) == "" {
			return platform.BadParamf("%s.content: required", seg.Type)
		}
		ct := map[string]yh.ContentType{
			segment.TypeMarkdown: yh.ContentMarkdown, segment.TypeHTML: yh.ContentHTML, typeA2UI: yh.ContentA2UI,
		}[seg.Type]
		ob.flushText()
		ob.parts = append(ob.parts, outPart{
			out:  yh.Outgoing{ContentType: ct, Content: yh.Content{Text: content}},
			segs: segment.Message{seg},
		})
	case segment.TypeButton:
		return ob.addButtons(seg)
	case segment.TypeForm:
		return ob.addForm(seg)
	case segment.TypeShare:
		return ob.addShare(seg)
	case segment.TypeAnonymous:
		// "ignore" asks to send normally when anonymity is impossible.
		if v, ok := seg.Flag("ignore"); ok && v {
			return nil
		}
		return platform.BadParamf("anonymous: Yunhu has no anonymous messages (add ignore=1 to send normally)")
	case segment.TypeNode, segment.TypeForward:
		return platform.BadParamf("%s: forward nodes go to send_group_forward_msg / send_private_forward_msg", seg.Type)
	default:
		return platform.BadParamf("message[%d]: segment %q cannot be sent on Yunhu", i, seg.Type)
	}
	return nil
}

// flushText ends the pending text run as a text message. A run that is
// only whitespace (the newline between two images, say) is not a message
// of its own: Yunhu refuses empty text and a blank bubble helps nobody.
func (ob *outBuilder) flushText() {
	if ob.atSep {
		ob.text.WriteByte(' ') // the clients end a final "@name" with one too
		ob.atSep = false
	}
	text := ob.text.String()
	segs := ob.textSegs
	mentions := ob.mentions
	ob.text.Reset()
	ob.textSegs, ob.mentions, ob.mentioned = nil, nil, nil
	if strings.TrimSpace(text) == "" && len(mentions) == 0 {
		return
	}
	ob.parts = append(ob.parts, outPart{
		out:  yh.Outgoing{ContentType: yh.ContentText, Content: yh.Content{Text: text, Mentions: mentions}},
		segs: segs,
	})
}

// writeText appends s to the pending text, after the space due after a
// mention unless s brings its own.
func (ob *outBuilder) writeText(s string) {
	if s == "" {
		return
	}
	if ob.atSep {
		if r, _ := utf8.DecodeRuneInString(s); !unicode.IsSpace(r) {
			ob.text.WriteByte(' ')
		}
		ob.atSep = false
	}
	ob.text.WriteString(s)
}

// addAt writes "@name " into the text and the id into mentioned_id, as the
// official clients do (§2.2.2): one space after the name, the text's own
// when it starts with one (see atSep). Yunhu has no mention of everyone.
func (ob *outBuilder) addAt(seg segment.Segment) error {
	qq := seg.Value("qq")
	if qq == segment.AtAllQQ {
		return platform.BadParamf("at: qq=all is not possible: Yunhu has no mention of everyone")
	}
	id := qq // the core mapped the OneBot number to the Yunhu id
	if id == "" {
		return platform.BadParamf("at.qq: expected a user id, got %q", clip.Bytes(qq, 40))
	}
	name := seg.Value("name")
	if name == "" {
		name = ob.mentionName(id)
	}
	ob.writeText("@" + name)
	ob.atSep = true
	if _, ok := ob.mentioned[id]; !ok {
		if ob.mentioned == nil {
			ob.mentioned = map[string]struct{}{}
		}
		ob.mentioned[id] = struct{}{}
		ob.mentions = append(ob.mentions, id)
	}
	ob.textSegs = append(ob.textSegs, seg)
	return nil
}

// mentionName is the name shown after "@": the name the core knows the
// user by in the chat (member name, profile name), else a bot's name from
// the group's bot list (read once per message, however many mentions it
// has), else the user's profile name. A failed lookup is not fatal: the
// mention itself travels in mentioned_id, so the id serves as the name.
func (ob *outBuilder) mentionName(id string) string {
	if n, ok := ob.names[id]; ok {
		return n
	}
	if ob.names == nil {
		ob.names = map[string]string{}
	}
	n := ob.lookupName(id)
	ob.names[id] = n
	return n
}

// lookupName finds the name mentionName shows for id.
func (ob *outBuilder) lookupName(id string) string {
	if ob.env.Name != nil {
		if n := ob.env.Name(ob.ctx, id); n != "" {
			return n
		}
	}
	if ob.chat.Type == yh.ChatTypeGroup {
		if ob.groupBots == nil {
			ob.groupBots = map[string]string{}
			if g, err := ob.b.client.GroupInfo(ob.ctx, ob.chat.ID); err == nil {
				for _, bot := range g.Bots {
					ob.groupBots[bot.ID] = bot.Name
				}
			}
		}
		if n := ob.groupBots[id]; n != "" {
			return n
		}
	}
	if u, err := ob.b.client.GetUser(ob.ctx, id); err == nil && u.Name != "" {
		return u.Name
	}
	ob.b.log.Debug("mention: name lookup failed; using the id", zap.String("user_id", id))
	return id
}

// addReply quotes a stored message of the same chat: quote_msg_id plus the
// "name: text" preview the official clients show (§2.2.3). The core found
// the quoted message (env.Quote) and checked that it is in this chat; the
// segment's id is its Yunhu msg_id.
func (ob *outBuilder) addReply(seg segment.Segment) error {
	if ob.quoteID != "" {
		return platform.BadParamf("reply: only one reply segment per message")
	}
	q := ob.env.Quote
	if q == nil || q.MsgID == "" || q.MsgID != seg.Value("id") {
		return platform.BadParamf("reply.id: expected a message_id, got %q", clip.Bytes(seg.Value("id"), 40))
	}
	preview, img := quotePreview(q.Body)
	c := &yh.Content{QuoteText: clipRunes(q.Sender+": "+preview, 100)}
	if img != "" {
		c.QuoteImageURL = img
		c.QuoteImageName = img[strings.LastIndexByte(img, '/')+1:]
	}
	ob.quote, ob.quoteID, ob.replySeg = c, q.MsgID, seg
	return nil
}

// quotePreview is the text a quote shows for a message, with the URL of
// its image when it has one. Media shows as the official clients' labels.
func quotePreview(m segment.Message) (text, imageURL string) {
	var sb strings.Builder
	for _, s := range m {
		switch s.Type {
		case segment.TypeText:
			sb.WriteString(s.Value("text"))
		case segment.TypeAt:
			sb.WriteString("@" + cmp.Or(s.Value("name"), s.Value("qq")) + " ")
		case segment.TypeImage:
			sb.WriteString("[图片]")
			if u := s.Value("url"); imageURL == "" && strings.HasPrefix(u, "http") {
				imageURL = u
			}
		case segment.TypeRecord:
			sb.WriteString("[语音]")
		case segment.TypeVideo:
			sb.WriteString("[视频]")
		case segment.TypeFile:
			sb.WriteString("[文件]" + s.Value("name"))
		case segment.TypeFace:
			sb.WriteString("[表情]")
		case segment.TypeMarkdown, segment.TypeHTML:
			sb.WriteString(s.Value("content"))
		default:
			sb.WriteString("[" + s.Type + "]")
		}
	}
	return sb.String(), imageURL
}

// addButtons collects the rows of a button segment (§2.2.4): the JSON of a
// list of rows, each a list of buttons.
func (ob *outBuilder) addButtons(seg segment.Segment) error {
	raw := seg.Value("buttons")
	var rows [][]map[string]any
	if err := json.Unmarshal([]byte(raw), &rows); err != nil || len(rows) == 0 {
		return platform.BadParamf("button.buttons: expected the JSON of rows of buttons, e.g. [[{\"text\":\"Open\",\"actionType\":1,\"url\":\"https://…\"}]]")
	}
	var list []json.RawMessage
	_ = json.Unmarshal([]byte(raw), &list) // valid: it decoded above
	ob.buttons = append(ob.buttons, list...)
	ob.buttonSegs = append(ob.buttonSegs, seg)
	return nil
}

// addForm sends a bot form (content type 5). command_id names the bot's
// form command when the form answers one.
func (ob *outBuilder) addForm(seg segment.Segment) error {
	form := seg.Value("form")
	if !json.Valid([]byte(form)) {
		return platform.BadParamf("form.form: expected the form's JSON")
	}
	var cmd int64
	if v := seg.Value("command_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return platform.BadParamf("form.command_id: expected an integer, got %q", clip.Bytes(v, 40))
		}
		cmd = n
	}
	ob.flushText()
	ob.parts = append(ob.parts, outPart{
		out:  yh.Outgoing{ContentType: yh.ContentForm, Content: yh.Content{Form: form}, CommandID: cmd},
		segs: segment.Message{seg},
	})
	return nil
}

// addShare shares a Yunhu community post. Yunhu cannot show a card for an
// arbitrary link, so a share without a post id is refused rather than
// turned into something else.
func (ob *outBuilder) addShare(seg segment.Segment) error {
	id := cmp.Or(seg.Value("post_id"), seg.Value("id"))
	if id == "" {
		return platform.BadParamf("share: Yunhu can only share its own community posts (data.post_id); send a link as text instead")
	}
	typ := cmp.Or(seg.Value("post_type"), "1")
	if typ != "1" && typ != "2" {
		return platform.BadParamf("share.post_type: expected 1 (text) or 2 (markdown), got %q", clip.Bytes(typ, 20))
	}
	ob.flushText()
	ob.parts = append(ob.parts, outPart{
		out: yh.Outgoing{ContentType: yh.ContentPost, Content: yh.Content{
			PostID: id, PostTitle: seg.Value("title"), PostContent: seg.Value("content"), PostType: typ,
		}},
		segs: segment.Message{seg},
	})
	return nil
}

// mediaKey matches the object keys Yunhu hands out (§5.3): md5 hex plus an
// extension, files under disk/. A received medium's file name is its key,
// and sending the key again needs no upload (§5.4).
var mediaKey = regexp.MustCompile(`^(disk/)?[0-9a-f]{32}\.[0-9A-Za-z]{1,8}$`)

// mediaOutgoing prepares an image, record, video or file segment: the
// medium is loaded, checked to be of the segment's kind, uploaded (or its
// key reused) and the message built. stored is the segment as the store
// keeps it: what was sent (the key, its URL, name and size), never the
// bytes, which would make every base64 medium a record of its own size.
func (ob *outBuilder) mediaOutgoing(seg segment.Segment) (out yh.Outgoing, stored segment.Segment, err error) {
	kind := map[string]yh.UploadKind{
		segment.TypeImage: yh.UploadImage, segment.TypeRecord: yh.UploadAudio,
		segment.TypeVideo: yh.UploadVideo, segment.TypeFile: yh.UploadFile,
	}[seg.Type]
	param := seg.Type + ".file"
	ref := seg.Value("file")
	if !hasMediaScheme(ref) && !mediaKey.MatchString(ref) {
		// A received segment sent back: file is a name, url the source.
		if u := seg.Value("url"); hasMediaScheme(u) {
			ref, param = u, seg.Type+".url"
		}
	}
	name := seg.Value("name")
	if mediaKey.MatchString(ref) {
		// A medium Yunhu already holds: nothing to load or check.
		out = reuseMedia(kind, ref, name, seg)
		return out, storedMedia(seg, out), nil
	}
	if ob.env.Media == nil {
		return out, stored, platform.BadParamf("%s: media cannot be read here", param)
	}
	data, fetchedName, err := ob.env.Media(ob.ctx, param, ref)
	if err != nil {
		return out, stored, err
	}
	if err := mediakind.Check(seg.Type, param, data); err != nil {
		return out, stored, platform.BadParamf("%v", err)
	}
	if name == "" {
		name = fetchedName
	}
	if kind == yh.UploadFile && name == "" {
		name = "file"
	}
	up, err := ob.b.client.Upload(ob.ctx, kind, name, data)
	if err != nil {
		return out, stored, uploadError(param, err)
	}
	out = up.Outgoing(yh.Chat{})
	if kind == yh.UploadAudio {
		out.Content.AudioSeconds = audioSeconds(seg, data)
	}
	return out, storedMedia(seg, out), nil
}

// storedMedia is the record of a sent medium: the segment type with file
// = the Yunhu key (which sends the same medium again without an upload),
// url = where Yunhu serves it, and name, file_size and duration when
// known. The echo push later replaces it with Yunhu's own account of the
// message.
func storedMedia(seg segment.Segment, out yh.Outgoing) segment.Segment {
	c := out.Content
	key, cdn := c.Image, yh.DefaultImageCDN
	switch out.ContentType {
	case yh.ContentAudio:
		key, cdn = c.AudioURL, yh.DefaultAudioCDN
	case yh.ContentVideo:
		key, cdn = c.VideoURL, yh.DefaultVideoCDN
	case yh.ContentFile:
		key, cdn = c.FileURL, yh.DefaultFileCDN
	}
	s := segment.Segment{Type: seg.Type}
	s.Set("file", key)
	s.Set("url", cdn+strings.TrimPrefix(key, yh.KeyPrefixFile))
	if c.FileName != "" {
		s.Set("name", c.FileName)
	}
	if c.FileSize > 0 {
		s.Set("file_size", strconv.FormatInt(c.FileSize, 10))
	}
	if c.AudioSeconds > 0 {
		s.Set("duration", strconv.FormatInt(c.AudioSeconds, 10))
	}
	return s
}

// reuseMedia sends an already hosted medium by its key.
func reuseMedia(kind yh.UploadKind, key, name string, seg segment.Segment) yh.Outgoing {
	var o yh.Outgoing
	switch kind {
	case yh.UploadImage:
		o.ContentType, o.Content = yh.ContentImage, yh.Content{Image: key}
	case yh.UploadAudio:
		o.ContentType, o.Content = yh.ContentAudio, yh.Content{AudioURL: key, AudioSeconds: audioSeconds(seg, nil)}
	case yh.UploadVideo:
		o.ContentType, o.Content = yh.ContentVideo, yh.Content{VideoURL: key}
	case yh.UploadFile:
		if !strings.HasPrefix(key, yh.KeyPrefixFile) {
			key = yh.KeyPrefixFile + key
		}
		o.ContentType, o.Content = yh.ContentFile, yh.Content{FileURL: key, FileName: cmp.Or(name, strings.TrimPrefix(key, yh.KeyPrefixFile))}
	}
	return o
}

// audioSeconds is a voice message's length: data.duration when the bot
// gives it, else read from the file when its format tells (m4a, mp4, wav),
// else 1 — Yunhu shows the number and does not check it.
func audioSeconds(seg segment.Segment, data []byte) int64 {
	if n, ok := seg.Int("duration"); ok && n > 0 {
		return n
	}
	if s := mediakind.Duration(data); s > 0 {
		return s
	}
	return 1
}

func hasMediaScheme(ref string) bool {
	l := strings.ToLower(ref)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") ||
		strings.HasPrefix(l, "base64://") || strings.HasPrefix(l, "file:")
}

// isStickerSegment reports an image segment that is a Yunhu sticker or
// personal expression rather than a picture (see inbound.go).
func isStickerSegment(seg segment.Segment) bool {
	if seg.Type != segment.TypeImage {
		return false
	}
	switch seg.Value("sub_type") {
	case subTypeSticker, subTypeExpression:
		return true
	}
	return false
}

// addSticker sends a sticker or personal expression (content type 7) from
// an image segment with sub_type sticker or expression as inbound.go
// produces it (or a face segment carrying the same data): data.path (or
// file) is the expression/… or sticker/… path Yunhu gave, with
// expression_id, or sticker_item_id and sticker_pack_id. A QQ face id has
// no Yunhu counterpart.
func (ob *outBuilder) addSticker(seg segment.Segment) error {
	p := cmp.Or(seg.Value("path"), seg.Value("file"))
	if i := strings.Index(p, yh.KeyPrefixExpression); i >= 0 {
		p = p[i:]
	} else if i := strings.Index(p, yh.KeyPrefixSticker); i >= 0 {
		p = p[i:]
	}
	if !strings.HasPrefix(p, yh.KeyPrefixExpression) && !strings.HasPrefix(p, yh.KeyPrefixSticker) {
		return platform.BadParamf("%s: not a Yunhu sticker (needs data.path expression/… or sticker/…); QQ face ids have no Yunhu counterpart", seg.Type)
	}
	c := yh.Content{Image: p, ExpressionID: seg.Value("expression_id")}
	if n, ok := seg.Int("sticker_item_id"); ok {
		c.StickerItemID = n
	}
	if n, ok := seg.Int("sticker_pack_id"); ok {
		c.StickerPackID = n
	}
	ob.flushText()
	ob.parts = append(ob.parts, outPart{
		out:  yh.Outgoing{ContentType: yh.ContentSticker, Content: c},
		segs: segment.Message{seg},
	})
	return nil
}

// clipRunes shortens s to n characters.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// uploadError classifies a failed upload: too large is the client's to
// fix, anything else is Yunhu's.
func uploadError(param string, err error) error {
	if errors.Is(err, yh.ErrTooLarge) {
		return platform.BadParamf("%s: media too large for Yunhu", param)
	}
	return &platform.Error{Msg: "upload " + param + ": " + serverText(err), Err: err}
}
