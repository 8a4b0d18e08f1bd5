package bridge

import (
	"cmp"
	"context"
	"slices"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Group actions (api/public.md). Group admin calls are checked by Yunhu:
// its refusal (not an admin, the owner cannot be kicked, ...) is passed on
// with Yunhu's own text.

// groupParam and groupMemberParam hold the ids as pointers because
// decodeGroup and decodeMember take them so; the required tag keeps them
// non-nil.
type groupParam struct {
	GroupID *onebot.Int64 `json:"group_id" onebot:"required"`
}

type groupMemberParam struct {
	GroupID *onebot.Int64 `json:"group_id" onebot:"required"`
	UserID  *onebot.Int64 `json:"user_id" onebot:"required"`
}

// groupInfo is get_group_info's data and an entry of get_group_list.
// Yunhu has no member cap; max_member_count is 0. group_memo and
// group_create_time are go-cqhttp's additions.
type groupInfo struct {
	GroupID         int64  `json:"group_id"`
	GroupName       string `json:"group_name"`
	GroupMemo       string `json:"group_memo"`
	GroupCreateTime int64  `json:"group_create_time"`
	MemberCount     int64  `json:"member_count"`
	MaxMemberCount  int64  `json:"max_member_count"`
}

// getGroupList lists the groups of the address book. The book has no
// member counts (one group/info per group would be needed), so
// member_count is 0 here; get_group_info has it.
func (b *Bridge) getGroupList(ctx context.Context, _ *onebot.Request) (any, error) {
	book, err := b.platform.AddressBook(ctx)
	if err != nil {
		return nil, platformError("read address book", err)
	}
	out := make([]groupInfo, 0, len(book.Groups))
	for _, g := range book.Groups {
		n, err := b.oneBotID(ctx, g.ID)
		if err != nil {
			return nil, onebot.ErrFailed("map group id", err)
		}
		out = append(out, groupInfo{GroupID: n, GroupName: g.Name})
	}
	return out, nil
}

func (b *Bridge) getGroupInfo(ctx context.Context, req *onebot.Request) (any, error) {
	var p groupParam
	group, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	g, err := b.platform.GroupInfo(ctx, group.ID)
	if err != nil {
		return nil, platformError("read group info", err)
	}
	info := groupInfo{
		GroupID: int64(*p.GroupID), GroupName: g.Name, GroupMemo: g.Introduction, MemberCount: g.MemberCount,
	}
	if !g.CreateTime.IsZero() {
		info.GroupCreateTime = g.CreateTime.Unix()
	}
	return info, nil
}

// memberInfoResult is get_group_member_info's data and an entry of
// get_group_member_list. Yunhu has no sex, age, area, join time, level or
// titles; card is known only for the account itself (member lists carry
// real names only, §4.2).
type memberInfoResult struct {
	GroupID         int64  `json:"group_id"`
	UserID          int64  `json:"user_id"`
	Nickname        string `json:"nickname"`
	Card            string `json:"card"`
	Sex             string `json:"sex"`
	Age             int32  `json:"age"`
	Area            string `json:"area"`
	JoinTime        int64  `json:"join_time"`
	LastSentTime    int64  `json:"last_sent_time"`
	Level           string `json:"level"`
	Role            string `json:"role"`
	Unfriendly      bool   `json:"unfriendly"`
	Title           string `json:"title"`
	TitleExpireTime int64  `json:"title_expire_time"`
	CardChangeable  bool   `json:"card_changeable"`
	ShutUpTimestamp int64  `json:"shut_up_timestamp"`
}

// memberResult builds a member entry; groupN is the group's OneBot id.
func (b *Bridge) memberResult(ctx context.Context, groupN int64, m yunhu.Member, myCard string) (memberInfoResult, error) {
	n, err := b.oneBotID(ctx, m.UserID)
	if err != nil {
		return memberInfoResult{}, onebot.ErrFailed("map user id", err)
	}
	r := memberInfoResult{
		GroupID: groupN, UserID: n, Nickname: m.Name, Sex: sexUnknown, Role: roleOf(m.PermissionLevel),
		CardChangeable: m.UserID == b.self(),
	}
	if m.UserID == b.self() {
		r.Card = myCard
	}
	if m.Gagged {
		r.ShutUpTimestamp = m.GagUntil
	}
	return r, nil
}

// myGroupCard is the account's own nickname in a group, "" when unknown.
func (b *Bridge) myGroupCard(ctx context.Context, groupID string) string {
	if g, err := b.platform.GroupInfo(ctx, groupID); err == nil {
		return g.MyNickname
	}
	return ""
}

func (b *Bridge) getGroupMemberList(ctx context.Context, req *onebot.Request) (any, error) {
	var p groupParam
	group, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	members, err := b.platform.AllMembers(ctx, group.ID)
	if err != nil {
		return nil, platformError("list group members", err)
	}
	b.members.fill(group.ID, members)
	card := b.myGroupCard(ctx, group.ID)
	out := make([]memberInfoResult, 0, len(members))
	for _, m := range members {
		r, err := b.memberResult(ctx, int64(*p.GroupID), m, card)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (b *Bridge) getGroupMemberInfo(ctx context.Context, req *onebot.Request) (any, error) {
	var p groupMemberParam
	group, userID, err := b.decodeMember(req, &p, &p.GroupID, &p.UserID)
	if err != nil {
		return nil, err
	}
	members, err := b.platform.AllMembers(ctx, group.ID)
	if err != nil {
		return nil, platformError("list group members", err)
	}
	b.members.fill(group.ID, members)
	i := slices.IndexFunc(members, func(m yunhu.Member) bool { return m.UserID == userID })
	if i < 0 {
		return nil, onebot.ErrFailed("user "+userID+" is not a member of group "+group.ID, nil)
	}
	card := ""
	if userID == b.self() {
		card = b.myGroupCard(ctx, group.ID)
	}
	return b.memberResult(ctx, int64(*p.GroupID), members[i], card)
}

func (b *Bridge) setGroupKick(ctx context.Context, req *onebot.Request) (any, error) {
	// reject_add_request has no Yunhu counterpart: a removed member may
	// apply again, and the request reaches the admins as usual.
	var p groupMemberParam
	group, userID, err := b.decodeMember(req, &p, &p.GroupID, &p.UserID)
	if err != nil {
		return nil, err
	}
	if err := b.platform.RemoveMember(ctx, group.ID, userID); err != nil {
		return nil, platformError("remove member", err)
	}
	return nil, nil
}

// defaultBanSeconds is set_group_ban's default duration (api/public.md).
const defaultBanSeconds = 30 * 60

// gagDuration maps a requested mute in seconds to one Yunhu accepts
// (yunhu.GagDurations: 10 min, 1 h, 6 h, 12 h, permanent): 0 lifts the
// mute, anything else rounds up to the next allowed length, and beyond
// 12 hours to permanent. Rounding up keeps a mute at least as long as
// asked; an admin who wanted 30 minutes gets an hour, never nothing.
func gagDuration(seconds int64) int {
	if seconds <= 0 {
		return yunhu.GagNone
	}
	for _, d := range yunhu.GagDurations() {
		if d > 0 && int64(d) >= seconds {
			return d
		}
	}
	return yunhu.GagPermanent
}

func (b *Bridge) setGroupBan(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		GroupID  onebot.Int64  `json:"group_id" onebot:"required"`
		UserID   onebot.Int64  `json:"user_id" onebot:"required"`
		Duration *onebot.Int64 `json:"duration"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	seconds := int64(defaultBanSeconds)
	if p.Duration != nil {
		seconds = int64(*p.Duration)
	}
	if seconds < 0 {
		return nil, onebot.ErrBadParams("duration: %d is negative; 0 lifts a mute", seconds)
	}
	// Mapped only now, not by decodeMember: a bad duration is reported
	// before an unknown id.
	group, err := b.groupChat("group_id", int64(p.GroupID))
	if err != nil {
		return nil, err
	}
	userID, err := b.yunhuID("user_id", int64(p.UserID))
	if err != nil {
		return nil, err
	}
	if err := b.platform.GagMember(ctx, group.ID, userID, gagDuration(seconds)); err != nil {
		return nil, platformError("mute member", err)
	}
	return nil, nil
}

// setGroupName renames a group. edit-group overwrites every setting
// (§4.4), so the current ones are read first and only the name changes.
func (b *Bridge) setGroupName(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		GroupID   onebot.Int64  `json:"group_id" onebot:"required"`
		GroupName onebot.String `json:"group_name" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if p.GroupName == "" {
		return nil, onebot.ErrBadParams("group_name: empty")
	}
	// Mapped only now, not by decodeGroup: an empty name is reported
	// before an unknown group.
	group, err := b.groupChat("group_id", int64(p.GroupID))
	if err != nil {
		return nil, err
	}
	g, err := b.platform.GroupInfo(ctx, group.ID)
	if err != nil {
		return nil, platformError("read group info", err)
	}
	s := g.Settings()
	s.Name = string(p.GroupName)
	if err := b.platform.EditGroup(ctx, s); err != nil {
		return nil, platformError("edit group", err)
	}
	return nil, nil
}

// setGroupCard sets the account's own nickname in a group; Yunhu lets
// nobody set another member's.
func (b *Bridge) setGroupCard(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		GroupID *onebot.Int64 `json:"group_id" onebot:"required"`
		UserID  *onebot.Int64 `json:"user_id" onebot:"required"`
		Card    onebot.String `json:"card"`
	}
	group, userID, err := b.decodeMember(req, &p, &p.GroupID, &p.UserID)
	if err != nil {
		return nil, err
	}
	if err := b.ensureLogin(ctx); err != nil {
		return nil, err
	}
	if userID != b.self() {
		return nil, unsupportedForm(req.Action, "Yunhu only lets a member set their own group nickname; user_id must be the account's own id")
	}
	if err := b.platform.SetMyGroupNickname(ctx, group.ID, string(p.Card)); err != nil {
		return nil, platformError("set group nickname", err)
	}
	return nil, nil
}

// setGroupLeave leaves a group (delete-friend with the group chat type,
// §3.5). Dismissing is not available: the bridge has no dismiss call, so
// is_dismiss from the owner is refused rather than ignored.
func (b *Bridge) setGroupLeave(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		GroupID   *onebot.Int64 `json:"group_id" onebot:"required"`
		IsDismiss onebot.Bool   `json:"is_dismiss"`
	}
	group, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	if p.IsDismiss {
		g, err := b.platform.GroupInfo(ctx, group.ID)
		if err != nil {
			return nil, platformError("read group info", err)
		}
		if g.PermissionLevel >= yunhu.PermissionOwner {
			return nil, unsupportedForm(req.Action, "dismissing a group is not supported by the bridge, and the owner cannot leave a Yunhu group without dismissing it")
		}
	}
	if err := b.platform.DeleteFriend(ctx, group); err != nil {
		return nil, platformError("leave group", err)
	}
	return nil, nil
}

// setGroupAddRequest decides a join request or an invitation by the flag
// of its request event (requests.go). reason is not sent: Yunhu's
// agree-apply carries no message.
func (b *Bridge) setGroupAddRequest(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		Flag    onebot.String `json:"flag" onebot:"required"`
		SubType string        `json:"sub_type"`
		Type    string        `json:"type"`
		Approve *onebot.Bool  `json:"approve"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	id, kind, err := parseRequestFlag(string(p.Flag))
	if err != nil {
		return nil, err
	}
	if kind == requestFriend {
		return nil, onebot.ErrBadParams("flag: %q is a friend request; use set_friend_add_request", string(p.Flag))
	}
	want := map[string]requestKind{requestSubAdd: requestGroupAdd, requestSubInvite: requestGroupInvite}
	if sub := cmp.Or(p.SubType, p.Type); sub != "" && want[sub] != kind {
		return nil, onebot.ErrBadParams("sub_type: %q does not match the request (flag %q)", sub, string(p.Flag))
	}
	return nil, b.decideRequest(ctx, id, p.Approve)
}

// decideRequest accepts (approve absent or true) or rejects a request.
func (b *Bridge) decideRequest(ctx context.Context, id int64, approve *onebot.Bool) error {
	agree := yunhu.AgreeAccept
	if approve != nil && !*approve {
		agree = yunhu.AgreeReject
	}
	if err := b.platform.AgreeApply(ctx, id, agree); err != nil {
		return platformError("decide request", err)
	}
	return nil
}
