// Package wildfire is the WildfireChat (野火IM) community im-server client:
// the signed robot API, the admin API and the callback bodies.
//
// This file declares the client's API so that its users compile; the
// client itself replaces it.
package wildfire

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Options configure a Client.
type Options struct {
	RobotURL             string
	RobotID, RobotSecret string
	AdminURL             string
	AdminSecret          string
	HTTPClient           *http.Client
	Timeout              time.Duration
	Log                  *zap.Logger
	Now                  func() time.Time
}

// Client calls the robot and admin APIs.
type Client struct{ o Options }

// New returns a Client.
func New(o Options) *Client { return &Client{o: o} }

// HasAdmin reports whether the admin API is configured.
func (c *Client) HasAdmin() bool { return c.o.AdminURL != "" && c.o.AdminSecret != "" }

// Sign is the server's request signature.
func Sign(nonce, secret string, timestampMillis int64) string {
	s := sha1.Sum([]byte(nonce + "|" + secret + "|" + strconv.FormatInt(timestampMillis, 10)))
	return hex.EncodeToString(s[:])
}

// APIError is a failure the server answered with.
type APIError struct {
	Code int
	Msg  string
	Path string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wildfire: %s: code %d: %s", e.Path, e.Code, e.Msg)
}

// Is matches the sentinel errors by code.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Path == "" && t.Code == e.Code
}

// The server's error codes as sentinels.
var (
	ErrNotSigned     error = &APIError{Code: 239, Msg: "not signed"}
	ErrSignExpired   error = &APIError{Code: 243, Msg: "sign expired"}
	ErrAuth          error = &APIError{Code: 244, Msg: "auth failure"}
	ErrNoRight       error = &APIError{Code: 248, Msg: "no right"}
	ErrOverFrequency error = &APIError{Code: 250, Msg: "over frequency"}
	ErrInvalidParam  error = &APIError{Code: 251, Msg: "invalid parameter"}
	ErrNotExist      error = &APIError{Code: 253, Msg: "not exist"}
	ErrRecallExpired error = &APIError{Code: 24, Msg: "recall time expired"}
	ErrNoAdmin             = errors.New("wildfire: the admin API is not configured")
)

// Conversation addresses a chat.
type Conversation struct {
	Type   int    `json:"type"`
	Target string `json:"target"`
	Line   int    `json:"line"`
}

// Payload is a message's content.
type Payload struct {
	Type              int      `json:"type"`
	SearchableContent string   `json:"searchableContent,omitempty"`
	PushContent       string   `json:"pushContent,omitempty"`
	PushData          string   `json:"pushData,omitempty"`
	Content           string   `json:"content,omitempty"`
	Base64edData      string   `json:"base64edData,omitempty"`
	MediaType         int      `json:"mediaType,omitempty"`
	RemoteMediaURL    string   `json:"remoteMediaUrl,omitempty"`
	PersistFlag       int      `json:"persistFlag,omitempty"`
	ExpireDuration    int      `json:"expireDuration,omitempty"`
	MentionedType     int      `json:"mentionedType,omitempty"`
	MentionedTarget   []string `json:"mentionedTarget,omitempty"`
	Extra             string   `json:"extra,omitempty"`
}

// SendResult is the answer to a send.
type SendResult struct {
	MessageUID int64
	Timestamp  int64
}

// User is a user's profile.
type User struct {
	UserID, Name, DisplayName, Portrait string
	Gender                              int
	Type                                int
	Extra                               string
}

// Group is a group's info.
type Group struct {
	TargetID, Name, Portrait, Owner string
	Type, MemberCount, Mute         int
	Extra                           string
}

// Member is a group member.
type Member struct {
	MemberID, Alias string
	Type            int
	CreateDt        int64
}

// Message is a callback's OutputMessageData.
type Message struct {
	MessageID int64        `json:"messageId"`
	Sender    string       `json:"sender"`
	Conv      Conversation `json:"conv"`
	Payload   Payload      `json:"payload"`
	ToUsers   []string     `json:"toUsers"`
	Timestamp int64        `json:"timestamp"`
	Client    *struct {
		Platform int    `json:"platform"`
		ClientID string `json:"clientId"`
	} `json:"client"`
}

// ParseMessage parses a message callback's body.
func ParseMessage(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("wildfire: message callback: %w", err)
	}
	if m.MessageID == 0 || m.Sender == "" || m.Conv.Target == "" {
		return Message{}, errors.New("wildfire: message callback: messageId, sender and conv.target are required")
	}
	return m, nil
}

// RecallNotice is OutputRecallMessageData.
type RecallNotice struct {
	Operator   string
	MessageUID int64
	Time       int64
	Message    Message
}

// ParseRecallNotice parses a recall forward's body.
func ParseRecallNotice(body []byte) (RecallNotice, error) {
	var r struct {
		Message   Message `json:"message"`
		UserID    string  `json:"userId"`
		Timestamp int64   `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return RecallNotice{}, fmt.Errorf("wildfire: recall callback: %w", err)
	}
	if r.Message.MessageID == 0 {
		return RecallNotice{}, errors.New("wildfire: recall callback: message.messageId is required")
	}
	return RecallNotice{Operator: r.UserID, MessageUID: r.Message.MessageID, Time: r.Timestamp, Message: r.Message}, nil
}

var errPlaceholder = errors.New("wildfire: client not built yet")

// Send sends a message.
func (c *Client) Send(ctx context.Context, conv Conversation, p Payload) (SendResult, error) {
	return SendResult{}, errPlaceholder
}

// Profile is the robot's profile.
func (c *Client) Profile(ctx context.Context) (User, error) { return User{}, errPlaceholder }

// UserInfo is a user's profile.
func (c *Client) UserInfo(ctx context.Context, userID string) (User, error) {
	return User{}, errPlaceholder
}

// GroupInfo is a group's info.
func (c *Client) GroupInfo(ctx context.Context, groupID string) (Group, error) {
	return Group{}, errPlaceholder
}

// GroupMembers lists a group's members.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]Member, error) {
	return nil, errPlaceholder
}

// KickMembers removes members.
func (c *Client) KickMembers(ctx context.Context, groupID string, userIDs []string) error {
	return errPlaceholder
}

// QuitGroup leaves a group.
func (c *Client) QuitGroup(ctx context.Context, groupID string) error { return errPlaceholder }

// ModifyGroup changes a group setting.
func (c *Client) ModifyGroup(ctx context.Context, groupID string, typ int, value string) error {
	return errPlaceholder
}

// SetAlias sets the robot's alias in a group.
func (c *Client) SetAlias(ctx context.Context, groupID, alias string) error { return errPlaceholder }

// SetCallback registers the callback URL.
func (c *Client) SetCallback(ctx context.Context, url string) error { return errPlaceholder }

// Callback reads the callback URL.
func (c *Client) Callback(ctx context.Context) (string, error) { return "", errPlaceholder }

// DeleteCallback removes the callback URL.
func (c *Client) DeleteCallback(ctx context.Context) error { return errPlaceholder }

// Recall recalls a message through the admin API.
func (c *Client) Recall(ctx context.Context, operator string, messageUID int64) error {
	return errPlaceholder
}

// GetMessage reads a message through the admin API.
func (c *Client) GetMessage(ctx context.Context, messageUID int64) (Message, error) {
	return Message{}, errPlaceholder
}

// FriendIDs lists a user's friends through the admin API.
func (c *Client) FriendIDs(ctx context.Context, userID string) ([]string, error) {
	return nil, errPlaceholder
}

// GroupIDsOf lists a user's groups through the admin API.
func (c *Client) GroupIDsOf(ctx context.Context, userID string) ([]string, error) {
	return nil, errPlaceholder
}
