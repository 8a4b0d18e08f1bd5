package platform

import (
	"errors"
	"fmt"
)

// ErrUnauthorized is wrapped by errors meaning the platform rejected the
// account's credentials. The daemon stops with exit status 77 on it.
var ErrUnauthorized = errors.New("credentials rejected")

// ErrNotFound is wrapped by errors meaning the platform does not have the
// thing asked for.
var ErrNotFound = errors.New("not found")

// Error is a failure the platform answered with. Msg is its explanation,
// shown to the bot (often the platform's own words, the most precise).
type Error struct {
	Msg string
	// Definite: the platform answered and refused, so nothing happened.
	// A timeout or a lost answer is not definite.
	Definite bool
	Err      error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// UnsupportedError is a form of a request the platform cannot serve, such
// as setting another member's card where only one's own can be set. The
// core answers it with 1404 and Why as the wording.
type UnsupportedError struct{ Why string }

func (e *UnsupportedError) Error() string { return "unsupported: " + e.Why }

// Unsupportedf returns an *UnsupportedError.
func Unsupportedf(format string, args ...any) error {
	return &UnsupportedError{Why: fmt.Sprintf(format, args...)}
}

// BadParamError is a bad parameter the backend found (a segment it cannot
// send as given); the core answers 1400 with Msg.
type BadParamError struct{ Msg string }

func (e *BadParamError) Error() string { return e.Msg }

// BadParamf returns a *BadParamError.
func BadParamf(format string, args ...any) error {
	return &BadParamError{Msg: fmt.Sprintf(format, args...)}
}
