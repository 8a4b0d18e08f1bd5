// Package platform is the contract between the OneBot core (bridge/) and
// a chat backend (backend/yunhu, and the backends that follow): the
// neutral model both sides speak, the interface every backend implements,
// and the optional capabilities a backend may add.
//
// The core owns everything OneBot: ids, the store, ingest order,
// exactly-once delivery, backfill, events, the member cache, action
// routing and media fetching. A backend owns one platform: its login, its
// receive loop, its content types both ways, its quirks. Neither imports
// the other; both import this package. See docs/BACKENDS.md for the guide
// to writing a backend.
package platform

import (
	"time"
)

// Kind is what a conversation is, as OneBot sees it.
type Kind uint8

// The kinds of conversation. A platform's finer kinds (Yunhu's bot chats,
// WildfireChat's channels) are the backend's business: it folds them into
// these two and keeps what it needs to address them in Conv.ID.
const (
	KindPrivate Kind = 1 // a one-to-one chat; Conv.ID is the peer
	KindGroup   Kind = 2 // a group chat; Conv.ID is the group
)

func (k Kind) String() string {
	switch k {
	case KindPrivate:
		return "private"
	case KindGroup:
		return "group"
	}
	return "unknown"
}

// Conv names a conversation as the account addresses it: the peer of a
// private chat, the group of a group chat. ID is the backend's and opaque
// to the core, except that it is also the id OneBot numbers are made from
// (user_id for a private chat, group_id for a group), so it must be the
// peer's or the group's platform id. A backend whose conversations need
// more than that to address them (WildfireChat's line) keeps the rest
// itself.
type Conv struct {
	Kind Kind
	ID   string
}

// IsZero reports whether c names no conversation.
func (c Conv) IsZero() bool { return c.ID == "" }

// Account is who the backend is logged in as.
type Account struct {
	ID   string // platform user id; becomes self_id
	Name string // display name
}

// Sender is the author of a message as the message itself tells.
type Sender struct {
	ID   string // platform user id
	Name string // display name at the time of the message
	// Bot marks a sender that is a bot account: it has no member role,
	// so the core does not look it up in member lists.
	Bot bool
	// Title is the member title shown beside the name, if the platform
	// sends one with the message (OneBot sender.title).
	Title string
}

// Message is one message of a conversation, received live or read from
// history.
type Message struct {
	Conv Conv
	ID   string // platform message id, unique within Conv
	// Seq is the message's position in Conv: larger is later, and a
	// platform that numbers its messages densely lets the core detect
	// gaps. 0 means the platform has none; such a backend offers no
	// History, and exactly-once then rests on the store's ids alone.
	Seq    int64
	Sender Sender
	Time   time.Time // zero: the core uses the time it received it
	// QuoteID is the platform id of the message this one replies to,
	// in the same conversation; "" if none.
	QuoteID string
	// Recalled marks a message read from history that was recalled
	// since; RecallTime is when, if known.
	Recalled   bool
	RecallTime time.Time
	// Token is the correlation token of one of the account's own sends
	// whose id the server assigns (Outgoing.Token), when the backend
	// recognises the echo of that send; "" otherwise.
	Token string
	// Content is the backend's own representation of the body. The core
	// never looks inside; it hands it back to Backend.Decode.
	Content any
}

// User is a platform user (or bot) as a directory knows it.
type User struct {
	ID       string
	Name     string
	Remark   string // the account's own name for a friend
	Sex      string // "male", "female" or "unknown"
	Age      int32
	Bot      bool
	Avatar   string // URL, "" if unknown
	Level    int32
	Extra    map[string]any // platform fields a backend adds to get_stranger_info
	Friend   bool
	Unfriend bool // known not to be a friend (vs. unknown)
}

// Group is a group as a directory knows it.
type Group struct {
	ID          string
	Name        string
	MemberCount int32
	MaxMembers  int32
	Extra       map[string]any
}

// Role is a member's standing in a group (OneBot sender.role).
type Role string

// The roles OneBot knows.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Member is a group member as a member list tells.
type Member struct {
	UserID   string
	Name     string // the user's own name
	Card     string // group nickname, "" if none
	Role     Role
	Title    string
	JoinTime time.Time
	Bot      bool
	Avatar   string
	// MutedUntil is when the member's mute ends, zero if not muted
	// (OneBot shut_up_timestamp).
	MutedUntil time.Time
}
