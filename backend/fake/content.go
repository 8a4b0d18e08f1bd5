package fake

import (
	"context"
	"fmt"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// MaxText bounds the text of one message, in bytes, as a real platform
// bounds what it stores.
const MaxText = 16 << 10

// Decode turns the fake's Content into segments: text, at (platform user
// ids, or "all") and image (by URL).
func (b *Backend) Decode(ctx context.Context, conv platform.Conv, content any, names func(string) []string) (segment.Message, error) {
	c, ok := content.(Content)
	if !ok {
		return nil, fmt.Errorf("fake: decode: content %T is not the fake's", content)
	}
	out := make(segment.Message, 0, len(c))
	for _, p := range c {
		switch {
		case p.At != "":
			out = append(out, segment.At(p.At))
		case p.Image != "":
			out = append(out, imageSegment(p.Image))
		case p.Text != "":
			out = append(out, segment.Text(p.Text))
		}
	}
	return out, nil
}

// imageSegment is an image as the fake carries it: by URL.
func imageSegment(url string) segment.Segment {
	s := segment.Image(url)
	s.Set("url", url)
	return s
}

// Encode turns msg into one fake message. It carries text, mentions
// (at), images given by http(s) URL and a reply; any other segment is a
// bad parameter.
func (b *Backend) Encode(ctx context.Context, conv platform.Conv, msg segment.Message, env platform.EncodeEnv) ([]platform.Outgoing, error) {
	var (
		content Content
		body    segment.Message
		quote   string
		size    int
	)
	for i, s := range msg {
		switch s.Type {
		case segment.TypeText:
			t := s.Value("text")
			if t == "" {
				continue
			}
			size += len(t)
			content = append(content, Part{Text: t})
			body = append(body, segment.Text(t))
		case segment.TypeAt:
			qq := s.Value("qq")
			switch {
			case qq == "":
				return nil, platform.BadParamf("message[%d]: at: qq is empty", i)
			case qq == segment.AtAllQQ && conv.Kind != platform.KindGroup:
				return nil, platform.BadParamf("message[%d]: at all: only in a group", i)
			}
			content = append(content, Part{At: qq})
			body = append(body, segment.At(qq))
		case segment.TypeImage:
			url := s.Value("file")
			if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
				return nil, platform.BadParamf("message[%d]: image: the fake platform carries images by http(s) URL only", i)
			}
			content = append(content, Part{Image: url})
			body = append(body, imageSegment(url))
		case segment.TypeReply:
			if quote != "" {
				return nil, platform.BadParamf("message[%d]: reply: a message quotes one message", i)
			}
			if env.Quote == nil {
				return nil, platform.BadParamf("message[%d]: reply: no quoted message", i)
			}
			quote = env.Quote.MsgID
			body = append(segment.Message{segment.Reply(quote)}, body...)
		default:
			return nil, platform.BadParamf("message[%d]: %s: the fake platform cannot carry this segment", i, s.Type)
		}
	}
	if len(content) == 0 {
		return nil, platform.BadParamf("message: nothing the fake platform can send")
	}
	if size > MaxText {
		return nil, platform.BadParamf("message: %d bytes of text, more than the fake platform's %d", size, MaxText)
	}
	return []platform.Outgoing{{
		Conv:    conv,
		Token:   b.newToken(),
		Body:    body,
		Payload: payload{content: content, quote: quote},
	}}, nil
}
