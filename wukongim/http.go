package wukongim

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// maxReply bounds one HTTP answer. The largest real ones are messagesync
// pages of at most a few hundred messages.
const maxReply = 16 << 20

// HTTPOptions configures an HTTP client. Zero values mean the documented
// default.
type HTTPOptions struct {
	// BaseURL is the HTTP API address, e.g. http://127.0.0.1:5011.
	BaseURL string
	// HTTPClient is used for every call; nil means a private one.
	HTTPClient *http.Client
	// Timeout bounds every call. Default 15 s.
	Timeout time.Duration
	// Log receives debug lines about calls; nil means none.
	Log *zap.Logger
}

// HTTP calls WuKongIM's HTTP API. The API trusts its callers (it has no
// authentication), so it must be reached over loopback or a private network.
// It is safe for concurrent use.
type HTTP struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	log     *zap.Logger
}

// NewHTTP returns an HTTP API client for o.
func NewHTTP(o HTTPOptions) *HTTP {
	c := &HTTP{base: strings.TrimRight(o.BaseURL, "/"), hc: o.HTTPClient, timeout: o.Timeout, log: o.Log}
	if c.timeout <= 0 {
		c.timeout = 15 * time.Second
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: c.timeout}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	return c
}

// envelope is the status wrapper some answers carry (fact 16).
type envelope struct {
	Status *int   `json:"status"`
	Msg    string `json:"msg"`
}

// call sends one request (a JSON POST when body is non-nil, else a GET with
// query) and returns the 200 body once it is known not to be an error
// envelope.
func (c *HTTP) call(ctx context.Context, path string, query url.Values, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	method, u := http.MethodGet, c.base+path
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("wukongim: %s: encode: %w", path, err)
		}
		method, rd = http.MethodPost, bytes.NewReader(b)
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("wukongim: %s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("wukongim: %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("wukongim: %s: read answer: %w", path, err)
	}
	c.log.Debug("wukongim http", zap.String("path", path), zap.Int("http_status", resp.StatusCode),
		zap.Int("bytes", len(data)), zap.Duration("took", time.Since(start)))
	if len(data) > maxReply {
		return nil, fmt.Errorf("wukongim: %s: answer larger than %d bytes", path, maxReply)
	}
	var env envelope
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' && json.Unmarshal(t, &env) != nil {
		// Not JSON after all: a non-200 answer is reported with its
		// text below; a 200 one fails to decode in the caller.
		env = envelope{}
	}
	if resp.StatusCode != http.StatusOK {
		ae := &APIError{Status: resp.StatusCode, Msg: env.Msg, Path: path, HTTPStatus: resp.StatusCode}
		if env.Status != nil {
			ae.Status = *env.Status
		} else {
			ae.Msg = snippet(data)
		}
		return nil, ae
	}
	if env.Status != nil && *env.Status != http.StatusOK {
		return nil, &APIError{Status: *env.Status, Msg: env.Msg, Path: path, HTTPStatus: resp.StatusCode}
	}
	return data, nil
}

// callInto is call plus decoding the answer into out.
func (c *HTTP) callInto(ctx context.Context, path string, query url.Values, body, out any) error {
	data, err := c.call(ctx, path, query, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("wukongim: %s: decode answer: %w", path, err)
	}
	return nil
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// SendRequest is one message for POST /message/send.
type SendRequest struct {
	Header      Header
	FromUID     string
	ChannelID   string // for a private message: the recipient uid
	ChannelType uint8
	ClientMsgNo string // "" lets the server generate one
	Payload     []byte
}

// SendResult is what POST /message/send returns: v2 gives no seq (fact 2).
type SendResult struct {
	MessageID   int64
	ClientMsgNo string
}

type sendBody struct {
	Header      *httpHeader `json:"header,omitempty"`
	FromUID     string      `json:"from_uid"`
	ChannelID   string      `json:"channel_id"`
	ChannelType uint8       `json:"channel_type"`
	ClientMsgNo string      `json:"client_msg_no,omitempty"`
	Payload     []byte      `json:"payload,omitempty"` // empty: omitted, the server answers its own 400
}

// Send stores and pushes a message as FromUID via POST /message/send. The
// server checks neither membership nor the blacklist on this path (fact 13).
func (c *HTTP) Send(ctx context.Context, r SendRequest) (SendResult, error) {
	var out struct {
		Data struct {
			ClientMsgNo string `json:"client_msg_no"`
			MessageID   int64  `json:"message_id"`
		} `json:"data"`
	}
	err := c.callInto(ctx, "/message/send", nil, sendBody{
		Header: r.Header.toHTTP(), FromUID: r.FromUID, ChannelID: r.ChannelID, ChannelType: r.ChannelType,
		ClientMsgNo: r.ClientMsgNo, Payload: r.Payload,
	}, &out)
	if err != nil {
		return SendResult{}, err
	}
	if out.Data.MessageID == 0 {
		return SendResult{}, fmt.Errorf("wukongim: /message/send: answer without message_id")
	}
	return SendResult{MessageID: out.Data.MessageID, ClientMsgNo: out.Data.ClientMsgNo}, nil
}

// Pull modes of messagesync (fact 4).
const (
	PullDown = 0 // older: from StartSeq downwards
	PullUp   = 1 // newer: from StartSeq upwards
)

// SyncRequest is a window of POST /channel/messagesync. StartSeq is
// inclusive and EndSeq exclusive (0: no bound); with StartSeq 0 both modes
// return the newest Limit messages (fact 4).
type SyncRequest struct {
	LoginUID    string // required by the server, not permission-checked
	ChannelID   string // for a private channel: the peer uid
	ChannelType uint8
	StartSeq    int64
	EndSeq      int64
	Limit       int
	PullMode    int // PullDown or PullUp
}

// SyncResult is one messagesync page, in ascending seq order.
type SyncResult struct {
	Messages []Message
	More     bool // the window was truncated at Limit
}

type syncBody struct {
	LoginUID    string `json:"login_uid,omitempty"`
	ChannelID   string `json:"channel_id"`
	ChannelType uint8  `json:"channel_type"`
	StartSeq    int64  `json:"start_message_seq"`
	EndSeq      int64  `json:"end_message_seq"`
	Limit       int    `json:"limit"`
	PullMode    int    `json:"pull_mode"`
}

// messagesReply is the answer of messagesync and /messages.
type messagesReply struct {
	More     int           `json:"more"`
	Messages []httpMessage `json:"messages"`
}

// MessageSync reads a window of a channel's messages.
func (c *HTTP) MessageSync(ctx context.Context, r SyncRequest) (SyncResult, error) {
	const path = "/channel/messagesync"
	var out messagesReply
	err := c.callInto(ctx, path, nil, syncBody{
		LoginUID: r.LoginUID, ChannelID: r.ChannelID, ChannelType: r.ChannelType,
		StartSeq: r.StartSeq, EndSeq: r.EndSeq, Limit: r.Limit, PullMode: r.PullMode,
	}, &out)
	if err != nil {
		return SyncResult{}, err
	}
	msgs, err := httpMessages(out.Messages)
	if err != nil {
		return SyncResult{}, fmt.Errorf("wukongim: %s: %w", path, err)
	}
	return SyncResult{Messages: msgs, More: out.More != 0}, nil
}

// Conversation is one entry of POST /conversation/sync. ChannelID of a
// private conversation is the peer uid; its Recents keep the as-addressed
// channel id (fact 5).
type Conversation struct {
	ChannelID   string
	ChannelType uint8
	Unread      int
	Timestamp   int64 // unix seconds of the last message
	LastMsgSeq  int64
	Recents     []Message // newest first
}

type conversationReply struct {
	ChannelID   string        `json:"channel_id"`
	ChannelType uint8         `json:"channel_type"`
	Unread      int           `json:"unread"`
	Timestamp   int64         `json:"timestamp"`
	LastMsgSeq  int64         `json:"last_msg_seq"`
	Recents     []httpMessage `json:"recents"`
}

// ConversationSync lists uid's conversations with up to msgCount recent
// messages each.
func (c *HTTP) ConversationSync(ctx context.Context, uid string, msgCount int) ([]Conversation, error) {
	const path = "/conversation/sync"
	var out []conversationReply
	err := c.callInto(ctx, path, nil, struct {
		UID      string `json:"uid,omitempty"`
		MsgCount int    `json:"msg_count"`
	}{uid, msgCount}, &out)
	if err != nil {
		return nil, err
	}
	convs := make([]Conversation, 0, len(out))
	for i, r := range out {
		rec, err := httpMessages(r.Recents)
		if err != nil {
			return nil, fmt.Errorf("wukongim: %s: conversation %d: %w", path, i, err)
		}
		convs = append(convs, Conversation{
			ChannelID: r.ChannelID, ChannelType: r.ChannelType, Unread: r.Unread,
			Timestamp: r.Timestamp, LastMsgSeq: r.LastMsgSeq, Recents: rec,
		})
	}
	return convs, nil
}

// MessagesBySeq reads the given seqs of a channel via POST /messages; seqs
// that do not exist are skipped. A private channel needs loginUID plus the
// peer uid (§1.7); for a group loginUID may be "".
func (c *HTTP) MessagesBySeq(ctx context.Context, loginUID, channelID string, channelType uint8, seqs []int64) ([]Message, error) {
	const path = "/messages"
	if seqs == nil {
		seqs = []int64{}
	}
	var out messagesReply
	err := c.callInto(ctx, path, nil, struct {
		LoginUID    string  `json:"login_uid,omitempty"`
		ChannelID   string  `json:"channel_id"`
		ChannelType uint8   `json:"channel_type"`
		Seqs        []int64 `json:"message_seqs"`
	}{loginUID, channelID, channelType, seqs}, &out)
	if err != nil {
		return nil, err
	}
	msgs, err := httpMessages(out.Messages)
	if err != nil {
		return nil, fmt.Errorf("wukongim: %s: %w", path, err)
	}
	return msgs, nil
}

// MaxMessageSeq returns a channel's highest seq via GET
// /channel/max_message_seq. A private channel needs loginUID plus the peer
// uid; an unknown channel is ErrNotFound.
func (c *HTTP) MaxMessageSeq(ctx context.Context, loginUID, channelID string, channelType uint8) (int64, error) {
	q := url.Values{"channel_id": {channelID}, "channel_type": {strconv.Itoa(int(channelType))}}
	if loginUID != "" {
		q.Set("login_uid", loginUID)
	}
	var out struct {
		MessageSeq *int64 `json:"message_seq"`
	}
	const path = "/channel/max_message_seq"
	if err := c.callInto(ctx, path, q, nil, &out); err != nil {
		return 0, err
	}
	if out.MessageSeq == nil {
		return 0, fmt.Errorf("wukongim: %s: answer without message_seq", path)
	}
	return *out.MessageSeq, nil
}

// MessageByClientMsgNo finds a message by its client_msg_no via GET
// /message/byclientmsgno; none is ErrNotFound. For a private channel the
// server wants the internal id (PrivateChannelID), not the peer uid (§1.8).
// client_msg_no is not unique (fact 7): the server picks one.
func (c *HTTP) MessageByClientMsgNo(ctx context.Context, channelID string, channelType uint8, clientMsgNo string) (Message, error) {
	const path = "/message/byclientmsgno"
	q := url.Values{"channel_id": {channelID}, "channel_type": {strconv.Itoa(int(channelType))}, "client_msg_no": {clientMsgNo}}
	var out httpMessage
	if err := c.callInto(ctx, path, q, nil, &out); err != nil {
		return Message{}, err
	}
	m, err := out.message()
	if err != nil {
		return Message{}, fmt.Errorf("wukongim: %s: %w", path, err)
	}
	return m, nil
}

// PrivateChannelID returns the server's internal id of the private channel
// between two uids: "A@B" with the uid of the larger crc32-IEEE first
// (§1.8, options.GetFakeChannelIDWith).
func PrivateChannelID(uid1, uid2 string) string {
	if crc32.ChecksumIEEE([]byte(uid1)) > crc32.ChecksumIEEE([]byte(uid2)) {
		return uid1 + "@" + uid2
	}
	return uid2 + "@" + uid1
}

// RegisterToken sets uid's token for one device flag (0 app, 1 web, 2 pc)
// via POST /user/token. Device level 1 (master) kicks a live connection of
// the same uid and flag (§2.8); 0 (slave) allows several.
func (c *HTTP) RegisterToken(ctx context.Context, uid, token string, deviceFlag, deviceLevel int) error {
	_, err := c.call(ctx, "/user/token", nil, struct {
		UID         string `json:"uid"`
		Token       string `json:"token"`
		DeviceFlag  int    `json:"device_flag"`
		DeviceLevel int    `json:"device_level"`
	}{uid, token, deviceFlag, deviceLevel})
	return err
}

// CreateChannel creates (or updates) a channel via POST /channel, with the
// given subscribers when there are any.
func (c *HTTP) CreateChannel(ctx context.Context, channelID string, channelType uint8, subscribers []string) error {
	_, err := c.call(ctx, "/channel", nil, struct {
		ChannelID   string   `json:"channel_id"`
		ChannelType uint8    `json:"channel_type"`
		Subscribers []string `json:"subscribers,omitempty"`
	}{channelID, channelType, subscribers})
	return err
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AddSubscribers adds members to a channel via POST
// /channel/subscriber_add. The server accepts an unknown channel silently.
func (c *HTTP) AddSubscribers(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return c.subscribers(ctx, "/channel/subscriber_add", channelID, channelType, uids)
}

// RemoveSubscribers removes members from a channel via POST
// /channel/subscriber_remove.
func (c *HTTP) RemoveSubscribers(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return c.subscribers(ctx, "/channel/subscriber_remove", channelID, channelType, uids)
}

func (c *HTTP) subscribers(ctx context.Context, path, channelID string, channelType uint8, uids []string) error {
	// An empty list must still be sent as [] so the server answers its
	// own 400 rather than a decode error.
	_, err := c.call(ctx, path, nil, struct {
		ChannelID   string   `json:"channel_id"`
		ChannelType uint8    `json:"channel_type"`
		Subscribers []string `json:"subscribers"`
	}{channelID, channelType, nonNilStrings(uids)})
	return err
}

// BlacklistAdd blacklists uids in a channel via POST /channel/blacklist_add:
// their JSON-RPC sends are refused with reason code 4 (HTTP sends are not
// checked, fact 13).
func (c *HTTP) BlacklistAdd(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return c.blacklist(ctx, "/channel/blacklist_add", channelID, channelType, uids)
}

// BlacklistRemove lifts a blacklisting via POST /channel/blacklist_remove.
func (c *HTTP) BlacklistRemove(ctx context.Context, channelID string, channelType uint8, uids []string) error {
	return c.blacklist(ctx, "/channel/blacklist_remove", channelID, channelType, uids)
}

func (c *HTTP) blacklist(ctx context.Context, path, channelID string, channelType uint8, uids []string) error {
	_, err := c.call(ctx, path, nil, struct {
		ChannelID   string   `json:"channel_id"`
		ChannelType uint8    `json:"channel_type"`
		UIDs        []string `json:"uids"`
	}{channelID, channelType, nonNilStrings(uids)})
	return err
}
