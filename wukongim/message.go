package wukongim

import (
	"fmt"
	"strconv"
)

// Channel types (§1.2).
const (
	ChannelPerson uint8 = 1
	ChannelGroup  uint8 = 2
)

// Header holds a message's header flags. The HTTP API shows them as 0/1
// integers, JSON-RPC as bools that are omitted when false (fact 15).
type Header struct {
	NoPersist, RedDot, SyncOnce bool
}

// Message is one stored or pushed message, whichever surface it came from.
type Message struct {
	Header Header
	// MessageID is a number on HTTP (message_id, with message_idstr) and a
	// string on JSON-RPC (messageId) (fact 6).
	MessageID   int64
	MessageSeq  int64
	ClientMsgNo string
	FromUID     string
	// ChannelID is as the surface gave it: a push names the peer, stored
	// messages name the uid the sender addressed (fact 5); callers
	// normalise.
	ChannelID   string
	ChannelType uint8 // ChannelPerson or ChannelGroup
	Timestamp   int64 // unix seconds
	Payload     []byte
}

// httpHeader is the HTTP form of Header (fact 15).
type httpHeader struct {
	NoPersist int `json:"no_persist"`
	RedDot    int `json:"red_dot"`
	SyncOnce  int `json:"sync_once"`
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// toHTTP returns the header to send, nil when every flag is clear: the
// transcript's sends show the header either absent or with all three keys.
func (h Header) toHTTP() *httpHeader {
	if h == (Header{}) {
		return nil
	}
	return &httpHeader{NoPersist: b2i(h.NoPersist), RedDot: b2i(h.RedDot), SyncOnce: b2i(h.SyncOnce)}
}

func (h *httpHeader) header() Header {
	if h == nil {
		return Header{}
	}
	return Header{NoPersist: h.NoPersist != 0, RedDot: h.RedDot != 0, SyncOnce: h.SyncOnce != 0}
}

// httpMessage is a message as messagesync, /messages, conversation recents
// and byclientmsgno return it (§1.5).
type httpMessage struct {
	Header       *httpHeader `json:"header"`
	MessageID    int64       `json:"message_id"`
	MessageIDStr string      `json:"message_idstr"`
	ClientMsgNo  string      `json:"client_msg_no"`
	MessageSeq   int64       `json:"message_seq"`
	FromUID      string      `json:"from_uid"`
	ChannelID    string      `json:"channel_id"`
	ChannelType  uint8       `json:"channel_type"`
	Timestamp    int64       `json:"timestamp"`
	Payload      []byte      `json:"payload"` // base64 on the wire
}

func (m *httpMessage) message() (Message, error) {
	id := m.MessageID
	if m.MessageIDStr != "" {
		// The string form is exact whatever parsed the number; they
		// must agree.
		s, err := strconv.ParseInt(m.MessageIDStr, 10, 64)
		if err != nil {
			return Message{}, fmt.Errorf("message_idstr %q: %w", m.MessageIDStr, err)
		}
		if id != 0 && id != s {
			return Message{}, fmt.Errorf("message_id %d and message_idstr %q differ", id, m.MessageIDStr)
		}
		id = s
	}
	return Message{
		Header:      m.Header.header(),
		MessageID:   id,
		MessageSeq:  m.MessageSeq,
		ClientMsgNo: m.ClientMsgNo,
		FromUID:     m.FromUID,
		ChannelID:   m.ChannelID,
		ChannelType: m.ChannelType,
		Timestamp:   m.Timestamp,
		Payload:     m.Payload,
	}, nil
}

func httpMessages(in []httpMessage) ([]Message, error) {
	out := make([]Message, 0, len(in))
	for i := range in {
		m, err := in[i].message()
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// rpcHeader is the JSON-RPC form of Header: false flags are omitted (§2.3).
type rpcHeader struct {
	NoPersist bool `json:"noPersist,omitempty"`
	RedDot    bool `json:"redDot,omitempty"`
	SyncOnce  bool `json:"syncOnce,omitempty"`
	Dup       bool `json:"dup,omitempty"`
	End       bool `json:"end,omitempty"`
}

func (h Header) toRPC() *rpcHeader {
	if h == (Header{}) {
		return nil
	}
	return &rpcHeader{NoPersist: h.NoPersist, RedDot: h.RedDot, SyncOnce: h.SyncOnce}
}

func (h *rpcHeader) header() Header {
	if h == nil {
		return Header{}
	}
	return Header{NoPersist: h.NoPersist, RedDot: h.RedDot, SyncOnce: h.SyncOnce}
}
