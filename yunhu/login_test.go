package yunhu_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// anonymous is a client with no token, as the sign-in command builds it.
func (w *world) anonymous() *yunhu.Client {
	w.t.Helper()
	return w.client(sim.SelfID, func(o *yunhu.Options) { o.Token, o.DeviceID = "", "login-test-device" })
}

// TestLoginEmail signs in over loopback, checks the request is the
// documented JSON without a token header, and uses the token it got.
func TestLoginEmail(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	tok, err := w.anonymous().LoginEmail(ctx, sim.EmailFor(sim.AliceID), sim.Password)
	ok(t, err)
	if tok == "" || tok == sim.TokenFor(sim.AliceID) {
		t.Fatalf("token %q: want a fresh one", tok)
	}
	var req map[string]any
	for _, r := range w.sim.Requests() {
		if r.Path == yunhu.PathEmailLogin {
			if r.Token != "" {
				t.Errorf("sign-in sent a token header %q", r.Token)
			}
			ok(t, json.Unmarshal(r.Body, &req))
		}
	}
	want := map[string]any{"email": sim.EmailFor(sim.AliceID), "password": sim.Password,
		"deviceId": "login-test-device", "platform": "linux"}
	if len(req) != len(want) {
		t.Errorf("request %v, want %v", req, want)
	}
	for k, v := range want {
		if req[k] != v {
			t.Errorf("request %s = %v, want %v", k, req[k], v)
		}
	}

	// The token is a working session of that account.
	self, err := w.client(sim.SelfID, func(o *yunhu.Options) { o.Token = tok }).Self(ctx)
	ok(t, err)
	if self.ID != sim.AliceID {
		t.Errorf("signed in as %s, want %s", self.ID, sim.AliceID)
	}
}

func TestLoginSMS(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	tok, err := w.anonymous().LoginSMS(ctx, sim.PhoneFor(sim.SelfID), sim.SMSCode)
	ok(t, err)
	self, err := w.client(sim.SelfID, func(o *yunhu.Options) { o.Token = tok }).Self(ctx)
	ok(t, err)
	if self.ID != sim.SelfID {
		t.Errorf("signed in as %s, want %s", self.ID, sim.SelfID)
	}
	for _, r := range w.sim.Requests() {
		if r.Path == yunhu.PathVerificationLogin {
			var req map[string]any
			ok(t, json.Unmarshal(r.Body, &req))
			if req["mobile"] != sim.PhoneFor(sim.SelfID) || req["captcha"] != sim.SMSCode || req["platform"] != "linux" {
				t.Errorf("request %v", req)
			}
		}
	}
}

// TestLoginRefused: each refusal is an *APIError with Yunhu's own message,
// no token, and no session for the account.
func TestLoginRefused(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.anonymous()
	for _, tc := range []struct {
		name  string
		login func() (string, error)
		msg   string
	}{
		{"wrong password", func() (string, error) { return c.LoginEmail(ctx, sim.EmailFor(sim.SelfID), "not-the-password") }, "密码错误"},
		{"unknown account", func() (string, error) { return c.LoginEmail(ctx, "nobody@sim.invalid", sim.Password) }, "账号不存在"},
		{"wrong code", func() (string, error) { return c.LoginSMS(ctx, sim.PhoneFor(sim.SelfID), "000000") }, "验证码错误"},
		{"unknown phone", func() (string, error) { return c.LoginSMS(ctx, "13899999999", sim.SMSCode) }, "账号不存在"},
		{"empty password", func() (string, error) { return c.LoginEmail(ctx, sim.EmailFor(sim.SelfID), "") }, "参数错误"},
	} {
		tok, err := tc.login()
		var ae *yunhu.APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusOK || ae.Code != yunhu.CodeFailed || ae.Msg != tc.msg {
			t.Errorf("%s: err %v, want code -1 %q", tc.name, err, tc.msg)
		}
		if tok != "" {
			t.Errorf("%s: token %q", tc.name, tok)
		}
		if errors.Is(err, yunhu.ErrUnauthorized) {
			t.Errorf("%s: a refused sign-in reads as an expired token", tc.name)
		}
	}
}
