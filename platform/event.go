package platform

import "time"

// Event is what a backend's receive loop delivers to the core (Sink).
// The set is closed: the unexported method keeps other packages from
// adding kinds the core would not know how to order or store.
type Event interface{ event() }

// Online says the receive connection is up (again). After the first, each
// one makes the core catch up on what was missed while offline (History).
type Online struct{}

// Offline says the receive connection is down; Err is why (nil or
// context.Canceled for a deliberate close).
type Offline struct{ Err error }

// Received is a new message, pushed live, in the order the platform gave
// it. The account's own messages (sent by the core, or from another
// device) arrive as Received too; the core tells them apart by sender.
type Received struct{ Message Message }

// Recalled says a message was withdrawn. Sender is its author as far as
// the platform says; Operator who recalled it, "" if the platform does
// not say (the core then assumes the author, or the account when its own
// delete_msg did it).
type Recalled struct {
	Conv     Conv
	MsgID    string
	Seq      int64
	Sender   Sender
	Operator string
	Time     time.Time
}

// Edited says a message's content was replaced. Conv may be zero, or
// carry only an ID whose kind is unknown (Kind 0): some platforms do not
// say; the core then finds the message among the conversations it knows.
type Edited struct {
	Conv    Conv
	MsgID   string
	QuoteID string
	Content any // decoded by Backend.Decode like Message.Content
	Time    time.Time
}

// Appended is text streamed onto the end of a message (a bot writing its
// answer as it goes). It is not reported: it grows the stored body, so
// get_msg returns the text so far. Conv as for Edited.
type Appended struct {
	Conv  Conv
	MsgID string
	Text  string
}

// RequestKind is what a Request asks.
type RequestKind string

// The request kinds OneBot reports.
const (
	FriendRequest      RequestKind = "friend"       // request_type friend
	GroupJoinRequest   RequestKind = "group_add"    // someone asks to join a group the account manages
	GroupInviteRequest RequestKind = "group_invite" // someone invites the account into a group
)

// Request is a friend or group request awaiting the account's decision.
// Flag is the backend's handle for it, handed back to Requests.Decide;
// the backend reports each request once.
type Request struct {
	Kind    RequestKind
	Flag    string
	UserID  string // who asks (or invites)
	GroupID string // for group requests
	Comment string
	Time    time.Time
}

// MemberLeft says a member left or was removed from a group (OneBot
// group_decrease). Operator is who removed them, "" if they left; UserID
// equal to the account means the account itself was removed.
type MemberLeft struct {
	GroupID  string
	UserID   string
	Operator string
	Time     time.Time
}

// MemberJoined says someone joined a group (OneBot group_increase).
type MemberJoined struct {
	GroupID  string
	UserID   string
	Operator string // who approved or invited them, "" if unknown
	Invited  bool
	Time     time.Time
}

// MemberMuted says a member was muted (Duration > 0) or unmuted (0);
// UserID "" means the whole group (OneBot group_ban).
type MemberMuted struct {
	GroupID  string
	UserID   string
	Operator string
	Duration time.Duration
	Time     time.Time
}

// MembersChanged says a group's member list, roles or names changed in a
// way no other event reports (a rename, a role change): the core drops
// what it cached.
type MembersChanged struct{ GroupID string }

func (Online) event()         {}
func (Offline) event()        {}
func (Received) event()       {}
func (Recalled) event()       {}
func (Edited) event()         {}
func (Appended) event()       {}
func (Request) event()        {}
func (MemberLeft) event()     {}
func (MemberJoined) event()   {}
func (MemberMuted) event()    {}
func (MembersChanged) event() {}
