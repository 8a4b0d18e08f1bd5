package segment

import "strings"

// Segment types of OneBot v11 (shared/reference/onebot-11/message/segment.md)
// and the extensions this bridge adds for what Yunhu can show and QQ cannot.
const (
	TypeText      = "text"
	TypeFace      = "face"
	TypeImage     = "image"
	TypeRecord    = "record"
	TypeVideo     = "video"
	TypeAt        = "at"
	TypeRPS       = "rps"
	TypeDice      = "dice"
	TypeShake     = "shake"
	TypePoke      = "poke"
	TypeAnonymous = "anonymous"
	TypeShare     = "share"
	TypeContact   = "contact"
	TypeLocation  = "location"
	TypeMusic     = "music"
	TypeReply     = "reply"
	TypeForward   = "forward"
	TypeNode      = "node"
	TypeXML       = "xml"
	TypeJSON      = "json"

	// TypeMarkdown is a Yunhu markdown message; data.content holds the
	// source. Lagrange and Shamrock use the same type and key.
	TypeMarkdown = "markdown"
	// TypeHTML is a Yunhu HTML message; data.content holds the markup.
	TypeHTML = "html"
	// TypeFile is a file attachment: data.file is a path, URL or base64://
	// as for images, data.name the file name shown to users.
	TypeFile = "file"
	// TypeButton attaches buttons to the message it is part of;
	// data.buttons is the JSON text of Yunhu's rows of buttons, e.g.
	// [[{"text":"Open","actionType":1,"url":"https://…"}]].
	TypeButton = "button"
	// TypeForm is a Yunhu bot form; data.form is its JSON text.
	TypeForm = "form"
)

// AtAllQQ is the at.qq value that mentions everyone.
const AtAllQQ = "all"

func seg(typ string, kv ...string) Segment {
	d := make([]Pair, len(kv)/2)
	for i := range d {
		d[i] = Pair{kv[2*i], kv[2*i+1]}
	}
	return Segment{Type: typ, Data: d}
}

// Text returns a text segment holding s, unescaped.
func Text(s string) Segment { return Segment{TypeText, []Pair{{"text", s}}} }

// Face returns a QQ emoji segment with the given face id.
func Face(id string) Segment { return seg(TypeFace, "id", id) }

// Image returns an image segment. file is a received file name, a file://
// URI, an http(s) URL or base64:// data.
func Image(file string) Segment { return seg(TypeImage, "file", file) }

// Record returns a voice segment; file takes the same forms as for Image.
func Record(file string) Segment { return seg(TypeRecord, "file", file) }

// Video returns a short-video segment; file takes the same forms as for
// Image.
func Video(file string) Segment { return seg(TypeVideo, "file", file) }

// At returns a mention of the user qq, or of everyone when qq is AtAllQQ.
func At(qq string) Segment { return seg(TypeAt, "qq", qq) }

// AtAll returns a mention of everyone.
func AtAll() Segment { return At(AtAllQQ) }

// RPS returns a rock-paper-scissors magic emoji segment.
func RPS() Segment { return Segment{Type: TypeRPS} }

// Dice returns a dice magic emoji segment.
func Dice() Segment { return Segment{Type: TypeDice} }

// Shake returns a window-shake segment.
func Shake() Segment { return Segment{Type: TypeShake} }

// Poke returns a poke segment of the given type and id.
func Poke(typ, id string) Segment { return seg(TypePoke, "type", typ, "id", id) }

// Anonymous returns the segment that asks for the message to be sent
// anonymously.
func Anonymous() Segment { return Segment{Type: TypeAnonymous} }

// Share returns a link-share segment.
func Share(url, title string) Segment { return seg(TypeShare, "url", url, "title", title) }

// Contact returns a recommendation of a user (typ "qq") or a group (typ
// "group").
func Contact(typ, id string) Segment { return seg(TypeContact, "type", typ, "id", id) }

// Location returns a location segment; lat and lon are decimal degrees.
func Location(lat, lon string) Segment { return seg(TypeLocation, "lat", lat, "lon", lon) }

// Music returns a music-share segment for a song of a platform ("qq",
// "163", "xm").
func Music(typ, id string) Segment { return seg(TypeMusic, "type", typ, "id", id) }

// CustomMusic returns a custom music-share segment.
func CustomMusic(url, audio, title string) Segment {
	return seg(TypeMusic, "type", "custom", "url", url, "audio", audio, "title", title)
}

// Reply returns a reply segment quoting the message with the given id.
func Reply(id string) Segment { return seg(TypeReply, "id", id) }

// Forward returns a received merged-forward segment.
func Forward(id string) Segment { return seg(TypeForward, "id", id) }

// Node returns a forward node that re-sends the message with the given id.
func Node(id string) Segment { return seg(TypeNode, "id", id) }

// CustomNode returns a forward node with its own sender and content.
// content is a CQ string or the JSON text of a segment array; see
// DecodeContent.
func CustomNode(userID, nickname, content string) Segment {
	return seg(TypeNode, "user_id", userID, "nickname", nickname, "content", content)
}

// XML returns an XML card segment.
func XML(data string) Segment { return seg(TypeXML, "data", data) }

// JSON returns a JSON card segment.
func JSON(data string) Segment { return seg(TypeJSON, "data", data) }

// Markdown returns a markdown segment.
func Markdown(content string) Segment { return seg(TypeMarkdown, "content", content) }

// HTML returns an HTML segment.
func HTML(content string) Segment { return seg(TypeHTML, "content", content) }

// File returns a file segment; name may be empty to let the receiver derive
// it from file.
func File(file, name string) Segment {
	if name == "" {
		return seg(TypeFile, "file", file)
	}
	return seg(TypeFile, "file", file, "name", name)
}

// Button returns a button segment; buttons is the JSON text of Yunhu's rows
// of buttons.
func Button(buttons string) Segment { return seg(TypeButton, "buttons", buttons) }

// Form returns a Yunhu form segment; form is its JSON text.
func Form(form string) Segment { return seg(TypeForm, "form", form) }

// AppendText appends s to m as text: merged into a text segment already at
// the end, so that text stays one segment, and nothing when s is empty.
func AppendText(m Message, s string) Message {
	if s == "" {
		return m
	}
	if n := len(m); n > 0 && m[n-1].Type == TypeText {
		m[n-1] = Text(m[n-1].Value("text") + s)
		return m
	}
	return append(m, Text(s))
}

// Mention is one mention to place in a text: the at segment's qq and the
// names it may be written as after "@" (the first found wins).
type Mention struct {
	QQ    string
	Names []string
}

// PlaceMentions splits text around its mentions, for platforms whose
// mentions live in the text as "@name" beside a list of ids: each becomes
// an at segment where its "@name" stands (the earliest of its names, in
// the order given, each after the last), taking the single space clients
// write after it; a mention whose name is not found leads the message.
// It is linear in len(text) times the names.
func PlaceMentions(text string, mentions []Mention) Message {
	var lead, body Message
	rest := text
	for _, mt := range mentions {
		at, end := -1, 0
		for _, n := range mt.Names {
			if n == "" {
				continue
			}
			if i := strings.Index(rest, "@"+n); i >= 0 && (at < 0 || i < at) {
				at, end = i, i+1+len(n)
			}
		}
		if at < 0 {
			lead = append(lead, At(mt.QQ))
			continue
		}
		body = AppendText(body, rest[:at])
		body = append(body, At(mt.QQ))
		rest = rest[end:]
		if strings.HasPrefix(rest, " ") {
			rest = rest[1:]
		}
	}
	body = AppendText(body, rest)
	return append(lead, body...)
}
