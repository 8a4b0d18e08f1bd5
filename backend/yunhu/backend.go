// Package yunhu is the Yunhu backend of the OneBot daemon: the contract of
// package platform over the Yunhu client (package yunhu at the module's
// root, imported here as yh).
//
// What is Yunhu's and lives here: its content types both ways (decode.go,
// encode.go), its receive loop and the pushes it translates into
// platform events (run.go), the bot chat type, which OneBot folds into
// private chats (this file), friend and group requests, which Yunhu
// announces without details (requests.go), history paging (history.go),
// the directory and group administration with Yunhu's rounding and
// refusals (directory.go), and its own actions (extensions.go).
//
// Conversations: a private chat's Conv.ID is the peer (a user or a bot),
// a group's the group id. Yunhu addresses a chat with a bot with its own
// chat type (3); the backend remembers which peers are bots (from pushes,
// the conversation list and the address book) and asks the address book
// once per run before it addresses a private chat it knows nothing of.
package yunhu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Platform is what the backend needs from Yunhu; *yh.Client provides it.
type Platform interface {
	Run(ctx context.Context, onPush func(yh.Push)) error
	Self(ctx context.Context) (*yh.Self, error)

	SendMessage(ctx context.Context, m yh.Outgoing) (string, error)
	EditMessage(ctx context.Context, m yh.Outgoing) error
	Recall(ctx context.Context, chat yh.Chat, msgID string) error
	RecallBatch(ctx context.Context, chat yh.Chat, msgIDs []string) error
	GetMessage(ctx context.Context, chat yh.Chat, msgID string) (*yh.Message, error)
	ListMessages(ctx context.Context, chat yh.Chat, before string, count int) ([]yh.Message, error)
	ListEditRecords(ctx context.Context, msgID string, page, size int) ([]yh.EditRecord, int, error)
	ButtonReport(ctx context.Context, chat yh.Chat, msgID, userID, value string) error
	Forward(ctx context.Context, msgID string, srcType yh.ChatType, targets []yh.Chat) error
	Upload(ctx context.Context, kind yh.UploadKind, name string, data []byte) (*yh.Upload, error)

	GetUser(ctx context.Context, id string) (*yh.User, error)
	AddressBook(ctx context.Context) (*yh.AddressBook, error)
	FriendRequests(ctx context.Context) ([]yh.FriendRequest, int, error)
	AgreeApply(ctx context.Context, id int64, agree int) error
	DeleteFriend(ctx context.Context, chat yh.Chat) error
	Conversations(ctx context.Context) ([]yh.Conversation, error)
	DismissNotification(ctx context.Context, chatID string) error

	GroupInfo(ctx context.Context, id string) (*yh.Group, error)
	AllMembers(ctx context.Context, groupID string) ([]yh.Member, error)
	RemoveMember(ctx context.Context, groupID, userID string) error
	GagMember(ctx context.Context, groupID, userID string, seconds int) error
	EditGroup(ctx context.Context, s yh.GroupSettings) error
	SetMyGroupNickname(ctx context.Context, groupID, nickname string) error
}

var _ Platform = (*yh.Client)(nil)

// KV is the durable key/value state the backend keeps (which requests it
// reported); *store.Store provides it. Get fails for a missing key; an
// error matching platform.ErrNotFound is taken as "missing" and anything
// else is logged before the backend carries on without the value.
type KV interface {
	Get(key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
}

// Options configures a Backend. Client and KV are required.
type Options struct {
	Client Platform
	KV     KV
	Log    *zap.Logger // nil means no logging
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnPush, when set, is told the kind of every push from Yunhu
	// (message, recall, edit, stream, invite, draft, file_send, hang_up,
	// bot_board). It must be quick; the daemon feeds its metrics from it.
	OnPush func(kind string)
	// PostFormat is "string" (CQ codes) or "array": the form of the
	// messages get_msg_edit_history returns, as the events' message
	// field. "" means "string".
	PostFormat string
}

// Backend is the Yunhu backend. Create it with New.
type Backend struct {
	client Platform
	kv     KV
	log    *zap.Logger
	now    func() time.Time
	onPush func(string)
	array  bool // PostFormat "array"
	queue  int  // ingestQueue; smaller in tests

	self atomic.Pointer[platform.Account] // nil until Self succeeded

	mu         sync.Mutex      // guards bots and booked
	bots       map[string]bool // peers known to be bots
	booked     bool            // the address book's bots were read this run
	bookFailed time.Time       // last failed read of the address book for bots
}

// The capabilities the backend has.
var (
	_ platform.Backend      = (*Backend)(nil)
	_ platform.History      = (*Backend)(nil)
	_ platform.Directory    = (*Backend)(nil)
	_ platform.GroupAdmin   = (*Backend)(nil)
	_ platform.Requests     = (*Backend)(nil)
	_ platform.Friends      = (*Backend)(nil)
	_ platform.Editor       = (*Backend)(nil)
	_ platform.Reader       = (*Backend)(nil)
	_ platform.Extensions   = (*Backend)(nil)
	_ platform.Unsupported  = (*Backend)(nil)
	_ platform.MediaReferer = (*Backend)(nil)
	_ platform.V2Keys       = (*Backend)(nil)
)

// New returns a Backend.
func New(opts Options) (*Backend, error) {
	if opts.Client == nil || opts.KV == nil {
		return nil, errors.New("yunhu backend: Client and KV are required")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Backend{
		client: opts.Client,
		kv:     opts.KV,
		log:    opts.Log,
		now:    opts.Now,
		onPush: opts.OnPush,
		array:  opts.PostFormat == "array",
		queue:  ingestQueue,
		bots:   map[string]bool{},
	}, nil
}

// Name is "yunhu".
func (b *Backend) Name() string { return "yunhu" }

// Self returns the account the client's token belongs to.
func (b *Backend) Self(ctx context.Context) (platform.Account, error) {
	me, err := b.client.Self(ctx)
	if errors.Is(err, yh.ErrUnauthorized) {
		return platform.Account{}, fmt.Errorf("account.token rejected by Yunhu: %w", classify(err))
	}
	if err != nil {
		return platform.Account{}, classify(err) // the core says "log in"
	}
	acc := platform.Account{ID: me.ID, Name: me.Name}
	b.self.Store(&acc)
	return acc, nil
}

// selfID is the account's Yunhu id, "" before Self succeeded.
func (b *Backend) selfID() string {
	if a := b.self.Load(); a != nil {
		return a.ID
	}
	return ""
}

// ensureSelf returns the account's id, asking Yunhu if Self was never
// called.
func (b *Backend) ensureSelf(ctx context.Context) (string, error) {
	if id := b.selfID(); id != "" {
		return id, nil
	}
	acc, err := b.Self(ctx)
	return acc.ID, err
}

// rememberBot records that id is a bot, so that a private chat with it
// uses the bot chat type.
func (b *Backend) rememberBot(id string) {
	b.mu.Lock()
	b.bots[id] = true
	b.mu.Unlock()
}

// isBot reports whether id is known to be a bot.
func (b *Backend) isBot(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bots[id]
}

// bookRetry spaces the reads of the address book that chatOf makes when
// the last one failed.
const bookRetry = 30 * time.Second

// chatFor is the Yunhu chat of a conversation. A private chat with a peer
// the backend never saw is looked up in the address book's bots once per
// run: the store keeps bot chats as private chats, and after a restart
// nothing else tells a bot from a user before a call fails.
func (b *Backend) chatFor(ctx context.Context, c platform.Conv) yh.Chat {
	if c.Kind == platform.KindGroup {
		return yh.Chat{ID: c.ID, Type: yh.ChatTypeGroup}
	}
	b.mu.Lock()
	bot, booked, failed := b.bots[c.ID], b.booked, b.bookFailed
	b.mu.Unlock()
	if !bot && !booked && (failed.IsZero() || b.now().Sub(failed) >= bookRetry) {
		bot = b.lookupBot(ctx, c.ID)
	}
	if bot {
		return yh.Chat{ID: c.ID, Type: yh.ChatTypeBot}
	}
	return yh.Chat{ID: c.ID, Type: yh.ChatTypeUser}
}

// lookupBot asks the address book whether id is one of the account's
// bots, remembering every bot it lists.
func (b *Backend) lookupBot(ctx context.Context, id string) bool {
	book, err := b.client.AddressBook(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.bookFailed = b.now()
		return false
	}
	b.booked = true
	for _, c := range book.Bots {
		b.bots[c.ID] = true
	}
	return b.bots[id]
}

// convOf is the conversation of a Yunhu chat as the account addresses it.
func convOf(c yh.Chat) platform.Conv {
	if c.Type == yh.ChatTypeGroup {
		return platform.Conv{Kind: platform.KindGroup, ID: c.ID}
	}
	return platform.Conv{Kind: platform.KindPrivate, ID: c.ID}
}

// chatOf is the conversation a message belongs to, as the account
// addresses it (§6.3 of the wire digest): the peer for private and bot
// chats, the group for groups. A bot's private chat is remembered.
func (b *Backend) chatOf(m *yh.Message) yh.Chat {
	c := m.Peer(b.selfID())
	if c.Type == yh.ChatTypeUser && m.Sender.Type == yh.ChatTypeBot && m.Sender.ID == c.ID {
		c.Type = yh.ChatTypeBot
	}
	if c.Type == yh.ChatTypeBot {
		b.rememberBot(c.ID)
	}
	return c
}

// ConvFromV2 maps a conversation key of the schema 2 store: chat type 2
// is a group; 1 (user) and 3 (bot) are private chats, the bot's id being
// the peer.
func (b *Backend) ConvFromV2(chatType int32, chatID string) platform.Conv {
	if chatType == yh.ChatTypeBot {
		b.rememberBot(chatID)
	}
	return ConvFromV2(chatType, chatID)
}

// ConvFromV2 is the conversation a schema 2 store keyed by a Yunhu chat
// type and id: groups are groups, user and bot chats private chats. The
// store's upgrade uses it before any backend exists.
func ConvFromV2(chatType int32, chatID string) platform.Conv {
	if chatType == yh.ChatTypeGroup {
		return platform.Conv{Kind: platform.KindGroup, ID: chatID}
	}
	return platform.Conv{Kind: platform.KindPrivate, ID: chatID}
}

// Referer is the Referer Yunhu's CDN wants (§1.1): it refuses downloads
// without it, and bots commonly send back the url of an image they
// received. Every URL gets it: the core asks only after a refusal.
func (b *Backend) Referer(string) string { return yh.Referer }

// multiError matches each of its errors (errors.Is and errors.As) and
// reads as the first: it adds a platform sentinel to a Yunhu error
// without changing its text.
type multiError struct {
	err  error
	also error
}

func (e *multiError) Error() string   { return e.err.Error() }
func (e *multiError) Unwrap() []error { return []error{e.err, e.also} }

// classify turns a failed Yunhu call into the platform's error kinds:
// a rejected token matches platform.ErrUnauthorized, a missing object
// platform.ErrNotFound, and a failure the server answered is a
// *platform.Error with the server's text, definite when Yunhu answered
// with HTTP 200 (it refused: nothing happened). Transport errors stay as
// they are. The Yunhu error stays reachable through errors.As.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pe *platform.Error
	if errors.As(err, &pe) {
		return err // classified already
	}
	inner := err
	switch {
	case errors.Is(err, yh.ErrUnauthorized) && !errors.Is(err, platform.ErrUnauthorized):
		inner = &multiError{err: err, also: platform.ErrUnauthorized}
	case errors.Is(err, yh.ErrNotFound) && !errors.Is(err, platform.ErrNotFound):
		inner = &multiError{err: err, also: platform.ErrNotFound}
	}
	var ae *yh.APIError
	if !errors.As(err, &ae) {
		return inner
	}
	return &platform.Error{Msg: serverText(err), Definite: ae.HTTPStatus == http.StatusOK, Err: inner}
}

// serverText is the server's text of a Yunhu failure (often Chinese,
// always the most precise), else the error itself.
func serverText(err error) string {
	var ae *yh.APIError
	if errors.As(err, &ae) && ae.Msg != "" {
		return ae.Msg
	}
	return err.Error()
}
