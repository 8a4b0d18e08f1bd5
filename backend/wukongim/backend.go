// Package wukongim is the WuKongIM v2 backend of the OneBot daemon: the
// contract of package platform over the WuKongIM client (package wukongim
// at the module's root, imported here as wk).
//
// The bot is an ordinary WuKongIM user. It receives over the client's
// WebSocket JSON-RPC connection (run.go), sends over the same connection,
// which checks membership and blacklists where the HTTP API does not
// (send.go), reads history and conversations over the HTTP API
// (history.go), and speaks the SDKs' content convention both ways
// (content.go). WuKongIM keeps no names, profiles or member lists, so the
// backend keeps a directory of its own from what it sees and is
// configured with (directory.go); it stores no files, so local media are
// written under a configured directory and served by the backend's own
// handler (media.go). Mutes are blacklist entries whose lifting the
// backend schedules and persists (admin.go).
//
// Conversations: a group's Conv.ID is the channel id; a private chat's is
// the peer's uid. WuKongIM names a private channel by the peer in pushes
// and in the conversation list, but by the uid the sender addressed in
// history, which flips with the direction of each message: the backend
// normalises every message (peerOf) before the core sees it.
package wukongim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/mediahost"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// Name is the backend's name: config's backend key, and the name 1404
// wordings give.
const Name = "wukongim"

// WuKongIM channel types the backend speaks; others (customer service,
// communities, the sync_once command channel) carry nothing OneBot has.
const (
	channelPerson uint8 = 1
	channelGroup  uint8 = 2
)

// API is what the backend needs from the WuKongIM HTTP API; *wk.HTTP
// provides it. Sends do not go through it: see Receiver.Send.
type API interface {
	MessageSync(ctx context.Context, r wk.SyncRequest) (wk.SyncResult, error)
	ConversationSync(ctx context.Context, uid string, msgCount int) ([]wk.Conversation, error)
	MessagesBySeq(ctx context.Context, loginUID, channelID string, channelType uint8, seqs []int64) ([]wk.Message, error)
	RemoveSubscribers(ctx context.Context, channelID string, channelType uint8, uids []string) error
	BlacklistAdd(ctx context.Context, channelID string, channelType uint8, uids []string) error
	BlacklistRemove(ctx context.Context, channelID string, channelType uint8, uids []string) error
}

// Receiver is the bot's JSON-RPC connection; *wk.Conn provides it.
type Receiver interface {
	// Run connects and reconnects until ctx is done, calling on for
	// every event in order from one goroutine.
	Run(ctx context.Context, on func(wk.Event)) error
	// Ack acknowledges a push once what it carried is durable.
	Ack(a wk.Ack) error
	// Send sends a message on the live connection.
	Send(ctx context.Context, r wk.RPCSendRequest) (wk.RPCSendResult, error)
}

// The client provides both interfaces; a change of its signatures breaks
// the build here rather than at run time.
var (
	_ API      = (*wk.HTTP)(nil)
	_ Receiver = (*wk.Conn)(nil)
)

// KV is the durable key/value state the backend keeps (the directory,
// scheduled unbans); the daemon's store provides it. Get fails for a
// missing key with an error matching platform.ErrNotFound; any other
// failure is logged before the backend carries on without the value.
type KV interface {
	Get(key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
}

// Named is a configured id with its display name.
type Named struct {
	ID   string
	Name string
}

// MediaOptions configure the hosting of media sent from local files or
// base64: WuKongIM stores no files, so the daemon writes them under Dir
// and serves them on Address, linking PublicURL + "/" + name. Without Dir
// such sends are refused; media given by http(s) URL need none of it.
type MediaOptions = mediahost.Options

// Options configure a Backend. API, Receiver, Self and KV are required.
type Options struct {
	API      API
	Receiver Receiver
	// Self is the bot's WuKongIM uid; Name its display name.
	Self string
	Name string
	KV   KV
	// Groups and Users are the configured names of the directory.
	Groups []Named
	Users  []Named
	Media  MediaOptions
	Log    *zap.Logger // nil means no logging
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OfflineWait is how long a send waits for a dropped connection to
	// come back before it fails as "not connected": 0 means 10 s,
	// negative not at all.
	OfflineWait time.Duration
}

// Backend is the WuKongIM backend. Create it with New.
type Backend struct {
	api  API
	conn Receiver
	self platform.Account
	kv   KV
	// offlineWait is Options.OfflineWait, 0 for none.
	offlineWait time.Duration
	log         *zap.Logger
	now         func() time.Time
	media       *mediahost.Host
	queue       int // ingestQueue; smaller in tests

	dir    *directory
	seqs   *seqCache
	unbans *unbans
}

// The capabilities the backend has.
var (
	_ platform.Backend     = (*Backend)(nil)
	_ platform.History     = (*Backend)(nil)
	_ platform.Directory   = (*Backend)(nil)
	_ platform.GroupAdmin  = (*Backend)(nil)
	_ platform.Callbacks   = (*Backend)(nil)
	_ platform.Unsupported = (*Backend)(nil)
)

// New returns a Backend, loading its directory and scheduled unbans from
// KV.
func New(opts Options) (*Backend, error) {
	switch {
	case opts.API == nil || opts.Receiver == nil || opts.KV == nil:
		return nil, errors.New("wukongim backend: API, Receiver and KV are required")
	case opts.Self == "":
		return nil, errors.New("wukongim backend: the bot's uid is required")
	case opts.Media.Dir != "" && opts.Media.PublicURL == "":
		return nil, errors.New("wukongim backend: media.dir needs media.public-url, the address WuKongIM's clients fetch the files from")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OfflineWait == 0 {
		opts.OfflineWait = defaultOfflineWait
	}
	b := &Backend{
		offlineWait: max(opts.OfflineWait, 0),
		api:         opts.API,
		conn:        opts.Receiver,
		self:        platform.Account{ID: opts.Self, Name: opts.Name},
		kv:          opts.KV,
		log:         opts.Log,
		now:         opts.Now,
		queue:       ingestQueue,
		seqs:        newSeqCache(seqCacheSize),
	}
	media, err := mediahost.New(opts.Media, opts.Log, func() time.Time { return b.now() })
	if err != nil {
		return nil, fmt.Errorf("wukongim backend: %w", err)
	}
	b.media = media
	b.dir = newDirectory(opts.KV, opts.Log, opts.Self, opts.Name, opts.Groups, opts.Users)
	b.unbans = loadUnbans(opts.KV, opts.Log)
	return b, nil
}

// Name is "wukongim".
func (b *Backend) Name() string { return Name }

// Self returns the configured account: WuKongIM has no profiles to ask.
func (b *Backend) Self(context.Context) (platform.Account, error) { return b.self, nil }

// peerOf is the conversation of a message as the account addresses it,
// false for a channel type OneBot has no conversation for. A private
// message names the peer in pushes but the addressed uid in history
// (fact 5 of the wire transcript): the peer is the sender when the
// channel is the account itself.
func (b *Backend) peerOf(m *wk.Message) (platform.Conv, bool) {
	switch m.ChannelType {
	case channelGroup:
		return platform.Conv{Kind: platform.KindGroup, ID: m.ChannelID}, m.ChannelID != ""
	case channelPerson:
		id := m.ChannelID
		if id == b.self.ID {
			id = m.FromUID
		}
		return platform.Conv{Kind: platform.KindPrivate, ID: id}, id != ""
	}
	return platform.Conv{}, false
}

// channelOf is the WuKongIM channel of a conversation: the peer's uid for
// a private chat (the server pairs it with the sender), the group's id.
func channelOf(c platform.Conv) (string, uint8) {
	if c.Kind == platform.KindGroup {
		return c.ID, channelGroup
	}
	return c.ID, channelPerson
}

// msgID is the platform form of a WuKongIM message id.
func msgID(id int64) string { return strconv.FormatInt(id, 10) }

// apiError classifies a failed HTTP API call: a 404 answer matches
// platform.ErrNotFound; a 400 (the server refused the request as given)
// is a definite *platform.Error with the server's text. Anything else
// (a 500, a transport failure) stays as it is, wrapped with what.
func apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, wk.ErrNotFound) {
		return fmt.Errorf("wukongim: %s: %w: %w", what, platform.ErrNotFound, err)
	}
	var ae *wk.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		msg := ae.Msg
		if msg == "" {
			msg = err.Error()
		}
		return &platform.Error{Msg: what + ": " + msg, Definite: true, Err: err}
	}
	return fmt.Errorf("wukongim: %s: %w", what, err)
}

// Unsupported gives the reasons for what WuKongIM lacks.
func (b *Backend) Unsupported() map[string]string {
	return map[string]string{
		"send_like":                "WuKongIM has no profile likes",
		"set_group_whole_ban":      "WuKongIM v2 has no mute-all setting for groups; mute members one by one with set_group_ban",
		"set_group_anonymous_ban":  "WuKongIM has no anonymous members",
		"set_group_anonymous":      "WuKongIM has no anonymous chat",
		"set_group_admin":          "WuKongIM has no group roles: every subscriber of a channel is a plain member",
		"set_group_special_title":  "WuKongIM has no member titles",
		"set_group_name":           "WuKongIM keeps no group names: name groups in the config's wukongim.groups",
		"set_group_card":           "WuKongIM keeps no group cards or names: name users in the config's wukongim.users",
		"get_group_honor_info":     "WuKongIM has no group honours",
		"get_forward_msg":          "merged-forward messages are shown as text: WuKongIM keeps no forward id to expand",
		"send_group_forward_msg":   "WuKongIM has no server-side forward messages",
		"send_private_forward_msg": "WuKongIM has no server-side forward messages",
		"set_friend_add_request":   "WuKongIM has no friend requests: contacts are the business server's",
		"set_group_add_request":    "WuKongIM has no join requests: membership is set through its HTTP API",
		"delete_friend":            "WuKongIM has no friends: contacts are the business server's",
		"mark_msg_as_read":         "the bot's unread counts are not kept by the bridge",
		"edit_msg":                 "WuKongIM v2 has no message edits",
		"get_cookies":              "WuKongIM has no web cookies",
		"get_csrf_token":           "WuKongIM has no CSRF token",
		"get_credentials":          "WuKongIM has no web credentials",
	}
}
