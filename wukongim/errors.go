package wukongim

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNotFound is matched (errors.Is) by an *APIError for an answer that says
// the object does not exist: the {"status":404} envelope on HTTP 200 (fact 16)
// or a 400 whose msg is "not found" (max_message_seq on an unknown channel).
var ErrNotFound = errors.New("wukongim: not found")

// ErrUnauthorized is wrapped by the error Run returns after maxRefused
// connects in a row got no connect result: the server answers a refused token
// with silence (fact 10), so that is the only sign of it.
var ErrUnauthorized = errors.New("wukongim: token refused")

// ErrOffline is returned by Conn.Send when no connection is live, or when the
// connection ended before the frame was written: the message was definitely
// not sent.
var ErrOffline = errors.New("wukongim: not connected")

// ErrConnLost is returned by Conn.Send when the connection ended after the
// send frame was written but before its result came: the server may or may
// not have stored the message.
var ErrConnLost = errors.New("wukongim: connection lost before the send result")

// ErrKicked is wrapped by Disconnected.Err when the server ended the session
// with a disconnect notification of reason code 12 (another device logged in
// with the same uid and device flag, or the token was registered again).
var ErrKicked = errors.New("wukongim: kicked by another login")

// APIError is a failure answered by the HTTP API.
type APIError struct {
	// Status is the envelope's "status" when the body has one (400, 404…),
	// otherwise the HTTP status code (500 with an empty body, 404 for an
	// unknown route).
	Status int
	// Msg is the server's text: the envelope's "msg" (often Chinese), or
	// the start of a non-JSON body.
	Msg string
	// Path is the request path, e.g. /message/send.
	Path string
	// HTTPStatus is the HTTP status code of the answer; 200 for the
	// {"status":404} envelope.
	HTTPStatus int
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("wukongim: %s: status %d", e.Path, e.Status)
	if e.HTTPStatus != e.Status {
		s += fmt.Sprintf(" (http %d)", e.HTTPStatus)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Is makes errors.Is(err, ErrNotFound) work. An unknown route (HTTP 404 with
// a plain-text body) is not ErrNotFound: it means a wrong base URL or server
// version, not a missing object.
func (e *APIError) Is(target error) bool {
	if target != ErrNotFound {
		return false
	}
	return (e.Status == http.StatusNotFound && e.HTTPStatus == http.StatusOK) || e.Msg == "not found"
}

// reasonNames is the reason code table of WuKongIMGoProto v1.2.3 (§4), in
// iota order.
var reasonNames = [...]string{
	"Unknown", "Success", "AuthFail", "SubscriberNotExist", "InBlacklist", "ChannelNotExist",
	"UserNotOnNode", "SenderOffline", "MsgKeyError", "PayloadDecodeError", "ForwardSendPacketError",
	"NotAllowSend", "ConnectKick", "NotInWhitelist", "QueryTokenError", "SystemError", "ChannelIDError",
	"NodeMatchError", "NodeNotMatch", "Ban", "NotSupportHeader", "ClientKeyIsEmpty", "RateLimit",
	"NotSupportChannelType", "Disband", "SendBan",
}

// reasonTexts explains the codes a caller acts on in plain words.
var reasonTexts = map[int]string{
	2:  "authentication failed",
	3:  "not a member of the channel",
	4:  "blacklisted in the channel",
	5:  "the channel does not exist",
	11: "sending is not allowed",
	12: "another device logged in",
	13: "not in the channel whitelist",
	19: "banned",
	22: "rate limited",
	23: "channel type not supported",
	24: "the channel was disbanded",
	25: "banned from sending",
}

// ReasonError is a reason code other than 1 (Success) in a JSON-RPC result:
// a send the server refused (3 not a member, 4 blacklisted, …) or a connect
// it rejected.
type ReasonError struct {
	Code int
}

// Name returns the protocol's name for the code, e.g. "SubscriberNotExist".
func (e *ReasonError) Name() string {
	if e.Code >= 0 && e.Code < len(reasonNames) {
		return reasonNames[e.Code]
	}
	return fmt.Sprintf("ReasonCode(%d)", e.Code)
}

func (e *ReasonError) Error() string {
	if t, ok := reasonTexts[e.Code]; ok {
		return fmt.Sprintf("wukongim: %s (reason code %d %s)", t, e.Code, e.Name())
	}
	return fmt.Sprintf("wukongim: refused with reason code %d %s", e.Code, e.Name())
}
