package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Groups (§4, §8.4). Permission levels: 100 owner, 2 admin, 0 member.
// Admin operations answer the documented texts (§1.4, group.md); the order
// in which the checks run is not documented [I]: permission first (which
// also covers an unknown group), then the target's membership, then the
// owner protection, then the value.

func (s *Server) botData(b *bot, base string) *yunhupb.BotData {
	return &yunhupb.BotData{
		BotId: b.id, Name: b.name, AvatarUrl: cdnURL(base, "img", b.avatar), Introduction: b.intro,
		CreateBy: b.owner, CreateTime: b.created, Headcount: 2, AlwaysAgree: true,
	}
}

// groupInfo answers for any existing group; permission_level and
// my_group_nickname are the caller's (0 and "" for outsiders [I]).
func (s *Server) groupInfo(c *call) (any, error) {
	req := &yunhupb.GroupInfoRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	g := s.w.groups[req.GroupId]
	if g == nil {
		return nil, failf("群聊不存在") // [I]
	}
	d := &yunhupb.GroupData{
		GroupId:          g.id,
		Name:             g.name,
		AvatarUrl:        cdnURL(c.base, "img", g.avatar),
		Introduction:     g.intro,
		Headcount:        int64(len(g.members)),
		CreateBy:         g.createBy,
		DirectJoin:       g.directJoin,
		HistoryMsg:       g.historyMsg,
		CategoryName:     g.categoryName,
		CategoryId:       g.categoryID,
		Private:          g.private,
		DoNotDisturb:     c.user.noNotify[g.id],
		Admin:            g.admins(),
		CreateTime:       g.created,
		LimitedMsgType:   g.limited,
		Owner:            g.owner,
		HideGroupMembers: g.hideMembers,
	}
	if m := g.members[c.user.id]; m != nil {
		d.PermissionLevel, d.MyGroupNickname = m.level, m.nickname
	}
	resp := &yunhupb.GroupInfoResponse{Group: d}
	for _, id := range sortedKeys(g.bots) {
		resp.Bots = append(resp.Bots, s.botData(s.w.bots[id], c.base))
	}
	return resp, nil
}

// listMember pages members owner first, then admins, then members [I:
// order not documented]; size 0 means 50, the SDK's default.
func (s *Server) listMember(c *call) (any, error) {
	req := &yunhupb.ListMemberRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	g := s.w.groups[req.GroupId]
	if g == nil {
		return nil, failf("群聊不存在") // [I]
	}
	now := s.now()
	var all []*yunhupb.GroupMember
	for _, m := range g.sortedMembers() {
		u := s.w.users[m.userID]
		if req.Keywords != "" && !strings.Contains(u.name, req.Keywords) && !strings.Contains(m.nickname, req.Keywords) {
			continue
		}
		gm := &yunhupb.GroupMember{
			GroupId:         g.id,
			User:            &yunhupb.MemberUser{UserId: u.id, Name: u.name, AvatarUrl: cdnURL(c.base, "img", u.avatar)},
			PermissionLevel: m.level,
			IsGag:           m.gagged(now),
		}
		if m.gagEver {
			gm.GagTime = yunhu.GagPermanent
		} else if gm.IsGag {
			gm.GagTime = m.gagUntil
		}
		all = append(all, gm)
	}
	size := int(req.GetPage().GetSize())
	if size <= 0 {
		size = 50
	}
	resp := &yunhupb.ListMemberResponse{Total: int32(len(all))}
	if s.noTotal {
		resp.Total = 0
	}
	// Pages are cut at the server's own size: page n is the n-th slice
	// of that size, whatever the client asked for.
	resp.Members = paginate(all, int(req.GetPage().GetPage()), s.pageSizeLocked(size))
	return resp, nil
}

// SetPaging makes list-member, list-message and the edit history serve at
// most max items a page, whatever was asked (0 restores the asked size),
// and leave their total out when omitTotal: both as the real service may
// do (§4.2 has total in the proto only), so that a client must page until
// an empty page.
func (s *Server) SetPaging(max int, omitTotal bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageMax, s.noTotal = max, omitTotal
}

// pageSizeLocked is the page size served for a request of size.
func (s *Server) pageSizeLocked(size int) int {
	if s.pageMax > 0 && size > s.pageMax {
		return s.pageMax
	}
	return size
}

// AddMembers creates n new users (ids from 1100000, names "Member <k>")
// and makes them plain members of groupID; it returns their ids.
func (s *Server) AddMembers(groupID string, n int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.groups[groupID]
	if g == nil {
		return nil, fmt.Errorf("sim: no group %s", groupID)
	}
	reg := s.now().Add(-24 * time.Hour).Format(time.DateTime)
	ids := make([]string, 0, n)
	for k := 0; len(ids) < n; k++ {
		id := strconv.Itoa(1100000 + k)
		if s.w.users[id] != nil {
			continue
		}
		s.w.addUser(id, fmt.Sprintf("Member %d", k), TokenFor(id), reg)
		s.joinGroupLocked(g, id)
		ids = append(ids, id)
	}
	s.notifyLocked()
	return ids, nil
}

// adminTargetLocked runs the shared checks of remove-member and gag-member.
// An admin may act on members but not on other admins [I].
func (s *Server) adminTargetLocked(by, groupID, userID, ownerMsg string) (*group, *member, error) {
	g := s.w.groups[groupID]
	if g == nil || g.level(by) < yunhu.PermissionAdmin {
		return nil, nil, failf("%s", msgNoPermission)
	}
	m := g.members[userID]
	if m == nil {
		return nil, nil, failf("%s", msgNotInGroup)
	}
	if m.level == yunhu.PermissionOwner {
		return nil, nil, failf("%s", ownerMsg)
	}
	if m.level == yunhu.PermissionAdmin && g.level(by) != yunhu.PermissionOwner {
		return nil, nil, failf("%s", msgNoPermission)
	}
	return g, m, nil
}

func (s *Server) removeMember(c *call) (any, error) {
	var req struct {
		GroupID string `json:"groupId"`
		UserID  string `json:"userId"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	g, _, err := s.adminTargetLocked(c.user.id, req.GroupID, req.UserID, msgRemoveOwner)
	if err != nil {
		return nil, err
	}
	delete(g.members, req.UserID)
	return nil, nil
}

// gagMember accepts only the documented durations; -1 is permanent (§7 #24:
// MD3's 1 is not accepted, so a client sending it finds out here).
// gag_time is stored as the end in unix seconds [I: unit undocumented].
func (s *Server) gagMember(c *call) (any, error) {
	var req struct {
		GroupID string `json:"groupId"`
		UserID  string `json:"userId"`
		Gag     int64  `json:"gag"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	_, m, err := s.adminTargetLocked(c.user.id, req.GroupID, req.UserID, msgGagOwner)
	if err != nil {
		return nil, err
	}
	if !contains(gagValues(), req.Gag) {
		return nil, failf("%s", msgBadGag)
	}
	switch req.Gag {
	case yunhu.GagNone:
		m.gagEver, m.gagUntil = false, 0
	case yunhu.GagPermanent:
		m.gagEver, m.gagUntil = true, 0
	default:
		m.gagEver, m.gagUntil = false, s.now().Unix()+req.Gag
	}
	return nil, nil
}

func gagValues() []int64 {
	var out []int64
	for _, v := range yunhu.GagDurations() {
		out = append(out, int64(v))
	}
	return out
}

// editGroup overwrites every editable setting, missing fields included
// (§4.4): that is why clients copy group/info first.
func (s *Server) editGroup(c *call) (any, error) {
	req := &yunhupb.EditGroupRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	g := s.w.groups[req.GroupId]
	if g == nil || g.level(c.user.id) < yunhu.PermissionAdmin {
		return nil, failf("%s", msgNoPermission)
	}
	g.name, g.intro, g.avatar = req.Name, req.Introduction, req.AvatarUrl
	g.directJoin, g.historyMsg = req.DirectJoin, req.HistoryMsg
	g.categoryName, g.categoryID = req.CategoryName, req.CategoryId
	g.private, g.hideMembers = req.Private, req.HideGroupMembers
	return nil, nil
}

// editMyNickname answers {"code":1,"msg":"success"}; the docs show only
// {"msg":"success"}, most likely an omission (§7 #26).
func (s *Server) editMyNickname(c *call) (any, error) {
	var req struct {
		GroupID  string `json:"groupId"`
		Nickname string `json:"nickname"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	g := s.w.groups[req.GroupID]
	if g == nil || g.members[c.user.id] == nil {
		return nil, failf("%s", msgSelfNotMember)
	}
	g.members[c.user.id].nickname = req.Nickname
	return nil, nil
}

// inviteLocked is /v1/group/invite: a user invitee must be the inviter's
// friend and gets a request to accept; a bot joins at once [I].
func (s *Server) inviteLocked(inviter, inviteeID string, inviteeType int32, groupID string) (int32, error) {
	g := s.w.groups[groupID]
	if g == nil || g.members[inviter] == nil {
		return 0, failf("%s", msgSelfNotMember)
	}
	switch inviteeType {
	case yunhu.ChatTypeUser:
		if s.w.users[inviteeID] == nil {
			return 0, failf("用户不存在")
		}
		if !s.w.users[inviter].friends[inviteeID] {
			return 0, failf("%s", msgNotFriend)
		}
		if g.members[inviteeID] != nil {
			return 0, &Error{Code: yunhu.CodeAlreadyAdded, Msg: msgAlreadyAdded}
		}
		return s.newRequestLocked(&request{from: inviter, targetType: yunhu.ChatTypeGroup, targetID: g.id,
			invitee: inviteeID, receivers: []string{inviteeID}}), nil
	case yunhu.ChatTypeBot:
		if s.w.bots[inviteeID] == nil {
			return 0, failf("机器人不存在")
		}
		if g.bots[inviteeID] {
			return 0, &Error{Code: yunhu.CodeAlreadyAdded, Msg: msgAlreadyAdded}
		}
		g.bots[inviteeID] = true
		return 0, nil
	}
	return 0, failf("%s", msgBadParams)
}

func (s *Server) groupInvite(c *call) (any, error) {
	var req struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
		GroupID  string `json:"groupId"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	_, err := s.inviteLocked(c.user.id, req.ChatID, req.ChatType, req.GroupID)
	return nil, err
}

// botList lists the group's bots and their commands (§4.5).
func (s *Server) botList(c *call) (any, error) {
	req := &yunhupb.BotListRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	g := s.w.groups[req.GroupId]
	if g == nil {
		return nil, failf("群聊不存在") // [I]
	}
	resp := &yunhupb.BotListResponse{}
	for _, id := range sortedKeys(g.bots) {
		b := s.w.bots[id]
		resp.Bots = append(resp.Bots, s.botData(b, c.base))
		if id == BotID {
			resp.Instructions = append(resp.Instructions, &yunhupb.Instruction{
				Id: BotCommandID, BotId: id, Name: "help", Desc: "show help", Type: 1, BotName: b.name,
			})
		}
	}
	return resp, nil
}

func (s *Server) msgTypeLimit(c *call) (any, error) {
	var req struct {
		GroupID string `json:"groupId"`
		Type    string `json:"type"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	g := s.w.groups[req.GroupID]
	if g == nil || g.level(c.user.id) < yunhu.PermissionAdmin {
		return nil, failf("%s", msgNoPermission)
	}
	g.limited = req.Type
	return nil, nil
}
