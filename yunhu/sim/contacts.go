package sim

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Account, contacts, requests and conversations (§3, §8.4).

func (s *Server) userInfo(c *call) (any, error) {
	u := c.user
	return &yunhupb.UserInfoResponse{Data: &yunhupb.UserInfo{
		Id:             u.id,
		Name:           u.name,
		AvatarUrl:      cdnURL(c.base, "img", u.avatar),
		Phone:          u.phone,
		Email:          u.email,
		Coin:           12.5,
		InvitationCode: "SIM" + u.id,
	}}, nil
}

// getUser accepts any non-empty token (§3.2); the remark is the caller's
// own, so it is only filled when the token is a known account.
func (s *Server) getUser(c *call) (any, error) {
	req := &yunhupb.GetUserRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	u := s.w.users[req.Id]
	if u == nil {
		return nil, failf("用户不存在") // [I]
	}
	p := &yunhupb.UserProfile{
		Id:           u.id,
		Name:         u.name,
		AvatarUrl:    cdnURL(c.base, "img", u.avatar),
		RegisterTime: u.registered,
		OnlineDay:    400,
		ProfileInfo:  &yunhupb.ProfileInfo{Introduction: "simulated account", Gender: 3},
		IpGeo:        "模拟",
	}
	if c.user != nil {
		if r := c.user.remarks[u.id]; r != "" {
			p.RemarkInfo = &yunhupb.RemarkInfo{RemarkName: r}
		}
	}
	return &yunhupb.GetUserResponse{Data: p}, nil
}

func md5Of(m proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// addressBook lists friends, groups and bots in that order (§3.3, §8.4)
// with an md5 of the content; a request carrying the current md5 gets the
// md5 back and no sections.
func (s *Server) addressBook(c *call) (any, error) {
	req := &yunhupb.AddressBookListRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	u := c.user
	users := &yunhupb.AddressBookSection{ListName: "用户", ChatType: yunhu.ChatTypeUser}
	for _, id := range sortedKeys(u.friends) {
		f := s.w.users[id]
		users.Entries = append(users.Entries, &yunhupb.AddressBookEntry{
			ChatId: id, Remark: s.w.displayName(u, id), AvatarUrl: cdnURL(c.base, "img", f.avatar),
			NoDisturb: u.noNotify[id], Name: f.name,
		})
	}
	groups := &yunhupb.AddressBookSection{ListName: "我加入的群聊", ChatType: yunhu.ChatTypeGroup}
	var gids []string
	for id, g := range s.w.groups {
		if g.members[u.id] != nil {
			gids = append(gids, id)
		}
	}
	sort.Strings(gids)
	for _, id := range gids {
		g := s.w.groups[id]
		groups.Entries = append(groups.Entries, &yunhupb.AddressBookEntry{
			ChatId: id, Remark: s.w.displayName(u, id), AvatarUrl: cdnURL(c.base, "img", g.avatar),
			PermissionLevel: g.level(u.id), NoDisturb: u.noNotify[id], Name: g.name,
		})
	}
	bots := &yunhupb.AddressBookSection{ListName: "机器人", ChatType: yunhu.ChatTypeBot}
	for _, id := range sortedKeys(u.bots) {
		b := s.w.bots[id]
		bots.Entries = append(bots.Entries, &yunhupb.AddressBookEntry{
			ChatId: id, Remark: s.w.displayName(u, id), AvatarUrl: cdnURL(c.base, "img", b.avatar),
			NoDisturb: u.noNotify[id], Name: b.name,
		})
	}
	resp := &yunhupb.AddressBookListResponse{Sections: []*yunhupb.AddressBookSection{users, groups, bots}}
	resp.Md5 = md5Of(resp)
	if req.Md5 == resp.Md5 {
		resp.Sections = nil
	}
	return resp, nil
}

// request is a friend request, a group join request or a group invite.
type request struct {
	id          int32
	from        string // applicant or inviter
	targetType  int32  // 1 friend, 2 group, 3 bot
	targetID    string // the user applied to, or the group
	invitee     string // for invites: the invited user
	receivers   []string
	note        string
	at          time.Time
	result      int32
	processedAt int64
	processor   string
}

func (s *Server) newRequestLocked(r *request) int32 {
	s.w.nextID++
	r.id = s.w.nextID
	r.at = s.now()
	s.w.reqs = append(s.w.reqs, r)
	s.pushInviteLocked(r.receivers...)
	return r.id
}

// joinGroupLocked adds a plain member; with history_msg off they will not
// see messages from before this point.
func (s *Server) joinGroupLocked(g *group, userID string) {
	if g.members[userID] != nil {
		return
	}
	var seq int64
	if ch := s.store.chats["g:"+g.id]; ch != nil {
		seq = ch.seq
	}
	g.members[userID] = &member{userID: userID, level: yunhu.PermissionMember, joinSeq: seq}
}

// applyLocked is /v1/friend/apply (§3.5, §8.4): a friend request goes to
// the user; a join request to the group's owner and admins unless the group
// allows direct joins; adding a bot takes effect at once [I]. A pending
// request from the same applicant to the same target is refreshed rather
// than duplicated [I]. It returns the request id, 0 if none was needed.
func (s *Server) applyLocked(from, targetID string, targetType int32, note string) (int32, error) {
	u := s.w.users[from]
	if u == nil {
		return 0, failf("用户不存在")
	}
	var receivers []string
	switch targetType {
	case yunhu.ChatTypeUser:
		if s.w.users[targetID] == nil || targetID == from {
			return 0, failf("用户不存在")
		}
		if u.friends[targetID] {
			return 0, &Error{Code: yunhu.CodeAlreadyAdded, Msg: msgAlreadyAdded}
		}
		receivers = []string{targetID}
	case yunhu.ChatTypeGroup:
		g := s.w.groups[targetID]
		if g == nil {
			return 0, failf("群聊不存在")
		}
		if g.members[from] != nil {
			return 0, &Error{Code: yunhu.CodeAlreadyAdded, Msg: msgAlreadyAdded}
		}
		if g.directJoin {
			s.joinGroupLocked(g, from)
			return 0, nil
		}
		receivers = append([]string{g.owner}, g.admins()...)
	case yunhu.ChatTypeBot:
		if s.w.bots[targetID] == nil {
			return 0, failf("机器人不存在")
		}
		if u.bots[targetID] {
			return 0, &Error{Code: yunhu.CodeAlreadyAdded, Msg: msgAlreadyAdded}
		}
		u.bots[targetID] = true
		return 0, nil
	default:
		return 0, failf("%s", msgBadParams)
	}
	for _, r := range s.w.reqs {
		if r.result == 0 && r.from == from && r.targetType == targetType && r.targetID == targetID && r.invitee == "" {
			r.note, r.at = note, s.now()
			s.pushInviteLocked(r.receivers...)
			return r.id, nil
		}
	}
	return s.newRequestLocked(&request{from: from, targetType: targetType, targetID: targetID,
		receivers: receivers, note: note}), nil
}

func (s *Server) apply(c *call) (any, error) {
	var req struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
		Remark   string `json:"remark"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	_, err := s.applyLocked(c.user.id, req.ChatID, req.ChatType, req.Remark)
	return nil, err
}

// agreeLocked is /v1/friend/agree-apply: agree 1 accepts (friendship or
// membership), 2 rejects, 3 and 4 only mark the request (§3.5).
func (s *Server) agreeLocked(by string, id, agree int32) error {
	var r *request
	for _, x := range s.w.reqs {
		if x.id == id && contains(x.receivers, by) {
			r = x
		}
	}
	if r == nil {
		return failf("%s", msgNoRequest)
	}
	if r.result != 0 {
		return failf("%s", msgRequestDone)
	}
	if agree < yunhu.AgreeAccept || agree > yunhu.AgreeDismissed {
		return failf("%s", msgBadParams)
	}
	r.result, r.processedAt, r.processor = agree, s.now().Unix(), by
	if agree != yunhu.AgreeAccept {
		return nil
	}
	switch {
	case r.targetType == yunhu.ChatTypeUser:
		s.w.befriend(r.from, r.targetID)
	case r.invitee != "":
		if g := s.w.groups[r.targetID]; g != nil {
			s.joinGroupLocked(g, r.invitee)
		}
	default:
		if g := s.w.groups[r.targetID]; g != nil {
			s.joinGroupLocked(g, r.from)
		}
	}
	return nil
}

func (s *Server) agreeApply(c *call) (any, error) {
	var req struct {
		ID    int32 `json:"id"`
		Agree int32 `json:"agree"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	return nil, s.agreeLocked(c.user.id, req.ID, req.Agree)
}

// requestList shows the requests the caller may decide on, newest first
// (§3.4). source_type is the requester's chat type and target_type the
// target's, as the reference believes [I].
func (s *Server) requestList(c *call) (any, error) {
	u := c.user
	resp := &yunhupb.RequestListResponse{}
	for i := len(s.w.reqs) - 1; i >= 0; i-- {
		r := s.w.reqs[i]
		if !contains(r.receivers, u.id) {
			continue
		}
		from := s.w.users[r.from]
		fr := &yunhupb.FriendRequest{
			ReceiverName:   u.name,
			ReceiverAvatar: cdnURL(c.base, "img", u.avatar),
			Name:           from.name,
			Avatar:         cdnURL(c.base, "img", from.avatar),
			InviterId:      r.from,
			InviterId2:     r.from,
			SourceType:     yunhu.ChatTypeUser,
			TargetType:     r.targetType,
			TargetId:       r.targetID,
			ReceiverId:     u.id,
			Result:         r.result,
			ProcessedAt:    r.processedAt,
			InviteAt:       r.at.Unix(),
			InviteAtStr:    r.at.Format(time.DateTime),
			RequestId:      r.id,
			Note:           r.note,
		}
		if g := s.w.groups[r.targetID]; g != nil && r.targetType == yunhu.ChatTypeGroup {
			fr.GroupName, fr.GroupAvatar = g.name, cdnURL(c.base, "img", g.avatar)
		}
		if p := s.w.users[r.processor]; p != nil {
			fr.ProcessorName = p.name
		}
		if r.result == 0 {
			resp.Pending++
		}
		resp.Requests = append(resp.Requests, fr)
	}
	resp.Total = int32(len(resp.Requests))
	return resp, nil
}

func (s *Server) deleteRequest(c *call) (any, error) {
	var req struct {
		ID int32 `json:"id"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	for i, r := range s.w.reqs {
		if r.id == req.ID && contains(r.receivers, c.user.id) {
			s.w.reqs = append(s.w.reqs[:i], s.w.reqs[i+1:]...)
			return nil, nil
		}
	}
	return nil, failf("%s", msgNoRequest)
}

// deleteFriend removes a friend, leaves a group (chatType 2; the owner
// cannot leave without dismissing the group [I]) or removes a bot.
func (s *Server) deleteFriend(c *call) (any, error) {
	var req struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	u := c.user
	switch req.ChatType {
	case yunhu.ChatTypeUser:
		if !u.friends[req.ChatID] {
			return nil, failf("%s", msgNotFriend)
		}
		s.w.unfriend(u.id, req.ChatID)
	case yunhu.ChatTypeGroup:
		g := s.w.groups[req.ChatID]
		if g == nil || g.members[u.id] == nil {
			return nil, failf("%s", msgSelfNotMember)
		}
		if g.owner == u.id {
			return nil, failf("%s", msgOwnerCantLeave)
		}
		delete(g.members, u.id)
	case yunhu.ChatTypeBot:
		if !u.bots[req.ChatID] {
			return nil, failf("%s", msgBotNotAdded)
		}
		delete(u.bots, req.ChatID)
	default:
		return nil, failf("%s", msgBadParams)
	}
	return nil, nil
}

func (s *Server) noNotify(c *call) (any, error) {
	var req struct {
		ChatID   string `json:"chatId"`
		NoNotify int    `json:"noNotify"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	c.user.noNotify[req.ChatID] = req.NoNotify == 1
	return nil, nil
}

// conversationList returns one entry per chat that had a message, most
// recent first (§3.6, §8.4). The md5 caching works as in the address book.
func (s *Server) conversationList(c *call) (any, error) {
	req := &yunhupb.ConversationListRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	u := c.user
	convs := make([]*conv, 0, len(u.convs))
	for _, cv := range u.convs {
		convs = append(convs, cv)
	}
	sort.Slice(convs, func(i, j int) bool {
		if convs[i].tsMs != convs[j].tsMs {
			return convs[i].tsMs > convs[j].tsMs
		}
		return convs[i].chat.key < convs[j].chat.key
	})
	resp := &yunhupb.ConversationListResponse{}
	for _, cv := range convs {
		id := cv.chat.viewID(u.id)
		avatar := avatarKey(id)
		name := s.w.displayName(nil, id)
		resp.Conversations = append(resp.Conversations, &yunhupb.Conversation{
			ChatId:        id,
			ChatType:      cv.chat.typ,
			Remark:        s.w.displayName(u, id),
			ChatContent:   cv.preview,
			TimestampMs:   cv.tsMs,
			UnreadMsg:     cv.unread,
			At:            cv.at,
			AvatarUrl:     cdnURL(c.base, "img", avatar),
			DoNotDisturb:  u.noNotify[id],
			SendTimestamp: cv.tsMs / 1000,
			AtData:        cv.atData,
			Name:          name,
		})
	}
	resp.Total = int64(len(resp.Conversations))
	resp.Md5 = md5Of(&yunhupb.ConversationListResponse{Conversations: resp.Conversations})
	if req.Md5 == resp.Md5 {
		resp.Conversations, resp.Total = nil, 0
	}
	return resp, nil
}

// dismissNotification marks a conversation read: unread and @ cleared.
func (s *Server) dismissNotification(c *call) (any, error) {
	var req struct {
		ChatID string `json:"chatId"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	for _, cv := range c.user.convs {
		if cv.chat.viewID(c.user.id) == req.ChatID {
			cv.unread, cv.at, cv.atData = 0, false, nil
		}
	}
	return nil, nil
}

func (s *Server) removeConversation(c *call) (any, error) {
	var req struct {
		ChatID string `json:"chatId"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return nil, err
	}
	for k, cv := range c.user.convs {
		if cv.chat.viewID(c.user.id) == req.ChatID {
			delete(c.user.convs, k)
		}
	}
	return nil, nil
}
