package wildfire

import (
	"errors"
	"fmt"
	"time"
)

// codeError is the type of the sentinel errors: an *APIError matches one of
// them (errors.Is) when it carries the same code.
type codeError struct {
	code int
	text string
}

func (e codeError) Error() string { return fmt.Sprintf("wildfire: code %d (%s)", e.code, e.text) }

// The server's error codes the callers act upon (ErrorCode.java). Match them
// with errors.Is on the error a call returns.
var (
	// ErrNotSigned (239): the signing headers are missing or malformed.
	ErrNotSigned error = codeError{239, meaningOf(239)}
	// ErrSignExpired (243): the signed timestamp is more than 2 h older than
	// the server's clock.
	ErrSignExpired error = codeError{243, meaningOf(243)}
	// ErrAuth (244): the signature does not match the secret.
	ErrAuth error = codeError{244, meaningOf(244)}
	// ErrNoRight (248): the caller may not do this (also: the robot has no
	// secret configured on the server).
	ErrNoRight error = codeError{248, meaningOf(248)}
	// ErrOverFrequency (250): the rate limit (per robot id, or the admin
	// API's global one) was hit.
	ErrOverFrequency error = codeError{250, meaningOf(250)}
	// ErrInvalidParam (251): the server refused the request body.
	ErrInvalidParam error = codeError{251, meaningOf(251)}
	// ErrNotExist (253): the robot, user, group or message does not exist.
	ErrNotExist error = codeError{253, meaningOf(253)}
	// ErrRecallExpired (24): the message is too old to be recalled.
	ErrRecallExpired error = codeError{24, meaningOf(24)}
)

// ErrNoAdmin is returned by the admin calls when Options.AdminURL or
// Options.AdminSecret is empty: nothing was sent.
var ErrNoAdmin = errors.New("wildfire: the admin API is not configured (needs the admin URL and the admin secret)")

// meaningOf names the codes a robot or admin call can answer
// (ErrorCode.java), so an error says what went wrong even when the server's
// msg is terse. It is "" for other codes.
func meaningOf(code int) string {
	switch code {
	case 1:
		return "secret key mismatch"
	case 2:
		return "invalid data"
	case 4:
		return "server error"
	case 5:
		return "not modified"
	case 8:
		return "user forbidden"
	case 9:
		return "not in group"
	case 10:
		return "invalid message"
	case 11:
		return "group already exists"
	case 12:
		return "member already in group"
	case 22:
		return "not licensed"
	case 24:
		return "recall time expired"
	case 220:
		return "function disabled"
	case 238:
		return "user not prepared"
	case 239:
		return "not signed or signing headers incomplete"
	case 240:
		return "group exceeds its maximum member count"
	case 241:
		return "group is muted"
	case 242:
		return "sensitive words matched"
	case 243:
		return "signature expired"
	case 244:
		return "signature refused"
	case 245:
		return "user is blocked"
	case 246:
		return "user in black list"
	case 247:
		return "sending forbidden globally"
	case 248:
		return "no right to operate"
	case 249:
		return "server timeout"
	case 250:
		return "over frequency"
	case 251:
		return "invalid parameter"
	case 253:
		return "not exist"
	case 254:
		return "not implemented"
	}
	return ""
}

// APIError is a failure answered by the server: a non-zero envelope code, or
// a non-200 HTTP status (the server answers HTTP 500, often with an empty
// body, for unknown routes and for bodies it cannot parse).
type APIError struct {
	// Code is the envelope's code; 0 when the answer was not an envelope
	// (see HTTPStatus).
	Code int
	// Msg is the server's msg, or the start of a non-envelope body.
	Msg string
	// Path is the request path, e.g. /robot/message/send.
	Path string
	// HTTPStatus is the answer's HTTP status: 200 for envelope errors.
	HTTPStatus int
	// LocalTime is the timestamp the request was signed with; ServerTime
	// is the answer's Date header (zero when absent). Both are set on
	// ErrSignExpired answers to show the clock difference.
	LocalTime, ServerTime time.Time
}

// Error names the path, the code and its meaning, and for an expired
// signature the two clocks.
func (e *APIError) Error() string {
	if e.Code == 0 {
		s := fmt.Sprintf("wildfire: %s: http %d", e.Path, e.HTTPStatus)
		if e.Msg == "" {
			return s + " with an empty body (unknown route, or a body the server could not parse)"
		}
		return s + ": " + e.Msg
	}
	meaning := meaningOf(e.Code)
	if meaning == "" {
		meaning = "unknown code"
	}
	s := fmt.Sprintf("wildfire: %s: code %d (%s)", e.Path, e.Code, meaning)
	if e.Msg != "" && e.Msg != meaning {
		s += ": " + e.Msg
	}
	if e.Code == 243 {
		s += "; the local clock differs from the server's beyond its 2 h signature window: local " +
			e.LocalTime.UTC().Format(time.RFC3339)
		if e.ServerTime.IsZero() {
			s += ", the server sent no Date header; check both clocks"
		} else {
			s += fmt.Sprintf(", server %s (local is behind by %s)", e.ServerTime.UTC().Format(time.RFC3339),
				e.ServerTime.Sub(e.LocalTime).Round(time.Second))
		}
	}
	return s
}

// Is matches the sentinel error of the same code.
func (e *APIError) Is(target error) bool {
	t, ok := target.(codeError)
	return ok && e.Code != 0 && t.code == e.Code
}
