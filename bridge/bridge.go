// Package bridge translates between Yunhu and OneBot v11: Yunhu pushes
// become OneBot events, OneBot actions become Yunhu calls. It is the only
// package that knows both sides; yunhu/ knows nothing of OneBot and onebot/
// nothing of Yunhu.
//
// Flow:
//
//	yunhu.Client.Run ──pushes──▶ ingest: id from the store (durable first)
//	                              ──▶ OneBot event ──▶ onebot.Hub.Publish
//	onebot.Router ──action──▶ handler: OneBot ids → Yunhu ids (store aliases),
//	                              segments → Yunhu content ──▶ yunhu.Client
//
// Ids (a public contract, see README "Ids"): self_id and user_id are Yunhu
// user ids as numbers; group_id is the Yunhu group id as a number when it
// is canonical decimal below store.AliasBase, else its store alias;
// message_id is the store's sequential int32 for (chat, Yunhu msg_id).
//
// The store key of a chat is the conversation as the account addresses it
// (chatOf): the peer user or bot for private chats, the group for groups.
// The store's message Body holds the message as a OneBot segment array
// (segment.AppendJSON), so get_msg answers from the store alone.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Platform is what the bridge needs from Yunhu; *yunhu.Client provides it.
type Platform interface {
	Run(ctx context.Context, onPush func(yunhu.Push)) error
	Self(ctx context.Context) (*yunhu.Self, error)

	SendMessage(ctx context.Context, m yunhu.Outgoing) (string, error)
	EditMessage(ctx context.Context, m yunhu.Outgoing) error
	Recall(ctx context.Context, chat yunhu.Chat, msgID string) error
	RecallBatch(ctx context.Context, chat yunhu.Chat, msgIDs []string) error
	GetMessage(ctx context.Context, chat yunhu.Chat, msgID string) (*yunhu.Message, error)
	ListMessages(ctx context.Context, chat yunhu.Chat, before string, count int) ([]yunhu.Message, error)
	ListMessagesAround(ctx context.Context, chat yunhu.Chat, msgID string, count int) ([]yunhu.Message, error)
	ListMessagesBySeq(ctx context.Context, chat yunhu.Chat, start int64) ([]yunhu.Message, error)
	ListEditRecords(ctx context.Context, msgID string, page, size int) ([]yunhu.EditRecord, int, error)
	ButtonReport(ctx context.Context, chat yunhu.Chat, msgID, userID, value string) error
	Forward(ctx context.Context, msgID string, srcType yunhu.ChatType, targets []yunhu.Chat) error
	DeleteForMe(ctx context.Context, chat yunhu.Chat, msgID string) error
	Upload(ctx context.Context, kind yunhu.UploadKind, name string, data []byte) (*yunhu.Upload, error)
	Download(ctx context.Context, url string) ([]byte, string, error)

	GetUser(ctx context.Context, id string) (*yunhu.User, error)
	AddressBook(ctx context.Context) (*yunhu.AddressBook, error)
	FriendRequests(ctx context.Context) ([]yunhu.FriendRequest, int, error)
	AgreeApply(ctx context.Context, id int64, agree int) error
	DeleteFriend(ctx context.Context, chat yunhu.Chat) error
	Conversations(ctx context.Context) ([]yunhu.Conversation, error)
	DismissNotification(ctx context.Context, chatID string) error

	GroupInfo(ctx context.Context, id string) (*yunhu.Group, error)
	ListMembers(ctx context.Context, groupID string, page, size int, keywords string) ([]yunhu.Member, int, error)
	AllMembers(ctx context.Context, groupID string) ([]yunhu.Member, error)
	RemoveMember(ctx context.Context, groupID, userID string) error
	GagMember(ctx context.Context, groupID, userID string, seconds int) error
	EditGroup(ctx context.Context, s yunhu.GroupSettings) error
	SetMyGroupNickname(ctx context.Context, groupID, nickname string) error
}

var _ Platform = (*yunhu.Client)(nil)

// Options configures a Bridge. Platform, Store, Hub and Router are
// required.
type Options struct {
	Platform Platform
	Store    *store.Store
	Hub      *onebot.Hub
	Router   *onebot.Router
	Log      *zap.Logger // nil means no logging

	// PostFormat is "string" (CQ codes) or "array" for the message field
	// of events.
	PostFormat string
	// ReportSelfMessage turns the account's own messages from other
	// devices into message_sent events instead of dropping them.
	ReportSelfMessage bool
	// IgnoreInvalidCQCode drops malformed CQ codes from outgoing messages
	// instead of sending them as text.
	IgnoreInvalidCQCode bool
	// MaxMediaBytes caps a media file fetched for sending; 0 means 30 MiB.
	MaxMediaBytes int64
	// FetchTimeout bounds fetching one media file by URL; 0 means 30 s.
	FetchTimeout time.Duration
	// Media confines where media may be read from (mediarules.go); the
	// zero value refuses file:/// and private addresses.
	Media MediaOptions
	// SetSelfID is told the account's OneBot id once it is known, so that
	// meta events and transports can carry it; nil means nobody cares.
	SetSelfID func(int64)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Version is reported by get_version_info; empty means the module
	// version from the build info.
	Version string
	// BackfillWindow: after a reconnect or a restart, chats active within
	// it are caught up; 0 means 7 days. The daemon passes the database
	// retention, since older messages could not be answered anyway.
	BackfillWindow time.Duration
	// LogMessages prints one info line per message received and sent
	// (chat, sender, message_id and a short preview), as go-cqhttp does
	// (config log.messages).
	LogMessages bool
	// OnPush, when set, is told the kind of every push from Yunhu
	// (message, recall, edit, stream, invite, draft, file_send, hang_up,
	// bot_board) and OnBackfill how many messages each backfilled chat
	// reported. Both must be quick; the daemon feeds its metrics from
	// them.
	OnPush     func(kind string)
	OnBackfill func(messages int)
}

// Bridge connects one Yunhu account to the OneBot side.
type Bridge struct {
	opts     Options
	platform Platform
	store    *store.Store
	hub      *onebot.Hub
	log      *zap.Logger
	now      func() time.Time

	// me is the account, published whole by login: a reader sees the
	// id, its number and the name of one login or none of them, never
	// the id of one and the number of another (or 0 beside a known id).
	me     atomic.Pointer[identity]
	online atomic.Bool // the push socket is logged in
	media  *mediaRules
	// ownRecalls are the recalls delete_msg is making (events.go).
	ownRecalls *ownRecalls
	// members is the group member cache (members.go): the ingest
	// goroutine's for the sender of events, and get_msg's and history's
	// for the same sender; its refresh worker runs with receive.
	members *memberCache

	mu   sync.Mutex      // guards bots
	bots map[string]bool // Yunhu ids known to be bots (private chats use ChatTypeBot)
}

// New returns a Bridge and registers every OneBot action on opts.Router.
func New(opts Options) (*Bridge, error) {
	if opts.Platform == nil || opts.Store == nil || opts.Hub == nil || opts.Router == nil {
		return nil, errors.New("bridge: Platform, Store, Hub and Router are required")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.MaxMediaBytes <= 0 {
		opts.MaxMediaBytes = 30 << 20
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BackfillWindow <= 0 {
		opts.BackfillWindow = defaultBackfillWindow
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	if opts.PostFormat == "" {
		opts.PostFormat = "string"
	}
	b := &Bridge{
		opts:     opts,
		platform: opts.Platform,
		store:    opts.Store,
		hub:      opts.Hub,
		log:      opts.Log,
		now:      opts.Now,
		bots:     map[string]bool{},
		media:    newMediaRules(opts.Media, opts.Log),

		ownRecalls: newOwnRecalls(),
	}
	b.members = newMemberCache(b.platform, b.log.Named("members"), b.now)
	b.me.Store(&identity{})
	b.registerActions(opts.Router)
	return b, nil
}

// Status reports the platform's health for heartbeats and get_status.
func (b *Bridge) Status() (online, good bool) {
	on := b.online.Load()
	return on, on
}

// identity is who the account is. It is never changed once published;
// a new login publishes a new one.
type identity struct {
	ID     string // the Yunhu user id, "" before login
	Number int64  // the same id as a OneBot number, 0 before login
	Name   string // the nickname
}

// identity returns the account as last published (zero before login).
func (b *Bridge) identity() *identity { return b.me.Load() }

// self returns the account's Yunhu user id, "" before login.
func (b *Bridge) self() string { return b.me.Load().ID }

// selfNumber returns the account's id as a OneBot number, 0 before login.
func (b *Bridge) selfNumber() int64 { return b.me.Load().Number }

// login learns who the account is; everything else needs it.
func (b *Bridge) login(ctx context.Context) error {
	me, err := b.platform.Self(ctx)
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	n, err := b.store.ToInt(ctx, me.ID)
	if err != nil {
		return fmt.Errorf("log in: map self id %s: %w", me.ID, err)
	}
	b.me.Store(&identity{ID: me.ID, Number: n, Name: me.Name})
	if b.opts.SetSelfID != nil {
		b.opts.SetSelfID(n)
	}
	b.log.Info("logged in", zap.String("user_id", me.ID), zap.String("nickname", me.Name))
	return nil
}

// Run logs in, then receives pushes and turns them into events until ctx
// is done. A failed login is retried with backoff: a daemon that started
// while the network was down must come up by itself.
func (b *Bridge) Run(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := b.login(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, yunhu.ErrUnauthorized) {
			return fmt.Errorf("account.token rejected by Yunhu: %w", err)
		}
		wait := yunhu.DefaultBackoff(attempt)
		b.log.Warn("login failed; retrying", zap.Error(err), zap.Duration("in", wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	err := b.receive(ctx)
	if errors.Is(err, yunhu.ErrUnauthorized) {
		// Revoked while running (yunhu/authwatch.go): the same line as
		// a token rejected at start.
		return fmt.Errorf("account.token rejected by Yunhu: %w", err)
	}
	return err
}
