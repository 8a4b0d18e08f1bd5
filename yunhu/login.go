package yunhu

import (
	"context"
	"fmt"
)

// Signing in (user.md "用户邮箱密码登录" and "短信验证码登录"). Both calls
// trade credentials for the account token the rest of the client sends;
// they use the Client's DeviceID and Platform, which name the new session.
//
// Neither is retried: a repeated sign-in is not harmless (an SMS code may be
// spent by the first attempt whose reply was lost), and a person is waiting
// who can simply run the command again.

type loginReply struct {
	Token string `json:"token"`
}

// LoginEmail signs in with the account's email address and password and
// returns the token. A refusal (wrong password, unknown account) is an
// *APIError carrying Yunhu's message.
func (c *Client) LoginEmail(ctx context.Context, email, password string) (string, error) {
	req := struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		DeviceID string `json:"deviceId"`
		Platform string `json:"platform"`
	}{email, password, c.deviceID, c.platform}
	return c.login(ctx, PathEmailLogin, req)
}

// LoginSMS signs in with the account's mobile number and the code Yunhu
// texted to it, and returns the token. Requesting the code is not part of
// the documented API (the official apps ask for it after a picture
// captcha); see the README's "Getting a token".
func (c *Client) LoginSMS(ctx context.Context, mobile, code string) (string, error) {
	req := struct {
		Mobile   string `json:"mobile"`
		Captcha  string `json:"captcha"` // the SMS code; the wire name is "captcha"
		DeviceID string `json:"deviceId"`
		Platform string `json:"platform"`
	}{mobile, code, c.deviceID, c.platform}
	return c.login(ctx, PathVerificationLogin, req)
}

func (c *Client) login(ctx context.Context, path string, req any) (string, error) {
	var out loginReply
	if err := c.callJSON(ctx, path, req, &out, false); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("%s: success without a token", path)
	}
	return out.Token, nil
}
