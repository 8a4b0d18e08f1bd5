// Package bridge is the OneBot v11 core: it serves one chat platform,
// reached through a platform.Backend, as a OneBot implementation. Backend
// events become OneBot events, OneBot actions become backend calls. It
// knows nothing of any platform: what one offers beyond the required
// methods it finds through the optional capabilities of package platform,
// and answers 1404 naming the backend for what is missing.
//
// Flow:
//
//	Backend.Run ──Sink.Deliver(events)──▶ ingest: ids from the store
//	    (durable first) ──▶ OneBot events ──▶ onebot.Hub.Publish;
//	    Deliver returns once its events are durable and published
//	onebot.Router ──action──▶ handler: OneBot ids → platform ids (store
//	    aliases), segments → Backend.Encode ──▶ Backend.Send
//
// Ids (a public contract, see README "Ids"): self_id, user_id and
// group_id are the platform's ids as numbers when they are canonical
// decimal below store.AliasBase, else their store aliases; message_id is
// the store's sequential int32 for (conversation, platform message id).
//
// The store key of a conversation is convKey(platform.Conv): its kind and
// id. The store's message Body holds the message as a OneBot segment array
// (segment.AppendJSON), so get_msg answers from the store alone.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// Options configures a Bridge. Backend, Store, Hub and Router are
// required.
type Options struct {
	Backend platform.Backend
	Store   *store.Store
	Hub     *onebot.Hub
	Router  *onebot.Router
	Log     *zap.Logger // nil means no logging

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
	// OnBackfill, when set, is told how many messages each backfilled
	// chat reported. It must be quick; the daemon feeds its metrics
	// from it.
	OnBackfill func(messages int)
}

// Bridge connects one platform account to the OneBot side.
type Bridge struct {
	opts    Options
	backend platform.Backend
	// The backend's optional capabilities; nil when it lacks one.
	history     platform.History
	dir         platform.Directory
	admin       platform.GroupAdmin
	wholeMute   platform.WholeMute
	requests    platform.Requests
	friends     platform.Friends
	editor      platform.Editor
	reader      platform.Reader
	referer     platform.MediaReferer
	unsupported map[string]string // action → why, from platform.Unsupported

	store *store.Store
	hub   *onebot.Hub
	log   *zap.Logger
	now   func() time.Time

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
}

// New returns a Bridge and registers every OneBot action on opts.Router.
func New(opts Options) (*Bridge, error) {
	if opts.Backend == nil || opts.Store == nil || opts.Hub == nil || opts.Router == nil {
		return nil, errors.New("bridge: Backend, Store, Hub and Router are required")
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
		opts:    opts,
		backend: opts.Backend,
		store:   opts.Store,
		hub:     opts.Hub,
		log:     opts.Log,
		now:     opts.Now,
		media:   newMediaRules(opts.Media, opts.Log),

		ownRecalls: newOwnRecalls(),
	}
	b.history, _ = opts.Backend.(platform.History)
	b.dir, _ = opts.Backend.(platform.Directory)
	b.admin, _ = opts.Backend.(platform.GroupAdmin)
	b.wholeMute, _ = opts.Backend.(platform.WholeMute)
	b.requests, _ = opts.Backend.(platform.Requests)
	b.friends, _ = opts.Backend.(platform.Friends)
	b.editor, _ = opts.Backend.(platform.Editor)
	b.reader, _ = opts.Backend.(platform.Reader)
	b.referer, _ = opts.Backend.(platform.MediaReferer)
	if u, ok := opts.Backend.(platform.Unsupported); ok {
		b.unsupported = u.Unsupported()
	}
	b.members = newMemberCache(b.dir, b.log.Named("members"), b.now)
	b.me.Store(&identity{})
	b.registerActions(opts.Router)
	return b, nil
}

// Status reports the backend's health for heartbeats and get_status.
func (b *Bridge) Status() (online, good bool) {
	on := b.online.Load()
	return on, on
}

// identity is who the account is. It is never changed once published;
// a new login publishes a new one.
type identity struct {
	ID     string // the platform user id, "" before login
	Number int64  // the same id as a OneBot number, 0 before login
	Name   string // the nickname
}

// identity returns the account as last published (zero before login).
func (b *Bridge) identity() *identity { return b.me.Load() }

// self returns the account's platform user id, "" before login.
func (b *Bridge) self() string { return b.me.Load().ID }

// selfNumber returns the account's id as a OneBot number, 0 before login.
func (b *Bridge) selfNumber() int64 { return b.me.Load().Number }

// login learns who the account is; everything else needs it.
func (b *Bridge) login(ctx context.Context) error {
	me, err := b.backend.Self(ctx)
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

// Run logs in, then receives the backend's events and turns them into
// OneBot events until ctx is done. A failed login is retried with backoff: a daemon that started
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
		if errors.Is(err, platform.ErrUnauthorized) {
			return err // the backend's words name the credential to fix
		}
		wait := loginBackoff(attempt)
		b.log.Warn("login failed; retrying", zap.Error(err), zap.Duration("in", wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	// Credentials revoked while running end receive with the same
	// error as at start.
	return b.receive(ctx)
}

// loginBackoff is the wait before login attempt n+1: 1 s doubling to a
// minute.
func loginBackoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 6)
	return min(d, time.Minute)
}
