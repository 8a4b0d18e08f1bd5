package yunhu

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Yunhu's extensions, named in the OneBot style (README "Extensions"):
//
//	delete_msg_batch      {message_ids: [..]} → null
//	forward_msg           {message_id, targets: [{group_id} | {user_id}]} → null
//	click_button          {message_id, value} → null
//	get_msg_edit_history  {message_id} → {total, edits: [{time, content_type, message, raw_message}]}
//
// and forwarding as Yunhu can (send_group_forward_msg,
// send_private_forward_msg). edit_msg is the core's, through Editor.

// Unsupported lists what Yunhu cannot do, with the reason the 1404 gives.
func (b *Backend) Unsupported() map[string]string {
	return map[string]string{
		"get_forward_msg":         "Yunhu has no merged-forward messages: send_*_forward_msg forwards messages one by one and renders custom nodes as one markdown message, so there is no forward id to expand",
		"send_like":               "Yunhu has no profile likes",
		"set_group_whole_ban":     "Yunhu has no mute-all setting for groups; mute members one by one with set_group_ban",
		"set_group_anonymous_ban": "Yunhu has no anonymous members",
		"set_group_anonymous":     "Yunhu has no anonymous chat",
		"set_group_admin":         "the bridge cannot change admins: the Yunhu call for it (group/manage-setting) is only seen in one client and not implemented",
		"set_group_special_title": "Yunhu has no member titles",
		"get_group_honor_info":    "Yunhu has no group honours",
		"get_cookies":             "Yunhu has no web cookies for bots; the account token is not handed out",
		"get_csrf_token":          "Yunhu has no CSRF token",
		"get_credentials":         "Yunhu has no web cookies for bots; the account token is not handed out",
		"get_image":               "the bridge keeps no media files: use the url of the image segment (Yunhu's CDN wants the Referer http://myapp.jwznb.com)",
		"get_record":              "the bridge keeps no media files and converts no audio: use the url of the record segment",
		"set_restart":             "restart the daemon through its service manager",
	}
}

// Actions returns Yunhu's own actions, served on top of host.
func (b *Backend) Actions(host platform.Host) map[string]onebot.ActionFunc {
	x := &extensions{b: b, host: host}
	return map[string]onebot.ActionFunc{
		"delete_msg_batch":         x.deleteMsgBatch,
		"forward_msg":              x.forwardMsg,
		"click_button":             x.clickButton,
		"get_msg_edit_history":     x.getMsgEditHistory,
		"send_group_forward_msg":   x.sendGroupForwardMsg,
		"send_private_forward_msg": x.sendPrivateForwardMsg,
	}
}

// extensions are the actions of Actions.
type extensions struct {
	b    *Backend
	host platform.Host
}

// failed is the action failure of a Yunhu call: retcode 100 carrying
// Yunhu's own explanation when it gave one.
func failed(what string, err error) error {
	return onebot.ErrFailed(what+": "+serverText(err), err)
}

// messageIDParam is the parameter of actions that take one message_id.
type messageIDParam struct {
	MessageID onebot.Int32 `json:"message_id" onebot:"required"`
}

// partIDs are the Yunhu ids a stored OneBot message became, first first.
func partIDs(rec platform.StoredMessage) []string {
	ids := []string{rec.MsgID}
	for _, p := range rec.Parts {
		if p != "" && !slices.Contains(ids, p) {
			ids = append(ids, p)
		}
	}
	return ids
}

// deleteMsgBatch recalls several messages, one Yunhu call per chat.
// Yunhu checks a batch as a whole: either all of a chat's messages are
// recalled or none (one that may not be recalled fails its chat's batch).
func (x *extensions) deleteMsgBatch(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageIDs []onebot.Int32 `json:"message_ids" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if len(p.MessageIDs) == 0 {
		return nil, onebot.ErrBadParams("message_ids: empty")
	}
	var convs []platform.Conv
	byConv := map[platform.Conv][]string{}
	parts := map[platform.Conv][][]string{} // each message's Yunhu ids, first part first
	for _, n := range p.MessageIDs {
		rec, err := x.host.Stored("message_ids", int32(n))
		if err != nil {
			return nil, err
		}
		c := rec.Conv
		if _, ok := byConv[c]; !ok {
			convs = append(convs, c)
		}
		ids := partIDs(rec)
		parts[c] = append(parts[c], ids)
		for _, msgID := range ids {
			if !slices.Contains(byConv[c], msgID) {
				byConv[c] = append(byConv[c], msgID)
			}
		}
	}
	for _, c := range convs {
		// As delete_msg: the account is the operator, one notice per
		// OneBot message.
		var undo []func()
		for _, ids := range parts[c] {
			undo = append(undo, x.host.Recalling(ids))
		}
		if err := x.b.client.RecallBatch(ctx, x.b.chatFor(ctx, c), byConv[c]); err != nil {
			for _, u := range undo {
				u()
			}
			return nil, failed("recall messages in "+c.ID, err)
		}
	}
	return nil, nil
}

// forwardTarget is one chat of forward_msg's targets.
type forwardTarget struct {
	GroupID *onebot.Int64 `json:"group_id"`
	UserID  *onebot.Int64 `json:"user_id"`
}

// resolveConv maps the group_id / user_id pair, the group winning, to a
// conversation; ok is false when neither is given.
func (x *extensions) resolveConv(group, user *onebot.Int64) (conv platform.Conv, ok bool, err error) {
	switch {
	case group != nil:
		conv, err = x.conv(platform.KindGroup, "group_id", int64(*group))
	case user != nil:
		conv, err = x.conv(platform.KindPrivate, "user_id", int64(*user))
	default:
		return conv, false, nil
	}
	return conv, true, err
}

// conv maps a OneBot id parameter to a conversation of kind k.
func (x *extensions) conv(k platform.Kind, param string, n int64) (platform.Conv, error) {
	id, err := x.host.PlatformID(param, n)
	if err != nil {
		return platform.Conv{}, err
	}
	return platform.Conv{Kind: k, ID: id}, nil
}

// forwardMsg copies a message into other chats in one Yunhu call (§2.8).
// The copies' ids are not returned by Yunhu; they arrive as message
// events like any other message of the account.
func (x *extensions) forwardMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageID onebot.Int32    `json:"message_id" onebot:"required"`
		Targets   []forwardTarget `json:"targets" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := x.host.Stored("message_id", int32(p.MessageID))
	if err != nil {
		return nil, err
	}
	if len(p.Targets) == 0 {
		return nil, onebot.ErrBadParams("targets: empty")
	}
	convs := make([]platform.Conv, 0, len(p.Targets))
	for _, t := range p.Targets {
		c, ok, err := x.resolveConv(t.GroupID, t.UserID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, onebot.ErrBadParams("targets: each target needs group_id or user_id")
		}
		convs = append(convs, c)
	}
	chats := make([]yh.Chat, len(convs))
	for i, c := range convs {
		chats[i] = x.b.chatFor(ctx, c)
	}
	src := x.b.chatFor(ctx, rec.Conv)
	if err := x.b.client.Forward(ctx, rec.MsgID, src.Type, chats); err != nil {
		return nil, failed("forward message", err)
	}
	return nil, nil
}

// self is the account's Yunhu id, logging in if need be.
func (x *extensions) self(ctx context.Context) (string, error) {
	if id := x.host.Self().ID; id != "" {
		return id, nil
	}
	id, err := x.b.ensureSelf(ctx)
	if err != nil {
		return "", failed("log in", err)
	}
	return id, nil
}

// clickButton reports a click on a button of a bot's message (actionType
// 3, §2.7): the bot receives value as if the account had clicked.
func (x *extensions) clickButton(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		MessageID onebot.Int32  `json:"message_id" onebot:"required"`
		Value     onebot.String `json:"value" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := x.host.Stored("message_id", int32(p.MessageID))
	if err != nil {
		return nil, err
	}
	self, err := x.self(ctx)
	if err != nil {
		return nil, err
	}
	if err := x.b.client.ButtonReport(ctx, x.b.chatFor(ctx, rec.Conv), rec.MsgID, self, string(p.Value)); err != nil {
		return nil, failed("report button click", err)
	}
	return nil, nil
}

// editHistory is get_msg_edit_history's data: total is Yunhu's count of
// edits; edits are the previous versions, oldest first, each with the
// time it was replaced (seconds).
type editHistory struct {
	Total int         `json:"total"`
	Edits []editEntry `json:"edits"`
}

type editEntry struct {
	Time        int64           `json:"time"`
	ContentType int32           `json:"content_type"`
	Message     json.RawMessage `json:"message"`
	RawMessage  string          `json:"raw_message"`
}

// editHistoryPage and maxEditHistory bound get_msg_edit_history: a
// message edited more than a few hundred times is not a use case.
const (
	editHistoryPage = 50
	maxEditHistory  = 500
)

func (x *extensions) getMsgEditHistory(ctx context.Context, req *onebot.Request) (any, error) {
	var p messageIDParam
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	rec, err := x.host.Stored("message_id", int32(p.MessageID))
	if err != nil {
		return nil, err
	}
	// Yunhu may serve fewer edits than asked on a page that is not the
	// last and may leave total out (yh.CollectPages).
	all, total, err := yh.CollectPages(0, maxEditHistory, func(page int) ([]yh.EditRecord, int, error) {
		return x.b.client.ListEditRecords(ctx, rec.MsgID, page, editHistoryPage)
	}, func(e yh.EditRecord) int64 { return e.ID })
	if err != nil {
		return nil, failed("list edits", err)
	}
	if total == 0 {
		total = len(all)
	}
	slices.SortStableFunc(all, func(a, b yh.EditRecord) int { return cmp.Compare(a.MsgTime, b.MsgTime) })
	out := editHistory{Total: total, Edits: make([]editEntry, 0, len(all))}
	for _, e := range all {
		var c editContent
		if err := json.Unmarshal([]byte(e.ContentOld), &c); err != nil {
			x.b.log.Warn("decode an edit record", zap.Int64("id", e.ID), zap.Error(err))
		}
		segs, err := x.host.Decode(ctx, rec.Conv, Content{Type: yh.ContentType(e.ContentType), Body: c.content()})
		if err != nil {
			return nil, onebot.ErrFailed("convert an edit record", err)
		}
		post, raw := x.b.format(segs)
		out.Edits = append(out.Edits, editEntry{
			Time: time.UnixMilli(e.MsgTime).Unix(), ContentType: e.ContentType, Message: post, RawMessage: raw,
		})
	}
	return out, nil
}

// format renders m as events carry it: post in the configured post
// format (the CQ text as a JSON string, or the segment array), raw the
// CQ text.
func (b *Backend) format(m segment.Message) (post json.RawMessage, raw string) {
	raw = segment.FormatCQ(m)
	if b.array {
		return segment.AppendJSON(nil, m), raw
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as the hub's encoder writes strings
	_ = enc.Encode(raw)      // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), raw
}

// editContent is the previous content in an edit record: MsgContent with
// camelCase keys (§2.6). Numbers may come as JSON numbers or strings.
type editContent struct {
	Text           string       `json:"text"`
	Buttons        string       `json:"buttons"`
	ImageURL       string       `json:"imageUrl"`
	FileName       string       `json:"fileName"`
	FileURL        string       `json:"fileUrl"`
	MentionedID    []string     `json:"mentionedId"`
	Form           string       `json:"form"`
	QuoteMsgText   string       `json:"quoteMsgText"`
	Image          string       `json:"image"`
	PostID         string       `json:"postId"`
	PostTitle      string       `json:"postTitle"`
	PostContent    string       `json:"postContent"`
	PostType       string       `json:"postType"`
	ExpressionID   string       `json:"expressionId"`
	FileSize       onebot.Int64 `json:"fileSize"`
	VideoURL       string       `json:"videoUrl"`
	AudioURL       string       `json:"audioUrl"`
	AudioTime      onebot.Int64 `json:"audioTime"`
	StickerItemID  onebot.Int64 `json:"stickerItemId"`
	StickerPackID  onebot.Int64 `json:"stickerPackId"`
	CallText       string       `json:"callText"`
	CallStatusText string       `json:"callStatusText"`
	Tip            string       `json:"tip"`
}

func (c editContent) content() yh.Content {
	return yh.Content{
		Text: c.Text, Buttons: c.Buttons, Mentions: c.MentionedID, ImageURL: c.ImageURL, Image: c.Image,
		FileName: c.FileName, FileURL: c.FileURL, FileSize: int64(c.FileSize),
		VideoURL: c.VideoURL, AudioURL: c.AudioURL, AudioSeconds: int64(c.AudioTime), Form: c.Form,
		QuoteText: c.QuoteMsgText, PostID: c.PostID, PostTitle: c.PostTitle, PostContent: c.PostContent, PostType: c.PostType,
		ExpressionID: c.ExpressionID, StickerItemID: int64(c.StickerItemID), StickerPackID: int64(c.StickerPackID),
		CallText: c.CallText, CallStatusText: c.CallStatusText, Tip: c.Tip,
	}
}

// forwardParams are send_group_forward_msg's and send_private_forward_msg's;
// messages (go-cqhttp) or message (some NapCat callers) holds the nodes.
type forwardParams struct {
	GroupID  *onebot.Int64   `json:"group_id"`
	UserID   *onebot.Int64   `json:"user_id"`
	Messages json.RawMessage `json:"messages"`
	Message  json.RawMessage `json:"message"`
}

// forwardResult is the data of the forward actions. message_id is the
// first message sent: the rendered custom nodes, or the first forwarded
// copy. There is no forward_id: Yunhu has no merged-forward messages.
type forwardResult struct {
	MessageID int32 `json:"message_id"`
}

func (x *extensions) sendGroupForwardMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p forwardParams
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if p.GroupID == nil {
		return nil, onebot.ErrBadParams("group_id: required")
	}
	conv, err := x.conv(platform.KindGroup, "group_id", int64(*p.GroupID))
	if err != nil {
		return nil, err
	}
	return x.sendForward(ctx, conv, p)
}

func (x *extensions) sendPrivateForwardMsg(ctx context.Context, req *onebot.Request) (any, error) {
	var p forwardParams
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if p.UserID == nil {
		return nil, onebot.ErrBadParams("user_id: required")
	}
	conv, err := x.conv(platform.KindPrivate, "user_id", int64(*p.UserID))
	if err != nil {
		return nil, err
	}
	return x.sendForward(ctx, conv, p)
}

// sendForward sends the nodes in order. Yunhu has no merged-forward
// message, so:
//   - a node with an id forwards that message as Yunhu forwards (a copy
//     in the chat, §2.8);
//   - consecutive custom nodes (name/uin/content) become one markdown
//     message, each node a quote "**name**: content".
//
// Every node is checked before anything is sent.
func (x *extensions) sendForward(ctx context.Context, conv platform.Conv, p forwardParams) (any, error) {
	raw := p.Messages
	if len(raw) == 0 || string(raw) == "null" {
		raw = p.Message
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, onebot.ErrBadParams("messages: required")
	}
	nodes, _, err := segment.Options{}.DecodeJSON(raw)
	if err != nil {
		return nil, onebot.ErrBadParams("%v", err)
	}
	type step struct {
		forward  *platform.StoredMessage // an existing message, or
		markdown string                  // rendered custom nodes
	}
	var (
		steps   []step
		pending []string
	)
	flush := func() {
		if len(pending) > 0 {
			steps = append(steps, step{markdown: strings.Join(pending, "\n\n")})
			pending = nil
		}
	}
	for i, n := range nodes {
		if n.Type != segment.TypeNode {
			return nil, onebot.ErrBadParams("messages[%d]: expected a node segment, got %q", i, n.Type)
		}
		if v := n.Value("id"); v != "" {
			id, ok := n.Int("id")
			if !ok || id <= 0 || id > 1<<31-1 {
				return nil, onebot.ErrBadParams("messages[%d].id: expected a message_id, got %q", i, clip.Bytes(v, 40))
			}
			rec, err := x.host.Stored("node.id", int32(id))
			if err != nil {
				return nil, err
			}
			flush()
			steps = append(steps, step{forward: &rec})
			continue
		}
		content, ok := n.Get("content")
		if !ok {
			return nil, onebot.ErrBadParams("messages[%d]: a node needs id or content", i)
		}
		name := cmp.Or(n.Value("name"), n.Value("nickname"), n.Value("uin"), n.Value("user_id"))
		pending = append(pending, renderNode(name, segment.DecodeContent(content)))
	}
	flush()
	if len(steps) == 0 {
		return nil, onebot.ErrBadParams("messages: no nodes")
	}
	chat := x.b.chatFor(ctx, conv)
	var first int32
	for _, s := range steps {
		if s.forward != nil {
			var newest int64
			if first == 0 {
				newest = x.newestSeq(ctx, chat)
			}
			src := x.b.chatFor(ctx, s.forward.Conv)
			if err := x.b.client.Forward(ctx, s.forward.MsgID, src.Type, []yh.Chat{chat}); err != nil {
				return nil, failed("forward message", err)
			}
			if first == 0 && newest >= 0 {
				first = x.forwardedCopy(ctx, conv, chat, newest)
			}
			continue
		}
		id, _, err := x.host.Send(ctx, conv, segment.Message{segment.Markdown(s.markdown)})
		if err != nil {
			return nil, err
		}
		if first == 0 {
			first = id
		}
	}
	return forwardResult{MessageID: first}, nil
}

// forwardLookback is how many of a chat's newest messages forwardedCopy
// reads to find a copy.
const forwardLookback = 20

// newestSeq returns the seq of chat's newest message (0 for an empty
// chat), or -1 when the chat cannot be read.
func (x *extensions) newestSeq(ctx context.Context, chat yh.Chat) int64 {
	msgs, err := x.b.client.ListMessages(ctx, chat, "", 1)
	if err != nil {
		x.b.log.Warn("forward: read the chat before; the copy's message_id will be 0", zap.String("chat", chat.ID), zap.Error(err))
		return -1
	}
	var seq int64
	for i := range msgs {
		seq = max(seq, msgs[i].Seq)
	}
	return seq
}

// forwardedCopy returns the message_id of the copy a forward just made in
// chat, durable in the core's store (so get_msg and delete_msg work on
// it), or 0 when it cannot be found. Yunhu does not return the copy's id
// (§2.8): it is the account's first message in chat after the newest one
// before the forward (a send of the account's that races with the
// forward may be taken for it).
func (x *extensions) forwardedCopy(ctx context.Context, conv platform.Conv, chat yh.Chat, newest int64) int32 {
	msgs, err := x.b.client.ListMessages(ctx, chat, "", forwardLookback)
	if err != nil {
		x.b.log.Warn("forward: find the copy; its message_id will be 0", zap.String("chat", chat.ID), zap.Error(err))
		return 0
	}
	self, _ := x.self(ctx)
	pick := -1
	for i := range msgs {
		if m := &msgs[i]; m.Seq > newest && m.Sender.ID == self && (pick < 0 || m.Seq < msgs[pick].Seq) {
			pick = i
		}
	}
	if pick < 0 {
		x.b.log.Warn("forward: the copy is not listed; its message_id will be 0", zap.String("chat", chat.ID))
		return 0
	}
	id, err := x.host.MessageID(ctx, conv, msgs[pick].ID)
	if err != nil {
		x.b.log.Warn("forward: store the copy; its message_id will be 0", zap.String("chat", chat.ID), zap.Error(err))
		return 0
	}
	return id
}

// renderNode renders one custom node as a markdown quote: the name in bold,
// then the content, every line quoted. Images with a URL stay images;
// other media show as the labels quotes use.
func renderNode(name string, content segment.Message) string {
	var sb strings.Builder
	for _, s := range content {
		switch s.Type {
		case segment.TypeText:
			sb.WriteString(s.Value("text"))
		case segment.TypeImage:
			u := cmp.Or(s.Value("url"), s.Value("file"))
			if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
				sb.WriteString("![图片](" + u + ")")
			} else {
				sb.WriteString("[图片]")
			}
		case segment.TypeNode:
			sb.WriteString("[聊天记录]")
		default:
			t, _ := quotePreview(segment.Message{s})
			sb.WriteString(t)
		}
	}
	lines := strings.Split(sb.String(), "\n")
	lines[0] = "**" + name + "**: " + lines[0]
	return "> " + strings.Join(lines, "\n> ")
}
