package bridge

import (
	"context"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Friend actions (api/public.md, go-cqhttp's delete_friend) on
// platform.Directory, Friends and Requests.

// strangerInfo is get_stranger_info's data: the v11 fields, the remark
// and avatar, the level when the platform has one, and then the
// platform's own profile fields (User.Extra).
type strangerInfo struct {
	UserID   int64  `json:"user_id"`
	Nickname string `json:"nickname"`
	Sex      string `json:"sex"`
	Age      int32  `json:"age"`
	Remark   string `json:"remark"`
	Avatar   string `json:"avatar"`
	Level    int32  `json:"level,omitempty"`

	extra map[string]any
}

// MarshalJSON writes the fields above, then the extra ones.
func (s strangerInfo) MarshalJSON() ([]byte, error) {
	type plain strangerInfo // without this method
	return marshalWithExtra(plain(s), s.extra)
}

// sexOf is a platform.User's sex as OneBot spells it.
func sexOf(sex string) string {
	switch sex {
	case "male", "female":
		return sex
	}
	return sexUnknown
}

func (b *Bridge) getStrangerInfo(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		UserID *onebot.Int64 `json:"user_id" onebot:"required"`
	}
	conv, err := b.decodeUser(req, &p, &p.UserID)
	if err != nil {
		return nil, err
	}
	u, err := b.dir.User(ctx, conv.ID)
	if err != nil {
		return nil, platformError("read user profile", err)
	}
	if u == nil {
		return nil, onebot.ErrFailed("read user profile: no such user", nil)
	}
	return strangerInfo{
		UserID: int64(*p.UserID), Nickname: u.Name, Sex: sexOf(u.Sex), Age: u.Age, Remark: u.Remark,
		Avatar: u.Avatar, Level: u.Level, extra: u.Extra,
	}, nil
}

type friendInfo struct {
	UserID   int64  `json:"user_id"`
	Nickname string `json:"nickname"`
	Remark   string `json:"remark"`
}

// getFriendList lists the account's friends as the directory gives them
// (bots the account talks to included, where the platform has them: a
// chat with a bot is a private chat, user_id the bot).
func (b *Bridge) getFriendList(ctx context.Context, _ *onebot.Request) (any, error) {
	friends, err := b.dir.Friends(ctx)
	if err != nil {
		return nil, platformError("read address book", err)
	}
	out := make([]friendInfo, 0, len(friends))
	for _, u := range friends {
		n, err := b.oneBotID(ctx, u.ID)
		if err != nil {
			return nil, onebot.ErrFailed("map user id", err)
		}
		out = append(out, friendInfo{UserID: n, Nickname: u.Name, Remark: u.Remark})
	}
	return out, nil
}

// deleteFriend removes a friend (go-cqhttp's delete_friend).
func (b *Bridge) deleteFriend(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		UserID *onebot.Int64 `json:"user_id" onebot:"required"`
	}
	conv, err := b.decodeUser(req, &p, &p.UserID)
	if err != nil {
		return nil, err
	}
	if err := b.friends.DeleteFriend(ctx, conv.ID); err != nil {
		return nil, formError(req.Action, "delete friend", err)
	}
	return nil, nil
}

// setFriendAddRequest decides a friend request by the flag of its request
// event; remark goes to the platform, which may ignore it.
func (b *Bridge) setFriendAddRequest(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		Flag    onebot.String `json:"flag" onebot:"required"`
		Approve *onebot.Bool  `json:"approve"`
		Remark  onebot.String `json:"remark"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	flag := string(p.Flag)
	if kind := requestKindOf(flag); kind != "" && kind != platform.FriendRequest {
		return nil, onebot.ErrBadParams("flag: %q is a group request; use set_group_add_request", flag)
	}
	return nil, b.decideRequest(ctx, flag, p.Approve, string(p.Remark))
}
