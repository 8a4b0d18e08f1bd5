// Package wukongim is the WuKongIM v2 client: the HTTP API and the
// WebSocket JSON-RPC receive connection. It knows nothing of OneBot.
//
// This file declares the package's types and signatures only, so that
// the backend over it builds before the client itself lands; the client
// replaces it.
package wukongim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// errPlaceholder is what every call of this declaration-only file answers.
var errPlaceholder = errors.New("wukongim: client not built in")

// HTTPOptions configure an HTTP API client.
type HTTPOptions struct {
	BaseURL    string
	HTTPClient *http.Client
	Timeout    time.Duration
	Log        *zap.Logger
}

// HTTP is the WuKongIM HTTP API client.
type HTTP struct{ o HTTPOptions }

// NewHTTP returns an HTTP API client.
func NewHTTP(o HTTPOptions) *HTTP { return &HTTP{o: o} }

// Header is a message's flags.
type Header struct{ NoPersist, RedDot, SyncOnce bool }

// Message is one stored or pushed message.
type Message struct {
	Header      Header
	MessageID   int64
	MessageSeq  int64
	ClientMsgNo string
	FromUID     string
	ChannelID   string
	ChannelType uint8
	Timestamp   int64
	Payload     []byte
}

// SendRequest is an HTTP /message/send.
type SendRequest struct {
	Header      Header
	FromUID     string
	ChannelID   string
	ChannelType uint8
	ClientMsgNo string
	Payload     []byte
}

// SendResult is what /message/send answers.
type SendResult struct {
	MessageID   int64
	ClientMsgNo string
}

// Send posts /message/send.
func (c *HTTP) Send(ctx context.Context, r SendRequest) (SendResult, error) {
	return SendResult{}, errPlaceholder
}

// SyncRequest is a /channel/messagesync.
type SyncRequest struct {
	LoginUID    string
	ChannelID   string
	ChannelType uint8
	StartSeq    int64
	EndSeq      int64
	Limit       int
	PullMode    int
}

// SyncResult is what /channel/messagesync answers.
type SyncResult struct {
	Messages []Message
	More     bool
}

// MessageSync posts /channel/messagesync.
func (c *HTTP) MessageSync(ctx context.Context, r SyncRequest) (SyncResult, error) {
	return SyncResult{}, errPlaceholder
}

// Conversation is one entry of /conversation/sync.
type Conversation struct {
	ChannelID   string
	ChannelType uint8
	Unread      int
	Timestamp   int64
	LastMsgSeq  int64
	Recents     []Message
}

// ConversationSync posts /conversation/sync.
func (c *HTTP) ConversationSync(ctx context.Context, uid string, msgCount int) ([]Conversation, error) {
	return nil, errPlaceholder
}

// MessagesBySeq posts /messages.
func (c *HTTP) MessagesBySeq(ctx context.Context, loginUID, channelID string, channelType uint8, seqs []int64) ([]Message, error) {
	return nil, errPlaceholder
}

// MaxMessageSeq gets /channel/max_message_seq.
func (c *HTTP) MaxMessageSeq(ctx context.Context, loginUID, channelID string, channelType uint8) (int64, error) {
	return 0, errPlaceholder
}

// RegisterToken posts /user/token.
func (c *HTTP) RegisterToken(ctx context.Context, uid, token string, deviceFlag, deviceLevel int) error {
	return errPlaceholder
}

// CreateChannel posts /channel.
func (c *HTTP) CreateChannel(ctx context.Context, channelID string, channelType uint8, subscribers []string) error {
	return errPlaceholder
}

// AddSubscribers posts /channel/subscriber_add.
func (c *HTTP) AddSubscribers(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return errPlaceholder
}

// RemoveSubscribers posts /channel/subscriber_remove.
func (c *HTTP) RemoveSubscribers(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return errPlaceholder
}

// BlacklistAdd posts /channel/blacklist_add.
func (c *HTTP) BlacklistAdd(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return errPlaceholder
}

// BlacklistRemove posts /channel/blacklist_remove.
func (c *HTTP) BlacklistRemove(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return errPlaceholder
}

// APIError is a failure the HTTP API answered.
type APIError struct {
	Status int
	Msg    string
	Path   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wukongim: %s: status %d: %s", e.Path, e.Status, e.Msg)
}

// ErrNotFound is wrapped by a 404-status answer.
var ErrNotFound = errors.New("wukongim: not found")

// ConnOptions configure the receive connection.
type ConnOptions struct {
	URL            string
	UID            string
	Token          string
	DeviceFlag     int
	DeviceID       string
	PingInterval   time.Duration
	ConnectTimeout time.Duration
	Backoff        func(attempt int) time.Duration
	Log            *zap.Logger
}

// Conn is the WebSocket JSON-RPC receive connection.
type Conn struct{ o ConnOptions }

// NewConn returns a Conn.
func NewConn(o ConnOptions) *Conn { return &Conn{o: o} }

// Run connects and reconnects until ctx is done.
func (c *Conn) Run(ctx context.Context, on func(Event)) error { return errPlaceholder }

// Event is what Run reports.
type Event interface{ event() }

// Connected is a connect result with reasonCode 1.
type Connected struct{}

// Disconnected says the reader ended.
type Disconnected struct{ Err error }

// Recv is a push; the receiver acknowledges it once durable.
type Recv struct {
	Message Message
	Ack     Ack
}

// Kicked is a disconnect with reasonCode 12.
type Kicked struct {
	ReasonCode int
	Reason     string
}

func (Connected) event()    {}
func (Disconnected) event() {}
func (Recv) event()         {}
func (Kicked) event()       {}

// Ack names one push for its recvack.
type Ack struct {
	gen        uint64
	messageID  string
	messageSeq int64
}

// Ack sends the recvack of a push.
func (c *Conn) Ack(a Ack) error { return errPlaceholder }

// RPCSendRequest is a JSON-RPC send.
type RPCSendRequest struct {
	Header      Header
	ChannelID   string
	ChannelType uint8
	ClientMsgNo string
	Payload     []byte
}

// RPCSendResult is a JSON-RPC send's result.
type RPCSendResult struct {
	MessageID  int64
	MessageSeq int64
	ReasonCode int
}

// Send sends a message on the live connection.
func (c *Conn) Send(ctx context.Context, r RPCSendRequest) (RPCSendResult, error) {
	return RPCSendResult{}, errPlaceholder
}

// The connection's errors.
var (
	ErrUnauthorized = errors.New("wukongim: token refused")
	ErrOffline      = errors.New("wukongim: not connected")
)

// ReasonError is a send the server refused with a reasonCode.
type ReasonError struct{ Code int }

func (e *ReasonError) Error() string {
	return fmt.Sprintf("wukongim: send refused: reasonCode %d", e.Code)
}
