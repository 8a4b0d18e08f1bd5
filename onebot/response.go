package onebot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Return codes (communication/ws.md: 14xx mirror the HTTP status codes).
const (
	RetcodeOK     = 0
	RetcodeAsync  = 1
	RetcodeFailed = 100 // any failure of the action itself, as in go-cqhttp
	// RetcodeBadParams is HTTP 400: malformed request or parameters.
	RetcodeBadParams = 1400
	// RetcodeUnknownAction is HTTP 404: no such action, or one this
	// implementation cannot provide.
	RetcodeUnknownAction = 1404
	// RetcodeTooManyRequests is HTTP 429: a bound on the work or memory
	// the server holds was reached; the request was not run and may be
	// retried later. Over HTTP it is answered with status 200, as every
	// failure of a well-formed request (communication/http.md).
	RetcodeTooManyRequests = 1429
)

// Response statuses.
const (
	StatusOK     = "ok"
	StatusAsync  = "async"
	StatusFailed = "failed"
)

// ActionError is an action failure with its OneBot return code. Msg goes to
// the client as "message" and "msg"; Wording is the longer human text
// ("wording"), Msg when empty; Err is the cause, for errors.Is and the log.
type ActionError struct {
	Retcode int
	Msg     string
	Wording string
	Err     error
	// noAction marks a failure that means "this action does not exist
	// here" (ErrUnknownAction, ErrUnsupported), the one failure the HTTP
	// API answers with 404 rather than 200.
	noAction bool
}

func (e *ActionError) Error() string {
	s := "retcode " + strconv.Itoa(e.Retcode) + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ActionError) Unwrap() error { return e.Err }

// ErrBadParams is a 1400 failure; the message should name the parameter,
// e.g. ErrBadParams("user_id: expected an integer, got %q", v).
func ErrBadParams(format string, args ...any) *ActionError {
	return &ActionError{Retcode: RetcodeBadParams, Msg: fmt.Sprintf(format, args...)}
}

// ErrUnknownAction is the 1404 failure for an action nobody registered.
func ErrUnknownAction(action string) *ActionError {
	return &ActionError{
		Retcode:  RetcodeUnknownAction,
		Msg:      "unknown action: " + action,
		Wording:  "the action " + strconv.Quote(action) + " is not provided by this OneBot implementation",
		noAction: true,
	}
}

// ErrUnsupported is a 1404 failure for an action (or a form of it) the
// platform cannot provide; why says so in the client's terms, e.g.
// ErrUnsupported("set_group_anonymous_ban", "the platform has no anonymous members").
func ErrUnsupported(action, why string) *ActionError {
	return &ActionError{
		Retcode:  RetcodeUnknownAction,
		Msg:      "unsupported action: " + action,
		Wording:  why,
		noAction: true,
	}
}

// ErrFailed is a generic failure (retcode 100) with a message for the
// client and the underlying cause.
func ErrFailed(msg string, err error) *ActionError {
	return &ActionError{Retcode: RetcodeFailed, Msg: msg, Err: err}
}

// Response is the reply to one action (communication/http.md, ws.md).
type Response struct {
	Status  string
	Retcode int
	// Data is the action's result as JSON; nil is written as null.
	Data json.RawMessage
	// Message and Wording explain a failure; both are "" on success.
	Message string
	Wording string
	// Echo is the request's echo exactly as received; nil when the request
	// had none, and then no "echo" key is written.
	Echo json.RawMessage
	// noAction: the action does not exist here (HTTP 404).
	noAction bool
}

// toResponse turns an action's result into its Response. Every transport
// maps errors through here, so a retcode means the same everywhere.
func toResponse(data json.RawMessage, err error) Response {
	if err == nil {
		return Response{Status: StatusOK, Retcode: RetcodeOK, Data: data}
	}
	var ae *ActionError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, context.DeadlineExceeded):
		ae = ErrFailed("timeout", err)
		ae.Wording = "the action did not finish in time"
	case errors.Is(err, context.Canceled):
		ae = ErrFailed("cancelled", err)
		ae.Wording = "the action was cancelled (connection closed or shutting down)"
	default:
		ae = ErrFailed(err.Error(), err)
	}
	return failure(ae)
}

func failure(ae *ActionError) Response {
	code := ae.Retcode
	if code == RetcodeOK || code == RetcodeAsync {
		// 0 and 1 mean success; a failure must never look like one.
		code = RetcodeFailed
	}
	w := ae.Wording
	if w == "" {
		w = ae.Msg
	}
	return Response{Status: StatusFailed, Retcode: code, Message: ae.Msg, Wording: w, noAction: ae.noAction}
}

func asyncResponse() Response {
	return Response{Status: StatusAsync, Retcode: RetcodeAsync}
}

// MarshalJSON writes the response in the shape frameworks parse:
//
//	{"status":"failed","retcode":1404,"data":null,"message":"…","wording":"…","msg":"…","echo":…}
//
// "msg" is written on failure only (ZeroBot falls back to it when
// "message" is empty; go-cqhttp writes all three), "echo" only when the
// request had one.
func (r Response) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, 64+len(r.Data)+len(r.Echo))), nil
}

func (r Response) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = appendString(b, r.Status)
	b = append(b, `,"retcode":`...)
	b = strconv.AppendInt(b, int64(r.Retcode), 10)
	b = append(b, `,"data":`...)
	if len(r.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, r.Data...)
	}
	b = append(b, `,"message":`...)
	b = appendString(b, r.Message)
	b = append(b, `,"wording":`...)
	b = appendString(b, r.Wording)
	if r.Status == StatusFailed {
		b = append(b, `,"msg":`...)
		b = appendString(b, r.Message)
	}
	if len(r.Echo) > 0 {
		b = append(b, `,"echo":`...)
		b = append(b, r.Echo...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, err := marshal(s)
	if err != nil { // cannot happen for a string
		return append(b, `""`...)
	}
	return append(b, q...)
}

// httpStatus is the HTTP API's status code for an answer
// (communication/http.md): 404 when the action does not exist here (no
// such action, or one this implementation cannot provide at all), 200 for
// every other answer, success or failure — a bad parameter (1400) too, so
// that a framework whose HTTP client takes any non-2xx for a network
// error (NoneBot2) still sees the retcode and wording. A failure of a
// supported action's form (e.g. set_group_card for another member) is an
// answer of that action: 200. 400 is for a malformed body only, and is
// decided before any action runs (httpAPI.params).
func httpStatus(resp Response) int {
	if resp.noAction {
		return http.StatusNotFound
	}
	return http.StatusOK
}
