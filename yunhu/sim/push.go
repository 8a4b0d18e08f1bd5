package sim

import (
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Push frames (§6.2–6.7). Every server frame is a PushFrame: INFO (seq,
// cmd) plus an Any-shaped PushData whose value is the payload. Frames are
// built per session because media URLs depend on the host the session
// connected to, and per recipient because private-chat addressing does.

// nextSeqLocked returns a fresh INFO.seq for a server-initiated frame
// (the real ones are opaque strings; clients use 32 hex chars).
func (s *Server) nextSeqLocked() string {
	s.pushCounter++
	return fmt.Sprintf("%032x", s.pushCounter)
}

// frameLocked builds one binary frame; payload nil means INFO only.
func (s *Server) frameLocked(seq, cmd, typeURL string, payload proto.Message) []byte {
	f := &yunhupb.PushFrame{Info: &yunhupb.PushInfo{Seq: seq, Cmd: cmd}}
	if payload != nil {
		v, err := proto.Marshal(payload)
		if err != nil {
			s.log.Error("marshal push payload", zap.String("cmd", cmd), zap.Error(err))
			return nil
		}
		f.Data = &yunhupb.PushData{TypeUrl: typeURL, Value: v}
	}
	b, err := proto.Marshal(f)
	if err != nil {
		s.log.Error("marshal push frame", zap.String("cmd", cmd), zap.Error(err))
		return nil
	}
	return b
}

// pushUserLocked sends a frame built by build(base) to every logged-in
// session of userID. Sessions never block the caller: a full queue drops
// the session (see session.enqueue).
func (s *Server) pushUserLocked(userID string, build func(base string) []byte) {
	for sess := range s.online[userID] {
		if b := build(sess.base); b != nil {
			sess.enqueue(wsFrame{data: b})
		}
	}
}

// pushRecordLocked announces a new message to every participant (§6.3).
func (s *Server) pushRecordLocked(rec *record) {
	for _, uid := range rec.chat.participants(s.w) {
		chatID, recvID := rec.address(uid)
		s.pushUserLocked(uid, func(base string) []byte {
			pm := &yunhupb.PushMessage{
				MsgId:       rec.msgID,
				Sender:      renderSender(rec.sender, base),
				RecvId:      recvID,
				ChatId:      chatID,
				ChatType:    rec.chat.typ,
				Content:     render(rec.content, base),
				ContentType: rec.contentType,
				Timestamp:   rec.sendTime,
				QuoteMsgId:  rec.quoteMsgID,
				MsgSeq:      rec.seq,
			}
			if rec.cmd != nil {
				pm.Cmd = &yunhupb.PushCmd{Id: rec.cmd.Id, Name: rec.cmd.Name}
			}
			return s.frameLocked(s.nextSeqLocked(), yunhu.WSCmdPushMessage, yunhu.TypeURLPushMessage, pm)
		})
	}
}

// pushRecallLocked announces a recall: a push_message with the recalled
// msg_id and msg_seq and delete_timestamp set (§6.4). Whether the real push
// keeps content and whose sender it names is undocumented; the simulator
// blanks the content (so clients cannot come to rely on it) and names the
// original author [I].
func (s *Server) pushRecallLocked(rec *record, now int64) {
	for _, uid := range rec.chat.participants(s.w) {
		chatID, recvID := rec.address(uid)
		s.pushUserLocked(uid, func(base string) []byte {
			pm := &yunhupb.PushMessage{
				MsgId:           rec.msgID,
				Sender:          renderSender(rec.sender, base),
				RecvId:          recvID,
				ChatId:          chatID,
				ChatType:        rec.chat.typ,
				Content:         &yunhupb.MsgContent{},
				ContentType:     rec.contentType,
				Timestamp:       now,
				DeleteTimestamp: now,
				MsgSeq:          rec.seq,
			}
			return s.frameLocked(s.nextSeqLocked(), yunhu.WSCmdPushMessage, yunhu.TypeURLPushMessage, pm)
		})
	}
}

// pushEditLocked sends edit_message with only the fields §6.5 lists: no
// sender, no chat_type, no msg_seq; recv_id equals chat_id; content carries
// text, buttons and quote_msg_text only.
func (s *Server) pushEditLocked(rec *record) {
	for _, uid := range rec.chat.participants(s.w) {
		chatID, _ := rec.address(uid)
		s.pushUserLocked(uid, func(string) []byte {
			pm := &yunhupb.PushMessage{
				MsgId:  rec.msgID,
				RecvId: chatID,
				ChatId: chatID,
				Content: &yunhupb.MsgContent{
					Text:         rec.content.GetText(),
					Buttons:      rec.content.GetButtons(),
					QuoteMsgText: rec.content.GetQuoteMsgText(),
				},
				ContentType: rec.contentType,
				QuoteMsgId:  rec.quoteMsgID,
				EditTime:    rec.editTime,
			}
			return s.frameLocked(s.nextSeqLocked(), yunhu.WSCmdEditMessage, yunhu.TypeURLPushMessage, pm)
		})
	}
}

// pushStreamLocked sends a stream_message chunk (§6.6) to the participants.
func (s *Server) pushStreamLocked(rec *record, text string) {
	for _, uid := range rec.chat.participants(s.w) {
		chatID, recvID := rec.address(uid)
		s.pushUserLocked(uid, func(string) []byte {
			return s.frameLocked(s.nextSeqLocked(), yunhu.WSCmdStreamMessage, yunhu.TypeURLStreamMessage,
				&yunhupb.StreamMessage{MsgId: rec.msgID, RecvId: recvID, ChatId: chatID, Content: text})
		})
	}
}

// pushInviteLocked sends the bare invite_apply notice (§6.7): INFO only,
// the client has to fetch request-list to learn what it is about.
func (s *Server) pushInviteLocked(userIDs ...string) {
	for _, uid := range userIDs {
		s.pushUserLocked(uid, func(string) []byte {
			return s.frameLocked(s.nextSeqLocked(), yunhu.WSCmdInviteApply, "", nil)
		})
	}
}

// conv is one user's conversation-list state for a chat (§3.6).
type conv struct {
	chat    *chat
	preview string
	tsMs    int64
	unread  int32
	at      bool
	atData  *yunhupb.AtData
}

// touchConversationsLocked updates every participant's conversation entry
// for a new message: preview and time for all, unread and @ for everyone
// but the author.
func (s *Server) touchConversationsLocked(rec *record) {
	for _, uid := range rec.chat.participants(s.w) {
		u := s.w.users[uid]
		cv := u.convs[rec.chat.key]
		if cv == nil {
			cv = &conv{chat: rec.chat}
			u.convs[rec.chat.key] = cv
		}
		cv.preview, cv.tsMs = preview(rec.contentType, rec.content), rec.sendTime
		if uid == rec.senderID {
			continue
		}
		cv.unread++
		if contains(rec.content.GetMentionedId(), uid) {
			cv.at = true
			cv.atData = &yunhupb.AtData{
				MentionedId:   uid,
				MentionedName: u.name,
				MentionedIn:   rec.chat.viewID(uid),
				MentionerId:   rec.senderID,
				MentionerName: rec.sender.GetName(),
				MsgSeq:        rec.seq,
			}
		}
	}
}
