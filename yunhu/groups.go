package yunhu

import (
	"context"
	"fmt"
	"net/http"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// GroupInfo returns group id as the account sees it (§4.1).
func (c *Client) GroupInfo(ctx context.Context, id string) (*Group, error) {
	var resp yunhupb.GroupInfoResponse
	if err := c.callProto(ctx, http.MethodPost, PathGroupInfo, &yunhupb.GroupInfoRequest{GroupId: id}, &resp, true); err != nil {
		return nil, fmt.Errorf("group info %s: %w", id, err)
	}
	d := resp.GetGroup()
	if d.GetGroupId() == "" && d.GetName() == "" {
		return nil, fmt.Errorf("group info %s: %w", id, ErrNotFound)
	}
	g := &Group{
		ID: orDefault(d.GetGroupId(), id), Name: d.GetName(), AvatarURL: d.GetAvatarUrl(),
		Introduction: d.GetIntroduction(), MemberCount: d.GetHeadcount(), CreatedBy: d.GetCreateBy(),
		Owner: d.GetOwner(), Admins: d.GetAdmin(), PermissionLevel: d.GetPermissionLevel(),
		DirectJoin: d.GetDirectJoin(), HistoryMsg: d.GetHistoryMsg(), CategoryName: d.GetCategoryName(),
		CategoryID: d.GetCategoryId(), Private: d.GetPrivate(), HideMembers: d.GetHideGroupMembers(),
		DoNotDisturb: d.GetDoNotDisturb(), LimitedMsgTypes: d.GetLimitedMsgType(),
		MyNickname: d.GetMyGroupNickname(), GroupCode: d.GetGroupCode(),
		CreateTime: secTime(d.GetCreateTime()), AutoDeleteDays: d.GetAutoDeleteMessage(),
	}
	for _, b := range resp.GetBots() {
		g.Bots = append(g.Bots, Bot{ID: b.GetBotId(), Name: b.GetName(), AvatarURL: b.GetAvatarUrl(), Introduction: b.GetIntroduction()})
	}
	return g, nil
}

// ListMembers returns one page (1-based) of group members, optionally
// filtered by a name keyword, and the total when the server reports it
// (0 otherwise).
func (c *Client) ListMembers(ctx context.Context, groupID string, page, size int, keywords string) ([]Member, int, error) {
	req := &yunhupb.ListMemberRequest{Page: &yunhupb.Page{Size: int32(size), Page: int32(page)}, GroupId: groupID, Keywords: keywords}
	var resp yunhupb.ListMemberResponse
	if err := c.callProto(ctx, http.MethodPost, PathGroupListMember, req, &resp, true); err != nil {
		return nil, 0, fmt.Errorf("list members of %s: %w", groupID, err)
	}
	out := make([]Member, 0, len(resp.GetMembers()))
	for _, m := range resp.GetMembers() {
		u := m.GetUser()
		out = append(out, Member{
			GroupID: orDefault(m.GetGroupId(), groupID), UserID: u.GetUserId(), Name: u.GetName(),
			AvatarURL: u.GetAvatarUrl(), VIP: u.GetIsVip(), PermissionLevel: m.GetPermissionLevel(),
			Gagged: m.GetIsGag(), GagUntil: m.GetGagTime(),
		})
	}
	return out, int(resp.GetTotal()), nil
}

// memberPage is the page size AllMembers asks for, the SDK's default
// (§4.2).
const memberPage = 50

// maxMemberPages bounds AllMembers against a server that never ends.
const maxMemberPages = 2000

// AllMembers pages through every member of a group. The server may answer
// fewer members than asked on a page that is not the last, and may leave
// total out, so only an empty page or total reached ends the list. A
// server that never ends is stopped by maxMemberPages and by a page that
// brings no member not seen before (the same page served again).
func (c *Client) AllMembers(ctx context.Context, groupID string) ([]Member, error) {
	all, _, err := CollectPages(maxMemberPages, 0, func(page int) ([]Member, int, error) {
		return c.ListMembers(ctx, groupID, page, memberPage, "")
	}, func(m Member) string { return m.UserID })
	return all, err
}

// RemoveMember removes a user from a group (owner/admin, §4.3).
func (c *Client) RemoveMember(ctx context.Context, groupID, userID string) error {
	req := struct {
		GroupID string `json:"groupId"`
		UserID  string `json:"userId"`
	}{groupID, userID}
	if err := c.callJSON(ctx, PathGroupRemoveMember, req, nil, false); err != nil {
		return fmt.Errorf("remove %s from %s: %w", userID, groupID, err)
	}
	return nil
}

// GagMember mutes a member for seconds, one of GagDurations(): 0 unmutes,
// GagPermanent (-1) mutes for good (§4.3). Other values are refused by the
// server.
func (c *Client) GagMember(ctx context.Context, groupID, userID string, seconds int) error {
	req := struct {
		GroupID string `json:"groupId"`
		UserID  string `json:"userId"`
		Gag     int    `json:"gag"`
	}{groupID, userID, seconds}
	if err := c.callJSON(ctx, PathGroupGagMember, req, nil, false); err != nil {
		return fmt.Errorf("gag %s in %s: %w", userID, groupID, err)
	}
	return nil
}

// EditGroup overwrites every setting of a group (§4.4); start from
// Group.Settings to change only some.
func (c *Client) EditGroup(ctx context.Context, s GroupSettings) error {
	req := &yunhupb.EditGroupRequest{
		GroupId: s.GroupID, Name: s.Name, Introduction: s.Introduction, AvatarUrl: s.AvatarURL,
		DirectJoin: s.DirectJoin, HistoryMsg: s.HistoryMsg, CategoryName: s.CategoryName,
		CategoryId: s.CategoryID, Private: s.Private, HideGroupMembers: s.HideMembers,
	}
	var resp yunhupb.StatusResponse
	if err := c.callProto(ctx, http.MethodPost, PathGroupEditGroup, req, &resp, false); err != nil {
		return fmt.Errorf("edit group %s: %w", s.GroupID, err)
	}
	return nil
}

// SetMyGroupNickname sets the account's nickname in a group (§4.3).
func (c *Client) SetMyGroupNickname(ctx context.Context, groupID, nickname string) error {
	req := struct {
		GroupID  string `json:"groupId"`
		Nickname string `json:"nickname"`
	}{groupID, nickname}
	if err := c.callJSON(ctx, PathGroupEditMyNickname, req, nil, false); err != nil {
		return fmt.Errorf("set nickname in %s: %w", groupID, err)
	}
	return nil
}

// Invite adds a friend (ChatTypeUser) or a bot (ChatTypeBot) to a group
// (§4.3).
func (c *Client) Invite(ctx context.Context, groupID string, who Chat) error {
	req := struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
		GroupID  string `json:"groupId"`
	}{who.ID, int32(who.Type), groupID}
	if err := c.callJSON(ctx, PathGroupInvite, req, nil, false); err != nil {
		return fmt.Errorf("invite %s to %s: %w", who.ID, groupID, err)
	}
	return nil
}
