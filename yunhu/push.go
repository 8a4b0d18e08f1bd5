package yunhu

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Push is one event from the push socket. The set is sealed: a type switch
// over the types below is exhaustive.
type Push interface{ push() }

// Connected reports that a push session is logged in and live (its first
// frame arrived). Pushes missed while disconnected are not replayed by the
// server; backfill history from here.
type Connected struct{}

// Disconnected reports the end of a live session; Run reconnects on its own.
type Disconnected struct{ Err error }

// MessagePush is a new message (push_message), including the account's own
// messages echoed from any device (Sender.ID == self).
type MessagePush struct{ Message Message }

// RecallPush announces that a message was recalled: a push_message with a
// delete timestamp (§6.4). Content and Sender are not reliable here.
type RecallPush struct {
	MsgID  string
	Seq    int64 // seq of the recalled message
	Chat   Chat
	RecvID string
	Sender Sender
	Time   time.Time
}

// Peer resolves the conversation as Message.Peer does.
func (r RecallPush) Peer(self string) Chat {
	m := Message{Chat: r.Chat, RecvID: r.RecvID, Sender: r.Sender}
	return m.Peer(self)
}

// EditPush carries the new content of an edited message (§6.5). It has no
// sender and no seq, and in private chats Chat.ID may be either side: resolve
// the conversation from the stored original (by MsgID) when it matters.
type EditPush struct {
	MsgID       string
	Chat        Chat
	RecvID      string
	ContentType ContentType
	Content     Content
	QuoteID     string
	EditTime    time.Time
}

// StreamPush appends Text to a bot's streamed message MsgID (§6.6).
type StreamPush struct {
	MsgID  string
	ChatID string
	RecvID string
	Text   string
}

// InvitePush says a friend/group/bot request arrived; it carries no details,
// so fetch FriendRequests (§6.7).
type InvitePush struct{}

// DraftPush is a draft typed on another device of the account (§6.8).
type DraftPush struct {
	ChatID string
	Input  string
}

// BotBoardPush updates a bot's board in a chat (§6.11).
type BotBoardPush struct {
	BotID       string
	Chat        Chat
	Content     string
	ContentType int32 // 1 text, 2 markdown, 3 html
	BotName     string
	UpdateTime  time.Time
}

// FileSendPush is a desktop peer-to-peer file share signal (§6.9).
type FileSendPush struct {
	SendUserID   string
	UserID       string
	SendType     string
	Data         string
	SendDeviceID string
}

// HangUpPush says a user hung up the call of message MsgID (§6.10).
type HangUpPush struct{ MsgID string }

func (Connected) push()    {}
func (Disconnected) push() {}
func (MessagePush) push()  {}
func (RecallPush) push()   {}
func (EditPush) push()     {}
func (StreamPush) push()   {}
func (InvitePush) push()   {}
func (DraftPush) push()    {}
func (BotBoardPush) push() {}
func (FileSendPush) push() {}
func (HangUpPush) push()   {}

// frame is one decoded server frame.
type frame struct {
	seq, cmd string
	push     Push // nil for heartbeat_ack and unknown cmds
}

// decodeFrame decodes a binary server frame (§6.2): the envelope first, then
// the payload by cmd. An unknown cmd is not an error; it yields no Push.
func decodeFrame(b []byte) (frame, error) {
	var env yunhupb.PushFrame
	if err := proto.Unmarshal(b, &env); err != nil {
		return frame{}, fmt.Errorf("decode frame: %w", err)
	}
	f := frame{seq: env.GetInfo().GetSeq(), cmd: env.GetInfo().GetCmd()}
	payload := env.GetData().GetValue()
	var err error
	switch f.cmd {
	case WSCmdHeartbeatAck:
	case WSCmdInviteApply:
		f.push = InvitePush{}
	case WSCmdPushMessage:
		var p yunhupb.PushMessage
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = pushMessage(&p)
		}
	case WSCmdEditMessage:
		var p yunhupb.PushMessage
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = EditPush{
				MsgID: p.GetMsgId(), Chat: Chat{ID: p.GetChatId(), Type: ChatType(p.GetChatType())}, RecvID: p.GetRecvId(),
				ContentType: ContentType(p.GetContentType()), Content: contentFromPB(p.GetContent()),
				QuoteID: p.GetQuoteMsgId(), EditTime: msTime(p.GetEditTime()),
			}
		}
	case WSCmdStreamMessage:
		var p yunhupb.StreamMessage
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = StreamPush{MsgID: p.GetMsgId(), ChatID: p.GetChatId(), RecvID: p.GetRecvId(), Text: p.GetContent()}
		}
	case WSCmdDraftInput:
		var p yunhupb.DraftInput
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = DraftPush{ChatID: p.GetChatId(), Input: p.GetInput()}
		}
	case WSCmdBotBoard:
		var p yunhupb.BotBoard
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = BotBoardPush{
				BotID: p.GetBotId(), Chat: Chat{ID: p.GetChatId(), Type: ChatType(p.GetChatType())},
				Content: p.GetContent(), ContentType: p.GetContentType(), BotName: p.GetBotName(),
				UpdateTime: msTime(p.GetLastUpdateTime()),
			}
		}
	case WSCmdFileSend:
		var p yunhupb.FileSendMessage
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = FileSendPush{SendUserID: p.GetSendUserId(), UserID: p.GetUserId(), SendType: p.GetSendType(), Data: p.GetData(), SendDeviceID: p.GetSendDeviceId()}
		}
	case WSCmdLiveHangUp:
		var p yunhupb.LiveHangUp
		if err = proto.Unmarshal(payload, &p); err == nil {
			f.push = HangUpPush{MsgID: p.GetMsgId()}
		}
	}
	if err != nil {
		return f, fmt.Errorf("decode %s payload: %w", f.cmd, err)
	}
	return f, nil
}

// pushMessage tells a recall from a new message: a recall is a push_message
// whose delete timestamp is set, and must be checked first (§6.4).
func pushMessage(p *yunhupb.PushMessage) Push {
	if p.GetDeleteTimestamp() != 0 {
		return RecallPush{
			MsgID: p.GetMsgId(), Seq: p.GetMsgSeq(), Chat: Chat{ID: p.GetChatId(), Type: ChatType(p.GetChatType())},
			RecvID: p.GetRecvId(), Sender: senderFromPB(p.GetSender()), Time: msTime(p.GetDeleteTimestamp()),
		}
	}
	return MessagePush{Message: messageFromPush(p)}
}
