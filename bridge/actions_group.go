package bridge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Group actions (api/public.md) on platform.Directory, GroupAdmin and
// Requests. Admin calls are checked by the platform: its refusal (not an
// admin, the owner cannot be kicked, ...) is passed on in its own words.

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

// Keys of platform.Group.Extra that fill go-cqhttp's fields of the same
// name; the other keys are added to the result as they are.
const (
	extraGroupMemo       = "group_memo"        // string
	extraGroupCreateTime = "group_create_time" // Unix seconds, or a time.Time
)

// groupInfo is get_group_info's data and an entry of get_group_list.
// group_memo and group_create_time are go-cqhttp's additions; a
// platform's own fields (Group.Extra) follow them.
type groupInfo struct {
	GroupID         int64  `json:"group_id"`
	GroupName       string `json:"group_name"`
	GroupMemo       string `json:"group_memo"`
	GroupCreateTime int64  `json:"group_create_time"`
	MemberCount     int64  `json:"member_count"`
	MaxMemberCount  int64  `json:"max_member_count"`

	extra map[string]any
}

// MarshalJSON writes the fields above, then the extra ones.
func (g groupInfo) MarshalJSON() ([]byte, error) {
	type plain groupInfo // without this method
	return marshalWithExtra(plain(g), g.extra)
}

// groupInfoOf is the result for g, whose OneBot id is n.
func groupInfoOf(n int64, g *platform.Group) groupInfo {
	info := groupInfo{
		GroupID: n, GroupName: g.Name, MemberCount: int64(g.MemberCount), MaxMemberCount: int64(g.MaxMembers),
		GroupMemo: extraString(g.Extra, extraGroupMemo), GroupCreateTime: extraUnix(g.Extra, extraGroupCreateTime),
		extra: g.Extra,
	}
	return info
}

// getGroupList lists the account's groups.
func (b *Bridge) getGroupList(ctx context.Context, _ *onebot.Request) (any, error) {
	groups, err := b.dir.Groups(ctx)
	if err != nil {
		return nil, platformError("list groups", err)
	}
	out := make([]groupInfo, 0, len(groups))
	for i := range groups {
		n, err := b.oneBotID(ctx, groups[i].ID)
		if err != nil {
			return nil, onebot.ErrFailed("map group id", err)
		}
		out = append(out, groupInfoOf(n, &groups[i]))
	}
	return out, nil
}

func (b *Bridge) getGroupInfo(ctx context.Context, req *onebot.Request) (any, error) {
	var p groupParam
	group, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	g, err := b.dir.Group(ctx, group.ID)
	if err != nil {
		return nil, platformError("read group info", err)
	}
	return groupInfoOf(int64(*p.GroupID), g), nil
}

// memberInfoResult is get_group_member_info's data and an entry of
// get_group_member_list. What the member list does not tell (sex, age,
// area, level, last message) is zero.
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
// card_changeable is true for the account itself, the one card every
// platform lets a member set.
func (b *Bridge) memberResult(ctx context.Context, groupN int64, m *platform.Member) (memberInfoResult, error) {
	n, err := b.oneBotID(ctx, m.UserID)
	if err != nil {
		return memberInfoResult{}, onebot.ErrFailed("map user id", err)
	}
	r := memberInfoResult{
		GroupID: groupN, UserID: n, Nickname: m.Name, Card: m.Card, Sex: sexUnknown,
		Role: cmp.Or(string(m.Role), string(platform.RoleMember)), Title: m.Title,
		CardChangeable: m.UserID == b.self(),
	}
	if !m.JoinTime.IsZero() {
		r.JoinTime = m.JoinTime.Unix()
	}
	if !m.MutedUntil.IsZero() {
		r.ShutUpTimestamp = m.MutedUntil.Unix()
	}
	return r, nil
}

func (b *Bridge) getGroupMemberList(ctx context.Context, req *onebot.Request) (any, error) {
	var p groupParam
	group, err := b.decodeGroup(req, &p, &p.GroupID)
	if err != nil {
		return nil, err
	}
	members, err := b.dir.Members(ctx, group.ID)
	if err != nil {
		return nil, platformError("list group members", err)
	}
	b.members.fill(group.ID, members)
	out := make([]memberInfoResult, 0, len(members))
	for i := range members {
		r, err := b.memberResult(ctx, int64(*p.GroupID), &members[i])
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
	members, err := b.dir.Members(ctx, group.ID)
	if err != nil {
		return nil, platformError("list group members", err)
	}
	b.members.fill(group.ID, members)
	i := slices.IndexFunc(members, func(m platform.Member) bool { return m.UserID == userID })
	if i < 0 {
		return nil, onebot.ErrFailed("user "+userID+" is not a member of group "+group.ID, nil)
	}
	return b.memberResult(ctx, int64(*p.GroupID), &members[i])
}

func (b *Bridge) setGroupKick(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		GroupID          *onebot.Int64 `json:"group_id" onebot:"required"`
		UserID           *onebot.Int64 `json:"user_id" onebot:"required"`
		RejectAddRequest onebot.Bool   `json:"reject_add_request"`
	}
	group, userID, err := b.decodeMember(req, &p, &p.GroupID, &p.UserID)
	if err != nil {
		return nil, err
	}
	if err := b.admin.Kick(ctx, group.ID, userID, bool(p.RejectAddRequest)); err != nil {
		return nil, formError(req.Action, "remove member", err)
	}
	return nil, nil
}

// defaultBanSeconds is set_group_ban's default duration (api/public.md).
const defaultBanSeconds = 30 * 60

// maxBanSeconds is the longest mute a time.Duration holds; longer asks
// are clamped to it (the backend rounds to what its platform offers).
const maxBanSeconds = math.MaxInt64 / int64(time.Second)

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
	group, err := b.groupConv("group_id", int64(p.GroupID))
	if err != nil {
		return nil, err
	}
	userID, err := b.platformID("user_id", int64(p.UserID))
	if err != nil {
		return nil, err
	}
	d := time.Duration(min(seconds, maxBanSeconds)) * time.Second
	if err := b.admin.Mute(ctx, group.ID, userID, d); err != nil {
		return nil, formError(req.Action, "mute member", err)
	}
	return nil, nil
}

// setGroupWholeBan mutes (enable, the default) or unmutes a whole group.
func (b *Bridge) setGroupWholeBan(ctx context.Context, req *onebot.Request) (any, error) {
	var p struct {
		GroupID onebot.Int64 `json:"group_id" onebot:"required"`
		Enable  *onebot.Bool `json:"enable"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	group, err := b.groupConv("group_id", int64(p.GroupID))
	if err != nil {
		return nil, err
	}
	on := p.Enable == nil || bool(*p.Enable)
	if err := b.wholeMute.MuteAll(ctx, group.ID, on); err != nil {
		return nil, formError(req.Action, "mute the group", err)
	}
	return nil, nil
}

// setGroupName renames a group.
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
	group, err := b.groupConv("group_id", int64(p.GroupID))
	if err != nil {
		return nil, err
	}
	if err := b.admin.SetGroupName(ctx, group.ID, string(p.GroupName)); err != nil {
		return nil, formError(req.Action, "edit group", err)
	}
	return nil, nil
}

// setGroupCard sets a member's group nickname. Platforms that let a
// member set only their own answer another's with *UnsupportedError,
// which becomes the 1404 with their reason.
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
	if err := b.admin.SetCard(ctx, group.ID, userID, string(p.Card)); err != nil {
		return nil, formError(req.Action, "set group nickname", err)
	}
	return nil, nil
}

// setGroupLeave leaves a group. Dismissing is not available: the bridge
// has no dismiss call, so is_dismiss from the owner is refused rather
// than taken for a plain leave.
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
		if err := b.ensureLogin(ctx); err != nil {
			return nil, err
		}
		if m, known := b.members.lookup(ctx, group.ID, b.self()); known && m.role == platform.RoleOwner {
			return nil, unsupportedForm(req.Action, "dismissing a group is not supported by the bridge, and the owner cannot leave a group without dismissing it")
		}
	}
	if err := b.admin.Leave(ctx, group.ID); err != nil {
		return nil, formError(req.Action, "leave group", err)
	}
	return nil, nil
}

// requestKindOf is the kind a request flag names, for backends whose
// flags start with it ("group_add:42"), so that a flag given to the wrong
// action is refused before the platform is asked; "" when the flag does
// not say.
func requestKindOf(flag string) platform.RequestKind {
	k, _, ok := strings.Cut(flag, ":")
	if !ok {
		return ""
	}
	switch kind := platform.RequestKind(k); kind {
	case platform.FriendRequest, platform.GroupJoinRequest, platform.GroupInviteRequest:
		return kind
	}
	return ""
}

// setGroupAddRequest decides a join request or an invitation by the flag
// of its request event. reason is not passed on: a refusal carries no
// message on every platform.
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
	flag := string(p.Flag)
	kind := requestKindOf(flag)
	if kind == platform.FriendRequest {
		return nil, onebot.ErrBadParams("flag: %q is a friend request; use set_friend_add_request", flag)
	}
	want := map[string]platform.RequestKind{"add": platform.GroupJoinRequest, "invite": platform.GroupInviteRequest}
	if sub := cmp.Or(p.SubType, p.Type); sub != "" && kind != "" && want[sub] != kind {
		return nil, onebot.ErrBadParams("sub_type: %q does not match the request (flag %q)", sub, flag)
	}
	return nil, b.decideRequest(ctx, flag, p.Approve, "")
}

// decideRequest accepts (approve absent or true) or rejects a request.
func (b *Bridge) decideRequest(ctx context.Context, flag string, approve *onebot.Bool, remark string) error {
	agree := approve == nil || bool(*approve)
	if err := b.requests.Decide(ctx, flag, agree, remark); err != nil {
		return platformError("decide request", err)
	}
	return nil
}

// marshalWithExtra writes v, a struct, as a JSON object followed by the
// keys of extra it does not have itself, sorted, so that a platform's own
// fields reach the bot without hiding the standard ones.
func marshalWithExtra(v any, extra map[string]any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return data, err
	}
	var own map[string]json.RawMessage
	if err := json.Unmarshal(data, &own); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if _, dup := own[k]; !dup && k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return data, nil
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	buf.Write(data[:len(data)-1]) // without the closing brace
	for _, k := range keys {
		val, err := json.Marshal(extra[k])
		if err != nil {
			continue // a value JSON cannot hold is left out, not fatal
		}
		key, _ := json.Marshal(k)
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// extraString is extra[key] when it is a string.
func extraString(extra map[string]any, key string) string {
	s, _ := extra[key].(string)
	return s
}

// extraUnix is extra[key] as Unix seconds: a time (zero: 0) or a number.
func extraUnix(extra map[string]any, key string) int64 {
	switch v := extra[key].(type) {
	case time.Time:
		if v.IsZero() {
			return 0
		}
		return v.Unix()
	case int64:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}
