package sim

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// The Go API for tests to act as other users and bots. Every call runs the
// same rules and pushes as the matching REST endpoint would for that actor,
// and returns *Error for the business failures the endpoint would answer.

// Message describes a message to inject, addressed the way its author
// would address it in send-message.
type Message struct {
	// From is the author: a user or bot id. Required. SelfID simulates the
	// account writing from another device: the echo reaches the client.
	From string
	// ChatID is the target as the author names it: the peer user id for a
	// private chat, the group id, or the bot id when a user writes to a
	// bot. A bot writing in its private chat with a user names the user.
	ChatID string
	// ChatType is yunhu.ChatTypeUser, ChatTypeGroup or ChatTypeBot; 0 means
	// infer it from ChatID and From.
	ChatType int32
	// ContentType defaults to yunhu.ContentText.
	ContentType int32
	// Content is in send form (media as upload keys, §2.2.1). Fields only
	// the server normally fills (tip, call_status_text, width, ...) may be
	// set too. Nil means {text: Text}.
	Content *yunhupb.MsgContent
	// Text is a shorthand for Content.Text when Content is nil.
	Text string
	// MsgID defaults to a fresh 32-hex id.
	MsgID string
	// QuoteMsgID replies to a message in the same chat; unknown ids are
	// dropped, as the real server does.
	QuoteMsgID string
	// CommandID is a bot command id (see BotCommandID).
	CommandID int64
	// Media is optional upload metadata (width, height, size).
	Media *yunhupb.Media
}

// Record is a stored message.
type Record struct {
	MsgID       string
	Seq         int64  // per-chat msg_seq
	ChatType    int32  // the chat's type
	ChatID      string // as the author addressed it (peer, group or bot id)
	SenderID    string
	SenderType  int32 // 1 user, 3 bot
	ContentType int32
	// Content is in stored form: media fields hold CDN keys, which lists
	// and pushes turn into URLs on the simulator's CDN.
	Content    *yunhupb.MsgContent
	SendTime   int64 // ms
	QuoteMsgID string
	RecallTime int64 // ms; non-zero once recalled
	EditTime   int64 // ms; non-zero once edited
}

func (r *record) export() Record {
	return Record{
		MsgID: r.msgID, Seq: r.seq, ChatType: r.chat.typ, ChatID: r.target,
		SenderID: r.senderID, SenderType: r.senderType, ContentType: r.contentType,
		Content: proto.Clone(r.content).(*yunhupb.MsgContent), SendTime: r.sendTime,
		QuoteMsgID: r.quoteMsgID, RecallTime: r.recallTime, EditTime: r.editTime,
	}
}

func (s *Server) knownActorLocked(id string) error {
	if s.w.users[id] == nil && s.w.bots[id] == nil {
		return fmt.Errorf("sim: unknown actor %q", id)
	}
	return nil
}

// Inject stores a message from another user or a bot and pushes it to every
// participant's sessions, exactly as if the author had called send-message
// (membership, friendship, gag and content checks included).
func (s *Server) Inject(m Message) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownActorLocked(m.From); err != nil {
		return Record{}, err
	}
	req := &yunhupb.SendMessageRequest{
		MsgId: m.MsgID, ChatId: m.ChatID, ChatType: m.ChatType, Content: m.Content,
		ContentType: m.ContentType, CommandId: m.CommandID, QuoteMsgId: m.QuoteMsgID, Media: m.Media,
	}
	if req.MsgId == "" {
		req.MsgId = newMsgID()
	}
	if req.ContentType == 0 {
		req.ContentType = yunhu.ContentText
	}
	if req.Content == nil {
		req.Content = &yunhupb.MsgContent{Text: m.Text}
	}
	if req.ChatType == 0 {
		_, fromBot := s.w.bots[m.From]
		_, toBot := s.w.bots[m.ChatID]
		switch {
		case s.w.groups[m.ChatID] != nil:
			req.ChatType = yunhu.ChatTypeGroup
		case fromBot || toBot:
			req.ChatType = yunhu.ChatTypeBot
		default:
			req.ChatType = yunhu.ChatTypeUser
		}
	}
	rec, err := s.sendLocked(m.From, req)
	if err != nil {
		return Record{}, err
	}
	return rec.export(), nil
}

// Recall recalls a message as user or bot `by` (author, or a group owner or
// admin), pushing the recall to every participant.
func (s *Server) Recall(by, msgID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownActorLocked(by); err != nil {
		return err
	}
	rec := s.store.byID[msgID]
	if rec == nil {
		return failf("%s", msgNoMessage)
	}
	return s.recallLocked(by, []*record{rec})
}

// Edit replaces a message's content as its author and pushes edit_message.
// contentType 0 keeps the current type.
func (s *Server) Edit(by, msgID string, contentType int32, content *yunhupb.MsgContent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.knownActorLocked(by); err != nil {
		return err
	}
	return s.editLocked(by, msgID, contentType, content, "")
}

// StreamAppend appends text to a message, as a bot's streaming output does:
// the stored text grows and a stream_message push carries the chunk (§6.6).
func (s *Server) StreamAppend(msgID, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.store.byID[msgID]
	if rec == nil {
		return failf("%s", msgNoMessage)
	}
	rec.content.Text += text
	s.pushStreamLocked(rec, text)
	return nil
}

// Apply sends a friend request (targetType 1), a group join request (2) or
// adds a bot (3) as user `from`, like /v1/friend/apply. Receivers get an
// invite_apply push. It returns the request id (0 when the action took
// effect at once, e.g. a group with direct join).
func (s *Server) Apply(from, targetID string, targetType int32, note string) (int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyLocked(from, targetID, targetType, note)
}

// Invite invites a user into a group as `inviter`, like /v1/group/invite.
// The invitee gets an invite_apply push and a request to agree to. It
// returns the request id.
func (s *Server) Invite(inviter, inviteeID, groupID string) (int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inviteLocked(inviter, inviteeID, yunhu.ChatTypeUser, groupID)
}

// Agree decides a request as user `by`, like /v1/friend/agree-apply
// (agree: yunhu.AgreeAccept, AgreeReject, ...). Use it to answer requests
// the client sent.
func (s *Server) Agree(by string, requestID, agree int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agreeLocked(by, requestID, agree)
}

// Gag mutes a group member for seconds (0 unmutes, -1 is permanent)
// without permission checks, for setting up scenarios.
func (s *Server) Gag(groupID, userID string, seconds int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.groups[groupID]
	if g == nil || g.members[userID] == nil {
		return failf("%s", msgNotInGroup)
	}
	m := g.members[userID]
	m.gagEver, m.gagUntil = seconds < 0, 0
	if seconds > 0 {
		m.gagUntil = s.now().Unix() + seconds
	}
	return nil
}

// Lookup returns a stored message by id.
func (s *Server) Lookup(msgID string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.store.byID[msgID]
	if rec == nil {
		return Record{}, false
	}
	return rec.export(), true
}

// History returns a chat's records as viewer would list them, oldest
// first: chatID and chatType as viewer names the chat.
func (s *Server) History(viewer, chatID string, chatType int32) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, isBot := s.w.bots[viewer]
	ch := s.store.chatOf(viewer, isBot, chatID, chatType, false)
	if ch == nil {
		return nil
	}
	var out []Record
	for _, r := range ch.visible(s.w, viewer) {
		out = append(out, r.export())
	}
	return out
}

// PushRaw sends arbitrary bytes as a binary frame to every logged-in
// session of userID (for example a frame with an unknown cmd, to check the
// client skips it) and returns how many sessions it was queued for.
func (s *Server) PushRaw(userID string, frame []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sess := range s.online[userID] {
		sess.enqueue(wsFrame{data: append([]byte(nil), frame...)})
		n++
	}
	return n
}

// PushFrame builds a well-formed frame with cmd and an optional payload
// and sends it like PushRaw.
func (s *Server) PushFrame(userID, cmd, typeURL string, payload proto.Message) int {
	s.mu.Lock()
	b := s.frameLocked(s.nextSeqLocked(), cmd, typeURL, payload)
	s.mu.Unlock()
	return s.PushRaw(userID, b)
}
