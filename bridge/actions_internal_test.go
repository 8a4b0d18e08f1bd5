package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// TestMarshalWithExtra: a platform's extra fields follow the standard
// ones, sorted, and never replace them; values JSON cannot hold are left
// out.
func TestMarshalWithExtra(t *testing.T) {
	info := groupInfoOf(42, &platform.Group{
		ID: "g", Name: "G", MemberCount: 3,
		Extra: map[string]any{
			extraGroupMemo:       "memo",
			extraGroupCreateTime: time.Unix(1700000000, 0),
			"group_name":         "not this",
			"zeta":               1,
			"alpha":              []string{"a"},
			"bad":                func() {},
		},
	})
	got, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"group_id":42,"group_name":"G","group_memo":"memo","group_create_time":1700000000,"member_count":3,"max_member_count":0,"alpha":["a"],"zeta":1}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	plain, err := json.Marshal(strangerInfo{UserID: 7, Nickname: "n", Sex: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"user_id":7,"nickname":"n","sex":"unknown","age":0,"remark":"","avatar":""}`; string(plain) != want {
		t.Errorf("got  %s\nwant %s", plain, want)
	}
	var round map[string]any
	withExtra, _ := json.Marshal(strangerInfo{UserID: 7, Level: 3, extra: map[string]any{"sign": "hi", "is_vip": true}})
	if err := json.Unmarshal(withExtra, &round); err != nil {
		t.Fatalf("%s: %v", withExtra, err)
	}
	if round["sign"] != "hi" || round["is_vip"] != true || round["level"] != 3.0 {
		t.Errorf("extra fields lost: %s", withExtra)
	}
}

func TestExtraUnix(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int64
	}{
		{time.Unix(5, 0), 5}, {time.Time{}, 0}, {int64(6), 6}, {7, 7}, {int32(8), 8},
		{9.0, 9}, {json.Number("10"), 10}, {"11", 0}, {nil, 0},
	} {
		if got := extraUnix(map[string]any{"k": c.v}, "k"); got != c.want {
			t.Errorf("extraUnix(%#v) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestRequestKindOf(t *testing.T) {
	for flag, want := range map[string]platform.RequestKind{
		"friend:42":       platform.FriendRequest,
		"group_add:1":     platform.GroupJoinRequest,
		"group_invite:x":  platform.GroupInviteRequest,
		"friend":          "",
		"nonsense":        "",
		"other:1":         "",
		"":                "",
		"group_add":       "",
		"Friend:1":        "",
		"group_invite::1": platform.GroupInviteRequest,
	} {
		if got := requestKindOf(flag); got != want {
			t.Errorf("requestKindOf(%q) = %q, want %q", flag, got, want)
		}
	}
}

// TestPlatformError: each kind of backend failure becomes the retcode and
// text the contract promises.
func TestPlatformError(t *testing.T) {
	retcode := func(err error) (int, string, string) {
		var ae *onebot.ActionError
		if !errors.As(err, &ae) {
			t.Fatalf("%v is no action error", err)
		}
		return ae.Retcode, ae.Msg, ae.Wording
	}
	cases := []struct {
		err             error
		code            int
		msg, wordingSub string
	}{
		{&platform.Error{Msg: "对方不是你的好友", Definite: true}, 100, "send message: 对方不是你的好友", ""},
		{fmt.Errorf("wrapped: %w", &platform.Error{Msg: "无权撤回该消息"}), 100, "send message: 无权撤回该消息", ""},
		{&platform.Error{Err: errors.New("timeout")}, 100, "send message: timeout", ""},
		{errors.New("dial refused"), 100, "send message: dial refused", ""},
		{platform.Unsupportedf("only your own"), 1404, "send message: only your own", "only your own"},
		{platform.BadParamf("image.file: bad"), 1400, "image.file: bad", ""},
		{onebot.ErrBadParams("as built"), 1400, "as built", ""},
	}
	for _, c := range cases {
		code, msg, wording := retcode(platformError("send message", c.err))
		if code != c.code || msg != c.msg || (c.wordingSub != "" && wording != c.wordingSub) {
			t.Errorf("platformError(%v) = %d %q %q, want %d %q", c.err, code, msg, wording, c.code, c.msg)
		}
	}
	if _, msg, _ := retcode(platformError("", &platform.Error{Msg: "upload image.file: 文件过大"})); msg != "upload image.file: 文件过大" {
		t.Errorf("no prefix wanted: %q", msg)
	}
	if code, msg, _ := retcode(formError("set_group_card", "set group nickname", platform.Unsupportedf("own card only"))); code != 1404 || msg != "set_group_card: own card only" {
		t.Errorf("formError: %d %q", code, msg)
	}
	for err, want := range map[error]int{
		errors.New("at.qq: bad"):              1400,
		platform.BadParamf("x"):               1400,
		&platform.Error{Msg: "upload"}:        100,
		platform.Unsupportedf("no"):           1404,
		fmt.Errorf("c: %w", context.Canceled): 100,
	} {
		if code, _, _ := retcode(encodeError(err)); code != want {
			t.Errorf("encodeError(%v) = %d, want %d", err, code, want)
		}
	}
}
