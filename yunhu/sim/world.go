package sim

import (
	"fmt"
	"sort"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// The seeded world. Ids follow the real formats (§1.5): users 7 digits,
// groups 9 digits or a custom word, bots 8 digits, all strings.
const (
	SelfID  = "1000001" // the account the client logs in as
	AliceID = "1000002" // friend of self
	BobID   = "1000003" // friend of self
	CarolID = "1000004" // not a friend of self; shares groups with self
	DaveID  = "1000005" // a stranger: no friends, no groups

	BotID = "20000001" // a bot self has added; member of GroupOwnedID

	// GroupOwnedID is owned by self; Alice is admin, Bob and Carol members.
	GroupOwnedID = "100000001"
	// GroupAdminID is owned by Alice; self is admin, Bob and Carol members.
	GroupAdminID = "100000002"
	// GroupBigID has a non-numeric id (such ids exist, e.g. "big"). Bob owns
	// it, Alice is admin, self and Carol are plain members.
	GroupBigID = "big"

	// BotCommandID is the id of the bot's single command ("help"), usable
	// as send-message command_id.
	BotCommandID = 1001
)

// DefaultToken is the self account's token when Options.Token is empty.
// Tokens look like UUIDs (36 chars), as the real ones do.
const DefaultToken = "00000000-0000-4000-8000-000001000001"

// TokenFor returns the fixed token of a seeded user other than self, so
// tests can call the REST API as that user.
func TokenFor(userID string) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012s", userID)
}

// User is a seeded account as tests see it.
type User struct {
	ID        string
	Name      string
	AvatarURL string // CDN path relative to the simulator's ImageCDN URL
	Token     string
}

// Bot is a seeded bot.
type Bot struct {
	ID   string
	Name string
}

// Member is a group member with its role.
type Member struct {
	UserID   string
	Level    int32 // yunhu.PermissionOwner, PermissionAdmin or PermissionMember
	Nickname string
}

// Group is a snapshot of a group.
type Group struct {
	ID      string
	Name    string
	Owner   string
	Members []Member // owner first, then admins, then members
	Bots    []string
}

// user is the mutable state of one account.
type user struct {
	id, name, avatar, token string
	phone, email            string
	registered              string // "YYYY-MM-DD hh:mm:ss"
	friends                 map[string]bool
	bots                    map[string]bool
	remarks                 map[string]string // chat id → my remark for it
	noNotify                map[string]bool
	convs                   map[string]*conv // chat key → conversation state
	logins                  int
}

type bot struct {
	id, name, avatar, owner, intro string
	created                        int64 // seconds
}

type member struct {
	userID   string
	level    int32
	nickname string
	gagUntil int64 // unix seconds; 0 none
	gagEver  bool  // permanent gag (gag -1)
	joinSeq  int64 // group seq when the member joined (for history_msg)
	tagOld   []string
	tags     []*yunhupb.Tag
}

type group struct {
	id, name, avatar, intro string
	owner, createBy         string
	created                 int64 // seconds
	members                 map[string]*member
	bots                    map[string]bool
	directJoin, historyMsg  bool
	private, hideMembers    bool
	categoryName            string
	categoryID              int64
	limited                 string // limited_msg_type, e.g. "1,2"
}

// world holds every account, bot and group. Guarded by Server.mu.
type world struct {
	users  map[string]*user
	tokens map[string]*user
	bots   map[string]*bot
	groups map[string]*group
	reqs   []*request
	nextID int32 // friend request ids
}

func seedWorld(selfToken string, now time.Time) *world {
	w := &world{
		users:  make(map[string]*user),
		tokens: make(map[string]*user),
		bots:   make(map[string]*bot),
		groups: make(map[string]*group),
		nextID: 5000,
	}
	reg := now.Add(-400 * 24 * time.Hour).Format(time.DateTime)
	for _, u := range []struct{ id, name, token string }{
		{SelfID, "Sim Self", selfToken},
		{AliceID, "Alice", TokenFor(AliceID)},
		{BobID, "Bob", TokenFor(BobID)},
		{CarolID, "Carol", TokenFor(CarolID)},
		{DaveID, "Dave", TokenFor(DaveID)},
	} {
		w.addUser(u.id, u.name, u.token, reg)
	}
	w.befriend(SelfID, AliceID)
	w.befriend(SelfID, BobID)
	w.befriend(AliceID, BobID)
	w.befriend(AliceID, CarolID)
	w.users[SelfID].remarks[BobID] = "Bobby" // a remark, so display ≠ real name

	created := now.Add(-300 * 24 * time.Hour).Unix()
	w.bots[BotID] = &bot{id: BotID, name: "EchoBot", avatar: avatarKey(BotID), owner: AliceID,
		intro: "repeats what you say", created: created}
	w.users[SelfID].bots[BotID] = true
	w.users[AliceID].bots[BotID] = true

	mk := func(id, name, owner string, admins, members []string) *group {
		g := &group{id: id, name: name, avatar: avatarKey(id), owner: owner, createBy: owner,
			created: created, members: make(map[string]*member), bots: make(map[string]bool),
			historyMsg: true, categoryName: "技术", categoryID: 22}
		g.members[owner] = &member{userID: owner, level: yunhu.PermissionOwner}
		for _, a := range admins {
			g.members[a] = &member{userID: a, level: yunhu.PermissionAdmin}
		}
		for _, m := range members {
			g.members[m] = &member{userID: m, level: yunhu.PermissionMember}
		}
		w.groups[id] = g
		return g
	}
	owned := mk(GroupOwnedID, "Sim Owned", SelfID, []string{AliceID}, []string{BobID, CarolID})
	owned.bots[BotID] = true
	mk(GroupAdminID, "Sim Admin", AliceID, []string{SelfID}, []string{BobID, CarolID})
	big := mk(GroupBigID, "Big Group", BobID, []string{AliceID}, []string{SelfID, CarolID})
	big.directJoin = true
	big.members[CarolID].nickname = "Carol in big"
	big.members[AliceID].tagOld = []string{"管理"}
	big.members[AliceID].tags = []*yunhupb.Tag{{Id: 7, Text: "管理", Color: "#FF2196F3"}}
	return w
}

// addUser creates an account with no friends, bots or groups.
func (w *world) addUser(id, name, token, registered string) *user {
	usr := &user{
		id: id, name: name, token: token,
		avatar:     avatarKey(id),
		phone:      "138****" + id[len(id)-4:],
		email:      id + "@sim.invalid",
		registered: registered,
		friends:    make(map[string]bool),
		bots:       make(map[string]bool),
		remarks:    make(map[string]string),
		noNotify:   make(map[string]bool),
		convs:      make(map[string]*conv),
	}
	w.users[id] = usr
	w.tokens[token] = usr
	return usr
}

func avatarKey(id string) string { return "avatar/" + id + ".png" }

func (w *world) befriend(a, b string) {
	w.users[a].friends[b] = true
	w.users[b].friends[a] = true
}

func (w *world) unfriend(a, b string) {
	delete(w.users[a].friends, b)
	delete(w.users[b].friends, a)
}

// displayName is how viewer sees user id: their remark, else the name.
func (w *world) displayName(viewer *user, id string) string {
	if viewer != nil {
		if r := viewer.remarks[id]; r != "" {
			return r
		}
	}
	if u := w.users[id]; u != nil {
		return u.name
	}
	if b := w.bots[id]; b != nil {
		return b.name
	}
	if g := w.groups[id]; g != nil {
		return g.name
	}
	return id
}

func (g *group) level(userID string) int32 {
	if m := g.members[userID]; m != nil {
		return m.level
	}
	return -1
}

func (g *group) admins() []string {
	var out []string
	for id, m := range g.members {
		if m.level == yunhu.PermissionAdmin {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// sortedMembers orders members owner first, then admins, then members, each
// by id, so listings are deterministic.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].level != out[j].level {
			return out[i].level > out[j].level
		}
		return out[i].userID < out[j].userID
	})
	return out
}

// gagged reports whether the member is muted at now.
func (m *member) gagged(now time.Time) bool {
	return m.gagEver || m.gagUntil > now.Unix()
}

// Self returns the account the client logs in as.
func (s *Server) Self() User { return s.User(SelfID) }

// User returns a seeded account by id (zero User if unknown).
func (s *Server) User(id string) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.w.users[id]
	if u == nil {
		return User{}
	}
	return User{ID: u.id, Name: u.name, AvatarURL: u.avatar, Token: u.token}
}

// Users returns every account, sorted by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	ids := make([]string, 0, len(s.w.users))
	for id := range s.w.users {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.User(id))
	}
	return out
}

// Friends returns self's current friends, sorted by id.
func (s *Server) Friends() []User { return s.FriendsOf(SelfID) }

// FriendsOf returns a user's current friends, sorted by id (none for an
// unknown id).
func (s *Server) FriendsOf(userID string) []User {
	s.mu.Lock()
	var ids []string
	if u := s.w.users[userID]; u != nil {
		for id := range u.friends {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.User(id))
	}
	return out
}

// Remark returns the remark self has set for a chat (user, group or
// bot), "" when none.
func (s *Server) Remark(chatID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.users[SelfID].remarks[chatID]
}

// Bot returns the seeded bot.
func (s *Server) Bot() Bot {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.w.bots[BotID]
	return Bot{ID: b.id, Name: b.name}
}

// Groups returns the groups self currently belongs to, sorted by id.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Group
	for _, g := range s.w.groups {
		if g.members[SelfID] != nil {
			out = append(out, g.snapshot())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// GroupInfo returns any group by id.
func (s *Server) GroupInfo(id string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.groups[id]
	if g == nil {
		return Group{}, false
	}
	return g.snapshot(), true
}

func (g *group) snapshot() Group {
	out := Group{ID: g.id, Name: g.name, Owner: g.owner}
	for _, m := range g.sortedMembers() {
		out.Members = append(out.Members, Member{UserID: m.userID, Level: m.level, Nickname: m.nickname})
	}
	for id := range g.bots {
		out.Bots = append(out.Bots, id)
	}
	sort.Strings(out.Bots)
	return out
}

// Describe returns a human-readable summary of the world (ids, names,
// roles, self's token) for the sandbox to print.
func (s *Server) Describe() string {
	self := s.Self()
	out := fmt.Sprintf("self: %s %q token=%s\n", self.ID, self.Name, self.Token)
	for _, u := range s.Users() {
		if u.ID == SelfID {
			continue
		}
		out += fmt.Sprintf("user: %s %q token=%s\n", u.ID, u.Name, u.Token)
	}
	b := s.Bot()
	out += fmt.Sprintf("bot: %s %q command %d\n", b.ID, b.Name, BotCommandID)
	for _, g := range s.Groups() {
		out += fmt.Sprintf("group: %s %q", g.ID, g.Name)
		for _, m := range g.Members {
			out += fmt.Sprintf(" %s(%d)", m.UserID, m.Level)
		}
		out += "\n"
	}
	return out
}
