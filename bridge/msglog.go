package bridge

import (
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// previewRunes is how much of a message's text its log line shows: enough
// to recognise it, never a whole body.
const previewRunes = 40

// marker stands in for a segment a log line cannot show, as go-cqhttp
// prints them.
func marker(typ string) string {
	switch typ {
	case segment.TypeImage:
		return "[图片]"
	case segment.TypeRecord:
		return "[语音]"
	case segment.TypeVideo:
		return "[视频]"
	case segment.TypeFile:
		return "[文件]"
	case segment.TypeFace:
		return "[表情]"
	case segment.TypeReply:
		return "[回复]"
	}
	return "[" + typ + "]"
}

// preview is msg for a log line: its text with media as markers, on one
// line, clipped to previewRunes runes.
func preview(msg segment.Message) string {
	var b strings.Builder
	n := 0
	write := func(s string) bool {
		for _, r := range s {
			if n == previewRunes {
				b.WriteString("…")
				return false
			}
			if r == '\n' || r == '\r' || r == '\t' {
				r = ' '
			}
			if r == utf8.RuneError || r < ' ' {
				continue
			}
			b.WriteRune(r)
			n++
		}
		return true
	}
	for _, s := range msg {
		var text string
		switch s.Type {
		case segment.TypeText, segment.TypeMarkdown, segment.TypeHTML:
			text = s.Value("text")
			if text == "" {
				text = s.Value("content")
			}
		case segment.TypeAt:
			text = "@" + s.Value("qq")
			if name := s.Value("name"); name != "" {
				text = "@" + name
			}
		default:
			text = marker(s.Type)
		}
		if !write(text) {
			break
		}
	}
	return b.String()
}

// chatField names a conversation for a log line.
func chatField(c platform.Conv) zap.Field {
	return zap.String("chat", c.Kind.String()+" "+c.ID)
}

// logReceived prints one info line for a message received (what
// go-cqhttp prints as 收到群消息), when log.messages is on.
func (b *Bridge) logReceived(key platform.Conv, m *platform.Message, id int32, segs segment.Message, backfill bool) {
	if !b.opts.LogMessages {
		return
	}
	ce := b.log.Check(zap.InfoLevel, "message received")
	if ce == nil {
		return
	}
	fields := []zap.Field{chatField(key),
		zap.String("sender", m.Sender.Name+"("+m.Sender.ID+")"),
		zap.Int32("message_id", id), zap.String("text", preview(segs))}
	if backfill {
		fields = append(fields, zap.Bool("backfill", true))
	}
	ce.Write(fields...)
}

// logSent prints one info line for a message the account sent.
func (b *Bridge) logSent(chat platform.Conv, id int32, msg segment.Message) {
	if !b.opts.LogMessages {
		return
	}
	if ce := b.log.Check(zap.InfoLevel, "message sent"); ce != nil {
		ce.Write(chatField(chat), zap.Int32("message_id", id), zap.String("text", preview(msg)))
	}
}
