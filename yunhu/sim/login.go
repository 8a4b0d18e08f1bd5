package sim

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Signing in (user.md: email-login, verification-login). Every seeded
// account can sign in both ways:
//
//	email     <id>@sim.invalid (EmailFor), password Password
//	mobile    PhoneFor(id), e.g. 13800000001 for self; SMS code SMSCode
//
// The request that makes Yunhu text a code is not documented (the apps
// send it after a picture captcha), so the simulator has no such endpoint:
// its code is fixed and documented instead, which is what a person trying
// -login -sandbox types in.
//
// Each sign-in issues a fresh token, as a new device session does on the
// real service; earlier tokens (the seeded ones included) stay valid.

// Password is every seeded account's password.
const Password = "sim-password"

// SMSCode is the code the simulator accepts for every seeded mobile number.
const SMSCode = "123456"

// Refusal texts. The real ones are not documented [I].
const (
	msgNoAccount     = "账号不存在"  // [I]
	msgWrongPassword = "密码错误"   // [I]
	msgWrongCode     = "验证码错误"  // [I]
	msgBadPlatform   = "登录平台错误" // [I]
)

// EmailFor returns a seeded user's sign-in email address.
func EmailFor(userID string) string { return userID + "@sim.invalid" }

// PhoneFor returns a seeded user's mobile number: 1380000 and the id's
// last four digits, matching the masked 138****dddd that user/info shows.
func PhoneFor(userID string) string { return "1380000" + userID[len(userID)-4:] }

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Mobile   string `json:"mobile"`
	Captcha  string `json:"captcha"`
	DeviceID string `json:"deviceId"`
	Platform string `json:"platform"`
}

func (s *Server) emailLogin(c *call) (any, error) {
	var req loginRequest
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	if req.Email == "" || req.Password == "" {
		return nil, failf("%s", msgBadParams)
	}
	u := s.userByLocked(func(u *user) bool { return strings.EqualFold(u.email, req.Email) })
	switch {
	case u == nil:
		return nil, failf("%s", msgNoAccount)
	case req.Password != Password:
		return nil, failf("%s", msgWrongPassword)
	}
	return s.issueTokenLocked(u, req.Platform)
}

func (s *Server) verificationLogin(c *call) (any, error) {
	var req loginRequest
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	if req.Mobile == "" || req.Captcha == "" {
		return nil, failf("%s", msgBadParams)
	}
	u := s.userByLocked(func(u *user) bool { return PhoneFor(u.id) == req.Mobile })
	switch {
	case u == nil:
		// The real service may register an unknown number instead; the
		// simulator has no sign-up [I].
		return nil, failf("%s", msgNoAccount)
	case req.Captcha != SMSCode:
		return nil, failf("%s", msgWrongCode)
	}
	return s.issueTokenLocked(u, req.Platform)
}

func (s *Server) userByLocked(match func(*user) bool) *user {
	for _, u := range s.w.users {
		if match(u) {
			return u
		}
	}
	return nil
}

// issueTokenLocked starts a session for u. user.md says the sign-in
// platform is not checked; the simulator still refuses an empty one so
// that a client forgetting the field is noticed.
func (s *Server) issueTokenLocked(u *user, platform string) (any, error) {
	if platform == "" {
		return nil, failf("%s", msgBadPlatform)
	}
	tok := newToken()
	s.w.tokens[tok] = u
	return map[string]string{"token": tok}, nil
}

// newToken returns a random token shaped like the real ones (a UUID v4).
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
