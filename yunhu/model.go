package yunhu

import (
	"fmt"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// ChatType is a Yunhu chat kind: ChatTypeUser, ChatTypeGroup or ChatTypeBot.
type ChatType int32

func (t ChatType) String() string {
	switch t {
	case ChatTypeUser:
		return "user"
	case ChatTypeGroup:
		return "group"
	case ChatTypeBot:
		return "bot"
	}
	return fmt.Sprintf("chat_type(%d)", int32(t))
}

// ContentType is a message kind: ContentText, ContentImage, ...
type ContentType int32

// Chat addresses a conversation: a peer user id (private), a group id or a
// bot id, with its kind.
type Chat struct {
	ID   string
	Type ChatType
}

// Content is a message body (§2.1). Which fields are set depends on the
// content type; several fields hold an upload key when sending and a URL when
// receiving.
type Content struct {
	Text     string   // text, markdown, html, A2UI JSON
	Buttons  string   // JSON string of button rows (§2.2.4)
	Mentions []string // @-mentioned user ids

	ImageURL string // received image or sticker URL
	Image    string // send: image key or expression/sticker path; receive: sticker path
	Width    int64
	Height   int64

	FileName string
	FileURL  string // send: file key "disk/…"; receive: URL
	FileSize int64

	VideoURL     string // send: key; receive: URL
	AudioURL     string // send: key; receive: URL
	AudioSeconds int64

	Form string // form JSON

	QuoteText         string
	QuoteImageURL     string
	QuoteImageName    string
	QuoteVideoURL     string
	QuoteVideoSeconds int64

	PostID, PostTitle, PostContent, PostType string

	ExpressionID  string
	StickerItemID int64
	StickerPackID int64

	CallText       string
	CallStatusText string
	BotLLMParams   string
	Tip            string
}

func contentFromPB(p *yunhupb.MsgContent) Content {
	if p == nil {
		return Content{}
	}
	return Content{
		Text: p.GetText(), Buttons: p.GetButtons(), Mentions: p.GetMentionedId(),
		ImageURL: p.GetImageUrl(), Image: p.GetImage(), Width: p.GetWidth(), Height: p.GetHeight(),
		FileName: p.GetFileName(), FileURL: p.GetFileUrl(), FileSize: p.GetFileSize(),
		VideoURL: p.GetVideoUrl(), AudioURL: p.GetAudioUrl(), AudioSeconds: p.GetAudioTime(),
		Form:      p.GetForm(),
		QuoteText: p.GetQuoteMsgText(), QuoteImageURL: p.GetQuoteImageUrl(), QuoteImageName: p.GetQuoteImageName(),
		QuoteVideoURL: p.GetQuoteVideoUrl(), QuoteVideoSeconds: p.GetQuoteVideoTime(),
		PostID: p.GetPostId(), PostTitle: p.GetPostTitle(), PostContent: p.GetPostContent(), PostType: p.GetPostType(),
		ExpressionID: p.GetExpressionId(), StickerItemID: p.GetStickerItemId(), StickerPackID: p.GetStickerPackId(),
		CallText: p.GetCallText(), CallStatusText: p.GetCallStatusText(), BotLLMParams: p.GetBotLlmParams(), Tip: p.GetTip(),
	}
}

func (c *Content) pb() *yunhupb.MsgContent {
	return &yunhupb.MsgContent{
		Text: c.Text, Buttons: c.Buttons, MentionedId: c.Mentions,
		ImageUrl: c.ImageURL, Image: c.Image, Width: c.Width, Height: c.Height,
		FileName: c.FileName, FileUrl: c.FileURL, FileSize: c.FileSize,
		VideoUrl: c.VideoURL, AudioUrl: c.AudioURL, AudioTime: c.AudioSeconds,
		Form:         c.Form,
		QuoteMsgText: c.QuoteText, QuoteImageUrl: c.QuoteImageURL, QuoteImageName: c.QuoteImageName,
		QuoteVideoUrl: c.QuoteVideoURL, QuoteVideoTime: c.QuoteVideoSeconds,
		PostId: c.PostID, PostTitle: c.PostTitle, PostContent: c.PostContent, PostType: c.PostType,
		ExpressionId: c.ExpressionID, StickerItemId: c.StickerItemID, StickerPackId: c.StickerPackID,
		CallText: c.CallText, CallStatusText: c.CallStatusText, BotLlmParams: c.BotLLMParams, Tip: c.Tip,
	}
}

// Tag is a member tag shown next to a sender's name.
type Tag struct {
	ID    int64
	Text  string
	Color string // #AARRGGBB
}

// Sender is the author of a message.
type Sender struct {
	ID        string
	Type      ChatType // ChatTypeUser or ChatTypeBot
	Name      string   // display name (group nickname may apply)
	AvatarURL string
	Tags      []Tag
	OldTags   []string
}

func senderFromPB(p *yunhupb.Sender) Sender {
	if p == nil {
		return Sender{}
	}
	s := Sender{ID: p.GetChatId(), Type: ChatType(p.GetChatType()), Name: p.GetName(), AvatarURL: p.GetAvatarUrl(), OldTags: p.GetTagOld()}
	for _, t := range p.GetTag() {
		s.Tags = append(s.Tags, Tag{ID: t.GetId(), Text: t.GetText(), Color: t.GetColor()})
	}
	return s
}

// Command is the bot command a message invoked.
type Command struct {
	ID   int64
	Name string
	Type int64 // records only: 1 normal, 2 direct-send, 5 custom input
}

// Message is a message from history (list-message*) or from a push.
type Message struct {
	ID     string
	Chat   Chat   // conversation; for pushed private chats see Peer
	RecvID string // pushes only: the receiving account (own echo: the peer)
	Seq    int64  // per-chat sequence

	Sender      Sender
	ContentType ContentType
	Content     Content
	QuoteID     string   // id of the message replied to
	Command     *Command // nil unless a bot command was used

	Time       time.Time // send time
	RecallTime time.Time // zero unless recalled
	EditTime   time.Time // zero unless edited

	// Direction is "right" for the requesting account's own messages in
	// history records; empty for pushes.
	Direction string
}

// Recalled reports whether the message was recalled.
func (m Message) Recalled() bool { return !m.RecallTime.IsZero() }

// Peer returns the conversation to reply to, as seen by the account self
// (§6.3): in private chats the push's chat_id is the receiver, so the peer
// is the sender, or for one's own echoed message the receiver.
func (m Message) Peer(self string) Chat {
	if m.Chat.Type != ChatTypeUser || m.RecvID == "" {
		return m.Chat
	}
	if m.Sender.ID == self {
		return Chat{ID: m.RecvID, Type: ChatTypeUser}
	}
	return Chat{ID: m.Sender.ID, Type: ChatTypeUser}
}

// msTime converts wire milliseconds; 0 stays the zero time.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// secTime converts wire seconds; 0 stays the zero time.
func secTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// messageFromRecord converts a stored record (record numbering, §2.5.1).
func messageFromRecord(chat Chat, r *yunhupb.MessageRecord) Message {
	m := Message{
		ID: r.GetMsgId(), Chat: chat, Seq: r.GetMsgSeq(),
		Sender: senderFromPB(r.GetSender()), ContentType: ContentType(r.GetContentType()),
		Content: contentFromPB(r.GetContent()), QuoteID: r.GetQuoteMsgId(),
		Time: msTime(r.GetSendTime()), RecallTime: msTime(r.GetRecallTime()), EditTime: msTime(r.GetEditTime()),
		Direction: r.GetDirection(),
	}
	if cmd := r.GetCmd(); cmd != nil {
		m.Command = &Command{ID: cmd.GetId(), Name: cmd.GetName(), Type: cmd.GetType()}
	}
	return m
}

// messageFromPush converts a push payload (push numbering, §6.3).
func messageFromPush(p *yunhupb.PushMessage) Message {
	m := Message{
		ID: p.GetMsgId(), Chat: Chat{ID: p.GetChatId(), Type: ChatType(p.GetChatType())}, RecvID: p.GetRecvId(),
		Seq: p.GetMsgSeq(), Sender: senderFromPB(p.GetSender()), ContentType: ContentType(p.GetContentType()),
		Content: contentFromPB(p.GetContent()), QuoteID: p.GetQuoteMsgId(),
		Time: msTime(p.GetTimestamp()), RecallTime: msTime(p.GetDeleteTimestamp()), EditTime: msTime(p.GetEditTime()),
	}
	if cmd := p.GetCmd(); cmd != nil {
		m.Command = &Command{ID: cmd.GetId(), Name: cmd.GetName()}
	}
	return m
}

// Self is the logged-in account (user/info, §3.1).
type Self struct {
	ID             string
	Name           string
	AvatarURL      string
	AvatarID       int64
	Phone          string
	Email          string
	Coin           float64
	VIP            bool
	VIPExpire      time.Time
	InvitationCode string
}

// User is another user's profile (get-user, §3.2).
type User struct {
	ID           string
	Name         string
	NameID       int64
	AvatarURL    string
	RegisterTime string // "YYYY-MM-DD hh:mm:ss" as sent
	OnlineDays   int64
	VIP          bool
	Remark       string // the account's remark for this user
	Introduction string
	Gender       int32 // 1 male, 2 female, 3 other, 0 unknown
	Birthday     int64 // as sent
	City         string
	IPGeo        string
	Medals       []string
}

// Contact is an address-book entry (§3.3).
type Contact struct {
	ID              string
	Type            ChatType
	Name            string // real name when the server sends one, else the display name
	Remark          string // display name as the account sees it
	AvatarURL       string
	PermissionLevel int32 // groups: the account's role
	NoDisturb       bool
}

// AddressBook is the account's contacts by kind (§3.3).
type AddressBook struct {
	Friends []Contact
	Groups  []Contact
	Bots    []Contact
	MD5     string
}

// FriendRequest is a friend, group-join or bot request (§3.4).
type FriendRequest struct {
	ID            int64 // for AgreeApply
	Name          string
	AvatarURL     string
	InviterID     string
	SourceType    ChatType
	TargetType    ChatType // 1 friend, 2 group, 3 bot
	TargetID      string
	ReceiverID    string
	GroupName     string
	BotName       string
	Result        int32 // 0 pending, else the agree value
	InviteTime    time.Time
	ProcessedAt   int64
	ProcessorName string
	Note          string
}

// Conversation is an entry of the conversation list (§3.6).
type Conversation struct {
	Chat         Chat
	Name         string // display name (remark if set)
	RealName     string
	Preview      string
	Time         time.Time
	Unread       int32
	At           bool
	AvatarURL    string
	DoNotDisturb bool
}

// Group is a group as the account sees it (group/info, §4.1).
type Group struct {
	ID              string
	Name            string
	AvatarURL       string
	Introduction    string
	MemberCount     int64
	CreatedBy       string
	Owner           string
	Admins          []string
	PermissionLevel int32 // the account's role
	DirectJoin      bool
	HistoryMsg      bool
	CategoryName    string
	CategoryID      int64
	Private         bool
	HideMembers     bool
	DoNotDisturb    bool
	LimitedMsgTypes string
	MyNickname      string
	GroupCode       string
	CreateTime      time.Time
	AutoDeleteDays  int64
	Bots            []Bot
}

// Bot is a bot as listed in a group (§4.1).
type Bot struct {
	ID           string
	Name         string
	AvatarURL    string
	Introduction string
}

// Member is a group member (§4.2).
type Member struct {
	GroupID         string
	UserID          string
	Name            string
	AvatarURL       string
	VIP             bool
	PermissionLevel int32 // 100 owner, 2 admin, 0 member
	Gagged          bool
	GagUntil        int64 // as sent (unit unknown, §1.5)
}

// GroupSettings is what edit-group overwrites (§4.4); obtain it from
// Group.Settings so that unchanged fields are kept.
type GroupSettings struct {
	GroupID      string
	Name         string
	Introduction string
	AvatarURL    string
	DirectJoin   bool
	HistoryMsg   bool
	CategoryName string
	CategoryID   int64
	Private      bool
	HideMembers  bool
}

// Settings returns g's current editable settings.
func (g *Group) Settings() GroupSettings {
	return GroupSettings{
		GroupID: g.ID, Name: g.Name, Introduction: g.Introduction, AvatarURL: g.AvatarURL,
		DirectJoin: g.DirectJoin, HistoryMsg: g.HistoryMsg, CategoryName: g.CategoryName,
		CategoryID: g.CategoryID, Private: g.Private, HideMembers: g.HideMembers,
	}
}
