package wukongim

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// JSON-RPC wire forms (§4). Field order follows the transcript, so the
// frames this package writes read exactly like the ones captured there.

const jsonrpcVersion = "2.0"

// protoVersion is the connect "version": 5, the latest, as the captured
// clients sent it.
const protoVersion = 5

// Reason codes this package acts on (§4).
const (
	reasonSuccess     = 1
	reasonConnectKick = 12
)

// outRPC is every client → server frame. Requests carry a string id (a
// numeric one wedges the connection, fact 9); recvack is a notification
// and has none.
type outRPC struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	ID      string `json:"id,omitempty"`
	Params  any    `json:"params,omitempty"`
}

type connectParams struct {
	UID             string `json:"uid"`
	Token           string `json:"token"`
	DeviceFlag      int    `json:"deviceFlag"`
	DeviceID        string `json:"deviceId,omitempty"`
	Version         int    `json:"version"`
	ClientTimestamp int64  `json:"clientTimestamp"`
}

type sendParams struct {
	Header      *rpcHeader `json:"header,omitempty"`
	ClientMsgNo string     `json:"clientMsgNo,omitempty"`
	ChannelID   string     `json:"channelId"`
	ChannelType uint8      `json:"channelType"`
	Payload     []byte     `json:"payload"` // base64 string, never null or an object (fact 1)
}

type recvackParams struct {
	MessageID  string `json:"messageId"`
	MessageSeq int64  `json:"messageSeq"`
}

// inRPC is every server → client frame. How it is classified (§4): an
// "error" member means the server's decoder failed; a method is a
// notification (recv, disconnect, event); an id with a result answers a
// request; an id alone is a pong.
type inRPC struct {
	Method string          `json:"method"`
	ID     string          `json:"id"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (r *inRPC) hasResult() bool {
	return len(r.Result) > 0 && string(r.Result) != "null"
}

type connectResult struct {
	ReasonCode int `json:"reasonCode"`
}

type sendResult struct {
	MessageID  string `json:"messageId"`
	MessageSeq int64  `json:"messageSeq"`
	ReasonCode int    `json:"reasonCode"`
}

type recvParams struct {
	Header      *rpcHeader `json:"header"`
	MessageID   string     `json:"messageId"`
	MessageSeq  int64      `json:"messageSeq"`
	ClientMsgNo string     `json:"clientMsgNo"`
	Timestamp   int64      `json:"timestamp"`
	ChannelID   string     `json:"channelId"`
	ChannelType uint8      `json:"channelType"`
	FromUID     string     `json:"fromUid"`
	Payload     []byte     `json:"payload"`
}

func (p *recvParams) message() (Message, error) {
	id, err := strconv.ParseInt(p.MessageID, 10, 64)
	if err != nil {
		return Message{}, fmt.Errorf("messageId %q: %w", p.MessageID, err)
	}
	return Message{
		Header:      p.Header.header(),
		MessageID:   id,
		MessageSeq:  p.MessageSeq,
		ClientMsgNo: p.ClientMsgNo,
		FromUID:     p.FromUID,
		ChannelID:   p.ChannelID,
		ChannelType: p.ChannelType,
		Timestamp:   p.Timestamp,
		Payload:     p.Payload,
	}, nil
}

type disconnectParams struct {
	ReasonCode int    `json:"reasonCode"`
	Reason     string `json:"reason"`
}
