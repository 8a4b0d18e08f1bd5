package wildfire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Conversation is the server's conv object.
type Conversation struct {
	// Type is 0 private, 1 group (2 chatroom, 3 channel, 4 things, 5
	// secret chat are not used by robots).
	Type int `json:"type"`
	// Target is the peer of a private conversation or the group id. In a
	// private message delivered to a robot it is the robot itself; the
	// peer is the sender.
	Target string `json:"target"`
	// Line is the conversation line, 0 by default.
	Line int `json:"line"`
}

// Payload is the server's MessagePayload. Empty fields are left out of
// requests, as the server's own SDK does.
type Payload struct {
	// Type is the content type: 1 text, 2 voice, 3 image, 5 file, 6
	// video, 7 sticker, 80 recalled, 104–123 group notifications, ….
	Type int `json:"type"`
	// SearchableContent is the text of a text message.
	SearchableContent string `json:"searchableContent,omitempty"`
	// PushContent is the text of a push notification.
	PushContent string `json:"pushContent,omitempty"`
	// PushData is extra push data; a recall notice carries
	// {"messageUid":N} here.
	PushData string `json:"pushData,omitempty"`
	// Content is type-specific text (a recall notice: the operator's uid).
	Content string `json:"content,omitempty"`
	// Base64edData is binary data (thumbnails, notification JSON) in
	// base64.
	Base64edData string `json:"base64edData,omitempty"`
	// MediaType is 1 image, 2 voice, 3 video, 4 file, 7 sticker.
	MediaType int `json:"mediaType,omitempty"`
	// RemoteMediaURL is where the media can be downloaded.
	RemoteMediaURL string `json:"remoteMediaUrl,omitempty"`
	// PersistFlag is 0 none, 1 persist, 3 persist and count, 4
	// transparent.
	PersistFlag int `json:"persistFlag,omitempty"`
	// ExpireDuration is the message lifetime in ms; 0 keeps it.
	ExpireDuration int `json:"expireDuration,omitempty"`
	// MentionedType is 0 none, 1 the users of MentionedTarget, 2 all.
	MentionedType int `json:"mentionedType,omitempty"`
	// MentionedTarget lists the mentioned user ids.
	MentionedTarget []string `json:"mentionedTarget,omitempty"`
	// Extra is free text (a recall notice: the recalled content as JSON).
	Extra string `json:"extra,omitempty"`
}

// SendResult is what a send answers.
type SendResult struct {
	// MessageUID is the server-assigned message uid (exceeds 2^53).
	MessageUID int64 `json:"messageUid"`
	// Timestamp is the server's time of the message in ms.
	Timestamp int64 `json:"timestamp"`
}

// User is a user's public profile (InputOutputUserInfo).
type User struct {
	UserID      string `json:"userId"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Portrait    string `json:"portrait"`
	Gender      int    `json:"gender"`
	// Type is 0 normal, 1 robot.
	Type  int    `json:"type"`
	Extra string `json:"extra"`
}

// Group is a group's info (PojoGroupInfo).
type Group struct {
	TargetID string `json:"target_id"`
	Name     string `json:"name"`
	Portrait string `json:"portrait"`
	Owner    string `json:"owner"`
	Type     int    `json:"type"`
	// MemberCount is max_member_count, which the robot API leaves 0 and
	// the admin API fills with the current member count.
	MemberCount int `json:"max_member_count"`
	// Mute is 1 while the whole group is muted.
	Mute  int    `json:"mute"`
	Extra string `json:"extra"`
}

// Member is one group member (PojoGroupMember).
type Member struct {
	MemberID string `json:"member_id"`
	Alias    string `json:"alias"`
	// Type is 0 normal, 1 manager, 2 owner, 3 silent, 4 removed, 5 allowed.
	Type int `json:"type"`
	// CreateDt is when the member joined, in ms.
	CreateDt int64  `json:"createDt"`
	Extra    string `json:"extra"`
}

// ClientInfo is the sending client, present in callbacks only when the
// server sets robot.callback_with_client_info.
type ClientInfo struct {
	Platform int    `json:"platform"`
	ClientID string `json:"clientId"`
}

// Message is the server's OutputMessageData: the body of a robot callback
// and the result of /admin/message/get_one.
type Message struct {
	// MessageID is the message uid; it exceeds 2^53.
	MessageID int64        `json:"messageId"`
	Sender    string       `json:"sender"`
	Conv      Conversation `json:"conv"`
	Payload   Payload      `json:"payload"`
	// ToUsers restricts a group message to these members; usually empty.
	ToUsers []string `json:"toUsers,omitempty"`
	// Timestamp is the server's time of the message in ms.
	Timestamp int64       `json:"timestamp"`
	Client    *ClientInfo `json:"client,omitempty"`
}

// wireMessage has pointers where ParseMessage needs to tell a missing field
// from a zero one.
type wireMessage struct {
	MessageID *int64        `json:"messageId"`
	Sender    *string       `json:"sender"`
	Conv      *Conversation `json:"conv"`
	Payload   *Payload      `json:"payload"`
	ToUsers   []string      `json:"toUsers"`
	Timestamp int64         `json:"timestamp"`
	Client    *ClientInfo   `json:"client"`
}

func (w *wireMessage) message() (Message, error) {
	switch {
	case w.MessageID == nil || *w.MessageID == 0:
		return Message{}, errors.New("no messageId")
	case w.Sender == nil || *w.Sender == "":
		return Message{}, errors.New("no sender")
	case w.Conv == nil || w.Conv.Target == "":
		return Message{}, errors.New("no conv target")
	case w.Payload == nil:
		return Message{}, errors.New("no payload")
	}
	return Message{MessageID: *w.MessageID, Sender: *w.Sender, Conv: *w.Conv, Payload: *w.Payload,
		ToUsers: w.ToUsers, Timestamp: w.Timestamp, Client: w.Client}, nil
}

// ParseMessage decodes a callback body (OutputMessageData). It is strict
// about the shape: one JSON object with messageId, sender, conv.target and
// payload, every field of its JSON type; fields it does not know are
// ignored so that newer servers still parse. The caller bounds the size.
func ParseMessage(body []byte) (Message, error) {
	var w wireMessage
	if err := decodeOne(body, &w); err != nil {
		return Message{}, fmt.Errorf("wildfire: message: %w", err)
	}
	m, err := w.message()
	if err != nil {
		return Message{}, fmt.Errorf("wildfire: message: %w", err)
	}
	return m, nil
}

// RecallNotice is the server's OutputRecallMessageData, the body the
// server-wide message.recallmsg.forward.url receives.
type RecallNotice struct {
	// Operator is the uid that recalled the message (userId).
	Operator string
	// MessageUID is the recalled message's uid (message.messageId).
	MessageUID int64
	// Time is when it was recalled, in ms (timestamp).
	Time int64
	// Message is the recalled message as it was.
	Message Message
	// IsAdmin is true when the recall came through the admin API.
	IsAdmin bool
}

// ParseRecallNotice decodes an OutputRecallMessageData body, as strictly as
// ParseMessage. The caller bounds the size.
func ParseRecallNotice(body []byte) (RecallNotice, error) {
	var w struct {
		Message   *wireMessage `json:"message"`
		UserID    *string      `json:"userId"`
		Timestamp int64        `json:"timestamp"`
		IsAdmin   bool         `json:"isAdmin"`
	}
	if err := decodeOne(body, &w); err != nil {
		return RecallNotice{}, fmt.Errorf("wildfire: recall notice: %w", err)
	}
	if w.UserID == nil || *w.UserID == "" {
		return RecallNotice{}, errors.New("wildfire: recall notice: no userId")
	}
	if w.Message == nil {
		return RecallNotice{}, errors.New("wildfire: recall notice: no message")
	}
	m, err := w.Message.message()
	if err != nil {
		return RecallNotice{}, fmt.Errorf("wildfire: recall notice: message: %w", err)
	}
	return RecallNotice{Operator: *w.UserID, MessageUID: m.MessageID, Time: w.Timestamp, Message: m,
		IsAdmin: w.IsAdmin}, nil
}

// decodeOne decodes exactly one JSON object from body into v.
func decodeOne(body []byte, v any) error {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
