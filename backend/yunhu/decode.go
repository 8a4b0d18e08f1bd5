package yunhu

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Yunhu content → OneBot segments (YUNHU-WIRE §2.1, §2.2.1). The mapping,
// type by type, is a public contract (README "Segments"):
//
//	text (1)        text, with each mention as an at segment where its
//	                "@name" stands in the text (mentions that cannot be
//	                placed lead the message)
//	image (2)       image{file, url} = the Yunhu URL; a caption follows as text
//	markdown (3)    markdown{content}; html (8) html{content}
//	file (4)        file{file, name, url, file_size}
//	form (5)        form{form} = the form JSON
//	post (6)        share{url "", title, content, post_id, post_type}: Yunhu
//	                community posts have no public URL
//	sticker (7)     image{file, url, sub_type "sticker" (pack sticker) or
//	                "expression" (personal expression), path, and
//	                sticker_item_id + sticker_pack_id or expression_id}, so
//	                it can be sent back as the same sticker
//	video (10)      video{file, url}; audio (11) record{file, url}
//	calls (12, 13)  text "[语音通话] status" / "[视频通话] status"
//	A2UI (14)       a2ui{content} = the A2UI JSON
//	other           the tip or text if any, else "[unsupported message type N]"
//
// Buttons of any message follow as a button segment carrying their JSON;
// the quote becomes a leading reply segment (added by the caller, which
// knows the quoted message's id).

// Segment keys and values the backend adds beyond segment.md.
const (
	typeA2UI = "a2ui"

	subTypeSticker    = "sticker"
	subTypeExpression = "expression"
)

// mentionNames returns the names user id may be written as after "@" in
// the message's chat (group nickname, real name); nil when unknown.
type mentionNames func(userID string) []string

// Decode converts a message body (a Content or *Content) to segments,
// without the reply. At segments carry the Yunhu user id, or "all".
func (b *Backend) Decode(_ context.Context, _ platform.Conv, content any, names func(userID string) []string) (segment.Message, error) {
	switch c := content.(type) {
	case Content:
		return contentSegments(c.Type, &c.Body, names), nil
	case *Content:
		if c != nil {
			return contentSegments(c.Type, &c.Body, names), nil
		}
	}
	return nil, fmt.Errorf("decode: %T is not Yunhu content", content)
}

// contentSegments converts a message body to segments, without the reply.
// names may be nil.
func contentSegments(ct yh.ContentType, c *yh.Content, names mentionNames) segment.Message {
	if names == nil {
		names = func(string) []string { return nil }
	}
	var out segment.Message
	switch ct {
	case yh.ContentText:
		out = textSegments(c.Text, c.Mentions, names)
	case yh.ContentMarkdown, yh.ContentHTML:
		m := leadingMentions(c.Mentions)
		if ct == yh.ContentMarkdown {
			out = append(m, segment.Markdown(c.Text))
		} else {
			out = append(m, segment.HTML(c.Text))
		}
	case yh.ContentImage:
		u := firstNonEmpty(c.ImageURL, c.Image)
		s := segment.Image(u)
		s.Set("url", u)
		out = append(out, s)
		out = segment.AppendText(out, c.Text)
	case yh.ContentSticker:
		out = append(out, stickerSegment(c))
	case yh.ContentFile:
		s := segment.File(c.FileURL, c.FileName)
		s.Set("url", c.FileURL)
		if c.FileSize > 0 {
			s.Set("file_size", itoa(c.FileSize))
		}
		out = append(out, s)
	case yh.ContentVideo:
		s := segment.Video(c.VideoURL)
		s.Set("url", c.VideoURL)
		out = append(out, s)
		out = segment.AppendText(out, c.Text)
	case yh.ContentAudio:
		s := segment.Record(c.AudioURL)
		s.Set("url", c.AudioURL)
		out = append(out, s)
	case yh.ContentForm:
		out = segment.AppendText(out, c.Text)
		out = append(out, segment.Form(c.Form))
	case yh.ContentPost:
		s := segment.Share("", c.PostTitle)
		s.Set("content", c.PostContent)
		s.Set("post_id", c.PostID)
		s.Set("post_type", c.PostType)
		out = append(out, s)
	case yh.ContentVoiceCall, yh.ContentVideoCall:
		kind := "[语音通话]"
		if ct == yh.ContentVideoCall {
			kind = "[视频通话]"
		}
		status := firstNonEmpty(c.CallStatusText, c.CallText, c.Tip)
		out = segment.AppendText(out, strings.TrimSpace(kind+" "+status))
	case yh.ContentA2UI:
		out = append(out, segment.Segment{Type: typeA2UI, Data: []segment.Pair{{Key: "content", Value: c.Text}}})
	default:
		text := firstNonEmpty(c.Tip, c.Text)
		if text == "" {
			text = fmt.Sprintf("[unsupported message type %d]", ct)
		}
		out = segment.AppendText(out, text)
	}
	if c.Buttons != "" {
		out = append(out, segment.Button(c.Buttons))
	}
	return out
}

// stickerSegment is an image with a sub_type telling a pack sticker from a
// personal expression, and what it takes to send the same one back (the
// relative path and its ids, §2.2.1 type 7).
func stickerSegment(c *yh.Content) segment.Segment {
	u := firstNonEmpty(c.ImageURL, c.Image)
	s := segment.Image(u)
	s.Set("url", u)
	if c.StickerPackID != 0 || c.StickerItemID != 0 || strings.HasPrefix(c.Image, yh.KeyPrefixSticker) {
		s.Set("sub_type", subTypeSticker)
		s.Set("path", c.Image)
		s.Set("sticker_item_id", itoa(c.StickerItemID))
		s.Set("sticker_pack_id", itoa(c.StickerPackID))
		return s
	}
	s.Set("sub_type", subTypeExpression)
	s.Set("path", c.Image)
	s.Set("expression_id", c.ExpressionID)
	return s
}

// textSegments splits text at its mentions. The official clients write
// "@<name> " into the text and the ids into mentioned_id, in order, and the
// server checks neither (§2.2.2): so each id is looked for as "@" + one of
// its names after the previous mention, or failing that as the next
// "@word", and becomes an at segment in that place. The space the clients
// write after the name stays in the text that follows, as QQ's events have
// it: "@Alice hi" is "[CQ:at,qq=1] hi", which send_msg writes back as
// "@Alice hi" (outbound.go); only the space after a final mention, which
// carries nothing, goes with it. An id that cannot be placed is put at the
// start, where frameworks look for "to me".
func textSegments(text string, mentions []string, names mentionNames) segment.Message {
	var lead, body segment.Message
	pos := 0
	seen := make(map[string]bool, len(mentions))
	for _, id := range mentions {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		at := mentionSegment(id)
		cands := names(id)
		if id == segment.AtAllQQ {
			cands = append(cands, "全体成员", "所有人", "all")
		}
		start, end := findMention(text, pos, cands)
		if start < 0 {
			lead = append(lead, at)
			continue
		}
		body = segment.AppendText(body, text[pos:start])
		body = append(body, at)
		pos = end
		if pos == len(text)-1 && text[pos] == ' ' {
			pos++ // the separator the clients (and send_msg) put after a final "@name"
		}
	}
	body = segment.AppendText(body, text[pos:])
	return append(lead, body...)
}

// leadingMentions returns an at segment per mentioned id, for content
// whose text cannot be split (markdown, html).
func leadingMentions(mentions []string) segment.Message {
	var out segment.Message
	seen := make(map[string]bool, len(mentions))
	for _, id := range mentions {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, mentionSegment(id))
	}
	return out
}

// mentionSegment is the at segment for a mentioned Yunhu id, which the
// core maps to its OneBot number; "all" (how an @everyone would be
// addressed) stays qq=all.
func mentionSegment(id string) segment.Segment {
	if id == segment.AtAllQQ {
		return segment.AtAll()
	}
	return segment.At(id)
}

// findMention finds the first "@name" at or after from for one of names,
// preferring the earliest and then the longest; failing that, the next
// "@" followed by a word (up to white space). It returns the span, or
// -1, -1.
func findMention(text string, from int, names []string) (start, end int) {
	start, end = -1, -1
	rest := text[from:]
	for _, n := range names {
		if n == "" {
			continue
		}
		for off := 0; ; {
			i := strings.Index(rest[off:], "@"+n)
			if i < 0 {
				break
			}
			i += off
			e := i + 1 + len(n)
			if !boundary(rest[e:]) { // "@Bob" is not a mention of Bob in "@Bobby"
				off = i + 1
				continue
			}
			if start < 0 || from+i < start || (from+i == start && from+e > end) {
				start, end = from+i, from+e
			}
			break
		}
	}
	if start >= 0 {
		return start, end
	}
	for i := 0; i < len(rest); {
		j := strings.IndexByte(rest[i:], '@')
		if j < 0 {
			break
		}
		at := i + j
		w := at + 1
		for w < len(rest) {
			r, size := utf8.DecodeRuneInString(rest[w:])
			if unicode.IsSpace(r) || r == '@' {
				break
			}
			w += size
		}
		if w > at+1 {
			return from + at, from + w
		}
		i = at + 1
	}
	return -1, -1
}

// boundary says whether a mention may end where rest begins: at the end,
// white space or another mention.
func boundary(rest string) bool {
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsSpace(r) || r == '@'
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// itoa is strconv.FormatInt for ids in segment data.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
