package sim

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// The message store: one chat per group, per unordered user pair and per
// user–bot pair, each with its own msg_seq counter (§8.3).

type chat struct {
	key  string
	typ  int32  // yunhu.ChatTypeUser, ChatTypeGroup or ChatTypeBot
	a, b string // private: the two user ids; bot chat: user id, bot id; group: group id, ""
	seq  int64  // last seq handed out; recalls and edits do not consume one
	recs []*record
}

// record is one stored message. content is kept in "stored form": media
// fields hold CDN keys (relative paths) that render() turns into URLs for
// whoever reads them, because the URL depends on the host a client used.
type record struct {
	chat        *chat
	msgID       string
	senderID    string
	senderType  int32           // 1 user, 3 bot
	sender      *yunhupb.Sender // snapshot at send time; avatar is a CDN key
	target      string          // chat_id as the author addressed it
	contentType int32
	content     *yunhupb.MsgContent
	sendTime    int64 // ms
	cmd         *yunhupb.RecordCmd
	recallTime  int64 // ms
	quoteMsgID  string
	seq         int64
	editTime    int64 // ms
	edits       []editEntry
	hiddenFor   map[string]bool // /v1/msg/delete: hidden for these users only
}

type editEntry struct {
	id          int64
	contentType int32
	contentOld  string // JSON of the previous content (camelCase keys)
	msgTime     int64  // ms, time of this edit
}

type store struct {
	chats  map[string]*chat
	byID   map[string]*record
	editID int64
}

func newStore() *store {
	return &store{chats: make(map[string]*chat), byID: make(map[string]*record), editID: 1018000}
}

func privateKey(a, b string) (string, string, string) {
	if b < a {
		a, b = b, a
	}
	return "u:" + a + ":" + b, a, b
}

// chatOf returns (creating it if create) the chat a participant means by
// (chatID, chatType): a peer user id, a group id, or a bot id. A bot
// participant addresses its chat with a user by the user's id.
func (st *store) chatOf(participant string, participantIsBot bool, chatID string, chatType int32, create bool) *chat {
	var key, a, b string
	switch chatType {
	case yunhu.ChatTypeUser:
		key, a, b = privateKey(participant, chatID)
	case yunhu.ChatTypeGroup:
		key, a = "g:"+chatID, chatID
	case yunhu.ChatTypeBot:
		a, b = participant, chatID
		if participantIsBot {
			a, b = chatID, participant
		}
		key = "b:" + a + ":" + b
	default:
		return nil
	}
	c := st.chats[key]
	if c == nil && create {
		c = &chat{key: key, typ: chatType, a: a, b: b}
		st.chats[key] = c
	}
	return c
}

// participants returns the users who receive the chat's pushes.
func (c *chat) participants(w *world) []string {
	switch c.typ {
	case yunhu.ChatTypeUser:
		return []string{c.a, c.b}
	case yunhu.ChatTypeBot:
		return []string{c.a}
	case yunhu.ChatTypeGroup:
		g := w.groups[c.a]
		if g == nil {
			return nil
		}
		out := make([]string, 0, len(g.members))
		for _, m := range g.sortedMembers() {
			out = append(out, m.userID)
		}
		return out
	}
	return nil
}

// viewID is the chat id a user uses for this chat: the peer for private
// chats, the group id, or the bot id.
func (c *chat) viewID(userID string) string {
	switch c.typ {
	case yunhu.ChatTypeUser:
		if c.a == userID {
			return c.b
		}
		return c.a
	case yunhu.ChatTypeBot:
		return c.b
	}
	return c.a
}

// address returns push_message chat_id and recv_id for a recipient (§6.3):
// a peer's private message to me carries my id in both; my own private echo
// carries the peer's id in both [I: inferred from MD3]; groups carry the
// group id and the recipient; bot chats carry the bot id and the recipient,
// and my own echo in a bot chat names the bot as recv_id by analogy with
// private echoes [I].
func (r *record) address(recv string) (chatID, recvID string) {
	c := r.chat
	switch c.typ {
	case yunhu.ChatTypeUser:
		if r.senderID == recv {
			peer := c.viewID(recv)
			return peer, peer
		}
		return recv, recv
	case yunhu.ChatTypeBot:
		if r.senderID == recv {
			return c.b, c.b
		}
		return c.b, recv
	}
	return c.a, recv
}

func (st *store) append(c *chat, r *record) {
	c.seq++
	r.seq = c.seq
	r.chat = c
	c.recs = append(c.recs, r)
	st.byID[r.msgID] = r
}

// visible returns the chat's records user may read, oldest first: records
// deleted for that user are hidden, and so is group history from before a
// member joined when the group has history_msg off [I].
func (c *chat) visible(w *world, userID string) []*record {
	var after int64
	if c.typ == yunhu.ChatTypeGroup {
		if g := w.groups[c.a]; g != nil && !g.historyMsg {
			if m := g.members[userID]; m != nil {
				after = m.joinSeq
			}
		}
	}
	out := make([]*record, 0, len(c.recs))
	for _, r := range c.recs {
		if r.seq <= after || r.hiddenFor[userID] {
			continue
		}
		out = append(out, r)
	}
	return out
}

// newestFirst returns recs reversed (recs is oldest first).
func newestFirst(recs []*record) []*record {
	out := make([]*record, len(recs))
	for i, r := range recs {
		out[len(recs)-1-i] = r
	}
	return out
}

// searchSeq returns the index of the first record with seq >= seq.
func searchSeq(recs []*record, seq int64) int {
	return sort.Search(len(recs), func(i int) bool { return recs[i].seq >= seq })
}

// cdnBuckets maps the CDN path kinds to the buckets their keys live in.
// Videos uploaded with the image token land in chat68 (§7 #32), so the
// video CDN falls back to it.
func cdnBuckets(kind string) []string {
	switch kind {
	case "img":
		return []string{yunhu.BucketImage}
	case "file":
		return []string{yunhu.BucketFile}
	case "audio":
		return []string{yunhu.BucketAudio}
	case "video":
		return []string{yunhu.BucketVideo, yunhu.BucketImage}
	}
	return nil
}

func isURL(s string) bool { return strings.Contains(s, "://") }

// cdnURL turns a stored key into a URL on the simulator's CDN.
func cdnURL(base, kind, key string) string {
	if key == "" || isURL(key) {
		return key
	}
	return base + PathCDN + kind + "/" + strings.TrimPrefix(key, "/")
}

// render returns the content as a client receives it: keys become URLs on
// base's CDN (§8.3 "Convert keys to URLs"); sticker paths in field 9 stay
// relative, as on the real service.
func render(c *yunhupb.MsgContent, base string) *yunhupb.MsgContent {
	if c == nil {
		return &yunhupb.MsgContent{}
	}
	out := proto.Clone(c).(*yunhupb.MsgContent)
	out.ImageUrl = cdnURL(base, "img", out.ImageUrl)
	out.FileUrl = cdnURL(base, "file", out.FileUrl)
	out.VideoUrl = cdnURL(base, "video", out.VideoUrl)
	out.AudioUrl = cdnURL(base, "audio", out.AudioUrl)
	return out
}

func renderSender(snd *yunhupb.Sender, base string) *yunhupb.Sender {
	out := proto.Clone(snd).(*yunhupb.Sender)
	out.AvatarUrl = cdnURL(base, "img", out.AvatarUrl)
	return out
}

// toRecord renders a stored message as the list endpoints return it to
// viewer (§2.5.1).
func (r *record) toRecord(viewer, base string) *yunhupb.MessageRecord {
	dir := yunhu.DirectionLeft
	if r.senderID == viewer {
		dir = yunhu.DirectionRight
	}
	return &yunhupb.MessageRecord{
		MsgId:       r.msgID,
		Sender:      renderSender(r.sender, base),
		Direction:   dir,
		ContentType: r.contentType,
		Content:     render(r.content, base),
		SendTime:    r.sendTime,
		Cmd:         r.cmd,
		RecallTime:  r.recallTime,
		QuoteMsgId:  r.quoteMsgID,
		MsgSeq:      r.seq,
		EditTime:    r.editTime,
	}
}

// preview is the conversation-list text for a message [I: the real
// placeholders are not documented; these mirror the app's UI labels].
func preview(contentType int32, c *yunhupb.MsgContent) string {
	switch contentType {
	case yunhu.ContentText, yunhu.ContentMarkdown, yunhu.ContentHTML, yunhu.ContentA2UI:
		return c.GetText()
	case yunhu.ContentImage:
		return "[图片]"
	case yunhu.ContentFile:
		return "[文件]" + c.GetFileName()
	case yunhu.ContentForm:
		return "[表单]"
	case yunhu.ContentPost:
		return "[文章]" + c.GetPostTitle()
	case yunhu.ContentSticker:
		return "[表情]"
	case yunhu.ContentVideo:
		return "[视频]"
	case yunhu.ContentAudio:
		return "[语音]"
	case yunhu.ContentVideoCall, yunhu.ContentVoiceCall:
		return "[通话]"
	}
	return c.GetText()
}
