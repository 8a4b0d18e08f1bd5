package bridge

import (
	"context"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Friend actions (api/public.md).

// strangerInfo is get_stranger_info's data. Yunhu profiles have no age;
// the rest are Yunhu's own profile fields, under go-cqhttp's names where
// it has one.
type strangerInfo struct {
	UserID    int64  `json:"user_id"`
	Nickname  string `json:"nickname"`
	Sex       string `json:"sex"`
	Age       int32  `json:"age"`
	Remark    string `json:"remark"`
	Sign      string `json:"sign"`
	Avatar    string `json:"avatar"`
	LoginDays int64  `json:"login_days"`
	Area      string `json:"area"`
	VIP       bool   `json:"is_vip"`
}

// sexOf maps Yunhu's gender (1 male, 2 female, else unknown) to OneBot's.
func sexOf(gender int32) string {
	switch gender {
	case 1:
		return "male"
	case 2:
		return "female"
	}
	return sexUnknown
}

func (b *Bridge) getStrangerInfo(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		UserID *onebot.Int64 `json:"user_id" onebot:"required"`
	}
	chat, err := b.decodeUser(req, &p, &p.UserID)
	if err != nil {
		return nil, err
	}
	if chat.Type == yunhu.ChatTypeBot {
		return b.botInfo(ctx, int64(*p.UserID), chat.ID)
	}
	u, err := b.platform.GetUser(ctx, chat.ID)
	if err != nil {
		// A bot the bridge has not met since the start: Yunhu has no user
		// by its id (用户不存在); the address book tells.
		if b.lookupBot(ctx, chat.ID) {
			return b.botInfo(ctx, int64(*p.UserID), chat.ID)
		}
		return nil, platformError("read user profile", err)
	}
	return strangerInfo{
		UserID: int64(*p.UserID), Nickname: u.Name, Sex: sexOf(u.Gender), Remark: u.Remark,
		Sign: u.Introduction, Avatar: u.AvatarURL, LoginDays: u.OnlineDays, Area: u.City, VIP: u.VIP,
	}, nil
}

// botInfo is get_stranger_info for a bot: get_friend_list lists the
// account's bots and their private messages carry their id as user_id,
// but a bot is no Yunhu user, so its profile comes from the address book.
func (b *Bridge) botInfo(ctx context.Context, n int64, id string) (any, error) {
	book, err := b.platform.AddressBook(ctx)
	if err != nil {
		return nil, platformError("read address book", err)
	}
	for _, c := range book.Bots {
		if c.ID == id {
			return strangerInfo{UserID: n, Nickname: c.Name, Sex: sexUnknown, Remark: c.Remark, Avatar: c.AvatarURL}, nil
		}
	}
	return nil, onebot.ErrFailed("read bot profile: not in the address book", nil)
}

type friendInfo struct {
	UserID   int64  `json:"user_id"`
	Nickname string `json:"nickname"`
	Remark   string `json:"remark"`
}

// getFriendList lists the friends and then the bots of the address book:
// a chat with a bot is a private chat (user_id = the bot), so bots are
// reachable exactly as friends are.
func (b *Bridge) getFriendList(ctx context.Context, _ *onebot.Request) (any, error) {
	book, err := b.platform.AddressBook(ctx)
	if err != nil {
		return nil, platformError("read address book", err)
	}
	out := make([]friendInfo, 0, len(book.Friends)+len(book.Bots))
	for i, c := range append(book.Friends[:len(book.Friends):len(book.Friends)], book.Bots...) {
		if i >= len(book.Friends) {
			b.rememberBot(c.ID)
		}
		n, err := b.oneBotID(ctx, c.ID)
		if err != nil {
			return nil, onebot.ErrFailed("map user id", err)
		}
		out = append(out, friendInfo{UserID: n, Nickname: c.Name, Remark: c.Remark})
	}
	return out, nil
}

// setFriendAddRequest decides a friend request by the flag of its request
// event (requests.go). remark is not applied: agree-apply has no remark.
func (b *Bridge) setFriendAddRequest(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		Flag    onebot.String `json:"flag" onebot:"required"`
		Approve *onebot.Bool  `json:"approve"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	id, kind, err := parseRequestFlag(string(p.Flag))
	if err != nil {
		return nil, err
	}
	if kind != requestFriend {
		return nil, onebot.ErrBadParams("flag: %q is a group request; use set_group_add_request", string(p.Flag))
	}
	return nil, b.decideRequest(ctx, id, p.Approve)
}
