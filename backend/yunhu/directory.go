package yunhu

import (
	"context"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// The directory, group administration, friends, read marks and edits.
// Group admin calls are checked by Yunhu: its refusal (not an admin, the
// owner cannot be kicked, ...) is passed on with Yunhu's own text.

// sexOf maps Yunhu's gender (1 male, 2 female, else unknown) to OneBot's.
func sexOf(gender int32) string {
	switch gender {
	case 1:
		return "male"
	case 2:
		return "female"
	}
	return "unknown"
}

// roleOf maps a Yunhu permission level to a member role.
func roleOf(level int32) platform.Role {
	switch {
	case level >= yh.PermissionOwner:
		return platform.RoleOwner
	case level >= yh.PermissionAdmin:
		return platform.RoleAdmin
	}
	return platform.RoleMember
}

// profileExtra is the Yunhu profile fields get_stranger_info adds, under
// go-cqhttp's names where it has one.
func profileExtra(sign string, loginDays int64, area string, vip bool) map[string]any {
	return map[string]any{"sign": sign, "login_days": loginDays, "area": area, "is_vip": vip}
}

// User reads a profile. A bot is no Yunhu user: its profile comes from
// the address book, which lists the account's bots; a bot the backend has
// not met since the start is found there when Yunhu has no user by its id
// (用户不存在).
func (b *Backend) User(ctx context.Context, id string) (*platform.User, error) {
	if b.isBot(id) {
		return b.botInfo(ctx, id)
	}
	u, err := b.client.GetUser(ctx, id)
	if err != nil {
		if b.lookupBot(ctx, id) {
			return b.botInfo(ctx, id)
		}
		return nil, classify(err)
	}
	return &platform.User{
		ID: id, Name: u.Name, Remark: u.Remark, Sex: sexOf(u.Gender), Avatar: u.AvatarURL,
		Extra: profileExtra(u.Introduction, u.OnlineDays, u.City, u.VIP),
	}, nil
}

// botInfo is a bot's profile from the address book.
func (b *Backend) botInfo(ctx context.Context, id string) (*platform.User, error) {
	book, err := b.client.AddressBook(ctx)
	if err != nil {
		return nil, classify(err)
	}
	for _, c := range book.Bots {
		if c.ID == id {
			return &platform.User{
				ID: id, Name: c.Name, Remark: c.Remark, Sex: "unknown", Avatar: c.AvatarURL, Bot: true,
				Friend: true, Extra: profileExtra("", 0, "", false),
			}, nil
		}
	}
	return nil, &platform.Error{Msg: "read bot profile: not in the address book", Err: platform.ErrNotFound}
}

// Friends lists the friends and then the bots of the address book: a chat
// with a bot is a private chat (its id as user_id), so bots are reachable
// exactly as friends are.
func (b *Backend) Friends(ctx context.Context) ([]platform.User, error) {
	book, err := b.client.AddressBook(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]platform.User, 0, len(book.Friends)+len(book.Bots))
	for _, c := range book.Friends {
		out = append(out, platform.User{ID: c.ID, Name: c.Name, Remark: c.Remark, Avatar: c.AvatarURL, Friend: true})
	}
	for _, c := range book.Bots {
		b.rememberBot(c.ID)
		out = append(out, platform.User{ID: c.ID, Name: c.Name, Remark: c.Remark, Avatar: c.AvatarURL, Bot: true, Friend: true})
	}
	return out, nil
}

// Groups lists the groups of the address book. The book has no member
// counts (one group/info per group would be needed), so MemberCount is 0
// here; Group has it.
func (b *Backend) Groups(ctx context.Context) ([]platform.Group, error) {
	book, err := b.client.AddressBook(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]platform.Group, 0, len(book.Groups))
	for _, g := range book.Groups {
		out = append(out, platform.Group{ID: g.ID, Name: g.Name})
	}
	return out, nil
}

// Group reads a group. Yunhu has no member cap (MaxMembers 0); its
// introduction and creation time go in Extra as go-cqhttp's group_memo and
// group_create_time.
func (b *Backend) Group(ctx context.Context, id string) (*platform.Group, error) {
	g, err := b.client.GroupInfo(ctx, id)
	if err != nil {
		return nil, classify(err)
	}
	var created int64
	if !g.CreateTime.IsZero() {
		created = g.CreateTime.Unix()
	}
	return &platform.Group{
		ID: id, Name: g.Name, MemberCount: int32(min(g.MemberCount, 1<<31-1)),
		Extra: map[string]any{"group_memo": g.Introduction, "group_create_time": created},
	}, nil
}

// Members lists a group's members with their roles. Member lists carry
// real names only (§4.2); the account's own card is its group nickname,
// from the group's info (left empty if that read fails).
func (b *Backend) Members(ctx context.Context, groupID string) ([]platform.Member, error) {
	members, err := b.client.AllMembers(ctx, groupID)
	if err != nil {
		return nil, classify(err)
	}
	self := b.selfID()
	out := make([]platform.Member, 0, len(members))
	for _, m := range members {
		pm := platform.Member{UserID: m.UserID, Name: m.Name, Role: roleOf(m.PermissionLevel), Avatar: m.AvatarURL}
		if m.Gagged {
			// GagUntil is passed on as Yunhu sends it (its unit is not
			// documented), as shut_up_timestamp.
			pm.MutedUntil = time.Unix(m.GagUntil, 0)
		}
		if m.UserID == self && self != "" {
			if g, err := b.client.GroupInfo(ctx, groupID); err == nil {
				pm.Card = g.MyNickname
			}
		}
		out = append(out, pm)
	}
	return out, nil
}

// Kick removes a member. rejectAgain has no Yunhu counterpart: a removed
// member may apply again, and the request reaches the admins as usual.
func (b *Backend) Kick(ctx context.Context, groupID, userID string, _ bool) error {
	return classify(b.client.RemoveMember(ctx, groupID, userID))
}

// gagDuration maps a requested mute in seconds to one Yunhu accepts
// (yh.GagDurations: 10 min, 1 h, 6 h, 12 h, permanent): 0 lifts the
// mute, anything else rounds up to the next allowed length, and beyond
// 12 hours to permanent. Rounding up keeps a mute at least as long as
// asked; an admin who wanted 30 minutes gets an hour, never nothing.
func gagDuration(seconds int64) int {
	if seconds <= 0 {
		return yh.GagNone
	}
	for _, d := range yh.GagDurations() {
		if d > 0 && int64(d) >= seconds {
			return d
		}
	}
	return yh.GagPermanent
}

// Mute mutes a member for d, rounded up as gagDuration says; 0 lifts it.
func (b *Backend) Mute(ctx context.Context, groupID, userID string, d time.Duration) error {
	seconds := int64((d + time.Second - 1) / time.Second)
	if d < 0 {
		return platform.BadParamf("duration: %d is negative; 0 lifts a mute", seconds)
	}
	return classify(b.client.GagMember(ctx, groupID, userID, gagDuration(seconds)))
}

// SetGroupName renames a group. edit-group overwrites every setting
// (§4.4), so the current ones are read first and only the name changes.
func (b *Backend) SetGroupName(ctx context.Context, groupID, name string) error {
	if name == "" {
		return platform.BadParamf("group_name: empty")
	}
	g, err := b.client.GroupInfo(ctx, groupID)
	if err != nil {
		return classify(err)
	}
	s := g.Settings()
	s.Name = name
	return classify(b.client.EditGroup(ctx, s))
}

// SetCard sets the account's own nickname in a group; Yunhu lets nobody
// set another member's.
func (b *Backend) SetCard(ctx context.Context, groupID, userID, card string) error {
	self, err := b.ensureSelf(ctx)
	if err != nil {
		return err
	}
	if userID != self {
		return platform.Unsupportedf("Yunhu only lets a member set their own group nickname; user_id must be the account's own id")
	}
	return classify(b.client.SetMyGroupNickname(ctx, groupID, card))
}

// Leave leaves a group (delete-friend with the group chat type, §3.5).
// Yunhu refuses it for the owner, who can only dismiss the group.
func (b *Backend) Leave(ctx context.Context, groupID string) error {
	return classify(b.client.DeleteFriend(ctx, yh.Chat{ID: groupID, Type: yh.ChatTypeGroup}))
}

// DeleteFriend removes a friend (or a bot) from the address book.
func (b *Backend) DeleteFriend(ctx context.Context, userID string) error {
	return classify(b.client.DeleteFriend(ctx, b.chatFor(ctx, platform.Conv{Kind: platform.KindPrivate, ID: userID})))
}

// MarkRead clears the unread count of a conversation
// (dismiss-notification, §3.7); Yunhu marks whole chats, not messages.
func (b *Backend) MarkRead(ctx context.Context, conv platform.Conv) error {
	return classify(b.client.DismissNotification(ctx, conv.ID))
}

// Edit replaces the content of one of the account's messages. Yunhu edits
// text, markdown and html (into each other too), so the new message must
// be exactly one of those; its quote and mentions go along.
func (b *Backend) Edit(ctx context.Context, conv platform.Conv, msgID string, msg segment.Message, env platform.EncodeEnv) (segment.Message, error) {
	parts, err := b.buildOutgoing(ctx, b.chatFor(ctx, conv), msg, env)
	if err != nil {
		return nil, err
	}
	ct := parts[0].out.ContentType
	if len(parts) != 1 || (ct != yh.ContentText && ct != yh.ContentMarkdown && ct != yh.ContentHTML) {
		return nil, platform.BadParamf("message: an edit must be one text, markdown or html message (Yunhu edits nothing else), this is %d messages", len(parts))
	}
	out := parts[0].out
	out.ID = msgID
	if err := b.client.EditMessage(ctx, out); err != nil {
		return nil, classify(err)
	}
	return parts[0].segs, nil
}
