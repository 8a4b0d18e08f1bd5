package sim

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// User types, group types and group member types of the server.
const (
	UserNormal = 0
	UserRobot  = 1

	GroupNormal       = 0
	GroupFree         = 1
	GroupRestricted   = 2
	GroupOrganization = 3

	MemberNormal  = 0
	MemberManager = 1
	MemberOwner   = 2
	MemberSilent  = 3
	MemberRemoved = 4
)

// Group notification content types the simulator posts.
const (
	NoticeAddMember    = 105
	NoticeKickMember   = 106
	NoticeQuitGroup    = 107
	NoticeDismissGroup = 108
	NoticeChangeName   = 110
	NoticeMemberAlias  = 111
	NoticePortrait     = 112
	NoticeMute         = 113
	NoticeJoinType     = 114
	NoticePrivateChat  = 115
	NoticeSearchable   = 116
	NoticeGroupExtra   = 122
)

type user struct {
	id, name, displayName, portrait, mobile, extra string
	typ                                            int
	updateDt                                       int64
}

type robot struct {
	id, owner, secret, callback, extra string
	state                              int
}

type friend struct {
	id string
	ts int64
}

type member struct {
	id, alias, extra string
	typ              int
	createDt         int64
}

type group struct {
	id, name, portrait, owner, extra string
	typ, mute, joinType, privateChat int
	searchable                       int
	members                          []*member // join order
}

func (g *group) member(id string) *member {
	for _, m := range g.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// Member is a group member as tests see it.
type Member struct {
	ID       string
	Alias    string
	Type     int // MemberNormal … MemberRemoved
	CreateDt int64
}

// Group is a group as tests see it.
type Group struct {
	ID, Name, Owner string
	Type, Mute      int
	Members         []Member
}

// AddUser creates (or replaces) a normal user whose name and display name
// are name.
func (s *Server) AddUser(id, name string) {
	s.mu.Lock()
	s.users[id] = &user{id: id, name: name, displayName: name, typ: UserNormal, updateDt: s.nowMs()}
	s.mu.Unlock()
}

// AddRobot creates (or replaces) a robot user with its secret and owner, as
// /admin/robot/create does: no callback, state 0.
func (s *Server) AddRobot(id, name, secret, owner string) {
	s.mu.Lock()
	s.addRobotLocked(id, name, secret, owner, "")
	s.mu.Unlock()
}

func (s *Server) addRobotLocked(id, name, secret, owner, callback string) {
	s.users[id] = &user{id: id, name: name, displayName: name, typ: UserRobot, updateDt: s.nowMs()}
	s.robots[id] = &robot{id: id, owner: owner, secret: secret, callback: callback}
}

// SetRobotCallback sets a robot's callback URL directly, as the admin
// console does, bypassing the set_callback quirk ("" clears it).
func (s *Server) SetRobotCallback(robotID, url string) {
	s.mu.Lock()
	if r := s.robots[robotID]; r != nil {
		r.callback = url
		r.state = 0
	}
	s.mu.Unlock()
}

// RobotCallback reports a robot's callback URL and callback state.
func (s *Server) RobotCallback(robotID string) (url string, state int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.robots[robotID]; r != nil {
		return r.callback, r.state
	}
	return "", 0
}

// AddFriend makes a and b friends of each other.
func (s *Server) AddFriend(a, b string) {
	s.mu.Lock()
	s.friendTS++
	s.friends[a] = append(s.friends[a], friend{id: b, ts: s.friendTS})
	s.friends[b] = append(s.friends[b], friend{id: a, ts: s.friendTS})
	s.mu.Unlock()
}

// CreateGroup creates (or replaces) a restricted group (type 2, what the
// official clients create) owned by owner, with owner and members in it.
// No notification is posted.
func (s *Server) CreateGroup(id, name, owner string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &group{id: id, name: name, owner: owner, typ: GroupRestricted}
	now := s.nowMs()
	g.members = append(g.members, &member{id: owner, typ: MemberOwner, createDt: now})
	for _, m := range members {
		if m != owner && g.member(m) == nil {
			g.members = append(g.members, &member{id: m, typ: MemberNormal, createDt: now})
		}
	}
	s.groups[id] = g
}

// SetGroupType sets a group's type (GroupNormal … GroupOrganization), which
// decides who may kick and modify.
func (s *Server) SetGroupType(groupID string, typ int) {
	s.mu.Lock()
	if g := s.groups[groupID]; g != nil {
		g.typ = typ
	}
	s.mu.Unlock()
}

// SetMemberType sets a member's type (e.g. MemberManager).
func (s *Server) SetMemberType(groupID, memberID string, typ int) {
	s.mu.Lock()
	if g := s.groups[groupID]; g != nil {
		if m := g.member(memberID); m != nil {
			m.typ = typ
		}
	}
	s.mu.Unlock()
}

// AddMembers adds members to a group as operator, posting the 105
// notification {g,o,ms} to the group afterwards.
func (s *Server) AddMembers(groupID, operator string, members ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil {
		return apiErr(CodeNotExist)
	}
	now := s.nowMs()
	for _, m := range members {
		if g.member(m) == nil {
			g.members = append(g.members, &member{id: m, typ: MemberNormal, createDt: now})
		}
	}
	ms := append([]string{}, members...)
	s.noticeLocked(operator, groupID, NoticeAddMember, groupNotice{G: groupID, O: operator, Ms: &ms})
	return nil
}

// GroupInfo reports a group and its members (removed ones excluded).
func (s *Server) GroupInfo(groupID string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil {
		return Group{}, false
	}
	out := Group{ID: g.id, Name: g.name, Owner: g.owner, Type: g.typ, Mute: g.mute}
	for _, m := range g.members {
		if m.typ != MemberRemoved {
			out.Members = append(out.Members, Member{ID: m.id, Alias: m.alias, Type: m.typ, CreateDt: m.createDt})
		}
	}
	return out, true
}

// Say sends a message as user from (a client send: the content-type,
// membership and mute checks apply) and delivers it.
func (s *Server) Say(from string, conv Conversation, p Payload) (Message, error) {
	p, err := normalisePayload(p)
	if err != nil {
		return Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, code := s.sendLocked(from, conv, p, nil, false)
	if code != CodeSuccess {
		return Message{}, apiErr(code)
	}
	return cloneMessage(m), nil
}

// Recall recalls a message as user operator (a client recall: the time
// limit and group roles apply). It answers the recalled-content summary, ""
// when the message was already recalled. Like the server, it re-publishes
// the rewritten message to the conversation's receivers as they are at the
// time of the recall (for a group, its current members).
func (s *Server) Recall(operator string, messageUID int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, code := s.recallLocked(operator, messageUID, false)
	return res, apiErr(code)
}

// Kick removes members from a group as user operator.
func (s *Server) Kick(operator, groupID string, members ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return apiErr(s.kickLocked(operator, groupID, members, false))
}

// Quit makes userID leave a group.
func (s *Server) Quit(userID, groupID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return apiErr(s.quitLocked(userID, groupID, false))
}

// Rename renames a group as user operator (modify type 0).
func (s *Server) Rename(operator, groupID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return apiErr(s.modifyLocked(operator, groupID, 0, name, false))
}

// MuteAll turns the whole-group mute on or off as user operator (modify
// type 3).
func (s *Server) MuteAll(operator, groupID string, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return apiErr(s.modifyLocked(operator, groupID, 3, v, false))
}

// Messages lists the stored messages of a conversation, oldest first. For a
// group conv.Target is the group; for a private conversation it names one
// party and every private message to or from it is listed.
func (s *Server) Messages(conv Conversation) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, id := range s.order {
		m := s.msgs[id]
		if m == nil || m.Conv.Type != conv.Type {
			continue
		}
		if m.Conv.Target == conv.Target || (conv.Type == 0 && m.Sender == conv.Target) {
			out = append(out, cloneMessage(m))
		}
	}
	return out
}

// Message reports a stored message by its uid.
func (s *Server) Message(uid int64) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[uid]
	if m == nil {
		return Message{}, false
	}
	return cloneMessage(m), true
}

// WaitMessages blocks until the conversation (as in Messages) holds at
// least n messages.
func (s *Server) WaitMessages(ctx context.Context, conv Conversation, n int) ([]Message, error) {
	err := s.waitFor(ctx, func() bool {
		k := 0
		for _, id := range s.order {
			m := s.msgs[id]
			if m != nil && m.Conv.Type == conv.Type && (m.Conv.Target == conv.Target || (conv.Type == 0 && m.Sender == conv.Target)) {
				k++
			}
		}
		return k >= n
	})
	if err != nil {
		return nil, fmt.Errorf("wfsim: waiting for %d messages in %d/%q: %w", n, conv.Type, conv.Target, err)
	}
	return s.Messages(conv), nil
}

func cloneMessage(m *Message) Message {
	c := *m
	c.ToUsers = append([]string(nil), m.ToUsers...)
	c.Payload.MentionedTarget = append([]string{}, m.Payload.MentionedTarget...)
	return c
}

func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

// sendLocked is SendMessageHandler: the checks of a non-admin send (robots
// and users), storing and publishing. p is normalised.
func (s *Server) sendLocked(from string, conv Conversation, p Payload, to []string, admin bool) (*Message, int) {
	if !admin {
		// Neither clients nor robots may send recall, delete or group
		// notification messages.
		if p.Type == 80 || p.Type == 81 || (p.Type >= 100 && p.Type < 200) {
			return nil, CodeInvalidParam
		}
		if conv.Type == 1 {
			if code := s.canSendInGroupLocked(from, conv.Target); code != CodeSuccess {
				return nil, code
			}
		}
	} else if conv.Type == 1 && s.groups[conv.Target] == nil {
		return nil, CodeNotExist
	}
	m := s.storeLocked(&Message{Sender: from, Conv: conv, Payload: p, ToUsers: append([]string(nil), to...)})
	s.publishLocked(m)
	return m, CodeSuccess
}

func (s *Server) canSendInGroupLocked(from, groupID string) int {
	g := s.groups[groupID]
	if g == nil {
		return CodeNotInGroup
	}
	if g.owner == from {
		return CodeSuccess
	}
	m := g.member(from)
	switch {
	case m == nil:
		return CodeNotInGroup
	case m.typ == MemberSilent:
		return CodeNoRight
	case g.mute > 0 && m.typ != MemberManager && m.typ != MemberOwner:
		return CodeGroupMuted
	case m.typ == MemberRemoved:
		return CodeNotInGroup
	}
	return CodeSuccess
}

// storeLocked assigns the uid and server time and keeps the message,
// forgetting the oldest beyond the cap.
func (s *Server) storeLocked(m *Message) *Message {
	s.lastID += 1 + s.nowMs()%7 // increasing, not dense, like the sharded ids
	m.ID = s.lastID
	m.Timestamp = s.nowMs()
	s.msgs[m.ID] = m
	s.order = append(s.order, m.ID)
	if over := len(s.order) - s.opts.MaxMessages; over > 0 {
		for _, id := range s.order[:over] {
			delete(s.msgs, id)
		}
		s.order = append([]int64(nil), s.order[over:]...)
	}
	s.notifyLocked()
	return m
}

// receiversLocked is getNotifyReceivers for private and group messages:
// the sender, then the target (private) or the non-removed members
// (group), narrowed by toUsers.
func (s *Server) receiversLocked(m *Message) []string {
	out := []string{m.Sender}
	in := func(id string) bool {
		for _, t := range m.ToUsers {
			if t == id {
				return true
			}
		}
		return false
	}
	switch m.Conv.Type {
	case 0:
		if len(m.ToUsers) == 0 || in(m.Conv.Target) {
			out = append(out, m.Conv.Target)
		}
	case 1:
		if g := s.groups[m.Conv.Target]; g != nil {
			for _, mem := range g.members {
				if mem.typ != MemberRemoved && (len(m.ToUsers) == 0 || in(mem.id)) {
					out = append(out, mem.id)
				}
			}
		}
	}
	return out
}

// publishLocked is publish2Receivers as far as robots see it: every
// receiver other than the sender that is a robot with a callback gets the
// stored message POSTed. Transparent messages (persistFlag 4) reach robots
// only for type 403.
func (s *Server) publishLocked(m *Message) {
	if m.Payload.PersistFlag == 4 && m.Payload.Type != 403 {
		return
	}
	seen := map[string]bool{}
	var body []byte
	for _, id := range s.receiversLocked(m) {
		if id == m.Sender || seen[id] {
			continue
		}
		seen[id] = true
		u, r := s.users[id], s.robots[id]
		if u == nil || u.typ != UserRobot || r == nil || r.callback == "" {
			continue
		}
		if body == nil {
			body = marshal(toOutput(m))
		}
		s.enqueueLocked(KindMessage, id, r.callback, body)
	}
}

// recallLocked is MemoryMessagesStore.recallMessage plus the re-publish of
// RecallMessageHandler.
func (s *Server) recallLocked(operator string, uid int64, admin bool) (string, int) {
	m := s.msgs[uid]
	if m == nil {
		return "", CodeNotExist
	}
	can, expired := admin, false
	if !can && m.Sender == operator {
		if s.nowMs()-m.Timestamp > s.opts.RecallTimeLimit.Milliseconds() {
			expired = true
		} else {
			can = true
		}
	}
	if !can && m.Conv.Type == 1 {
		g := s.groups[m.Conv.Target]
		if g == nil {
			return "", CodeRecallExpired
		}
		if operator == g.owner && operator != m.Sender {
			can = true
		}
		if !can && m.Sender != operator {
			op, snd := g.member(operator), g.member(m.Sender)
			opManager := op != nil && (op.typ == MemberManager || op.typ == MemberOwner)
			sndType := MemberNormal
			if snd != nil {
				sndType = snd.typ
			}
			if opManager && sndType != MemberManager && sndType != MemberOwner {
				can = true
			}
		}
	}
	if !can {
		if expired {
			return "", CodeRecallExpired
		}
		return "", CodeNoRight
	}
	result := ""
	if m.Payload.Type != 80 {
		if s.opts.RecallForwardURL != "" {
			ev := outputRecall{Message: toOutput(m), UserID: operator, Timestamp: s.nowMs(), IsAdmin: admin}
			s.enqueueLocked(KindRecall, "", s.opts.RecallForwardURL, marshal(ev))
		}
		result = recalledContent(m)
		uidText := strconv.FormatInt(uid, 10)
		m.Payload = Payload{
			Type:            80,
			Content:         operator,
			Base64edData:    base64.StdEncoding.EncodeToString([]byte(uidText)),
			PushData:        `{"messageUid":` + uidText + `}`,
			PersistFlag:     1,
			MentionedTarget: []string{},
			Extra:           result,
		}
		s.notifyLocked()
	}
	// The handler re-publishes even an already recalled message.
	s.publishLocked(m)
	return result, CodeSuccess
}

// noticeLocked posts a group notification message from operator to the
// group's current members.
func (s *Server) noticeLocked(operator, groupID string, typ int, n groupNotice) {
	p := Payload{Type: typ, Base64edData: base64.StdEncoding.EncodeToString(marshal(n)), MentionedTarget: []string{}}
	m := s.storeLocked(&Message{Sender: operator, Conv: Conversation{Type: 1, Target: groupID}, Payload: p})
	s.publishLocked(m)
}

// kickLocked is KickoffGroupMember: the notice goes out before the members
// are removed, so they receive it.
func (s *Server) kickLocked(operator, groupID string, members []string, admin bool) int {
	g := s.groups[groupID]
	if g == nil {
		return CodeNotExist
	}
	if !admin && g.typ == GroupOrganization {
		return CodeNoRight
	}
	allow := admin
	if !allow {
		for _, m := range members {
			if m == g.owner {
				return CodeNoRight
			}
		}
		allow = g.owner == operator
	}
	if !allow {
		if gm := g.member(operator); gm != nil && gm.typ == MemberManager {
			allow = true
		}
	}
	if !allow && (g.typ == GroupNormal || g.typ == GroupRestricted) {
		return CodeNoRight
	}
	ms := append([]string{}, members...)
	s.noticeLocked(operator, groupID, NoticeKickMember, groupNotice{G: groupID, O: operator, Ms: &ms})
	s.removeMembersLocked(g, members)
	return CodeSuccess
}

func (s *Server) removeMembersLocked(g *group, ids []string) {
	kept := g.members[:0]
	for _, m := range g.members {
		drop := false
		for _, id := range ids {
			if m.id == id {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, m)
		}
	}
	g.members = kept
	s.notifyLocked()
}

// quitLocked is QuitGroupHandler: no membership check; an owner leaving
// hands the group to the next member, or dismisses it when alone.
func (s *Server) quitLocked(operator, groupID string, admin bool) int {
	g := s.groups[groupID]
	if g == nil {
		return CodeNotExist
	}
	if !admin && g.typ == GroupOrganization {
		return CodeNoRight
	}
	if g.typ != GroupFree && g.owner == operator {
		var next *member
		for _, m := range g.members {
			if m.id != operator && m.typ != MemberRemoved {
				next = m
				break
			}
		}
		if next == nil {
			empty := ""
			s.noticeLocked(operator, groupID, NoticeDismissGroup, groupNotice{G: groupID, O: operator, M: &empty})
			delete(s.groups, groupID)
			s.notifyLocked()
			return CodeSuccess
		}
		g.owner = next.id
		next.typ = MemberOwner
	}
	s.removeMembersLocked(g, []string{operator})
	empty := ""
	s.noticeLocked(operator, groupID, NoticeQuitGroup, groupNotice{G: groupID, O: operator, M: &empty})
	return CodeSuccess
}

// modifyLocked is ModifyGroupInfoHandler with modifyGroupInfo's rights.
func (s *Server) modifyLocked(operator, groupID string, typ int, value string, admin bool) int {
	g := s.groups[groupID]
	if g == nil {
		return CodeNotExist
	}
	if !admin {
		if g.typ == GroupOrganization && typ != 2 && typ != 3 && typ != 5 {
			return CodeNoRight
		}
		gm := g.member(operator)
		if gm == nil || gm.typ == MemberRemoved {
			return CodeNotInGroup
		}
		switch g.typ {
		case GroupRestricted, GroupOrganization:
			if g.owner != operator && gm.typ != MemberManager {
				return CodeNoRight
			}
		case GroupNormal:
			if g.owner != operator && gm.typ != MemberManager && typ != 0 && typ != 1 && typ != 2 {
				return CodeNoRight
			}
		case GroupFree:
			if typ != 0 && typ != 1 && typ != 2 {
				return CodeNoRight
			}
		}
	}
	num := 0
	if typ >= 3 && typ <= 6 {
		n, err := strconv.Atoi(value)
		if err != nil {
			// Integer.parseInt throws inside the handler: "server error".
			return CodeServerError
		}
		num = n
	}
	notice := map[int]int{0: NoticeChangeName, 1: NoticePortrait, 2: NoticeGroupExtra, 3: NoticeMute, 4: NoticeJoinType, 5: NoticePrivateChat, 6: NoticeSearchable}
	switch typ {
	case 0:
		g.name = value
	case 1:
		g.portrait = value
	case 2:
		g.extra = value
	case 3:
		g.mute = num
	case 4:
		g.joinType = num
	case 5:
		g.privateChat = num
	case 6:
		g.searchable = num
	default:
		return CodeInvalidParam
	}
	s.notifyLocked()
	empty := ""
	s.noticeLocked(operator, groupID, notice[typ], groupNotice{G: groupID, O: operator, N: &value, M: &empty})
	return CodeSuccess
}

// aliasLocked is ModifyGroupMemberAliasHandler: an empty memberID means the
// operator itself.
func (s *Server) aliasLocked(operator, groupID, memberID, alias string, admin bool) int {
	g := s.groups[groupID]
	if g == nil {
		return CodeNotExist
	}
	if memberID == "" {
		memberID = operator
	} else if !admin && operator != g.owner {
		op, target := g.member(operator), g.member(memberID)
		if op == nil || op.typ == MemberRemoved || target == nil || target.typ == MemberRemoved {
			return CodeNotInGroup
		}
		if op.typ == MemberManager && target.typ != MemberManager {
			return CodeNoRight
		}
	}
	m := g.member(memberID)
	if m == nil {
		return CodeNotInGroup
	}
	m.alias = alias
	s.notifyLocked()
	s.noticeLocked(operator, groupID, NoticeMemberAlias, groupNotice{G: groupID, O: operator, N: &alias, M: &memberID})
	return CodeSuccess
}

// groupsOfLocked lists the groups userID is a member of, sorted.
func (s *Server) groupsOfLocked(userID string) []string {
	out := []string{}
	for id, g := range s.groups {
		if m := g.member(userID); m != nil && m.typ != MemberRemoved {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// userByLocked finds a user by id, else name, else mobile, as user_info.
func (s *Server) userByLocked(id, name, mobile string) *user {
	switch {
	case id != "":
		return s.users[id]
	case name != "":
		for _, u := range s.sortedUsersLocked() {
			if u.name == name {
				return u
			}
		}
	case mobile != "":
		for _, u := range s.sortedUsersLocked() {
			if u.mobile == mobile {
				return u
			}
		}
	}
	return nil
}

func (s *Server) sortedUsersLocked() []*user {
	out := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].id, out[j].id) < 0 })
	return out
}
