package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Sending, editing and recalling messages (§2.2–2.4, §8.3). The *Locked
// functions hold the rules; the REST handlers and the Go API in actors.go
// both call them, so another user acting through the Go API is held to the
// same checks as the client.

// newMsgID returns a fresh id in the real format: 32 lowercase hex.
func newMsgID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func textLike(ct int32) bool {
	return ct == yunhu.ContentText || ct == yunhu.ContentMarkdown || ct == yunhu.ContentHTML
}

// targetLocked checks that author may post into (chatID, chatType) with
// content type ct and returns the chat.
func (s *Server) targetLocked(author, chatID string, chatType, ct int32) (*chat, error) {
	_, authorIsBot := s.w.bots[author]
	if chatID == "" {
		return nil, failf("%s", msgBadParams)
	}
	switch chatType {
	case yunhu.ChatTypeUser:
		if authorIsBot {
			return nil, failf("%s", msgBadParams)
		}
		if s.w.users[chatID] == nil {
			return nil, failf("用户不存在")
		}
		if !s.w.users[author].friends[chatID] {
			return nil, failf("%s", msgNotFriend)
		}
	case yunhu.ChatTypeGroup:
		g := s.w.groups[chatID]
		if g == nil {
			return nil, failf("群聊不存在")
		}
		if authorIsBot {
			if !g.bots[author] {
				return nil, failf("%s", msgSelfNotMember)
			}
			break
		}
		m := g.members[author]
		if m == nil {
			return nil, failf("%s", msgSelfNotMember)
		}
		if m.gagged(s.now()) {
			return nil, failf("%s", msgGagged)
		}
		// limited_msg_type applies to every member, admins included [I].
		for _, t := range strings.Split(g.limited, ",") {
			if strings.TrimSpace(t) == fmt.Sprint(ct) {
				return nil, failf("%s", msgLimitedType)
			}
		}
	case yunhu.ChatTypeBot:
		userID, botID := author, chatID
		if authorIsBot {
			userID, botID = chatID, author
		}
		u := s.w.users[userID]
		if u == nil || s.w.bots[botID] == nil {
			return nil, failf("机器人不存在")
		}
		if !u.bots[botID] {
			return nil, failf("%s", msgBotNotAdded)
		}
	default:
		return nil, failf("%s", msgBadParams)
	}
	return s.store.chatOf(author, authorIsBot, chatID, chatType, true), nil
}

// normalizeLocked validates content for its type (§2.2.1) and converts it
// to stored form: the media key moves to the field the receiver reads it
// from (image → image_url, §8.3), and sizes come from media or the upload.
func (s *Server) normalizeLocked(ct int32, in *yunhupb.MsgContent, media *yunhupb.Media) (*yunhupb.MsgContent, error) {
	c := &yunhupb.MsgContent{}
	if in != nil {
		c = proto.Clone(in).(*yunhupb.MsgContent)
	}
	empty := failf("%s", msgEmptyContent)
	switch ct {
	case yunhu.ContentText, yunhu.ContentMarkdown, yunhu.ContentHTML, yunhu.ContentA2UI:
		if c.Text == "" {
			return nil, empty
		}
	case yunhu.ContentImage:
		// The key belongs in field 9; field 3 is accepted as a fallback
		// because the current docs (wrongly) tell clients to use it (§7 #3).
		key := c.Image
		if key == "" {
			key = c.ImageUrl
		}
		if key == "" {
			return nil, empty
		}
		c.ImageUrl, c.Image = key, ""
		obj := s.objects[yunhu.BucketImage+"/"+key]
		if c.Width == 0 && c.Height == 0 {
			c.Width, c.Height = media.GetImageWidth(), media.GetImageHeight()
			if c.Width == 0 && obj != nil {
				c.Width, c.Height = obj.width, obj.height
			}
		}
		s.fillSize(c, media, obj)
	case yunhu.ContentSticker:
		p := c.Image
		if p == "" {
			p = c.ImageUrl
		}
		if p == "" {
			return nil, empty
		}
		c.Image, c.ImageUrl = p, p
	case yunhu.ContentFile:
		if c.FileUrl == "" || c.FileName == "" {
			return nil, empty
		}
		s.fillSize(c, media, s.objects[yunhu.BucketFile+"/"+c.FileUrl])
	case yunhu.ContentVideo:
		if c.VideoUrl == "" {
			return nil, empty
		}
		if c.Width == 0 && c.Height == 0 {
			c.Width, c.Height = media.GetImageWidth(), media.GetImageHeight()
		}
		s.fillSize(c, media, s.objects[yunhu.BucketVideo+"/"+c.VideoUrl])
	case yunhu.ContentAudio:
		if c.AudioUrl == "" {
			return nil, empty
		}
		// "服务端会忽略引用消息相关的参数" for voice (msg.md).
		c.QuoteMsgText, c.QuoteImageUrl, c.QuoteImageName = "", "", ""
		c.QuoteVideoUrl, c.QuoteVideoTime = "", 0
		s.fillSize(c, media, s.objects[yunhu.BucketAudio+"/"+c.AudioUrl])
	case yunhu.ContentForm:
		if c.Form == "" {
			return nil, empty
		}
	case yunhu.ContentPost:
		if c.PostId == "" {
			return nil, empty
		}
	case 0:
		return nil, failf("%s", msgBadParams)
	}
	return c, nil
}

func (s *Server) fillSize(c *yunhupb.MsgContent, media *yunhupb.Media, obj *object) {
	if c.FileSize != 0 {
		return
	}
	c.FileSize = media.GetFileSize()
	if c.FileSize == 0 && obj != nil {
		c.FileSize = int64(len(obj.data))
	}
}

// senderLocked snapshots the author block; in groups the member's group
// nickname and tags apply.
func (s *Server) senderLocked(author string, c *chat) *yunhupb.Sender {
	if b := s.w.bots[author]; b != nil {
		return &yunhupb.Sender{ChatId: b.id, ChatType: yunhu.ChatTypeBot, Name: b.name, AvatarUrl: b.avatar}
	}
	u := s.w.users[author]
	snd := &yunhupb.Sender{ChatId: u.id, ChatType: yunhu.ChatTypeUser, Name: u.name, AvatarUrl: u.avatar}
	if c.typ == yunhu.ChatTypeGroup {
		if m := s.w.groups[c.a].members[author]; m != nil {
			if m.nickname != "" {
				snd.Name = m.nickname
			}
			snd.TagOld = append([]string(nil), m.tagOld...)
			for _, t := range m.tags {
				snd.Tag = append(snd.Tag, proto.Clone(t).(*yunhupb.Tag))
			}
		}
	}
	return snd
}

// sendLocked stores a message from author and pushes it to every session
// of every participant, the author included (the echo, §6.3). A repeated
// msg_id from the same author into the same chat is an idempotent success
// that stores and pushes nothing (§8.3 recommends this, so that clients may
// retry send-message); any other reuse of an id is refused [I].
func (s *Server) sendLocked(author string, req *yunhupb.SendMessageRequest) (*record, error) {
	if req.GetMsgId() == "" {
		return nil, failf("%s", msgBadParams)
	}
	if old := s.store.byID[req.MsgId]; old != nil {
		if old.senderID == author && old.target == req.ChatId && old.chat.typ == req.ChatType {
			return old, nil
		}
		return nil, failf("%s", msgDuplicateID)
	}
	c, err := s.targetLocked(author, req.ChatId, req.ChatType, req.ContentType)
	if err != nil {
		return nil, err
	}
	content, err := s.normalizeLocked(req.ContentType, req.Content, req.Media)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	rec := &record{
		msgID:       req.MsgId,
		senderID:    author,
		senderType:  yunhu.ChatTypeUser,
		sender:      s.senderLocked(author, c),
		target:      req.ChatId,
		contentType: req.ContentType,
		content:     content,
		sendTime:    now,
	}
	if _, ok := s.w.bots[author]; ok {
		rec.senderType = yunhu.ChatTypeBot
	}
	// Unknown quote ids are silently dropped (msg.md: "服务端会自动忽略无效的
	// msg_id"); voice messages ignore quotes altogether.
	if q := s.store.byID[req.QuoteMsgId]; q != nil && q.chat == c && req.ContentType != yunhu.ContentAudio {
		rec.quoteMsgID = q.msgID
	}
	if req.CommandId != 0 {
		rec.cmd = &yunhupb.RecordCmd{Id: req.CommandId}
		if req.CommandId == BotCommandID {
			rec.cmd.Name, rec.cmd.Type = "help", 1
		}
	}
	s.store.append(c, rec)
	s.touchConversationsLocked(rec)
	s.pushRecordLocked(rec)
	return rec, nil
}

func (s *Server) sendMessage(c *call) (any, error) {
	req := &yunhupb.SendMessageRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	_, err := s.sendLocked(c.user.id, req)
	sent := SentMessage{Time: s.now(), UserID: c.user.id, Request: req, Code: yunhu.CodeOK, Msg: yunhu.MsgSuccess}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		sent.Code, sent.Msg = apiErr.Code, apiErr.Msg
	}
	s.sent = append(s.sent, sent)
	s.sentTotal++
	if len(s.sent) > maxLog {
		s.sent = append([]SentMessage(nil), s.sent[len(s.sent)-maxLog/2:]...)
	}
	s.notifyLocked()
	// send-message answers a bare StatusResponse: no seq, no id (§2.2, §7 #28).
	return nil, err
}

// editLocked replaces a message's content (§2.3, §8.3): only the author may
// edit; text, markdown and html are interchangeable, other kinds keep their
// type; the old content goes to the edit history and an edit_message push
// goes to every participant, the author included.
func (s *Server) editLocked(by, msgID string, ct int32, content *yunhupb.MsgContent, quoteMsgID string) error {
	rec := s.store.byID[msgID]
	if rec == nil {
		return failf("%s", msgNoMessage)
	}
	if rec.senderID != by {
		return failf("%s", msgCannotEdit)
	}
	if rec.recallTime != 0 {
		return failf("%s", msgEditRecalled)
	}
	if ct == 0 {
		ct = rec.contentType
	}
	if ct != rec.contentType && !(textLike(ct) && textLike(rec.contentType)) {
		return failf("%s", msgEditKind)
	}
	nc, err := s.normalizeLocked(ct, content, nil)
	if err != nil {
		return err
	}
	now := s.now().UnixMilli()
	s.store.editID++
	rec.edits = append(rec.edits, editEntry{
		id: s.store.editID, contentType: rec.contentType, contentOld: contentJSON(rec.content), msgTime: now,
	})
	rec.content, rec.contentType, rec.editTime = nc, ct, now
	if q := s.store.byID[quoteMsgID]; q != nil && q.chat == rec.chat {
		rec.quoteMsgID = q.msgID
	}
	s.pushEditLocked(rec)
	return nil
}

func (s *Server) editMessage(c *call) (any, error) {
	req := &yunhupb.SendMessageRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	rec := s.store.byID[req.MsgId]
	if rec != nil && rec.chat != s.store.chatOf(c.user.id, false, req.ChatId, req.ChatType, false) {
		return nil, failf("%s", msgNoMessage)
	}
	return nil, s.editLocked(c.user.id, req.MsgId, req.ContentType, req.Content, req.QuoteMsgId)
}

// recallLocked recalls records atomically: every id is checked before any
// is recalled, so a batch either fully succeeds or changes nothing (§8.3
// leaves the choice open). The author may recall their own messages, group
// owners and admins anyone's in their group [I: from MD3's UI]. Recalling an
// already recalled message succeeds again without a second push [I].
func (s *Server) recallLocked(by string, recs []*record) error {
	for _, rec := range recs {
		if rec.senderID == by {
			continue
		}
		if rec.chat.typ == yunhu.ChatTypeGroup {
			if g := s.w.groups[rec.chat.a]; g != nil && g.level(by) >= yunhu.PermissionAdmin {
				continue
			}
		}
		return failf("%s", msgCannotRecall)
	}
	now := s.now().UnixMilli()
	for _, rec := range recs {
		if rec.recallTime != 0 {
			continue
		}
		rec.recallTime = now
		s.pushRecallLocked(rec, now)
	}
	return nil
}

func (s *Server) recallMessage(c *call) (any, error) {
	req := &yunhupb.RecallMessageRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	if len(req.MsgId) == 0 {
		return nil, failf("%s", msgBadParams)
	}
	ch := s.store.chatOf(c.user.id, false, req.ChatId, req.ChatType, false)
	recs := make([]*record, 0, len(req.MsgId))
	for _, id := range req.MsgId {
		rec := s.store.byID[id]
		if rec == nil || rec.chat != ch {
			return nil, failf("%s", msgNoMessage)
		}
		recs = append(recs, rec)
	}
	return nil, s.recallLocked(c.user.id, recs)
}

// contentJSON renders content the way list-message-edit-record's
// contentOld does: a JSON object with camelCase keys of the set fields.
// Keys are sorted (encoding/json sorts maps) so the output is stable.
func contentJSON(c *yunhupb.MsgContent) string {
	m := map[string]any{}
	c.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			var l []string
			for i := 0; i < v.List().Len(); i++ {
				l = append(l, v.List().Get(i).String())
			}
			m[fd.JSONName()] = l
		case fd.Kind() == protoreflect.StringKind:
			m[fd.JSONName()] = v.String()
		default:
			m[fd.JSONName()] = v.Interface()
		}
		return true
	})
	b, _ := json.Marshal(m)
	return string(b)
}

func (s *Server) listEditRecord(c *call) (any, error) {
	var req struct {
		MsgID string `json:"msgId"`
		Size  int    `json:"size"`
		Page  int    `json:"page"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	type item struct {
		ID          int64  `json:"id"`
		MsgID       string `json:"msgId"`
		ContentType int32  `json:"contentType"`
		ContentOld  string `json:"contentOld"`
		CreateTime  int64  `json:"createTime"`
		MsgTime     int64  `json:"msgTime"`
	}
	list := []item{}
	total := 0
	if rec := s.store.byID[req.MsgID]; rec != nil {
		total = len(rec.edits)
		// Newest edit first [I: order not documented].
		for i := len(rec.edits) - 1; i >= 0; i-- {
			e := rec.edits[i]
			list = append(list, item{ID: e.id, MsgID: rec.msgID, ContentType: e.contentType,
				ContentOld: e.contentOld, CreateTime: rec.sendTime, MsgTime: e.msgTime})
		}
	}
	list = paginate(list, req.Page, s.pageSizeLocked(req.Size))
	if s.noTotal {
		return map[string]any{"list": list}, nil
	}
	return map[string]any{"total": total, "list": list}, nil
}

// paginate returns page (1-based) of size items; size ≤ 0 means 10 [I].
func paginate[T any](all []T, page, size int) []T {
	if size <= 0 {
		size = 10
	}
	if page <= 0 {
		page = 1
	}
	start := (page - 1) * size
	if start >= len(all) {
		return all[:0]
	}
	return all[start:min(start+size, len(all))]
}

func (s *Server) buttonReport(c *call) (any, error) {
	req := &yunhupb.ButtonReportRequest{}
	// Accepted and acknowledged; the request log keeps the body (§8.3).
	return nil, c.decode(req)
}

func (s *Server) deleteMessage(c *call) (any, error) {
	var req struct {
		ChatID   string `json:"chatId"`
		MsgID    string `json:"msgId"`
		ChatType int32  `json:"chatType"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	rec := s.store.byID[req.MsgID]
	if rec == nil || rec.chat != s.store.chatOf(c.user.id, false, req.ChatID, req.ChatType, false) {
		return nil, failf("%s", msgNoMessage)
	}
	// "Delete for me": later lists by this account omit it [I].
	if rec.hiddenFor == nil {
		rec.hiddenFor = make(map[string]bool)
	}
	rec.hiddenFor[c.user.id] = true
	return nil, nil
}

// forwardMessage copies a message into each target chat as a new message by
// the forwarder with a fresh server-chosen id (§2.8, §8.3). Every target is
// checked before any copy is made.
func (s *Server) forwardMessage(c *call) (any, error) {
	var req struct {
		MsgID    string `json:"msgId"`
		ChatType int32  `json:"chatType"`
		Receive  []struct {
			ChatID   string `json:"chatId"`
			ChatType int32  `json:"chatType"`
		} `json:"receive"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	src := s.store.byID[req.MsgID]
	if src == nil || !contains(src.chat.participants(s.w), c.user.id) {
		return nil, failf("%s", msgNoMessage)
	}
	if len(req.Receive) == 0 {
		return nil, failf("%s", msgBadParams)
	}
	for _, t := range req.Receive {
		if _, err := s.targetLocked(c.user.id, t.ChatID, t.ChatType, src.contentType); err != nil {
			return nil, err
		}
	}
	for _, t := range req.Receive {
		fwd := &yunhupb.SendMessageRequest{
			MsgId: newMsgID(), ChatId: t.ChatID, ChatType: t.ChatType,
			Content: src.content, ContentType: src.contentType,
		}
		if _, err := s.sendLocked(c.user.id, fwd); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
