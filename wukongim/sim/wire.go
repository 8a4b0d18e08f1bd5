package sim

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The JSON shapes below keep the real server's key order: responses are
// compared byte for byte against the transcript.

type httpHeader struct {
	NoPersist int `json:"no_persist"`
	RedDot    int `json:"red_dot"`
	SyncOnce  int `json:"sync_once"`
}

type httpMessage struct {
	Header       httpHeader `json:"header"`
	Setting      int        `json:"setting"`
	MessageID    int64      `json:"message_id"`
	MessageIDStr string     `json:"message_idstr"`
	ClientMsgNo  string     `json:"client_msg_no"`
	MessageSeq   int64      `json:"message_seq"`
	FromUID      string     `json:"from_uid"`
	ChannelID    string     `json:"channel_id"`
	ChannelType  uint8      `json:"channel_type"`
	Expire       int        `json:"expire"`
	Timestamp    int64      `json:"timestamp"`
	Payload      []byte     `json:"payload"`
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// toHTTP renders a stored message as /channel/messagesync reads it back:
// red_dot as stored, sync_once never set. The other query endpoints
// (/messages, conversation recents, /message/sync) were only ever seen
// answering red_dot 0; toHTTPNoRed renders that.
func toHTTP(m *message) httpMessage {
	return httpMessage{
		Header:       httpHeader{NoPersist: b2i(m.sent.NoPersist), RedDot: b2i(m.storedRed)},
		MessageID:    m.id,
		MessageIDStr: strconv.FormatInt(m.id, 10),
		ClientMsgNo:  m.clientMsgNo,
		MessageSeq:   m.seq,
		FromUID:      m.from,
		ChannelID:    m.channelID,
		ChannelType:  m.channelType,
		Timestamp:    m.ts,
		Payload:      m.payload,
	}
}

func toHTTPNoRed(m *message) httpMessage {
	h := toHTTP(m)
	h.Header.RedDot = 0
	return h
}

func toHTTPList(ms []*message) []httpMessage {
	out := make([]httpMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, toHTTP(m))
	}
	return out
}

type syncResp struct {
	StartMessageSeq int64         `json:"start_message_seq"`
	EndMessageSeq   int64         `json:"end_message_seq"`
	More            int           `json:"more"`
	Messages        []httpMessage `json:"messages"`
}

type convResp struct {
	ChannelID       string        `json:"channel_id"`
	ChannelType     uint8         `json:"channel_type"`
	Unread          int64         `json:"unread"`
	Timestamp       int64         `json:"timestamp"`
	LastMsgSeq      int64         `json:"last_msg_seq"`
	LastClientMsgNo string        `json:"last_client_msg_no"`
	OffsetMsgSeq    int64         `json:"offset_msg_seq"`
	ReadedToMsgSeq  int64         `json:"readed_to_msg_seq"`
	Version         int64         `json:"version"`
	Recents         []httpMessage `json:"recents"`
}

// rpcHeader is the JSON-RPC header: false flags omitted.
type rpcHeader struct {
	NoPersist bool `json:"noPersist,omitempty"`
	RedDot    bool `json:"redDot,omitempty"`
	SyncOnce  bool `json:"syncOnce,omitempty"`
	Dup       bool `json:"dup,omitempty"`
	End       bool `json:"end,omitempty"`
}

func rpcHdr(h header) *rpcHeader {
	if !h.any() {
		return nil
	}
	return &rpcHeader{NoPersist: h.NoPersist, RedDot: h.RedDot, SyncOnce: h.SyncOnce}
}

type recvParams struct {
	Header      *rpcHeader `json:"header,omitempty"`
	MessageID   string     `json:"messageId"`
	MessageSeq  int64      `json:"messageSeq"`
	ClientMsgNo string     `json:"clientMsgNo,omitempty"`
	Timestamp   int64      `json:"timestamp"`
	ChannelID   string     `json:"channelId"`
	ChannelType uint8      `json:"channelType"`
	FromUID     string     `json:"fromUid"`
	Payload     []byte     `json:"payload"`
}

type notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

type response struct {
	JSONRPC string `json:"jsonrpc"`
	ID      string `json:"id,omitempty"`
	Result  any    `json:"result,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type errorResponse struct {
	JSONRPC string   `json:"jsonrpc"`
	ID      string   `json:"id,omitempty"`
	Error   rpcError `json:"error"`
}

type connectResult struct {
	ServerVersion int   `json:"serverVersion,omitempty"`
	TimeDiff      int64 `json:"timeDiff,omitempty"`
	ReasonCode    int   `json:"reasonCode"`
	NodeID        int   `json:"nodeId"`
}

type sendResult struct {
	Header     *rpcHeader `json:"header,omitempty"`
	MessageID  string     `json:"messageId"`
	MessageSeq int64      `json:"messageSeq"`
	ReasonCode int        `json:"reasonCode"`
}

type disconnectParams struct {
	ReasonCode int    `json:"reasonCode"`
	Reason     string `json:"reason,omitempty"`
}

// Reason codes the simulator produces (WuKongIMGoProto common.go).
const (
	reasonSuccess            = 1
	reasonSubscriberNotExist = 3
	reasonInBlacklist        = 4
	reasonConnectKick        = 12
)

// Kick reasons, verbatim.
const (
	kickOtherDevice   = "login in other device"
	kickTokenReissued = "账号在其他设备上登录"
)

// marshal encodes v the way the real server does (Go's default encoder,
// HTML escaping included). The types above cannot fail to encode.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("wksim: marshal: " + err.Error()) // the types above always encode
	}
	return b
}

func pongFrame(id string) []byte {
	return marshal(response{JSONRPC: "2.0", ID: id})
}

func errorFrame(id, msg string) []byte {
	return marshal(errorResponse{JSONRPC: "2.0", ID: id, Error: rpcError{Code: 0, Message: msg}})
}

func recvFrame(m *message, channelID string, hdr header) []byte {
	return marshal(notification{JSONRPC: "2.0", Method: "recv", Params: recvParams{
		Header:      rpcHdr(hdr),
		MessageID:   strconv.FormatInt(m.id, 10),
		MessageSeq:  m.seq,
		ClientMsgNo: m.clientMsgNo,
		Timestamp:   m.ts,
		ChannelID:   channelID,
		ChannelType: m.channelType,
		FromUID:     m.from,
		Payload:     m.payload,
	}})
}

func disconnectFrame(reason string) []byte {
	return marshal(notification{JSONRPC: "2.0", Method: "disconnect", Params: disconnectParams{ReasonCode: reasonConnectKick, Reason: reason}})
}

// isJSONNull reports whether raw is absent or the literal null.
func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
