// Package fake is an in-memory chat platform (Server) and a backend over
// it (Backend). It exists to prove that the OneBot core needs nothing from
// any particular platform, and to exercise the parts of the contract the
// Yunhu backend does not: message ids the server assigns (the core's
// pending-send path, correlated by Outgoing.Token), pushes a server
// re-sends after a reconnect until they are acknowledged (as WuKongIM
// does), and capabilities deliberately left out (Requests, Friends,
// Editor, Reader), so that the conformance kit can check the core's 1404s.
//
// The Server is the platform: users, groups with members and roles,
// friends, and conversations whose messages are numbered by a dense
// per-conversation seq. It runs no goroutine: a push is queued on the
// receiver's connection by the call that caused it. Its controls (Say,
// Recall, Drop, Hold, Fail, …) are what tests drive it with.
//
// Everything is bounded: a user has at most MaxQueue pushes not
// acknowledged (a client further behind is disconnected, as a real
// server does, the oldest push forgotten, since history covers it, and
// the rest pushed again after it reconnects); a connection queues only
// those; and a conversation keeps at most Options.MaxMessages messages.
package fake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// MaxQueue bounds the pushes a user has not acknowledged, and so those
// queued on their connection.
const MaxQueue = 1024

// Errors the Server answers with. A refusal (*Refusal) is definite:
// nothing happened.
var (
	// ErrClosed is returned once the Server is closed.
	ErrClosed = errors.New("fake: server closed")
	// ErrUnavailable is returned by Connect while the server is held
	// down (Hold).
	ErrUnavailable = errors.New("fake: server unavailable")
	// ErrDropped is why a connection ended that Drop or Hold closed.
	ErrDropped = errors.New("fake: connection dropped by the server")
	// ErrSlow is why a connection ended whose client fell more than
	// MaxQueue pushes behind.
	ErrSlow = errors.New("fake: connection dropped: client too slow")
	// ErrLost is returned by a send whose answer was lost (Fail with
	// definite false): the message may or may not have been sent (here it
	// was).
	ErrLost = errors.New("fake: the answer to the send was lost")
	// ErrNoMessage is returned for a message id the server does not hold.
	ErrNoMessage = errors.New("fake: no such message")
)

// Refusal is a request the server understood and refused; nothing
// happened.
type Refusal struct{ Reason string }

// Error says what was refused and why.
func (r *Refusal) Error() string { return "fake: refused: " + r.Reason }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// Options configure a Server.
type Options struct {
	// MaxMessages bounds the messages kept per conversation; the oldest
	// are forgotten beyond it. 0 means 10,000.
	MaxMessages int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AnswerAfterEcho makes Send answer only once the sender's own push
	// of the message (its echo) has been acknowledged, or their
	// connection has closed, or EchoWait has passed: the client then
	// sees the echo before it learns the id, as it does on a real
	// network when the answer is slow.
	AnswerAfterEcho bool
}

// EchoWait bounds how long Send waits for the echo with
// Options.AnswerAfterEcho.
const EchoWait = 10 * time.Second

// User is a platform user.
type User struct {
	ID   string
	Name string
	Bot  bool
}

// Part is one piece of a message's content: exactly one field is set.
type Part struct {
	Text  string
	At    string // a mentioned user id, or "all"
	Image string // an image URL
}

// Content is what a message carries, in the platform's own form.
type Content []Part

// Message is a message as the server holds it.
type Message struct {
	ID    string // unique on the server
	Seq   int64  // dense within its conversation, from 1
	Group string // the group, "" for a private message
	From  string
	To    string // the recipient of a private message
	// QuoteID is the message this one replies to, "" if none.
	QuoteID    string
	Content    Content
	Time       time.Time
	Recalled   bool
	RecallTime time.Time
	// Token is the correlation token the sender gave, seen only in the
	// sender's own push of the message.
	Token string
}

// ConvFor is the conversation m is in as viewer addresses it: the group,
// or the other party of a private chat.
func (m *Message) ConvFor(viewer string) platform.Conv {
	if m.Group != "" {
		return platform.Conv{Kind: platform.KindGroup, ID: m.Group}
	}
	if m.From == viewer {
		return platform.Conv{Kind: platform.KindPrivate, ID: m.To}
	}
	return platform.Conv{Kind: platform.KindPrivate, ID: m.From}
}

// Recall is a push saying a message was withdrawn.
type Recall struct {
	Message  Message // as it was, Recalled set
	Operator string
}

// MemberChange is a push saying a group's membership changed.
type MemberChange struct {
	Group    string
	User     string
	Operator string
	Joined   bool
	Left     bool
	Muted    time.Duration // with neither Joined nor Left: a mute (0 lifts it)
	Time     time.Time
}

// Push is one thing the server tells a connected user. ID is what the
// client acknowledges; exactly one of the other fields is set.
type Push struct {
	ID      uint64
	Message *Message
	Recall  *Recall
	Member  *MemberChange
}

// Server is the in-memory platform. Its methods are safe for concurrent
// use.
type Server struct {
	opts Options

	mu       sync.Mutex
	closed   bool
	held     bool
	users    map[string]*User
	groups   map[string]*group
	friends  map[[2]string]bool // sorted pairs
	convs    map[string]*conv   // by convKey
	byID     map[string]*Message
	lastID   int64
	lastPush uint64
	conns    map[string]*Conn // the current connection of each user
	unacked  map[string][]Push
	connects map[string]int
	acked    chan struct{}        // closed and replaced at every ack and closed connection
	ackDrops map[string]bool      // users whose next ack drops their connection
	fails    map[string][]failRun // queued send failures by sender
	sends    int
}

type group struct {
	ID      string
	Name    string
	Members map[string]*member
}

type member struct {
	Role       platform.Role
	Card       string
	JoinTime   time.Time
	MutedUntil time.Time
}

type conv struct {
	msgs    []*Message // by seq, oldest first
	lastSeq int64
}

// NewServer returns an empty platform.
func NewServer(opts Options) *Server {
	if opts.MaxMessages <= 0 {
		opts.MaxMessages = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts:     opts,
		users:    map[string]*User{},
		groups:   map[string]*group{},
		friends:  map[[2]string]bool{},
		convs:    map[string]*conv{},
		byID:     map[string]*Message{},
		conns:    map[string]*Conn{},
		unacked:  map[string][]Push{},
		connects: map[string]int{},
		fails:    map[string][]failRun{},
		acked:    make(chan struct{}),
		ackDrops: map[string]bool{},
	}
}

// Close closes every connection and refuses every later call that needs
// the network (Connect, sends).
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.conns {
		s.closeConnLocked(c, ErrClosed)
	}
}

// AddUser registers a user.
func (s *Server) AddUser(u User) error {
	if u.ID == "" {
		return errors.New("fake: user id is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.ID]; ok {
		return fmt.Errorf("fake: user %q exists", u.ID)
	}
	s.users[u.ID] = &u
	return nil
}

// Befriend makes a and b friends.
func (s *Server) Befriend(a, b string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[a] == nil || s.users[b] == nil {
		return fmt.Errorf("fake: befriend %q and %q: unknown user", a, b)
	}
	s.friends[pair(a, b)] = true
	return nil
}

// AddGroup creates a group owned by owner.
func (s *Server) AddGroup(id, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" || s.groups[id] != nil {
		return fmt.Errorf("fake: group %q: empty or exists", id)
	}
	if s.users[owner] == nil {
		return fmt.Errorf("fake: group owner %q: unknown user", owner)
	}
	s.groups[id] = &group{ID: id, Name: name, Members: map[string]*member{
		owner: {Role: platform.RoleOwner, JoinTime: s.opts.Now()},
	}}
	return nil
}

// Join adds userID to a group with role, telling the members.
func (s *Server) Join(groupID, userID string, role platform.Role) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil || s.users[userID] == nil {
		return fmt.Errorf("fake: join %q to %q: unknown group or user", userID, groupID)
	}
	if g.Members[userID] != nil {
		return nil
	}
	now := s.opts.Now()
	g.Members[userID] = &member{Role: role, JoinTime: now}
	s.pushGroupLocked(g, Push{Member: &MemberChange{Group: groupID, User: userID, Joined: true, Time: now}})
	return nil
}

// Say makes from send text into conv, as from addresses it (a private
// conv's ID is the recipient), and returns the message id.
func (s *Server) Say(conv platform.Conv, from, text string) (string, error) {
	m, err := s.Send(context.Background(), from, conv, Content{{Text: text}}, "", "")
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// Fail makes from's next n sends fail: definitely (refused, nothing
// stored), or not (the message is stored and pushed but the answer is
// lost: ErrLost).
func (s *Server) Fail(from string, n int, definite bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 {
		s.fails[from] = append(s.fails[from], failRun{definite: definite, n: n})
	}
}

// failRun is n sends to fail alike.
type failRun struct {
	definite bool
	n        int
}

// Send stores a message from from into conv (as from addresses it),
// pushes it to everyone in the conversation (the sender's own push
// carrying token), and returns it. quote is the id of a message of the
// same conversation it replies to, or "".
func (s *Server) Send(ctx context.Context, from string, c platform.Conv, content Content, quote, token string) (Message, error) {
	s.mu.Lock()
	m, echo, err := s.sendLocked(from, c, content, quote, token)
	s.mu.Unlock()
	if echo != 0 && s.opts.AnswerAfterEcho {
		s.waitAcked(ctx, from, echo)
	}
	return m, err
}

// waitAcked waits until userID has acknowledged push id, or has no
// connection, or ctx is done, or EchoWait has passed.
func (s *Server) waitAcked(ctx context.Context, userID string, id uint64) {
	timer := time.NewTimer(EchoWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		pending := s.conns[userID] != nil && slices.ContainsFunc(s.unacked[userID], func(p Push) bool { return p.ID == id })
		acked := s.acked
		s.mu.Unlock()
		if !pending {
			return
		}
		select {
		case <-acked:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}

// signalAckedLocked wakes the sends waiting for an echo's ack.
func (s *Server) signalAckedLocked() {
	close(s.acked)
	s.acked = make(chan struct{})
}

// sendLocked is Send under s.mu; echo is the id of the sender's own
// push, 0 if they have no connection (or the send failed).
func (s *Server) sendLocked(from string, c platform.Conv, content Content, quote, token string) (_ Message, echo uint64, _ error) {
	if s.closed {
		return Message{}, 0, ErrClosed
	}
	lost := false
	if runs := s.fails[from]; len(runs) > 0 {
		definite := runs[0].definite
		if runs[0].n--; runs[0].n == 0 {
			if s.fails[from] = runs[1:]; len(runs) == 1 {
				delete(s.fails, from)
			}
		}
		if definite {
			return Message{}, 0, refuse("send failed (injected)")
		}
		lost = true
	}
	if s.users[from] == nil {
		return Message{}, 0, refuse("unknown sender %q", from)
	}
	if len(content) == 0 {
		return Message{}, 0, refuse("empty message")
	}
	m := &Message{From: from, Content: slices.Clone(content), Time: s.opts.Now(), Token: token}
	var audience []string
	switch c.Kind {
	case platform.KindGroup:
		g := s.groups[c.ID]
		if g == nil {
			return Message{}, 0, refuse("no group %q", c.ID)
		}
		mem := g.Members[from]
		if mem == nil {
			return Message{}, 0, refuse("%q is not in group %q", from, c.ID)
		}
		if mem.MutedUntil.After(m.Time) {
			return Message{}, 0, refuse("%q is muted in group %q", from, c.ID)
		}
		m.Group = c.ID
		audience = memberIDs(g)
	case platform.KindPrivate:
		if s.users[c.ID] == nil {
			return Message{}, 0, refuse("no user %q", c.ID)
		}
		m.To = c.ID
		audience = []string{from, c.ID}
		if from == c.ID {
			audience = audience[:1]
		}
	default:
		return Message{}, 0, refuse("bad conversation kind %d", c.Kind)
	}
	key := convKey(m)
	cv := s.convs[key]
	if cv == nil {
		cv = &conv{}
		s.convs[key] = cv
	}
	if quote != "" {
		q := s.byID[quote]
		if q == nil || convKey(q) != key {
			return Message{}, 0, refuse("quoted message %q is not in this conversation", quote)
		}
		m.QuoteID = quote
	}
	s.lastID++
	m.ID = "m" + strconv.FormatInt(s.lastID, 10)
	cv.lastSeq++
	m.Seq = cv.lastSeq
	cv.msgs = append(cv.msgs, m)
	s.byID[m.ID] = m
	if len(cv.msgs) > s.opts.MaxMessages {
		delete(s.byID, cv.msgs[0].ID)
		cv.msgs[0] = nil
		cv.msgs = cv.msgs[1:]
	}
	s.sends++
	for _, u := range audience {
		cp := *m
		if u != from {
			cp.Token = ""
		}
		if id := s.pushLocked(u, Push{Message: &cp}); u == from {
			echo = id
		}
	}
	if lost {
		return Message{}, echo, ErrLost
	}
	return *m, echo, nil
}

// Recall withdraws message msgID on behalf of by: its author, or an owner
// or admin of its group. Recalling a recalled message does nothing.
func (s *Server) Recall(by, msgID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	m := s.byID[msgID]
	if m == nil {
		return fmt.Errorf("recall %q: %w", msgID, ErrNoMessage)
	}
	if m.From != by && !s.isAdminLocked(m.Group, by) {
		return refuse("%q may not recall %q", by, msgID)
	}
	if m.Recalled {
		return nil
	}
	m.Recalled, m.RecallTime = true, s.opts.Now()
	audience := []string{m.From, m.To}
	if m.Group != "" {
		audience = memberIDs(s.groups[m.Group])
	} else if m.From == m.To {
		audience = audience[:1]
	}
	for _, u := range audience {
		cp := *m
		cp.Token = ""
		s.pushLocked(u, Push{Recall: &Recall{Message: cp, Operator: by}})
	}
	return nil
}

// Message returns a message by id, as viewer may see it.
func (s *Server) Message(viewer, msgID string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byID[msgID]
	if m == nil || !s.canSeeLocked(viewer, m) {
		return Message{}, fmt.Errorf("message %q: %w", msgID, ErrNoMessage)
	}
	return viewed(m, viewer), nil
}

// Messages returns every message the server holds in c, as viewer
// addresses it, oldest first, recalled ones included (marked).
func (s *Server) Messages(viewer string, c platform.Conv) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.convs[viewKey(viewer, c)]
	if cv == nil || !s.inConvLocked(viewer, c) {
		return nil
	}
	out := make([]Message, len(cv.msgs))
	for i, m := range cv.msgs {
		out[i] = viewed(m, viewer)
	}
	return out
}

// Conversations lists the conversations viewer has messages in with a
// message at or after since.
func (s *Server) Conversations(viewer string, since time.Time) []platform.Conv {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []platform.Conv
	for _, cv := range s.convs {
		if len(cv.msgs) == 0 {
			continue
		}
		last := cv.msgs[len(cv.msgs)-1]
		if last.Time.Before(since) || !s.canSeeLocked(viewer, last) {
			continue
		}
		out = append(out, last.ConvFor(viewer))
	}
	slices.SortFunc(out, func(a, b platform.Conv) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Drop closes every current connection (their clients see ErrDropped and
// may reconnect at once). It returns how many it closed.
func (s *Server) Drop() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.conns {
		s.closeConnLocked(c, ErrDropped)
		n++
	}
	return n
}

// DropAtAck makes the server close userID's connection when it next
// acknowledges, instead of taking the ack: what that ack covered is
// pushed again after the reconnect, as when a connection dies between a
// delivery and its ack.
func (s *Server) DropAtAck(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackDrops[userID] = true
}

// Hold drops every connection and refuses new ones (ErrUnavailable)
// until release is called. What is sent meanwhile is never pushed: a
// client learns it from history.
func (s *Server) Hold() (release func()) {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
	s.Drop()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.held = false
			s.mu.Unlock()
		})
	}
}

// Connected reports whether userID has a connection open.
func (s *Server) Connected(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[userID] != nil
}

// Connects counts the connections userID has opened.
func (s *Server) Connects(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects[userID]
}

// Unacked counts the pushes userID has not acknowledged.
func (s *Server) Unacked(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.unacked[userID])
}

// Sends counts the messages stored by Send (and Say) so far.
func (s *Server) Sends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sends
}

// User returns a user.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return User{}, false
	}
	return *u, true
}

// Friends returns the ids of userID's friends, sorted.
func (s *Server) Friends(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p := range s.friends {
		switch userID {
		case p[0]:
			out = append(out, p[1])
		case p[1]:
			out = append(out, p[0])
		}
	}
	slices.Sort(out)
	return out
}

// IsFriend reports whether a and b are friends.
func (s *Server) IsFriend(a, b string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.friends[pair(a, b)]
}

// GroupInfo is a group as the server describes it.
type GroupInfo struct {
	ID      string
	Name    string
	Members []platform.Member // sorted by user id
}

// Group returns a group with its members.
func (s *Server) Group(id string) (GroupInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil {
		return GroupInfo{}, false
	}
	return s.groupInfoLocked(g), true
}

// Groups returns the groups userID is a member of, sorted by id.
func (s *Server) Groups(userID string) []GroupInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GroupInfo
	for _, g := range s.groups {
		if g.Members[userID] != nil {
			out = append(out, s.groupInfoLocked(g))
		}
	}
	slices.SortFunc(out, func(a, b GroupInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (s *Server) groupInfoLocked(g *group) GroupInfo {
	info := GroupInfo{ID: g.ID, Name: g.Name}
	for _, id := range memberIDs(g) {
		m, u := g.Members[id], s.users[id]
		info.Members = append(info.Members, platform.Member{
			UserID: id, Name: u.Name, Card: m.Card, Role: m.Role, JoinTime: m.JoinTime, Bot: u.Bot,
		})
	}
	return info
}

// Kick removes userID from a group on behalf of by (an owner or admin
// above the member).
func (s *Server) Kick(by, groupID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.adminTargetLocked(by, groupID, userID)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	s.pushGroupLocked(g, Push{Member: &MemberChange{Group: groupID, User: userID, Operator: by, Left: true, Time: now}})
	delete(g.Members, userID)
	return nil
}

// Mute mutes userID in a group for d (0 lifts it) on behalf of by.
func (s *Server) Mute(by, groupID, userID string, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.adminTargetLocked(by, groupID, userID)
	if err != nil {
		return err
	}
	if d < 0 {
		return refuse("negative mute duration")
	}
	now := s.opts.Now()
	g.Members[userID].MutedUntil = now.Add(d)
	s.pushGroupLocked(g, Push{Member: &MemberChange{Group: groupID, User: userID, Operator: by, Muted: d, Time: now}})
	return nil
}

// Rename renames a group on behalf of by (an owner or admin).
func (s *Server) Rename(by, groupID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil || !s.isAdminLocked(groupID, by) {
		return refuse("%q may not rename group %q", by, groupID)
	}
	g.Name = name
	return nil
}

// SetCard sets userID's card in a group on behalf of by (the member, or an
// owner or admin).
func (s *Server) SetCard(by, groupID, userID, card string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil || g.Members[userID] == nil {
		return refuse("%q is not in group %q", userID, groupID)
	}
	if by != userID && !s.isAdminLocked(groupID, by) {
		return refuse("%q may not set the card of %q", by, userID)
	}
	g.Members[userID].Card = card
	return nil
}

// Leave removes userID from a group; an owner cannot leave.
func (s *Server) Leave(userID, groupID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil || g.Members[userID] == nil {
		return refuse("%q is not in group %q", userID, groupID)
	}
	if g.Members[userID].Role == platform.RoleOwner {
		return refuse("the owner cannot leave group %q", groupID)
	}
	s.pushGroupLocked(g, Push{Member: &MemberChange{Group: groupID, User: userID, Left: true, Time: s.opts.Now()}})
	delete(g.Members, userID)
	return nil
}

func (s *Server) adminTargetLocked(by, groupID, userID string) (*group, error) {
	g := s.groups[groupID]
	if g == nil || g.Members[userID] == nil {
		return nil, refuse("%q is not in group %q", userID, groupID)
	}
	if by == userID || !s.isAdminLocked(groupID, by) || rank(g.Members[userID].Role) >= rank(g.Members[by].Role) {
		return nil, refuse("%q may not manage %q in group %q", by, userID, groupID)
	}
	return g, nil
}

func rank(r platform.Role) int {
	switch r {
	case platform.RoleOwner:
		return 2
	case platform.RoleAdmin:
		return 1
	}
	return 0
}

func (s *Server) isAdminLocked(groupID, userID string) bool {
	g := s.groups[groupID]
	if g == nil || g.Members[userID] == nil {
		return false
	}
	return rank(g.Members[userID].Role) > 0
}

func (s *Server) inConvLocked(viewer string, c platform.Conv) bool {
	if c.Kind == platform.KindGroup {
		g := s.groups[c.ID]
		return g != nil && g.Members[viewer] != nil
	}
	return true
}

func (s *Server) canSeeLocked(viewer string, m *Message) bool {
	if m.Group != "" {
		g := s.groups[m.Group]
		return g != nil && g.Members[viewer] != nil
	}
	return m.From == viewer || m.To == viewer
}

// viewed is a copy of m as viewer sees it: the token only for its sender.
func viewed(m *Message, viewer string) Message {
	cp := *m
	if viewer != m.From {
		cp.Token = ""
	}
	return cp
}

// pushGroupLocked pushes p to every member of g.
func (s *Server) pushGroupLocked(g *group, p Push) {
	for _, u := range memberIDs(g) {
		s.pushLocked(u, p)
	}
}

// pushLocked gives p an id, keeps it until userID acknowledges it, and
// queues it on userID's connection if one is open. With no connection
// it is dropped: the server never replays what happened while a user was
// away. A client more than MaxQueue pushes behind is disconnected and
// the oldest push forgotten (history covers it). It returns the push's
// id, 0 if it was not pushed.
func (s *Server) pushLocked(userID string, p Push) uint64 {
	c := s.conns[userID]
	if c == nil {
		return 0
	}
	s.lastPush++
	p.ID = s.lastPush
	un := append(s.unacked[userID], p)
	if len(un) > MaxQueue {
		s.unacked[userID] = slices.Delete(un, 0, len(un)-MaxQueue)
		s.closeConnLocked(c, ErrSlow)
		return 0
	}
	s.unacked[userID] = un
	c.enqueueLocked(p)
	return p.ID
}

func (s *Server) closeConnLocked(c *Conn, why error) {
	if s.conns[c.user] == c {
		delete(s.conns, c.user)
	}
	c.closeLocked(why)
	s.signalAckedLocked()
}

func memberIDs(g *group) []string {
	ids := make([]string, 0, len(g.Members))
	for id := range g.Members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func pair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// convKey is the server's key for m's conversation: the group, or the
// pair of a private chat.
func convKey(m *Message) string {
	if m.Group != "" {
		return "g/" + m.Group
	}
	p := pair(m.From, m.To)
	return "p/" + p[0] + "\x00" + p[1]
}

// viewKey is the server's key for c as viewer addresses it.
func viewKey(viewer string, c platform.Conv) string {
	if c.Kind == platform.KindGroup {
		return "g/" + c.ID
	}
	p := pair(viewer, c.ID)
	return "p/" + p[0] + "\x00" + p[1]
}
