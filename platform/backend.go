package platform

import (
	"context"
	"net/http"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// Backend is one chat platform behind the OneBot front. Every backend
// implements these methods; the optional capabilities below unlock more
// actions, and an action whose capability is missing answers 1404 with a
// wording that names the backend.
//
// Ids: every id a Backend takes or returns (users, groups, messages) is
// the platform's own, as a string. The core turns them into OneBot
// numbers (numeric ids below 2^53 as they are, others through durable
// aliases) and back; a backend never sees a OneBot number.
//
// Errors: a method returns an error that wraps ErrUnauthorized when the
// platform refused the account's credentials, *Error when the platform
// answered with a failure it explained (its text reaches the bot), and
// *UnsupportedError for a form of a request the platform cannot serve.
// Anything else is reported as a failure of the call with its text.
//
// Concurrency: the core calls every method except Run from many
// goroutines at once.
type Backend interface {
	// Name is the backend's name as config's backend key spells it
	// ("yunhu"); it names the backend in logs and in 1404 wordings.
	Name() string

	// Self returns the account the backend is logged in as. The core
	// calls it before Run and retries it with backoff on failure, except
	// for ErrUnauthorized, which stops the daemon (exit status 77).
	Self(ctx context.Context) (Account, error)

	// Run receives from the platform until ctx is done, delivering every
	// event into sink in the platform's order. It reconnects by itself
	// (reporting Offline and Online), and returns nil once ctx is done,
	// or an error wrapping ErrUnauthorized if the platform rejects the
	// credentials for good. Deliver blocks until the events are durable
	// and reported, so a backend acknowledges to its server only after
	// Deliver returns (WuKongIM's recvack, a callback's 200). A backend
	// that receives faster than one commit per event collects what
	// arrives while Deliver runs and delivers it as the next batch.
	Run(ctx context.Context, sink Sink) error

	// Decode turns a message's content (Message.Content, Edited.Content)
	// into OneBot segments. At segments carry platform user ids in qq
	// (or "all"); the core maps them. names tells, for a user id, the
	// names a mention of them may be written as in this conversation
	// (for platforms whose mentions live in the text); it may return nil.
	// A quote is not decoded: the core adds the reply segment from
	// Message.QuoteID.
	Decode(ctx context.Context, conv Conv, content any, names func(userID string) []string) (segment.Message, error)

	// Encode turns a OneBot message into the platform messages that
	// carry it into conv, in order, without sending anything: every
	// segment is checked and every medium prepared (uploaded, if the
	// platform wants that) first, so a bad segment fails the whole
	// action before anything went out. In msg, at segments carry platform
	// user ids; a reply segment's id is the quoted message's platform id
	// and env.Quote describes it. An error that is not *Error or
	// *UnsupportedError is a bad parameter (1400): say which segment.
	Encode(ctx context.Context, conv Conv, msg segment.Message, env EncodeEnv) ([]Outgoing, error)

	// Send sends one encoded message. It returns the platform's id for
	// it: the one the backend chose (Outgoing.ID), or the one the server
	// assigned. An error wrapping an *Error with Definite set means the
	// message was certainly not sent; any other error leaves it unknown,
	// and the core keeps the record hidden until an echo settles it.
	Send(ctx context.Context, out *Outgoing) (Sent, error)

	// Recall withdraws messages of one conversation (the parts of one
	// OneBot message, or a batch). A platform that cannot recall several
	// at once recalls them one by one and stops at the first failure.
	Recall(ctx context.Context, conv Conv, msgIDs []string) error
}

// Sink is where Run delivers events.
type Sink interface {
	// Deliver hands a batch of events to the core and returns once each
	// of them is durable in the store and its OneBot events are
	// published, or the core is stopping (ctx's error). Events of one
	// batch keep their order. It may be called from several goroutines;
	// batches from one goroutine keep their order.
	Deliver(ctx context.Context, events []Event) error
}

// EncodeEnv is what Encode may need from the core.
type EncodeEnv struct {
	// Quote is the message a reply segment quotes, nil if none.
	Quote *Quote
	// Media reads the bytes of a media segment's file parameter
	// (file:///, http(s), base64://) within the operator's media rules
	// and size limit, naming param in its errors. A backend uses it for
	// every medium it must upload or re-host, and never reads media any
	// other way.
	Media func(ctx context.Context, param, ref string) (data []byte, name string, err error)
	// Self is the account.
	Self Account
	// Name returns the name userID goes by in conv (group card, member
	// name, profile name), for platforms that write mentions as "@name";
	// "" if unknown. It may call the Directory; it caches.
	Name func(ctx context.Context, userID string) string
}

// Quote is a stored message a reply segment names.
type Quote struct {
	MsgID    string
	SenderID string
	Sender   string
	Body     segment.Message // as stored: what get_msg answers
}

// Outgoing is one platform message on its way out: the result of Encode,
// the argument of Send.
type Outgoing struct {
	Conv Conv
	// ID is the platform id the backend chose for the message, for
	// platforms that let the client choose (so a retried send cannot
	// duplicate it). "" means the server assigns it; Token then
	// correlates the echo (Message.Token) with this send, if the
	// platform echoes one.
	ID    string
	Token string
	// Body is what the message carries as OneBot segments (media as
	// sent, not their bytes), in platform ids: what the store keeps and
	// get_msg answers. The core maps its ids.
	Body segment.Message
	// Payload is the backend's own request.
	Payload any
}

// Sent is what Send learnt about a sent message.
type Sent struct {
	ID   string    // the platform id (Outgoing.ID, or the server's)
	Seq  int64     // its position, 0 if the answer does not say
	Time time.Time // zero if the answer does not say
}

// The optional capabilities. The core finds them by type assertion on the
// Backend when it starts.

// History lets the core catch up after a reconnect or a restart, and
// serve get_msg for messages it never stored and the history actions.
type History interface {
	// Missed returns the messages of conv after the one at position
	// after (exclusive), or when after is 0 those since since, oldest
	// first, as many as the platform holds up to a limit the backend
	// chooses (and logs when it cuts). The core merges them with the
	// live messages it held meanwhile and reports each exactly once.
	Missed(ctx context.Context, conv Conv, after int64, since time.Time) ([]Message, error)
	// Active lists the conversations with a message since since. New
	// chats, which the core has no position for, are found this way.
	Active(ctx context.Context, since time.Time) ([]Conv, error)
	// Message reads one message; an error wrapping ErrNotFound if the
	// platform does not have it.
	Message(ctx context.Context, conv Conv, msgID string) (*Message, error)
	// Before returns up to count messages of conv older than msgID
	// (exclusive; "" means the newest), oldest first.
	Before(ctx context.Context, conv Conv, msgID string, count int) ([]Message, error)
}

// Directory answers who is who.
type Directory interface {
	User(ctx context.Context, id string) (*User, error)
	Friends(ctx context.Context) ([]User, error)
	Groups(ctx context.Context) ([]Group, error)
	Group(ctx context.Context, id string) (*Group, error)
	// Members lists every member of a group, with roles. The core caches
	// it (for the role and card of senders) and calls it off the ingest
	// path, at most a few at a time.
	Members(ctx context.Context, groupID string) ([]Member, error)
}

// GroupAdmin changes groups. Each method may return *UnsupportedError for
// a form the platform lacks (another member's card, a mute shorter than
// the platform allows).
type GroupAdmin interface {
	Kick(ctx context.Context, groupID, userID string, rejectAgain bool) error
	// Mute mutes a member for d; 0 lifts it. The backend rounds d to
	// what the platform offers and says so in its error if it cannot.
	Mute(ctx context.Context, groupID, userID string, d time.Duration) error
	SetGroupName(ctx context.Context, groupID, name string) error
	SetCard(ctx context.Context, groupID, userID, card string) error
	Leave(ctx context.Context, groupID string) error
}

// WholeMute mutes or unmutes a whole group (set_group_whole_ban).
type WholeMute interface {
	MuteAll(ctx context.Context, groupID string, on bool) error
}

// Requests decides the requests reported as Request events.
type Requests interface {
	Decide(ctx context.Context, flag string, approve bool, remark string) error
}

// Friends manages the account's friends beyond the Directory.
type Friends interface {
	DeleteFriend(ctx context.Context, userID string) error
}

// Editor replaces the content of one of the account's messages (edit_msg).
type Editor interface {
	// Edit encodes msg like Encode, as exactly one platform message, and
	// replaces msgID's content with it; it returns the body to store.
	Edit(ctx context.Context, conv Conv, msgID string, msg segment.Message, env EncodeEnv) (segment.Message, error)
}

// Reader marks conversations read (mark_msg_as_read).
type Reader interface {
	MarkRead(ctx context.Context, conv Conv) error
}

// Extensions registers the backend's own actions (Yunhu's click_button,
// forward_msg, …) on the router, after the core's: an extension may also
// replace a core action the platform does better. host gives access to
// the core's ids and store.
type Extensions interface {
	Actions(host Host) map[string]onebot.ActionFunc
}

// Unsupported lists actions the platform cannot do, each with the reason
// the 1404 gives (better than the generic wording).
type Unsupported interface {
	Unsupported() map[string]string
}

// Callbacks is for platforms that call the daemon (WildfireChat's message
// callback): the daemon serves Handler on CallbackAddress, a host:port
// from the backend's config section, beside the OneBot listeners, and
// stops it with them. The handler answers a platform's call only once
// what it delivered is durable (Sink.Deliver returned).
type Callbacks interface {
	Handler() http.Handler
	CallbackAddress() string
}

// MediaReferer is for platforms whose media servers want a Referer: the
// core's media fetcher retries a refused URL with it.
type MediaReferer interface {
	Referer(url string) string
}

// Host is the core as extension actions see it.
type Host interface {
	// Self is the account, zero before login.
	Self() Account
	// PlatformID maps a OneBot id parameter (user_id, group_id) back to
	// the platform id, as a 1400 naming param when it is unknown.
	PlatformID(param string, n int64) (string, error)
	// OneBotID maps a platform id to its OneBot number.
	OneBotID(ctx context.Context, id string) (int64, error)
	// Stored returns a stored message by message_id, as a 1400 naming
	// param when unknown.
	Stored(param string, messageID int32) (StoredMessage, error)
	// MessageID returns the message_id of a platform message, storing a
	// record for it (without body) if it has none yet.
	MessageID(ctx context.Context, conv Conv, msgID string) (int32, error)
	// Decode is Backend.Decode followed by the core's id mapping: the
	// segments a bot would see.
	Decode(ctx context.Context, conv Conv, content any) (segment.Message, error)
	// Encode prepares msg for Backend.Encode or Editor.Edit: it maps
	// OneBot ids to platform ids, and finds the quoted message.
	Encode(ctx context.Context, conv Conv, msg segment.Message) (segment.Message, EncodeEnv, error)
	// Send sends a OneBot message into conv as send_msg does.
	Send(ctx context.Context, conv Conv, msg segment.Message) (int32, time.Time, error)
	// Recalling tells the core that the account is recalling these
	// messages, so their recall events name it as operator.
	Recalling(msgIDs []string) (undo func())
	// UpdateBody replaces a stored message's body (after an edit).
	UpdateBody(ctx context.Context, messageID int32, body segment.Message) error
}

// StoredMessage is a message as the core's store keeps it.
type StoredMessage struct {
	ID       int32
	Conv     Conv
	MsgID    string
	Seq      int64
	SenderID string
	Sender   string
	Time     time.Time
	Self     bool
	Recalled bool
	Body     segment.Message
	// Parts are the platform ids of the other messages a OneBot message
	// became when sent (the first is MsgID).
	Parts []string
}

// V2Keys is for a backend whose conversations the daemon's schema 2
// store keyed by platform chat type and id (Yunhu, before the seam): the
// store upgrade and the core's list of tracked chats map them with it.
type V2Keys interface {
	ConvFromV2(chatType int32, chatID string) Conv
}
